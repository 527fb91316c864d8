//! The lexical index: BM25 over each memory's analysed `decision`, one posting per (term,
//! row) keyed under the row's scope, written in the row's own transaction and erased with
//! it. [`score`] ranks the postings of the question's terms; `search.rs` walks the ranking
//! within the temporal scope.

use std::collections::{BTreeMap, HashMap};

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::rows::load_row;
use super::tables::*;
use super::tree;
use crate::encoding::{
    DeltaRecord, LexicalStats, RowRecord, decode_delta, decode_lexical_stats, decode_posting,
    decode_row, decode_scope_row_key, encode_delta, encode_lexical_stats, encode_posting,
    posting_id, posting_key, posting_prefix, scope_row_key, scope_row_range,
};
use crate::error::{Error, Result};
use crate::model::MemoryId;
use crate::text::Analyzer;

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Share of a turn's score lent to its neighbours in the same session: `NEIGHBOUR_WEIGHT / d`
/// to the turns `d` positions away, up to [`NEIGHBOUR_WINDOW`].
const NEIGHBOUR_WEIGHT: f64 = 0.5;
/// How far (in turns of the same session) a turn lends score.
const NEIGHBOUR_WINDOW: u64 = 2;
/// How many of the best-scoring rows lend score to their neighbours (30 and 100 give the same
/// recall on LoCoMo; 30 costs half the time).
const NEIGHBOUR_POOL: usize = 30;

/// Distinct terms of a question that are searched.
const MAX_QUERY_TERMS: usize = 64;

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
    analyzer: &Analyzer,
    scope: u64,
    id: MemoryId,
    text: &str,
) -> Result<()> {
    let terms = analyzer.terms(text);
    let len = terms.len();
    let mut tf: BTreeMap<String, u32> = BTreeMap::new();
    for term in terms {
        *tf.entry(term).or_default() += 1;
    }
    let record = DeltaRecord {
        len: u32::try_from(len).unwrap_or(u32::MAX),
        terms: tf.into_iter().collect(),
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
    stats.terms += len as u64;
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
        index_row(&mut tables, analyzer, scope, id, &row.decision)?;
    }
    meta.insert(META_LEXICAL, [1u8].as_slice())?;
    Ok(())
}

/// BM25 of `terms` over `scopes`: each row's score, and the best score any row could
/// reach (every term, saturated) in the best scope.
fn bm25(
    postings: &impl ReadableTable<&'static [u8], &'static [u8]>,
    delta: &impl ReadableTable<&'static [u8], &'static [u8]>,
    stats: &impl ReadableTable<u64, &'static [u8]>,
    scopes: &[u64],
    terms: &[String],
) -> Result<(HashMap<MemoryId, f64>, f64)> {
    let mut scored: HashMap<MemoryId, f64> = HashMap::new();
    let mut best_possible: f64 = 0.0;
    for &scope in scopes {
        let Some(scope_stats) = stats
            .get(scope)?
            .map(|v| decode_lexical_stats(v.value()))
            .transpose()?
        else {
            continue;
        };
        if scope_stats.rows == 0 {
            continue;
        }
        let n = scope_stats.rows as f64;
        let avg_len = (scope_stats.terms as f64 / n).max(1.0);
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
        let mut bound = 0.0;
        for term in terms {
            let prefix = posting_prefix(scope, term);
            let mut matches = Vec::new();
            for entry in postings.range(prefix.as_slice()..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                let (tf, len) = decode_posting(value.value())?;
                matches.push((posting_id(key.value())?, f64::from(tf), f64::from(len)));
            }
            for (id, record) in &recent {
                if let Ok(i) = record.terms.binary_search_by(|(t, _)| t.as_str().cmp(term)) {
                    matches.push((*id, f64::from(record.terms[i].1), f64::from(record.len)));
                }
            }
            if matches.is_empty() {
                continue;
            }
            let df = matches.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            bound += idf * (K1 + 1.0);
            for (id, tf, len) in matches {
                let norm = tf + K1 * (1.0 - B + B * len / avg_len);
                *scored.entry(id).or_default() += idf * tf * (K1 + 1.0) / norm;
            }
        }
        best_possible = best_possible.max(bound);
    }
    Ok((scored, best_possible))
}

/// What the lexical side of a search found: each matching row's score (BM25, plus what its
/// session neighbours lent it), the scale of those scores, and the rows loaded on the way.
#[derive(Default)]
pub(crate) struct LexicalScores {
    pub scored: HashMap<MemoryId, f64>,
    /// The best score any row could reach (every term, saturated) in the best scope: the
    /// scale of `similarity`, one for all hits, so similarity is monotone with the score.
    pub best_possible: f64,
    /// Rows loaded while lending: the likeliest hits, kept for the walk.
    pub loaded: HashMap<MemoryId, RowRecord>,
}

/// Scores `text` over `scopes`.
pub(crate) fn score(
    txn: &ReadTransaction,
    analyzer: &Analyzer,
    scopes: &[u64],
    text: &str,
) -> Result<LexicalScores> {
    let mut terms = analyzer.terms(text);
    // A question is a sentence, not a document: its first MAX_QUERY_TERMS distinct terms are
    // searched (a megabyte of text would otherwise cost one index scan per word).
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_QUERY_TERMS);
    terms.sort();
    if terms.is_empty() {
        return Ok(LexicalScores::default());
    }
    let postings = txn.open_table(POSTINGS)?;
    let delta = txn.open_table(LEXICAL_DELTA)?;
    let stats = txn.open_table(LEXICAL_STATS)?;
    let (mut scored, best_possible) = bm25(&postings, &delta, &stats, scopes, &terms)?;
    let rows = txn.open_table(ROWS)?;
    let nodes = txn.open_table(TREE_NODES)?;
    // Rows loaded while lending: the likeliest hits, kept for the walk.
    let mut loaded = HashMap::with_capacity(NEIGHBOUR_POOL);
    // Conversation context: a turn near a strongly matching turn of the same session (the
    // answer to a question, the question of an answer) gains a share of its score.
    let mut pool: Vec<(MemoryId, f64)> = scored.iter().map(|(id, s)| (*id, *s)).collect();
    pool.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    pool.truncate(NEIGHBOUR_POOL);
    for (id, score) in pool {
        let Some(row) = load_row(&rows, id)? else {
            continue;
        };
        let row = &*loaded.entry(id).or_insert(row);
        // Positions: scope, source, then the session's tree when there is one.
        let Some(session) = row.positions.get(2).filter(|_| row.session_id.is_some()) else {
            continue;
        };
        for d in 1..=NEIGHBOUR_WINDOW {
            let w = NEIGHBOUR_WEIGHT / d as f64;
            let before = session.seq.checked_sub(d);
            for seq in before.into_iter().chain([session.seq + d]) {
                if let Some(neighbour) = tree::leaf_id(&nodes, session.tree, seq)? {
                    *scored.entry(neighbour).or_default() += w * score;
                }
            }
        }
    }
    Ok(LexicalScores {
        scored,
        best_possible,
        loaded,
    })
}
