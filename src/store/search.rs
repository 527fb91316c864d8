//! `Store::search`: candidates for a question within the temporal scope. Up to two rankings
//! are computed over the scope (lexical BM25 when the index is on, cosine similarity when an
//! embedder is configured), fused by reciprocal rank when there are two, and the fused
//! ranking is walked keeping only rows the temporal mode and the source filter select (the
//! same rule as list, `temporal::selects`). So a current-truth search never returns a
//! superseded or expired row, and time travel returns exactly what a list would.

use std::collections::HashMap;
use std::ops::ControlFlow;

use super::Store;
use super::lexical;
use super::read::scope;
use super::write::{validate_account, validate_tenant};
use crate::backend::{Read, Scope};
use crate::embed::{dot_le, embed_units};
use crate::error::{Error, Result};
use crate::model::{MemoryId, SearchHit, SearchQuery, SearchResult, SearchType};
use crate::temporal;

/// Reciprocal rank fusion constant (Cormack et al. 2009): a row's fused score is
/// `Σ 1 / (RRF_K + rank)` over the rankings it appears in.
const RRF_K: f64 = 60.0;

impl Store {
    /// How [`Store::search`] retrieves candidates with this handle's options.
    pub fn search_type(&self) -> Option<SearchType> {
        match (self.inner.lexical_index, self.inner.embedder.is_some()) {
            (true, false) => Some(SearchType::Keyword),
            (false, true) => Some(SearchType::Semantic),
            (true, true) => Some(SearchType::Hybrid),
            (false, false) => None,
        }
    }

    /// Searches the memories of `account` for `query.text`, within the rows a list with the
    /// same tenant, mode and sources would return. Best first.
    ///
    /// Keyword search (BM25 over analysed terms, with session neighbours lending score) when
    /// only the lexical index is on; semantic (cosine to the question's embedding) when only
    /// an embedder is configured; both fused by reciprocal rank (hybrid) when both are.
    /// Embedding the question can fail with [`Error::Unavailable`].
    pub fn search(&self, account: &str, query: &SearchQuery) -> Result<SearchResult> {
        Ok(self.search_snapshot(account, query, None)?.0)
    }

    /// [`Store::search`] for the text of memory `like`, with the vector stored for it when it
    /// was written instead of embedding the text again (Level 2's candidate search: one
    /// embedding call per row, not two). Falls back to embedding when the row has no vector
    /// of this embedder's space.
    pub(crate) fn search_like(
        &self,
        account: &str,
        query: &SearchQuery,
        like: MemoryId,
    ) -> Result<SearchResult> {
        let stored = match self.inner.embedder {
            Some(_) => self
                .read(Some(account))?
                .vector(account, like, self.inner.embedder_tag)?,
            None => None,
        };
        Ok(self.search_snapshot(account, query, stored)?.0)
    }

    /// [`Store::search`], and the snapshot it read (for reads that must agree with it).
    /// `known`: the question's unit vector when the caller has it.
    pub(super) fn search_snapshot(
        &self,
        account: &str,
        query: &SearchQuery,
        known: Option<Vec<f32>>,
    ) -> Result<(SearchResult, Box<dyn Read + '_>)> {
        validate_account(account)?;
        validate_tenant(query.tenant.as_deref())?;
        let Some(search_type) = self.search_type() else {
            return Err(Error::InvalidArgument(
                "this store was opened without the lexical index (StoreOptions::lexical_index) \
                 and without an embedder: it cannot search"
                    .into(),
            ));
        };
        // The network call happens before the snapshot is taken: no read transaction waits
        // on it.
        let question_vector = match (&self.inner.embedder, known) {
            (Some(_), Some(vector)) => Some(vector),
            (Some(embedder), None) if query.limit > 0 && !query.text.trim().is_empty() => {
                embed_units(embedder.as_ref(), &[query.text.as_str()])?
                    .pop()
                    .flatten()
            }
            _ => None,
        };
        let snapshot = self.read(Some(account))?;
        let now = snapshot.now()?;
        let reference = temporal::reference_instant(&query.mode, now);
        if query.limit == 0 {
            let empty = SearchResult {
                hits: Vec::new(),
                now: reference,
                search_type,
            };
            return Ok((empty, snapshot));
        }
        let scope = scope(account, query.tenant.as_deref(), query.all_tenants);
        let lexical = if self.inner.lexical_index {
            lexical::score(snapshot.as_ref(), &self.inner.analyzer, &scope, &query.text)?
        } else {
            lexical::LexicalScores::default()
        };
        // With the vector index, the semantic ranking covers the best candidates by code
        // (a budget of them); when the walk finds too few hits among them (the mode or the
        // source filter drops most), it runs again over every vector of the scope, so the
        // temporal scope is never what limits recall.
        let mut budget = if self.inner.vector_index {
            Some(RESCORE_MIN.max(RESCORE_PER_HIT.saturating_mul(query.limit)))
        } else {
            None
        };
        let hits = loop {
            let (semantic, truncated) = match &question_vector {
                Some(v) => rank_vectors(
                    snapshot.as_ref(),
                    &scope,
                    self.inner.embedder_tag,
                    v,
                    budget,
                )?,
                None => (Vec::new(), false),
            };

            // (id, similarity in [0, 1]), best first, ties newest first.
            let ranked: Vec<(MemoryId, f64)> = match search_type {
                SearchType::Keyword => {
                    // Ranked by the score itself, then scaled: lent score can take a row past
                    // the scale, where similarity saturates at 1 and could no longer order it.
                    let mut ranked: Vec<(MemoryId, f64)> =
                        lexical.scored.iter().map(|(id, s)| (*id, *s)).collect();
                    sort(&mut ranked);
                    for entry in &mut ranked {
                        entry.1 = scaled(entry.1, lexical.best_possible);
                    }
                    ranked
                }
                SearchType::Semantic => semantic
                    .into_iter()
                    .map(|(id, cosine)| (id, cosine.clamp(0.0, 1.0)))
                    .collect(),
                SearchType::Hybrid => fuse(&lexical.scored, &semantic),
            };

            // Walk the ranking, keeping what the mode and the source filter select.
            let hits = walk(
                snapshot.as_ref(),
                account,
                query,
                ranked,
                &lexical,
                search_type,
                now,
            )?;
            if truncated && hits.len() < query.limit {
                budget = None;
                continue;
            }
            break hits;
        };
        let result = SearchResult {
            hits,
            now: reference,
            search_type,
        };
        Ok((result, snapshot))
    }
}

/// Walks `ranked` best first, keeping the rows (in the state the mode reads) that the mode and
/// the source filter select, until the limit. Rows are read in chunks no larger than the
/// number of hits still missing, so nothing past the last hit is read.
fn walk(
    snapshot: &dyn Read,
    account: &str,
    query: &SearchQuery,
    ranked: Vec<(MemoryId, f64)>,
    lexical: &lexical::LexicalScores,
    search_type: SearchType,
    now: crate::time::Timestamp,
) -> Result<Vec<SearchHit>> {
    let mut hits = Vec::new();
    let replay_at = query.mode.transaction_instant();
    let mut rest = ranked.as_slice();
    while !rest.is_empty() && hits.len() < query.limit {
        let (chunk, after) = rest.split_at((query.limit - hits.len()).min(rest.len()));
        rest = after;
        let ids: Vec<MemoryId> = chunk.iter().map(|(id, _)| *id).collect();
        let rows = snapshot.rows_at(account, &ids, replay_at)?;
        for (&(id, similarity), memory) in chunk.iter().zip(rows) {
            // Written after the replayed instant: not part of that state.
            let Some(memory) = memory else {
                continue;
            };
            if let Some(sources) = &query.sources
                && !sources.contains(&memory.source)
            {
                continue;
            }
            if !temporal::selects(&query.mode, &memory, now) {
                continue;
            }
            let score = match search_type {
                SearchType::Keyword => lexical.scored.get(&id).copied().unwrap_or(0.0),
                _ => similarity,
            };
            hits.push(SearchHit {
                memory,
                score,
                similarity,
            });
        }
    }
    Ok(hits)
}

/// Candidates re-scored exactly for each hit asked for, and at least this many. On the
/// clustered vectors of `benches/query_hybrid.rs` the index's recall@10 against the exact
/// scan is 1.000 at 100k memories with these; 400 exact vectors cost ~1 ms.
const RESCORE_PER_HIT: usize = 40;
const RESCORE_MIN: usize = 400;

/// Cosine similarity of `query` (unit length, space `tag`) to rows of `scope` that have a
/// vector of the same space and dimension, best first (ties: newest first), and whether the
/// ranking leaves rows out.
///
/// With a `budget` and a backend that keeps codes, rows are ranked by the Hamming distance of
/// their code to the question's and only the `budget` nearest are scored exactly; otherwise
/// every vector is. The dot products are computed on the stored bytes in place.
fn rank_vectors(
    snapshot: &dyn Read,
    scope: &Scope<'_>,
    tag: u64,
    query: &[f32],
    budget: Option<usize>,
) -> Result<(Vec<(MemoryId, f64)>, bool)> {
    let width = 4 * query.len();
    if let Some(budget) = budget {
        let wanted = crate::embed::code(query);
        let mut candidates: Vec<(u32, u64, MemoryId)> = Vec::new();
        let coded = snapshot.vector_codes(scope, tag, &mut |tree, dims, entries| {
            if dims != query.len() {
                return;
            }
            for entry in entries.chunks_exact(16 + wanted.len()) {
                let id = u128::from_be_bytes(entry[..16].try_into().expect("16 bytes"));
                let distance = crate::embed::hamming(&entry[16..], &wanted);
                candidates.push((distance, tree, MemoryId::from_u128(id)));
            }
        })?;
        if coded {
            let truncated = candidates.len() > budget;
            if truncated {
                candidates.select_nth_unstable_by_key(budget, |c| (c.0, std::cmp::Reverse(c.2)));
                candidates.truncate(budget);
            }
            // Key order: the exact vectors are read along the table.
            let mut keys: Vec<(u64, MemoryId)> = candidates.iter().map(|c| (c.1, c.2)).collect();
            keys.sort_unstable();
            let mut ranked = Vec::with_capacity(keys.len());
            snapshot.vectors_of(&keys, tag, &mut |id, components| {
                if components.len() == width {
                    ranked.push((id, dot_le(components, query)));
                }
            })?;
            sort(&mut ranked);
            return Ok((ranked, truncated));
        }
    }
    let mut ranked = Vec::new();
    snapshot.vectors(scope, tag, &mut |id, components| {
        // Another dimension (the model's output size changed) is not comparable.
        if components.len() == width {
            ranked.push((id, dot_le(components, query)));
        }
        ControlFlow::Continue(())
    })?;
    // (score, id) is a total order: an unstable sort is deterministic, and faster.
    sort(&mut ranked);
    Ok((ranked, false))
}

fn scaled(score: f64, scale: f64) -> f64 {
    if scale > 0.0 {
        (score / scale).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Best first, ties newest first: a total order, so the unstable sort is deterministic.
fn sort(ranked: &mut [(MemoryId, f64)]) {
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
}

/// Reciprocal rank fusion of the lexical scores and the semantic ranking, scaled so that a
/// row first in both rankings has similarity 1. The semantic ranking covers the whole scope
/// (every row with a vector), so the fused list is built along it; rows only the lexical
/// side found (no vector) are appended.
fn fuse(lexical: &HashMap<MemoryId, f64>, semantic: &[(MemoryId, f64)]) -> Vec<(MemoryId, f64)> {
    let term = |rank: usize| 1.0 / (RRF_K + 1.0 + rank as f64);
    let mut by_score: Vec<(MemoryId, f64)> = lexical.iter().map(|(id, s)| (*id, *s)).collect();
    sort(&mut by_score);
    // Lexical rank of each lexical hit, and whether the semantic pass met it.
    let mut lexical_rank: HashMap<MemoryId, (usize, bool)> = by_score
        .iter()
        .enumerate()
        .map(|(rank, (id, _))| (*id, (rank, false)))
        .collect();
    let best = 2.0 / (RRF_K + 1.0);
    let mut fused: Vec<(MemoryId, f64)> = Vec::with_capacity(semantic.len() + by_score.len());
    for (rank, (id, _)) in semantic.iter().enumerate() {
        let mut score = term(rank);
        if let Some((lexical, met)) = lexical_rank.get_mut(id) {
            score += term(*lexical);
            *met = true;
        }
        fused.push((*id, score));
    }
    for (id, (rank, met)) in lexical_rank {
        if !met {
            fused.push((id, term(rank)));
        }
    }
    for entry in &mut fused {
        entry.1 = (entry.1 / best).clamp(0.0, 1.0);
    }
    sort(&mut fused);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> MemoryId {
        MemoryId::from_u128(n)
    }

    #[test]
    fn fusion_prefers_rows_both_rankings_agree_on_and_scales_to_one() {
        let lexical = HashMap::from([(id(1), 9.0), (id(2), 5.0), (id(3), 1.0)]);
        let semantic = vec![(id(2), 0.9), (id(4), 0.8), (id(1), 0.1)];
        let fused = fuse(&lexical, &semantic);
        let order: Vec<u128> = fused.iter().map(|(id, _)| id.as_u128()).collect();
        // 2: ranks 2 and 1; 1: ranks 1 and 3; 4: rank 2 only; 3: rank 3 only.
        assert_eq!(order, [2, 1, 4, 3]);
        assert!(fused.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(fused.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
        let top = fuse(&HashMap::from([(id(7), 1.0)]), &[(id(7), 0.5)]);
        assert!((top[0].1 - 1.0).abs() < 1e-12);
    }
}
