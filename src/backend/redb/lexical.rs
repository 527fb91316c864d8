//! The lexical index in redb: one posting per (term, row) keyed under the row's scope, written
//! in the row's own transaction through a per-scope delta, and erased with the scope. The
//! scoring (BM25, conversation context) is the engine's (`store/lexical.rs`).

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::encoding::{
    DeltaRecord, LexicalStats, decode_delta, decode_lexical_stats, decode_posting, decode_row,
    decode_scope_row_key, encode_delta, encode_lexical_stats, encode_posting, posting_id,
    posting_key, posting_prefix, scope_row_key, scope_row_range,
};
use super::tables::*;
use crate::backend::{Analyzed, Posting, ScopePostings};
use crate::error::{Error, Result};
use crate::model::MemoryId;
use crate::text::Analyzer;

/// Rows a scope's delta holds before they are merged into `postings` in one go: a write
/// appends one record instead of ~10 scattered postings, and every `MERGE_AT`-th write pays
/// for a sorted bulk merge; a search scans at most this many small records per scope.
const MERGE_AT: u64 = 64;

/// The tables an insert writes the index to.
pub(crate) struct IndexTables<'t> {
    pub postings: Table<'t, &'static [u8], &'static [u8]>,
    pub delta: Table<'t, &'static [u8], &'static [u8]>,
    pub stats: Table<'t, u64, &'static [u8]>,
}

impl<'t> IndexTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(IndexTables {
            postings: txn.open_table(POSTINGS)?,
            delta: txn.open_table(LEXICAL_DELTA)?,
            stats: txn.open_table(LEXICAL_STATS)?,
        })
    }
}

/// Adds one row to its scope's index: appended to the scope's delta (merged into postings
/// every [`MERGE_AT`] rows), and the scope's counts.
pub(crate) fn index_row(
    t: &mut IndexTables<'_>,
    scope: u64,
    id: MemoryId,
    analyzed: &Analyzed,
) -> Result<()> {
    let record = DeltaRecord {
        len: analyzed.len,
        terms: analyzed.terms.clone(),
    };
    t.delta.insert(
        scope_row_key(scope, id).as_slice(),
        encode_delta(&record).as_slice(),
    )?;
    let mut stats = match t.stats.get(scope)? {
        Some(v) => decode_lexical_stats(v.value())?,
        None => LexicalStats::default(),
    };
    stats.rows += 1;
    stats.terms += u64::from(analyzed.len);
    stats.pending += 1;
    if stats.pending >= MERGE_AT {
        merge_scope(&mut t.postings, &mut t.delta, scope)?;
        stats.pending = 0;
    }
    t.stats
        .insert(scope, encode_lexical_stats(stats).as_slice())?;
    Ok(())
}

/// Moves a scope's delta into `postings`, in key order.
fn merge_scope(
    postings: &mut Table<'_, &'static [u8], &'static [u8]>,
    delta: &mut Table<'_, &'static [u8], &'static [u8]>,
    scope: u64,
) -> Result<()> {
    let (lo, hi) = scope_row_range(scope);
    let mut entries = Vec::new();
    for entry in delta.extract_from_if(lo.as_slice()..=hi.as_slice(), |_, _| true)? {
        let (key, value) = entry?;
        let (_, id) = decode_scope_row_key(key.value())?;
        let record = decode_delta(value.value())?;
        for (term, tf) in record.terms {
            entries.push((
                posting_key(scope, &term, id),
                encode_posting(tf as usize, record.len as usize),
            ));
        }
    }
    entries.sort_unstable();
    for (key, value) in entries {
        postings.insert(key.as_slice(), value.as_slice())?;
    }
    Ok(())
}

/// Erases the index of the scopes whose trees are `trees` (a hard delete).
pub(crate) fn erase_scopes(txn: &WriteTransaction, trees: &[u64]) -> Result<()> {
    let mut postings = txn.open_table(POSTINGS)?;
    let mut delta = txn.open_table(LEXICAL_DELTA)?;
    let mut stats = txn.open_table(LEXICAL_STATS)?;
    for tree in trees {
        let lo = tree.to_be_bytes();
        let hi = tree.saturating_add(1).to_be_bytes();
        postings.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)?;
        let (lo, hi) = scope_row_range(*tree);
        delta.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
        stats.remove(*tree)?;
    }
    Ok(())
}

/// Marks the index as not covering every row (a handle that skips indexing is writing), so
/// that the next handle with the index on rebuilds it.
pub(crate) fn mark_stale(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(META)?.remove(META_LEXICAL)?;
    Ok(())
}

/// Indexes every row unless the index is marked complete: for a store written before the
/// index existed, or by a handle that skipped it (once, at open).
pub(crate) fn build_if_missing(txn: &WriteTransaction, analyzer: &Analyzer) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if meta.get(META_LEXICAL)?.is_some() {
        return Ok(());
    }
    let mut tables = IndexTables::open(txn)?;
    // Start from nothing: a partial index would count rows twice.
    tables.postings.retain(|_, _| false)?;
    tables.delta.retain(|_, _| false)?;
    tables.stats.retain(|_, _| false)?;
    let rows = txn.open_table(ROWS)?;
    for entry in rows.iter()? {
        let (id, bytes) = entry?;
        let row = decode_row(bytes.value())?;
        let scope = row
            .positions
            .first()
            .ok_or_else(|| Error::Corrupted("row without a scope tree".into()))?
            .tree;
        let id = MemoryId::from_u128(id.value());
        index_row(&mut tables, scope, id, &analyzer.analyze(&row.decision))?;
    }
    meta.insert(META_LEXICAL, [1u8].as_slice())?;
    Ok(())
}

/// The statistics and, per term, the postings (merged ones and the delta's) of each of
/// `scopes` that has an index.
pub(crate) fn postings(
    txn: &ReadTransaction,
    scopes: &[u64],
    terms: &[String],
) -> Result<Vec<ScopePostings>> {
    let postings = txn.open_table(POSTINGS)?;
    let delta = txn.open_table(LEXICAL_DELTA)?;
    let stats = txn.open_table(LEXICAL_STATS)?;
    let mut out = Vec::with_capacity(scopes.len());
    for &scope in scopes {
        let Some(scope_stats) = stats
            .get(scope)?
            .map(|v| decode_lexical_stats(v.value()))
            .transpose()?
        else {
            continue;
        };
        // The rows not merged yet: scanned whole (at most MERGE_AT small records).
        let mut recent = Vec::new();
        if scope_stats.pending > 0 {
            let (lo, hi) = scope_row_range(scope);
            for entry in delta.range(lo.as_slice()..=hi.as_slice())? {
                let (key, value) = entry?;
                recent.push((
                    decode_scope_row_key(key.value())?.1,
                    decode_delta(value.value())?,
                ));
            }
        }
        let mut per_term = Vec::with_capacity(terms.len());
        for term in terms {
            let prefix = posting_prefix(scope, term);
            let mut matches = Vec::new();
            for entry in postings.range(prefix.as_slice()..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                let (tf, len) = decode_posting(value.value())?;
                matches.push(Posting {
                    id: posting_id(key.value())?,
                    tf: u32::from(tf),
                    len: u32::from(len),
                });
            }
            for (id, record) in &recent {
                if let Ok(i) = record.terms.binary_search_by(|(t, _)| t.as_str().cmp(term)) {
                    matches.push(Posting {
                        id: *id,
                        tf: record.terms[i].1,
                        len: record.len,
                    });
                }
            }
            per_term.push(matches);
        }
        out.push(ScopePostings {
            rows: scope_stats.rows,
            terms: scope_stats.terms,
            per_term,
        });
    }
    Ok(out)
}
