//! Inserting memories: validation, duplicate suppression, the row, its tree leaves and its
//! fingerprint, all in one transaction. The first version and the creation audit events are
//! implicit in the row (see `rows.rs`).

use redb::{ReadableTable, Table, WriteTransaction};

use super::accounts::count_write;
use super::lexical::{IndexTables, index_row};
use super::rows::{latest_version, summary_of};
use super::tables::*;
use super::vectors::store_vector;
use super::{Store, read_u64, tree};
use crate::embed::embed_units;
use crate::encoding::{
    Facet, RowRecord, TreePosition, VersionRecord, dedup_entry, dedup_entry_id, dedup_key,
    encode_row, tree_name,
};
use crate::error::{Error, Result};
use crate::model::{MemoryId, NewMemory, ORIGINAL_MESSAGE_MAX_CHARS, WriteOutcome};
use crate::text::Analyzer;
use crate::time::Timestamp;

impl Store {
    /// Writes one memory for `account` (durably, before returning).
    ///
    /// Returns [`WriteOutcome::Duplicate`] without writing when a live memory of the same
    /// tenant has the same fingerprint (spec §9.3).
    pub fn write(&self, account: &str, memory: NewMemory) -> Result<WriteOutcome> {
        let mut outcomes = self.write_batch(account, vec![memory])?;
        Ok(outcomes.remove(0))
    }

    /// Writes several memories in one transaction: all are stored, or (on error) none.
    /// Outcomes are in input order; later items are checked for duplicates against earlier
    /// ones.
    ///
    /// Concurrent calls are group-committed: calls that arrive while a commit is in flight
    /// share the next transaction (and its one fsync), and each returns once that commit is
    /// durable. Each call counts as one write request in the account's [`crate::Usage`].
    pub fn write_batch(
        &self,
        account: &str,
        memories: Vec<NewMemory>,
    ) -> Result<Vec<WriteOutcome>> {
        validate_account(account)?;
        for m in &memories {
            validate_new(m)?;
        }
        let prepared = self.embed(memories)?;
        self.inner
            .group
            .submit(account.to_owned(), prepared, |group| {
                self.transact(|txn, now| {
                    let analyzer = self.inner.lexical_index.then_some(&self.inner.analyzer);
                    let mut tables = InsertTables::open(txn, analyzer, self.inner.embedder_tag)?;
                    group
                        .iter()
                        .map(|request| {
                            count_write(&mut tables.usage, &request.account, now)?;
                            request
                                .memories
                                .iter()
                                .map(|p| insert(&mut tables, now, &request.account, p.clone()))
                                .collect()
                        })
                        .collect()
                })
            })
    }

    /// Embeds the memories' decisions when an embedder is configured: outside any
    /// transaction, so no writer waits on the network.
    fn embed(&self, memories: Vec<NewMemory>) -> Result<Vec<Prepared>> {
        let vectors = match &self.inner.embedder {
            Some(embedder) => {
                let texts: Vec<&str> = memories.iter().map(|m| m.decision.as_str()).collect();
                embed_units(embedder.as_ref(), &texts)?
            }
            None => vec![None; memories.len()],
        };
        Ok(memories
            .into_iter()
            .zip(vectors)
            .map(|(memory, vector)| Prepared { memory, vector })
            .collect())
    }
}

/// A memory ready for the write transaction: with its unit embedding when an embedder is
/// configured (and gave it a direction).
#[derive(Clone)]
pub(super) struct Prepared {
    pub memory: NewMemory,
    pub vector: Option<Vec<f32>>,
}

impl Store {
    /// How many write requests are queued for the next group commit (for tests).
    #[doc(hidden)]
    pub fn queued_writes(&self) -> usize {
        self.inner.group.queued()
    }
}

pub(crate) fn validate_account(account: &str) -> Result<()> {
    if account.is_empty() {
        return Err(Error::InvalidArgument("account must not be empty".into()));
    }
    Ok(())
}

pub(crate) fn validate_tenant(tenant: Option<&str>) -> Result<()> {
    if tenant.is_some_and(str::is_empty) {
        return Err(Error::InvalidArgument(
            "tenant must not be empty (use none for the default tenant)".into(),
        ));
    }
    Ok(())
}

fn validate_new(m: &NewMemory) -> Result<()> {
    validate_tenant(m.tenant.as_deref())?;
    if m.decision.trim().is_empty() {
        return Err(Error::InvalidArgument("decision must not be empty".into()));
    }
    if m.source.is_empty() {
        return Err(Error::InvalidArgument("source must not be empty".into()));
    }
    Ok(())
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

/// The tables an insert touches, opened once per transaction (opening a redb table is not
/// free, and a batch inserts many rows).
struct InsertTables<'t> {
    meta: Table<'t, &'static str, &'static [u8]>,
    trees: Table<'t, &'static [u8], u64>,
    nodes: Table<'t, &'static [u8], &'static [u8]>,
    rows: Table<'t, u128, &'static [u8]>,
    versions: Table<'t, &'static [u8], &'static [u8]>,
    dedup: Table<'t, &'static [u8], ()>,
    usage: Table<'t, &'static str, &'static [u8]>,
    index: IndexTables<'t>,
    /// `None` when this handle skips the lexical index.
    analyzer: Option<&'t Analyzer>,
    vectors: Table<'t, &'static [u8], &'static [u8]>,
    /// The embedder's vector space tag.
    space: u64,
}

impl<'t> InsertTables<'t> {
    fn open(txn: &'t WriteTransaction, analyzer: Option<&'t Analyzer>, space: u64) -> Result<Self> {
        Ok(InsertTables {
            meta: txn.open_table(META)?,
            trees: txn.open_table(TREES)?,
            nodes: txn.open_table(TREE_NODES)?,
            rows: txn.open_table(ROWS)?,
            versions: txn.open_table(VERSIONS)?,
            dedup: txn.open_table(DEDUP)?,
            usage: txn.open_table(USAGE)?,
            index: IndexTables::open(txn)?,
            analyzer,
            vectors: txn.open_table(VECTORS)?,
            space,
        })
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

    /// A live row (neither superseded nor expired at `now`) with this fingerprint. Entries of
    /// rows that can never be live again are dropped on the way.
    fn find_live_duplicate(
        &mut self,
        fingerprint: &[u8],
        now: Timestamp,
    ) -> Result<Option<MemoryId>> {
        let (lo, hi) = (
            dedup_entry(fingerprint, MemoryId::from_u128(0)),
            dedup_entry(fingerprint, MemoryId::from_u128(u128::MAX)),
        );
        let mut dead = Vec::new();
        let mut live = None;
        for entry in self.dedup.range(lo.as_slice()..=hi.as_slice())? {
            let key = entry?.0;
            let id = dedup_entry_id(key.value())?;
            let version = latest_version(&self.versions, id)?;
            let superseded = version.superseded_by.is_some();
            let expired = version.valid_to.is_some_and(|end| end <= now);
            if !superseded && !expired {
                live = Some(id);
                break;
            }
            dead.push(key.value().to_vec());
        }
        for key in dead {
            self.dedup.remove(key.as_slice())?;
        }
        Ok(live)
    }
}

fn insert(
    t: &mut InsertTables<'_>,
    now: Timestamp,
    account: &str,
    prepared: Prepared,
) -> Result<WriteOutcome> {
    let Prepared { memory: m, vector } = prepared;
    let NewMemory {
        tenant,
        decision,
        summary,
        topic,
        importance_score,
        source,
        channel,
        session_id,
        original_message,
        original_input,
        external_id,
        valid_from,
        recorded_at,
        extraction,
        shape,
    } = m;
    let scope = t.tree_for(&tree_name(account, tenant.as_deref(), Facet::All))?;
    let channel = channel.unwrap_or_else(|| source.clone());
    let fingerprint = dedup_key(scope, &source, &channel, &decision, external_id.as_deref());
    if let Some(existing) = t.find_live_duplicate(&fingerprint, now)? {
        return Ok(WriteOutcome::Duplicate { existing });
    }

    // The row's place in every tree that orders it: its scope, its source, its session.
    let mut trees = vec![
        scope,
        t.tree_for(&tree_name(
            account,
            tenant.as_deref(),
            Facet::Source(&source),
        ))?,
    ];
    if let Some(session) = session_id.as_deref() {
        trees.push(t.tree_for(&tree_name(
            account,
            tenant.as_deref(),
            Facet::Session(session),
        ))?);
    }
    let positions = trees
        .into_iter()
        .map(|tree| {
            Ok(TreePosition {
                tree,
                seq: tree::count(&t.nodes, tree)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let id = MemoryId::generate();
    let original_full = original_message.unwrap_or_else(|| decision.clone());
    let row = RowRecord {
        positions,
        account: account.to_owned(),
        tenant,
        summary: summary.unwrap_or_else(|| decision.clone()),
        decision,
        topic,
        importance_score: importance_score.clamp(1, 10) as u8,
        source,
        channel,
        session_id,
        original_message: truncate_chars(&original_full, ORIGINAL_MESSAGE_MAX_CHARS),
        original_input: original_input.unwrap_or(original_full),
        external_id,
        captured_at: recorded_at.unwrap_or(now),
        created_at: now,
        valid_from: valid_from.or(recorded_at).unwrap_or(now),
        extraction,
        shape,
    };
    let version = VersionRecord::default();
    let summary = summary_of(&row, &version);

    t.rows.insert(id.as_u128(), encode_row(&row).as_slice())?;
    for pos in &row.positions {
        tree::append(&mut t.nodes, pos.tree, pos.seq, summary, id)?;
    }
    t.dedup
        .insert(dedup_entry(&fingerprint, id).as_slice(), ())?;
    if let Some(analyzer) = t.analyzer {
        index_row(&mut t.index, analyzer, scope, id, &row.decision)?;
    }
    if let Some(vector) = &vector {
        store_vector(&mut t.vectors, scope, id, t.space, vector)?;
    }
    Ok(WriteOutcome::Saved(Box::new(super::rows::render(
        id, row, &version,
    ))))
}
