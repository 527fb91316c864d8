//! Hard delete of a tenant or a whole account in redb: every row, version, index entry, vector
//! and event goes. The only operation that changes the past (spec §5.3).

use std::ops::Bound;

use redb::WriteTransaction;

use super::encoding::{
    account_prefix, decode_node, dedup_entry, event_key, node_key, pred_key, scope_prefix,
    version_key,
};
use super::rows::{latest_version, load_row};
use super::tables::*;
use crate::backend::Tenants;
use crate::error::Result;
use crate::model::MemoryId;
use crate::time::Timestamp;

/// Deletes every row of the tenants of `account`; returns how many.
pub(crate) fn delete(txn: &WriteTransaction, account: &str, tenants: Tenants<'_>) -> Result<u64> {
    let prefix = match tenants {
        Tenants::One(tenant) => scope_prefix(account, tenant),
        Tenants::All => account_prefix(account),
    };
    delete_prefix(txn, &prefix)
}

fn delete_prefix(txn: &WriteTransaction, prefix: &[u8]) -> Result<u64> {
    // The trees under the prefix; the "all rows" tree of each scope lists its rows.
    let mut tree_ids = Vec::new();
    {
        let mut trees = txn.open_table(TREES)?;
        let upper = prefix_upper(prefix);
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (
            Bound::Included(prefix),
            upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        );
        for entry in trees.extract_from_if::<&[u8], _>(range, |_, _| true)? {
            tree_ids.push(entry?.1.value());
        }
    }
    let mut ids = Vec::new();
    {
        let mut nodes = txn.open_table(TREE_NODES)?;
        for tree in &tree_ids {
            let (lo, hi) = (node_key(*tree, 0, 0), node_key(*tree, u8::MAX, u64::MAX));
            let mut extracted =
                nodes.extract_from_if(lo.as_slice()..=hi.as_slice(), |_, _| true)?;
            for entry in extracted.by_ref() {
                let (key, value) = entry?;
                // Level-0 nodes carry the row id; every row is in its scope's "all" tree, so
                // rows seen in several trees are deduplicated below.
                if key.value()[8] == 0
                    && let (_, Some(id)) = decode_node(value.value())?
                {
                    ids.push(id);
                }
            }
        }
    }
    // Only "all rows" trees key postings and vectors; erasing the others' ranges removes
    // nothing.
    super::lexical::erase_scopes(txn, &tree_ids)?;
    super::vectors::erase_scopes(txn, &tree_ids)?;
    erase_inputs(txn, &tree_ids)?;
    ids.sort_unstable();
    ids.dedup();
    let mut deleted = 0u64;
    for id in ids {
        deleted += u64::from(delete_row(txn, id)?);
    }
    Ok(deleted)
}

fn delete_row(txn: &WriteTransaction, id: MemoryId) -> Result<bool> {
    let mut rows = txn.open_table(ROWS)?;
    let Some(row) = load_row(&rows, id)? else {
        return Ok(false);
    };
    let successor = latest_version(&txn.open_table(VERSIONS)?, id)?.superseded_by;
    rows.remove(id.as_u128())?;
    let (lo, hi) = (
        version_key(id, Timestamp::MIN),
        version_key(id, Timestamp::MAX),
    );
    txn.open_table(VERSIONS)?
        .retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    let (lo, hi) = (event_key(id, 0), event_key(id, u32::MAX));
    txn.open_table(EVENTS)?
        .retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    let mut preds = txn.open_table(PREDECESSORS)?;
    let (lo, hi) = (
        pred_key(id, MemoryId::from_u128(0)),
        pred_key(id, MemoryId::from_u128(u128::MAX)),
    );
    preds.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false)?;
    if let Some(successor) = successor {
        preds.remove(pred_key(successor, id).as_slice())?;
    }
    txn.open_table(DEDUP)?
        .remove(dedup_entry(&row.fingerprint(), id).as_slice())?;
    Ok(true)
}

/// Erases the shared inputs of the scopes whose trees are `trees`, in a store that has any
/// (the table is not created by a delete).
fn erase_inputs(txn: &WriteTransaction, trees: &[u64]) -> Result<()> {
    let exists = txn
        .list_tables()?
        .any(|t| redb::TableHandle::name(&t) == redb::TableHandle::name(&INPUTS));
    if !exists {
        return Ok(());
    }
    let mut inputs = txn.open_table(INPUTS)?;
    for tree in trees {
        let (lo, hi) = (tree.to_be_bytes(), tree.saturating_add(1).to_be_bytes());
        inputs.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)?;
    }
    Ok(())
}

/// The smallest key greater than every key that starts with `prefix` (`None`: no bound).
fn prefix_upper(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}
