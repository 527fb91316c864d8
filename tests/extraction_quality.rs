//! The offline extractor (`rules-v2`) on the labelled conversations, as the README reports
//! them (`aurra eval extraction FILE`):
//!
//! - `conversations-dev.json`: the set the rules were developed on;
//! - `conversations-heldout.json`: written with it by the same hand, split off at random
//!   before the rules were, and never looked into while they were written — the figures to
//!   trust;
//! - `labelled.json`: the first, small set of user-and-assistant chats.
//!
//! A wrong fact pollutes a memory for good, so precision is held high; recall is what a
//! conservative extractor can give. The floors sit a little below the figures measured when
//! they were set, so that a change that loses facts fails.

use aurra::eval::{ExtractionReport, run_extraction};
use aurra::extract::RulesExtractor;

fn measure(json: &str) -> ExtractionReport {
    let report = run_extraction(json, &RulesExtractor).expect("labelled set");
    println!("{report}");
    report
}

#[test]
fn the_rules_extractor_is_precise_on_the_first_set() {
    let report = measure(include_str!("fixtures/extraction/labelled.json"));
    assert_eq!(report.conversations, 32);
    assert!(report.precision() >= 0.9, "{report}");
    assert!(report.recall() >= 0.9, "{report}");
}

#[test]
fn the_rules_extractor_on_the_development_set() {
    let report = measure(include_str!("fixtures/extraction/conversations-dev.json"));
    assert_eq!(report.conversations, 166);
    assert!(report.precision() >= 0.72, "{report}");
    assert!(report.recall() >= 0.63, "{report}");
}

#[test]
fn the_rules_extractor_on_the_held_out_set() {
    let report = measure(include_str!(
        "fixtures/extraction/conversations-heldout.json"
    ));
    assert_eq!(report.conversations, 83);
    assert!(report.precision() >= 0.76, "{report}");
    assert!(report.recall() >= 0.63, "{report}");
}
