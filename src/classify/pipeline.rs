//! The Level 2 pipeline for one newly saved memory (spec §9.4 steps 2–6): category gate,
//! candidate search (the [`CANDIDATES`] most similar current rows of the same account and
//! tenant, the row itself and its same-request siblings excluded, excluded categories never
//! candidates), classification of each pair outside any write transaction, and at most one
//! supersession (the most confident `supersedes` at or above `min_confidence`, unless the new
//! fact restates or refines another candidate on the same attribute: [`Classifier::confirms`]),
//! applied with Level 1's checks in its own transaction together with the `memory.classified`
//! events.

use super::{Classifier, VerdictKind};
use crate::account::Settings;
use crate::error::{Error, Result};
use crate::model::{Classification, Memory, MemoryId, ReadMode, SearchQuery};
use crate::store::Store;

/// How many candidates are classified at most.
pub const CANDIDATES: usize = 5;

/// What Level 2 did for one new memory (the spec's result object).
#[derive(Clone, Debug, PartialEq)]
pub struct Level2Result {
    /// Whether the classifier ran.
    pub ran: bool,
    /// Why it did not.
    pub skipped_reason: Option<String>,
    /// Candidates classified.
    pub candidates_examined: usize,
    /// The supersession applied, if any.
    pub supersession: Option<Level2Supersession>,
}

impl Level2Result {
    /// A run that did not happen, for `reason`.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Level2Result {
            ran: false,
            skipped_reason: Some(reason.into()),
            candidates_examined: 0,
            supersession: None,
        }
    }
}

/// A supersession Level 2 applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Level2Supersession {
    /// The memory that was superseded.
    pub old_memory_id: MemoryId,
    /// Always `Supersedes`.
    pub verdict: VerdictKind,
    /// The classifier's confidence.
    pub confidence: f64,
    /// Its one-sentence reason.
    pub reasoning: String,
    /// The classifier model.
    pub model: String,
}

/// The category a topic belongs to (spec §9.4 decision): lower case, spaces and hyphens as
/// `_`, then a few synonyms (`Medical`, `Health` → `health_medical`; `Legal` →
/// `legal_status`).
pub fn category_of(topic: &str) -> String {
    let key: String = topic
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    match key.as_str() {
        "medical" | "health" | "healthcare" | "medication" | "medications" | "diet_medical" => {
            "health_medical".to_owned()
        }
        "legal" | "law" | "immigration" | "legal_matters" => "legal_status".to_owned(),
        _ => key,
    }
}

/// Runs Level 2 for `new` (just saved by `account`), with `siblings` the other rows saved by
/// the same request.
pub fn run_level2(
    store: &Store,
    account: &str,
    new: &Memory,
    siblings: &[MemoryId],
    settings: &Settings,
    classifier: &dyn Classifier,
) -> Result<Level2Result> {
    let excluded = |topic: &str| {
        let category = category_of(topic);
        settings
            .excluded_categories
            .iter()
            .any(|c| category_of(c) == category)
            .then_some(category)
    };
    if let Some(category) = excluded(&new.topic) {
        return Ok(Level2Result::skipped(format!(
            "excluded category: {category}"
        )));
    }
    let mut query = SearchQuery::new(new.decision.clone())
        .mode(ReadMode::Current)
        .limit(CANDIDATES + siblings.len() + 1);
    query.tenant = new.tenant.clone();
    let hits = match store.search_like(account, &query, new.id) {
        Ok(found) => found.hits,
        // A store that cannot search has no candidates to offer.
        Err(Error::InvalidArgument(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let candidates: Vec<Memory> = hits
        .into_iter()
        .map(|h| h.memory)
        .filter(|m| m.id != new.id && !siblings.contains(&m.id))
        .filter(|m| excluded(&m.topic).is_none())
        .take(CANDIDATES)
        .collect();
    if candidates.is_empty() {
        return Ok(Level2Result::skipped("no candidates"));
    }
    let mut classifications = Vec::with_capacity(candidates.len());
    let mut best: Option<(usize, f64)> = None;
    for (i, old) in candidates.iter().enumerate() {
        let verdict = classifier.classify(old, new)?;
        if verdict.kind == VerdictKind::Supersedes
            && verdict.confidence >= settings.min_confidence
            && best.is_none_or(|(_, c)| verdict.confidence > c)
        {
            best = Some((i, verdict.confidence));
        }
        classifications.push(Classification {
            candidate: old.id,
            verdict: verdict.kind.as_str().to_owned(),
            confidence: verdict.confidence,
            reasoning: verdict.reasoning,
        });
    }
    // A new fact that restates or refines another current value of the same attribute is
    // about that value: the two values coexisted, and neither is ended by it.
    if let Some((i, _)) = best {
        let coexisting = candidates.iter().enumerate().any(|(j, other)| {
            j != i
                && classifications[j].verdict != VerdictKind::Supersedes.as_str()
                && classifier.confirms(other, new, &candidates[i])
        });
        if coexisting {
            best = None;
        }
    }
    let apply = best.map(|(i, _)| candidates[i].id);
    let applied =
        store.record_level2(account, new.id, classifier.model(), &classifications, apply)?;
    let supersession = match (applied, best) {
        (Some(outcome), Some((i, confidence))) => Some(Level2Supersession {
            old_memory_id: outcome.memory_id,
            verdict: VerdictKind::Supersedes,
            confidence,
            reasoning: classifications[i].reasoning.clone(),
            model: classifier.model().to_owned(),
        }),
        _ => None,
    };
    Ok(Level2Result {
        ran: true,
        skipped_reason: None,
        candidates_examined: classifications.len(),
        supersession,
    })
}
