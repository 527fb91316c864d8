//! Extraction quality on a labelled set: each conversation of the file lists the facts a
//! careful human would store. An extracted fact matches a labelled one when they share most
//! of their content words (analysed terms, "user" aside): at least 60 % of the label's and
//! 50 % of the extracted fact's. Matching is one-to-one, best overlap first. Precision is the
//! share of extracted facts that match a label, recall the share of labels matched.

use std::collections::HashSet;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::extract::{Extractor, Turn};
use crate::text::Analyzer;
use crate::time::Timestamp;

/// Precision and recall of an extractor on a labelled set.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractionReport {
    /// Conversations in the set.
    pub conversations: usize,
    /// Facts labelled.
    pub labelled: usize,
    /// Facts extracted.
    pub extracted: usize,
    /// Extracted facts that matched a label.
    pub matched: usize,
    /// Extracted facts that matched no label: (conversation id, fact).
    pub spurious: Vec<(String, String)>,
    /// Labels no extracted fact matched: (conversation id, label).
    pub missed: Vec<(String, String)>,
}

impl ExtractionReport {
    /// Matched over extracted (1 when nothing was extracted).
    pub fn precision(&self) -> f64 {
        super::share_or_one(self.matched, self.extracted)
    }

    /// Matched over labelled (1 when nothing is labelled).
    pub fn recall(&self) -> f64 {
        super::share_or_one(self.matched, self.labelled)
    }
}

impl std::fmt::Display for ExtractionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} conversations, {} labelled facts, {} extracted, {} matched",
            self.conversations, self.labelled, self.extracted, self.matched
        )?;
        writeln!(
            f,
            "precision {:.3}, recall {:.3}",
            self.precision(),
            self.recall()
        )?;
        for (id, fact) in &self.spurious {
            writeln!(f, "  spurious [{id}] {fact}")?;
        }
        for (id, label) in &self.missed {
            writeln!(f, "  missed   [{id}] {label}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct LabelledSet {
    conversations: Vec<LabelledConversation>,
}

#[derive(Deserialize)]
struct LabelledConversation {
    id: String,
    messages: Vec<LabelledMessage>,
    facts: Vec<String>,
    /// When the conversation happened: "today" for its relative time.
    #[serde(default)]
    recorded_at: Option<String>,
}

#[derive(Deserialize)]
struct LabelledMessage {
    role: String,
    content: String,
    #[serde(default)]
    name: Option<String>,
}

/// Runs `extractor` over the labelled set `json` (see `tests/fixtures/extraction/`).
pub fn run_extraction(json: &str, extractor: &dyn Extractor) -> Result<ExtractionReport> {
    let set: LabelledSet = serde_json::from_str(json)
        .map_err(|e| Error::InvalidArgument(format!("not a labelled extraction set: {e}")))?;
    let analyzer = Analyzer::default();
    let terms = |text: &str| -> HashSet<String> {
        analyzer
            .terms(text)
            .into_iter()
            .filter(|t| t != "user")
            .collect()
    };
    let mut report = ExtractionReport {
        conversations: set.conversations.len(),
        labelled: 0,
        extracted: 0,
        matched: 0,
        spurious: Vec::new(),
        missed: Vec::new(),
    };
    let default_day = Timestamp::from_micros(1_767_225_600_000_000);
    for conversation in &set.conversations {
        let today = match &conversation.recorded_at {
            Some(at) => Timestamp::parse(at).map_err(|e| {
                Error::InvalidArgument(format!("{}: recorded_at: {e}", conversation.id))
            })?,
            None => default_day,
        };
        let turns: Vec<Turn> = conversation
            .messages
            .iter()
            .map(|m| {
                let turn = Turn::new(m.role.clone(), m.content.clone());
                match &m.name {
                    Some(name) => turn.named(name.clone()),
                    None => turn,
                }
            })
            .collect();
        let facts = extractor.extract(&turns, today)?;
        report.labelled += conversation.facts.len();
        report.extracted += facts.len();
        let labels: Vec<HashSet<String>> = conversation.facts.iter().map(|l| terms(l)).collect();
        let found: Vec<HashSet<String>> = facts.iter().map(|f| terms(&f.decision)).collect();
        // Every acceptable pair with its overlap, best first; then one-to-one.
        let mut pairs = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            for (j, fact) in found.iter().enumerate() {
                let shared = label.intersection(fact).count();
                let of_label = shared as f64 / label.len().max(1) as f64;
                let of_fact = shared as f64 / fact.len().max(1) as f64;
                if of_label >= 0.6 && of_fact >= 0.5 {
                    pairs.push((of_label + of_fact, i, j));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut label_used = vec![false; labels.len()];
        let mut fact_used = vec![false; found.len()];
        for (_, i, j) in pairs {
            if !label_used[i] && !fact_used[j] {
                label_used[i] = true;
                fact_used[j] = true;
                report.matched += 1;
            }
        }
        for (j, used) in fact_used.iter().enumerate() {
            if !used {
                report
                    .spurious
                    .push((conversation.id.clone(), facts[j].decision.clone()));
            }
        }
        for (i, used) in label_used.iter().enumerate() {
            if !used {
                report
                    .missed
                    .push((conversation.id.clone(), conversation.facts[i].clone()));
            }
        }
    }
    Ok(report)
}
