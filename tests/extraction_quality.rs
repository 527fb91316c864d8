//! The offline extractor (`rules-v1`) on the labelled conversations of
//! `tests/fixtures/extraction/labelled.json`: precision and recall as the README reports them
//! (`aurra eval extraction tests/fixtures/extraction/labelled.json`). A wrong fact pollutes a
//! memory for good, so precision is held high; recall is what a conservative extractor can
//! give.

use aurra::eval::run_extraction;
use aurra::extract::RulesExtractor;

#[test]
fn the_rules_extractor_is_precise_on_the_labelled_set() {
    let json = include_str!("fixtures/extraction/labelled.json");
    let report = run_extraction(json, &RulesExtractor).expect("labelled set");
    println!("{report}");
    assert_eq!(report.conversations, 32);
    assert!(report.precision() >= 0.9, "{report}");
    assert!(report.recall() >= 0.7, "{report}");
}
