//! A statement rewritten about the people it names: "I" becomes the speaker ("I work at
//! Acme" said by Caroline → "Caroline works at Acme"), "you" the person spoken to, "we" the
//! speaker and whoever the speaker's words name with them ("Melanie and their husband"),
//! each subject's verb conjugated to match.

use super::lexicon::{IRREGULAR_PAST, is_adverb};

/// Who a statement's pronouns stand for.
pub(super) struct Voice<'a> {
    /// Who said it: a name, or `User`.
    pub speaker: &'a str,
    /// To whom: a name, `User`, or `None` (an assistant: "you" is not rewritten).
    pub listener: Option<&'a str>,
    /// Whom "we" names besides the speaker ("their husband"), if the speaker said.
    pub company: Option<String>,
}

/// How the verb after a rewritten subject changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Agree {
    /// Nothing to conjugate.
    None,
    /// After "I": third person singular ("work" → "works", "am" → "is").
    FromFirst,
    /// After "you": third person singular ("are" → "is", "were" → "was", "have" → "has").
    FromSecond,
}

/// Rewrites the words of a statement about the people they name (see the module docs).
pub(super) fn rewrite(words: &[&str], voice: &Voice<'_>) -> String {
    let mut out: Vec<String> = Vec::with_capacity(words.len() + 4);
    let mut agree = Agree::None;
    let speaker = voice.speaker;
    let speaker_possessive = possessive(speaker);
    let group = match &voice.company {
        Some(company) => format!("{speaker} and {company}"),
        None => format!("{speaker} and others"),
    };
    let mut named_speaker = false;
    let mut skip = false;
    for (i, word) in words.iter().enumerate() {
        if std::mem::take(&mut skip) {
            continue;
        }
        let (lead, core, trail) = split_punct(word);
        let lower = core.replace('’', "'").to_lowercase();
        // "My husband and I are": a compound subject near the start keeps its plural verb;
        // later, "… and I visit" starts a clause of its own.
        let after_and = (2..=4).contains(&i) && bare(words[i - 1]) == "and";
        let listener = voice.listener;
        // The speaker is named the first time; after that "their" and "them" do.
        let name_once = |named: &mut bool, full: String, short: &str| {
            if *named {
                short.to_owned()
            } else {
                *named = true;
                full
            }
        };
        let replaced: String = match (lower.as_str(), listener) {
            ("i", _) if after_and => speaker.to_owned(),
            ("i", _) => {
                agree = Agree::FromFirst;
                named_speaker = true;
                speaker.to_owned()
            }
            ("i'm", _) => {
                named_speaker = true;
                format!("{speaker} is")
            }
            ("i've", _) => {
                named_speaker = true;
                format!("{speaker} has")
            }
            ("i'll", _) => {
                named_speaker = true;
                format!("{speaker} will")
            }
            ("i'd", _) => {
                named_speaker = true;
                format!("{speaker} would")
            }
            ("my", _) => name_once(&mut named_speaker, speaker_possessive.clone(), "their"),
            ("mine", _) => name_once(&mut named_speaker, speaker_possessive.clone(), "theirs"),
            ("me", _) => name_once(&mut named_speaker, speaker.to_owned(), "them"),
            ("myself", _) => "themself".to_owned(),
            ("we", _) => {
                named_speaker = true;
                group.clone()
            }
            ("we're", _) => {
                named_speaker = true;
                format!("{group} are")
            }
            ("we've", _) => {
                named_speaker = true;
                format!("{group} have")
            }
            ("we'll", _) => {
                named_speaker = true;
                format!("{group} will")
            }
            ("we'd", _) => {
                named_speaker = true;
                format!("{group} would")
            }
            ("us", _) => name_once(&mut named_speaker, group.clone(), "them"),
            ("our" | "ours", _) => name_once(&mut named_speaker, possessive(&group), "their"),
            ("ourselves", _) => "themselves".to_owned(),
            // "You both looked amazing": the listener and someone else, like "we".
            ("you", Some(listener))
                if words.get(i + 1).is_some_and(|next| {
                    matches!(bare(next).as_str(), "both" | "two" | "guys" | "all")
                }) && trail.is_empty() =>
            {
                skip = true;
                let (_, _, next_trail) = split_punct(words[i + 1]);
                format!("{listener} and others{next_trail}")
            }
            ("you", Some(listener)) => {
                if starts_clause(words, i) {
                    agree = Agree::FromSecond;
                }
                listener.to_owned()
            }
            ("you're", Some(listener)) => format!("{listener} is"),
            ("you've", Some(listener)) => format!("{listener} has"),
            ("you'll", Some(listener)) => format!("{listener} will"),
            ("you'd", Some(listener)) => format!("{listener} would"),
            ("your" | "yours", Some(listener)) => possessive(listener),
            ("yourself", Some(_)) => "themself".to_owned(),
            _ if agree != Agree::None => {
                if is_adverb(&lower) {
                    core.to_owned()
                } else {
                    let from = agree;
                    agree = Agree::None;
                    third_person(core, from)
                }
            }
            _ => core.to_owned(),
        };
        out.push(format!("{lead}{replaced}{trail}"));
    }
    out.join(" ")
}

/// Whether word `i` starts a clause (the first word, or after a conjunction or a comma), so
/// that "you" there is a subject.
fn starts_clause(words: &[&str], i: usize) -> bool {
    i == 0
        || words[i - 1].ends_with(',')
        || matches!(
            bare(words[i - 1]).as_str(),
            "and"
                | "but"
                | "so"
                | "that"
                | "because"
                | "if"
                | "when"
                | "since"
                | "while"
                | "though"
                | "although"
                | "where"
        )
}

/// `Caroline's`, `James'`.
pub(super) fn possessive(name: &str) -> String {
    if name.ends_with('s') {
        format!("{name}'")
    } else {
        format!("{name}'s")
    }
}

/// The word lower-cased without surrounding punctuation (apostrophes kept, curly ones
/// straightened).
pub(super) fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .replace('’', "'")
        .to_lowercase()
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

/// Whether a word after a subject already agrees with any person: an auxiliary, a modal, or
/// a past form (regular, irregular, or an irregular one with a prefix: "retook").
fn fixed_form(lower: &str) -> bool {
    const AUXILIARIES: &[&str] = &[
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
        "used",
        "ought",
        "gotta",
        "gonna",
        "wanna",
    ];
    // Verbs ending in "ed" that are not past forms.
    const BASE_ED: &[&str] = &[
        "need", "feed", "seed", "bleed", "breed", "speed", "succeed", "exceed", "proceed", "heed",
        "weed", "shred", "wed", "embed", "shed", "bed", "spreed",
    ];
    if AUXILIARIES.contains(&lower) || IRREGULAR_PAST.contains(&lower) {
        return true;
    }
    if lower.ends_with("ed") {
        return !BASE_ED.contains(&lower);
    }
    [
        "re", "over", "under", "mis", "out", "un", "with", "up", "fore", "be",
    ]
    .iter()
    .filter_map(|prefix| lower.strip_prefix(prefix))
    .any(|rest| rest.len() > 2 && IRREGULAR_PAST.contains(&rest))
}

/// The third-person singular of a verb that followed "I" or "you" ("work" → "works", "have"
/// → "has", "don't" → "doesn't", and after "you": "are" → "is", "were" → "was"); past tenses,
/// modals and contractions are left alone.
fn third_person(verb: &str, from: Agree) -> String {
    let lower = verb.replace('’', "'").to_lowercase();
    let irregular = match (lower.as_str(), from) {
        ("am", _) => Some("is"),
        ("are", Agree::FromSecond) => Some("is"),
        ("were", Agree::FromSecond) => Some("was"),
        ("aren't", Agree::FromSecond) => Some("isn't"),
        ("weren't", Agree::FromSecond) => Some("wasn't"),
        ("have", _) => Some("has"),
        ("do", _) => Some("does"),
        ("go", _) => Some("goes"),
        ("don't", _) => Some("doesn't"),
        ("haven't", _) => Some("hasn't"),
        _ => None,
    };
    if let Some(v) = irregular {
        return v.to_owned();
    }
    if fixed_form(&lower) || lower.contains('\'') || !lower.chars().all(|c| c.is_ascii_alphabetic())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn about(text: &str, speaker: &str, listener: Option<&str>) -> String {
        let words: Vec<&str> = text.split_whitespace().collect();
        rewrite(
            &words,
            &Voice {
                speaker,
                listener,
                company: None,
            },
        )
    }

    #[test]
    fn first_person_becomes_the_speaker() {
        assert_eq!(
            about("I work at Acme.", "User", None),
            "User works at Acme."
        );
        assert_eq!(
            about("I usually watch films on Fridays", "Caroline", None),
            "Caroline usually watches films on Fridays"
        );
        assert_eq!(
            about("My sister lives in Oslo and I visit her", "Mel", None),
            "Mel's sister lives in Oslo and Mel visits her"
        );
        assert_eq!(
            about("I love my kids", "Melanie", None),
            "Melanie loves their kids"
        );
        // An adverb in "-ly" before the verb is not the verb ("trulies").
        assert_eq!(
            about("I truly feel at home here", "Maria", None),
            "Maria truly feels at home here"
        );
        assert_eq!(
            about("I barely sleep before a race", "Jon", None),
            "Jon barely sleeps before a race"
        );
        // A verb in "-ly" is still the verb.
        assert_eq!(
            about("I apply for grants every spring", "Gina", None),
            "Gina applies for grants every spring"
        );
    }

    #[test]
    fn second_person_becomes_the_listener() {
        assert_eq!(
            about("you are a great painter", "Mel", Some("Caroline")),
            "Caroline is a great painter"
        );
        assert_eq!(
            about("your painting won a prize", "Mel", Some("Caroline")),
            "Caroline's painting won a prize"
        );
        assert_eq!(
            about("I told you about it", "Mel", Some("Caroline")),
            "Mel told Caroline about it"
        );
        // Spoken to an assistant, "you" stays.
        assert_eq!(about("you helped a lot", "User", None), "you helped a lot");
    }

    #[test]
    fn we_names_the_speaker_and_company() {
        let words: Vec<&str> = "we loved the lake".split_whitespace().collect();
        let voice = Voice {
            speaker: "Melanie",
            listener: Some("Caroline"),
            company: Some("their husband".into()),
        };
        assert_eq!(
            rewrite(&words, &voice),
            "Melanie and their husband loved the lake"
        );
        assert_eq!(
            about("we're planning a trip", "Jon", None),
            "Jon and others are planning a trip"
        );
    }
}
