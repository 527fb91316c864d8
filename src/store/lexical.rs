//! Lexical scoring: BM25 over each memory's analysed `decision` (the backend keeps the
//! postings per tenant), plus conversation context — a turn near a strongly matching turn of
//! the same session gains a share of its score. `search.rs` walks the ranking within the
//! temporal scope.

use std::collections::{HashMap, HashSet};

use crate::backend::{Read, Scope};
use crate::error::Result;
use crate::model::MemoryId;
use crate::text::Analyzer;

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Share of a turn's score lent to its neighbours in the same session: `NEIGHBOUR_WEIGHT / d`
/// to the turns `d` positions away, up to [`NEIGHBOUR_WINDOW`].
pub(crate) const NEIGHBOUR_WEIGHT: f64 = 0.5;
/// How far (in turns of the same session) a turn lends score.
const NEIGHBOUR_WINDOW: u64 = 2;
/// How many of the best-scoring rows lend score to their neighbours (30 and 100 give the same
/// recall on LoCoMo; 30 costs half the time).
const NEIGHBOUR_POOL: usize = 30;

/// Distinct terms of a question that are searched.
const MAX_QUERY_TERMS: usize = 64;

/// What the lexical side of a search found: each matching row's BM25 score (plus, after
/// [`lend`], what its session neighbours lent it), and the scale of those scores.
#[derive(Default)]
pub(crate) struct LexicalScores {
    pub scored: HashMap<MemoryId, f64>,
    /// The best score any row could reach (every term, saturated) in the best scope: the
    /// scale of `similarity`, one for all hits, so similarity is monotone with the score.
    pub best_possible: f64,
}

/// Scores `text` over the tenants of `scope`.
pub(crate) fn score(
    snapshot: &dyn Read,
    analyzer: &Analyzer,
    scope: &Scope<'_>,
    text: &str,
) -> Result<LexicalScores> {
    let mut terms = analyzer.terms(text);
    // A question is a sentence, not a document: its first MAX_QUERY_TERMS distinct terms are
    // searched (a megabyte of text would otherwise cost one index scan per word).
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_QUERY_TERMS);
    terms.sort();
    if terms.is_empty() {
        return Ok(LexicalScores::default());
    }
    let mut scored: HashMap<MemoryId, f64> = HashMap::new();
    let mut best_possible: f64 = 0.0;
    for tenant in snapshot.postings(scope, &terms)? {
        if tenant.rows == 0 {
            continue;
        }
        let n = tenant.rows as f64;
        let avg_len = (tenant.terms as f64 / n).max(1.0);
        let mut bound = 0.0;
        for matches in &tenant.per_term {
            if matches.is_empty() {
                continue;
            }
            let df = matches.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            bound += idf * (K1 + 1.0);
            for posting in matches {
                let (tf, len) = (f64::from(posting.tf), f64::from(posting.len));
                let norm = tf + K1 * (1.0 - B + B * len / avg_len);
                *scored.entry(posting.id).or_default() += idf * tf * (K1 + 1.0) / norm;
            }
        }
        best_possible = best_possible.max(bound);
    }
    Ok(LexicalScores {
        scored,
        best_possible,
    })
}

/// Conversation context: a turn near a strongly matching turn of the same session (the answer
/// to a question, the question of an answer) gains a share of its score. The best
/// [`NEIGHBOUR_POOL`] rows of `scored` lend `weight / d` of their score to the turns `d`
/// positions away, up to [`NEIGHBOUR_WINDOW`].
pub(crate) fn lend(
    snapshot: &dyn Read,
    account: &str,
    scored: &mut HashMap<MemoryId, f64>,
    weight: f64,
) -> Result<()> {
    let mut pool: Vec<(MemoryId, f64)> = scored.iter().map(|(id, s)| (*id, *s)).collect();
    // The best NEIGHBOUR_POOL without sorting the rest: a question can match most rows.
    if pool.len() > NEIGHBOUR_POOL {
        pool.select_nth_unstable_by(NEIGHBOUR_POOL, super::search::best_first);
        pool.truncate(NEIGHBOUR_POOL);
    }
    let lender: HashMap<MemoryId, f64> = pool.iter().copied().collect();
    let ids: Vec<MemoryId> = pool.iter().map(|(id, _)| *id).collect();
    let mut neighbours = snapshot.session_neighbours(account, &ids, NEIGHBOUR_WINDOW)?;
    // Floating-point addition is not associative: a row lent to by several turns sums them in
    // one order (whatever order the backend found them in), so every backend and every run
    // scores it to the same bit.
    neighbours.sort_unstable_by_key(|n| (n.id, n.of, n.distance));
    for n in neighbours {
        let Some(lent) = lender.get(&n.of) else {
            continue;
        };
        *scored.entry(n.id).or_default() += weight / n.distance as f64 * lent;
    }
    Ok(())
}
