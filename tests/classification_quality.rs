//! The offline Level 2 classifier (`builtin-rules-v2`) on the labelled pairs of
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

/// The same pairs through Level 2 itself: each pair's tenant holds every old fact of the set,
/// the new fact is written, and the pipeline searches its own (keyword) candidates. It may
/// miss an old fact the search does not surface, but must never supersede a wrong row.
#[test]
fn level2_with_keyword_candidates_supersedes_no_wrong_row() {
    let json = include_str!("fixtures/classification/labelled-pairs.json");
    let report = aurra::eval::run_candidates(json, aurra::StoreOptions::new()).expect("pairs");
    println!("{report}");
    assert_eq!(report.pairs, 65);
    assert!(report.found <= report.labelled_supersedes, "{report}");
    assert!(report.correct_supersedes <= report.found, "{report}");
    assert_eq!(
        report.false_supersedes + report.other_superseded,
        0,
        "{report}"
    );
    assert!(report.recall() >= 0.8, "{report}");
}
