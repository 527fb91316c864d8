//! The offline extractor and classifier read whatever a caller sends: no input may make them
//! panic (a panic in a request path is a bug), and their output keeps its invariants.

use aurra::Timestamp;
use aurra::classify::RulesClassifier;
use aurra::extract::{Extractor, RulesExtractor, Turn};
use proptest::prelude::*;

/// Text with the characters that break byte arithmetic: case changes that change length
/// (U+212A KELVIN SIGN, U+0130), combining marks, apostrophes, punctuation and openers.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("I ".to_owned()),
        Just("my ".to_owned()),
        Just("Remember that ".to_owned()),
        Just("O\u{212A}, ".to_owned()),
        Just("\u{0130}'m ".to_owned()),
        Just("hi! ".to_owned()),
        Just("no longer ".to_owned()),
        Just("now ".to_owned()),
        Just("’s ".to_owned()),
        Just("e\u{0301} ".to_owned()),
        Just(". ".to_owned()),
        Just("? ".to_owned()),
        Just(" lol".to_owned()),
        Just(" — ".to_owned()),
        Just("😂".to_owned()),
        Just("you should ".to_owned()),
        Just("Get some ".to_owned()),
        Just("yesterday ".to_owned()),
        Just("last Friday ".to_owned()),
        Just("in two weeks ".to_owned()),
        Just("Tomorrow's ".to_owned()),
        Just("a few days ago ".to_owned()),
        Just(", and I ".to_owned()),
        Just(" and started ".to_owned()),
        Just("we ".to_owned()),
        Just("your ".to_owned()),
        Just("Mel, ".to_owned()),
        Just("Been ".to_owned()),
        "[a-zA-Z]{1,8} ",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_extractor_never_panics_and_returns_sentences(t in text(), role in "user|assistant|USER") {
        let facts = RulesExtractor
            .extract(&[Turn::new(role, t)], Timestamp::from_micros(0))
            .unwrap();
        for fact in facts {
            prop_assert!(fact.decision.ends_with('.'));
            prop_assert!((1..=10).contains(&fact.importance_score));
            prop_assert!(!fact.topic.is_empty());
        }
    }

    /// Two named people, on any day: "you", names, dates and the question before a reply.
    #[test]
    fn a_chat_between_named_people_never_panics(
        a in text(),
        b in text(),
        names in ("[A-Za-zé]{0,6}", "[A-Za-z]{0,6}"),
        day in -62_135_596_800_000_000i64..253_402_300_799_000_000,
    ) {
        let turns = [
            Turn::new("user", a).named(names.0),
            Turn::new("assistant", b).named(names.1),
        ];
        let facts = RulesExtractor
            .extract(&turns, Timestamp::from_micros(day))
            .unwrap();
        for fact in facts {
            prop_assert!(fact.decision.ends_with('.'));
        }
    }

    #[test]
    fn the_classifier_never_panics_and_stays_in_range(old in text(), new in text()) {
        let verdict = RulesClassifier::default().judge(&old, &new);
        prop_assert!((0.0..=1.0).contains(&verdict.confidence));
        prop_assert!(!verdict.reasoning.is_empty());
    }
}

#[test]
fn a_kelvin_sign_opener_does_not_split_a_character() {
    let facts = RulesExtractor
        .extract(
            &[Turn::new("user", "O\u{212A}, I work at Acme.")],
            Timestamp::from_micros(0),
        )
        .unwrap();
    assert!(facts.len() <= 1);
}
