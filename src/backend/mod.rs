//! The storage interface under the engine: what a backend must answer, at the level of the
//! domain, so that a network database answers each question in one round trip.
//!
//! The engine (`crate::store`) owns the rules: validation and defaults, duplicate rules,
//! Level 1 planning, BM25 and fusion, the temporal predicates (`crate::temporal`), answering,
//! proof trees. A backend owns the physical layout: where rows, versions, index entries and
//! events live, how a scan finds the newest rows of a scope in a read mode, how a commit is
//! stamped. Nothing here names redb or SQL; `redb/` and `postgres/` implement it.
//!
//! Contract shared by every backend:
//! - **Transaction time.** A write transaction's stamp ([`Read::now`] of a [`Write`]) is
//!   strictly greater than every earlier commit's stamp of each account it holds, and greater
//!   than every "now" already handed to a reader of those accounts. A read's "now" is never
//!   before the last commit it sees and always before the stamp of any commit it does not
//!   see. Each backend documents how it keeps that (redb: `redb/stamp.rs`; PostgreSQL: the
//!   account clock rows and locks in `postgres/`).
//! - **Versions only fill in.** A row's mutable part ([`Version`]) changes by appending a new
//!   version in which fields that were open may become set; a set field never changes (Level
//!   1's rules guarantee it). So the state of a row at any transaction time is exact.
//! - **Scoping.** Every operation names its account; a backend reads and writes only that
//!   account's keys, and reports another account's row as [`Owned::Foreign`], never its data.
//! - **Re-runnable writes.** [`Backend::write`] may run its body more than once (PostgreSQL
//!   retries a transaction that hit a serialisation failure); the body must have no effect
//!   outside the transaction it is given.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod redb;

use std::ops::ControlFlow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{Account, ApiKey, OperatorCredential, SessionRecord, Settings, Usage};
use crate::error::Result;
use crate::model::{AuditEvent, Extraction, ListCursor, Memory, MemoryId, ReadMode, WriteShape};
use crate::time::Timestamp;

/// Why a store cannot take writes now ([`crate::Store::health`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Degraded {
    /// What failed, and what the store does about it.
    pub reason: String,
    /// Whether the store recovers by itself (it reopens its database); `false`: only
    /// reopening the store recovers it.
    pub recoverable: bool,
}

impl std::fmt::Display for Degraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A storage backend: read views, write transactions, and the global tables (accounts, API
/// keys, per-key settings) that are not scoped by an account.
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// A consistent read view with its "now" (see the module docs). `account`: the account
    /// whose memories are read (a backend may lock or route by it); `None` for reads of the
    /// global tables only.
    fn read(&self, account: Option<&str>) -> Result<Box<dyn Read + '_>>;

    /// Runs `body` in one write transaction holding `accounts` (their memories, usage and
    /// clocks), stamped per the module docs, and commits it. All of it commits or none.
    /// `body` may run again after a retryable conflict (bounded; then
    /// [`crate::Error::Contention`]).
    fn write(
        &self,
        accounts: &[&str],
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()>;

    /// Changes after every committed change to API keys or settings, whichever process made
    /// it (within the backend's documented delay).
    fn accounts_generation(&self) -> u64;

    /// Whether an earlier failed commit made this handle refuse writes.
    fn is_poisoned(&self) -> bool;

    /// `Ok` when writes can succeed; otherwise why not. A degraded backend first attempts
    /// to recover (within its own rate limit).
    fn health(&self) -> std::result::Result<(), Degraded>;

    /// Whether [`Backend::health`] would report a problem now, without attempting anything
    /// (cheap: for metrics and `/health`'s fast path).
    fn is_degraded(&self) -> bool;

    /// Which concurrent write requests should share one transaction.
    fn grouping(&self) -> Grouping;

    /// The next `batch` rows (of every account, in id order after `after`) that have no
    /// vector of space `tag`, and the last id examined (`None` when the scan is done).
    fn unembedded(&self, after: Option<MemoryId>, tag: u64, batch: usize) -> Result<Backlog>;

    /// Where the store's bytes are, table by table ([`crate::Store::storage_stats`]).
    fn storage_stats(&self) -> Result<StorageStats>;

    /// Returns the file's free pages to the file system (redb), or reports that the database
    /// manages its own space (PostgreSQL: `false`). Needs the only handle.
    fn compact(&mut self) -> Result<bool>;

    /// After a bulk load: brings what the backend plans its reads by up to date (PostgreSQL
    /// analyses the account tables, which a fresh import leaves without statistics until
    /// autovacuum comes: an export right after a 100k import read 4.7x slower). Nothing to
    /// do on redb.
    fn after_bulk_load(&self) -> Result<()> {
        Ok(())
    }
}

/// Where a store's bytes are: the whole and each table (`Store::storage_stats`, `aurra
/// stats`). Figures a backend cannot know are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageStats {
    /// `"redb"` or `"postgres"`.
    pub backend: &'static str,
    /// The file's length (redb on a path), or the schema's total size (PostgreSQL).
    pub total_bytes: Option<u64>,
    /// Bytes in pages that hold data (redb: allocated pages).
    pub allocated_bytes: u64,
    /// Pages of the file that hold nothing and are reused by later writes (redb:
    /// `total - allocated`; `Store::compact` returns them to the file system).
    pub free_bytes: Option<u64>,
    /// Each table, largest first.
    pub tables: Vec<TableStats>,
}

/// One table of a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name.
    pub name: String,
    /// Entries (redb) or rows (PostgreSQL).
    pub entries: u64,
    /// Bytes of the pages the table occupies, its indexes included on PostgreSQL.
    pub bytes: u64,
    /// Bytes of keys and values stored (redb), or of the table's heap (PostgreSQL).
    pub stored_bytes: u64,
    /// Bytes of the table's pages that hold nothing (redb: fragmentation inside pages).
    pub fragmented_bytes: Option<u64>,
}

/// Which write requests share a transaction (group commit, `store/group.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// Any requests: the backend runs one write transaction at a time (redb).
    Store,
    /// Requests of the same account: the backend commits accounts in parallel, each on its
    /// own connection and, on Citus, its own shard (PostgreSQL).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Account,
}

/// Rows without a vector (see [`Backend::unembedded`]).
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// (account, id, decision) of each row to embed.
    pub rows: Vec<(String, MemoryId, String)>,
    /// The last id examined; the next call starts after it. `None`: nothing left.
    pub last: Option<MemoryId>,
}

/// Point lookups, in a read snapshot or inside a write transaction (which sees its own
/// writes).
pub(crate) trait Lookup {
    /// The snapshot's "now"; for a write transaction, its stamp. A backend may settle it
    /// lazily, at the first call (so that reads which never ask do not hold writers back).
    fn now(&self) -> Result<Timestamp>;

    /// One row of `account` in its latest state.
    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>>;

    /// The stored usage record of `account` (of whatever period it was last written in).
    fn usage(&self, account: &str) -> Result<Option<Usage>>;

    /// The account with this id.
    fn account(&self, id: &str) -> Result<Option<Account>>;

    /// Every account, by id.
    fn accounts(&self) -> Result<Vec<Account>>;

    /// The key whose secret hashes (SHA-256) to `hash`, revoked or not.
    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>>;

    /// Every key with its hash, in no particular order.
    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>>;

    /// The stored settings of key `key` (`None`: it never stored any).
    fn settings(&self, key: Uuid) -> Result<Option<Settings>>;

    /// The operator credential, once one was issued.
    fn operator(&self) -> Result<Option<OperatorCredential>>;

    /// The dashboard session stored under `hash` (the SHA-256 of its cookie value), expired
    /// or not.
    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>>;
}

/// What only a whole-store reader (an export) asks.
pub(crate) trait Inventory {
    /// Every account that holds or held memories (with an account record or not), by id.
    fn memory_accounts(&self) -> Result<Vec<String>>;

    /// Every tenant of `account` that holds or held memories (`None`: the default tenant
    /// first, then the others by name).
    fn tenants_of(&self, account: &str) -> Result<Vec<Option<String>>>;

    /// The rows among `ids` that exist, each with its account, in no particular order.
    fn owners(&self, ids: &[MemoryId]) -> Result<Vec<(MemoryId, String)>>;

    /// Up to `limit` rows of one tenant of `account`, oldest first (`created_at` ascending,
    /// ties by id), after `after`.
    fn rows_ascending(
        &self,
        account: &str,
        tenant: Option<&str>,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<Vec<MemoryId>>;
}

/// Scans and index reads, in one snapshot.
pub(crate) trait Read: Lookup + Inventory {
    /// Up to `listing.limit` rows of the scope that `keep` accepts, newest first
    /// (`created_at` descending, ties by id descending), each in the state the mode reads
    /// (for transaction-time modes the version believed at the replayed instant; rows not
    /// written by then are never offered). Rows outside the source and session filters are
    /// never offered; a backend may skip rows it can prove the mode does not select, and
    /// offers every other row to `keep` until it has `limit` of them.
    fn list(&self, listing: &Listing<'_>, keep: &dyn Fn(&Memory) -> bool) -> Result<Vec<Memory>>;

    /// Rows of `account` by id, each in its state at `at` (latest when `None`); `None` for a
    /// row written after `at`. The ids come from this snapshot's own indexes: a missing or
    /// foreign one is [`crate::Error::Corrupted`].
    fn rows_at(
        &self,
        account: &str,
        ids: &[MemoryId],
        at: Option<Timestamp>,
    ) -> Result<Vec<Option<Memory>>>;

    /// The stored audit events of a row of `account` (after the creation events, which
    /// follow from the row), oldest first.
    fn events(&self, account: &str, id: MemoryId) -> Result<Vec<AuditEvent>>;

    /// The supersession chain of `start`: every row of `account` reachable from it over
    /// `superseded_by` links in either direction within `max_hops` hops, `start` included,
    /// each in its latest state, in no particular order; empty when `start` is not a row of
    /// `account`. A link to a row that is missing (hard-deleted) or foreign ends the walk.
    fn chain(&self, account: &str, start: MemoryId, max_hops: usize) -> Result<Vec<Memory>>;

    /// The lexical index of each tenant of `scope` that has one: its statistics and, for each
    /// of `terms` (in order), the rows containing it.
    fn postings(&self, scope: &Scope<'_>, terms: &[String]) -> Result<Vec<ScopePostings>>;

    /// For each of `ids` (rows of `account`) that belongs to a session, the rows at most
    /// `window` positions away from it in that session (in write order), with the distance.
    fn session_neighbours(
        &self,
        account: &str,
        ids: &[MemoryId],
        window: u64,
    ) -> Result<Vec<Neighbour>>;

    /// Visits the stored vector of space `tag` of every row of `scope` that has one, as the
    /// little-endian f32 bytes of a unit vector, until `visit` breaks.
    fn vectors(
        &self,
        scope: &Scope<'_>,
        tag: u64,
        visit: &mut dyn FnMut(MemoryId, &[u8]) -> ControlFlow<()>,
    ) -> Result<()>;

    /// The vector of space `tag` stored for row `id` of `account`, if any.
    fn vector(&self, account: &str, id: MemoryId, tag: u64) -> Result<Option<Vec<f32>>>;

    /// The vector stored for row `id` of `account` with its space tag, whatever the space
    /// (a row has at most one), if any.
    fn row_vector(&self, account: &str, id: MemoryId) -> Result<Option<(u64, Vec<f32>)>>;

    /// Rows of `account` by id, in that order, as an export carries them: each in its latest
    /// state, with its stored audit events and its vector (`None` for an id that is not a
    /// row of `account`). A network backend answers a page of them in a few round trips
    /// instead of three per row.
    fn histories(&self, account: &str, ids: &[MemoryId]) -> Result<Vec<Option<RowHistory>>> {
        ids.iter()
            .map(|&id| {
                let Owned::Mine(stored) = self.fetch(account, id)? else {
                    return Ok(None);
                };
                Ok(Some(RowHistory {
                    stored,
                    events: self.events(account, id)?,
                    vector: self.row_vector(account, id)?,
                }))
            })
            .collect()
    }

    /// Visits the binary codes of space `tag` under `scope` (see `redb::vectors::code`) a
    /// block at a time: `(scope tree, dims, entries)`, each entry `row id (16, big-endian) ++
    /// code`. `false`: this backend keeps no codes, and the caller ranks by `vectors`.
    fn vector_codes(
        &self,
        _scope: &Scope<'_>,
        _tag: u64,
        _visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<bool> {
        Ok(false)
    }

    /// Visits the stored vectors of space `tag` of the rows `(scope tree, id)` that have one,
    /// in place (only for backends whose `vector_codes` returns `true`).
    fn vectors_of(
        &self,
        _rows: &[(u64, MemoryId)],
        _tag: u64,
        _visit: &mut dyn FnMut(MemoryId, &[u8]),
    ) -> Result<()> {
        Err(crate::error::Error::InvalidArgument(
            "this backend keeps no vector codes".into(),
        ))
    }
}

/// A write transaction. Everything written commits together or not at all.
pub(crate) trait Write: Lookup {
    /// The rows of the tenant with this duplicate fingerprint (see
    /// `store::write::fingerprint`) that may still be live, in the order they were written,
    /// each with its latest `valid_to` and `superseded_by`.
    fn duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
    ) -> Result<Vec<Duplicate>>;

    /// Rows among those [`Write::duplicates`] returned that can never be live again: a
    /// backend may stop returning them.
    fn forget_duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
        dead: &[MemoryId],
    ) -> Result<()>;

    /// Inserts a row with every index entry it needs (scans, filters, duplicates, lexical
    /// postings, its vector).
    fn insert(&mut self, row: &NewRow) -> Result<()>;

    /// Loads rows that arrive with their history (an import, which checked them first):
    /// what [`Write::insert`] of every row, then [`Write::append_version`] of each row's
    /// versions in order, then [`Write::append_event`] of its events would store. A backend
    /// may write each row in its final state with its index entries at once.
    fn import_rows(&mut self, rows: &[ImportedRow]) -> Result<()> {
        for r in rows {
            self.insert(&r.row)?;
        }
        for r in rows {
            let mut previous = Version::default();
            for (at, next) in &r.versions {
                self.append_version(&r.row.account, r.row.id, &previous, next, *at)?;
                previous = next.clone();
            }
        }
        for r in rows {
            for event in &r.events {
                self.append_event(&r.row.account, r.row.id, event)?;
            }
        }
        Ok(())
    }

    /// Appends a version of row `id` of `account`, believed from transaction time `at` (this
    /// transaction's time, or for an import the time it had in its store; never before the
    /// latest version's), that replaces `previous`, the latest one. When `next` sets
    /// `superseded_by`, its successor gains the row as a predecessor.
    fn append_version(
        &mut self,
        account: &str,
        id: MemoryId,
        previous: &Version,
        next: &Version,
        at: Timestamp,
    ) -> Result<()>;

    /// Appends an audit event to row `id` of `account`.
    fn append_event(&mut self, account: &str, id: MemoryId, event: &AuditEvent) -> Result<()>;

    /// Hard-deletes every row of the tenants of `account` (rows, versions, events, index
    /// entries, vectors). Returns the number of rows deleted.
    fn delete(&mut self, account: &str, tenants: Tenants<'_>) -> Result<u64>;

    /// Stores the unit vector of row `id` of `account` in space `tag`; `false` (and nothing
    /// stored) when the row no longer exists.
    fn put_vector(&mut self, account: &str, id: MemoryId, tag: u64, unit: &[f32]) -> Result<bool>;

    /// Stores the usage record of `account`.
    fn put_usage(&mut self, account: &str, usage: &Usage) -> Result<()>;

    /// Counts one write request of `account` at `now`: one more in its stored usage (and in
    /// the day of `now`) when that is of this period, else a fresh usage of this period with
    /// a count of one and no grace period (`store::accounts::current_usage`, `Usage::count`).
    fn count_write(&mut self, account: &str, now: Timestamp) -> Result<()>;

    /// Stores an account (new, or replacing the one with its id).
    fn put_account(&mut self, account: &Account) -> Result<()>;

    /// Stores a key under the hash of its secret (new, or replacing it).
    fn put_api_key(&mut self, hash: &[u8; 32], key: &ApiKey) -> Result<()>;

    /// Stores the settings of key `key`.
    fn put_settings(&mut self, key: Uuid, settings: &Settings) -> Result<()>;

    /// Stores the operator credential, replacing any earlier one.
    fn put_operator(&mut self, credential: &OperatorCredential) -> Result<()>;

    /// Stores a dashboard session under `hash`.
    fn put_session(&mut self, hash: &[u8; 32], session: &SessionRecord) -> Result<()>;

    /// Removes the session stored under `hash`, if any.
    fn delete_session(&mut self, hash: &[u8; 32]) -> Result<()>;

    /// Removes every session expired at `now`, then, while more than `keep` remain, the
    /// oldest.
    fn prune_sessions(&mut self, now: Timestamp, keep: usize) -> Result<()>;

    /// Notes that this transaction changes keys or settings: once it commits,
    /// [`Backend::accounts_generation`] changes.
    fn accounts_changed(&mut self);
}

/// Which tenants of an account an operation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tenants<'a> {
    /// One tenant (`None`: the default tenant).
    One(Option<&'a str>),
    /// Every tenant of the account.
    All,
}

/// An account and which of its tenants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub account: &'a str,
    pub tenants: Tenants<'a>,
}

/// A list read: scope, mode at `now`, the exact-match filters and the limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listing<'a> {
    pub scope: Scope<'a>,
    pub mode: ReadMode,
    pub now: Timestamp,
    pub source: Option<&'a str>,
    pub session: Option<&'a str>,
    pub limit: usize,
    /// Only rows strictly older than this `(created_at, id)` in list order.
    pub before: Option<ListCursor>,
}

/// Whom an id belongs to.
#[derive(Debug)]
pub(crate) enum Owned<T> {
    /// The caller's account's row.
    Mine(T),
    /// Another account's row: nothing of it is returned.
    Foreign,
    /// No such row.
    Absent,
}

/// A row as stored, in its latest state, with what [`Memory`] does not carry.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub memory: Memory,
    /// When `valid_to` was recorded.
    pub valid_to_set_at: Option<Timestamp>,
    /// How the row arrived (for its derived `memory.created` event).
    pub shape: WriteShape,
}

impl Stored {
    /// The row's latest version.
    pub fn version(&self) -> Version {
        Version {
            valid_to: self.memory.valid_to,
            valid_to_set_at: self.valid_to_set_at,
            superseded_by: self.memory.superseded_by,
            transaction_time_end: self.memory.transaction_time_end,
        }
    }
}

/// Everything stored for a row (see [`Read::histories`]).
#[derive(Clone, Debug)]
pub(crate) struct RowHistory {
    pub stored: Stored,
    /// The stored audit events, oldest first (the creation events follow from the row).
    pub events: Vec<AuditEvent>,
    /// The vector with its space tag.
    pub vector: Option<(u64, Vec<f32>)>,
}

/// The mutable part of a row as believed from one transaction time on. The first version of
/// every row is the default (nothing ended, nothing replaced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Version {
    pub valid_to: Option<Timestamp>,
    /// Transaction time at which `valid_to` was first set.
    pub valid_to_set_at: Option<Timestamp>,
    pub superseded_by: Option<MemoryId>,
    pub transaction_time_end: Option<Timestamp>,
}

/// A candidate duplicate (see [`Write::duplicates`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Duplicate {
    pub id: MemoryId,
    pub valid_to: Option<Timestamp>,
    pub superseded_by: Option<MemoryId>,
}

/// A text's terms for the lexical index: its distinct terms (sorted) with their frequency,
/// and its length in terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Analyzed {
    pub len: u32,
    pub terms: Vec<(String, u32)>,
}

/// A row with its history, as an import loads it (see [`Write::import_rows`]).
#[derive(Clone, Debug)]
pub(crate) struct ImportedRow {
    pub row: NewRow,
    /// The versions after the first, each with the transaction time it was believed from,
    /// in order.
    pub versions: Vec<(Timestamp, Version)>,
    /// The stored audit events, oldest first.
    pub events: Vec<AuditEvent>,
}

impl ImportedRow {
    /// The row's latest version.
    pub fn latest(&self) -> Version {
        self.versions
            .last()
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Everything stored for one new row, defaults applied (see `store::write`).
#[derive(Clone, Debug)]
pub(crate) struct NewRow {
    pub id: MemoryId,
    pub account: String,
    pub tenant: Option<String>,
    pub decision: String,
    pub summary: String,
    pub topic: String,
    pub importance_score: u8,
    pub source: String,
    pub channel: String,
    pub session_id: Option<String>,
    pub original_message: String,
    pub original_input: Arc<str>,
    /// `original_input` is shared by several rows (a conversation): stored once per tenant,
    /// content-addressed, and referenced by each row (whose `original_message` is then its
    /// first [`crate::ORIGINAL_MESSAGE_MAX_CHARS`] characters unless given otherwise).
    pub shared_input: bool,
    pub external_id: Option<String>,
    pub captured_at: Timestamp,
    /// The transaction's stamp.
    pub created_at: Timestamp,
    pub valid_from: Timestamp,
    pub extraction: Option<Extraction>,
    pub shape: WriteShape,
    /// The duplicate fingerprint (scope-free; the backend keys it under the tenant).
    pub fingerprint: Vec<u8>,
    /// The lexical index entry, when the index is on.
    pub lexical: Option<Analyzed>,
    /// The unit vector and its space tag, when an embedder gave one.
    pub vector: Option<(u64, Vec<f32>)>,
}

impl NewRow {
    /// The row as read back right after its insert.
    pub fn into_memory(self) -> Memory {
        Memory {
            id: self.id,
            account: self.account,
            tenant: self.tenant,
            decision: self.decision,
            summary: self.summary,
            topic: self.topic,
            importance_score: self.importance_score,
            source: self.source,
            channel: self.channel,
            session_id: self.session_id,
            original_message: self.original_message,
            original_input: self.original_input,
            external_id: self.external_id,
            captured_at: self.captured_at,
            created_at: self.created_at,
            valid_from: self.valid_from,
            valid_to: None,
            superseded_by: None,
            transaction_time_start: self.created_at,
            transaction_time_end: None,
            extraction: self.extraction,
        }
    }
}

/// One tenant's lexical index, for the terms asked.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScopePostings {
    /// Rows indexed (BM25's N).
    pub rows: u64,
    /// Their total length in terms.
    pub terms: u64,
    /// For each term asked, in order: the rows containing it.
    pub per_term: Vec<Vec<Posting>>,
}

/// One row containing a term.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Posting {
    pub id: MemoryId,
    /// The term's frequency in the row.
    pub tf: u32,
    /// The row's length in terms.
    pub len: u32,
}

/// A row near another in their session (see [`Read::session_neighbours`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Neighbour {
    /// The row asked about.
    pub of: MemoryId,
    /// Positions apart (1..=window).
    pub distance: u64,
    /// The neighbour.
    pub id: MemoryId,
}
