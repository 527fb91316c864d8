//! [`RulesExtractor`] (`rules-v2`): the offline extractor. Deterministic, and conservative
//! where it cannot know: it reads the messages of the people in a conversation — the user's,
//! and an assistant's only when the message names its speaker (a person, as in a chat
//! between two friends; an unnamed assistant is an AI whose words are not facts) — sentence
//! by sentence and clause by clause, and keeps:
//!
//! - statements about the speaker ("I work at Acme" → "User works at Acme", or with the
//!   message's `name`, "Caroline works at Acme");
//! - "we" statements, about the speaker and whoever the speaker named with them ("my
//!   husband and I … we loved the lake" → "Melanie and their husband loved the lake"), or
//!   "… and others";
//! - statements about the person spoken to, "you" resolved to them ("your painting won a
//!   prize" → "Caroline's painting won a prize");
//! - advice to a person ("You should try yoga", "Get some acrylic paints") → "Melanie
//!   advised Caroline to …"; an instruction to an assistant is a request, not a fact;
//! - third-person and impersonal statements, attributed to whoever said them in a named
//!   conversation ("According to Melanie, the class costs $10"), as said otherwise;
//! - explicit "remember …" instructions, whatever their form.
//!
//! It skips questions, greetings, thanks and reactions ("That's awesome!", "So proud of
//! you"), hedges ("I think so", "I guess"), and statements whose only object is a vague
//! reference ("I did that"). Relative time is resolved against the day the message was said
//! (`dates.rs`: "yesterday" → "on 26 March 2023"), never invented. Topic and importance come
//! from a keyword lexicon.

use unicode_segmentation::UnicodeSegmentation;

use super::dates::resolve_time;
use super::lexicon::{
    ADVICE_OPENINGS, COMPANIONS, EVALUATIVE, FILLER, FUNCTION_WORDS, IMPERATIVES, NOT_FACTS,
    OPENERS, REMEMBER, VAGUE, classify,
};
use super::rewrite::{Voice, bare, rewrite};
use super::{Extractor, Fact, Turn};
use crate::error::Result;
use crate::time::Timestamp;

/// The offline rule-based extractor.
#[derive(Clone, Copy, Debug, Default)]
pub struct RulesExtractor;

impl RulesExtractor {
    /// The rule set's name (`extraction.model`).
    pub const MODEL: &'static str = "rules-v2";
}

impl Extractor for RulesExtractor {
    fn provider(&self) -> &str {
        "builtin"
    }

    fn model(&self) -> &str {
        Self::MODEL
    }

    fn prompt_version(&self) -> &str {
        Self::MODEL
    }

    fn extract(&self, turns: &[Turn], today: Timestamp) -> Result<Vec<Fact>> {
        let mut facts: Vec<Fact> = Vec::new();
        for (i, turn) in turns.iter().enumerate() {
            let Some(speaker) = speaker(turn) else {
                continue;
            };
            let listener = listener(turns, i);
            let said = turn.at.unwrap_or(today);
            let mut company: Option<String> = None;
            let asked = question_before(turns, i);
            let mut answered = false;
            for sentence in turn.content.unicode_sentences() {
                for clause in clauses(sentence) {
                    company = companion(&clause).or(company);
                    let voice = Voice {
                        speaker: &speaker,
                        listener: listener.as_deref(),
                        company: company.clone(),
                    };
                    // The first fact of a reply carries the question it answers, and so does
                    // a later one about "it" or "they" (most likely what was asked about).
                    let context = asked
                        .as_ref()
                        .filter(|_| !answered || pronoun_subject(strip_openers(&clause, &voice)))
                        .map(|(asker, about)| {
                            format!("answering {asker}'s question about {about}")
                        });
                    if let Some(fact) = fact_of(
                        &clause,
                        &voice,
                        turn.name.is_some(),
                        said,
                        context.as_deref(),
                    ) && !facts.iter().any(|f| f.decision == fact.decision)
                    {
                        answered = true;
                        facts.push(fact);
                    }
                }
            }
        }
        Ok(facts)
    }
}

/// Whether the clause's subject is "it", "they" or "that", with nothing of its own to say
/// what it is ("It's a part-time position").
fn pronoun_subject(clause: &str) -> bool {
    clause.split_whitespace().next().is_some_and(|w| {
        matches!(
            bare(w).as_str(),
            "it" | "it's"
                | "its"
                | "they"
                | "they're"
                | "that"
                | "that's"
                | "this"
                | "these"
                | "those"
        )
    })
}

/// The last question the message before turn `i` asked, when someone else asked it: who
/// asked, and its content words ("pets").
fn question_before(turns: &[Turn], i: usize) -> Option<(String, String)> {
    let previous = turns.get(i.checked_sub(1)?)?;
    let asker = speaker(previous)?;
    if speaker(&turns[i]).as_deref() == Some(asker.as_str()) {
        return None;
    }
    // The last question it asked, even with a remark after it ("What are their names? Pets
    // bring so much joy!").
    let sentences: Vec<&str> = previous
        .content
        .unicode_sentences()
        .map(str::trim)
        .collect();
    let at = sentences.iter().rposition(|s| s.ends_with('?'))?;
    let last = sentences[at];
    let names: Vec<String> = turns
        .iter()
        .filter_map(speaker)
        .map(|n| n.to_lowercase())
        .collect();
    let mut content = content_words_of_question(last, &names);
    // "Which one has been your favourite guide?": what "one" is, the sentence before says
    // ("Books have such an awesome power!"); the same for a question of no words of its own.
    let words: Vec<String> = last.split_whitespace().map(bare).collect();
    let refers = words.iter().any(|w| {
        matches!(
            w.as_str(),
            "one" | "it" | "that" | "those" | "them" | "they" | "this" | "these"
        )
    });
    // "I went hiking on Saturday. How about you?": about what the sentence before said. A
    // question of no words of its own that does not turn it back to the listener is small
    // talk ("What's new?", "How have you been?"), and so is one after a greeting.
    let turned_back = words
        .iter()
        .any(|w| matches!(w.as_str(), "you" | "yourself" | "u"))
        && words.iter().all(|w| {
            matches!(
                w.as_str(),
                "how" | "what" | "about" | "and" | "you" | "yourself" | "u" | "yours"
            )
        });
    if content.is_empty() && !refers && !turned_back {
        return None;
    }
    if (refers || content.is_empty())
        && at > 0
        && !small_talk(&sentences[at - 1].to_lowercase().replace('’', "'"))
    {
        let mut before = content_words_of_question(sentences[at - 1], &names);
        before.retain(|w| !content.contains(w));
        before.extend(content);
        content = before;
    }
    (!content.is_empty()).then(|| (asker, content.join(" ")))
}

/// The words of a question's sentence that say what it is about: not function words, names,
/// fillers, or its verbs in the past ("what inspired you"), but a participle after "be" or
/// "get" ("been married").
fn content_words_of_question(sentence: &str, names: &[String]) -> Vec<String> {
    let words: Vec<String> = sentence.split_whitespace().map(bare).collect();
    words
        .iter()
        .enumerate()
        .filter(|(k, w)| {
            let described = *k > 0
                && matches!(
                    words[k - 1].as_str(),
                    "be" | "been"
                        | "being"
                        | "get"
                        | "got"
                        | "getting"
                        | "is"
                        | "are"
                        | "was"
                        | "were"
                        | "am"
                );
            is_content_word(w, names)
                && !OPENERS.contains(&w.as_str())
                && !super::lexicon::IRREGULAR_PAST.contains(&w.as_str())
                && (!w.ends_with("ed") || described)
                && w.len() > 2
                && !matches!(
                    w.as_str(),
                    "any"
                        | "anything"
                        | "else"
                        | "up"
                        | "lately"
                        | "recently"
                        | "new"
                        | "huh"
                        | "btw"
                        | "hey"
                        | "you"
                        | "ya"
                        | "eh"
                )
        })
        .map(|(_, w)| w.clone())
        .collect()
}

/// Who said `turn`, if it is a person: the user (by the message's name, else `User`), or an
/// assistant that names its speaker.
fn speaker(turn: &Turn) -> Option<String> {
    let name = turn
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match turn.role.to_ascii_lowercase().as_str() {
        "user" => Some(name.unwrap_or("User").to_owned()),
        "assistant" => name.map(str::to_owned),
        _ => None,
    }
}

/// Whom turn `i` speaks to: the nearest message before it (else after it) by someone else —
/// a person (their name, or `User`), or `None` for an unnamed assistant.
fn listener(turns: &[Turn], i: usize) -> Option<String> {
    let me = (turns[i].role.to_ascii_lowercase(), turns[i].name.clone());
    let other = |t: &&Turn| {
        let role = t.role.to_ascii_lowercase();
        (role == "user" || role == "assistant") && (role.clone(), t.name.clone()) != me
    };
    let nearest = turns[..i]
        .iter()
        .rev()
        .find(other)
        .or_else(|| turns[i + 1..].iter().find(other));
    match nearest {
        Some(turn) => speaker(turn),
        // Nobody else spoke: a user speaks to an assistant, a named assistant to the user.
        None if turns[i].role.eq_ignore_ascii_case("assistant") => Some("User".to_owned()),
        None => None,
    }
}

/// The companion a clause names ("my husband" → "their husband"), for a later "we".
fn companion(clause: &str) -> Option<String> {
    let words: Vec<String> = clause.split_whitespace().map(bare).collect();
    words.windows(2).rev().find_map(|pair| {
        (pair[0] == "my" && COMPANIONS.contains(&pair[1].as_str()))
            .then(|| format!("their {}", pair[1]))
    })
}

/// A sentence split into independent clauses at "; ", ", so ", ", but ", and before a new
/// subject (", I ", " and I'm ", " and my ", " and started" after an "I" ...),
/// trimmed (not at a dash: in a chat it joins an elaboration, "special to me - a gift from my
/// grandma"). A separator splits only after enough words for a clause of its own ("my husband
/// and I went" is one subject), and a piece too short to state anything ("Last Friday")
/// stays with the next, as written.
fn clauses(sentence: &str) -> Vec<String> {
    // (separator, what the next clause starts with, words needed before it)
    const SEPARATORS: &[(&str, &str, usize)] = &[
        ("; ", "", 1),
        (", and we ", "we ", 1),
        (", we ", "we ", 1),
        (", and I ", "I ", 1),
        (", I ", "I ", 1),
        (", and my ", "my ", 2),
        (" and my ", "my ", 2),
        (" and I ", "I ", 4),
        (", and ", "", 3),
        (", so ", "", 1),
        (", but ", "", 1),
        (" but my ", "my ", 2),
        (" so I ", "I ", 1),
        // A contracted "I" always starts a clause ("my husband and I are" does not).
        (" and I'm ", "I'm ", 1),
        (" and I've ", "I've ", 1),
        (" and I'll ", "I'll ", 1),
    ];
    // Each piece with what joined it to the one before (separator, the kept start).
    let mut parts: Vec<(String, Option<(&str, &str)>)> = vec![(sentence.trim().to_owned(), None)];
    for &(separator, keep, needed) in SEPARATORS {
        let mut next = Vec::with_capacity(parts.len());
        for (part, joiner) in parts {
            let mut rest = part.as_str();
            let mut current = String::new();
            let mut current_joiner = joiner;
            while let Some(at) = rest.find(separator) {
                let left = format!("{current}{}", &rest[..at]);
                // "My aunt believed in it, and used to help": the same subject goes on.
                let subjectless = keep.is_empty()
                    && separator.starts_with(", and")
                    && rest[at + separator.len()..]
                        .split_whitespace()
                        .next()
                        .is_some_and(|w| {
                            let w = bare(w);
                            w == "used"
                                || (w.ends_with("ed") && w.len() > 4)
                                || super::lexicon::IRREGULAR_PAST.contains(&w.as_str())
                        });
                // "… closer to a community and my faith": a noun phrase, not a clause.
                let phrase = keep == "my "
                    && rest[at + separator.len()..]
                        .split_inclusive([',', ';', '.', '!', '?'])
                        .next()
                        .is_some_and(|piece| piece.split_whitespace().count() < 3);
                if left.split_whitespace().count() >= needed && !subjectless && !phrase {
                    next.push((left, current_joiner));
                    current = keep.to_owned();
                    current_joiner = Some((separator, keep));
                } else {
                    current = format!("{left}{separator}");
                }
                rest = &rest[at + separator.len()..];
            }
            next.push((format!("{current}{rest}"), current_joiner));
        }
        parts = next;
    }
    // "I left Initech and started at Globex": one subject, two facts.
    let parts: Vec<(String, Option<(&str, &str)>)> = parts
        .into_iter()
        .flat_map(|(part, joiner)| {
            let mut pieces = vec![(part, joiner)];
            while let Some(split) = pieces
                .last()
                .and_then(|(last, _)| shared_subject_split(last))
            {
                let (last, joiner) = pieces.pop().expect("a piece");
                pieces.push((last[..split].to_owned(), joiner));
                pieces.push((format!("I {}", &last[split + 5..]), Some((" and ", "I "))));
            }
            pieces
        })
        .collect();
    // A piece that cannot state anything by itself joins the next, as written.
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut carried: Option<String> = None;
    for (part, joiner) in parts {
        let joined = match (carried.take(), joiner) {
            (Some(before), Some((separator, keep))) => {
                format!(
                    "{before}{separator}{}",
                    part.strip_prefix(keep).unwrap_or(&part)
                )
            }
            (Some(before), None) => format!("{before} {part}"),
            (None, _) => part,
        };
        let joined = joined.trim().to_owned();
        if joined.is_empty() {
            continue;
        }
        if too_short(&joined) {
            carried = Some(joined);
        } else {
            out.push(joined);
        }
    }
    if let Some(rest) = carried {
        out.push(rest);
    }
    out
}

/// Where a clause about "I" goes on with " and " and a second past verb of the same subject
/// ("I left Initech last week and started at Globex"): the byte offset of " and ".
fn shared_subject_split(clause: &str) -> Option<usize> {
    // "I" as the subject, at the start or after an opener ("Quick update: I left …").
    let subject_at = clause.split_whitespace().take(4).position(|w| w == "I")?;
    if subject_at > 0
        && !clause
            .split_whitespace()
            .nth(subject_at - 1)?
            .ends_with([':', ',', '!', '.'])
    {
        return None;
    }
    clause.match_indices(" and ").map(|(at, _)| at).find(|&at| {
        let next = clause[at + 5..].split_whitespace().next().map(bare);
        next.is_some_and(|w| {
            w != "i"
                && (PAST_ELLIPSIS.contains(&w.as_str())
                    || super::lexicon::IRREGULAR_PAST.contains(&w.as_str())
                    || (w.ends_with("ed") && w.len() > 4))
        }) && clause[..at].split_whitespace().count() >= 3
    })
}

/// Whether a piece is too short to be a clause: one word, or two without a subject of
/// its own ("Last Friday", "Yes, Mel"; not "I'm 34").
fn too_short(piece: &str) -> bool {
    let words: Vec<String> = piece.split_whitespace().map(bare).collect();
    // "But with support at home": a phrase before its clause, no subject of its own.
    let opening = words
        .iter()
        .position(|w| !matches!(w.as_str(), "but" | "and" | "so" | "plus"))
        .unwrap_or(0);
    let prepositional = words.get(opening).is_some_and(|w| {
        matches!(
            w.as_str(),
            "with"
                | "without"
                | "for"
                | "from"
                | "at"
                | "in"
                | "on"
                | "by"
                | "after"
                | "before"
                | "during"
                | "despite"
                | "through"
                | "thanks"
        )
    }) && !words.iter().any(|w| {
        matches!(
            w.as_str(),
            "i" | "i'm"
                | "i've"
                | "we"
                | "we're"
                | "we've"
                | "he"
                | "she"
                | "they"
                | "it"
                | "you"
                | "there"
        )
    });
    if prepositional {
        return true;
    }
    match words.len() {
        0 | 1 => true,
        2 => !matches!(
            words[0].as_str(),
            "i" | "i'm" | "i've" | "i'll" | "i'd" | "we" | "we're" | "my" | "our"
        ),
        _ => false,
    }
}

/// The fact a clause states, if any; `named`: the speaker has a name of their own.
fn fact_of(
    clause: &str,
    voice: &Voice<'_>,
    named: bool,
    said: Timestamp,
    context: Option<&str>,
) -> Option<Fact> {
    let text = strip_openers(clause, voice);
    let (remembered, body) = match REMEMBER
        .iter()
        .find_map(|r| strip_prefix_ignore_case(text, r))
    {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let body = strip_tail_noise(body);
    // "Sunflowers mean warmth, right?" states, then checks.
    let body = strip_tag_question(body).unwrap_or(body);
    if body.is_empty() || (body.ends_with('?') && !remembered) {
        return None;
    }
    let body = strip_tail_vocative(body.trim_end_matches('?'), voice);
    let elliptic = (!remembered).then(|| unstated_subject(body)).flatten();
    let body: std::borrow::Cow<'_, str> = match elliptic {
        Some(subject) => format!("{subject} {}", lowercase_word(body)).into(),
        None => body.into(),
    };
    let words: Vec<&str> = body.split_whitespace().collect();
    // Three words make a statement, or two with a contracted subject ("I'm 34").
    let contracted = words
        .first()
        .is_some_and(|w| matches!(bare(w).as_str(), "i'm" | "i've" | "we're" | "we've"));
    if words.len() < 3 && !(contracted && words.len() == 2) {
        return None;
    }
    let lower_body = body.to_lowercase().replace('’', "'");
    if !remembered && (is_question(&lower_body) || small_talk(&lower_body) || hedged(&lower_body)) {
        return None;
    }
    let first = words.iter().any(|w| is_first_person(w));
    let plural = words.iter().any(|w| is_plural_first_person(w));
    let second = words.iter().any(|w| is_second_person(w));
    if !remembered && (reaction(&words, voice) || vague(&words)) {
        return None;
    }
    let decision = if let Some(advice) = advice(&body, &lower_body, voice) {
        if remembered {
            rewrite(&words, voice)
        } else {
            advice?
        }
    } else if first || plural || (second && voice.listener.is_some()) {
        rewrite(&words, voice)
    } else if remembered {
        body.into_owned()
    } else if named && !second {
        // Said by a named person about someone or something else: theirs to vouch for.
        format!("According to {}, {}", voice.speaker, lowercase_first(&body))
    } else {
        // The user telling an assistant about the world, or about the assistant: not a
        // fact about anyone here.
        return None;
    };
    // An answer that does not name what it answers ("I do- Oscar, my guinea pig") says what
    // it answered.
    let decision = match context {
        Some(context) if !shares_a_word(&decision, context) => {
            format!("{} ({context})", decision.trim_end_matches(['.', ' ']))
        }
        _ => decision,
    };
    let decision = sentence_case(resolve_time(&decision, said).trim());
    let (topic, importance) = classify(&decision.to_lowercase());
    let importance = if remembered {
        importance.max(7)
    } else {
        importance
    };
    Some(Fact {
        decision: format!("{}.", decision.trim_end_matches(['.', ' '])),
        topic: topic.to_owned(),
        importance_score: importance,
    })
}

/// Whether `text` holds one of the (content) words of `context`, ignoring inflection.
fn shares_a_word(text: &str, context: &str) -> bool {
    let stem = |w: &str| -> String {
        let w = bare(w);
        w.trim_end_matches("ing")
            .trim_end_matches("ed")
            .trim_end_matches('s')
            .to_owned()
    };
    let words: std::collections::HashSet<String> = text
        .split_whitespace()
        .map(stem)
        .filter(|w| w.len() > 2)
        .collect();
    context
        .split_whitespace()
        .skip_while(|w| *w != "about")
        .skip(1)
        .any(|w| words.contains(&stem(w)))
}

/// The clause without trailing punctuation, laughter and emoji ("… lol 😂!").
fn strip_tail_noise(body: &str) -> &str {
    let mut body = body.trim();
    loop {
        let before = body;
        body = body.trim_end_matches(|c: char| {
            matches!(c, ' ' | '!' | '.' | ';' | ',' | ':' | '~' | ')' | '(') || is_emoji(c)
        });
        for laugh in ["lol", "haha", "hahaha", "lmao", "xd", "omg"] {
            let cut = body.len().saturating_sub(laugh.len());
            if let (Some(head), Some(tail)) = (body.get(..cut), body.get(cut..))
                && tail.eq_ignore_ascii_case(laugh)
                && head.ends_with([' ', ','])
            {
                body = head;
            }
        }
        if body == before {
            return body;
        }
    }
}

/// Pictographs and their modifiers.
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D)
}

/// The subject a chat message leaves out ("Took Mochi to the vet", "Been reading a lot",
/// "Just got back from Paris", "Working on a new song"): the speaker, as "I", "I've" or
/// "I'm".
fn unstated_subject(body: &str) -> Option<&'static str> {
    let mut words = body.split_whitespace().map(bare);
    let mut first = words.next()?;
    if first == "just" || first == "finally" || first == "recently" || first == "also" {
        first = words.next()?;
    }
    // "Super pumped for …", "Always here to help": a feeling past its intensifier, when
    // something follows it ("Really made me think" is "it", not "I").
    let mut feeling = words.clone();
    let mut felt = first.clone();
    let mut intensified = false;
    while matches!(
        felt.as_str(),
        "super" | "so" | "really" | "totally" | "always" | "very" | "pretty"
    ) {
        let Some(next) = feeling.next() else {
            break;
        };
        felt = next;
        intensified = true;
    }
    let after_feeling = feeling.next().unwrap_or_default();
    if first == "been" {
        // "Been a long road", "Been ages since we talked": it has been.
        let next = words.next().unwrap_or_default();
        let after = words.next().unwrap_or_default();
        let span = matches!(
            next.as_str(),
            "ages" | "forever" | "so" | "too" | "quite" | "such" | "long"
        ) || (next == "a"
            && matches!(
                after.as_str(),
                "long"
                    | "while"
                    | "few"
                    | "couple"
                    | "minute"
                    | "day"
                    | "week"
                    | "month"
                    | "year"
                    | "tough"
                    | "rough"
                    | "wild"
                    | "crazy"
                    | "hectic"
            ));
        return Some(if span { "It's" } else { "I've" });
    }
    if PAST_ELLIPSIS.contains(&first.as_str())
        || super::lexicon::IRREGULAR_PAST.contains(&first.as_str())
    {
        return Some("I");
    }
    // "Watching the sunset was peaceful", "Painting helps me relax": a gerund subject, not a
    // missing "I'm".
    let finite = body.split_whitespace().map(bare).any(|w| {
        matches!(
            w.as_str(),
            "is" | "was"
                | "are"
                | "were"
                | "has"
                | "have"
                | "makes"
                | "made"
                | "helps"
                | "helped"
                | "gives"
                | "keeps"
                | "brings"
                | "lets"
                | "feels"
                | "means"
                | "takes"
                | "reminds"
                | "looks"
                | "seems"
                | "sounds"
                | "gets"
                | "needs"
                | "requires"
                | "matters"
                | "isn't"
                | "wasn't"
                | "doesn't"
                | "hasn't"
                | "can"
                | "will"
        )
    });
    // "Gonna volunteer more", "Excited for this new chapter": a chat message's "I'm".
    if matches!(
        felt.as_str(),
        "gonna"
            | "excited"
            | "thrilled"
            | "stoked"
            | "proud"
            | "grateful"
            | "thankful"
            | "nervous"
            | "busy"
            | "pumped"
            | "psyched"
            | "eager"
            | "ready"
            | "honored"
            | "honoured"
            | "blessed"
    ) && !finite
        && (!intensified || !after_feeling.is_empty())
        || felt == "here" && matches!(after_feeling.as_str(), "to" | "for") && !finite
    {
        return Some("I'm");
    }
    if ING_ELLIPSIS.contains(&first.as_str()) && !finite {
        return Some("I'm");
    }
    None
}

/// Past forms that open a chat message without its "I".
const PAST_ELLIPSIS: &[&str] = &[
    "got",
    "went",
    "had",
    "took",
    "made",
    "started",
    "finished",
    "bought",
    "saw",
    "met",
    "tried",
    "learned",
    "learnt",
    "found",
    "joined",
    "signed",
    "spent",
    "visited",
    "picked",
    "booked",
    "moved",
    "painted",
    "wrote",
    "watched",
    "played",
    "ran",
    "hiked",
    "baked",
    "cooked",
    "won",
    "lost",
    "did",
    "adopted",
    "decided",
    "received",
    "gave",
    "finally",
    "quit",
    "left",
    "landed",
    "launched",
    "opened",
    "sold",
    "entered",
    "attended",
    "volunteered",
    "graduated",
    "passed",
    "failed",
    "retook",
    "completed",
    "created",
    "built",
    "designed",
    "organized",
    "hosted",
    "celebrated",
    "ended",
    "broke",
    "fell",
    "hurt",
    "caught",
    "grabbed",
    "heard",
];

/// "-ing" words that open a chat message without its "I'm".
const ING_ELLIPSIS: &[&str] = &[
    "working",
    "planning",
    "thinking",
    "feeling",
    "trying",
    "hoping",
    "loving",
    "enjoying",
    "heading",
    "taking",
    "getting",
    "reading",
    "watching",
    "playing",
    "learning",
    "going",
    "starting",
    "looking",
    "saving",
    "training",
    "practicing",
    "practising",
    "writing",
    "painting",
    "volunteering",
    "studying",
    "preparing",
    "organizing",
    "building",
    "making",
    "cooking",
    "baking",
    "running",
    "hiking",
    "moving",
    "leaving",
    "visiting",
    "attending",
    "researching",
    "exploring",
    "spending",
    "doing",
    "creating",
    "teaching",
    "helping",
    "sharing",
    "focusing",
    "dealing",
    "chilling",
    "relaxing",
    "catching",
    "figuring",
    "considering",
    "applying",
    "waiting",
    "hanging",
    "checking",
    "sorting",
];

/// `word`'s first letter lower-cased ("Took" → "took"), unless it is "I".
fn lowercase_word(text: &str) -> String {
    if text.starts_with("I ") || text.starts_with("I'") {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether the clause only supposes, guesses or imagines ("maybe", "probably", "if I were").
fn hedged(lower: &str) -> bool {
    const HEDGES: &[&str] = &[
        "maybe",
        "probably",
        "perhaps",
        "not sure",
        "not 100% sure",
        "might",
        "i think",
        "i guess",
        "i suppose",
        "possibly",
        "hopefully",
        // An obligation or a proposal, not a fact ("we should do it again"). "Would" and
        // "could" are not hedges: "my mom would bake every Sunday", "I could finally run 5k".
        "should",
    ];
    // A modal hedges the clause near its start ("we should go", "I might move"); further on
    // it belongs to a clause inside ("I made it to show how we should accept change").
    const MODAL_REACH: usize = 6;
    starts_with_words(lower, "if")
        || HEDGES.iter().any(|h| {
            lower.match_indices(h).any(|(i, _)| {
                (i == 0 || !lower[..i].ends_with(|c: char| c.is_alphanumeric()))
                    && !lower[i + h.len()..].starts_with(|c: char| c.is_alphanumeric())
                    && (!matches!(*h, "should" | "might")
                        || lower[..i].split_whitespace().count() < MODAL_REACH)
            })
        })
}

/// Advice given to a person, if the clause is advice: `Some(Some(fact))`, or `Some(None)`
/// for an instruction to an assistant (a request, not a fact).
fn advice(body: &str, lower: &str, voice: &Voice<'_>) -> Option<Option<String>> {
    let rest = if let Some(rest) = ADVICE_OPENINGS
        .iter()
        .filter(|o| starts_with_words(lower, o))
        .find_map(|o| strip_prefix_ignore_case(body, o))
    {
        rest.trim_start()
    } else {
        let first = lower.split_whitespace().next()?;
        let second = lower.split_whitespace().nth(1).unwrap_or("");
        // A listed verb ("Try …", "Be careful"), or any word followed by what a verb takes
        // ("Foster a dog", "Water them deeply"): not "Water is wet", not "Jon opened".
        let listed = IMPERATIVES.contains(&first)
            && !matches!(
                second,
                "i" | "i'm" | "we" | "you" | "it" | "he" | "she" | "they"
            );
        // Not a feeling with its "I" left out ("Love the necklace", "Miss you guys").
        let takes_object = first.chars().all(char::is_alphabetic)
            && !FUNCTION_WORDS.contains(&first)
            && !EVALUATIVE.contains(&first)
            && !matches!(
                first,
                "miss"
                    | "hope"
                    | "wish"
                    | "thank"
                    | "enjoy"
                    | "adore"
                    | "appreciate"
                    | "admire"
                    | "envy"
                    | "hate"
                    | "loving"
                    | "missing"
            )
            && !first.ends_with("ing")
            && !first.ends_with("ed")
            // "Turns out …", "Sounds like …": a verb in the third person is no imperative
            // (base forms in "s" end in "ss" or "us": "Press", "Focus").
            && !(first.ends_with('s') && !first.ends_with("ss") && !first.ends_with("us"))
            && matches!(
                second,
                "a" | "an"
                    | "the"
                    | "them"
                    | "it"
                    | "your"
                    | "some"
                    | "him"
                    | "her"
                    | "this"
                    | "that"
                    | "these"
                    | "those"
                    | "more"
                    | "less"
                    | "yourself"
                    | "out"
                    | "up"
            );
        if !listed && !takes_object {
            return None;
        }
        body
    };
    let Some(listener) = voice.listener else {
        return Some(None);
    };
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let negative = matches!(
        words.first().map(|w| bare(w)).as_deref(),
        Some("don't" | "never" | "do")
    ) && words
        .first()
        .is_some_and(|w| bare(w) != "do" || words.get(1).is_some_and(|n| bare(n) == "not"));
    if negative {
        let skip = if bare(words[0]) == "do" { 2 } else { 1 };
        words.drain(..skip.min(words.len()));
    }
    if words.is_empty() {
        return Some(None);
    }
    let listener_voice = Voice {
        speaker: voice.speaker,
        listener: Some(listener),
        company: voice.company.clone(),
    };
    let done = rewrite(&words, &listener_voice);
    let done = lowercase_first(&done);
    Some(Some(format!(
        "{} advised {listener} {}to {done}",
        voice.speaker,
        if negative { "not " } else { "" }
    )))
}

/// The clause without its openers ("Oh, hi! ", "Haha yeah, ", "Mel, ") and without a
/// greeting to the person spoken to.
fn strip_openers<'t>(clause: &'t str, voice: &Voice<'_>) -> &'t str {
    let mut text = clause.trim();
    loop {
        let before = text;
        if let Some(rest) = openers_longest_first().iter().find_map(|o| {
            strip_prefix_ignore_case(text, o)
                .filter(|rest| rest.is_empty() || rest.starts_with([',', '!', ':', '.', '-', ' ']))
        }) {
            let rest_trimmed = rest.trim_start_matches([' ', ',', '!', ':', '.', '-']);
            // Only an opener followed by punctuation, or an interjection of its own.
            if rest.starts_with([',', '!', ':', '.', '-'])
                || is_interjection(&text[..text.len() - rest.len()])
            {
                text = rest_trimmed;
            }
        }
        // "And thanks for asking, ...": a conjunction before an opener.
        if let Some((conjunction, rest)) = text.split_once(' ')
            && matches!(
                conjunction.to_lowercase().as_str(),
                "and" | "but" | "so" | "plus"
            )
            && openers_longest_first().iter().any(|o| {
                strip_prefix_ignore_case(rest, o)
                    .is_some_and(|after| after.starts_with([',', '!', ':', '.', '-']))
            })
        {
            text = rest;
        }
        // A name said to someone: "Mel, ..." / "Caroline! ...".
        if let Some((head, rest)) = text.split_once([',', '!'])
            && is_vocative(head.trim(), voice)
        {
            text = rest.trim_start_matches([' ', ',', '!']);
        }
        if text == before {
            return text;
        }
    }
}

/// [`OPENERS`], longest first ("oh my gosh" before "oh").
fn openers_longest_first() -> &'static [&'static str] {
    static SORTED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut sorted = OPENERS.to_vec();
        sorted.sort_by_key(|o| std::cmp::Reverse(o.len()));
        sorted
    })
}

/// Openers that stand alone without punctuation ("haha I went" → "I went").
fn is_interjection(word: &str) -> bool {
    matches!(
        word.to_lowercase().as_str(),
        "haha"
            | "hahaha"
            | "lol"
            | "omg"
            | "wow"
            | "aww"
            | "yay"
            | "oh"
            | "ooh"
            | "yeah"
            | "yes"
            | "well"
            | "so"
            | "and"
            | "but"
            | "also"
            | "actually"
            | "honestly"
            | "btw"
            | "plus"
            | "anyway"
            | "anyways"
    )
}

/// Whether `head` is a name said to someone (the listener's, or a single capitalised word
/// that is not a pronoun).
fn is_vocative(head: &str, voice: &Voice<'_>) -> bool {
    // A greeting before the name: "Hey Caroline", "Thanks, Mel".
    let head = head
        .split_once(' ')
        .filter(|(greeting, _)| {
            matches!(
                greeting.to_lowercase().as_str(),
                "hey"
                    | "hi"
                    | "hello"
                    | "thanks"
                    | "wow"
                    | "oh"
                    | "congrats"
                    | "yo"
                    | "dear"
                    | "aw"
                    | "aww"
                    | "ok"
                    | "okay"
                    | "yes"
                    | "yeah"
                    | "sure"
                    | "bye"
                    | "congratulations"
                    | "sorry"
                    | "haha"
                    | "omg"
            )
        })
        .map_or(head, |(_, name)| name.trim());
    if head.is_empty() || head.split_whitespace().count() > 2 {
        return false;
    }
    names_listener(head, voice)
        || (head.split_whitespace().count() == 1
            && head.chars().next().is_some_and(char::is_uppercase)
            && head.chars().all(char::is_alphabetic)
            && !matches!(
                head,
                "I" | "Yes" | "No" | "Sure" | "Also" | "Today" | "Yesterday" | "Tomorrow"
            ))
}

/// The clause without a trailing name of the person spoken to ("…, Mel"; not "…, Sweden").
fn strip_tail_vocative<'t>(body: &'t str, voice: &Voice<'_>) -> &'t str {
    match body.rsplit_once(',') {
        Some((head, tail)) if names_listener(tail.trim(), voice) && !head.trim().is_empty() => {
            head.trim_end()
        }
        _ => body,
    }
}

/// Whether `word` is the listener's name, or its start ("Mel" for Melanie).
fn names_listener(word: &str, voice: &Voice<'_>) -> bool {
    voice
        .listener
        .is_some_and(|l| names_person(&l.to_lowercase(), &word.to_lowercase()))
}

/// Whether the lower-case `word` is the lower-case `name`, or its start of three letters or
/// more ("mel" for "melanie").
fn names_person(name: &str, word: &str) -> bool {
    word == name || (word.len() >= 3 && name.starts_with(word))
}

/// Whether the bare lower-case word says something: not a function word, a word of feeling
/// or one of the people's (lower-case) `names`.
fn is_content_word(word: &str, names: &[String]) -> bool {
    !word.is_empty()
        && !FUNCTION_WORDS.contains(&word)
        && !EVALUATIVE.contains(&word)
        && !names.iter().any(|n| names_person(n, word))
}

/// Whether the clause only reacts ("That's awesome!", "So proud of you", "You're doing
/// great"): no word is left once function words, words of feeling and the people's names
/// are set aside, or it judges "that" or "it" without saying anything of the speaker.
fn reaction(words: &[&str], voice: &Voice<'_>) -> bool {
    let names: Vec<String> = [Some(voice.speaker), voice.listener]
        .into_iter()
        .flatten()
        .map(str::to_lowercase)
        .collect();
    let content = words
        .iter()
        .map(|w| bare(w))
        .filter(|w| is_content_word(w, &names))
        .count();
    if content == 0 {
        return true;
    }
    if content > 1 {
        return false;
    }
    let opening = bare(words[0]);
    let judges = matches!(
        opening.as_str(),
        "that"
            | "that's"
            | "this"
            | "it"
            | "it's"
            | "sounds"
            | "looks"
            | "seems"
            | "what"
            | "how"
            | "such"
            | "love"
            | "glad"
            | "so"
    );
    judges
        && !words
            .iter()
            .any(|w| is_first_person(w) || is_plural_first_person(w))
}

/// `text` without `prefix` (ASCII, compared ignoring case), if it starts with it. Compares
/// the original bytes: lower-casing can change a string's byte length (U+212A KELVIN SIGN
/// becomes `k`), so offsets into a lower-cased copy are not offsets into the text.
fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Whether a lower-cased sentence opens with words that make no fact: a greeting, thanks, a
/// hedge, a sign-off ([`NOT_FACTS`]).
fn small_talk(lower: &str) -> bool {
    NOT_FACTS.iter().any(|n| starts_with_words(lower, n))
}

fn starts_with_words(text: &str, prefix: &str) -> bool {
    text.starts_with(prefix)
        && text[prefix.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
}

fn is_question(lower: &str) -> bool {
    const OPENERS: &[&str] = &[
        "what",
        "where",
        "when",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "which",
        "can you",
        "could you",
        "would you",
        "will you",
        "do you",
        "does",
        "did you",
        "have you",
        "are you",
        "were you",
        "is there",
        "are there",
        "is it",
        "should i",
        "any tips",
        "any ideas",
        "any advice",
        "any suggestions",
        "help me",
        "wanna",
        "want to",
    ];
    OPENERS.iter().any(|o| starts_with_words(lower, o))
}

/// A statement followed by a tag question ("…, right?", "…, isn't it?", "…, don't you
/// think?"), without the tag; `None` for any other text.
fn strip_tag_question(text: &str) -> Option<&str> {
    let (statement, tag) = text.strip_suffix('?')?.rsplit_once(',')?;
    let tag = tag.trim().to_lowercase().replace('’', "'");
    let words: Vec<&str> = tag.split_whitespace().collect();
    let is_tag = match words.as_slice() {
        ["right" | "no" | "yeah" | "correct" | "true"] => true,
        ["don't" | "wouldn't", "you", "think" | "agree"] => true,
        [auxiliary, pronoun] => {
            auxiliary.ends_with("n't")
                && matches!(
                    *pronoun,
                    "i" | "you" | "he" | "she" | "it" | "we" | "they" | "there"
                )
        }
        _ => false,
    };
    let statement = statement.trim_end();
    (is_tag && statement.split_whitespace().count() >= 3).then_some(statement)
}

fn is_first_person(word: &str) -> bool {
    matches!(
        bare(word).as_str(),
        "i" | "i'm" | "i've" | "i'll" | "i'd" | "my" | "mine" | "me" | "myself"
    )
}

fn is_plural_first_person(word: &str) -> bool {
    matches!(
        bare(word).as_str(),
        "we" | "we're" | "we've" | "we'll" | "we'd" | "us" | "our" | "ours" | "ourselves"
    )
}

fn is_second_person(word: &str) -> bool {
    matches!(
        bare(word).as_str(),
        "you" | "you're" | "you've" | "you'll" | "you'd" | "your" | "yours" | "yourself"
    )
}

/// True when every word that is not a pronoun of the people here, a stop word or a
/// verb-like filler is a vague reference ("I did that yesterday", "I like it").
fn vague(words: &[&str]) -> bool {
    let mut content = words.iter().map(|w| bare(w)).filter(|w| {
        !w.is_empty()
            && !is_first_person(w)
            && !is_plural_first_person(w)
            && !is_second_person(w)
            && !FILLER.contains(&w.as_str())
    });
    content.all(|w| VAGUE.contains(&w.as_str()))
}

fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` with its first letter lower-cased unless its first word is a name or "I" (a
/// capital followed by lower case, in the middle of a sentence, stays).
fn lowercase_first(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let common = matches!(
        bare(first).as_str(),
        "the"
            | "a"
            | "an"
            | "it"
            | "it's"
            | "this"
            | "that"
            | "there"
            | "there's"
            | "they"
            | "they're"
            | "he"
            | "she"
            | "his"
            | "her"
            | "their"
            | "some"
            | "most"
            | "all"
            | "every"
            | "each"
            | "at"
            | "in"
            | "on"
            | "for"
            | "with"
            | "if"
            | "when"
            | "only"
            | "get"
            | "try"
            | "take"
            | "check"
            | "go"
            | "read"
            | "watch"
            | "visit"
            | "consider"
            | "start"
            | "stop"
            | "keep"
            | "give"
            | "look"
            | "call"
            | "ask"
            | "bring"
            | "use"
            | "join"
            | "buy"
            | "book"
            | "find"
            | "plan"
            | "focus"
            | "practice"
            | "eat"
            | "drink"
            | "avoid"
            | "wear"
            | "pack"
            | "write"
            | "listen"
            | "talk"
            | "be"
            | "make"
            | "never"
            | "always"
    ) || IMPERATIVES.contains(&bare(first).as_str());
    if !common {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(text: &str) -> Vec<String> {
        RulesExtractor
            .extract(&[Turn::new("user", text)], Timestamp::from_micros(0))
            .unwrap()
            .into_iter()
            .map(|f| f.decision)
            .collect()
    }

    /// Two friends, Caroline (the user) and Melanie (a named assistant), on Monday 27 March
    /// 2023.
    fn chat(turns: &[(&str, &str)]) -> Vec<String> {
        let turns: Vec<Turn> = turns
            .iter()
            .map(|(name, text)| {
                let role = if *name == "Caroline" {
                    "user"
                } else {
                    "assistant"
                };
                Turn::new(role, *text).named(*name)
            })
            .collect();
        RulesExtractor
            .extract(&turns, Timestamp::parse("2023-03-27T15:00:00Z").unwrap())
            .unwrap()
            .into_iter()
            .map(|f| f.decision)
            .collect()
    }

    /// A reply that does not name what it answers carries the question, even one asked
    /// before a remark; its content words only (no contraction, name or filler).
    #[test]
    fn a_reply_carries_the_question_it_answers() {
        let facts = chat(&[
            (
                "Melanie",
                "Ah, they're adorable! What are their names? Pets bring so much joy!",
            ),
            ("Caroline", "Luna and Oliver! They are so sweet."),
        ]);
        assert!(
            facts.iter().any(|f| f.contains("Luna and Oliver")
                && f.contains("(answering Melanie's question about names)")),
            "{facts:?}"
        );
        let facts = chat(&[
            (
                "Melanie",
                "Hey Caroline, how's it going? Haven't heard from you while I was away, what's new?",
            ),
            ("Caroline", "Been reading a lot lately."),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline has been reading a lot lately (answering Melanie's question about away) \
                 (as of 27 March 2023)."
            ]
        );
    }

    /// A later fact of a reply about "it" carries the question too: "it" is most likely what
    /// was asked about. A fact with a subject of its own does not.
    #[test]
    fn a_later_fact_about_it_carries_the_question() {
        let facts = chat(&[
            ("Melanie", "How do you feel about the internship?"),
            (
                "Caroline",
                "I'm excited and kinda nervous. Yeah, it's a part-time position in fashion. My \
                 sister works there too.",
            ),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline is excited and kinda nervous (answering Melanie's question about \
                 internship).",
                "According to Caroline, it's a part-time position in fashion (answering Melanie's \
                 question about internship).",
                "Caroline's sister works there too."
            ]
        );
    }

    /// A question about "one" or "it" is about what the sentence before it named.
    #[test]
    fn a_question_about_it_names_what_the_sentence_before_named() {
        let facts = chat(&[
            (
                "Melanie",
                "Wow, Caroline! Books have such power! Which one has been your favorite guide?",
            ),
            ("Caroline", "I loved \"Becoming Nicole\" by Amy Ellis Nutt."),
        ]);
        assert_eq!(
            facts,
            [
                "According to Melanie, Books have such power.",
                "Caroline loved \"Becoming Nicole\" by Amy Ellis Nutt (answering Melanie's \
                 question about books power favorite guide)."
            ]
        );
        let facts = chat(&[
            ("Melanie", "I went to a pottery workshop. How about you?"),
            ("Caroline", "I stayed home and painted."),
        ]);
        assert_eq!(
            facts[1],
            "Caroline stayed home (answering Melanie's question about pottery workshop)."
        );
    }

    /// Greetings and sign-offs are no facts, and small talk ("What's new?", "How have you
    /// been?") is no question a reply answers.
    #[test]
    fn greetings_and_small_talk_are_no_facts() {
        let facts = chat(&[
            (
                "Melanie",
                "Hey Caroline! Long time no see. Good to see you! How have you been?",
            ),
            (
                "Caroline",
                "Great to chat again! I started a new job at the library.",
            ),
            (
                "Melanie",
                "Way to go! Time flies. What's new with the kids?",
            ),
            ("Caroline", "They joined a swim team."),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline started a new job at the library.",
                "According to Caroline, they joined a swim team (answering Melanie's question \
                 about kids)."
            ],
            "{facts:?}"
        );
        let facts = chat(&[
            ("Melanie", "Time flies! What's new?"),
            ("Caroline", "I adopted a puppy."),
        ]);
        assert_eq!(facts, ["Caroline adopted a puppy."]);
    }

    /// A participle after "be" is what a question is about; other past forms are its verbs.
    #[test]
    fn a_question_keeps_its_participles_after_be() {
        let facts = chat(&[
            (
                "Melanie",
                "What inspired you? How long have you been married?",
            ),
            ("Caroline", "5 years already!"),
        ]);
        assert_eq!(
            facts,
            [
                "According to Caroline, 5 years already (answering Melanie's question about long \
              married)."
            ]
        );
    }

    /// A statement with a tag question is a statement; a question is not.
    #[test]
    fn a_tag_question_does_not_make_a_statement_a_question() {
        let facts = chat(&[(
            "Caroline",
            "Sunflowers mean warmth and happiness, right? I moved to Denver, didn't I? Is it \
             raining, no?",
        )]);
        assert_eq!(
            facts,
            [
                "According to Caroline, Sunflowers mean warmth and happiness.",
                "Caroline moved to Denver."
            ]
        );
    }

    /// A gerund that is the subject ("Painting helps me") is not a chat message's missing
    /// "I'm" ("Painting a sunset right now").
    #[test]
    fn a_gerund_subject_is_not_an_elliptic_i_am() {
        let facts = chat(&[(
            "Caroline",
            "Painting helps me explore my identity. Painting a sunset for my mom right now. \
             Been a long road. Been painting a lot. Been a member of the club since 2019.",
        )]);
        assert_eq!(
            facts,
            [
                "Painting helps Caroline explore their identity.",
                "Caroline is painting a sunset for their mom right now.",
                "According to Caroline, it's been a long road.",
                "Caroline has been painting a lot.",
                "Caroline has been a member of the club since 2019."
            ]
        );
    }

    /// "and my faith" ends a noun phrase, not a sentence ("and my husband loved it" does);
    /// "Turns out …" is no advice.
    #[test]
    fn noun_phrases_and_third_person_openers_stay_whole() {
        let facts = chat(&[
            (
                "Caroline",
                "I joined a church. I wanted to feel closer to a community and my faith.",
            ),
            ("Melanie", "We went to the lake and my husband loved it."),
            (
                "Caroline",
                "Turns out she had no other family. It broke my heart.",
            ),
        ]);
        assert!(
            facts
                .iter()
                .any(|f| f == "Caroline wanted to feel closer to a community and their faith."),
            "{facts:?}"
        );
        assert!(
            facts.iter().any(|f| f == "Melanie's husband loved it."),
            "{facts:?}"
        );
        assert!(facts.iter().all(|f| !f.contains("advised")), "{facts:?}");
    }

    /// A feeling after an intensifier without its "I'm" ("Super pumped for …") is the
    /// speaker's; a past form after one ("Really made me smile") is not.
    #[test]
    fn a_feeling_without_its_i_am_is_the_speakers() {
        let facts = chat(&[
            ("Caroline", "Just finished my first marathon!"),
            (
                "Melanie",
                "Super pumped for your next race. Always here to cheer you on. Really made \
                 me smile.",
            ),
        ]);
        assert!(
            facts
                .iter()
                .any(|f| f == "Melanie is super pumped for Caroline's next race."),
            "{facts:?}"
        );
        assert!(
            facts
                .iter()
                .any(|f| f == "Melanie is always here to cheer Caroline on."),
            "{facts:?}"
        );
        // "Really made me smile" is not Melanie's doing.
        assert!(
            facts.iter().all(|f| !f.contains("Melanie really made")),
            "{facts:?}"
        );
        // "Here you go" is no "I'm here".
        let handed = chat(&[("Caroline", "Here you go, the recipe.")]);
        assert!(handed.iter().all(|f| !f.contains("is here")), "{handed:?}");
    }

    /// Chat shorthand: "you both" is the listener and someone else, a message may leave out
    /// "I'm" before "gonna" or a feeling, and advice to believe in oneself is advice.
    #[test]
    fn chat_shorthand_keeps_its_subject() {
        let facts = chat(&[
            ("Melanie", "You both looked amazing at the party!"),
            (
                "Caroline",
                "Gonna explore more and volunteer at shelters next month. Excited for this new \
                 chapter. Believe in yourself and keep pushing.",
            ),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline and others looked amazing at the party.",
                "Caroline is gonna explore more and volunteer at shelters in April 2023.",
                "Caroline is excited for this new chapter.",
                "Caroline advised Melanie to believe in themself and keep pushing."
            ]
        );
    }

    /// "And thanks for asking, ..." opens what follows; ", and used to ..." goes on with the
    /// same subject.
    #[test]
    fn thanks_before_a_fact_and_a_subject_that_goes_on() {
        assert_eq!(
            chat(&[(
                "Caroline",
                "And thanks for asking, we got another cat named Bailey too."
            )]),
            ["Caroline and others got another cat named Bailey too."]
        );
        assert_eq!(
            chat(&[(
                "Caroline",
                "My aunt believed in volunteering, and used to help my family out."
            )]),
            ["Caroline's aunt believed in volunteering, and used to help their family out."]
        );
    }

    /// "should" or "might" deep inside a clause does not hedge the statement it belongs to;
    /// a phrase before its clause ("with support at home") is not a clause.
    #[test]
    fn inner_modals_and_leading_phrases_keep_the_statement() {
        for (said, facts) in [
            (
                "I made it to show my journey and how we should accept change.",
                vec![
                    "Caroline made it to show their journey and how Caroline and others should \
                      accept change.",
                ],
            ),
            (
                "Networking opened me up to products that I might not have found otherwise.",
                vec![
                    "Networking opened Caroline up to products that Caroline might not have \
                      found otherwise.",
                ],
            ),
            (
                "But with support at home and my own grit, I powered through.",
                vec!["With support at home and Caroline's own grit, Caroline powered through."],
            ),
            ("We should go camping again.", vec![]),
            ("I might move to Denver.", vec![]),
        ] {
            assert_eq!(chat(&[("Caroline", said)]), facts, "{said}");
        }
    }

    #[test]
    fn first_person_statements_are_rewritten_about_the_user() {
        assert_eq!(extract("I work at Acme."), ["User works at Acme."]);
        assert_eq!(
            extract("I usually watch films on Fridays"),
            ["User usually watches films on Fridays."]
        );
        assert_eq!(
            extract("I'm allergic to shellfish!"),
            ["User is allergic to shellfish."]
        );
        assert_eq!(
            extract("My sister lives in Oslo."),
            ["User's sister lives in Oslo."]
        );
        assert_eq!(extract("I don't eat pork."), ["User doesn't eat pork."]);
        assert_eq!(
            extract("I study law in Paris."),
            ["User studies law in Paris."]
        );
    }

    #[test]
    fn questions_greetings_reactions_and_vague_statements_are_skipped() {
        for text in [
            "Hi! How are you?",
            "Where do I live?",
            "Thanks a lot!",
            "I think so.",
            "I did that yesterday.",
            "I like it.",
            "That's awesome!",
            "Wow, that sounds amazing!",
            "So proud of you!",
            "Can you help me with my essay?",
            "Give me three ideas for dinner.",
        ] {
            assert_eq!(extract(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn named_speakers_name_their_facts_and_you_is_the_listener() {
        let facts = chat(&[
            (
                "Caroline",
                "Hey Mel! I went to a LGBTQ support group yesterday.",
            ),
            (
                "Melanie",
                "Wow, Caroline! My husband and I went camping last weekend, we loved the lake. Your painting is in my kitchen now.",
            ),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline went to a LGBTQ support group on 26 March 2023.",
                "Melanie's husband and Melanie went camping on the weekend of 25 March 2023.",
                "Melanie and their husband loved the lake.",
                "Caroline's painting is in Melanie's kitchen now.",
            ]
        );
    }

    #[test]
    fn advice_to_a_person_names_both_and_impersonal_facts_their_source() {
        let facts = chat(&[
            ("Caroline", "I want to start painting."),
            (
                "Melanie",
                "Get some acrylic paints and start with landscapes. The pottery class is only $10 per session.",
            ),
        ]);
        assert_eq!(
            facts,
            [
                "Caroline wants to start painting.",
                "Melanie advised Caroline to get some acrylic paints and start with landscapes.",
                "According to Melanie, the pottery class is only $10 per session.",
            ]
        );
    }

    #[test]
    fn remember_instructions_are_kept_even_without_first_person() {
        let facts = RulesExtractor
            .extract(
                &[Turn::new("user", "Remember that the launch is on May 3.")],
                Timestamp::from_micros(0),
            )
            .unwrap();
        assert_eq!(facts[0].decision, "The launch is on May 3.");
        assert!(facts[0].importance_score >= 7);
    }

    #[test]
    fn an_unnamed_assistant_and_the_system_are_not_read() {
        let facts = RulesExtractor
            .extract(
                &[
                    Turn::new("system", "I am the system and my rules are strict."),
                    Turn::new("assistant", "I recommend the blue one for your kitchen."),
                ],
                Timestamp::from_micros(0),
            )
            .unwrap();
        assert!(facts.is_empty());
    }
}
