//! The offline Level 2 classifier (`builtin-rules-v1`) on the labelled pairs of
//! `tests/fixtures/classification/labelled-pairs.json`, as the README reports them
//! (`aurra eval classification tests/fixtures/classification/labelled-pairs.json`). A wrong
//! supersession hides a true fact: precision on `supersedes` must be at least 0.95.

use aurra::MIN_CONFIDENCE_FLOOR;
use aurra::classify::RulesClassifier;
use aurra::eval::run_classification;

#[test]
fn the_rules_classifier_supersedes_only_on_explicit_evidence() {
    let json = include_str!("fixtures/classification/labelled-pairs.json");
    let classifier = RulesClassifier::default();
    let report = run_classification(json, MIN_CONFIDENCE_FLOOR, |old, new| {
        Ok(classifier.judge(old, new))
    })
    .expect("labelled pairs");
    println!("{report}");
    assert!(report.pairs >= 60, "{report}");
    assert!(report.precision() >= 0.95, "{report}");
    assert!(report.recall() >= 0.5, "{report}");
}
