//! Level 2 classifier quality on labelled (old, new) pairs: precision and recall of the
//! `supersedes` verdict. A wrong supersession hides a true fact, so precision is what
//! matters most.

use serde::Deserialize;

use crate::classify::{Verdict, VerdictKind};
use crate::error::{Error, Result};

/// Precision and recall of `supersedes` on a labelled set.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassificationReport {
    /// Pairs in the set.
    pub pairs: usize,
    /// Pairs labelled `supersedes`.
    pub labelled_supersedes: usize,
    /// Pairs the classifier said `supersedes` for.
    pub predicted_supersedes: usize,
    /// Of those, correctly.
    pub correct_supersedes: usize,
    /// Wrong `supersedes` verdicts: (old, new).
    pub false_supersedes: Vec<(String, String)>,
    /// Missed supersessions: (old, new).
    pub missed: Vec<(String, String)>,
}

impl ClassificationReport {
    /// Correct over predicted `supersedes` (1 when none predicted).
    pub fn precision(&self) -> f64 {
        if self.predicted_supersedes == 0 {
            1.0
        } else {
            self.correct_supersedes as f64 / self.predicted_supersedes as f64
        }
    }

    /// Correct over labelled `supersedes` (1 when none labelled).
    pub fn recall(&self) -> f64 {
        if self.labelled_supersedes == 0 {
            1.0
        } else {
            self.correct_supersedes as f64 / self.labelled_supersedes as f64
        }
    }
}

impl std::fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} pairs, {} labelled supersedes, {} predicted, {} correct",
            self.pairs,
            self.labelled_supersedes,
            self.predicted_supersedes,
            self.correct_supersedes
        )?;
        writeln!(
            f,
            "supersedes precision {:.3}, recall {:.3}",
            self.precision(),
            self.recall()
        )?;
        for (old, new) in &self.false_supersedes {
            writeln!(f, "  wrong  {old:?} -> {new:?}")?;
        }
        for (old, new) in &self.missed {
            writeln!(f, "  missed {old:?} -> {new:?}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct LabelledPairs {
    pairs: Vec<LabelledPair>,
}

#[derive(Deserialize)]
struct LabelledPair {
    old: String,
    new: String,
    supersedes: bool,
}

/// Runs `judge(old, new)` over the labelled pairs of `json` (see
/// `tests/fixtures/classification/`). A verdict counts as `supersedes` only at or above
/// `min_confidence`, as the pipeline acts.
pub fn run_classification(
    json: &str,
    min_confidence: f64,
    judge: impl Fn(&str, &str) -> Result<Verdict>,
) -> Result<ClassificationReport> {
    let set: LabelledPairs = serde_json::from_str(json)
        .map_err(|e| Error::InvalidArgument(format!("not a labelled pair set: {e}")))?;
    let mut report = ClassificationReport {
        pairs: set.pairs.len(),
        labelled_supersedes: 0,
        predicted_supersedes: 0,
        correct_supersedes: 0,
        false_supersedes: Vec::new(),
        missed: Vec::new(),
    };
    for pair in &set.pairs {
        let verdict = judge(&pair.old, &pair.new)?;
        let predicted =
            verdict.kind == VerdictKind::Supersedes && verdict.confidence >= min_confidence;
        report.labelled_supersedes += usize::from(pair.supersedes);
        report.predicted_supersedes += usize::from(predicted);
        match (pair.supersedes, predicted) {
            (true, true) => report.correct_supersedes += 1,
            (false, true) => report
                .false_supersedes
                .push((pair.old.clone(), pair.new.clone())),
            (true, false) => report.missed.push((pair.old.clone(), pair.new.clone())),
            (false, false) => {}
        }
    }
    Ok(report)
}
