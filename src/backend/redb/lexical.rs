//! The lexical index in redb: each term's postings (row, tf, row length) of a scope in blocks
//! of about 1 KiB, written in the row's own transaction through a per-scope delta, and erased
//! with the scope. The scoring (BM25, conversation context) is the engine's
//! (`store/lexical.rs`).
//!
//! Blocks rather than one entry per (term, row): a posting costs 18 bytes instead of a
//! 30-byte key, a 4-byte value and redb's per-entry overhead, and a term's postings fill
//! whole pages instead of leaving the half-empty pages that inserting keys all over a table
//! leaves behind (the postings were a third of a 1M-version file).

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use std::collections::BTreeMap;

use super::encoding::{
    DeltaRecord, LexicalStats, POSTING_BLOCK_BYTES, decode_delta, decode_lexical_stats,
    decode_posting_block, decode_row, decode_scope_row_key, dedup_entry, dedup_key,
    delta_fingerprint, encode_delta, encode_lexical_stats, posting_block_key, posting_block_number,
    posting_prefix, push_posting, scope_row_key, scope_row_range,
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

/// The tables an insert writes the index to, and `dedup`, which receives the fingerprints
/// of the rows a merge moves out of the delta.
pub(crate) struct IndexTables<'t> {
    pub postings: Table<'t, &'static [u8], &'static [u8]>,
    pub delta: Table<'t, &'static [u8], &'static [u8]>,
    pub dedup: Table<'t, &'static [u8], ()>,
}

/// The key of a scope's statistics in `lexical_delta`: the scope's 8 bytes alone, which sort
/// just before its rows (scope ++ row id), so an insert updates them in the page it appends
/// to, and no row range of the scope contains them.
fn stats_key(scope: u64) -> [u8; 8] {
    scope.to_be_bytes()
}

/// A scope's statistics (`None`: nothing of the scope is indexed).
fn scope_stats<T>(delta: &T, scope: u64) -> Result<Option<LexicalStats>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    delta
        .get(stats_key(scope).as_slice())?
        .map(|v| decode_lexical_stats(v.value()))
        .transpose()
}

impl<'t> IndexTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(IndexTables {
            postings: txn.open_table(POSTING_BLOCKS)?,
            delta: txn.open_table(LEXICAL_DELTA)?,
            dedup: txn.open_table(DEDUP)?,
        })
    }
}

/// Calls `each(fingerprint, row)` for every row of `scope` waiting in the delta with its
/// duplicate fingerprint (not in `dedup` yet), in row order.
pub(crate) fn each_pending<T>(
    delta: &T,
    scope: u64,
    mut each: impl FnMut(&[u8], MemoryId),
) -> Result<()>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (lo, hi) = scope_row_range(scope);
    for entry in delta.range(lo.as_slice()..=hi.as_slice())? {
        let (key, value) = entry?;
        let fingerprint = delta_fingerprint(value.value())?;
        if !fingerprint.is_empty() {
            each(fingerprint, decode_scope_row_key(key.value())?.1);
        }
    }
    Ok(())
}

/// Drops the pending fingerprint of row `id` of `scope` (a row no longer live), so that the
/// merge does not put it in `dedup`; `false` if the row is not waiting in the delta.
pub(crate) fn forget_pending(
    delta: &mut Table<'_, &'static [u8], &'static [u8]>,
    scope: u64,
    id: MemoryId,
) -> Result<bool> {
    let key = scope_row_key(scope, id);
    let record = match delta.get(key.as_slice())? {
        Some(value) if !delta_fingerprint(value.value())?.is_empty() => {
            decode_delta(value.value())?
        }
        Some(_) => return Ok(true),
        None => return Ok(false),
    };
    delta.insert(key.as_slice(), encode_delta(&record, &[]).as_slice())?;
    Ok(true)
}

/// Adds one row to its scope's index: appended to the scope's delta (merged into postings
/// every [`MERGE_AT`] rows), and the scope's counts. A non-empty `fingerprint` waits in the
/// delta too and goes into `dedup` with the merge: the insert writes one page where the
/// fingerprint, at a random place in `dedup`, cost three. `true` if this insert merged the
/// scope's delta.
pub(crate) fn index_row(
    t: &mut IndexTables<'_>,
    scope: u64,
    id: MemoryId,
    analyzed: &Analyzed,
    fingerprint: &[u8],
) -> Result<bool> {
    let record = DeltaRecord {
        len: analyzed.len,
        terms: analyzed.terms.clone(),
    };
    t.delta.insert(
        scope_row_key(scope, id).as_slice(),
        encode_delta(&record, fingerprint).as_slice(),
    )?;
    let mut stats = scope_stats(&t.delta, scope)?.unwrap_or_default();
    stats.rows += 1;
    stats.terms += u64::from(analyzed.len);
    stats.pending += 1;
    let merged = stats.pending >= MERGE_AT;
    if merged {
        merge_scope(t, scope)?;
        stats.pending = 0;
    }
    t.delta.insert(
        stats_key(scope).as_slice(),
        encode_lexical_stats(stats).as_slice(),
    )?;
    Ok(merged)
}

/// A row to index: its id, its terms, its duplicate fingerprint (empty: none to keep).
pub(crate) type Indexed<'a> = (MemoryId, &'a Analyzed, &'a [u8]);

/// Adds many rows of one scope to its index at once (a bulk load): the scope's delta is
/// merged first, then the rows' postings are appended to the blocks and their non-empty
/// fingerprints go into `dedup`, in one pass; the scope's counts are written once.
pub(crate) fn index_rows(t: &mut IndexTables<'_>, scope: u64, rows: &[Indexed<'_>]) -> Result<()> {
    let mut stats = scope_stats(&t.delta, scope)?.unwrap_or_default();
    let (mut per_term, mut fingerprints) = if stats.pending > 0 {
        take_delta(&mut t.delta, scope)?
    } else {
        Default::default()
    };
    for &(id, analyzed, fingerprint) in rows {
        if !fingerprint.is_empty() {
            fingerprints.push(dedup_entry(&dedup_key(scope, fingerprint), id));
        }
        for (term, tf) in &analyzed.terms {
            per_term
                .entry(term.clone())
                .or_default()
                .push((id, *tf, analyzed.len));
        }
        stats.rows += 1;
        stats.terms += u64::from(analyzed.len);
    }
    stats.pending = 0;
    append_postings(t, scope, per_term, fingerprints)?;
    t.delta.insert(
        stats_key(scope).as_slice(),
        encode_lexical_stats(stats).as_slice(),
    )?;
    Ok(())
}

/// New postings by term, each term's in the order they are appended.
type PerTerm = BTreeMap<String, Vec<(MemoryId, u32, u32)>>;

/// Empties a scope's delta: its postings by term, in row order (the delta is keyed by row
/// id), and the `dedup` entries of its pending fingerprints.
fn take_delta(
    delta: &mut Table<'_, &'static [u8], &'static [u8]>,
    scope: u64,
) -> Result<(PerTerm, Vec<Vec<u8>>)> {
    let (lo, hi) = scope_row_range(scope);
    let mut per_term = PerTerm::new();
    let mut fingerprints = Vec::new();
    for entry in delta.extract_from_if(lo.as_slice()..=hi.as_slice(), |_, _| true)? {
        let (key, value) = entry?;
        let (_, id) = decode_scope_row_key(key.value())?;
        let fingerprint = delta_fingerprint(value.value())?;
        if !fingerprint.is_empty() {
            fingerprints.push(dedup_entry(&dedup_key(scope, fingerprint), id));
        }
        let record = decode_delta(value.value())?;
        for (term, tf) in record.terms {
            per_term.entry(term).or_default().push((id, tf, record.len));
        }
    }
    Ok((per_term, fingerprints))
}

/// Moves a scope's delta into its posting blocks.
fn merge_scope(t: &mut IndexTables<'_>, scope: u64) -> Result<()> {
    let (per_term, fingerprints) = take_delta(&mut t.delta, scope)?;
    append_postings(t, scope, per_term, fingerprints)
}

/// Appends each term's new postings to its last block, starting new blocks as blocks fill,
/// and puts `fingerprints` (`dedup` entries) into `dedup`.
fn append_postings(
    t: &mut IndexTables<'_>,
    scope: u64,
    per_term: PerTerm,
    mut fingerprints: Vec<Vec<u8>>,
) -> Result<()> {
    let postings = &mut t.postings;
    for (term, new) in per_term {
        let prefix = posting_prefix(scope, &term);
        let (mut number, mut block) = match last_block(postings, &prefix)? {
            Some((number, bytes)) if bytes.len() < POSTING_BLOCK_BYTES => (number, bytes),
            Some((number, _)) => (next_block(number)?, new_block()),
            None => (0, new_block()),
        };
        for (id, tf, len) in new {
            if block.len() >= POSTING_BLOCK_BYTES {
                postings.insert(
                    posting_block_key(&prefix, number).as_slice(),
                    block.as_slice(),
                )?;
                number = next_block(number)?;
                block.clear();
            }
            push_posting(&mut block, id, tf, len);
        }
        postings.insert(
            posting_block_key(&prefix, number).as_slice(),
            block.as_slice(),
        )?;
    }
    // In key order: neighbouring fingerprints share their pages.
    fingerprints.sort_unstable();
    for entry in fingerprints {
        t.dedup.insert(entry.as_slice(), ())?;
    }
    Ok(())
}

/// Moves every pending fingerprint of the delta into `dedup` (before the delta is rebuilt).
fn flush_fingerprints(t: &mut IndexTables<'_>) -> Result<()> {
    let mut entries = Vec::new();
    for entry in t.delta.iter()? {
        let (key, value) = entry?;
        // The scopes' statistics are the 8-byte keys; rows are scope ++ id.
        if key.value().len() != 24 {
            continue;
        }
        let (scope, id) = decode_scope_row_key(key.value())?;
        let fingerprint = delta_fingerprint(value.value())?;
        if !fingerprint.is_empty() {
            entries.push(dedup_entry(&dedup_key(scope, fingerprint), id));
        }
    }
    for entry in entries {
        t.dedup.insert(entry.as_slice(), ())?;
    }
    Ok(())
}

/// The number and bytes of the last block of the term whose key prefix is `prefix`.
fn last_block(
    postings: &Table<'_, &'static [u8], &'static [u8]>,
    prefix: &[u8],
) -> Result<Option<(u32, Vec<u8>)>> {
    let (lo, hi) = (
        posting_block_key(prefix, 0),
        posting_block_key(prefix, u32::MAX),
    );
    match postings.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => Ok(None),
        Some(entry) => {
            let (key, value) = entry?;
            Ok(Some((posting_block_number(key.value())?, {
                let mut block = new_block();
                block.extend_from_slice(value.value());
                block
            })))
        }
    }
}

/// An empty posting block with room for a full one and the posting that fills it (a block
/// grows a posting at a time).
fn new_block() -> Vec<u8> {
    Vec::with_capacity(POSTING_BLOCK_BYTES + 48)
}

fn next_block(number: u32) -> Result<u32> {
    number
        .checked_add(1)
        .ok_or_else(|| Error::Corrupted("a term has run out of posting block numbers".into()))
}

/// Erases the index of the scopes whose trees are `trees` (a hard delete).
pub(crate) fn erase_scopes(txn: &WriteTransaction, trees: &[u64]) -> Result<()> {
    let mut postings = txn.open_table(POSTING_BLOCKS)?;
    let mut delta = txn.open_table(LEXICAL_DELTA)?;
    for tree in trees {
        let lo = tree.to_be_bytes();
        let hi = tree.saturating_add(1).to_be_bytes();
        postings.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)?;
        let (lo, hi) = scope_row_range(*tree);
        delta.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
        delta.remove(stats_key(*tree).as_slice())?;
    }
    Ok(())
}

/// Marks the index as not covering every row (a handle that skips indexing is writing), so
/// that the next handle with the index on rebuilds it.
pub(crate) fn mark_stale(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(META)?.remove(META_LEXICAL)?;
    Ok(())
}

/// The value of `META_LEXICAL` once every row is in `posting_blocks`.
const INDEX_IN_BLOCKS: &[u8] = &[2];

/// Indexes every row unless the index is marked complete in its current layout: for a store
/// written before the index existed, by a handle that skipped it, or with the legacy
/// one-entry-per-posting table (deleted here). Once, at open.
pub(crate) fn build_if_missing(txn: &WriteTransaction, analyzer: &Analyzer) -> Result<()> {
    let mut meta = txn.open_table(META)?;
    if meta
        .get(META_LEXICAL)?
        .is_some_and(|v| v.value() == INDEX_IN_BLOCKS)
    {
        return Ok(());
    }
    txn.delete_table(LEGACY_POSTINGS)?;
    txn.delete_table(LEGACY_LEXICAL_STATS)?;
    let mut tables = IndexTables::open(txn)?;
    // The fingerprints waiting in the delta are the only copy: into `dedup` first.
    flush_fingerprints(&mut tables)?;
    // Start from nothing: a partial index would count rows twice.
    tables.postings.retain(|_, _| false)?;
    tables.delta.retain(|_, _| false)?;
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
        // Every row already has its fingerprint in `dedup` (flushed above, or written there).
        index_row(
            &mut tables,
            scope,
            id,
            &analyzer.analyze(&row.decision),
            &[],
        )?;
    }
    meta.insert(META_LEXICAL, INDEX_IN_BLOCKS)?;
    // A build that knows only the legacy table would miss every posting: it must refuse.
    super::require_feature(&mut meta, super::POSTING_BLOCKS_FEATURE)?;
    Ok(())
}

/// The statistics and, per term, the postings (merged ones and the delta's) of each of
/// `scopes` that has an index.
pub(crate) fn postings(
    txn: &ReadTransaction,
    scopes: &[u64],
    terms: &[String],
) -> Result<Vec<ScopePostings>> {
    let postings = txn.open_table(POSTING_BLOCKS)?;
    let delta = txn.open_table(LEXICAL_DELTA)?;
    let mut out = Vec::with_capacity(scopes.len());
    for &scope in scopes {
        let Some(scope_stats) = scope_stats(&delta, scope)? else {
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
            let (lo, hi) = (
                posting_block_key(&prefix, 0),
                posting_block_key(&prefix, u32::MAX),
            );
            let mut matches = Vec::new();
            for entry in postings.range(lo.as_slice()..=hi.as_slice())? {
                let (_, value) = entry?;
                decode_posting_block(value.value(), |id, tf, len| {
                    matches.push(Posting { id, tf, len });
                })?;
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
