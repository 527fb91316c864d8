//! [`RulesExtractor`] (`rules-v1`): the offline extractor. Deterministic and conservative: it
//! reads only the user's messages, sentence by sentence (Unicode sentence boundaries), and
//! keeps a sentence only when it is an explicit "remember …" instruction or a first-person
//! statement (a fact, preference, plan or dated event about the speaker). It skips
//! questions, greetings, thanks and acknowledgements, hedges ("I think", "I guess"), and
//! statements whose only object is a vague reference ("I did that"). Kept sentences are
//! rewritten about the speaker ("I work at Acme" → "User works at Acme."), with their time
//! language left as it was; "we" statements are skipped (who "we" is cannot be known).
//! Topic and importance come from a small keyword lexicon.

use unicode_segmentation::UnicodeSegmentation;

use super::{Extractor, Fact, Turn};
use crate::error::Result;
use crate::time::Timestamp;

/// The offline rule-based extractor.
#[derive(Clone, Copy, Debug, Default)]
pub struct RulesExtractor;

impl RulesExtractor {
    /// The rule set's name (`extraction.model`).
    pub const MODEL: &'static str = "rules-v1";
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

    fn extract(&self, turns: &[Turn], _today: Timestamp) -> Result<Vec<Fact>> {
        let mut facts: Vec<Fact> = Vec::new();
        for turn in turns.iter().filter(|t| t.role.eq_ignore_ascii_case("user")) {
            for sentence in turn.content.unicode_sentences() {
                for clause in clauses(sentence) {
                    if let Some(fact) = fact_of(&clause)
                        && !facts.iter().any(|f| f.decision == fact.decision)
                    {
                        facts.push(fact);
                    }
                }
            }
        }
        Ok(facts)
    }
}

/// A sentence split into independent clauses at "; ", ", so ", ", but ", and before a new
/// "I" subject (" so I ", ", and I ", " and I'm ", ...), trimmed.
fn clauses(sentence: &str) -> Vec<String> {
    const SEPARATORS: [(&str, &str); 8] = [
        ("; ", ""),
        (", so ", ""),
        (", but ", ""),
        (" so I ", "I "),
        (", and I ", "I "),
        // A contracted "I" always starts a clause ("my husband and I are" does not).
        (" and I'm ", "I'm "),
        (" and I've ", "I've "),
        (" and I'll ", "I'll "),
    ];
    let mut parts = vec![sentence.trim().to_owned()];
    for (separator, keep) in SEPARATORS {
        parts = parts
            .iter()
            .flat_map(|part| {
                part.split(separator)
                    .enumerate()
                    .map(|(i, piece)| {
                        if i == 0 {
                            piece.to_owned()
                        } else {
                            format!("{keep}{piece}")
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Openers removed before a sentence is judged ("Hi! ", "Quick update: ", "Yes, ").
const OPENERS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hey there",
    "oh",
    "well",
    "so",
    "ok",
    "okay",
    "yes",
    "yeah",
    "no",
    "actually",
    "btw",
    "by the way",
    "also",
    "and",
    "quick update",
    "fyi",
    "anyway",
    "thanks",
    "just so you know",
    "for the record",
    "for context",
];

/// Instructions to remember: the rest of the sentence is the fact.
const REMEMBER: &[&str] = &[
    "please remember that ",
    "please remember ",
    "can you remember that ",
    "could you remember that ",
    "remember that ",
    "remember: ",
    "remember ",
    "don't forget that ",
    "do not forget that ",
    "don't forget ",
    "please note that ",
    "note that ",
    "keep in mind that ",
    "keep in mind ",
];

/// First-person openings that hedge, chat or ask rather than state a fact.
const NOT_FACTS: &[&str] = &[
    "i think",
    "i guess",
    "i mean",
    "i hope",
    "i wonder",
    "i agree",
    "i see",
    "i know",
    "i don't know",
    "i do not know",
    "i'm not sure",
    "i am not sure",
    "i'm fine",
    "i'm good",
    "i'm ok",
    "i'm okay",
    "i'm great",
    "i'm doing",
    "i am doing",
    "i am fine",
    "i am good",
    "i was wondering",
    "i have a question",
    "i need help",
    "i want to know",
    "i'd like to know",
    "i'd like to ask",
    "i'll check",
    "i'll try",
    "i'll think",
    "i'll let you know",
    "i suppose",
    "i believe so",
    "i feel like",
    "i understand",
    "i get it",
    "i got it",
    "i appreciate",
    "i'm just",
    "i just wanted",
    "i'm sorry",
    "i am sorry",
    "let me",
];

/// Words that, alone as the object, make a statement too vague to store.
const VAGUE: &[&str] = &[
    "it", "that", "this", "so", "them", "those", "these", "there", "one", "same", "too",
];

/// Adverbs that may sit between "I" and its verb.
const ADVERBS: &[&str] = &[
    "usually",
    "always",
    "never",
    "often",
    "really",
    "also",
    "just",
    "still",
    "sometimes",
    "currently",
    "now",
    "mostly",
    "generally",
    "actually",
    "definitely",
    "absolutely",
    "totally",
    "recently",
    "finally",
    "rarely",
    "seldom",
    "already",
    "occasionally",
];

fn fact_of(sentence: &str) -> Option<Fact> {
    let mut text = sentence.trim();
    // Openers, possibly several ("Oh, hi! ").
    while let Some(rest) = OPENERS.iter().find_map(|o| {
        strip_prefix_ignore_case(text, o).filter(|rest| rest.starts_with([',', '!', ':', '.', '-']))
    }) {
        text = rest.trim_start_matches([' ', ',', '!', ':', '.', '-']);
    }
    let (remembered, body) = match REMEMBER
        .iter()
        .find_map(|r| strip_prefix_ignore_case(text, r))
    {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let body = body.trim_end_matches([' ', '!', '.', ';']);
    if body.ends_with('?') && !remembered {
        return None;
    }
    let body = body.trim_end_matches('?');
    let words: Vec<&str> = body.split_whitespace().collect();
    if words.len() < 3 {
        return None;
    }
    let lower_body = body.to_lowercase();
    if is_question(&lower_body) && !remembered {
        return None;
    }
    let first_person = words.iter().any(|w| is_first_person(w));
    let plural = words.iter().any(|w| {
        matches!(
            bare(w).as_str(),
            "we" | "we're" | "we've" | "we'll" | "us" | "our" | "ours"
        )
    });
    if !remembered && (!first_person || plural) {
        return None;
    }
    if NOT_FACTS.iter().any(|n| starts_with_words(&lower_body, n)) {
        return None;
    }
    if vague(&words) {
        return None;
    }
    let decision = sentence_case(&rewrite(&words));
    let (topic, importance) = classify(&decision.to_lowercase());
    let importance = if remembered {
        importance.max(7)
    } else {
        importance
    };
    Some(Fact {
        decision: format!("{decision}."),
        topic: topic.to_owned(),
        importance_score: importance,
    })
}

/// `text` without `prefix` (ASCII, compared ignoring case), if it starts with it. Compares
/// the original bytes: lower-casing can change a string's byte length (U+212A KELVIN SIGN
/// becomes `k`), so offsets into a lower-cased copy are not offsets into the text.
fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
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
        "is there",
        "are there",
        "should i",
        "any tips",
        "any ideas",
        "any advice",
        "help me",
    ];
    OPENERS.iter().any(|o| starts_with_words(lower, o))
}

/// The word lower-cased without surrounding punctuation (apostrophes kept, curly ones
/// straightened).
fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .replace('’', "'")
        .to_lowercase()
}

fn is_first_person(word: &str) -> bool {
    matches!(
        bare(word).as_str(),
        "i" | "i'm" | "i've" | "i'll" | "i'd" | "my" | "mine" | "me" | "myself"
    )
}

/// True when every word that is not a first-person word, a stop word or a verb-like filler is
/// a vague reference ("I did that yesterday", "I like it").
fn vague(words: &[&str]) -> bool {
    const FILLER: &[&str] = &[
        "did",
        "do",
        "done",
        "like",
        "love",
        "want",
        "need",
        "have",
        "had",
        "was",
        "is",
        "am",
        "be",
        "been",
        "will",
        "would",
        "yesterday",
        "today",
        "again",
        "too",
        "very",
        "much",
        "the",
        "a",
        "an",
        "to",
        "with",
        "about",
        "of",
        "on",
        "in",
        "at",
        "for",
        "and",
        "or",
        "but",
        "not",
        "don't",
        "really",
        "just",
        "also",
        "all",
    ];
    let mut content = words
        .iter()
        .map(|w| bare(w))
        .filter(|w| !w.is_empty() && !is_first_person(w) && !FILLER.contains(&w.as_str()));
    content.all(|w| VAGUE.contains(&w.as_str()))
}

/// Rewrites first-person words about the speaker, conjugating the verb after "I".
fn rewrite(words: &[&str]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(words.len() + 2);
    let mut conjugate_next = false;
    for (i, word) in words.iter().enumerate() {
        let (lead, core, trail) = split_punct(word);
        let lower = core.replace('’', "'").to_lowercase();
        let subject = if i == 0 { "User" } else { "the user" };
        let replaced: String = match lower.as_str() {
            // "My husband and I are": a compound subject keeps its plural verb.
            "i" if i > 0 && bare(words[i - 1]) == "and" => "the user".to_owned(),
            "i" => {
                conjugate_next = true;
                subject.to_owned()
            }
            "i'm" => format!("{subject} is"),
            "i've" => format!("{subject} has"),
            "i'll" => format!("{subject} will"),
            "i'd" => format!("{subject} would"),
            "my" if i == 0 => "User's".to_owned(),
            "my" => "their".to_owned(),
            "mine" => "theirs".to_owned(),
            "me" => "them".to_owned(),
            "myself" => "themself".to_owned(),
            _ if conjugate_next => {
                if ADVERBS.contains(&lower.as_str()) {
                    core.to_owned()
                } else {
                    conjugate_next = false;
                    third_person(core)
                }
            }
            _ => core.to_owned(),
        };
        out.push(format!("{lead}{replaced}{trail}"));
    }
    out.join(" ")
}

/// Leading punctuation, the word, trailing punctuation.
fn split_punct(word: &str) -> (&str, &str, &str) {
    let start = word
        .find(|c: char| c.is_alphanumeric())
        .unwrap_or(word.len());
    let end = word
        .rfind(|c: char| c.is_alphanumeric())
        .map_or(start, |i| {
            i + word[i..].chars().next().map_or(1, char::len_utf8)
        });
    (&word[..start], &word[start..end], &word[end..])
}

/// The third-person singular of a verb that followed "I" ("work" → "works", "have" → "has",
/// "don't" → "doesn't"); past tenses, modals and contractions are left alone.
fn third_person(verb: &str) -> String {
    let lower = verb.replace('’', "'").to_lowercase();
    let irregular = match lower.as_str() {
        "am" => Some("is"),
        "have" => Some("has"),
        "do" => Some("does"),
        "go" => Some("goes"),
        "don't" => Some("doesn't"),
        "haven't" => Some("hasn't"),
        "am not" => Some("is not"),
        _ => None,
    };
    if let Some(v) = irregular {
        return v.to_owned();
    }
    const UNCHANGED: &[&str] = &[
        "was",
        "wasn't",
        "are",
        "were",
        "will",
        "would",
        "can",
        "could",
        "should",
        "might",
        "may",
        "must",
        "shall",
        "won't",
        "can't",
        "cannot",
        "couldn't",
        "wouldn't",
        "shouldn't",
        "didn't",
        "had",
        "did",
        "went",
        "got",
        "bought",
        "made",
        "took",
        "saw",
        "met",
        "began",
        "left",
        "felt",
        "found",
        "gave",
        "knew",
        "lost",
        "paid",
        "ran",
        "said",
        "sent",
        "sold",
        "spent",
        "told",
        "thought",
        "won",
        "wrote",
        "came",
        "became",
        "broke",
        "brought",
        "built",
        "caught",
        "chose",
        "drove",
        "ate",
        "fell",
        "flew",
        "forgot",
        "grew",
        "heard",
        "kept",
        "led",
        "rode",
        "sang",
        "sat",
        "slept",
        "spoke",
        "stood",
        "swam",
        "taught",
        "threw",
        "understood",
        "woke",
        "wore",
        "hiked",
        "used",
    ];
    if UNCHANGED.contains(&lower.as_str())
        || lower.ends_with("ed")
        || lower.contains('\'')
        || !lower.chars().all(|c| c.is_ascii_alphabetic())
    {
        return verb.to_owned();
    }
    if lower.ends_with(['s', 'x', 'z', 'o']) || lower.ends_with("sh") || lower.ends_with("ch") {
        return format!("{verb}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{}ies", &verb[..verb.len() - 1]);
    }
    format!("{verb}s")
}

fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Topic and importance (spec §3.5 anchors) from keywords; the first matching rule wins.
fn classify(lower: &str) -> (&'static str, i64) {
    const RULES: &[(&str, i64, &[&str])] = &[
        (
            "Health",
            9,
            &[
                "allergic",
                "allergy",
                "allergies",
                "diabetic",
                "asthma",
                "medication",
                "surgery",
                "pregnant",
                "disability",
                "epilep",
            ],
        ),
        (
            "Identity",
            8,
            &[
                "name is",
                "years old",
                "user is 1",
                "user is 2",
                "user is 3",
                "user is 4",
                "user is 5",
                "user is 6",
                "user is 7",
                "user is 8",
                "user is 9",
                "born ",
                "birthday",
                "pronouns",
            ],
        ),
        (
            "Employment",
            8,
            &[
                " work at",
                " works at",
                " work for",
                " works for",
                "engineer",
                "manager",
                "manages",
                " job",
                "employer",
                "hired",
                "promoted",
                "started at",
                " left ",
                "colleague",
                "team of",
                "career",
                "salary",
                "office",
            ],
        ),
        (
            "Location",
            8,
            &[
                "live in",
                "lives in",
                "moving to",
                "moved to",
                "relocat",
                "address",
                "hometown",
            ],
        ),
        (
            "Family",
            7,
            &[
                "daughter", "son ", "wife", "husband", "partner", "mother", "father", "mom", "dad",
                "sister", "brother", "children", "kids", "parents", "family", "married",
            ],
        ),
        (
            "Schedule",
            7,
            &[
                "appointment",
                "meeting",
                "flight",
                "deadline",
                "tomorrow",
                "next week",
                "next month",
                "on monday",
                "on tuesday",
                "on wednesday",
                "on thursday",
                "on friday",
                "on saturday",
                "on sunday",
                "review is",
                " am",
                " pm",
            ],
        ),
        (
            "Diet",
            7,
            &["vegetarian", "vegan", "gluten", "kosher", "halal", "diet"],
        ),
        (
            "Education",
            6,
            &[
                "studied",
                "studies",
                "university",
                "degree",
                "college",
                "graduated",
                "school",
            ],
        ),
        (
            "Preferences",
            5,
            &[
                "prefer",
                "favorite",
                "favourite",
                "like",
                "love",
                "hate",
                "enjoy",
                "can't stand",
            ],
        ),
        ("Pets", 5, &[" dog", " cat", " pet", "puppy", "kitten"]),
        (
            "Hobbies",
            4,
            &[
                "running", "guitar", "piano", "hiking", "hiked", "reading", "painting", "plays",
                "cooking", "gaming",
            ],
        ),
        ("Languages", 5, &["speaks", "speak ", "fluent"]),
        (
            "Travel",
            5,
            &["trip", "travel", "vacation", "visited", "visit "],
        ),
    ];
    RULES
        .iter()
        .find(|(_, _, keys)| keys.iter().any(|k| lower.contains(k)))
        .map_or((crate::DEFAULT_TOPIC, 5), |(topic, importance, _)| {
            (topic, *importance)
        })
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
        assert_eq!(
            extract("Last year I moved to Rome."),
            ["Last year the user moved to Rome."]
        );
    }

    #[test]
    fn questions_greetings_hedges_and_vague_statements_are_skipped() {
        for text in [
            "Hi! How are you?",
            "Where do I live?",
            "Thanks a lot!",
            "I think so.",
            "I did that yesterday.",
            "I like it.",
            "We went to the beach.",
            "The weather is nice.",
            "Can you help me with my essay?",
        ] {
            assert_eq!(extract(text), Vec::<String>::new(), "{text}");
        }
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
    fn assistant_and_system_messages_are_not_read() {
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
