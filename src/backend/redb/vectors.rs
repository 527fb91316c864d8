//! The vector index in redb: each row's unit embedding under its scope (`vectors` table),
//! written in the row's transaction and erased with its scope. The ranking (exact cosine over
//! every vector of the scope) is the engine's (`store/search.rs`).

use std::ops::ControlFlow;

use redb::{ReadableTable, Table, WriteTransaction};

use super::encoding::{
    decode_scope_row_key, encode_vector, scope_row_key, scope_row_range, vector_parts,
};
use super::tables::VECTORS;
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

/// Visits every vector of space `tag` stored under `scopes`, in place.
pub(crate) fn visit(
    vectors: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scopes: &[u64],
    tag: u64,
    visit: &mut dyn FnMut(MemoryId, &[u8]) -> ControlFlow<()>,
) -> Result<()> {
    for &scope in scopes {
        let (lo, hi) = scope_row_range(scope);
        for entry in vectors.range(lo.as_slice()..=hi.as_slice())? {
            let (key, value) = entry?;
            let (stored_tag, components) = vector_parts(value.value())?;
            // Another model's vectors are not comparable.
            if stored_tag != tag {
                continue;
            }
            let (_, id) = decode_scope_row_key(key.value())?;
            if visit(id, components).is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The vector of space `tag` stored for row `id` of `scope`.
pub(crate) fn load(
    vectors: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scope: u64,
    id: MemoryId,
    tag: u64,
) -> Result<Option<Vec<f32>>> {
    let Some(value) = vectors.get(scope_row_key(scope, id).as_slice())? else {
        return Ok(None);
    };
    let (stored_tag, components) = vector_parts(value.value())?;
    if stored_tag != tag {
        return Ok(None);
    }
    Ok(Some(
        components
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    ))
}

/// Whether row `id` of `scope` has a vector of space `tag`.
pub(crate) fn has(
    vectors: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scope: u64,
    id: MemoryId,
    tag: u64,
) -> Result<bool> {
    Ok(match vectors.get(scope_row_key(scope, id).as_slice())? {
        Some(v) => vector_parts(v.value())?.0 == tag,
        None => false,
    })
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
