//! The offline Level 2 classifier (`builtin-rules-v2`) on labelled pairs, as the README
//! reports them (`aurra eval classification tests/fixtures/classification/pairs-dev.json`,
//! and the older `labelled-pairs.json`). A wrong supersession hides a true fact: precision on
//! `supersedes` comes first. The floors sit a little below the figures the rules reach.

use aurra::MIN_CONFIDENCE_FLOOR;
use aurra::classify::RulesClassifier;
use aurra::eval::{CandidateReport, ClassificationReport, run_candidates, run_classification};

const LEGACY: &str = include_str!("fixtures/classification/labelled-pairs.json");
const DEV: &str = include_str!("fixtures/classification/pairs-dev.json");
const HELD_OUT: &str = include_str!("fixtures/classification/pairs-heldout.json");

fn judged(json: &str) -> ClassificationReport {
    let classifier = RulesClassifier::default();
    let report = run_classification(json, MIN_CONFIDENCE_FLOOR, |old, new| {
        Ok(classifier.judge(old, new))
    })
    .expect("labelled pairs");
    println!("{report}");
    report
}

fn end_to_end(json: &str) -> CandidateReport {
    let report = run_candidates(json, aurra::StoreOptions::new()).expect("pairs");
    println!("{report}");
    assert!(report.found <= report.labelled_supersedes, "{report}");
    assert!(report.correct_supersedes <= report.found, "{report}");
    report
}

#[test]
fn the_rules_classifier_on_the_legacy_pairs() {
    let report = judged(LEGACY);
    assert!(report.pairs >= 60, "{report}");
    assert!(report.precision() >= 0.97, "{report}");
    assert!(report.recall() >= 0.95, "{report}");
}

/// The dev split (287 pairs, tagged by phenomenon: changes with and without markers, and
/// hedges, coexisting values, other subjects, refinements, trials, one-off events, past
/// history, restatements, questions that must keep both facts).
#[test]
fn the_rules_classifier_on_the_dev_pairs() {
    let report = judged(DEV);
    assert_eq!(report.pairs, 287, "{report}");
    assert!(report.precision() >= 0.98, "{report}");
    assert!(report.recall() >= 0.95, "{report}");
}

/// The set-aside pairs, which no rule was written or tuned against (read once the rules were
/// done): issue 17's goal, recall at least 0.70 at precision at least 0.95. The floors are the
/// goal, not the figures reached, so the set stays a measure and not a target.
#[test]
fn the_rules_classifier_on_the_held_out_pairs_meets_the_goal() {
    let report = judged(HELD_OUT);
    assert_eq!(report.pairs, 135, "{report}");
    assert!(report.precision() >= 0.95, "{report}");
    assert!(report.recall() >= 0.70, "{report}");
}

/// The same pairs through Level 2 itself: each pair's tenant holds every old fact of the set,
/// the new fact is written, and the pipeline searches its own (keyword) candidates. It may
/// miss an old fact the search does not surface, but must never supersede a wrong row.
#[test]
fn level2_with_keyword_candidates_supersedes_no_wrong_row() {
    let report = end_to_end(LEGACY);
    assert_eq!(report.pairs, 65);
    assert_eq!(
        report.false_supersedes + report.other_superseded,
        0,
        "{report}"
    );
    assert!(report.recall() >= 0.88, "{report}");
}

/// Other pairs' old facts that a dev pair's new fact rightly supersedes: the tenant holds
/// every old fact of the set, and these state the same single-valued attribute of the same
/// subject as the new fact with another value (or the same launch date as the pair's own old
/// fact, which ranks second). Reviewed one by one; any other row superseded fails the test.
const DEV_COLLISIONS: &[(&str, &str)] = &[
    (
        "Project Apollo's launch was pushed back to 15 October",
        "Project Apollo's launch is on 1 September",
    ),
    (
        "User's savings account balance is $12,000",
        "User's savings account balance is $12,400",
    ),
    ("Melanie's manager is Marcus", "Melanie's manager is Dana"),
];

#[test]
fn level2_on_the_dev_pairs_supersedes_no_wrong_row() {
    let report = end_to_end(DEV);
    assert_eq!(report.pairs, 287);
    assert_eq!(report.false_supersedes, 0, "{report}");
    for (new, superseded) in &report.wrong_rows {
        assert!(
            DEV_COLLISIONS.contains(&(new.as_str(), superseded.as_str())),
            "{new:?} superseded {superseded:?}\n{report}"
        );
    }
    assert!(report.recall() >= 0.88, "{report}");
}
