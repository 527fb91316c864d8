//! [`RulesClassifier`] (`builtin-rules-v2`): the offline classifier. A wrong supersession
//! hides a true fact, so it says `supersedes` only when the new fact changes the same
//! single-valued attribute of the same subject, and never on mere similarity.
//!
//! Each fact is split into clauses ("User quit the bakery and now works at a bookstore" is
//! two), and each clause into a frame: subject (the noun phrase before the verb, possessives
//! kept: "user's manager"), verb group (lemma, particle, tense, negation, passive), and value
//! (the rest, numbers, times and frequencies normalised). Then:
//!
//! 1. Nothing supersedes from a new fact that is hedged ("thinking about", "might", "hopes
//!    to"), a question or request, a trial or reversion ("tried X", "went back to"), or past
//!    history ("previously", "in college", "until 2018").
//! 2. The new fact ends the old one: negation or an ending verb ("no longer", "doesn't",
//!    "quit", "stopped", "sold", "cancelled", "passed away", "healed") naming what the old
//!    fact states, for the same subject.
//! 3. It names the old value as replaced ("instead of X", "switched from X", "to replace X",
//!    "..., not X").
//! 4. A verb of change ("moved to", "relocated", "transferred", "was hired by", "promoted to",
//!    "took over as", "raised", "cut", "doubled", "pushed back", "rescheduled", "upgraded",
//!    "renewed as", "rewritten in") gives the old attribute a new value.
//! 5. The same subject and attribute (same verb and preposition, or the same possessive
//!    attribute: "User's rent is ...") take a different value; for attributes that hold
//!    several values at once ("likes", "has", "speaks", "plays") only a new count, amount or
//!    frequency, or a new complement of the same object ("edits his videos in X"), counts.
//! 6. A relationship status moves on (dating → engaged → married, married → separated), a
//!    diet or employment status flips, a plan is replaced by a decision for the same occasion,
//!    or a count grows by an ordinal ("has two cats" → "adopted a third cat").
//!
//! A second value that can coexist ("also", "another", "a second"), a different subject
//! ("User's sister", another name, another flight), refinements (the old value kept, detail
//! added), restatements, and one-off events against a habit keep both facts. Explicit markers
//! give 0.95 and more, implicit changes 0.90–0.94; a little is added for closer wording, so
//! the pipeline's most confident candidate is the closest one. Anything else is `refines`
//! (same subject) or `independent`.

use std::collections::HashSet;

use super::{Classifier, Verdict, VerdictKind};
use crate::error::Result;
use crate::model::Memory;
use crate::text::Analyzer;

mod lexicon;

use lexicon::*;

/// The offline rule-based classifier.
#[derive(Debug)]
pub struct RulesClassifier {
    analyzer: Analyzer,
    /// Stems of the verbs the frame parser recognises.
    verbs: HashSet<String>,
}

impl Default for RulesClassifier {
    fn default() -> Self {
        let analyzer = Analyzer::default();
        let verbs = VERBS.iter().map(|v| analyzer.stem(v)).collect();
        RulesClassifier { analyzer, verbs }
    }
}

impl RulesClassifier {
    /// The rule set's name (`supersession.model`).
    pub const MODEL: &'static str = "builtin-rules-v2";

    /// Earlier names of the offline rule set. A key whose `classifier_model` still says
    /// `builtin-rules-v1` keeps getting the offline classifier (now the v2 rules): settings
    /// written before the rename go on working unchanged.
    pub const ALIASES: &'static [&'static str] = &["builtin-rules-v1"];

    /// Whether `name` (a key's `classifier_model`) means this offline classifier.
    pub fn names(name: &str) -> bool {
        let name = name.trim();
        name == Self::MODEL || Self::ALIASES.contains(&name)
    }

    /// The verdict on two fact texts.
    pub fn judge(&self, old: &str, new: &str) -> Verdict {
        let o = self.fact(old);
        let n = self.fact(new);
        let same_subject = match (o.owner(), n.owner()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        let fallback = |reason: &str| {
            if same_subject {
                verdict(VerdictKind::Refines, 0.7, reason)
            } else {
                verdict(VerdictKind::Independent, 0.8, reason)
            }
        };
        if let Some(reason) = n.blocked() {
            return fallback(reason);
        }
        if n.returns_to(&o) {
            return fallback("The new fact returns to the old state.");
        }
        let judge = Judge {
            c: self,
            o: &o,
            n: &n,
        };
        let mut best: Option<Found> = None;
        for oc in &o.clauses {
            for nc in &n.clauses {
                for found in judge.rules(oc, nc).into_iter().flatten() {
                    if best
                        .as_ref()
                        .is_none_or(|b| found.confidence > b.confidence)
                    {
                        best = Some(found);
                    }
                }
            }
        }
        match best {
            Some(found) => {
                // Closer wording ranks a candidate higher: the same subject phrase, then
                // shared words.
                let same_phrase = o.clauses.iter().any(|oc| {
                    n.clauses
                        .iter()
                        .any(|nc| oc.subject_terms == nc.subject_terms)
                });
                let closeness =
                    0.02 * f64::from(u8::from(same_phrase)) + 0.02 * jaccard(&o.terms, &n.terms);
                // Implicit changes stay below the explicit band (0.95 and up).
                let cap = if found.confidence >= EXPLICIT {
                    0.99
                } else {
                    0.94
                };
                let confidence = (found.confidence + closeness).min(cap);
                verdict(VerdictKind::Supersedes, confidence, found.reason)
            }
            None if same_subject => {
                fallback("The new fact adds to or restates the old one without contradicting it.")
            }
            None => fallback("The facts are about different subjects or attributes."),
        }
    }

    /// Whether `new` restates or refines `other` on the attribute whose value in `superseded`
    /// it would replace ([`Classifier::confirms`]): "User lives in Berlin's Kreuzberg
    /// district" confirms "User lives in Berlin", on the attribute "User lives in Denver"
    /// states.
    pub fn confirms_value(&self, other: &str, new: &str, superseded: &str) -> bool {
        let (other, new, superseded) = (self.fact(other), self.fact(new), self.fact(superseded));
        let judge = Judge {
            c: self,
            o: &other,
            n: &new,
        };
        new.clauses.iter().any(|nc| {
            let key = attribute_key(nc);
            let replaced = superseded.clauses.iter().any(|sc| attribute_key(sc) == key);
            let confirmed = other
                .clauses
                .iter()
                .any(|oc| attribute_key(oc) == key && judge.keeps_value(oc, nc));
            replaced && confirmed
        })
    }

    /// The lemma of one lower-case word: a number's value, an irregular verb's base form's
    /// stem, a synonym's, or the word's stem.
    fn lemma(&self, word: &str) -> String {
        if let Some(key) = number_key(word) {
            return key;
        }
        let word = SYNONYMS
            .iter()
            .find(|(w, _)| *w == word)
            .map_or(word, |(_, s)| *s);
        let word = IRREGULAR
            .iter()
            .find(|(w, _)| *w == word)
            .map_or(word, |(_, base)| *base);
        if word.chars().all(|c| c.is_alphabetic() || c == '\'') {
            self.analyzer.stem(word.trim_matches('\''))
        } else {
            word.to_owned()
        }
    }

    /// Whether `word` (lower case) is a form of a known verb.
    fn is_verb(&self, word: &str) -> bool {
        IRREGULAR.iter().any(|(w, _)| *w == word) || self.verbs.contains(&self.lemma(word))
    }

    /// `text` parsed into tokens and clauses.
    fn fact(&self, text: &str) -> Fact {
        let toks = self.tokenize(text);
        let words: Vec<&str> = toks.iter().map(|t| t.w.as_str()).collect();
        let text = format!(" {} ", words.join(" "));
        let clauses = self.clauses(&toks);
        let terms = self.matchable(&toks);
        Fact {
            question: toks.iter().any(|t| t.question),
            toks,
            text,
            clauses,
            terms,
        }
    }

    /// Lower-case tokens with their lemma, possessive and name flags.
    fn tokenize(&self, text: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        for (i, raw) in text.split_whitespace().take(MAX_WORDS).enumerate() {
            let raw = raw.replace(['\u{2019}', '\u{2018}'], "'");
            let question = raw.contains('?');
            let inner = raw.trim_end_matches(['"', ')', '\u{201d}', '\'']);
            let comma = inner.ends_with([',', ';', ':']);
            let trimmed = raw
                .trim_matches(|c: char| {
                    matches!(
                        c,
                        ',' | ';'
                            | ':'
                            | '!'
                            | '?'
                            | '"'
                            | '('
                            | ')'
                            | '['
                            | ']'
                            | '{'
                            | '}'
                            | '\u{201c}'
                            | '\u{201d}'
                    )
                })
                .trim_end_matches('.')
                .trim_start_matches('\'');
            if trimmed.is_empty() {
                if comma && let Some(last) = out.last_mut() {
                    let last: &mut Tok = last;
                    last.comma = true;
                }
                continue;
            }
            let name = i > 0 && trimmed.chars().any(char::is_uppercase);
            let lower = trimmed.to_lowercase();
            let (w, poss) = if let Some(base) = lower.strip_suffix("'s") {
                (base.to_owned(), true)
            } else if lower.len() > 2 && lower.ends_with("s'") {
                (lower.trim_end_matches('\'').to_owned(), true)
            } else {
                (lower.trim_end_matches('\'').to_owned(), false)
            };
            if w.is_empty() {
                continue;
            }
            let lemma = self.lemma(&w);
            out.push(Tok {
                w,
                lemma,
                poss,
                name,
                comma,
                question,
            });
        }
        out
    }

    /// Content keys of `toks`: lemmas without function words.
    fn content(&self, toks: &[Tok]) -> HashSet<String> {
        toks.iter()
            .filter(|t| self.is_content(t))
            .map(|t| t.lemma.clone())
            .collect()
    }

    /// Content keys with the compounds adjacent words make ("works out" ~ "workouts").
    fn matchable(&self, toks: &[Tok]) -> HashSet<String> {
        let mut out = self.content(toks);
        for pair in toks.windows(2) {
            if let [a, b] = pair
                && a.w.chars().all(char::is_alphabetic)
                && b.w.chars().all(char::is_alphabetic)
                && !FUNCTION_WORDS.contains(&a.w.as_str())
                && !FUNCTION_WORDS.contains(&b.w.as_str())
            {
                out.insert(self.analyzer.stem(&format!("{}{}", a.lemma, b.w)));
            }
        }
        out
    }

    fn is_content(&self, t: &Tok) -> bool {
        !t.lemma.is_empty()
            && !FUNCTION_WORDS.contains(&t.w.as_str())
            && !self.analyzer.terms(&t.w).is_empty()
    }

    /// The clauses of a fact: split at commas, conjunctions that start a new verb, and
    /// reporting verbs ("testing showed ..."); a clause without a subject borrows the
    /// previous one's.
    fn clauses(&self, toks: &[Tok]) -> Vec<Clause> {
        // "User's favourite band these days is ...": a time adverbial, not the subject.
        let mut kept: Vec<Tok> = Vec::with_capacity(toks.len());
        let mut i = 0;
        while i < toks.len() {
            let two = toks.get(i + 1).map(|n| (toks[i].w.as_str(), n.w.as_str()));
            match two {
                Some(("these", "days") | ("at", "present") | ("right", "now")) => i += 2,
                _ if toks[i].w == "nowadays" => i += 1,
                _ => {
                    kept.push(toks[i].clone());
                    i += 1;
                }
            }
        }
        let toks = &kept[..];
        let mut pieces: Vec<Vec<Tok>> = Vec::new();
        let mut current: Vec<Tok> = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            let next_is_verbish = toks.get(i + 1).is_some_and(|n| self.starts_predicate(n));
            let split_before = match t.w.as_str() {
                "because" | "after" | "while" | "when" | "although" | "though" | "whereas"
                | "so" | "until" | "unless" => !current.is_empty(),
                "and" | "but" | "then" => {
                    !current.is_empty()
                        && self.find_verb(&current, false).is_some()
                        && (next_is_verbish || self.find_verb(&toks[i + 1..], false).is_some())
                }
                _ => false,
            };
            if split_before {
                pieces.push(std::mem::take(&mut current));
                if matches!(t.w.as_str(), "and" | "but" | "then") {
                    continue;
                }
            }
            current.push(t.clone());
            let reporting = REPORTING.contains(&t.w.as_str()) && current.len() > 1;
            if t.comma || reporting {
                pieces.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            pieces.push(current);
        }
        let mut clauses: Vec<Clause> = Vec::new();
        for mut piece in pieces {
            while piece
                .first()
                .is_some_and(|t| matches!(t.w.as_str(), "and" | "but" | "then" | "that" | "so"))
            {
                piece.remove(0);
            }
            if piece.is_empty() {
                continue;
            }
            let borrowed = clauses.last().map(|c| c.subject.clone());
            if let Some(first) = piece.first()
                && PRONOUNS.contains(&first.w.as_str())
                && let Some(mut owner) = clauses.first().and_then(|c| c.subject.first().cloned())
            {
                owner.poss = false;
                piece[0] = owner;
            } else if self.starts_predicate(&piece[0])
                && let Some(subject) = borrowed
            {
                let mut with_subject = subject;
                with_subject.extend(piece);
                piece = with_subject;
            }
            if let Some(clause) = self.clause(piece) {
                clauses.push(clause);
            }
        }
        clauses
    }

    /// Whether a clause starting with `t` has no subject of its own.
    fn starts_predicate(&self, t: &Tok) -> bool {
        AUX.contains(&t.w.as_str())
            || ADVERBS.contains(&t.w.as_str())
            || (self.is_verb(&t.w) && !t.name && !t.poss)
    }

    /// The index of the first token of the verb group in `toks` (`at_start`: the clause may
    /// start with it).
    fn find_verb(&self, toks: &[Tok], at_start: bool) -> Option<usize> {
        for (i, t) in toks.iter().enumerate() {
            if i == 0 && !at_start {
                continue;
            }
            let w = t.w.as_str();
            let after_possessive = i > 0 && toks[i - 1].poss;
            if AUX.contains(&w) || NEGATIONS.contains(&w) {
                return Some(i);
            }
            if after_possessive || t.name || t.poss {
                continue;
            }
            if w == "no" && toks.get(i + 1).is_some_and(|n| n.w == "longer") {
                return Some(i);
            }
            if is_adverb(w)
                && toks
                    .get(i + 1)
                    .is_some_and(|n| self.is_verb(&n.w) || AUX.contains(&n.w.as_str()))
            {
                return Some(i);
            }
            if !self.is_verb(w) {
                if self.guessed_verb(toks, i) {
                    return Some(i);
                }
                continue;
            }
            let inflected = w.ends_with('s')
                || w.ends_with("ed")
                || is_irregular_past(w)
                || PERFECT_BASES.contains(&w);
            let prev = i.checked_sub(1).and_then(|p| toks.get(p));
            let plural_subject = prev.is_some_and(|p| {
                (p.w.ends_with('s') && !p.w.ends_with("ss"))
                    || matches!(p.w.as_str(), "they" | "we" | "i" | "you" | "people")
                    || p.name && i >= 3 && toks[i - 2].w == "and"
            });
            if (inflected && !w.ends_with("ing")) || plural_subject || (i == 0 && at_start) {
                return Some(i);
            }
        }
        None
    }

    /// An unknown word read as a verb from its form and place: "-s" or "-ed" after the
    /// subject, before an article, preposition, pronoun or number ("User meditates",
    /// "User's team deploys with Ansible", "User refinanced and ...").
    fn guessed_verb(&self, toks: &[Tok], i: usize) -> bool {
        let Some(t) = toks.get(i) else {
            return false;
        };
        let w = t.w.as_str();
        let inflected = w.len() > 3
            && (w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is")
                || w.ends_with("ed"));
        if !inflected || t.name || t.poss || !w.chars().all(char::is_alphabetic) {
            return false;
        }
        let subject_ok = toks[..i].iter().any(|s| s.poss || s.w == "user" || s.name)
            || i == 1 && !matches!(toks[0].w.as_str(), "the" | "a" | "an");
        let next_ok = toks
            .get(i + 1)
            .is_none_or(|n| FOLLOWERS.contains(&n.w.as_str()) || number_key(&n.w).is_some());
        subject_ok && next_ok
    }

    /// One clause's frame, if it has a verb.
    fn clause(&self, toks: Vec<Tok>) -> Option<Clause> {
        let at = self.find_verb(&toks, false)?;
        let subject: Vec<Tok> = toks[..at].to_vec();
        let mut c = Clause {
            subject_terms: Vec::new(),
            subject,
            lemma: String::new(),
            particle: None,
            copula: false,
            passive: false,
            progressive: false,
            negated: false,
            no_longer: false,
            past: false,
            future: false,
            perfect: false,
            verb_word: String::new(),
            rest: Vec::new(),
            toks: Vec::new(),
        };
        let mut i = at;
        let mut main: Option<String> = None;
        while let Some(t) = toks.get(i) {
            let w = t.w.as_str();
            let next = toks.get(i + 1).map(|n| n.w.as_str());
            match w {
                "is" | "are" | "am" | "be" | "been" | "being" => c.copula = true,
                "was" | "were" => {
                    c.copula = true;
                    c.past = true;
                }
                "isn't" | "aren't" => {
                    c.copula = true;
                    c.negated = true;
                }
                "wasn't" | "weren't" => {
                    c.copula = true;
                    c.negated = true;
                    c.past = true;
                }
                "has" | "have" | "had" | "hasn't" | "haven't" | "hadn't"
                    if next.is_some_and(|n| {
                        n == "been"
                            || n == "not"
                            || n == "never"
                            || is_adverb(n)
                            || self.is_participle(n)
                            || PERFECT_BASES.contains(&n)
                    }) =>
                {
                    c.perfect = true;
                    c.past |= w.starts_with("had");
                    c.negated |= w.ends_with("n't");
                }
                "does" | "do" | "did" | "doesn't" | "don't" | "didn't" => {
                    c.negated |= w.ends_with("n't");
                    c.past |= w.starts_with("did");
                }
                "will" | "won't" | "shall" | "would" | "wouldn't" | "can" | "can't" | "cannot"
                | "could" | "couldn't" | "may" | "might" | "must" | "should" => {
                    c.future |= matches!(w, "will" | "won't" | "shall");
                    c.negated |= w.ends_with("n't") || w == "cannot";
                }
                "not" | "never" => c.negated = true,
                "no" if next == Some("longer") => {
                    c.negated = true;
                    c.no_longer = true;
                    i += 1;
                }
                "got" | "get" | "gets" | "getting" | "became" | "become" | "becomes"
                    if next.is_some_and(|n| {
                        STATUS_PARTICIPLES.contains(&n)
                            || n.ends_with("ed") && n.len() > 4
                            || IRREGULAR_PARTICIPLES.contains(&n)
                    }) =>
                {
                    c.passive = true;
                    c.past |= matches!(w, "got" | "became");
                }
                "going"
                    if next == Some("to")
                        && toks.get(i + 2).is_some_and(|t| self.is_verb(&t.w)) =>
                {
                    c.future = true;
                    i += 1;
                }
                _ if is_adverb(w) => {}
                _ => {
                    let verb = if c.copula {
                        self.is_participle(w)
                    } else {
                        self.is_verb(w) || i == at && self.guessed_verb(&toks, i)
                    };
                    if verb && !t.name {
                        if c.copula && w.ends_with("ing") {
                            c.progressive = true;
                        } else if c.copula && self.is_participle(w) {
                            c.passive = true;
                        }
                        if !c.copula
                            && !c.perfect
                            && !c.future
                            && (is_irregular_past(w) || w.ends_with("ed"))
                        {
                            c.past = true;
                        }
                        c.verb_word = w.to_owned();
                        main = Some(t.lemma.clone());
                        i += 1;
                    }
                    break;
                }
            }
            i += 1;
        }
        let lemma = match main {
            Some(lemma) => lemma,
            None if c.copula => "be".to_owned(),
            None => return None,
        };
        c.copula = c.copula && lemma == "be";
        if let Some(p) = toks.get(i).map(|t| t.w.as_str())
            && PARTICLES.contains(&p)
            && PHRASALS.contains(&(lemma.as_str(), p))
        {
            c.particle = Some(p.to_owned());
            i += 1;
        }
        c.lemma = lemma;
        c.rest = toks.get(i..).map(<[Tok]>::to_vec).unwrap_or_default();
        c.subject_terms = self.subject_terms(&c.subject);
        c.toks = toks;
        Some(c)
    }

    /// Whether `w` reads as a past participle or adjective after a copula.
    fn is_participle(&self, w: &str) -> bool {
        (w.ends_with("ed") && w.len() > 3)
            || w.ends_with("en") && self.is_verb(w)
            || IRREGULAR.iter().any(|(f, _)| *f == w)
            || IRREGULAR_PARTICIPLES.contains(&w)
            || STATUS_PARTICIPLES.contains(&w)
            || (w.ends_with("ing") && self.is_verb(w))
    }

    /// A subject's content keys (possessive pronouns and articles dropped).
    fn subject_terms(&self, subject: &[Tok]) -> Vec<String> {
        // Repeats kept: "user's manager's manager" is not "user's manager".
        subject
            .iter()
            .filter(|t| self.is_content(t))
            .map(|t| t.lemma.clone())
            .collect()
    }
}

impl Classifier for RulesClassifier {
    fn model(&self) -> &str {
        Self::MODEL
    }

    fn classify(&self, old: &Memory, new: &Memory) -> Result<Verdict> {
        Ok(self.judge(&old.decision, &new.decision))
    }

    fn confirms(&self, other: &Memory, new: &Memory, superseded: &Memory) -> bool {
        self.confirms_value(&other.decision, &new.decision, &superseded.decision)
    }
}

fn verdict(kind: VerdictKind, confidence: f64, reasoning: &str) -> Verdict {
    Verdict {
        kind,
        confidence,
        reasoning: reasoning.to_owned(),
    }
}

/// Facts longer than this many words are read up to it.
const MAX_WORDS: usize = 400;

/// A word of a fact.
#[derive(Clone, Debug)]
struct Tok {
    /// Lower case, apostrophes straightened, outer punctuation and a possessive `'s` removed.
    w: String,
    /// [`RulesClassifier::lemma`] of `w`.
    lemma: String,
    /// The word was a possessive ("user's", "parents'").
    poss: bool,
    /// Capitalised, not at the start: a name.
    name: bool,
    /// A comma, semicolon or colon followed it.
    comma: bool,
    /// It carried a question mark.
    question: bool,
}

/// A parsed fact.
struct Fact {
    toks: Vec<Tok>,
    /// The words, space separated, with a space at each end (for phrase search).
    text: String,
    clauses: Vec<Clause>,
    /// Content keys of the whole fact.
    terms: HashSet<String>,
    /// A question mark anywhere.
    question: bool,
}

impl Fact {
    fn has(&self, phrase: &str) -> bool {
        self.text.contains(&format!(" {phrase} "))
    }

    fn has_any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has(p))
    }

    /// The first clause's first subject term.
    fn owner(&self) -> Option<&str> {
        self.clauses
            .first()
            .and_then(|c| c.subject_terms.first())
            .map(String::as_str)
    }

    /// Why this (new) fact cannot supersede anything, if it cannot.
    fn blocked(&self) -> Option<&'static str> {
        let hedged = HEDGES
            .iter()
            .any(|h| self.has(h) && !NOT_HEDGES.iter().any(|n| n.starts_with(h) && self.has(n)));
        if hedged || self.future_event() || self.modal_may() {
            return Some("The new fact is hedged or about the future, so it replaces nothing yet.");
        }
        if self.question || self.has_any(REQUESTS) {
            return Some("The new fact is a question or a request, not a change.");
        }
        if self.trial() {
            return Some("The new fact is a trial or a return to the old state.");
        }
        let once = self.toks.windows(2).any(|w| {
            matches!(w, [a, b] if a.w == "once" && !matches!(b.w.as_str(), "a" | "every" | "per" | "more" | "again"))
        }) || self.toks.last().is_some_and(|t| t.w == "once");
        if self.has_any(PAST_MARKERS) || self.past_span() || once {
            return Some("The new fact is past history, not the present state.");
        }
        None
    }

    /// A trial ("tried X", "trialled", "borrowed", "for a week").
    fn trial(&self) -> bool {
        self.has_any(TRIALS)
    }

    /// The lemma of one of this fact's words.
    fn lemma_of(&self, word: &str) -> String {
        self.toks
            .iter()
            .find(|t| t.w == word)
            .map_or_else(|| word.to_owned(), |t| t.lemma.clone())
    }

    /// "went back to X", "returned to X" where X is in `old`: a reversion ("returned to VS
    /// Code"), not a change ("moved back to Chicago" against "lives in Austin").
    fn returns_to(&self, old: &Fact) -> bool {
        RETURNS.iter().any(|p| {
            let Some(at) = self.text.find(&format!(" {p} ")) else {
                return false;
            };
            let before = self.text[..at].rsplit(' ').next().unwrap_or("");
            if matches!(
                before,
                "pushed" | "moved" | "set" | "bumped" | "put" | "push"
            ) {
                return false;
            }
            // What it returns to: the next words up to another clause ("after maternity
            // leave").
            let after = self.text[at + p.len() + 2..]
                .split(' ')
                .take_while(|w| {
                    !matches!(
                        *w,
                        "after" | "because" | "when" | "and" | "but" | "since" | "for"
                    )
                })
                .take(3);
            after
                .filter(|w| !FUNCTION_WORDS.contains(w) && !w.is_empty())
                .any(|w| old.terms.contains(&self.lemma_of(w)))
        })
    }

    /// "will <verb>" or "going to <verb>" other than "will be": a future event.
    fn future_event(&self) -> bool {
        self.toks.windows(2).any(|w| {
            matches!(w, [a, b] if (a.w == "will" || a.w == "won't") && !matches!(b.w.as_str(), "be" | "now" | "still" | "also" | "no" | "not"))
        })
    }

    /// "may" as a modal, not the month ("on 3 May", "in May 2023").
    fn modal_may(&self) -> bool {
        self.toks.iter().enumerate().any(|(i, t)| {
            let prev = i.checked_sub(1).and_then(|p| self.toks.get(p));
            let next = self.toks.get(i + 1);
            t.w == "may"
                && next.is_some_and(|n| number_key(&n.w).is_none() && !n.w.ends_with("th"))
                && !prev.is_some_and(|p| {
                    number_key(&p.w).is_some()
                        || matches!(
                            p.w.as_str(),
                            "in" | "on"
                                | "of"
                                | "since"
                                | "until"
                                | "by"
                                | "early"
                                | "late"
                                | "mid"
                                | "end"
                                | "from"
                                | "to"
                                | "next"
                                | "last"
                                | "this"
                        )
                })
        })
    }

    /// "until 2018", "from 2016 to 2019": a period that is over.
    fn past_span(&self) -> bool {
        self.toks.windows(2).any(|w| {
            matches!(w, [a, b] if matches!(a.w.as_str(), "until" | "till" | "from") && is_year(&b.w))
        })
    }

    /// One-off occasions ("this morning", "last Friday", "on Monday").
    fn one_off(&self) -> bool {
        self.has_any(ONE_OFF)
            || self.toks.windows(2).any(|w| {
                matches!(w, [a, b] if matches!(a.w.as_str(), "this" | "last" | "on" | "today's")
                    && WEEKDAYS.contains(&b.w.as_str()))
            })
    }

    /// Habit language ("every", "usually", "on Wednesdays", "daily").
    fn habitual(&self) -> bool {
        self.has_any(HABITS)
            || self
                .toks
                .iter()
                .any(|t| WEEKDAYS.iter().any(|d| t.w == format!("{d}s")))
    }

    /// A second value alongside the first ("also", "another", "a second").
    fn coexisting(&self) -> bool {
        self.has_any(COEXIST)
    }

    /// A change-in-place marker ("now", "these days", "new", "instead"); "New York" is a
    /// name.
    fn changed_in_place(&self) -> bool {
        self.toks
            .iter()
            .any(|t| CHANGE_MARKERS.contains(&t.w.as_str()) && !t.name)
            || self.has_any(&["these days", "from now on"])
    }

    /// A plan or intention ("plans to", "is going to", "will be").
    fn plan(&self) -> bool {
        self.has_any(PLANS)
    }
}

/// A clause split at its verb.
#[derive(Clone, Debug)]
struct Clause {
    /// Words before the verb group.
    subject: Vec<Tok>,
    /// The subject's content keys, in order (the first is the owner: "user" in "user's
    /// manager").
    subject_terms: Vec<String>,
    /// The main verb's lemma ("be" for a copula without another verb).
    lemma: String,
    /// A particle of a phrasal verb ("up" in "went up").
    particle: Option<String>,
    /// A copula with no other verb ("is", "will be").
    copula: bool,
    passive: bool,
    progressive: bool,
    negated: bool,
    /// "no longer".
    no_longer: bool,
    past: bool,
    future: bool,
    /// "has healed", "has been living".
    perfect: bool,
    /// The main verb as written ("retired" in "is retired").
    verb_word: String,
    /// Words after the verb (and particle).
    rest: Vec<Tok>,
    /// All the clause's words.
    toks: Vec<Tok>,
}

impl Clause {
    fn owner(&self) -> Option<&str> {
        self.subject_terms.first().map(String::as_str)
    }

    fn is(&self, lemmas: &[&str]) -> bool {
        lemmas.contains(&self.lemma.as_str())
    }

    fn phrasal(&self) -> String {
        match &self.particle {
            Some(p) => format!("{} {p}", self.lemma),
            None => self.lemma.clone(),
        }
    }

    /// The rest's words, space separated, with a space at each end.
    fn rest_text(&self) -> String {
        let words: Vec<&str> = self.rest.iter().map(|t| t.w.as_str()).collect();
        format!(" {} ", words.join(" "))
    }

    /// A possessive in the subject: an attribute of someone ("user's rent").
    fn possessive_subject(&self) -> bool {
        self.subject.iter().any(|t| t.poss)
    }
}

/// A rule's finding that the new fact supersedes the old.
struct Found {
    confidence: f64,
    reason: &'static str,
}

fn found(confidence: f64, reason: &'static str) -> Option<Found> {
    Some(Found { confidence, reason })
}

/// Confidence of a change stated with an explicit marker or verb.
const EXPLICIT: f64 = 0.95;
/// Confidence of a new value marked "now", "new", "instead" (clear, but no marker of the
/// old value's end).
const MARKED: f64 = 0.92;
/// Confidence of a clear change without a marker.
const IMPLICIT: f64 = 0.9;

/// The rules, over one clause of each fact.
struct Judge<'a> {
    c: &'a RulesClassifier,
    o: &'a Fact,
    n: &'a Fact,
}

impl Judge<'_> {
    fn rules(&self, oc: &Clause, nc: &Clause) -> [Option<Found>; 11] {
        [
            self.ended(oc, nc),
            self.named_as(oc, nc),
            self.state_ended(oc, nc),
            self.replaced(oc, nc),
            self.changed_by_verb(oc, nc),
            self.relationship(oc, nc),
            self.status(oc, nc),
            self.counted(oc, nc),
            self.same_frame(oc, nc),
            self.plan_replaced(oc, nc),
            self.new_number(oc, nc),
        ]
    }

    /// Content keys of a clause's words.
    fn terms(&self, toks: &[Tok]) -> HashSet<String> {
        self.c.content(toks)
    }

    /// The old clause's object keys: its rest, or its verb when it has none ("User smokes").
    fn old_object(&self, oc: &Clause) -> (HashSet<String>, bool) {
        // "every morning", "on Tuesdays": when, not what.
        let rest: HashSet<String> = self
            .terms(&oc.rest)
            .into_iter()
            .filter(|t| !is_time_term(t))
            .collect();
        if rest.is_empty() {
            let mut verb = HashSet::new();
            if !GENERIC_VERBS.contains(&oc.lemma.as_str()) {
                verb.insert(oc.lemma.clone());
            }
            // "User's knee is sprained": the knee is what the state is about.
            verb.extend(oc.subject_terms.iter().skip(1).cloned());
            (verb, false)
        } else {
            (rest, true)
        }
    }

    /// Whether the new clause's subject can be the old clause's subject (the same owner, no
    /// other person or thing added): "Caroline's dog Max" for "Caroline has a dog named Max",
    /// not "User's wife" for "User drives a Honda".
    fn compatible_subject(&self, oc: &Clause, ns: &[String], n_terms: &HashSet<String>) -> bool {
        let os = &oc.subject_terms;
        if ns.is_empty() || os.is_empty() {
            return false;
        }
        if same_set(os, ns) {
            return true;
        }
        let extras_known = ns
            .iter()
            .all(|t| self.o.terms.contains(t) || GENERIC_NOUNS.contains(&t.as_str()));
        if !extras_known {
            return false;
        }
        let owner_kept = os.first().is_some_and(|o| ns.contains(o));
        let narrower = ns.iter().all(|t| os.contains(t));
        let old_subject_named = os.iter().all(|t| n_terms.contains(t));
        owner_kept || narrower || old_subject_named
    }

    /// Rule 2: the new clause negates or ends what the old one states.
    fn ended(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if oc.negated || self.ends(oc) && !self.state(oc) || oc.past && !oc.perfect {
            return None;
        }
        let negation = nc.negated
            || self.n.has_any(&["anymore", "any more"])
            || nc.rest_text().contains(" no longer ");
        let by_verb = self.ends(nc);
        if !negation && !by_verb {
            return None;
        }
        if negation && !by_verb && self.n.one_off() && !nc.no_longer {
            return None;
        }
        if by_verb && !negation && !self.ending_fits(oc, nc) {
            return None;
        }
        let n_terms = self.c.matchable(&nc.toks);
        if !self.compatible_subject(oc, &nc.subject_terms, &n_terms) {
            return None;
        }
        let (object, has_object) = self.old_object(oc);
        if object.is_empty() {
            return None;
        }
        let expanded = expand(&n_terms);
        let shared: Vec<&String> = object.iter().filter(|t| expanded.contains(*t)).collect();
        let names = oc.rest.iter().any(|t| t.name && n_terms.contains(&t.lemma));
        let hypernym = object.iter().any(|t| {
            HYPERNYMS
                .iter()
                .any(|(h, hs)| n_terms.contains(&self.c.lemma(h)) && hs.contains(&t.as_str()))
        });
        let verb_shared = n_terms.contains(&oc.lemma) || !has_object;
        // What the new fact says ended is part of the old fact ("quit calligraphy lessons").
        let rest_terms = self.terms(&nc.rest);
        let named_part = !rest_terms.is_empty()
            && rest_terms
                .iter()
                .all(|t| expanded.contains(t) && self.o.terms.contains(t));
        let enough = shared.len() * 2 >= object.len() || names || hypernym || named_part;
        // "stopped taking French lessons" ends the lessons, not "speaks French".
        let activity = nc
            .rest
            .first()
            .filter(|t| t.w.ends_with("ing") && self.c.is_verb(&t.w))
            .map(|t| t.lemma.as_str());
        if activity.is_some_and(|a| a != oc.lemma && !self.o.terms.contains(a)) {
            return None;
        }
        if shared.is_empty() && !hypernym || !enough {
            return None;
        }
        let said_no_longer = nc.no_longer || self.n.has_any(&["anymore", "any more"]);
        let whole_object = object.iter().all(|t| expanded.contains(t));
        // "doesn't need X" against "wears X": another verb, unless all of X is said to be over.
        let other_verb = !verb_shared && !oc.copula && oc.lemma != nc.lemma;
        let all_over = said_no_longer && whole_object;
        if negation && !by_verb && other_verb && !all_over {
            return None;
        }
        // "doesn't like hiking in the rain": a condition added, not the old fact negated.
        if negation && !by_verb {
            let added = rest_terms
                .iter()
                .any(|t| !self.o.terms.contains(t) && !is_time_term(t));
            if added {
                return None;
            }
        }
        found(
            EXPLICIT,
            "The new fact says the old state has ended or is not true.",
        )
    }

    /// A new value named for the old attribute with "as": "User set Firefox as the default
    /// browser" against "User's default browser is Safari".
    fn named_as(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if !oc.copula || !oc.possessive_subject() || oc.negated || nc.negated {
            return None;
        }
        if oc.owner() != nc.owner() || self.n.coexisting() {
            return None;
        }
        let attribute: Vec<String> = oc.subject_terms.iter().skip(1).cloned().collect();
        let at = nc.rest.iter().position(|t| t.w == "as")?;
        let named: Vec<String> = nc.rest[at + 1..]
            .iter()
            .take_while(|t| !PREPOSITIONS.contains(&t.w.as_str()))
            .filter(|t| self.c.is_content(t))
            .map(|t| t.lemma.clone())
            .collect();
        let value = self.terms(&nc.rest[..at]);
        let old_value = self.terms(&oc.rest);
        let same_attribute = !attribute.is_empty() && same_set(&attribute, &named);
        let new_value = !value.is_empty() && value.iter().all(|t| !old_value.contains(t));
        (same_attribute && new_value).then_some(())?;
        found(
            EXPLICIT,
            "The new fact names another value for the same attribute.",
        )
    }

    /// An event that ends the old state ("is pregnant" → "gave birth").
    fn state_ended(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if oc.owner() != nc.owner() || oc.owner().is_none() || oc.negated || nc.negated {
            return None;
        }
        let ended = STATE_ENDS.iter().any(|(state, events)| {
            oc.toks.iter().skip(oc.subject.len()).any(|t| t.w == *state)
                && events.iter().any(|e| self.n.has(e))
        });
        ended.then_some(())?;
        found(EXPLICIT, "An event ended the old state.")
    }

    /// Whether the clause's verb ends something ("quit", "sold", "passed away").
    fn ends(&self, c: &Clause) -> bool {
        let phrasal = c.phrasal();
        if ENDINGS.iter().any(|e| self.c.lemma_phrase(e) == phrasal) {
            // "ends in 3321", "left" after a count: not an ending.
            return !(c.lemma == "end"
                && c.rest
                    .first()
                    .is_some_and(|t| matches!(t.w.as_str(), "in" | "at" | "on" | "with")));
        }
        // "had the pool filled in": the participle at the end.
        let rest = c.rest_text();
        c.lemma == "have"
            && ENDED_PARTICIPLES
                .iter()
                .any(|p| rest.ends_with(&format!(" {p} ")))
    }

    /// "is retired", "is divorced": a present state, not the event of ending.
    fn state(&self, c: &Clause) -> bool {
        c.passive && !c.past && !c.perfect
    }

    /// Verbs that end only some attributes: "left" a job, a club or a place; "sold" a
    /// possession.
    fn ending_fits(&self, oc: &Clause, nc: &Clause) -> bool {
        if nc.particle.is_some() {
            // "gave up", "gave away", "passed away".
            return true;
        }
        match nc.lemma.as_str() {
            "leav" | "leave" => {
                let departs = nc
                    .rest
                    .first()
                    .is_some_and(|t| matches!(t.w.as_str(), "from" | "at" | "on" | "for"));
                nc.past
                    && !departs
                    && (oc.is(&[
                        "work", "employ", "live", "attend", "join", "belong", "studi", "date",
                    ]) || oc.copula)
            }
            "sell" | "give" | "steal" | "lose" => {
                oc.is(&[
                    "have", "own", "drive", "ride", "wear", "use", "keep", "live",
                ]) || oc.possessive_subject()
            }
            _ => true,
        }
    }

    /// Rule 3: the new clause names the old value as replaced ("instead of X", "to replace
    /// X", "switched from X", ", not X").
    fn replaced(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        let n_terms = self.c.matchable(&nc.toks);
        if !self.compatible_subject(oc, &nc.subject_terms, &n_terms) {
            return None;
        }
        let old_value = self.terms(&oc.rest);
        if old_value.is_empty() {
            return None;
        }
        // The whole fact: "User wants answers as short paragraphs, not bullet points".
        let toks = &self.n.toks;
        let words: Vec<&str> = toks.iter().map(|t| t.w.as_str()).collect();
        for marker in REPLACED {
            let m: Vec<&str> = marker.split(' ').collect();
            let Some(at) = words.windows(m.len()).enumerate().position(|(i, w)| {
                w == m.as_slice()
                    && (*marker != "not" || i > 0 && toks.get(i - 1).is_some_and(|t| t.comma))
            }) else {
                continue;
            };
            let after = &toks[at + m.len()..];
            let named = self.terms(&after[..after.len().min(4)]);
            let hits = named.iter().filter(|t| old_value.contains(*t)).count();
            if hits > 0 && (hits * 2 >= named.len().min(old_value.len()) || hits >= 2) {
                return found(EXPLICIT, "The new fact says the old value was replaced.");
            }
        }
        None
    }

    /// Rule 4: a verb of change gives the old attribute a new value ("moved to", "was hired
    /// by", "raised ... to", "pushed back to").
    fn changed_by_verb(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if self.o.coexisting_with(self.n) || nc.negated || oc.negated || self.ends(oc) {
            return None;
        }
        if oc.past && !oc.perfect {
            return None;
        }
        let (family, preps, attribute) = self.change_verb(nc)?;
        let job = attribute == "job";
        let mut rest: &[Tok] = &nc.rest;
        if nc.copula {
            rest = rest.get(1..).unwrap_or_default();
        }
        let split = rest.iter().position(|t| preps.contains(&t.w.as_str()));
        let (mut patient, target) = match split {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None if preps.is_empty() || family == Family::Role && nc.lemma == "make" => {
                (&rest[..0], rest)
            }
            None => return None,
        };
        // "switched from X to Y", "migrated CI from Jenkins to GitHub Actions".
        let mut from: &[Tok] = &[];
        if let Some(f) = patient.iter().position(|t| t.w == "from") {
            from = &patient[f + 1..];
            patient = &patient[..f];
        }
        if family == Family::Role {
            return self.role_taken(oc, nc, target);
        }
        let n_terms = self.c.matchable(&nc.toks);
        let patient_terms: HashSet<String> = if job {
            // "took a job at X": the subject's employer.
            HashSet::new()
        } else if attribute.is_empty() {
            self.terms(patient)
                .into_iter()
                .filter(|t| !GENERIC_NOUNS.contains(&t.as_str()))
                .collect()
        } else {
            // "a raise": the salary.
            SALARY.iter().map(|w| self.c.lemma(w)).collect()
        };
        let o_all = &self.o.terms;
        let subject_fits = self.compatible_subject(oc, &nc.subject_terms, &n_terms);
        // "Globex rescheduled User's interview"; "Zoe's landlord raised the rent" (not "her
        // rent": that is the landlord's).
        let owner_named = patient
            .iter()
            .any(|t| t.poss && oc.owner() == Some(t.lemma.as_str()))
            || nc.owner().is_some()
                && nc.owner() == oc.owner()
                && !patient
                    .iter()
                    .any(|t| matches!(t.w.as_str(), "her" | "his" | "their" | "its"));
        let unknown = patient_terms.iter().filter(|t| !o_all.contains(*t)).count();
        let patient_fits = patient_terms.iter().any(|t| o_all.contains(t))
            && (!attribute.is_empty() || unknown <= patient_terms.len() / 2)
            && (subject_fits || owner_named);
        let from_fits = (subject_fits || owner_named)
            && !from.is_empty()
            && self.terms(from).iter().any(|t| o_all.contains(t));
        // "The dentist appointment was moved", "User's book club doubled": the subject names
        // the attribute itself.
        let article = nc
            .subject
            .first()
            .is_some_and(|t| matches!(t.w.as_str(), "the" | "a" | "an" | "our" | "my"));
        let person = nc
            .subject_terms
            .last()
            .is_some_and(|t| HUMANS.contains(&t.as_str()) || PETS.contains(&t.as_str()));
        let thing = (nc.subject_terms.len() > 1 || article) && subject_fits && !person;
        let fits = patient_fits
            || from_fits
            || patient_terms.is_empty()
                && subject_fits
                && (thing || family.fits(self, oc, nc, target));
        if !fits {
            return None;
        }
        let target_terms = self.terms(target);
        if target_terms.is_empty() {
            return None;
        }
        let (old_numbers, new_numbers) = (self.numbers(&oc.rest), self.numbers(target));
        if family == Family::Quantity && (old_numbers.is_empty() || new_numbers.is_empty()) {
            return None;
        }
        let same_numbers =
            !new_numbers.is_empty() && new_numbers.iter().all(|x| old_numbers.contains(x));
        let words_known = target_terms
            .iter()
            .all(|t| is_number_key(t) || o_all.contains(t));
        if same_numbers && (words_known || family == Family::Quantity) {
            return None;
        }
        let old_value = self.terms(&oc.rest);
        let new_info = target_terms.iter().any(|t| !o_all.contains(t));
        let refinement =
            !old_value.is_empty() && old_value.iter().all(|t| target_terms.contains(t));
        if !new_info || refinement {
            return None;
        }
        found(
            EXPLICIT,
            "A verb of change gives the old attribute a new value.",
        )
    }

    /// The verb of change of a clause: its family, the prepositions before the new value,
    /// and the noun it changes ("raise" in "got a raise to").
    fn change_verb(&self, nc: &Clause) -> Option<(Family, &'static [&'static str], &'static str)> {
        let phrasal = nc.phrasal();
        if let Some((_, family, preps)) = CHANGES
            .iter()
            .find(|(v, _, _)| self.c.lemma_phrase(v) == phrasal)
        {
            return Some((*family, preps, ""));
        }
        // "is down to three", "is up to 12".
        if nc.copula
            && matches!(nc.rest.first().map(|t| t.w.as_str()), Some("down" | "up"))
            && nc.rest.get(1).is_some_and(|t| t.w == "to")
        {
            return Some((Family::Quantity, &["to"], ""));
        }
        // "took a job at", "started a new position with".
        let head = nc.rest.iter().find(|t| {
            !matches!(
                t.w.as_str(),
                "a" | "an" | "the" | "pay" | "new" | "full-time" | "part-time" | "permanent"
            )
        })?;
        if nc.is(&["take", "get", "start", "accept", "land", "find"])
            && JOB_NOUNS.contains(&head.w.as_str())
        {
            return Some((Family::Affiliation, &["at", "with"], "job"));
        }
        // "got a raise to $95,000", "got a promotion to".
        if nc.lemma != "get" {
            return None;
        }
        CHANGE_NOUNS
            .iter()
            .find(|(w, _)| *w == head.w)
            .map(|(w, f)| (*f, &["to", "as"][..], *w))
    }

    /// A new role: the same person's ("was promoted to senior developer" against "is a
    /// junior developer"), or someone else taking over the old holder's role ("Lena took
    /// over as project lead" against "Project Apollo's project lead is Sam").
    fn role_taken(&self, oc: &Clause, nc: &Clause, target: &[Tok]) -> Option<Found> {
        let target_keys = self.keys(target);
        let n_terms = self.c.matchable(&nc.toks);
        if self.compatible_subject(oc, &nc.subject_terms, &n_terms) {
            let role_frame =
                oc.copula || oc.lemma == "work" && oc.rest.first().is_some_and(|t| t.w == "as");
            if !role_frame {
                return None;
            }
            let mut old_keys = self.keys(&oc.rest);
            if oc.lemma == "work" && !old_keys.is_empty() {
                old_keys.remove(0);
            }
            let (orole, oorg) = role_and_org(&old_keys);
            let (nrole, norg) = role_and_org(&target_keys);
            let orgs_agree = oorg.is_empty() || norg.is_empty() || oorg == norg;
            let refinement = orole.iter().all(|w| nrole.contains(w));
            if orole.is_empty() || nrole.is_empty() || refinement || !orgs_agree {
                return None;
            }
            if is_status_word(&orole)
                || orole
                    .first()
                    .is_some_and(|w| PREPOSITIONS.contains(&w.as_str()))
            {
                return None;
            }
            return found(EXPLICIT, "The same person has a new role.");
        }
        // Someone else takes over the role the old fact names as an attribute.
        if !oc.copula || !oc.possessive_subject() {
            return None;
        }
        let target_terms = self.terms(target);
        let named = oc.subject_terms.iter().all(|t| target_terms.contains(t));
        let holder_changed = nc
            .subject_terms
            .iter()
            .all(|t| !self.terms(&oc.rest).contains(t));
        (named && holder_changed).then_some(())?;
        found(EXPLICIT, "Someone else took over the role.")
    }

    /// Rule 6: a relationship status moves on.
    fn relationship(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        let (os, op) = self.rel_status(oc)?;
        let (ns, np) = self.rel_status(nc)?;
        let owners = match (oc.owner(), nc.owner()) {
            (Some(a), Some(b)) => a == b || op.as_deref() == Some(b) && np.as_deref() == Some(a),
            _ => false,
        };
        if !owners || nc.negated || oc.negated {
            return None;
        }
        if let (Some(a), Some(b)) = (&op, &np)
            && a != b
        {
            return None;
        }
        if os == ns || !os.can_become(ns) {
            return None;
        }
        let event = matches!(
            nc.lemma.as_str(),
            "marri" | "engag" | "separ" | "divorc" | "break" | "split"
        );
        found(
            if event { EXPLICIT } else { IMPLICIT },
            "The relationship status changed.",
        )
    }

    /// A clause's relationship status and partner ("is dating Ken", "Aiko and Ken got
    /// married").
    fn rel_status(&self, c: &Clause) -> Option<(Rel, Option<String>)> {
        // "User's husband is Tom": married to Tom.
        if c.copula && c.subject.len() == 2 && c.subject[0].poss && !c.negated {
            let status = match c.subject[1].w.as_str() {
                "husband" | "wife" | "spouse" => Rel::Married,
                "boyfriend" | "girlfriend" => Rel::Dating,
                "fiance" | "fiancee" | "fiancé" | "fiancée" => Rel::Engaged,
                _ => return None,
            };
            // A name, not a description ("User's husband is vegan").
            let partner = c.rest.first().filter(|t| t.name).map(|t| t.lemma.clone())?;
            return Some((status, Some(partner)));
        }
        let status = match (c.lemma.as_str(), c.particle.as_deref()) {
            ("be", _) => {
                let first = c
                    .rest
                    .iter()
                    .find(|t| !matches!(t.w.as_str(), "a" | "an" | "now" | "currently"))?;
                match first.w.as_str() {
                    "single" => Rel::Single,
                    "widowed" | "widow" | "widower" => Rel::Widowed,
                    _ => return None,
                }
            }
            ("date", _) => Rel::Dating,
            ("engag", _) => Rel::Engaged,
            ("marri", _) => Rel::Married,
            ("separ", _) => Rel::Separated,
            ("divorc", _) => Rel::Divorced,
            ("break", Some("up" | "off")) | ("split", Some("up")) | ("call", Some("off")) => {
                Rel::BrokeUp
            }
            _ => return None,
        };
        // The partner: after "to"/"with"/the verb, or the second name of "A and B".
        let and = c.subject.iter().position(|t| t.w == "and");
        // "separated the recycling": a couple separates from each other, not an object.
        let object = c.rest.first().is_some_and(|t| {
            !PREPOSITIONS.contains(&t.w.as_str()) && !matches!(t.w.as_str(), "last" | "this")
        });
        if c.lemma == "separ" && and.is_none() && object {
            return None;
        }
        let partner = match and {
            Some(at) => c.subject.get(at + 1).map(|t| t.lemma.clone()),
            None => c.rest.iter().find(|t| t.name).map(|t| t.lemma.clone()),
        };
        Some((status, partner))
    }

    /// Rule 6: a diet or employment status flips ("vegetarian" → "started eating meat
    /// again"; "unemployed" → "started working at").
    fn status(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if oc.owner() != nc.owner() || oc.owner().is_none() || self.n.coexisting() {
            return None;
        }
        let a = self.diet(oc)?;
        let b = self.diet(nc)?;
        if a.0 != b.0 || !conflicts(a.1, b.1) {
            return None;
        }
        found(
            IMPLICIT,
            "The same status changed to a value that excludes the old one.",
        )
    }

    /// (kind, value) of a diet or employment status.
    fn diet(&self, c: &Clause) -> Option<(&'static str, &'static str)> {
        let began = c.is(&["start", "begin", "becom"]);
        if c.subject_terms.len() != 1 || c.past && !c.perfect && !began {
            return None;
        }
        let rest = c.rest_text();
        let first = if c.passive {
            c.verb_word.as_str()
        } else {
            c.rest.first().map(|t| t.w.as_str()).unwrap_or("")
        };
        if (c.copula || c.passive) && !c.negated {
            for (word, kind, value) in STATUS_WORDS {
                if first == *word || rest.starts_with(&format!(" a {word} ")) {
                    return Some((kind, value));
                }
            }
        }
        let eats_meat = (c.lemma == "eat" || rest.contains(" eating "))
            && c.rest.iter().any(|t| MEATS.contains(&t.w.as_str()));
        if eats_meat {
            return Some(("diet", if c.negated { "no-meat" } else { "meat" }));
        }
        let works = c.is(&["work", "employ", "hire"])
            || rest.starts_with(" working ")
            || rest.contains(" a job ")
            || rest.contains(" a new job ");
        if works && !c.negated {
            return Some(("employment", "employed"));
        }
        None
    }

    /// Rule 6: a count grows by an ordinal or "another"/"N more" ("has two cats" → "adopted a
    /// third cat").
    fn counted(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if oc.owner() != nc.owner()
            || oc.owner().is_none()
            || !oc.is(&["have", "own", "keep"])
            || nc.negated
        {
            return None;
        }
        let (count, noun) = oc.rest.windows(2).find_map(|w| match w {
            [a, b] => word_number(&a.w)
                .filter(|v| *v >= 2.0)
                .map(|v| (v, b.lemma.clone())),
            _ => None,
        })?;
        let added = nc.rest.windows(2).any(|w| match w {
            [a, b] => {
                b.lemma == noun
                    && (ordinal(&a.w).is_some_and(|k| f64::from(k) == count + 1.0)
                        || a.w == "another")
            }
            _ => false,
        });
        added.then_some(())?;
        found(IMPLICIT, "The count of the same things grew.")
    }

    /// Whether the new clause keeps the old clause's value (a restatement, or the value with
    /// detail added), neither negated.
    fn keeps_value(&self, oc: &Clause, nc: &Clause) -> bool {
        if oc.negated || nc.negated || self.ends(nc) {
            return false;
        }
        let value = |k: Vec<String>| -> Vec<String> {
            k.into_iter()
                .filter(|w| !PREPOSITIONS.contains(&w.as_str()))
                .collect()
        };
        let (old, new) = (value(self.keys(&oc.rest)), value(self.keys(&nc.rest)));
        !old.is_empty() && old.iter().all(|k| new.contains(k))
    }

    /// Rule 5: the same subject and attribute with a different value.
    fn same_frame(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if nc.negated || oc.negated || self.ends(oc) || self.ends(nc) {
            return None;
        }
        if !same_set(&oc.subject_terms, &nc.subject_terms) {
            return None;
        }
        if self.event_vs_state(oc, nc) || self.n.coexisting() {
            return None;
        }
        // Events do not supersede events ("moved to Berlin in 2020", "moved for work").
        if oc.past && !oc.perfect || nc.particle != oc.particle {
            return None;
        }
        if nc.future != oc.future && !(nc.copula && oc.copula) {
            return None;
        }
        let family = |c: &Clause| -> String {
            FAMILIES
                .iter()
                .find(|(_, members)| members.contains(&c.lemma.as_str()))
                .map_or_else(|| c.lemma.clone(), |(f, _)| (*f).to_owned())
        };
        if family(oc) != family(nc) || oc.lemma == nc.lemma && oc.passive != nc.passive {
            return None;
        }
        let ok = self.keys(&oc.rest);
        let nk = self.keys(&nc.rest);
        // The same preposition leads both values ("works at" / "works as").
        let lead = |k: &[String]| {
            k.first()
                .filter(|w| PREPOSITIONS.contains(&w.as_str()))
                .cloned()
        };
        let (ol, nl) = (lead(&ok), lead(&nk));
        let dated = oc.copula && is_dated(&ok) && is_dated(&nk);
        if ol != nl && !dated && !equivalent_leads(ol.as_deref(), nl.as_deref()) {
            return None;
        }
        let diff = Diff::of(&ok, &nk);
        let title = oc.copula
            && oc
                .subject_terms
                .last()
                .is_some_and(|t| TITLES.contains(&t.as_str()))
            && diff.role_modifier_added();
        if !diff.replaced() && !title && !flipped(&ok, &nk) {
            return None;
        }
        // Several places changed: another occasion or entity ("$50 for the phone plan" →
        // "$15 for Spotify"), unless each is a value (a number, a date: "Thursday at 2pm" →
        // "Friday at 10am") or the same words swapped ("emails over calls" → "calls over
        // emails").
        let changed: Vec<&Edit> = diff.edits.iter().filter(|e| !e.old.is_empty()).collect();
        if changed.len() > 1
            && !changed
                .iter()
                .all(|e| e.old.iter().all(|k| is_value_key(k)))
            && !flipped(&ok, &nk)
        {
            return None;
        }
        // The old value's words all kept: more detail, not a new value.
        let content = |k: &[String]| -> Vec<String> {
            k.iter()
                .filter(|w| !PREPOSITIONS.contains(&w.as_str()))
                .cloned()
                .collect()
        };
        let (oc_keys, nc_keys) = (content(&ok), content(&nk));
        if oc_keys.iter().all(|k| nc_keys.contains(k)) && !title && !flipped(&ok, &nk) {
            return None;
        }
        if same_abbreviated(&self.o.toks, &oc.rest, &nc.rest) {
            return None;
        }
        let marker = self.n.changed_in_place();
        let confidence = if marker { MARKED } else { IMPLICIT };
        if diff.numbers_changed() || diff.frequency_changed() || diff.dates_changed() {
            return found(confidence, "The same quantity or schedule has a new value.");
        }
        if oc.copula {
            return self.copula_change(oc, nc, &ok, &nk, confidence);
        }
        let single = SINGLE_VALUED.contains(&oc.lemma.as_str())
            || SINGLE_FAMILIES.contains(&family(oc).as_str())
            || ol
                .as_deref()
                .is_some_and(|lead| SINGLE_WITH_LEAD.contains(&(oc.lemma.as_str(), lead)));
        let complement = diff.first_replaced_after_match() && !EMOTIVE.contains(&oc.lemma.as_str());
        let role_slot = diff.replaced_before(&["as", "for"]);
        let multi = MULTI_VALUED.contains(&oc.lemma.as_str());
        if single || complement || role_slot || marker && !multi {
            return found(
                confidence,
                "The same attribute of the same subject has a new value.",
            );
        }
        None
    }

    /// What kind of value a clause's rest is: "a beagle", "three years old", "in the shop",
    /// "Karen", "friendly".
    fn value_kind(&self, rest: &[Tok]) -> ValueKind {
        let Some(first) = rest.iter().find(|t| {
            !matches!(
                t.w.as_str(),
                "now" | "currently" | "still" | "also" | "just"
            )
        }) else {
            return ValueKind::Bare;
        };
        if is_dated(&self.keys(rest)) && !matches!(first.w.as_str(), "a" | "an" | "the") {
            return ValueKind::Dated;
        }
        match first.w.as_str() {
            "a" | "an" | "the" | "her" | "his" | "their" | "its" | "my" | "our" => {
                ValueKind::Article
            }
            w if number_key(w).is_some() || read_number(&[w]).is_some() => ValueKind::Dated,
            w if PREPOSITIONS.contains(&w) => ValueKind::Place,
            _ if first.name => ValueKind::Name,
            _ => ValueKind::Bare,
        }
    }

    /// A copula frame's change: an attribute ("User's rent is") or a thing's property ("The
    /// team offsite will be in") takes a new value; a person's role changes within the same
    /// organisation.
    fn copula_change(
        &self,
        oc: &Clause,
        nc: &Clause,
        ok: &[String],
        nk: &[String],
        confidence: f64,
    ) -> Option<Found> {
        if nc.past && !oc.past {
            return None;
        }
        let human = oc
            .subject_terms
            .last()
            .is_some_and(|t| HUMANS.contains(&t.as_str()));
        let person = oc.subject.len() == 1 && !oc.possessive_subject() || human;
        let (old_kind, new_kind) = (self.value_kind(&oc.rest), self.value_kind(&nc.rest));
        if !person {
            // "Jon's dog is a beagle" / "is three years old" / "is friendly": other properties
            // of the same thing, unless the value is of the same kind.
            // "User's new landlord is ...": the subject itself says the value is new.
            let renewed =
                nc.subject.iter().any(|t| t.w == "new") && !oc.subject.iter().any(|t| t.w == "new");
            if old_kind != new_kind && !renewed {
                return None;
            }
            // "User's hobbies are ...": a list, not one value.
            let list = oc.subject.last().is_some_and(|t| {
                (t.w.ends_with('s') || t.w.ends_with("ren"))
                    && LIST_NOUNS.contains(&t.lemma.as_str())
            });
            let things = plural(&oc.subject) && !oc.possessive_subject();
            if (list || things) && confidence < MARKED {
                return None;
            }
            return found(
                confidence,
                "The same attribute of the same subject has a new value.",
            );
        }
        // Someone named by relation: "User's boss is Karen" → "is Tom".
        if human && old_kind == ValueKind::Name && new_kind == ValueKind::Name {
            return found(confidence, "Someone else holds the same relation.");
        }
        // A person: "User is a sergeant in the army reserve" → "a lieutenant in ...".
        let (orole, oorg) = role_and_org(ok);
        let (nrole, norg) = role_and_org(nk);
        if orole.is_empty() || nrole.is_empty() || is_status_word(&orole) || is_status_word(&nrole)
        {
            return None;
        }
        let leads_with_preposition = |k: &[String]| {
            k.first()
                .is_some_and(|w| PREPOSITIONS.contains(&w.as_str()))
        };
        if leads_with_preposition(&orole) || leads_with_preposition(&nrole) {
            return None;
        }
        // A student, a volunteer, a member: roles held alongside others.
        let coexists = |r: &[String]| r.iter().any(|w| COEXISTING_ROLES.contains(&w.as_str()));
        if coexists(&orole) || coexists(&nrole) {
            return None;
        }
        let same_org = !oorg.is_empty() && oorg == norg;
        let shared_head = orole.last() == nrole.last() && oorg == norg;
        let marked = confidence >= MARKED && (oorg.is_empty() || norg.is_empty() || oorg == norg);
        if same_org || shared_head || marked {
            return found(confidence, "The same person's role changed.");
        }
        None
    }

    /// Rule 6: a plan replaced by a decision for the same occasion ("plans to drive to the
    /// conference" → "is taking the train to the conference").
    fn plan_replaced(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if !self.o.plan() || self.n.coexisting() || nc.negated || oc.negated {
            return None;
        }
        let committed = nc.progressive
            || nc.future
            || self.n.has_any(&["decided to", "decided", "chose", "opted"]);
        if !committed || nc.past && !self.n.has("decided") {
            return None;
        }
        let n_terms = self.c.matchable(&nc.toks);
        if !self.compatible_subject(oc, &nc.subject_terms, &n_terms) {
            return None;
        }
        let strip = |set: HashSet<String>, c: &Clause| -> HashSet<String> {
            set.into_iter()
                .filter(|t| {
                    !c.subject_terms.contains(t)
                        && !PLAN_WORDS.iter().any(|p| self.c.lemma(p) == *t)
                })
                .collect()
        };
        let a = strip(self.terms(&oc.toks), oc);
        let b = strip(n_terms, nc);
        let shared: Vec<&String> = a.iter().filter(|t| b.contains(*t)).collect();
        let specific = shared.iter().any(|t| !GENERIC_VERBS.contains(&t.as_str()));
        let only_old = a
            .iter()
            .any(|t| !b.contains(t) && !GENERIC_VERBS.contains(&t.as_str()));
        let only_new = b
            .iter()
            .any(|t| !a.contains(t) && !GENERIC_VERBS.contains(&t.as_str()));
        if specific && only_old && only_new {
            return found(
                IMPLICIT,
                "A decision replaced the old plan for the same occasion.",
            );
        }
        None
    }

    /// Rule 5 for values named in passing: "got a new desk phone with extension 5202"
    /// against "work extension is 4417".
    fn new_number(&self, oc: &Clause, nc: &Clause) -> Option<Found> {
        if !self.n.has_any(&["new", "now"]) || nc.negated || self.n.coexisting() {
            return None;
        }
        if !oc.copula || !oc.possessive_subject() || oc.owner() != nc.owner() {
            return None;
        }
        let attribute = oc.subject_terms.last()?;
        let old_numbers = self.numbers(&oc.rest);
        if old_numbers.is_empty() {
            return None;
        }
        let value = nc.rest.windows(2).find_map(|w| match w {
            [a, b] if a.lemma == *attribute && number_key(&b.w).is_some() => number_key(&b.w),
            _ => None,
        })?;
        (!old_numbers.contains(&value)).then_some(())?;
        found(IMPLICIT, "The same attribute has a new value.")
    }

    /// The new clause is a one-off or past event while the old one is a state or habit
    /// ("skipped yoga this Wednesday" against "goes to yoga on Wednesdays").
    fn event_vs_state(&self, oc: &Clause, nc: &Clause) -> bool {
        let n_event = nc.past && !nc.perfect && !oc.past;
        n_event
            || self.n.one_off() && (self.o.habitual() || nc.past)
            || oc.past && !oc.perfect && !nc.past
    }

    /// Alignment keys of a value: lemmas without articles, possessive pronouns and fillers;
    /// frequencies as one key.
    fn keys(&self, toks: &[Tok]) -> Vec<String> {
        let words: Vec<&str> = toks.iter().map(|t| t.w.as_str()).collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if let Some((len, key)) = FREQUENCIES.iter().find_map(|(phrase, key)| {
                let p: Vec<&str> = phrase.split(' ').collect();
                (words.get(i..i + p.len()) == Some(p.as_slice())).then_some((p.len(), *key))
            }) {
                out.push(key.to_owned());
                i += len;
                continue;
            }
            if let Some((len, key)) = read_number(&words[i..]) {
                out.push(key);
                i += len;
                continue;
            }
            let t = &toks[i];
            if !DROPPED.contains(&t.w.as_str()) {
                out.push(t.lemma.clone());
            }
            i += 1;
        }
        out.truncate(MAX_VALUE_KEYS);
        out
    }

    /// The numeric keys of a value.
    fn numbers(&self, toks: &[Tok]) -> Vec<String> {
        self.keys(toks)
            .into_iter()
            .filter(|k| is_number_key(k))
            .collect()
    }
}

impl Fact {
    /// Whether `new` adds a second value alongside this fact's ("also", "another").
    fn coexisting_with(&self, new: &Fact) -> bool {
        new.coexisting() && !new.has_any(&["instead", "no longer"])
    }
}

impl RulesClassifier {
    /// The stemmed form of a lexicon entry ("go up" → "go up", "moved" → "move").
    fn lemma_phrase(&self, phrase: &str) -> String {
        let mut words = phrase.split(' ');
        let first = words.next().map(|w| self.lemma(w)).unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        if rest.is_empty() {
            first
        } else {
            format!("{first} {}", rest.join(" "))
        }
    }
}

/// Kinds of verbs of change, and what an old fact must state for each to apply when the new
/// fact names no object ("User relocated to Munich").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// Where someone lives or something is.
    Residence,
    /// "moved": a place or a date, whichever the old fact states.
    Move,
    /// Employer, school, course.
    Affiliation,
    /// A role or title.
    Role,
    /// Anything the new value shares a word with (a plan, tier, product, condition).
    Related,
    /// A count or amount (needs numbers on both sides).
    Quantity,
    /// A date or time.
    Time,
    /// Anything named as the object ("changed the shell to zsh").
    Any,
    /// The value follows the verb ("joined Stripe").
    Direct,
}

impl Family {
    fn fits(self, j: &Judge<'_>, oc: &Clause, nc: &Clause, target: &[Tok]) -> bool {
        let o_terms = j.terms(&oc.toks);
        let t_terms = j.terms(target);
        match self {
            Family::Move => {
                // A move to a program, a team or a shift is not a move of home.
                let somewhere = !target.iter().any(|t| {
                    let w = t.w.as_str();
                    NOT_PLACES.contains(&w)
                        || NOT_PLACES.contains(&w.strip_suffix('s').unwrap_or(w))
                });
                somewhere && Family::Residence.fits(j, oc, nc, target)
                    || Family::Time.fits(j, oc, nc, target)
            }
            Family::Residence => {
                oc.is(&["live", "resid", "base", "reloc", "move", "settl"])
                    || oc.copula
                        && oc
                            .rest
                            .first()
                            .is_some_and(|t| matches!(t.w.as_str(), "in" | "at"))
                        && !oc.possessive_subject()
                        && oc.subject.len() > 1
            }
            Family::Affiliation | Family::Direct => {
                let org = oc.is(&[
                    "work", "employ", "attend", "go", "studi", "enrol", "do", "major", "teach",
                ]);
                let club = |toks: &[Tok]| toks.iter().any(|t| CLUBS.contains(&t.w.as_str()));
                // Joining a club is not changing employer.
                let joins_club = club(target) && !club(&oc.rest);
                // "works at", "works for": not "works as" or "works out".
                let workplace = oc.lemma != "work"
                    || oc
                        .rest
                        .first()
                        .is_some_and(|t| matches!(t.w.as_str(), "at" | "for" | "in"));
                // A transfer from where one "goes": a school, not the gym.
                let school = nc.lemma != "transfer"
                    || oc.lemma != "go"
                    || oc.rest.iter().any(|t| {
                        t.w.contains("school")
                            || matches!(t.w.as_str(), "elementary" | "college" | "university")
                    });
                org && !joins_club && workplace && school
            }
            Family::Role => false,
            Family::Related => t_terms.iter().any(|t| o_terms.contains(t)),
            Family::Quantity => !j.numbers(&oc.rest).is_empty() && !j.numbers(target).is_empty(),
            Family::Time => is_dated(&j.keys(&oc.rest)),
            Family::Any => false,
        }
    }
}

/// Kinds of copula values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    /// "a beagle", "the basic tier", "their brother Alex".
    Article,
    /// A number, amount, date or time.
    Dated,
    /// "in the shop", "at the Grand Hotel".
    Place,
    /// "Karen", "Coldplay".
    Name,
    /// "red", "friendly", "she/her".
    Bare,
}

/// Relationship statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Single,
    Dating,
    Engaged,
    Married,
    Separated,
    Divorced,
    Widowed,
    BrokeUp,
}

impl Rel {
    fn can_become(self, next: Rel) -> bool {
        use Rel::*;
        match self {
            Single | BrokeUp | Divorced | Widowed => matches!(next, Dating | Engaged | Married),
            Dating => matches!(next, Engaged | Married | BrokeUp | Single),
            Engaged => matches!(next, Married | BrokeUp | Single),
            Married => matches!(next, Separated | Divorced | Widowed | Single),
            Separated => matches!(next, Divorced),
        }
    }
}

/// Whether two values of the same status exclude each other.
fn conflicts(old: &str, new: &str) -> bool {
    match (old, new) {
        (a, b) if a == b => false,
        ("vegetarian", "vegan") | ("vegetarian" | "vegan" | "pescatarian", "no-meat") => false,
        ("no-meat", "vegetarian" | "vegan" | "pescatarian") => false,
        _ => true,
    }
}

/// An edit script between two key sequences.
struct Diff {
    edits: Vec<Edit>,
}

/// A run of old keys replaced by a run of new ones (either may be empty).
struct Edit {
    old: Vec<String>,
    new: Vec<String>,
    /// Content keys (not prepositions) matched before it.
    after: usize,
    /// The matched key after it.
    next: Option<String>,
}

impl Diff {
    fn of(a: &[String], b: &[String]) -> Diff {
        let (n, m) = (a.len(), b.len());
        let mut lcs = vec![vec![0usize; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j, mut matched) = (0, 0, 0);
        let mut edits: Vec<Edit> = Vec::new();
        let mut open: Option<Edit> = None;
        while i < n || j < m {
            if i < n && j < m && a[i] == b[j] {
                if let Some(mut edit) = open.take() {
                    edit.next = Some(a[i].clone());
                    edits.push(edit);
                }
                if !PREPOSITIONS.contains(&a[i].as_str()) {
                    matched += 1;
                }
                i += 1;
                j += 1;
                continue;
            }
            let edit = open.get_or_insert_with(|| Edit {
                old: Vec::new(),
                new: Vec::new(),
                after: matched,
                next: None,
            });
            if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
                edit.new.push(b[j].clone());
                j += 1;
            } else {
                edit.old.push(a[i].clone());
                i += 1;
            }
        }
        edits.extend(open);
        Diff { edits }
    }

    /// Some old run was replaced by a new one (not only additions or removals), or a role
    /// modifier was dropped ("vice president" → "president").
    fn replaced(&self) -> bool {
        let content = |k: &String| !PREPOSITIONS.contains(&k.as_str());
        let removed = self.edits.iter().any(|e| e.old.iter().any(content));
        let added = self.edits.iter().any(|e| e.new.iter().any(content));
        removed && added
            || self
                .edits
                .iter()
                .any(|e| e.old.iter().any(|k| ROLE_MODIFIERS.contains(&k.as_str())))
    }

    /// A seniority word was added ("Analyst" → "Senior Analyst").
    fn role_modifier_added(&self) -> bool {
        self.edits
            .iter()
            .any(|e| e.new.iter().any(|k| ROLE_MODIFIERS.contains(&k.as_str())))
    }

    /// A number was replaced by another.
    fn numbers_changed(&self) -> bool {
        self.edits.iter().any(|e| {
            e.old.iter().any(|k| is_number_key(k)) && e.new.iter().any(|k| is_number_key(k))
        })
    }

    /// A weekday, month or date was replaced by another ("on Tuesdays" → "on Thursdays").
    fn dates_changed(&self) -> bool {
        let dated = |run: &[String]| {
            let values: Vec<&String> = run
                .iter()
                .filter(|k| !PREPOSITIONS.contains(&k.as_str()))
                .collect();
            !values.is_empty() && values.iter().all(|k| is_value_key(k))
        };
        self.edits.iter().any(|e| dated(&e.old) && dated(&e.new))
    }

    /// A frequency was replaced by another.
    fn frequency_changed(&self) -> bool {
        self.edits.iter().any(|e| {
            e.old.iter().any(|k| k.starts_with('~')) && e.new.iter().any(|k| k.starts_with('~'))
        })
    }

    fn first_replacement(&self) -> Option<&Edit> {
        self.edits
            .iter()
            .find(|e| !e.old.is_empty() && !e.new.is_empty())
    }

    /// The first replacement comes after some matched keys (a complement, not the object).
    fn first_replaced_after_match(&self) -> bool {
        self.first_replacement().is_some_and(|e| e.after > 0)
    }

    /// The first replacement is followed by one of `words` (a role slot: "uses X as its
    /// database").
    fn replaced_before(&self, words: &[&str]) -> bool {
        self.first_replacement()
            .and_then(|e| e.next.as_deref())
            .is_some_and(|next| words.contains(&next))
    }
}

/// What attribute a clause states: its subject (order, "new"/"current" and an implied
/// "User's" aside), its verb's family, particle and leading preposition ("works at" and
/// "works for" alike; a copula's preposition is part of its value).
fn attribute_key(c: &Clause) -> (Vec<String>, String, Option<String>, String) {
    let mut subject: Vec<String> = c
        .subject_terms
        .iter()
        .filter(|t| !GENERIC_MODIFIERS.contains(&t.as_str()) && *t != "user")
        .cloned()
        .collect();
    subject.sort();
    let family = FAMILIES
        .iter()
        .find(|(_, members)| members.contains(&c.lemma.as_str()))
        .map_or_else(|| c.lemma.clone(), |(f, _)| (*f).to_owned());
    let lead = match c.rest.first().map(|t| t.w.as_str()) {
        _ if c.copula => String::new(),
        Some("at" | "for" | "by") => "at".to_owned(),
        Some(p) if PREPOSITIONS.contains(&p) => p.to_owned(),
        _ => String::new(),
    };
    (subject, family, c.particle.clone(), lead)
}

/// A role and its organisation: "a sergeant in the army reserve" → (sergeant, army reserve).
fn role_and_org(keys: &[String]) -> (Vec<String>, Vec<String>) {
    let mut role = Vec::new();
    let mut org = Vec::new();
    let mut in_org = false;
    for (i, k) in keys.iter().enumerate() {
        if !in_org && i > 0 && matches!(k.as_str(), "at" | "in" | "of" | "for" | "with" | "on") {
            in_org = true;
            continue;
        }
        if in_org {
            org.push(k.clone());
        } else {
            role.push(k.clone());
        }
    }
    (role, org)
}

fn is_status_word(keys: &[String]) -> bool {
    keys.len() == 1 && STATUS_WORDS.iter().any(|(w, _, _)| keys[0] == *w)
}

/// Whether a subject is plural ("User's hobbies").
fn plural(subject: &[Tok]) -> bool {
    subject
        .last()
        .is_some_and(|t| t.w.ends_with('s') && !t.w.ends_with("ss") && !t.poss)
}

/// Whether two leading prepositions name the same attribute ("works at" / "works for").
fn equivalent_leads(a: Option<&str>, b: Option<&str>) -> bool {
    matches!(
        (a, b),
        (Some("at" | "for"), Some("at" | "for"))
            | (Some("at" | "by" | "for"), Some("by"))
            | (Some("by"), Some("at" | "for"))
    )
}

/// Whether keys hold a date or time (a weekday, a month, a clock time, a year).
fn is_dated(keys: &[String]) -> bool {
    keys.iter()
        .any(|k| k.starts_with('@') || DATE_STEMS.contains(&k.as_str()))
}

/// A number at the start of `words` and how many words it takes: "seventy thousand",
/// "1.5 million", "$70k"; a phone number in groups ("(555) 0142", "020 7946 0018") as
/// `%digits`.
fn read_number(words: &[&str]) -> Option<(usize, String)> {
    let phone_part = |w: &str| {
        w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '(' | ')' | '-' | '+' | '.'))
            && !w.ends_with('.')
    };
    let groups = words.iter().take_while(|w| phone_part(w)).count();
    let first = words.first()?;
    if groups >= 2
        || groups == 1 && (first.contains('-') || first.contains('(')) && clock(first).is_none()
    {
        let digits: String = words[..groups]
            .iter()
            .flat_map(|w| w.chars().filter(char::is_ascii_digit))
            .collect();
        if digits.len() >= 4 {
            return Some((groups, format!("%{digits}")));
        }
    }
    let (mut value, mut used) = if let Some(v) = first.strip_suffix('k').and_then(numeral) {
        (v * 1000.0, 1)
    } else if let Some(v) = word_number(first) {
        (v, 1)
    } else {
        return None;
    };
    // "seventy five", "two hundred", "seventy thousand".
    while let Some(w) = words.get(used) {
        match (*w, word_number(w)) {
            ("hundred", _) => value *= 100.0,
            ("thousand", _) => value *= 1000.0,
            ("million", _) => value *= 1_000_000.0,
            (_, Some(v)) if v < 10.0 && value >= 20.0 && value % 10.0 == 0.0 => value += v,
            _ => break,
        }
        used += 1;
    }
    Some((used, format!("#{value}")))
}

fn is_number_key(k: &str) -> bool {
    k.starts_with('#') || k.starts_with('@') || k.starts_with('%')
}

/// A key that is a value by itself: a number, a time, a weekday, a month, a frequency.
fn is_value_key(k: &str) -> bool {
    is_number_key(k) || k.starts_with('~') || is_dated(std::slice::from_ref(&k.to_owned()))
}

/// The same words in another order ("emails over calls" → "calls over emails").
fn flipped(a: &[String], b: &[String]) -> bool {
    let (mut x, mut y) = (a.to_vec(), b.to_vec());
    x.sort();
    y.sort();
    a != b
        && x == y
        && a.iter()
            .any(|k| matches!(k.as_str(), "over" | "than" | "rather"))
}

/// Whether one value abbreviates the other: "NYC" and "New York", "Oak St" and "Oak
/// Street" (an acronym of capitals matching the other value's initials).
fn same_abbreviated(old_toks: &[Tok], a: &[Tok], b: &[Tok]) -> bool {
    let _ = old_toks;
    let words = |v: &[Tok]| -> Vec<String> {
        v.iter()
            .filter(|t| !PREPOSITIONS.contains(&t.w.as_str()) && !DROPPED.contains(&t.w.as_str()))
            .map(|t| t.w.clone())
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let acronym_of = |short: &[String], long: &[String]| -> bool {
        let [only] = short else {
            return false;
        };
        let initials: String = long.iter().filter_map(|w| w.chars().next()).collect();
        only.len() >= 2
            && long.len() >= 2
            && only.chars().all(char::is_alphabetic)
            && (only.starts_with(&initials) || initials.starts_with(only.as_str()))
    };
    acronym_of(&a, &b) || acronym_of(&b, &a)
}

/// `#value` for a number ("$1,800", "forty", "12.5"), `@minutes` for a clock time ("6:40pm").
fn number_key(word: &str) -> Option<String> {
    if let Some(minutes) = clock(word) {
        return Some(format!("@{minutes}"));
    }
    word_number(word)
        .or_else(|| ordinal_numeral(word))
        .map(|v| format!("#{v}"))
}

/// "3rd", "21st", "4th".
fn ordinal_numeral(word: &str) -> Option<f64> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| word.strip_suffix(suffix))?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The value of a numeral: "$1,800", "12.5", "40%".
fn numeral(word: &str) -> Option<f64> {
    let s = word
        .trim_start_matches(['$', '£', '€', '~', '+'])
        .trim_end_matches('%');
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return None;
    }
    s.replace(',', "").parse().ok()
}

/// Minutes after midnight of "6am", "9:30am", "7:15", "11pm".
fn clock(word: &str) -> Option<u32> {
    let (digits, half) = if let Some(d) = word.strip_suffix("am") {
        (d, Some(0))
    } else if let Some(d) = word.strip_suffix("pm") {
        (d, Some(12))
    } else if word.contains(':') {
        (word, None)
    } else {
        return None;
    };
    let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m > 59 {
        return None;
    }
    let h = match half {
        Some(offset) if (1..=12).contains(&h) => h % 12 + offset,
        Some(_) => return None,
        None if h < 24 => h,
        None => return None,
    };
    Some(h * 60 + m)
}

/// A number written as one word or digits ("forty", "1,000", "12.5").
fn word_number(word: &str) -> Option<f64> {
    if let Some(v) = numeral(word) {
        return Some(v);
    }
    let v = match word {
        "zero" | "no" => return None,
        "half" => 0.5,
        "one" | "single" => 1.0,
        "two" | "pair" | "couple" => 2.0,
        "three" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "eleven" => 11.0,
        "twelve" | "dozen" => 12.0,
        "fifteen" => 15.0,
        "twenty" => 20.0,
        "thirty" => 30.0,
        "forty" => 40.0,
        "fifty" => 50.0,
        "sixty" => 60.0,
        "seventy" => 70.0,
        "eighty" => 80.0,
        "ninety" => 90.0,
        "hundred" => 100.0,
        _ => return None,
    };
    if word == "single" {
        return None;
    }
    Some(v)
}

fn ordinal(word: &str) -> Option<u32> {
    let v = match word {
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        "sixth" | "6th" => 6,
        "seventh" | "7th" => 7,
        "eighth" | "8th" => 8,
        "ninth" | "9th" => 9,
        "tenth" | "10th" => 10,
        _ => return None,
    };
    Some(v)
}

fn is_year(w: &str) -> bool {
    w.len() == 4
        && (w.starts_with("19") || w.starts_with("20"))
        && w.chars().all(|c| c.is_ascii_digit())
}

/// An adverb inside a verb group: a listed one, or a word in "-ly" that is not a noun or
/// adjective of time ("fully", "officially"; not "daily", "family", "July").
fn is_adverb(w: &str) -> bool {
    ADVERBS.contains(&w)
        || w.len() > 4
            && w.ends_with("ly")
            && !matches!(
                w,
                "daily"
                    | "family"
                    | "weekly"
                    | "monthly"
                    | "yearly"
                    | "early"
                    | "italy"
                    | "july"
                    | "supply"
                    | "reply"
                    | "assembly"
                    | "ally"
                    | "nightly"
                    | "hourly"
                    | "likely"
                    | "only"
            )
}

/// A stem that says when ("morn", "everi", "tuesday").
fn is_time_term(t: &str) -> bool {
    TIME_WORDS.contains(&t) || DATE_STEMS.contains(&t)
}

fn is_irregular_past(w: &str) -> bool {
    IRREGULAR_PAST.contains(&w)
}

/// Whether two subjects name the same thing: the same words (repeats counted, order
/// aside), new/current/usual aside, and "User's" implied ("The mortgage rate").
fn same_set(a: &[String], b: &[String]) -> bool {
    let strip = |v: &[String]| -> Vec<String> {
        let mut v: Vec<String> = v
            .iter()
            .filter(|t| !GENERIC_MODIFIERS.contains(&t.as_str()))
            .cloned()
            .collect();
        v.sort();
        v
    };
    let (mut a, mut b) = (strip(a), strip(b));
    let user = |v: &[String]| v.iter().any(|t| t == "user");
    if user(&a) != user(&b) {
        a.retain(|t| t != "user");
        b.retain(|t| t != "user");
    }
    !a.is_empty() && a == b
}

/// `terms` with the narrower words of any broader word in it ("alcohol" → "wine", ...).
fn expand(terms: &HashSet<String>) -> HashSet<String> {
    let mut out = terms.clone();
    for (broad, narrow) in HYPERNYMS {
        if terms.contains(*broad) {
            out.extend(narrow.iter().map(|w| (*w).to_owned()));
        }
    }
    out
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Longest value compared word by word.
const MAX_VALUE_KEYS: usize = 48;

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the pipeline would act: `supersedes` at or above the floor.
    fn acts(old: &str, new: &str) -> bool {
        let v = RulesClassifier::default().judge(old, new);
        assert!((0.0..=1.0).contains(&v.confidence), "{v:?}");
        v.kind == VerdictKind::Supersedes && v.confidence >= crate::MIN_CONFIDENCE_FLOOR
    }

    fn supersede(cases: &[(&str, &str)]) {
        for (old, new) in cases {
            let v = RulesClassifier::default().judge(old, new);
            assert!(acts(old, new), "{old:?} -> {new:?} should supersede: {v:?}");
        }
    }

    fn keep(cases: &[(&str, &str)]) {
        for (old, new) in cases {
            let v = RulesClassifier::default().judge(old, new);
            assert!(
                !acts(old, new),
                "{old:?} -> {new:?} should keep both: {v:?}"
            );
        }
    }

    #[test]
    fn explicit_ends_and_negations_supersede() {
        supersede(&[
            ("Bob works at Initech", "Bob no longer works at Initech"),
            ("User meditates every morning", "User stopped meditating"),
            (
                "User is a member of the rowing club",
                "User quit the rowing club",
            ),
            ("User owns a Kindle Paperwhite", "User sold the Kindle"),
            ("User's knee is sprained", "User's knee has fully healed"),
            (
                "User is allergic to cats",
                "User is no longer allergic to cats",
            ),
            ("User drinks two beers a night", "User has cut out alcohol"),
            (
                "Eva is engaged to Luca",
                "Eva and Luca called off the engagement",
            ),
            ("User is pregnant", "User gave birth to a baby boy"),
            ("User likes jazz", "User doesn't like jazz"),
        ]);
    }

    #[test]
    fn a_new_value_for_a_single_valued_attribute_supersedes_without_a_marker() {
        supersede(&[
            // Place.
            ("Kenji lives in Sapporo", "Kenji lives in Fukuoka"),
            ("User resides in Leeds", "User has relocated to York"),
            (
                "The meetup is held at the library",
                "The meetup is held at the community centre",
            ),
            // Employer, school, team.
            ("User works at Acme", "User was hired by Umbrella Corp"),
            ("Ravi works for Oracle", "Ravi joined Salesforce last month"),
            (
                "User's son attends Riverside High",
                "User's son attends Hillcrest High",
            ),
            (
                "User is studying law at King's College",
                "User transferred to UCL",
            ),
            // Possessive attributes, tools, preferences, contacts.
            ("User's therapist is Anna", "User's therapist is Mark"),
            ("User's blog runs on WordPress", "User's blog runs on Ghost"),
            (
                "User's internet provider is Comcast",
                "User's internet provider is Verizon",
            ),
            (
                "User wants summaries in Spanish",
                "User wants summaries in English",
            ),
            (
                "User's favourite movie is Alien",
                "User's favourite movie is Arrival",
            ),
            (
                "User's default browser is Safari",
                "User set Firefox as the default browser",
            ),
            (
                "User's phone number is 555-0142",
                "User's phone number is 555-0187",
            ),
        ]);
    }

    #[test]
    fn roles_and_titles_change_within_the_same_organisation() {
        supersede(&[
            (
                "User is a teaching assistant at the university",
                "User was promoted to lecturer at the university",
            ),
            (
                "Jonas is the CTO of Brightline",
                "Jonas is the CEO of Brightline",
            ),
            (
                "User's job title is Analyst",
                "User's job title is Senior Analyst",
            ),
            (
                "Hugo is the captain of the hockey team",
                "Hugo was replaced as captain of the hockey team by Eli",
            ),
            (
                "Dana leads the mobile team",
                "Dana stepped down as lead of the mobile team",
            ),
        ]);
        keep(&[
            (
                "Fatima is a PhD student at MIT",
                "Fatima is a teaching assistant at MIT",
            ),
            ("User is a nurse", "User is a huge Arsenal fan"),
            (
                "Omar is a staff engineer",
                "Omar is a staff engineer on the payments team",
            ),
        ]);
    }

    #[test]
    fn counts_amounts_doses_and_frequencies_supersede() {
        supersede(&[
            ("The team has 5 designers", "The team has 7 designers"),
            ("User has three goldfish", "User has two goldfish"),
            ("User has two cats", "User adopted a third cat"),
            (
                "User's monthly gym fee is $40",
                "User's monthly gym fee is $55",
            ),
            (
                "Lena's hourly rate is $80",
                "Lena raised her hourly rate to $95",
            ),
            (
                "User's salary is $70,000",
                "User's salary was cut to $65,000",
            ),
            (
                "Zoe's rent is £1,200 a month",
                "Zoe's landlord raised the rent to £1,350 a month",
            ),
            (
                "User takes 50 mg of sertraline",
                "User's sertraline was increased to 100 mg",
            ),
            (
                "User takes two puffs of the inhaler each morning",
                "User takes one puff of the inhaler each morning",
            ),
            (
                "User takes metformin twice a day",
                "User takes metformin once a day",
            ),
            (
                "User's youth club has 30 members",
                "User's youth club shrank to 22 members",
            ),
            ("User's son is 7", "User's son turned 8"),
        ]);
    }

    #[test]
    fn additive_quantities_do_not_supersede() {
        keep(&[
            (
                "The team has 5 designers",
                "The team hired two more designers",
            ),
            (
                "User has a cat named Tom",
                "User adopted a kitten named Jerry",
            ),
            (
                "User's podcast has 2,000 subscribers",
                "User's podcast gained 200 subscribers this week",
            ),
            (
                "User owns a Kindle Paperwhite",
                "User bought a second Kindle for their son",
            ),
        ]);
    }

    #[test]
    fn reschedules_supersede() {
        supersede(&[
            (
                "The board meeting is on 4 June",
                "The board meeting was moved to 11 June",
            ),
            (
                "The book launch is scheduled for 2 October",
                "The book launch was postponed to November",
            ),
            (
                "Sam's wedding is in June",
                "Sam's wedding was brought forward to April",
            ),
            (
                "The recital is on Saturday",
                "The recital has been moved to Sunday",
            ),
            ("User's yoga class is at 6pm", "User's yoga class is at 7pm"),
            (
                "User's flight to Oslo departs at 8am",
                "User's flight to Oslo now departs at 11am",
            ),
        ]);
    }

    #[test]
    fn relationships_move_on() {
        supersede(&[
            ("Ines is dating Paulo", "Ines and Paulo got engaged"),
            (
                "Ben is married to Clara",
                "Ben and Clara divorced last year",
            ),
            ("User is single", "User got married in September"),
            ("User's husband is Tom", "User is divorced"),
            ("User's girlfriend is Mia", "User and Mia broke up"),
        ]);
        keep(&[
            ("User is dating Maya", "User is dating Maya long-distance"),
            (
                "User is married to Sam",
                "User and Sam celebrated their anniversary",
            ),
            ("User is single", "User's husband is vegan"),
        ]);
    }

    #[test]
    fn replacements_switches_and_upgrades_supersede() {
        supersede(&[
            ("User uses Chrome", "User switched from Chrome to Firefox"),
            (
                "User has a gas stove",
                "User replaced the gas stove with an induction cooktop",
            ),
            (
                "User owns a Toyota Prius",
                "User traded in the Prius for a Tesla Model 3",
            ),
            ("User has an iPhone 11", "User upgraded to an iPhone 15"),
            (
                "User's team uses Slack",
                "User's team moved from Slack to Teams",
            ),
            (
                "User prefers emails over calls",
                "User prefers calls over emails now",
            ),
            ("User is vegetarian", "User eats chicken again"),
            ("User is unemployed", "User got a job at a hotel"),
        ]);
    }

    #[test]
    fn plans_are_replaced_by_decisions() {
        supersede(&[
            (
                "Nora plans to fly to the reunion",
                "Nora is driving to the reunion",
            ),
            (
                "The company picnic will be at Lake Park",
                "The company picnic will be at the beach",
            ),
        ]);
    }

    #[test]
    fn hedges_never_supersede() {
        keep(&[
            (
                "Maria lives in Lyon",
                "Maria is thinking about moving to Marseille",
            ),
            ("User works at Acme", "User might join Umbrella Corp"),
            (
                "The board meeting is on 4 June",
                "The board meeting might be moved",
            ),
            (
                "Omar is a staff engineer",
                "Omar hopes to become a principal engineer",
            ),
            ("User's phone is a Pixel 6", "User is considering a Pixel 8"),
            (
                "User's rent is $2,000 a month",
                "User's rent will go up to $2,200 in July",
            ),
            ("User drinks tea", "User would like to switch to coffee"),
            (
                "User lives in Oslo",
                "User is wondering whether to move to Bergen",
            ),
            ("User lives in Oslo", "Maybe User will move to Bergen"),
        ]);
        // "May" the month is not a hedge.
        supersede(&[("The exam is on 3 May", "The exam was moved to 10 May")]);
    }

    #[test]
    fn questions_and_requests_never_supersede() {
        keep(&[
            (
                "User works at Acme",
                "User asked how to negotiate a raise at Acme",
            ),
            (
                "User takes 50 mg of sertraline",
                "User asked whether sertraline causes insomnia",
            ),
            (
                "User lives in Oslo",
                "User wants apartment recommendations in Bergen",
            ),
            ("User lives in Oslo", "Should User move to Bergen?"),
        ]);
    }

    #[test]
    fn coexisting_values_do_not_supersede() {
        keep(&[
            (
                "User works at Acme",
                "User also works part-time at a bar on weekends",
            ),
            ("User swims every Tuesday", "User also runs on Thursdays"),
            ("Dana leads the mobile team", "Dana also leads the web team"),
            ("User likes jazz", "User likes classical music"),
            ("User speaks German", "User is learning Italian"),
            ("User subscribes to Netflix", "User subscribes to Spotify"),
            ("User uses Chrome", "User uses Firefox for testing websites"),
            ("User drinks tea", "User drinks coffee"),
        ]);
    }

    #[test]
    fn different_subjects_and_entities_do_not_supersede() {
        keep(&[
            ("Maria lives in Lyon", "Maria's brother lives in Marseille"),
            (
                "User's team lead is Grace",
                "User's sister's team lead is Howard",
            ),
            (
                "User's manager is Grace",
                "User's manager's manager is Howard",
            ),
            ("User has 2 kids", "User's sister has 3 kids"),
            (
                "User's flight to Oslo departs at 8am",
                "User's flight to Bergen departs at 3pm",
            ),
            (
                "User's monthly gym fee is $40",
                "User's monthly parking fee is $60",
            ),
            (
                "User's yoga class is at 6pm",
                "User's pottery class is at 7pm",
            ),
            (
                "User pays $50 a month for their phone plan",
                "User pays $15 a month for Spotify",
            ),
            (
                "User's favourite band is Radiohead",
                "User's favourite album is OK Computer",
            ),
            ("User works at Acme", "Acme's headquarters is in Denver"),
            ("User lives in Berlin", "User's company moved to Munich"),
        ]);
    }

    #[test]
    fn a_move_to_a_program_team_or_shift_is_not_a_move_of_home() {
        keep(&[
            (
                "Dana lives in Toronto",
                "Dana moved to the part-time nursing programme",
            ),
            ("User lives in Leeds", "User moved to the night shift"),
            ("Omar is based in Cairo", "Omar moved to the platform team"),
        ]);
        supersede(&[
            ("Dana lives in Toronto", "Dana moved to Ottawa"),
            (
                "Omar is based in Cairo",
                "Omar moved to a flat in Alexandria",
            ),
        ]);
    }

    #[test]
    fn refinements_and_restatements_do_not_supersede() {
        keep(&[
            ("Maria lives in Lyon", "Maria lives in Lyon near the river"),
            (
                "The board meeting is on 4 June",
                "The board meeting on 4 June starts at 9am",
            ),
            (
                "User's phone is a Pixel 6",
                "User's phone is a Pixel 6 with a cracked screen",
            ),
            (
                "User lives in Berlin",
                "User moved to a bigger flat in Berlin",
            ),
            ("User has 2 kids", "User has two kids"),
            ("User earns $70,000", "User earns seventy thousand dollars"),
            (
                "User's phone number is 555-0142",
                "User's phone number is (555) 0142",
            ),
            (
                "User's address is 12 Oak Street",
                "User's address is 12 Oak St.",
            ),
            ("User lives in NYC", "User lives in New York"),
            ("The standup is at 9am", "The standup is at 9:00am"),
            (
                "User's rent is $1,500 a month",
                "User pays $1,500 a month in rent",
            ),
            ("User speaks French", "User stopped taking French lessons"),
        ]);
    }

    #[test]
    fn trials_and_reversions_do_not_supersede() {
        keep(&[
            (
                "User uses Windows on their laptop",
                "User tried Linux for a week but went back to Windows",
            ),
            ("User's gym is Equinox", "User tried a class at SoulCycle"),
            (
                "User drives a Civic",
                "User borrowed a Tesla for the weekend",
            ),
        ]);
        // "pushed back to" is a reschedule, not a return.
        supersede(&[(
            "The launch is on 1 May",
            "The launch was pushed back to 1 June",
        )]);
    }

    #[test]
    fn one_off_events_do_not_supersede_habits() {
        keep(&[
            (
                "User swims every Tuesday",
                "User skipped swimming this Tuesday",
            ),
            (
                "User drinks two coffees a day",
                "User had four coffees today",
            ),
            (
                "User eats breakfast at 7am",
                "User ate breakfast at 10am on Sunday",
            ),
            (
                "User goes to bed at 11pm",
                "User went to bed at 1am on Saturday",
            ),
            (
                "The museum opens at 10am",
                "The museum opened at noon on New Year's Day",
            ),
            (
                "User's commute is by bus",
                "User took a taxi to work yesterday",
            ),
        ]);
    }

    #[test]
    fn past_history_does_not_supersede_the_present() {
        keep(&[
            ("Maria lives in Lyon", "Maria lived in Nice as a child"),
            (
                "User works at Acme",
                "User worked at Initech from 2015 to 2018",
            ),
            (
                "Ben is married to Clara",
                "Ben was previously married to Julia",
            ),
            ("User weighs 80 kg", "User weighed 95 kg in 2019"),
            ("User lives in Paris", "User grew up in Lyon"),
            (
                "User moved to Berlin in 2020",
                "User moved to Berlin for work",
            ),
        ]);
    }

    #[test]
    fn a_things_other_properties_are_not_a_new_value() {
        supersede(&[
            ("Jon's dog is a beagle", "Jon's dog is a golden retriever"),
            ("User's car is red", "User's car is blue now"),
            ("User's hairdresser is Kim", "User's hairdresser is Lou"),
            (
                "User's landlord is Mrs. Green",
                "User's new landlord is a company called Nestly",
            ),
            (
                "User's daughter is in 3rd grade",
                "User's daughter is in 4th grade",
            ),
            (
                "The office wifi password is sunflower22",
                "The office wifi password is maple47",
            ),
            (
                "Caroline's book club meets on Tuesdays",
                "Caroline's book club meets on Thursdays",
            ),
        ]);
        keep(&[
            ("Jon's dog is a beagle", "Jon's dog is three years old"),
            ("Jon's dog is a beagle", "Jon's dog is very friendly"),
            ("User's car is a Honda Civic", "User's car is red"),
            (
                "User's house is a bungalow",
                "User's house is near the beach",
            ),
            (
                "User's allergies are peanuts",
                "User's allergies are shellfish",
            ),
            ("User's son is a toddler", "User's son is adorable"),
            ("User's boss is demanding", "User's boss is Karen"),
            (
                "Melanie's son plays soccer",
                "Melanie's son joined a basketball team",
            ),
        ]);
    }

    #[test]
    fn a_return_is_a_reversion_only_to_the_old_value() {
        supersede(&[
            ("Gina lives in Austin", "Gina moved back to Chicago"),
            (
                "Melanie is on maternity leave",
                "Melanie returned to work after maternity leave",
            ),
            (
                "Tom works for a bank",
                "Tom took a job at an insurance company",
            ),
        ]);
        keep(&[
            (
                "User uses Gmail",
                "User switched to ProtonMail but came back to Gmail",
            ),
            (
                "User codes in Emacs",
                "User returned to Emacs after a month of Vim",
            ),
        ]);
    }

    #[test]
    fn explicit_markers_score_above_implicit_changes() {
        let c = RulesClassifier::default();
        let explicit = c.judge("Bob works at Initech", "Bob no longer works at Initech");
        let implicit = c.judge("Bob lives in Rome", "Bob lives in Paris");
        let marked = c.judge("Bob's car is red", "Bob's car is now blue");
        assert!(explicit.confidence >= 0.95, "{explicit:?}");
        assert!((0.85..0.95).contains(&implicit.confidence), "{implicit:?}");
        assert!((0.85..0.95).contains(&marked.confidence), "{marked:?}");
        assert!(
            marked.confidence > implicit.confidence - 0.02,
            "{marked:?} {implicit:?}"
        );
        // Not acting: refines for the same subject, independent otherwise.
        assert_eq!(
            c.judge("Bob lives in Rome", "Bob might move to Paris").kind,
            VerdictKind::Refines
        );
        assert_eq!(
            c.judge("Bob lives in Rome", "Ann lives in Paris").kind,
            VerdictKind::Independent
        );
    }

    #[test]
    fn closer_wording_ranks_higher() {
        let c = RulesClassifier::default();
        let close = c.judge(
            "User is a junior developer",
            "User was promoted to senior developer",
        );
        let far = c.judge(
            "User is a software engineer",
            "User was promoted to senior developer",
        );
        assert!(close.confidence > far.confidence, "{close:?} {far:?}");
    }

    #[test]
    fn a_fact_about_one_of_two_current_values_confirms_it() {
        let c = RulesClassifier::default();
        assert!(c.confirms_value(
            "User lives in Berlin",
            "User lives in Berlin near the park",
            "User lives in Denver"
        ));
        assert!(c.confirms_value(
            "User works at Initech",
            "User is employed by Initech",
            "User works at a bakery"
        ));
        // Another attribute: no confirmation.
        assert!(!c.confirms_value(
            "User works at Globex",
            "User moved to Lisbon and works at Globex",
            "User lives in Berlin"
        ));
        // A change of the other value is not a confirmation.
        assert!(!c.confirms_value(
            "User lives in Berlin",
            "User moved to Lisbon",
            "User lives in Denver"
        ));
    }

    #[test]
    fn numbers_times_and_phone_numbers_are_normalised() {
        assert_eq!(number_key("$1,800").as_deref(), Some("#1800"));
        assert_eq!(number_key("forty").as_deref(), Some("#40"));
        assert_eq!(number_key("6:40pm").as_deref(), Some("@1120"));
        assert_eq!(number_key("12am").as_deref(), Some("@0"));
        assert_eq!(number_key("13pm"), None);
        assert_eq!(number_key("Rome"), None);
        assert_eq!(
            read_number(&["seventy", "thousand", "dollars"]),
            Some((2, "#70000".to_owned()))
        );
        assert_eq!(read_number(&["$70k"]), Some((1, "#70000".to_owned())));
        assert_eq!(
            read_number(&["(555)", "0142"]),
            read_number(&["555-0142"]).map(|(_, k)| (2, k))
        );
    }

    #[test]
    fn the_offline_classifier_answers_to_its_former_name() {
        assert!(RulesClassifier::names("builtin-rules-v2"));
        assert!(RulesClassifier::names(" builtin-rules-v1 "));
        assert!(!RulesClassifier::names("claude-haiku-4-5-20251001"));
        assert_eq!(RulesClassifier::default().model(), "builtin-rules-v2");
    }

    #[test]
    fn odd_input_is_judged_without_panicking() {
        let c = RulesClassifier::default();
        for (old, new) in [
            ("", ""),
            ("'s", "'s 's"),
            ("is is is", "was was"),
            ("User", "User's"),
            ("1 2 3", "(555) (555)"),
            ("no longer", "no"),
            ("User's X is", "User's X is now"),
        ] {
            let v = c.judge(old, new);
            assert!((0.0..=1.0).contains(&v.confidence), "{v:?}");
            assert!(!v.reasoning.is_empty());
        }
    }
}
