//! Writing rows in redb: the row, its tree leaves, its fingerprint, its index entries and its
//! vector; versions (re-summarised in every tree of the row) and audit events. The first
//! version and the creation events are implicit in the row (see `rows.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};

use redb::{ReadableTable, Table, WriteTransaction};
use sha2::{Digest, Sha256};

use super::encoding::{
    Facet, RowV1Ref, RowV2Ref, TreePosition, decode_event_key, dedup_entry, dedup_entry_id,
    dedup_key, encode_event, encode_input, encode_row_v1, encode_row_v2, encode_version, event_key,
    input_key, pred_key, tree_name, version_key,
};
use super::lexical::{IndexTables, Indexed, each_pending, forget_pending, index_row, index_rows};
use super::rows::{latest_version, summary_at, summary_of};
use super::tables::*;
use super::vectors::{VECTOR_CODES_FEATURE, append_code, store_vector};
use super::{read_u64, tree};
use crate::backend::{Duplicate, ImportedRow, NewRow, Version};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, MemoryId, ORIGINAL_MESSAGE_MAX_CHARS, truncate_chars};
use crate::time::Timestamp;

/// The tables an insert touches, opened once per transaction (opening a redb table is not
/// free, and a batch inserts many rows).
pub(crate) struct InsertTables<'t> {
    txn: &'t WriteTransaction,
    meta: Table<'t, &'static str, &'static [u8]>,
    trees: Table<'t, &'static [u8], u64>,
    nodes: Table<'t, &'static [u8], &'static [u8]>,
    rows: Table<'t, u128, &'static [u8]>,
    versions: Table<'t, &'static [u8], &'static [u8]>,
    index: IndexTables<'t>,
    vectors: Table<'t, &'static [u8], &'static [u8]>,
    /// Whether vectors get their codes (`StoreOptions::vector_index`).
    coding: bool,
    /// Opened when the transaction stores its first vector (created on first use).
    codes: Option<Table<'t, &'static [u8], &'static [u8]>>,
    /// Opened when the transaction stores its first shared input (created on first use).
    inputs: Option<Table<'t, &'static [u8], &'static [u8]>>,
    /// Opened when the transaction links its first predecessor.
    preds: Option<Table<'t, &'static [u8], ()>>,
    /// Opened when an import stores its first event.
    events: Option<Table<'t, &'static [u8], &'static [u8]>>,
    /// The shared inputs this transaction has stored (or found stored).
    shared: HashSet<[u8; 40]>,
    /// Per scope, the fingerprints waiting in the lexical delta (read once per transaction,
    /// then kept up to date: a batch checks every row against them).
    pending: HashMap<u64, HashMap<Vec<u8>, Vec<MemoryId>>>,
    /// Scopes whose delta a duplicate check has scanned once in this transaction: the second
    /// check loads `pending` (a single write scans once and allocates nothing).
    scanned: HashSet<u64>,
}

impl<'t> InsertTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction, coding: bool) -> Result<Self> {
        Ok(InsertTables {
            txn,
            meta: txn.open_table(META)?,
            trees: txn.open_table(TREES)?,
            nodes: txn.open_table(TREE_NODES)?,
            rows: txn.open_table(ROWS)?,
            versions: txn.open_table(VERSIONS)?,
            index: IndexTables::open(txn)?,
            vectors: txn.open_table(VECTORS)?,
            coding,
            codes: None,
            inputs: None,
            preds: None,
            events: None,
            shared: HashSet::new(),
            pending: HashMap::new(),
            scanned: HashSet::new(),
        })
    }

    /// The write usage of `account`: in `meta` (written by this build), else in the legacy
    /// `usage` table of files written before.
    pub(crate) fn usage(&self, account: &str) -> Result<Option<crate::account::Usage>> {
        if let Some(found) = super::accounts::usage_in_meta(&self.meta, account)? {
            return Ok(Some(found));
        }
        super::accounts::usage(
            super::accounts::open_optional_write(self.txn, USAGE)?.as_ref(),
            account,
        )
    }

    /// Stores the write usage of `account` in `meta`, which every commit writes anyway (its
    /// last transaction time): one page fewer per write than a table of its own.
    pub(crate) fn put_usage(&mut self, account: &str, usage: &crate::account::Usage) -> Result<()> {
        super::accounts::put_usage_in_meta(&mut self.meta, account, usage)
    }

    /// The id of the tree named `name`, created (empty) if it does not exist yet.
    fn tree_for(&mut self, name: &[u8]) -> Result<u64> {
        if let Some(v) = self.trees.get(name)? {
            return Ok(v.value());
        }
        let id = self
            .meta
            .get(META_NEXT_TREE)?
            .map(|v| read_u64(v.value()))
            .transpose()?
            .unwrap_or(1);
        self.meta
            .insert(META_NEXT_TREE, (id + 1).to_be_bytes().as_slice())?;
        self.trees.insert(name, id)?;
        Ok(id)
    }

    /// The fingerprints waiting in `scope`'s lexical delta, read on first use.
    fn pending_in(&mut self, scope: u64) -> Result<&HashMap<Vec<u8>, Vec<MemoryId>>> {
        if !self.pending.contains_key(&scope) {
            let mut by_fingerprint: HashMap<Vec<u8>, Vec<MemoryId>> = HashMap::new();
            each_pending(&self.index.delta, scope, |fingerprint, id| {
                by_fingerprint
                    .entry(fingerprint.to_vec())
                    .or_default()
                    .push(id);
            })?;
            self.pending.insert(scope, by_fingerprint);
        }
        Ok(&self.pending[&scope])
    }

    /// The tenant's scope and the dedup key of `fingerprint` in it, if the scope exists.
    fn dedup_key(
        &self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
    ) -> Result<Option<(u64, Vec<u8>)>> {
        let name = tree_name(account, tenant, Facet::All);
        Ok(self.trees.get(name.as_slice())?.map(|scope| {
            let scope = scope.value();
            (scope, dedup_key(scope, fingerprint))
        }))
    }

    /// The rows with this fingerprint, oldest entry first, with their latest versions.
    pub(crate) fn duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
    ) -> Result<Vec<Duplicate>> {
        let Some((scope, key)) = self.dedup_key(account, tenant, fingerprint)? else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (
            dedup_entry(&key, MemoryId::from_u128(0)),
            dedup_entry(&key, MemoryId::from_u128(u128::MAX)),
        );
        let mut ids = Vec::new();
        for entry in self.index.dedup.range(lo.as_slice()..=hi.as_slice())? {
            ids.push(dedup_entry_id(entry?.0.value())?);
        }
        // And the rows whose fingerprint still waits in the lexical delta.
        if self.pending.contains_key(&scope) || !self.scanned.insert(scope) {
            if let Some(pending) = self.pending_in(scope)?.get(fingerprint) {
                ids.extend_from_slice(pending);
            }
        } else {
            each_pending(&self.index.delta, scope, |pending, id| {
                if pending == fingerprint {
                    ids.push(id);
                }
            })?;
        }
        ids.sort_unstable();
        ids.dedup();
        let mut found = Vec::new();
        for id in ids {
            let version = latest_version(&self.versions, id)?;
            found.push(Duplicate {
                id,
                valid_to: version.valid_to,
                superseded_by: version.superseded_by,
            });
        }
        Ok(found)
    }

    pub(crate) fn forget_duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
        dead: &[MemoryId],
    ) -> Result<()> {
        let Some((scope, key)) = self.dedup_key(account, tenant, fingerprint)? else {
            return Ok(());
        };
        for id in dead {
            if self
                .index
                .dedup
                .remove(dedup_entry(&key, *id).as_slice())?
                .is_none()
            {
                forget_pending(&mut self.index.delta, scope, *id)?;
                if let Some(rows) = self
                    .pending
                    .get_mut(&scope)
                    .and_then(|p| p.get_mut(fingerprint))
                {
                    rows.retain(|r| r != id);
                }
            }
        }
        Ok(())
    }

    /// The row, its leaf in every tree that orders it, its fingerprint entry, its lexical
    /// index entry, its vector, and a shared input once per scope.
    pub(crate) fn insert(&mut self, r: &NewRow) -> Result<()> {
        let tenant = r.tenant.as_deref();
        let scope = self.tree_for(&tree_name(&r.account, tenant, Facet::All))?;
        // The row's place in every tree that orders it: its scope, its source, its session.
        let positions = self
            .trees_of(r, scope)?
            .into_iter()
            .map(|tree| {
                Ok(TreePosition {
                    tree,
                    seq: tree::count(&self.nodes, tree)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.store_row(r, scope, &positions, &Version::default())?;
        match &r.lexical {
            // The fingerprint waits in the lexical delta and joins `dedup` with its merge.
            Some(analyzed) => {
                if index_row(&mut self.index, scope, r.id, analyzed, &r.fingerprint)? {
                    // Merged: every pending fingerprint of the scope is in `dedup` now.
                    self.pending.remove(&scope);
                } else if let Some(pending) = self.pending.get_mut(&scope) {
                    pending.entry(r.fingerprint.clone()).or_default().push(r.id);
                }
            }
            None => self.put_fingerprint(scope, r)?,
        }
        Ok(())
    }

    /// Loads rows with their history (an import, which checked them first): as
    /// [`Self::insert`], then [`Self::append_version`] for each version and [`append_event`]
    /// for each event would, but each row is written once in its latest state, each tree is
    /// looked up and counted once, and each scope's rows go into its lexical index in one
    /// merge (`lexical::index_rows`) instead of through its delta.
    pub(crate) fn import_rows(&mut self, rows: &[ImportedRow]) -> Result<()> {
        let mut trees: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut counts: HashMap<u64, u64> = HashMap::new();
        let mut indexed: BTreeMap<u64, Vec<Indexed<'_>>> = BTreeMap::new();
        for imported in rows {
            let r = &imported.row;
            let name = tree_name(&r.account, r.tenant.as_deref(), Facet::All);
            let scope = match trees.get(&name) {
                Some(&scope) => scope,
                None => {
                    let scope = self.tree_for(&name)?;
                    trees.insert(name, scope);
                    scope
                }
            };
            let mut positions = Vec::with_capacity(3);
            for tree in self.trees_of(r, scope)? {
                let seq = match counts.get_mut(&tree) {
                    Some(next) => next,
                    None => counts
                        .entry(tree)
                        .or_insert(tree::count(&self.nodes, tree)?),
                };
                positions.push(TreePosition { tree, seq: *seq });
                *seq += 1;
            }
            let latest = imported.latest();
            self.store_row(r, scope, &positions, &latest)?;
            for (at, version) in &imported.versions {
                self.versions.insert(
                    version_key(r.id, *at).as_slice(),
                    encode_version(version).as_slice(),
                )?;
            }
            if let Some(successor) = latest.superseded_by {
                self.preds()?
                    .insert(pred_key(successor, r.id).as_slice(), ())?;
            }
            // A superseded row is never a duplicate again: its fingerprint is not kept.
            let fingerprint: &[u8] = match latest.superseded_by {
                Some(_) => &[],
                None => &r.fingerprint,
            };
            match &r.lexical {
                Some(analyzed) => {
                    indexed
                        .entry(scope)
                        .or_default()
                        .push((r.id, analyzed, fingerprint))
                }
                None if fingerprint.is_empty() => {}
                None => self.put_fingerprint(scope, r)?,
            }
            self.store_events(r.id, &imported.events)?;
        }
        for (scope, rows) in indexed {
            index_rows(&mut self.index, scope, &rows)?;
            // The scope's delta was merged: nothing of it waits any more.
            self.pending.remove(&scope);
        }
        Ok(())
    }

    /// The events of a new row, numbered from 0.
    fn store_events(&mut self, id: MemoryId, log: &[AuditEvent]) -> Result<()> {
        if log.is_empty() {
            return Ok(());
        }
        if log.iter().any(|e| e.details.requested_valid_to().is_some()) {
            super::require_feature(&mut self.meta, super::REQUESTED_VALID_TO_FEATURE)?;
        }
        let events = match &mut self.events {
            Some(events) => events,
            None => self.events.insert(self.txn.open_table(EVENTS)?),
        };
        for (n, event) in (0u32..).zip(log) {
            events.insert(event_key(id, n).as_slice(), encode_event(event).as_slice())?;
        }
        Ok(())
    }

    /// The predecessors table, opened on first use.
    fn preds(&mut self) -> Result<&mut Table<'t, &'static [u8], ()>> {
        if self.preds.is_none() {
            self.preds = Some(self.txn.open_table(PREDECESSORS)?);
        }
        Ok(self.preds.as_mut().expect("opened above"))
    }

    /// The trees that order row `r` of scope tree `scope`: the scope, its source's, and its
    /// session's when it has one.
    fn trees_of(&mut self, r: &NewRow, scope: u64) -> Result<Vec<u64>> {
        let tenant = r.tenant.as_deref();
        let mut trees = vec![
            scope,
            self.tree_for(&tree_name(&r.account, tenant, Facet::Source(&r.source)))?,
        ];
        if let Some(session) = r.session_id.as_deref() {
            trees.push(self.tree_for(&tree_name(&r.account, tenant, Facet::Session(session)))?);
        }
        Ok(trees)
    }

    /// Puts row `r`'s duplicate fingerprint straight into `dedup` (no lexical delta to wait
    /// in).
    fn put_fingerprint(&mut self, scope: u64, r: &NewRow) -> Result<()> {
        self.index.dedup.insert(
            dedup_entry(&dedup_key(scope, &r.fingerprint), r.id).as_slice(),
            (),
        )?;
        Ok(())
    }

    /// Stores row `r` of `scope` at `positions` in `version`: the record, its tree leaves, its
    /// vector.
    fn store_row(
        &mut self,
        r: &NewRow,
        scope: u64,
        positions: &[TreePosition],
        version: &Version,
    ) -> Result<()> {
        let tenant = r.tenant.as_deref();
        let record = if r.shared_input {
            let hash: [u8; 32] = Sha256::digest(r.original_input.as_bytes()).into();
            self.share_input(scope, &hash, &r.original_input)?;
            // Facts of a conversation show its first characters: derived, not stored.
            let derived = truncate_chars(&r.original_input, ORIGINAL_MESSAGE_MAX_CHARS);
            encode_row_v2(&RowV2Ref {
                positions,
                account: &r.account,
                tenant,
                decision: &r.decision,
                summary: &r.summary,
                topic: &r.topic,
                importance_score: r.importance_score,
                source: &r.source,
                channel: &r.channel,
                session_id: r.session_id.as_deref(),
                original_message: (r.original_message != derived)
                    .then_some(r.original_message.as_str()),
                input: hash,
                external_id: r.external_id.as_deref(),
                captured_at: r.captured_at,
                created_at: r.created_at,
                valid_from: r.valid_from,
                extraction: r.extraction.as_ref(),
                shape: r.shape,
            })
        } else {
            encode_row_v1(&RowV1Ref {
                positions,
                account: &r.account,
                tenant,
                decision: &r.decision,
                summary: &r.summary,
                topic: &r.topic,
                importance_score: r.importance_score,
                source: &r.source,
                channel: &r.channel,
                session_id: r.session_id.as_deref(),
                original_message: &r.original_message,
                original_input: &r.original_input,
                external_id: r.external_id.as_deref(),
                captured_at: r.captured_at,
                created_at: r.created_at,
                valid_from: r.valid_from,
                extraction: r.extraction.as_ref(),
                shape: r.shape,
            })
        };
        let summary = summary_at(r.created_at, r.valid_from, version);
        self.rows.insert(r.id.as_u128(), record.as_slice())?;
        for pos in positions {
            tree::append(&mut self.nodes, pos.tree, pos.seq, summary, r.id)?;
        }
        if let Some((space, vector)) = &r.vector {
            store_vector(&mut self.vectors, scope, r.id, *space, vector)?;
        }
        if let Some((space, vector)) = r.vector.as_ref().filter(|_| self.coding) {
            let codes = match &mut self.codes {
                Some(codes) => codes,
                None => {
                    super::require_feature(&mut self.meta, VECTOR_CODES_FEATURE)?;
                    self.codes.insert(self.txn.open_table(VECTOR_CODES)?)
                }
            };
            append_code(codes, scope, r.id, *space, vector)?;
        }
        Ok(())
    }

    /// Stores `text` under `scope` unless it is there already, and records that the store
    /// requires the `shared-inputs` feature.
    fn share_input(&mut self, scope: u64, hash: &[u8; 32], text: &str) -> Result<()> {
        let key = input_key(scope, hash);
        if self.shared.contains(&key) {
            return Ok(());
        }
        if self.inputs.is_none() {
            self.inputs = Some(self.txn.open_table(INPUTS)?);
            super::require_feature(&mut self.meta, super::SHARED_INPUTS)?;
        }
        let inputs = self.inputs.as_mut().expect("opened above");
        if inputs.get(key.as_slice())?.is_none() {
            inputs.insert(key.as_slice(), encode_input(text).as_slice())?;
        }
        self.shared.insert(key);
        Ok(())
    }
}

/// Writes the new version of row `id`, re-summarises it in its trees, links the predecessor
/// and drops the duplicate fingerprint of a row that is no longer live.
pub(crate) fn append_version(
    txn: &WriteTransaction,
    now: Timestamp,
    account: &str,
    id: MemoryId,
    previous: &Version,
    next: &Version,
) -> Result<()> {
    let row = super::rows::indexed_row(&txn.open_table(ROWS)?, id, account)?;
    txn.open_table(VERSIONS)?.insert(
        version_key(id, now).as_slice(),
        encode_version(next).as_slice(),
    )?;
    let summary = summary_of(&row, next);
    {
        let mut nodes = txn.open_table(TREE_NODES)?;
        for pos in &row.positions {
            tree::update(&mut nodes, pos.tree, pos.seq, summary, id)?;
        }
    }
    let newly_superseded = previous.superseded_by.is_none() && next.superseded_by.is_some();
    if let (true, Some(successor)) = (newly_superseded, next.superseded_by) {
        txn.open_table(PREDECESSORS)?
            .insert(pred_key(successor, id).as_slice(), ())?;
    }
    if next.superseded_by.is_some() {
        let removed = txn
            .open_table(DEDUP)?
            .remove(dedup_entry(&row.fingerprint(), id).as_slice())?
            .is_some();
        if let (false, Some(scope)) = (removed, row.positions.first()) {
            forget_pending(&mut txn.open_table(LEXICAL_DELTA)?, scope.tree, id)?;
        }
    }
    Ok(())
}

/// Appends `event` to the audit log of `id`, after its last stored event.
pub(crate) fn append_event(
    txn: &WriteTransaction,
    account: &str,
    id: MemoryId,
    event: &AuditEvent,
) -> Result<()> {
    super::rows::indexed_row(&txn.open_table(ROWS)?, id, account)?;
    if event.details.requested_valid_to().is_some() {
        super::require_feature(
            &mut txn.open_table(META)?,
            super::REQUESTED_VALID_TO_FEATURE,
        )?;
    }
    let mut events = txn.open_table(EVENTS)?;
    let lo = event_key(id, 0);
    let hi = event_key(id, u32::MAX);
    let next = match events.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => 0,
        Some(entry) => decode_event_key(entry?.0.value())?.1 + 1,
    };
    events.insert(
        event_key(id, next).as_slice(),
        encode_event(event).as_slice(),
    )?;
    Ok(())
}

/// Stores the vector of row `id` of `account` under its scope; `false` if the row is gone.
pub(crate) fn put_vector(
    txn: &WriteTransaction,
    account: &str,
    id: MemoryId,
    tag: u64,
    unit: &[f32],
    coding: bool,
) -> Result<bool> {
    let rows = txn.open_table(ROWS)?;
    let Some(row) = super::rows::load_row(&rows, id)? else {
        return Ok(false);
    };
    if row.account != account {
        return Err(Error::Corrupted(format!(
            "memory {id} is not a row of account {account:?}"
        )));
    }
    let Some(scope) = row.positions.first().map(|p| p.tree) else {
        return Err(Error::Corrupted(format!("memory {id} has no scope tree")));
    };
    store_vector(&mut txn.open_table(VECTORS)?, scope, id, tag, unit)?;
    if coding {
        super::require_feature(&mut txn.open_table(META)?, VECTOR_CODES_FEATURE)?;
        append_code(&mut txn.open_table(VECTOR_CODES)?, scope, id, tag, unit)?;
    }
    Ok(true)
}
