//! Level 2 auto-supersession (spec §9.4): judging whether a new memory makes an older one no
//! longer true. One [`Classifier`] interface with the offline [`RulesClassifier`]
//! (`builtin-rules-v2`, which supersedes when the same single-valued attribute of the same
//! subject changes, with or without a marker word) and [`LlmClassifier`]
//! (strict JSON from a language model); the pipeline that gates, searches candidates,
//! classifies outside any write transaction and applies at most one supersession is
//! [`run_level2`].

mod llm;
mod pipeline;
mod rules;

pub use llm::{CLASSIFY_PROMPT_VERSION, LlmClassifier};
pub use pipeline::{CANDIDATES, Level2Result, Level2Supersession, category_of, run_level2};
pub use rules::RulesClassifier;

use crate::error::Result;
use crate::model::Memory;

/// A classifier's judgement of (old, new).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// The new fact makes the old one no longer true.
    Supersedes,
    /// The new fact adds detail; both stay true.
    Refines,
    /// Unrelated facts.
    Independent,
}

impl VerdictKind {
    /// `supersedes`, `refines` or `independent`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Supersedes => "supersedes",
            VerdictKind::Refines => "refines",
            VerdictKind::Independent => "independent",
        }
    }

    /// The kind with this wire name.
    pub fn parse(name: &str) -> Option<VerdictKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "supersedes" => Some(VerdictKind::Supersedes),
            "refines" => Some(VerdictKind::Refines),
            "independent" => Some(VerdictKind::Independent),
            _ => None,
        }
    }
}

/// A verdict with its confidence (0–1) and a one-sentence reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The judgement.
    pub kind: VerdictKind,
    /// 0–1.
    pub confidence: f64,
    /// One sentence.
    pub reasoning: String,
}

/// Judges whether `new` supersedes `old`.
pub trait Classifier: Send + Sync {
    /// The model name recorded in results and audit events.
    fn model(&self) -> &str;
    /// The verdict for the pair (OLD = a candidate, NEW = the new row).
    fn classify(&self, old: &Memory, new: &Memory) -> Result<Verdict>;

    /// Whether `new`, judged to supersede `superseded`, restates or refines `other` (another
    /// current candidate) on the same attribute. The store then held two current values of
    /// that attribute before `new` was written ("lives in Berlin" and "lives in Denver": two
    /// homes), and a fact about one of them ("lives in Berlin's Kreuzberg district") does not
    /// end the other: the pipeline applies no supersession. The default says no.
    fn confirms(&self, other: &Memory, new: &Memory, superseded: &Memory) -> bool {
        let _ = (other, new, superseded);
        false
    }
}
