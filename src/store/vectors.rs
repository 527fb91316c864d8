//! The vector index: each row's unit embedding under its scope (`vectors` table), written in
//! the row's transaction and erased with its scope. A semantic search scans the scope's
//! vectors exactly (no approximate index): every row of the scope is ranked, so the temporal
//! walk after it can never run out of candidates, and recall is the model's, not an index's.

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::VECTORS;
use crate::embed::{dot_le, embed_units};
use crate::encoding::{
    decode_scope_row_key, encode_vector, scope_row_key, scope_row_range, vector_parts,
};
use crate::error::Result;
use crate::model::MemoryId;

/// Stores `vector` (unit length, space `tag`) for row `id` of `scope`.
pub(crate) fn store_vector(
    vectors: &mut Table<'_, &'static [u8], &'static [u8]>,
    scope: u64,
    id: MemoryId,
    tag: u64,
    vector: &[f32],
) -> Result<()> {
    vectors.insert(
        scope_row_key(scope, id).as_slice(),
        encode_vector(tag, vector).as_slice(),
    )?;
    Ok(())
}

/// Cosine similarity of `query` (unit length, space `tag`) to every row of `scopes` that has a
/// vector of the same space, best first (ties: newest first).
pub(crate) fn rank(
    vectors: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scopes: &[u64],
    tag: u64,
    query: &[f32],
) -> Result<Vec<(MemoryId, f64)>> {
    let mut ranked = Vec::new();
    let width = 4 * query.len();
    for &scope in scopes {
        let (lo, hi) = scope_row_range(scope);
        for entry in vectors.range(lo.as_slice()..=hi.as_slice())? {
            let (key, value) = entry?;
            let (stored_tag, components) = vector_parts(value.value())?;
            // Another model's vectors (or another dimension) are not comparable.
            if stored_tag != tag || components.len() != width {
                continue;
            }
            let (_, id) = decode_scope_row_key(key.value())?;
            ranked.push((id, dot_le(components, query)));
        }
    }
    // (score, id) is a total order: an unstable sort is deterministic, and faster.
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    Ok(ranked)
}

/// Erases the vectors of the scopes whose trees are `trees` (a hard delete).
pub(crate) fn erase_scopes(txn: &WriteTransaction, trees: &[u64]) -> Result<()> {
    let mut vectors = txn.open_table(VECTORS)?;
    for &tree in trees {
        let (lo, hi) = scope_row_range(tree);
        vectors.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    }
    Ok(())
}

impl super::Store {
    /// The unit vector stored for memory `id` in this embedder's space, if any.
    pub(super) fn stored_vector(&self, id: MemoryId) -> Result<Option<Vec<f32>>> {
        let txn = self.begin_read()?;
        let Some(row) = super::rows::load_row(&txn.open_table(super::tables::ROWS)?, id)? else {
            return Ok(None);
        };
        let Some(scope) = row.positions.first().map(|p| p.tree) else {
            return Ok(None);
        };
        let vectors = txn.open_table(VECTORS)?;
        let Some(value) = vectors.get(scope_row_key(scope, id).as_slice())? else {
            return Ok(None);
        };
        let (tag, components) = vector_parts(value.value())?;
        if tag != self.inner.embedder_tag {
            return Ok(None);
        }
        Ok(Some(
            components
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    /// Embeds every memory that has no vector of the configured embedder's space: rows
    /// written before embeddings were configured, or with another model. Works in batches
    /// of `batch` rows: each batch is read in one snapshot, embedded with no transaction
    /// open, and its vectors written in one transaction (rows hard-deleted meanwhile are
    /// skipped). Safe to interrupt and run again, and alongside other writes. `progress` is
    /// called with the running count after each batch. Returns how many rows were embedded.
    ///
    /// Errors: `InvalidArgument` without an embedder (or with `batch == 0`); `Unavailable`
    /// when the embedding service fails (the batches before it are kept).
    pub fn embed_missing(&self, batch: usize, mut progress: impl FnMut(usize)) -> Result<usize> {
        let Some(embedder) = self.inner.embedder.clone() else {
            return Err(crate::error::Error::InvalidArgument(
                "embed_missing needs an embedder (StoreOptions::embedder)".into(),
            ));
        };
        if batch == 0 {
            return Err(crate::error::Error::InvalidArgument(
                "batch must be at least 1".into(),
            ));
        }
        let tag = self.inner.embedder_tag;
        let mut after: Option<u128> = None;
        let mut done = 0;
        loop {
            // (scope, id, text) of the next rows without a vector of this space.
            let mut pending: Vec<(u64, MemoryId, String)> = Vec::with_capacity(batch);
            let mut last = None;
            {
                let txn = self.begin_read()?;
                let rows = txn.open_table(super::tables::ROWS)?;
                let vectors = txn.open_table(VECTORS)?;
                let range = match after {
                    Some(id) => rows.range(id.saturating_add(1)..)?,
                    None => rows.range(0u128..)?,
                };
                for entry in range {
                    let (key, value) = entry?;
                    let id = key.value();
                    last = Some(id);
                    let row = crate::encoding::decode_row(value.value())?;
                    let Some(scope) = row.positions.first().map(|p| p.tree) else {
                        continue;
                    };
                    let memory_id = MemoryId::from_u128(id);
                    let has_vector =
                        match vectors.get(scope_row_key(scope, memory_id).as_slice())? {
                            Some(v) => vector_parts(v.value())?.0 == tag,
                            None => false,
                        };
                    if !has_vector {
                        pending.push((scope, memory_id, row.decision));
                        if pending.len() == batch {
                            break;
                        }
                    }
                    if id == u128::MAX {
                        break;
                    }
                }
            }
            if pending.is_empty() {
                return Ok(done);
            }
            let texts: Vec<&str> = pending.iter().map(|(_, _, t)| t.as_str()).collect();
            let embedded = embed_units(embedder.as_ref(), &texts)?;
            let written = self.transact(|txn, _| {
                let rows = txn.open_table(super::tables::ROWS)?;
                let mut vectors = txn.open_table(VECTORS)?;
                let mut written = 0;
                for ((scope, id, _), vector) in pending.iter().zip(embedded) {
                    // Hard-deleted since the snapshot: nothing to attach the vector to.
                    if rows.get(id.as_u128())?.is_none() {
                        continue;
                    }
                    // A zero vector has no direction: the row stays keyword-only.
                    if let Some(unit) = vector {
                        store_vector(&mut vectors, *scope, *id, tag, &unit)?;
                        written += 1;
                    }
                }
                Ok(written)
            })?;
            done += written;
            progress(done);
            after = last;
        }
    }
}
