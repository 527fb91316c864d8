//! Reads: list in every temporal mode, get by id, audit log.

use std::ops::ControlFlow;

use redb::ReadableTable;

use super::Store;
use super::rows::{creation_events, latest_version, never_changed, owned_row, render, version_at};
use super::tables::*;
use super::tree;
use super::write::{validate_account, validate_tenant};
use crate::encoding::{
    Facet, Summary, VersionRecord, account_prefix, decode_event, event_key, tree_name, tree_tenant,
};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, ListQuery, ListResult, Memory, MemoryId, ReadMode};
use crate::temporal;
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
    tenant: Option<&str>,
    all_tenants: bool,
    facet: Facet<'_>,
) -> Result<Vec<u64>> {
    if !all_tenants {
        let name = tree_name(account, tenant, facet);
        return Ok(trees
            .get(name.as_slice())?
            .map(|v| v.value())
            .into_iter()
            .collect());
    }
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

/// Up to `query.limit` rows of one index tree that `query` selects, newest first.
fn walk_tree(
    nodes: &impl ReadableTable<&'static [u8], &'static [u8]>,
    rows: &impl ReadableTable<u128, &'static [u8]>,
    versions: &impl ReadableTable<&'static [u8], &'static [u8]>,
    tree_id: u64,
    query: &ListQuery,
    now: Timestamp,
) -> Result<Vec<Memory>> {
    let mut memories = Vec::new();
    let replay_at = query.mode.transaction_instant();
    let mode = query.mode;
    let predicate = |s: &Summary| may_match(&mode, now, s);
    let mut count = tree::count(nodes, tree_id)?;
    if let Some(at) = replay_at {
        // Rows written after the replayed instant are a suffix: start the walk before it.
        count = tree::created_prefix(nodes, tree_id, count, at.as_micros())?;
    }
    tree::scan_desc(nodes, tree_id, count, &predicate, &mut |id, summary| {
        let row = super::rows::load_row(rows, id)?
            .ok_or_else(|| Error::Corrupted(format!("index names missing memory {id}")))?;
        if query.source.as_ref().is_some_and(|s| *s != row.source) {
            return Ok(ControlFlow::Continue(()));
        }
        // Most rows never change: their leaf summary says so and saves the version lookup.
        let version = if never_changed(summary) {
            VersionRecord::default()
        } else {
            match version_at(versions, id, row.created_at, replay_at)? {
                Some(version) => version,
                None => return Ok(ControlFlow::Continue(())),
            }
        };
        let memory = render(id, row, &version);
        if temporal::selects(&mode, &memory, now) {
            memories.push(memory);
        }
        Ok(if memories.len() >= query.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(memories)
}

impl Store {
    /// Lists memories of `account` per `query`, newest first (spec §3.7, §5.2).
    pub fn list(&self, account: &str, query: &ListQuery) -> Result<ListResult> {
        validate_account(account)?;
        validate_tenant(query.tenant.as_deref())?;
        let txn = self.begin_read()?;
        let now = self.read_now(&txn)?;
        let reference = temporal::reference_instant(&query.mode, now);
        let mut memories = Vec::new();
        if query.limit == 0 {
            return Ok(ListResult {
                memories,
                now: reference,
            });
        }
        // The narrowest tree that covers the filters; the other filter is checked per row.
        let facet = match (query.session_id.as_deref(), query.source.as_deref()) {
            (Some(session), _) => Facet::Session(session),
            (None, Some(source)) => Facet::Source(source),
            (None, None) => Facet::All,
        };
        let trees = txn.open_table(TREES)?;
        let tree_ids = scope_trees(
            &trees,
            account,
            query.tenant.as_deref(),
            query.all_tenants,
            facet,
        )?;
        let nodes = txn.open_table(TREE_NODES)?;
        let rows = txn.open_table(ROWS)?;
        let versions = txn.open_table(VERSIONS)?;
        for tree_id in &tree_ids {
            let found = walk_tree(&nodes, &rows, &versions, *tree_id, query, now)?;
            memories.extend(found);
        }
        if tree_ids.len() > 1 {
            // Each tree's rows are newest first; merge them (ties: insertion order, which is
            // id order within a commit).
            memories.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
            memories.truncate(query.limit);
        }
        Ok(ListResult {
            memories,
            now: reference,
        })
    }

    /// One memory of `account` in its latest state: `NotFound` if absent (or hard-deleted),
    /// `Forbidden` if it belongs to another account.
    pub fn get(&self, account: &str, id: MemoryId) -> Result<Memory> {
        let txn = self.begin_read()?;
        let rows = txn.open_table(ROWS)?;
        let versions = txn.open_table(VERSIONS)?;
        let row = owned_row(&rows, id, account)?;
        let version = latest_version(&versions, id)?;
        Ok(render(id, row, &version))
    }

    /// The read-side "now" (the clock, never before the last commit).
    pub fn now(&self) -> Result<Timestamp> {
        let txn = self.begin_read()?;
        self.read_now(&txn)
    }

    /// The memory (latest state) and its append-only audit log, oldest event first.
    pub fn audit(&self, account: &str, id: MemoryId) -> Result<(Memory, Vec<AuditEvent>)> {
        let txn = self.begin_read()?;
        let rows = txn.open_table(ROWS)?;
        let versions = txn.open_table(VERSIONS)?;
        let events = txn.open_table(EVENTS)?;
        let row = owned_row(&rows, id, account)?;
        let events_of_creation = creation_events(&row);
        let version = latest_version(&versions, id)?;
        let memory = render(id, row, &version);
        let (lo, hi) = (event_key(id, 0), event_key(id, u32::MAX));
        let mut log = events_of_creation.to_vec();
        for entry in events.range(lo.as_slice()..=hi.as_slice())? {
            log.push(decode_event(entry?.1.value())?);
        }
        Ok((memory, log))
    }
}
