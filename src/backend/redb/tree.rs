//! Interval-summary trees: the index behind every list read.
//!
//! Each tree orders the rows of one scope (account + tenant, optionally narrowed to a source or
//! a session) by insertion sequence, which is `created_at` order because transaction time only
//! increases. Level 0 holds one entry per row: its id and its [`Summary`] (created_at,
//! valid_from, valid_to, when valid_to was set, and the end of its "current" interval on the
//! transaction axis). Level `L` holds, for every block of 64 nodes of level `L-1`, the merge of
//! their summaries (minimum of lower bounds, maximum of upper bounds).
//!
//! A read walks the tree from the newest row backwards and skips every block whose summary
//! proves that no row inside can match (for example "every row in here ended before T"). The
//! cost of a read is therefore driven by the rows it returns and the blocks it has to open, not
//! by the length of the history: O(k + log n) node visits when matches are dense, and
//! O(log n) per skipped dead region when they are not.

use std::ops::ControlFlow;

use redb::{ReadableTable, Table};

use super::encoding::{Summary, decode_node, encode_node, node_key};
use crate::error::Result;
use crate::model::MemoryId;

/// log2 of the fan-out.
const FANOUT_BITS: u32 = 6;

/// Highest level in use for a tree holding `count` rows.
fn top_level(count: u64) -> u8 {
    let mut level = 0u8;
    while count > 1 && ((count - 1) >> (FANOUT_BITS * u32::from(level))) > 0 {
        level += 1;
    }
    level
}

fn children(index: u64) -> (u64, u64) {
    (index << FANOUT_BITS, (index + 1) << FANOUT_BITS)
}

fn merged_range<T>(nodes: &T, tree: u64, level: u8, lo: u64, hi: u64) -> Result<Summary>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (a, b) = (node_key(tree, level, lo), node_key(tree, level, hi));
    let mut acc = Summary::EMPTY;
    for entry in nodes.range(a.as_slice()..b.as_slice())? {
        let (_, value) = entry?;
        acc = acc.merge(decode_node(value.value())?.0);
    }
    Ok(acc)
}

/// Number of rows in the tree (its next sequence number).
/// The row at position `seq` of `tree`, if there is one.
pub(crate) fn leaf_id<T>(nodes: &T, tree: u64, seq: u64) -> Result<Option<MemoryId>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    match nodes.get(node_key(tree, 0, seq).as_slice())? {
        Some(value) => Ok(decode_node(value.value())?.1),
        None => Ok(None),
    }
}

pub(crate) fn count<T>(nodes: &T, tree: u64) -> Result<u64>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (lo, hi) = (node_key(tree, 0, 0), node_key(tree, 0, u64::MAX));
    match nodes.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => Ok(0),
        Some(entry) => Ok(super::encoding::decode_node_key(entry?.0.value())?.2 + 1),
    }
}

/// Visits the rows of `tree` from position `from` on, in position (creation) order, until
/// `visit` breaks.
pub(crate) fn scan_asc<T>(
    nodes: &T,
    tree: u64,
    from: u64,
    visit: &mut dyn FnMut(MemoryId, &Summary) -> Result<ControlFlow<()>>,
) -> Result<()>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (lo, hi) = (node_key(tree, 0, from), node_key(tree, 0, u64::MAX));
    for entry in nodes.range(lo.as_slice()..=hi.as_slice())? {
        let (_, value) = entry?;
        let (summary, id) = decode_node(value.value())?;
        let id = id.ok_or_else(|| {
            crate::error::Error::Corrupted(format!("tree {tree} has a leaf without its row"))
        })?;
        if visit(id, &summary)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Number of leading rows (of the tree's first `count`) created at or before `t`. Rows are in
/// `created_at` order, so this is a binary search over level 0: O(log n) point reads.
pub(crate) fn created_prefix<T>(nodes: &T, tree: u64, count: u64, t: i64) -> Result<u64>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let created = match nodes.get(node_key(tree, 0, mid).as_slice())? {
            Some(v) => decode_node(v.value())?.0.created,
            None => {
                return Err(crate::error::Error::Corrupted(format!(
                    "tree {tree} misses row {mid}"
                )));
            }
        };
        if created <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Appends row `seq` (which must be the tree's next sequence number) with its summary, and
/// the aggregate of every block this row completes.
///
/// Only complete blocks have an aggregate: a read never opens the newest, partial block of a
/// level through its parent (`scan_desc` reads the partial blocks' rows and nodes directly,
/// then climbs to the complete ones), so an append writes its leaf and, once every 64 rows,
/// the node above — not the whole right edge of the tree. The right edge lives in other
/// pages than the newest leaves; rewriting it cost about one page per tree per insert.
/// Files written before kept partial aggregates: nothing reads them, `update` recomputes
/// them from their children, and the append that completes their block overwrites them.
pub(crate) fn append(
    nodes: &mut Table<&'static [u8], &'static [u8]>,
    tree: u64,
    seq: u64,
    summary: Summary,
    id: MemoryId,
) -> Result<()> {
    nodes.insert(
        node_key(tree, 0, seq).as_slice(),
        encode_node(&summary, Some(id)).as_slice(),
    )?;
    let block = (1u64 << FANOUT_BITS) - 1;
    let mut index = seq;
    for level in 1..=u8::MAX {
        // `index` (at `level - 1`) just got written: it completes its block if it is the
        // block's last.
        if index & block != block {
            break;
        }
        index >>= FANOUT_BITS;
        let (lo, hi) = children(index);
        let aggregate = merged_range(nodes, tree, level - 1, lo, hi)?;
        nodes.insert(
            node_key(tree, level, index).as_slice(),
            encode_node(&aggregate, None).as_slice(),
        )?;
    }
    Ok(())
}

/// Replaces the summary of row `seq` and recomputes the aggregates above it, stopping as soon
/// as one does not change (or above the top level, where no node exists).
pub(crate) fn update(
    nodes: &mut Table<&'static [u8], &'static [u8]>,
    tree: u64,
    seq: u64,
    summary: Summary,
    id: MemoryId,
) -> Result<()> {
    nodes.insert(
        node_key(tree, 0, seq).as_slice(),
        encode_node(&summary, Some(id)).as_slice(),
    )?;
    for level in 1..=u8::MAX {
        let Some(shift) = FANOUT_BITS
            .checked_mul(u32::from(level))
            .filter(|s| *s < 64)
        else {
            break;
        };
        let index = seq >> shift;
        let key = node_key(tree, level, index);
        let Some(stored) = nodes.get(key.as_slice())?.map(|v| decode_node(v.value())) else {
            break;
        };
        let (lo, hi) = children(index);
        let aggregate = merged_range(nodes, tree, level - 1, lo, hi)?;
        if stored?.0 == aggregate {
            break;
        }
        nodes.insert(key.as_slice(), encode_node(&aggregate, None).as_slice())?;
    }
    Ok(())
}

/// Visits, newest first, every row among the tree's first `count` rows whose summary passes
/// `may_match`, until `visit` breaks. Blocks whose aggregate fails `may_match` are skipped.
///
/// `may_match` must be monotone: if it rejects an aggregate it must reject every summary that
/// aggregate covers.
pub(crate) fn scan_desc<T>(
    nodes: &T,
    tree: u64,
    count: u64,
    may_match: &dyn Fn(&Summary) -> bool,
    visit: &mut dyn FnMut(MemoryId, &Summary) -> Result<ControlFlow<()>>,
) -> Result<()>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let top = top_level(count);
    let mut level = 0u8;
    let mut hi = count;
    loop {
        if hi == 0 {
            return Ok(());
        }
        // Siblings of the newest unvisited node inside its parent block (the whole top level).
        let lo = if level == top {
            0
        } else {
            ((hi - 1) >> FANOUT_BITS) << FANOUT_BITS
        };
        if search(nodes, tree, level, lo, hi, may_match, visit)?.is_break() || level == top {
            return Ok(());
        }
        hi = lo >> FANOUT_BITS;
        level += 1;
    }
}

fn search<T>(
    nodes: &T,
    tree: u64,
    level: u8,
    lo: u64,
    hi: u64,
    may_match: &dyn Fn(&Summary) -> bool,
    visit: &mut dyn FnMut(MemoryId, &Summary) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (a, b) = (node_key(tree, level, lo), node_key(tree, level, hi));
    for entry in nodes.range(a.as_slice()..b.as_slice())?.rev() {
        let (key, value) = entry?;
        let (summary, id) = decode_node(value.value())?;
        if !may_match(&summary) {
            continue;
        }
        let flow = match id {
            Some(id) if level == 0 => visit(id, &summary)?,
            _ => {
                let index = super::encoding::decode_node_key(key.value())?.2;
                let (clo, chi) = children(index);
                search(nodes, tree, level - 1, clo, chi, may_match, visit)?
            }
        };
        if flow.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

#[cfg(test)]
mod tests {
    use super::super::tables::TREE_NODES;
    use super::*;
    use redb::{Database, ReadableDatabase, backends::InMemoryBackend};

    fn summary(created: i64, valid_to: i64) -> Summary {
        Summary {
            created,
            valid_from: created,
            valid_to,
            valid_to_set_at: i64::MIN,
            current_end: valid_to,
        }
    }

    #[test]
    fn top_level_grows_with_fanout() {
        assert_eq!(top_level(0), 0);
        assert_eq!(top_level(1), 0);
        assert_eq!(top_level(64), 1);
        assert_eq!(top_level(65), 2);
        assert_eq!(top_level(4096), 2);
        assert_eq!(top_level(4097), 3);
    }

    #[test]
    fn created_prefix_counts_rows_created_by_an_instant() -> Result<()> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        let txn = db.begin_write()?;
        {
            let mut nodes = txn.open_table(TREE_NODES)?;
            // Several rows share a creation instant, as the rows of one batch do.
            for seq in 0..300u64 {
                let s = summary((seq / 3) as i64 * 10, i64::MAX);
                append(&mut nodes, 1, seq, s, MemoryId::from_u128(u128::from(seq)))?;
            }
            for t in [-1i64, 0, 5, 10, 995, 1000, 2000] {
                let expected = (0..300u64).filter(|s| (s / 3) as i64 * 10 <= t).count() as u64;
                assert_eq!(created_prefix(&nodes, 1, 300, t)?, expected, "t = {t}");
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every row's "alive" end is mutated at random; the tree search must return exactly the
    /// rows a brute-force filter returns, newest first.
    #[test]
    fn search_matches_brute_force_after_updates() -> Result<()> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        let n: u64 = 5000;
        let mut model: Vec<Summary> = Vec::new();
        let txn = db.begin_write()?;
        {
            let mut nodes = txn.open_table(TREE_NODES)?;
            for seq in 0..n {
                let s = summary(seq as i64, i64::MAX);
                append(&mut nodes, 7, seq, s, MemoryId::from_u128(u128::from(seq)))?;
                model.push(s);
            }
            // Deterministic pseudo-random ends.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..3000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let seq = x % n;
                let end = (seq + x % 300) as i64;
                let s = summary(seq as i64, end);
                update(&mut nodes, 7, seq, s, MemoryId::from_u128(u128::from(seq)))?;
                model[seq as usize] = s;
            }
        }
        txn.commit()?;
        let read = db.begin_read()?;
        let nodes = read.open_table(TREE_NODES)?;
        for t in [0i64, 10, 999, 2500, 4999, 6000] {
            let expected: Vec<u64> = (0..n)
                .rev()
                .filter(|&s| model[s as usize].created <= t && model[s as usize].valid_to > t)
                .take(25)
                .collect();
            let mut got = Vec::new();
            let pred = |s: &Summary| s.created <= t && s.valid_to > t;
            scan_desc(&nodes, 7, n, &pred, &mut |id, _| {
                got.push(id.as_u128() as u64);
                Ok(if got.len() == 25 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
            assert_eq!(got, expected, "t = {t}");
        }
        Ok(())
    }
}
