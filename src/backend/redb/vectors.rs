//! The vector index in redb: each row's unit embedding under its scope (`vectors` table) and
//! its binary code (`vector_codes`, blocks of sign bits per scope and space), written in the
//! row's transaction and erased with its scope. The ranking (codes first, then the exact
//! cosine of the best) is the engine's (`store/search.rs`).

use std::ops::ControlFlow;

use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use super::encoding::{
    decode_scope_row_key, encode_vector, scope_row_key, scope_row_range, vector_parts,
};
use super::tables::{META, META_VECTOR_CODES, VECTOR_CODES, VECTORS};
use crate::error::Result;
use crate::model::MemoryId;

/// Codes a block holds: 64 codes of 384 components are 4 KiB, one page, so an append rewrites
/// one page and a scan of 100k rows reads 1 563 values.
pub(crate) const CODES_PER_BLOCK: usize = 64;

/// Files that hold codes require this feature: builds before it would append vectors without
/// their codes, which search would then never find.
pub(crate) const VECTOR_CODES_FEATURE: &str = "vector-codes";

type BytesTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

fn codes_key(scope: u64, tag: u64, block: u32) -> [u8; 20] {
    let mut k = [0; 20];
    k[..8].copy_from_slice(&scope.to_be_bytes());
    k[8..16].copy_from_slice(&tag.to_be_bytes());
    k[16..].copy_from_slice(&block.to_be_bytes());
    k
}

/// The first and last `codes_key` of the blocks of `scope` and space `tag`.
fn codes_range(scope: u64, tag: u64) -> ([u8; 20], [u8; 20]) {
    (codes_key(scope, tag, 0), codes_key(scope, tag, u32::MAX))
}

/// Little-endian f32 components, decoded.
fn decode_components(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Appends the code of `vector` (row `id` of `scope`, space `tag`) to the scope's last block
/// of that space, or starts a new block when it is full or of other dimensions.
pub(crate) fn append_code(
    codes: &mut BytesTable<'_>,
    scope: u64,
    id: MemoryId,
    tag: u64,
    vector: &[f32],
) -> Result<()> {
    let dims = u16::try_from(vector.len()).map_err(|_| {
        crate::error::Error::InvalidArgument(format!(
            "a vector of {} components is longer than the store keeps (65535)",
            vector.len()
        ))
    })?;
    let code = crate::embed::code(vector);
    let entry = 16 + code.len();
    let (lo, hi) = codes_range(scope, tag);
    let last = match codes.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        Some(found) => {
            let (key, value) = found?;
            let block = u32::from_be_bytes(key.value()[16..20].try_into().expect("20-byte key"));
            Some((block, value.value().to_vec()))
        }
        None => None,
    };
    let (block, mut value) = match last {
        Some((block, value))
            if value.len() >= 2
                && u16::from_be_bytes([value[0], value[1]]) == dims
                && (value.len() - 2) / entry < CODES_PER_BLOCK =>
        {
            (block, value)
        }
        Some((block, _)) => (block + 1, dims.to_be_bytes().to_vec()),
        None => (0, dims.to_be_bytes().to_vec()),
    };
    value.extend_from_slice(&id.as_u128().to_be_bytes());
    value.extend_from_slice(&code);
    codes.insert(codes_key(scope, tag, block).as_slice(), value.as_slice())?;
    Ok(())
}

/// Visits the code blocks of space `tag` under `scopes`: `(scope, dims, entries)`, the
/// entries being `row id (16) ++ code` each.
pub(crate) fn visit_codes(
    codes: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scopes: &[u64],
    tag: u64,
    visit: &mut dyn FnMut(u64, usize, &[u8]),
) -> Result<()> {
    for &scope in scopes {
        let (lo, hi) = codes_range(scope, tag);
        for entry in codes.range(lo.as_slice()..=hi.as_slice())? {
            let (_, value) = entry?;
            let value = value.value();
            if value.len() < 2 {
                return Err(crate::error::Error::Corrupted(
                    "short vector code block".into(),
                ));
            }
            let dims = usize::from(u16::from_be_bytes([value[0], value[1]]));
            let width = 16 + dims.div_ceil(8);
            if !(value.len() - 2).is_multiple_of(width) {
                return Err(crate::error::Error::Corrupted(
                    "vector code block of a partial entry".into(),
                ));
            }
            visit(scope, dims, &value[2..]);
        }
    }
    Ok(())
}

/// Codes every vector again unless the codes are complete: files written before
/// `vector_codes` existed, or since opened with `StoreOptions::vector_index(false)`. Marks the
/// store as coded (and as requiring the feature when it holds any code).
pub(crate) fn code_if_missing(txn: &WriteTransaction) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(META_VECTOR_CODES)?.is_some() {
        return Ok(());
    }
    let vectors = txn.open_table(VECTORS)?;
    let mut codes = txn.open_table(VECTOR_CODES)?;
    codes.retain(|_, _| false)?;
    let mut any = false;
    if !vectors.is_empty()? {
        for entry in vectors.iter()? {
            let (key, value) = entry?;
            let (scope, id) = decode_scope_row_key(key.value())?;
            let (tag, components) = vector_parts(value.value())?;
            append_code(&mut codes, scope, id, tag, &decode_components(components))?;
            any = true;
        }
    }
    if any {
        super::require_feature(&mut meta, VECTOR_CODES_FEATURE)?;
    }
    meta.insert(META_VECTOR_CODES, [1u8].as_slice())?;
    Ok(())
}

/// Marks the codes incomplete (writes are about to skip them): the next open that keeps them
/// codes every vector again.
pub(crate) fn mark_stale(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(META)?.remove(META_VECTOR_CODES)?;
    Ok(())
}

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
    Ok(Some(decode_components(components)))
}

/// The vector of row `id` of `scope` with its space tag, whatever the space.
pub(crate) fn load_any(
    vectors: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scope: u64,
    id: MemoryId,
) -> Result<Option<(u64, Vec<f32>)>> {
    let Some(value) = vectors.get(scope_row_key(scope, id).as_slice())? else {
        return Ok(None);
    };
    let (tag, components) = vector_parts(value.value())?;
    Ok(Some((tag, decode_components(components))))
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

/// Erases the vectors and codes of the scopes whose trees are `trees` (a hard delete).
pub(crate) fn erase_scopes(txn: &WriteTransaction, trees: &[u64]) -> Result<()> {
    let mut vectors = txn.open_table(VECTORS)?;
    let mut codes = txn.open_table(VECTOR_CODES)?;
    for &tree in trees {
        let (lo, hi) = scope_row_range(tree);
        vectors.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
        let lo = codes_key(tree, 0, 0);
        let hi = codes_key(tree, u64::MAX, u32::MAX);
        codes.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    }
    Ok(())
}
