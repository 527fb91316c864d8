//! Level 2 classifier quality on labelled (old, new) pairs: precision and recall of the
//! `supersedes` verdict. A wrong supersession hides a true fact, so precision is what
//! matters most.

use serde::Deserialize;

use crate::account::Settings;
use crate::classify::{RulesClassifier, Verdict, VerdictKind, run_level2};
use crate::error::{Error, Result};
use crate::model::{EventKind, NewMemory, SearchType, WriteOutcome};
use crate::store::{Store, StoreOptions};

use super::{searching, share_or_one};

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
        share_or_one(self.correct_supersedes, self.predicted_supersedes)
    }

    /// Correct over labelled `supersedes` (1 when none labelled).
    pub fn recall(&self) -> f64 {
        share_or_one(self.correct_supersedes, self.labelled_supersedes)
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

impl LabelledPairs {
    fn parse(json: &str) -> Result<LabelledPairs> {
        serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("not a labelled pair set: {e}")))
    }
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
    let set = LabelledPairs::parse(json)?;
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

/// Level 2 end to end on the labelled pairs, with the store's own candidate search: how often
/// the labelled old fact is among the candidates, and what the classifier then supersedes.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateReport {
    /// How the candidates were searched.
    pub search_type: SearchType,
    /// Pairs run (one tenant each).
    pub pairs: usize,
    /// Other facts in each pair's tenant (the set's other old facts).
    pub distractors: usize,
    /// Pairs labelled `supersedes`.
    pub labelled_supersedes: usize,
    /// Of those, pairs whose old fact was among the candidates.
    pub found: usize,
    /// Pairs whose labelled old fact was superseded, rightly.
    pub correct_supersedes: usize,
    /// Pairs whose labelled old fact was superseded though the label says it stays true.
    pub false_supersedes: usize,
    /// Pairs where another row of the tenant (a distractor) was superseded.
    pub other_superseded: usize,
    /// Each wrong supersession: (new fact, the row it superseded).
    pub wrong_rows: Vec<(String, String)>,
}

impl CandidateReport {
    /// Right supersessions over all supersessions applied (1 when none was).
    pub fn precision(&self) -> f64 {
        let applied = self.correct_supersedes + self.false_supersedes + self.other_superseded;
        share_or_one(self.correct_supersedes, applied)
    }

    /// Right supersessions over pairs labelled `supersedes` (1 when none is).
    pub fn recall(&self) -> f64 {
        share_or_one(self.correct_supersedes, self.labelled_supersedes)
    }
}

impl std::fmt::Display for CandidateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Level 2 with {} candidates ({} pairs, {} other facts per tenant): old fact among \
             the candidates {}/{}; supersedes precision {:.3}, recall {:.3} ({} right, {} wrong, \
             {} of another row)",
            self.search_type.as_str(),
            self.pairs,
            self.distractors,
            self.found,
            self.labelled_supersedes,
            self.precision(),
            self.recall(),
            self.correct_supersedes,
            self.false_supersedes,
            self.other_superseded,
        )?;
        for (new, superseded) in &self.wrong_rows {
            write!(f, "\n  wrong  {new:?} superseded {superseded:?}")?;
        }
        Ok(())
    }
}

/// Runs Level 2 ([`run_level2`], offline rules, default settings) for each labelled pair of
/// `json` in a store opened with `options`: the pair's tenant holds every distinct old fact
/// of the set, then the new fact is written and Level 2 searches its candidates as it does
/// on a server (keyword search, or hybrid when `options` has an embedder).
pub fn run_candidates(json: &str, options: StoreOptions) -> Result<CandidateReport> {
    let set = LabelledPairs::parse(json)?;
    let store = Store::in_memory_with(options.durable(false))?;
    let search_type = searching(&store)?;
    let mut olds: Vec<&str> = set.pairs.iter().map(|p| p.old.as_str()).collect();
    olds.sort_unstable();
    olds.dedup();
    let classifier = RulesClassifier::default();
    let settings = Settings::default();
    let mut report = CandidateReport {
        search_type,
        pairs: set.pairs.len(),
        distractors: olds.len().saturating_sub(1),
        labelled_supersedes: 0,
        found: 0,
        correct_supersedes: 0,
        false_supersedes: 0,
        other_superseded: 0,
        wrong_rows: Vec::new(),
    };
    const ACCOUNT: &str = "level2";
    for (n, pair) in set.pairs.iter().enumerate() {
        let tenant = format!("pair-{n}");
        let batch = olds
            .iter()
            .map(|old| NewMemory::new(*old).with_tenant(tenant.clone()))
            .collect();
        let written = store.write_batch(ACCOUNT, batch)?;
        let old_id = olds
            .iter()
            .position(|o| *o == pair.old)
            .and_then(|i| match &written[i] {
                WriteOutcome::Saved(m) => Some(m.id),
                WriteOutcome::Duplicate { .. } => None,
            })
            .ok_or_else(|| Error::InvalidArgument(format!("pair {n}: old fact not stored")))?;
        report.labelled_supersedes += usize::from(pair.supersedes);
        let new = match store.write(ACCOUNT, NewMemory::new(&pair.new).with_tenant(tenant))? {
            WriteOutcome::Saved(memory) => memory,
            // The same text as a stored fact: nothing new to classify.
            WriteOutcome::Duplicate { .. } => continue,
        };
        let result = run_level2(&store, ACCOUNT, &new, &[], &settings, &classifier)?;
        // A candidate's audit records each judgement of it.
        let (_, events) = store.audit(ACCOUNT, old_id)?;
        if pair.supersedes && events.iter().any(|e| e.kind == EventKind::MemoryClassified) {
            report.found += 1;
        }
        let superseded = result.supersession.map(|s| s.old_memory_id);
        match superseded {
            Some(id) if id == old_id && pair.supersedes => report.correct_supersedes += 1,
            Some(id) if id == old_id => report.false_supersedes += 1,
            Some(_) => report.other_superseded += 1,
            None => {}
        }
        if let Some(id) = superseded
            && !(id == old_id && pair.supersedes)
        {
            let row = store.get(ACCOUNT, id)?;
            report.wrong_rows.push((pair.new.clone(), row.decision));
        }
    }
    Ok(report)
}
