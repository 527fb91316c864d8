//! Compaction: repack the tables whose pages are mostly empty, then return the free pages to
//! the file system.
//!
//! redb splits a full leaf in two halves unless the new key is the largest of the whole
//! table, so a table that grows in the middle — each tree's rows appended at the end of its
//! own key range, term blocks, fingerprints — keeps pages about half full (at 1M versions,
//! `tree_nodes` held 185 MiB in 396 MiB of pages). `Database::compact` only moves pages; it
//! does not fill them. Copying a table in key order into a fresh one takes redb's path for
//! ascending inserts, which packs every leaf; the copy is copied back under the table's name
//! and the pages of both old tables become free pages, which `Database::compact` then cuts
//! off the file. One table per transaction: a crash leaves every table whole.

use redb::{
    Database, Key, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, Value,
};

use super::tables::*;
use crate::error::Result;

/// A table is repacked when more than this share of its page bytes holds nothing.
const REPACK_ABOVE: f64 = 0.20;

/// The scratch table a repack copies through (absent outside a compaction).
const SCRATCH: &str = "repack_scratch";

/// Repacks the tables that need it, then compacts the file; `true` if anything changed.
pub(crate) fn compact(db: &mut Database) -> Result<bool> {
    let mut changed = false;
    changed |= repack(db, ROWS)?;
    changed |= repack(db, VERSIONS)?;
    changed |= repack(db, EVENTS)?;
    changed |= repack(db, PREDECESSORS)?;
    changed |= repack(db, TREES)?;
    changed |= repack(db, TREE_NODES)?;
    changed |= repack(db, DEDUP)?;
    changed |= repack(db, POSTING_BLOCKS)?;
    changed |= repack(db, LEXICAL_DELTA)?;
    changed |= repack(db, VECTORS)?;
    changed |= repack(db, VECTOR_CODES)?;
    changed |= repack(db, INPUTS)?;
    // Each pass moves pages towards the start of the file; a few are enough.
    for _ in 0..8 {
        if !db.compact()? {
            break;
        }
        changed = true;
    }
    Ok(changed)
}

/// Whether `table` exists and is worth repacking.
fn sparse<K: Key + 'static, V: Value + 'static>(
    db: &Database,
    table: TableDefinition<K, V>,
) -> Result<bool> {
    let txn = db.begin_write()?;
    let page = txn.stats()?.page_size() as u64;
    let exists = txn.list_tables()?.any(|t| t.name() == table.name());
    let sparse = exists && {
        let t = txn.open_table(table)?;
        let stats = t.stats()?;
        let pages = (stats.leaf_pages() + stats.branch_pages()) * page;
        pages > 0 && stats.fragmented_bytes() as f64 > REPACK_ABOVE * pages as f64
    };
    txn.abort()?;
    Ok(sparse)
}

/// Rewrites `table` in key order (through a scratch table), in one durable transaction.
fn repack<K: Key + 'static, V: Value + 'static>(
    db: &Database,
    table: TableDefinition<K, V>,
) -> Result<bool> {
    if !sparse(db, table)? {
        return Ok(false);
    }
    let scratch: TableDefinition<K, V> = TableDefinition::new(SCRATCH);
    let txn = db.begin_write()?;
    copy(&txn, table, scratch)?;
    txn.delete_table(table)?;
    copy(&txn, scratch, table)?;
    txn.delete_table(scratch)?;
    txn.commit()?;
    Ok(true)
}

fn copy<K: Key + 'static, V: Value + 'static>(
    txn: &redb::WriteTransaction,
    from: TableDefinition<K, V>,
    to: TableDefinition<K, V>,
) -> Result<()> {
    let source = txn.open_table(from)?;
    let mut target = txn.open_table(to)?;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}
