//! List reads in redb: the narrowest interval-summary tree of the scope is walked newest
//! first, skipping blocks whose summary proves the mode cannot select anything inside; each
//! remaining row, in the state the mode reads, is offered to the engine's predicate.

use std::ops::ControlFlow;

use redb::ReadableTable;

use super::encoding::{Facet, Summary, account_prefix, tree_name, tree_tenant};
use super::rows::{InputFn, load_row, never_changed, render, version_at};
use super::tree;
use crate::backend::{Listing, Tenants, Version};
use crate::error::{Error, Result};
use crate::model::{Memory, ReadMode};
use crate::time::Timestamp;

/// Whether a block with aggregate `s` may hold a row that `mode` selects at `now`. Exact for a
/// single row's summary; monotone for aggregates (see `tree.rs`).
fn may_match(mode: &ReadMode, now: Timestamp, s: &Summary) -> bool {
    let t = |x: Timestamp| x.as_micros();
    match *mode {
        ReadMode::Current => s.valid_from <= t(now) && s.current_end > t(now),
        ReadMode::History => true,
        ReadMode::AsOf(at) => s.valid_from <= t(at) && s.valid_to > t(at),
        ReadMode::TransactionAsOf {
            at,
            include_superseded: true,
        } => s.created <= t(at),
        ReadMode::TransactionAsOf {
            at,
            include_superseded: false,
        } => s.created <= t(at) && s.valid_from <= t(at) && s.current_end > t(at),
        ReadMode::Bitemporal {
            valid_at,
            transaction_at,
        } => {
            s.created <= t(transaction_at)
                && s.valid_from <= t(valid_at)
                && (s.valid_to > t(valid_at) || s.valid_to_set_at > t(transaction_at))
        }
    }
}

/// The trees of `facet` in the scope read: one tenant's, or every tenant's of the account.
pub(crate) fn scope_trees(
    trees: &impl ReadableTable<&'static [u8], u64>,
    account: &str,
    tenants: Tenants<'_>,
    facet: Facet<'_>,
) -> Result<Vec<u64>> {
    let tenant = match tenants {
        Tenants::One(tenant) => tenant,
        Tenants::All => return all_tenant_trees(trees, account, facet),
    };
    let name = tree_name(account, tenant, facet);
    Ok(trees
        .get(name.as_slice())?
        .map(|v| v.value())
        .into_iter()
        .collect())
}

fn all_tenant_trees(
    trees: &impl ReadableTable<&'static [u8], u64>,
    account: &str,
    facet: Facet<'_>,
) -> Result<Vec<u64>> {
    let prefix = account_prefix(account);
    let mut ids = Vec::new();
    for entry in trees.range(prefix.as_slice()..)? {
        let (key, value) = entry?;
        if !key.value().starts_with(&prefix) {
            break;
        }
        if tree_tenant(key.value(), account, facet).is_some() {
            ids.push(value.value());
        }
    }
    Ok(ids)
}

/// The rows of `listing` that `keep` accepts, newest first, up to its limit.
pub(crate) fn list<T, N, R, V>(
    trees: &T,
    nodes: &N,
    rows: &R,
    versions: &V,
    inputs: InputFn<'_>,
    listing: &Listing<'_>,
    keep: &dyn Fn(&Memory) -> bool,
) -> Result<Vec<Memory>>
where
    T: ReadableTable<&'static [u8], u64>,
    N: ReadableTable<&'static [u8], &'static [u8]>,
    R: ReadableTable<u128, &'static [u8]>,
    V: ReadableTable<&'static [u8], &'static [u8]>,
{
    if listing.limit == 0 {
        return Ok(Vec::new());
    }
    // The narrowest tree that covers the filters; the other filter is checked per row.
    let facet = match (listing.session, listing.source) {
        (Some(session), _) => Facet::Session(session),
        (None, Some(source)) => Facet::Source(source),
        (None, None) => Facet::All,
    };
    let tree_ids = scope_trees(trees, listing.scope.account, listing.scope.tenants, facet)?;
    let mut memories = Vec::new();
    for tree_id in &tree_ids {
        let found = walk_tree(nodes, rows, versions, inputs, *tree_id, listing, keep)?;
        // The first tree's rows are kept as they are (most scopes have one tree): moving
        // them into another vector would copy every memory.
        if memories.is_empty() {
            memories = found;
        } else {
            memories.extend(found);
        }
    }
    if tree_ids.len() > 1 {
        // Each tree's rows are newest first; merge them (ties: insertion order, which is
        // id order within a commit).
        memories.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
        memories.truncate(listing.limit);
    }
    Ok(memories)
}

/// Up to `listing.limit` rows of one index tree that `keep` accepts, newest first.
fn walk_tree(
    nodes: &impl ReadableTable<&'static [u8], &'static [u8]>,
    rows: &impl ReadableTable<u128, &'static [u8]>,
    versions: &impl ReadableTable<&'static [u8], &'static [u8]>,
    inputs: InputFn<'_>,
    tree_id: u64,
    listing: &Listing<'_>,
    keep: &dyn Fn(&Memory) -> bool,
) -> Result<Vec<Memory>> {
    let mut memories = Vec::with_capacity(listing.limit.min(64));
    let replay_at = listing.mode.transaction_instant();
    let (mode, now) = (listing.mode, listing.now);
    let predicate = |s: &Summary| may_match(&mode, now, s);
    let mut count = tree::count(nodes, tree_id)?;
    if let Some(at) = replay_at {
        // Rows written after the replayed instant are a suffix: start the walk before it.
        count = tree::created_prefix(nodes, tree_id, count, at.as_micros())?;
    }
    let before = listing.before.map(|c| (c.created_at, c.id));
    if let Some((created, _)) = before {
        // So are the rows at or after the cursor, but for those of its own instant (one
        // commit's rows share it), which the id comparison below skips.
        count = tree::created_prefix(nodes, tree_id, count, created.as_micros())?;
    }
    tree::scan_desc(nodes, tree_id, count, &predicate, &mut |id, summary| {
        // The rows of the cursor's own instant at or after it, skipped on the leaf's summary
        // (the row's creation instant) before the row is read.
        if before
            .is_some_and(|(created, cursor)| (summary.created, id) >= (created.as_micros(), cursor))
        {
            return Ok(ControlFlow::Continue(()));
        }
        let row = load_row(rows, id)?
            .ok_or_else(|| Error::Corrupted(format!("index names missing memory {id}")))?;
        if listing.source.is_some_and(|s| s != row.source) {
            return Ok(ControlFlow::Continue(()));
        }
        // Most rows never change: their leaf summary says so and saves the version lookup.
        let version = if never_changed(summary) {
            Version::default()
        } else {
            match version_at(versions, id, row.created_at, replay_at)? {
                Some(version) => version,
                None => return Ok(ControlFlow::Continue(())),
            }
        };
        // Rendered in place: a memory is large, and each move of it is a copy.
        memories.push(render(id, row, &version, inputs)?);
        if !memories.last().is_some_and(keep) {
            memories.pop();
        }
        Ok(if memories.len() >= listing.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(memories)
}
