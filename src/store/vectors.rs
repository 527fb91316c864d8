//! The vector index: each row's unit embedding under its scope (`vectors` table), written in
//! the row's transaction and erased with its scope. A semantic search scans the scope's
//! vectors exactly (no approximate index): every row of the scope is ranked, so the temporal
//! walk after it can never run out of candidates, and recall is the model's, not an index's.

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::VECTORS;
use crate::embed::dot_le;
use crate::encoding::{decode_scope_row_key, encode_vector, scope_row_key, vector_parts};
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
        let lo = scope_row_key(scope, MemoryId::from_u128(0));
        let hi = scope_row_key(scope, MemoryId::from_u128(u128::MAX));
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
        let lo = scope_row_key(tree, MemoryId::from_u128(0));
        let hi = scope_row_key(tree, MemoryId::from_u128(u128::MAX));
        vectors.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    }
    Ok(())
}
