//! Answering from candidates: the [`Answerer`] interface, the built-in offline
//! [`ExtractiveAnswerer`], and the `[mem-N]` marker rules (spec §6.1 steps 4–6, §6.2).

mod llm;
pub use llm::{ANSWER_PROMPT_VERSION, LlmAnswerer};

use crate::error::Result;
use crate::model::Memory;
use crate::time::Timestamp;

/// One candidate handed to an answerer: `[mem-index]` refers to it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// 1-based position in rank order (the N of `[mem-N]`).
    pub index: usize,
    /// The memory, in the state the query's mode reads.
    pub memory: &'a Memory,
    /// Retrieval similarity in [0, 1].
    pub similarity: f64,
}

/// What an answerer is asked.
#[derive(Clone, Copy, Debug)]
pub struct AnswerRequest<'a> {
    /// The question.
    pub question: &'a str,
    /// Candidates in rank order (never empty: with no candidates no answerer is called).
    pub candidates: &'a [Candidate<'a>],
    /// For time-travel queries, the instant the answer describes (`As of <date>, ...`).
    pub as_of: Option<Timestamp>,
    /// The date the answer treats as "today".
    pub reference_date: Timestamp,
}

/// Writes an answer from candidates, tagging each claim with the `[mem-N]` marker(s) it
/// relies on. The built-in [`ExtractiveAnswerer`] needs no network; LLM answerers plug in
/// here too. Markers are verified afterwards, so an answerer cannot cite what it was not
/// given.
pub trait Answerer: Send + Sync {
    /// Provider name, for the response and audit (`builtin`, `openai`, ...).
    fn provider(&self) -> &str;
    /// Model or rule-set name.
    fn model(&self) -> &str;
    /// The answer text with `[mem-N]` markers.
    fn answer(&self, request: &AnswerRequest<'_>) -> Result<String>;
}

/// The offline answerer: deterministic and extractive. It states the best candidate, and the
/// next ones while they score at least [`ExtractiveAnswerer::RELATIVE_FLOOR`] of it (up to
/// three facts), each followed by its marker; time-travel answers start `As of <date>, `.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtractiveAnswerer;

impl ExtractiveAnswerer {
    /// A candidate joins the answer if its similarity is at least this fraction of the best.
    pub const RELATIVE_FLOOR: f64 = 0.6;
    /// At most this many facts in one answer.
    pub const MAX_FACTS: usize = 3;
}

impl Answerer for ExtractiveAnswerer {
    fn provider(&self) -> &str {
        "builtin"
    }

    fn model(&self) -> &str {
        "extractive-v1"
    }

    fn answer(&self, request: &AnswerRequest<'_>) -> Result<String> {
        let Some(best) = request.candidates.first() else {
            return Ok(String::new());
        };
        let floor = best.similarity * Self::RELATIVE_FLOOR;
        let mut sentences = Vec::new();
        for candidate in request
            .candidates
            .iter()
            .filter(|c| c.similarity >= floor)
            .take(Self::MAX_FACTS)
        {
            let fact = candidate.memory.decision.trim();
            let fact = fact.trim_end_matches(['.', '!', '?', ';', ',']);
            sentences.push(format!("{fact} [mem-{}].", candidate.index));
        }
        let text = sentences.join(" ");
        Ok(match request.as_of {
            Some(at) => format!("As of {}, {}", at.date(), lower_first(&text)),
            None => text,
        })
    }
}

/// Lower-cases the first letter unless the first word looks like a name or acronym (has
/// another capital, or is "I").
fn lower_first(text: &str) -> String {
    let first_word = text.split_whitespace().next().unwrap_or("");
    let keep = first_word == "I"
        || first_word.chars().skip(1).any(char::is_uppercase)
        || first_word.chars().next().is_some_and(|c| !c.is_uppercase());
    if keep {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        // A capitalised first word may be a name ("Alice"): only common sentence starters
        // are lowered.
        Some(c) if STARTERS.contains(&first_word) => c.to_lowercase().chain(chars).collect(),
        _ => text.to_owned(),
    }
}

/// Sentence starters that are lowered after "As of <date>, ".
const STARTERS: &[&str] = &[
    "The", "A", "An", "User", "User's", "Our", "Their", "This", "That", "These", "Those",
];

/// The markers of an answer after verification (spec §6.1 step 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marked {
    /// The answer with valid markers kept and invalid ones removed.
    pub with_citations: String,
    /// The answer with every marker removed and whitespace tidied.
    pub plain: String,
    /// The valid marker numbers, in order of first appearance, without repeats.
    pub cited: Vec<usize>,
}

/// Verifies the `[mem-N]` markers of `text` against `candidates` candidates: markers whose N
/// is outside 1..=candidates are dropped.
pub fn verify_markers(text: &str, candidates: usize) -> Marked {
    let mut with_citations = String::with_capacity(text.len());
    let mut plain = String::with_capacity(text.len());
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[mem-") {
        let (before, from) = rest.split_at(start);
        with_citations.push_str(before);
        plain.push_str(before);
        let digits: String = from[5..].chars().take_while(char::is_ascii_digit).collect();
        let end = 5 + digits.len();
        if !digits.is_empty() && from[end..].starts_with(']') {
            let marker = &from[..=end];
            if let Ok(n) = digits.parse::<usize>()
                && (1..=candidates).contains(&n)
            {
                with_citations.push_str(marker);
                if !cited.contains(&n) {
                    cited.push(n);
                }
            }
            rest = &from[end + 1..];
        } else {
            // Not a marker ("[mem-" followed by something else): keep it as text.
            with_citations.push_str("[mem-");
            plain.push_str("[mem-");
            rest = &from[5..];
        }
    }
    with_citations.push_str(rest);
    plain.push_str(rest);
    Marked {
        with_citations: tidy(&with_citations),
        plain: tidy(&plain),
        cited,
    }
}

/// Collapses runs of whitespace and removes spaces before punctuation left by a removed
/// marker ("Acme [mem-1]." → "Acme.").
fn tidy(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    for c in collapsed.chars() {
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewMemory;

    #[test]
    fn valid_markers_stay_invalid_ones_go_and_plain_text_is_tidy() {
        let m = verify_markers(
            "Alice works at Acme [mem-1]. She likes tea [mem-3][mem-1]!",
            2,
        );
        assert_eq!(
            m.with_citations,
            "Alice works at Acme [mem-1]. She likes tea [mem-1]!"
        );
        assert_eq!(m.plain, "Alice works at Acme. She likes tea!");
        assert_eq!(m.cited, vec![1]);
        let none = verify_markers("No markers, [mem-x] or [mem-] here [mem-0].", 5);
        assert_eq!(none.plain, "No markers, [mem-x] or [mem-] here.");
        assert!(none.cited.is_empty());
        let many = verify_markers("[mem-2] and [mem-10]", 10);
        assert_eq!(many.cited, vec![2, 10]);
    }

    #[test]
    fn the_extractive_answer_cites_the_close_candidates_and_travels_in_time() {
        let memories: Vec<Memory> = ["Alice works at Acme.", "Alice likes tea", "Bob is tall"]
            .iter()
            .map(|d| {
                crate::store::Store::in_memory()
                    .unwrap()
                    .write("a", NewMemory::new(*d))
                    .unwrap()
            })
            .map(|o| match o {
                crate::WriteOutcome::Saved(m) => *m,
                crate::WriteOutcome::Duplicate { .. } => unreachable!(),
            })
            .collect();
        let candidates: Vec<Candidate<'_>> = memories
            .iter()
            .zip([0.8, 0.5, 0.1])
            .enumerate()
            .map(|(i, (memory, similarity))| Candidate {
                index: i + 1,
                memory,
                similarity,
            })
            .collect();
        let request = AnswerRequest {
            question: "Where does Alice work?",
            candidates: &candidates,
            as_of: None,
            reference_date: Timestamp::from_micros(0),
        };
        let text = ExtractiveAnswerer.answer(&request).unwrap();
        assert_eq!(
            text,
            "Alice works at Acme [mem-1]. Alice likes tea [mem-2]."
        );
        let past = AnswerRequest {
            as_of: Some(Timestamp::parse("2026-05-01T10:00:00Z").unwrap()),
            ..request
        };
        let text = ExtractiveAnswerer.answer(&past).unwrap();
        assert!(
            text.starts_with("As of 2026-05-01, Alice works at Acme [mem-1]."),
            "{text}"
        );
    }

    #[test]
    fn sentence_starters_are_lowered_names_are_not() {
        assert_eq!(
            lower_first("The launch is on Friday"),
            "the launch is on Friday"
        );
        assert_eq!(lower_first("Alice works"), "Alice works");
        assert_eq!(lower_first("NASA called"), "NASA called");
        assert_eq!(lower_first("I moved"), "I moved");
    }
}
