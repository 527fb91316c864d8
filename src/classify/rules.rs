//! [`RulesClassifier`] (`builtin-rules-v1`): the offline classifier. A wrong supersession
//! hides a true fact, so it says `supersedes` only on explicit evidence, never on
//! similarity:
//!
//! 1. Nothing hedged supersedes ("thinking about", "might", "wants to", ...).
//! 2. Both facts must have the same subject: the words before their first verb ("User",
//!    "User's manager", "The project deadline").
//! 3. Then either the new fact explicitly ends the old one (an end marker such as "no longer",
//!    "stopped", "left", "sold", "cancelled", "quit", or "switched from" / "instead of" naming
//!    the old value) and repeats at least half of the old fact's content words; or it states
//!    the same attribute (the same possessive attribute, or the same kind of verb: lives in /
//!    moved to, works at / joined, ...) with a different value and a change marker ("now",
//!    "changed to", "moved to", ...).
//!
//! Anything else is `refines` (same subject) or `independent`.

use std::collections::HashSet;

use super::{Classifier, Verdict, VerdictKind};
use crate::error::Result;
use crate::model::Memory;
use crate::text::Analyzer;

/// The offline rule-based classifier.
#[derive(Debug, Default)]
pub struct RulesClassifier {
    analyzer: Analyzer,
}

impl RulesClassifier {
    /// The rule set's name (`supersession.model`).
    pub const MODEL: &'static str = "builtin-rules-v1";

    /// The verdict on two fact texts.
    pub fn judge(&self, old: &str, new: &str) -> Verdict {
        let (old_l, new_l) = (normalise(old), normalise(new));
        let old_frame = Frame::of(&old_l);
        let new_frame = Frame::of(&new_l);
        let same_subject = !old_frame.subject.is_empty() && old_frame.subject == new_frame.subject;
        let fallback = |reason: &str| {
            if same_subject {
                verdict(VerdictKind::Refines, 0.7, reason)
            } else {
                verdict(VerdictKind::Independent, 0.8, reason)
            }
        };
        if HEDGES.iter().any(|h| contains_phrase(&new_l, h)) {
            return fallback("The new fact is hedged, so it does not replace the old one.");
        }
        if !same_subject {
            return fallback("The facts are about different subjects.");
        }
        let old_terms = self.content(&old_l, &old_frame.subject);
        let new_terms = self.content(&new_l, &new_frame.subject);
        let shared = old_terms.intersection(&new_terms).count();
        let repeats_old = !old_terms.is_empty() && shared * 2 >= old_terms.len();
        if END_MARKERS.iter().any(|m| contains_phrase(&new_l, m)) && repeats_old {
            return verdict(
                VerdictKind::Supersedes,
                0.95,
                "The new fact explicitly ends or replaces the old one.",
            );
        }
        let change = CHANGE_MARKERS.iter().any(|m| contains_phrase(&new_l, m));
        let same_attribute = match (old_frame.predicate, new_frame.predicate) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if change && same_attribute {
            let old_value = self.content(&old_frame.rest, &[]);
            let new_value = self.content(&new_frame.rest, &[]);
            if !new_value.is_empty() && !new_value.is_subset(&old_value) {
                return verdict(
                    VerdictKind::Supersedes,
                    0.92,
                    "The same attribute of the same subject changed to a new value.",
                );
            }
        }
        fallback("The new fact adds to the old one without contradicting it.")
    }

    /// Stemmed content terms of `text` without the subject's words and the markers.
    fn content(&self, text: &str, subject: &[String]) -> HashSet<String> {
        let skip: HashSet<String> = subject
            .iter()
            .flat_map(|w| self.analyzer.terms(w))
            .chain(
                END_MARKERS
                    .iter()
                    .chain(CHANGE_MARKERS)
                    .chain(FILLER)
                    .flat_map(|w| self.analyzer.terms(w)),
            )
            .collect();
        self.analyzer
            .terms(text)
            .into_iter()
            .filter(|t| !skip.contains(t))
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
}

fn verdict(kind: VerdictKind, confidence: f64, reasoning: &str) -> Verdict {
    Verdict {
        kind,
        confidence,
        reasoning: reasoning.to_owned(),
    }
}

/// Language that makes a statement tentative: it never supersedes.
const HEDGES: &[&str] = &[
    "thinking about",
    "thinking of",
    "considering",
    "might",
    "may",
    "maybe",
    "perhaps",
    "probably",
    "hopes",
    "hoping",
    "wants to",
    "would like",
    "plans to",
    "planning to",
    "someday",
    "could",
    "if",
    "wondering",
];

/// The new fact ends the old one.
const END_MARKERS: &[&str] = &[
    "no longer",
    "anymore",
    "any more",
    "stopped",
    "quit",
    "left",
    "sold",
    "cancelled",
    "canceled",
    "ended",
    "is over",
    "divorced",
    "moved out",
    "gave up",
    "switched from",
    "instead of",
    "upgraded",
    "downgraded",
    "retired from",
    "resigned",
];

/// The new fact gives an attribute a new value.
const CHANGE_MARKERS: &[&str] = &[
    "now",
    "changed to",
    "changed",
    "moved to",
    "relocated to",
    "relocated",
    "switched to",
    "became",
    "has become",
    "is moving to",
    "updated to",
    "new",
];

/// Filler left out of content comparisons (besides the markers' own words).
const FILLER: &[&str] = &[
    "no", "longer", "instead", "from", "doesn't", "does", "not", "is", "are", "was", "has", "have",
];

/// Verbs (and verb-like words) whose first occurrence ends a fact's subject, with the
/// attribute kind they state. `None`: a verb that names no single-valued attribute.
const PREDICATES: &[(&str, Option<&str>)] = &[
    ("is", Some("be")),
    ("are", Some("be")),
    ("was", Some("be")),
    ("were", Some("be")),
    ("lives", Some("location")),
    ("lived", Some("location")),
    ("moved", Some("location")),
    ("relocated", Some("location")),
    ("resides", Some("location")),
    ("works", Some("employer")),
    ("worked", Some("employer")),
    ("joined", Some("employer")),
    ("changed", Some("be")),
    ("uses", Some("uses")),
    ("used", Some("uses")),
    ("drives", Some("drives")),
    ("has", None),
    ("have", None),
    ("had", None),
    ("plays", None),
    ("manages", None),
    ("drinks", None),
    ("smokes", None),
    ("prefers", None),
    ("likes", None),
    ("loves", None),
    ("left", None),
    ("quit", None),
    ("sold", None),
    ("stopped", None),
    ("cancelled", None),
    ("canceled", None),
    ("upgraded", None),
    ("switched", None),
    ("doesn't", None),
    ("does", None),
    ("no", None),
    ("now", None),
    ("also", None),
    ("still", None),
    ("never", None),
    ("might", None),
    ("may", None),
    ("wants", None),
    ("hopes", None),
    ("adopted", None),
    ("bought", None),
    ("tried", None),
    ("went", None),
    ("ran", None),
    ("runs", None),
    ("goes", None),
    ("skipped", None),
    ("visited", None),
    ("studied", None),
    ("graduated", None),
    ("won", None),
    ("speaks", None),
    ("needs", None),
    ("got", None),
    ("became", Some("be")),
];

/// Words skipped between the subject and the verb that names the attribute.
const ADVERBS: &[&str] = &["now", "also", "still", "currently", "recently", "just"];

/// A fact split at its first verb.
struct Frame {
    /// Words before the first verb, without articles.
    subject: Vec<String>,
    /// The attribute kind the verb states (the first verb after adverbs).
    predicate: Option<&'static str>,
    /// Everything after the verb.
    rest: String,
}

impl Frame {
    fn of(text: &str) -> Frame {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some(at) = words
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, w)| PREDICATES.iter().any(|(p, _)| p == *w))
            .map(|(i, _)| i)
        else {
            return Frame {
                subject: Vec::new(),
                predicate: None,
                rest: String::new(),
            };
        };
        let subject = words[..at]
            .iter()
            .filter(|w| !matches!(**w, "the" | "a" | "an"))
            .map(|w| (*w).to_owned())
            .collect();
        let mut verb_at = at;
        while verb_at < words.len() && ADVERBS.contains(&words[verb_at]) {
            verb_at += 1;
        }
        let predicate = words.get(verb_at).and_then(|w| {
            PREDICATES
                .iter()
                .find(|(p, _)| p == w)
                .and_then(|(_, kind)| *kind)
        });
        Frame {
            subject,
            predicate,
            rest: words[(verb_at + 1).min(words.len())..].join(" "),
        }
    }
}

/// Lower case, curly apostrophes straightened, sentence punctuation removed.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .replace('’', "'")
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '!' | '?' | '"' | '(' | ')'))
        })
        .map(|w| w.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `text` contains `phrase` as whole words.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let text = format!(" {text} ");
    text.contains(&format!(" {phrase} "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(old: &str, new: &str) -> VerdictKind {
        RulesClassifier::default().judge(old, new).kind
    }

    #[test]
    fn explicit_ends_and_marked_changes_supersede() {
        assert_eq!(
            kind("Bob works at Initech", "Bob no longer works at Initech"),
            VerdictKind::Supersedes
        );
        assert_eq!(
            kind("Bob lives in Rome", "Bob now lives in Paris"),
            VerdictKind::Supersedes
        );
        assert_eq!(
            kind("Bob's car is red", "Bob's car is now blue"),
            VerdictKind::Supersedes
        );
    }

    #[test]
    fn hedges_other_subjects_and_unmarked_additions_do_not() {
        assert_eq!(
            kind("Bob lives in Rome", "Bob might move to Paris"),
            VerdictKind::Refines
        );
        assert_eq!(
            kind("Bob lives in Rome", "Bob's sister now lives in Paris"),
            VerdictKind::Independent
        );
        assert_eq!(
            kind("Bob lives in Rome", "Bob lives in Rome with Ann"),
            VerdictKind::Refines
        );
        assert_eq!(
            kind("Bob's car is red", "Bob's car is now red"),
            VerdictKind::Refines
        );
    }
}
