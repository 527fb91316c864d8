//! Text analysis for lexical retrieval: Unicode word boundaries (unicode-segmentation),
//! lower-casing, an English stop list, Snowball stemming (rust-stemmers). The same analysis
//! runs on stored memories and on questions, so a term matches whatever its inflection.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// Function words that carry no retrieval signal. Kept short on purpose: words such as
/// "when", "where", "first" or "last" can matter to a question about time and stay in.
const STOP_WORDS: &[&str] = &[
    "'s", "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "being", "both", "but", "by", "can", "could", "d", "did", "do", "does", "doing", "don",
    "for", "from", "had", "has", "have", "having", "he", "her", "hers", "herself", "him",
    "himself", "his", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "ll", "m",
    "me", "my", "myself", "of", "on", "or", "our", "ours", "re", "s", "she", "so", "some", "such",
    "t", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they",
    "this", "those", "to", "too", "us", "ve", "very", "was", "we", "were", "what", "which", "who",
    "whom", "will", "with", "would", "you", "your", "yours", "yourself",
];

/// Longest term kept, in bytes (longer tokens are noise: hashes, URLs, base64).
const MAX_TERM_BYTES: usize = 64;

/// Turns text into index terms.
pub(crate) struct Analyzer {
    stemmer: Stemmer,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer(english)")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

impl Analyzer {
    /// The index entry of `text`: its distinct terms (sorted) with their frequency, and its
    /// length in terms.
    pub(crate) fn analyze(&self, text: &str) -> crate::backend::Analyzed {
        let terms = self.terms(text);
        let len = u32::try_from(terms.len()).unwrap_or(u32::MAX);
        let mut tf: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
        for term in terms {
            *tf.entry(term).or_default() += 1;
        }
        crate::backend::Analyzed {
            len,
            terms: tf.into_iter().collect(),
        }
    }

    /// The Snowball stem of one lower-case word, stop words included (the classifier compares
    /// verbs such as "has" and "was" too).
    pub(crate) fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// The terms of `text`, in order, repeats kept (term frequency counts them).
    pub(crate) fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for word in text.unicode_words() {
            // Before any work on it: stemming a megabyte-long "word" is slow, and useless.
            if word.len() > MAX_TERM_BYTES {
                continue;
            }
            let lower = word.to_lowercase();
            // Apostrophes of both kinds: "Caroline's" and "Caroline’s" are the same word.
            let lower = lower.replace('\u{2019}', "'");
            if STOP_WORDS.binary_search(&lower.as_str()).is_ok() {
                continue;
            }
            let stem = self.stemmer.stem(&lower);
            let stem = stem.trim_end_matches("'s").trim_matches('\'');
            if stem.is_empty() || stem.len() > MAX_TERM_BYTES {
                continue;
            }
            if STOP_WORDS.binary_search(&stem).is_ok() {
                continue;
            }
            out.push(stem.to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_list_is_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "{STOP_WORDS:?}");
    }

    #[test]
    fn inflections_meet_at_one_stem() {
        let a = Analyzer::default();
        assert_eq!(a.terms("painting"), a.terms("painted"));
        assert_eq!(
            a.terms("Caroline's support groups"),
            a.terms("caroline support group")
        );
        assert_eq!(a.terms("Caroline’s"), a.terms("caroline"));
    }

    #[test]
    fn stop_words_and_punctuation_go_numbers_and_other_scripts_stay() {
        let a = Analyzer::default();
        assert_eq!(
            a.terms("What is the, uh... 2023 plan?!"),
            vec!["uh", "2023", "plan"]
        );
        assert_eq!(
            a.terms("Ünïcödé café 東京"),
            vec!["ünïcödé", "café", "東", "京"]
        );
        assert!(a.terms("the of and").is_empty());
        assert!(a.terms(&"x".repeat(100)).is_empty());
        assert!(a.terms(&"y".repeat(1 << 20)).is_empty());
    }
}
