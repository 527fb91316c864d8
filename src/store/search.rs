//! `Store::search`: candidates for a question within the temporal scope. Up to two rankings
//! are computed over the scope (lexical BM25 when the index is on, cosine similarity when an
//! embedder is configured), fused by score when there are two (see `fuse`), and the fused
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

    /// The method a search with `asked` uses: the store's own, or the one asked for when the
    /// store can do it.
    fn method(&self, asked: Option<SearchType>) -> Result<SearchType> {
        let Some(own) = self.search_type() else {
            return Err(Error::InvalidArgument(
                "this store was opened without the lexical index (StoreOptions::lexical_index) \
                 and without an embedder: it cannot search"
                    .into(),
            ));
        };
        let Some(asked) = asked else {
            return Ok(own);
        };
        let can = match asked {
            SearchType::Keyword => self.inner.lexical_index,
            SearchType::Semantic => self.inner.embedder.is_some(),
            SearchType::Hybrid => own == SearchType::Hybrid,
        };
        if can {
            Ok(asked)
        } else {
            Err(Error::InvalidArgument(format!(
                "this store cannot search by {} (it searches by {})",
                asked.as_str(),
                own.as_str()
            )))
        }
    }

    /// Searches the memories of `account` for `query.text`, within the rows a list with the
    /// same tenant, mode and sources would return. Best first.
    ///
    /// Keyword search (BM25 over analysed terms, with session neighbours lending score) when
    /// only the lexical index is on; semantic (cosine to the question's embedding) when only
    /// an embedder is configured; both fused by score (hybrid, see `fuse`) when both are.
    /// [`SearchQuery::method`] picks another method the store can do.
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
        let search_type = self.method(query.method)?;
        // The network call happens before the snapshot is taken: no read transaction waits
        // on it.
        let embedder = match search_type {
            SearchType::Keyword => None,
            _ => self.inner.embedder.as_ref(),
        };
        let question_vector = match (embedder, known) {
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
        let mut lexical = if search_type == SearchType::Semantic {
            lexical::LexicalScores::default()
        } else {
            lexical::score(snapshot.as_ref(), &self.inner.analyzer, &scope, &query.text)?
        };
        if search_type == SearchType::Keyword {
            lexical::lend(
                snapshot.as_ref(),
                account,
                &mut lexical.scored,
                lexical::NEIGHBOUR_WEIGHT,
            )?;
        }
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
                SearchType::Hybrid => fuse(snapshot.as_ref(), account, &lexical, &semantic)?,
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
    ranked.sort_unstable_by(best_first);
}

/// The order of [`sort`]: higher score first, then the newer id.
pub(super) fn best_first(a: &(MemoryId, f64), b: &(MemoryId, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(b.0.cmp(&a.0))
}

/// Weight of the lexical side in the fused score (the semantic side has the rest). Both sides
/// are scaled to [0, 1] first: BM25 by the best score of the question, cosine by min-max over
/// the best [`SEMANTIC_SPAN`] rows. On LoCoMo (tuning conversations) 0.5 to 0.65 are within
/// 0.01 of each other in recall@10; 0.3 loses 0.09.
const LEXICAL_WEIGHT: f64 = 0.6;
/// Cosine is rescaled between the best row (1) and the `SEMANTIC_SPAN`-th (0); rows below
/// add only [`TAIL`]. Raw cosine instead loses 0.02–0.03 of recall@10: MiniLM's cosines
/// crowd into a narrow band, so the lexical side would decide alone.
const SEMANTIC_SPAN: usize = 50;
/// What cosine adds beyond the span (times 1 + cosine): enough to order those rows, too
/// little to reorder any within it.
const TAIL: f64 = 1e-6;
/// Share of a fused score lent to session neighbours (`weight / d`, see [`lexical::lend`]).
/// Lending after fusion, not before, is what lifts hybrid above keyword search.
const FUSED_NEIGHBOUR_WEIGHT: f64 = 0.3;
/// Score-based fusion of the lexical scores (BM25, nothing lent yet) and the semantic ranking
/// (best first): `LEXICAL_WEIGHT · bm25 / best bm25 + (1 − LEXICAL_WEIGHT) · rescaled
/// cosine`, then session neighbours borrow from the best fused rows. Best first (ties newest
/// first), similarity the fused score capped at 1 (ranked before capping, as keyword search
/// is).
fn fuse(
    snapshot: &dyn Read,
    account: &str,
    lexical: &lexical::LexicalScores,
    semantic: &[(MemoryId, f64)],
) -> Result<Vec<(MemoryId, f64)>> {
    let mut fused = combine(&lexical.scored, semantic);
    lexical::lend(snapshot, account, &mut fused, FUSED_NEIGHBOUR_WEIGHT)?;
    let mut ranked: Vec<(MemoryId, f64)> = fused.into_iter().collect();
    sort(&mut ranked);
    for entry in &mut ranked {
        entry.1 = entry.1.clamp(0.0, 1.0);
    }
    Ok(ranked)
}

/// The fused score of every row either side found, before lending (see [`fuse`]).
fn combine(
    lexical: &HashMap<MemoryId, f64>,
    semantic: &[(MemoryId, f64)],
) -> HashMap<MemoryId, f64> {
    let best_lexical = lexical.values().copied().fold(0.0, f64::max);
    let mut fused: HashMap<MemoryId, f64> = lexical
        .iter()
        .map(|(id, score)| (*id, LEXICAL_WEIGHT * scaled(*score, best_lexical)))
        .collect();
    // Between the best cosine and the SEMANTIC_SPAN-th; a flat ranking rescales to 0.
    let (hi, lo) = match (
        semantic.first(),
        semantic.get(semantic.len().min(SEMANTIC_SPAN).saturating_sub(1)),
    ) {
        (Some(first), Some(last)) => (first.1, last.1),
        _ => (0.0, 0.0),
    };
    for (id, cosine) in semantic {
        let rescaled = if hi > lo {
            ((cosine - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Rows past the span still enter, ordered by cosine among themselves (a search with
        // a high limit returns every row of the scope, as a list does).
        let share = rescaled + TAIL * (1.0 + cosine);
        *fused.entry(*id).or_default() += (1.0 - LEXICAL_WEIGHT) * share;
    }
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> MemoryId {
        MemoryId::from_u128(n)
    }

    #[test]
    fn fusion_weighs_both_scores_and_reaches_one_only_for_the_best_of_both() {
        let lexical = HashMap::from([(id(1), 9.0), (id(2), 6.0), (id(3), 1.0)]);
        // Cosines: 2 is the best semantic row (1 after rescaling), 1 the worst (0).
        let semantic = vec![(id(2), 0.9), (id(4), 0.8), (id(1), 0.5)];
        let fused = combine(&lexical, &semantic);
        let w = LEXICAL_WEIGHT;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-5;
        let expect = |row: u128, value: f64| {
            assert!(close(fused[&id(row)], value), "{row}: {}", fused[&id(row)]);
        };
        expect(1, w);
        expect(2, w * 6.0 / 9.0 + (1.0 - w));
        expect(3, w / 9.0);
        expect(4, (1.0 - w) * 0.75);
        let top = combine(
            &HashMap::from([(id(7), 2.0)]),
            &[(id(7), 0.5), (id(8), 0.1)],
        );
        assert!(close(top[&id(7)], 1.0));
        assert!(top[&id(8)] > 0.0 && close(top[&id(8)], 0.0));
        // Every row with a vector is ranked, past the span by cosine; a flat semantic
        // ranking leaves the order to the lexical side.
        let many: Vec<(MemoryId, f64)> = (0..SEMANTIC_SPAN as u128 + 10)
            .map(|n| (id(100 + n), 0.9 - n as f64 / 1000.0))
            .collect();
        let ranked = combine(&HashMap::new(), &many);
        assert_eq!(ranked.len(), many.len());
        assert!(many.windows(2).all(|p| ranked[&p[0].0] > ranked[&p[1].0]));
        let flat = combine(&lexical, &[(id(4), 0.3), (id(5), 0.3)]);
        assert_eq!(flat.len(), 5);
        assert!(flat[&id(1)] > flat[&id(2)] && flat[&id(2)] > flat[&id(4)]);
    }
}
