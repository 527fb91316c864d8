//! The embedded backend: every memory, index entry, vector and account record in one redb
//! file (format in ARCHITECTURE.md, encoded only by `encoding.rs`).
//!
//! - One writer at a time (redb's); a write transaction is stamped by [`stamp::Stamper`],
//!   which keeps transaction time strictly increasing across every account and replay exact
//!   under concurrency (see `stamp.rs`).
//! - Reads are MVCC snapshots; their "now" comes from the same stamper.
//! - List reads walk interval-summary trees (`tree.rs`, `list.rs`).
//! - After a failed commit the handle is poisoned: redb no longer says what is on disk. It
//!   recovers by closing the database and opening it again (redb's repair then finds the
//!   last commit), at most once per recovery interval; see [`RedbBackend::recover`].

mod accounts;
mod chain;
mod compact;
mod delete;
pub(crate) mod encoding;
mod lexical;
mod list;
mod rows;
mod stamp;
pub(crate) mod tables;
mod tree;
mod vectors;
mod write;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard};

use ::redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableHandle, WriteTransaction,
};
use uuid::Uuid;

pub use ::redb::StorageBackend;

use self::encoding::{Facet, RowRecord, decode_event, decode_row, event_key};
use self::tables::*;
use super::{
    Backend, Backlog, Degraded, Duplicate, Grouping, ImportedRow, Listing, Lookup, Neighbour,
    NewRow, Owned, Read, Scope, ScopePostings, StorageStats, Stored, TableStats, Tenants, Version,
    Write,
};
use crate::account::{Account, ApiKey, OperatorCredential, SessionRecord, Settings, Usage};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, Memory, MemoryId};
use crate::time::{Clock, Timestamp};

pub use self::encoding::FORMAT_VERSION;

/// A store with inputs shared by several rows (`inputs`, row records of version 2).
pub(crate) const SHARED_INPUTS: &str = "shared-inputs";
/// The lexical index is in `posting_blocks` (builds that know only the legacy `postings`
/// table would find no posting). Recorded when the index is built.
pub(crate) const POSTING_BLOCKS_FEATURE: &str = "posting-blocks";

/// Some audit events carry a requested end of validity (`events` values of version 2).
/// Recorded when the first such event is written.
pub(crate) const REQUESTED_VALID_TO_FEATURE: &str = "requested-valid-to";

/// The features this build reads. A store lists those it uses in `meta.required_features`; a
/// build that finds one it does not know refuses the store (`IncompatibleFormat`) instead of
/// misreading it.
pub(crate) const KNOWN_FEATURES: &[&str] = &[
    SHARED_INPUTS,
    POSTING_BLOCKS_FEATURE,
    REQUESTED_VALID_TO_FEATURE,
    vectors::VECTOR_CODES_FEATURE,
];

/// The features a store requires (none when it records none).
fn required_features(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<String>> {
    meta.get(META_FEATURES)?
        .map(|v| encoding::decode_features(v.value()))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Records that the store requires `feature` (in the transaction that starts using it).
pub(crate) fn require_feature(
    meta: &mut ::redb::Table<'_, &'static str, &'static [u8]>,
    feature: &str,
) -> Result<()> {
    let mut features = required_features(meta)?;
    if !features.iter().any(|f| f == feature) {
        features.push(feature.to_owned());
        meta.insert(
            META_FEATURES,
            encoding::encode_features(&features).as_slice(),
        )?;
    }
    Ok(())
}

/// How to open a redb store.
pub(crate) struct Options<'a> {
    pub clock: Arc<dyn Clock>,
    pub cache_size: Option<usize>,
    pub durable: bool,
    /// `Some`: the lexical index is kept (and rebuilt at open if it does not cover every
    /// row) with this analysis; `None`: writes skip it and it is marked incomplete.
    pub lexical: Option<&'a crate::text::Analyzer>,
    /// Whether writes keep `vector_codes` (and an open codes every vector that has none);
    /// `false` marks the codes incomplete.
    pub vector_codes: bool,
    /// After a storage failure, the least time between two attempts to reopen the database.
    pub recovery_interval: Duration,
}

/// Opens the database with a builder on a fresh [`StorageBackend`] over the same bytes (the
/// first open, and a reopen after a storage failure).
pub(crate) type OpenStorage = Arc<dyn Fn(&::redb::Builder) -> Result<Database> + Send + Sync>;

/// Where the database lives, so that it can be opened again.
enum Source {
    Path(PathBuf),
    Storage(OpenStorage),
    /// A storage backend given once: the handle cannot reopen it.
    Once,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Source::Storage(_) => f.write_str("Storage"),
            Source::Once => f.write_str("Once"),
        }
    }
}

/// What the last storage failure was, and when recovery was last attempted.
#[derive(Debug, Default)]
struct Recovery {
    failure: Option<String>,
    last_attempt: Option<Instant>,
}

/// The redb backend (see the module docs).
#[derive(Debug)]
pub(crate) struct RedbBackend {
    /// `None` between closing a failed database and opening it again, and while opening it
    /// again fails.
    db: RwLock<Option<Database>>,
    source: Source,
    cache_size: Option<usize>,
    clock: Arc<dyn Clock>,
    durable: bool,
    poisoned: AtomicBool,
    recovery: Mutex<Recovery>,
    recovery_interval: Duration,
    stamper: stamp::Stamper,
    /// Bumped after every committed change to API keys or settings. redb lets one process
    /// open the file, so this handle sees every change.
    accounts_generation: AtomicU64,
    /// Whether writes keep the vectors' binary codes (`StoreOptions::vector_index`).
    vector_codes: bool,
}

impl RedbBackend {
    /// Opens the store file at `path`, creating it if it does not exist (readable and
    /// writable by its owner only, 0600 on Unix).
    ///
    /// A new file is initialised under a temporary name and renamed into place, so a crash
    /// while creating it never leaves a file at `path` that cannot be opened.
    pub(crate) fn open(path: &Path, options: &Options<'_>) -> Result<Self> {
        if !path.exists() {
            Self::create_file(path, options)?;
        }
        let db = Self::builder(options.cache_size).create(path)?;
        Self::init(db, Source::Path(path.to_owned()), options)
    }

    fn create_file(path: &Path, options: &Options<'_>) -> Result<()> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".creating");
        let staging = path.with_file_name(name);
        match std::fs::remove_file(&staging) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        // Owner-only: the file holds memory text in plain bytes. redb initialises the empty
        // file created here.
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            file.mode(0o600);
        }
        drop(file.open(&staging)?);
        let db = Self::builder(options.cache_size).create(&staging)?;
        drop(Self::init(db, Source::Once, options)?);
        std::fs::rename(&staging, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable.
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Opens a store on any redb [`StorageBackend`] (an in-memory buffer, a fault-injecting
    /// backend in tests, ...). It cannot be reopened: after a storage failure the handle
    /// stays poisoned.
    pub(crate) fn open_storage(
        storage: impl StorageBackend,
        options: &Options<'_>,
    ) -> Result<Self> {
        let db = Self::builder(options.cache_size).create_with_backend(storage)?;
        Self::init(db, Source::Once, options)
    }

    /// Opens a store on the storage `reopen` makes, and makes another with it to reopen the
    /// database after a storage failure.
    pub(crate) fn open_reopenable(reopen: OpenStorage, options: &Options<'_>) -> Result<Self> {
        let db = reopen(&Self::builder(options.cache_size))?;
        Self::init(db, Source::Storage(reopen), options)
    }

    fn builder(cache_size: Option<usize>) -> ::redb::Builder {
        let mut builder = Database::builder();
        if let Some(bytes) = cache_size {
            builder.set_cache_size(bytes);
        }
        builder
    }

    fn init(db: Database, source: Source, options: &Options<'_>) -> Result<Self> {
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta
                .get(META_FORMAT)?
                .map(|v| read_u32(v.value()))
                .transpose()?;
            match found {
                Some(v) if v == FORMAT_VERSION => {}
                Some(found) => {
                    return Err(Error::IncompatibleFormat {
                        found,
                        supported: FORMAT_VERSION,
                        unknown_features: Vec::new(),
                    });
                }
                None => {
                    meta.insert(META_FORMAT, FORMAT_VERSION.to_be_bytes().as_slice())?;
                }
            }
            let unknown: Vec<String> = required_features(&meta)?
                .into_iter()
                .filter(|f| !KNOWN_FEATURES.contains(&f.as_str()))
                .collect();
            if !unknown.is_empty() {
                return Err(Error::IncompatibleFormat {
                    found: FORMAT_VERSION,
                    supported: FORMAT_VERSION,
                    unknown_features: unknown,
                });
            }
            // Create every table so that read transactions can open them.
            txn.open_table(ROWS)?;
            txn.open_table(VERSIONS)?;
            txn.open_table(EVENTS)?;
            txn.open_table(PREDECESSORS)?;
            txn.open_table(TREES)?;
            txn.open_table(TREE_NODES)?;
            txn.open_table(DEDUP)?;
            txn.open_table(POSTING_BLOCKS)?;
            txn.open_table(LEXICAL_DELTA)?;
            txn.open_table(VECTORS)?;
        }
        if options.vector_codes {
            vectors::code_if_missing(&txn)?;
        } else {
            vectors::mark_stale(&txn)?;
        }
        match options.lexical {
            Some(analyze) => lexical::build_if_missing(&txn, analyze)?,
            None => lexical::mark_stale(&txn)?,
        }
        txn.commit()?;
        Ok(RedbBackend {
            db: RwLock::new(Some(db)),
            source,
            cache_size: options.cache_size,
            clock: options.clock.clone(),
            durable: options.durable,
            poisoned: AtomicBool::new(false),
            recovery: Mutex::new(Recovery::default()),
            recovery_interval: options.recovery_interval,
            stamper: stamp::Stamper::new(options.clock.now().as_micros()),
            accounts_generation: AtomicU64::new(0),
            vector_codes: options.vector_codes,
        })
    }

    /// The open database (`Poisoned` while it is closed for recovery).
    fn db(&self) -> Result<MappedRwLockReadGuard<'_, Database>> {
        RwLockReadGuard::try_map(self.db.read(), Option::as_ref).map_err(|_| Error::Poisoned)
    }

    /// After a storage failure: closes the database and opens it again, unless an attempt
    /// was made less than the recovery interval ago. The reopened database must take a
    /// [`probe`] commit, so a disk that is still full keeps the handle poisoned. Returns
    /// whether the handle is healthy.
    fn recover(&self) -> bool {
        if !self.is_poisoned() {
            return true;
        }
        let mut recovery = self.recovery.lock();
        if !self.is_poisoned() {
            // Another caller recovered while this one waited.
            return true;
        }
        if matches!(self.source, Source::Once) {
            return false;
        }
        let now = Instant::now();
        if recovery
            .last_attempt
            .is_some_and(|at| now.duration_since(at) < self.recovery_interval)
        {
            return false;
        }
        recovery.last_attempt = Some(now);
        let mut slot = self.db.write();
        if let Some(old) = slot.take() {
            // After a failed write the close reports the latched I/O error again; the file is
            // left for the reopen's repair.
            let _ = old.close();
        }
        match self.reopen() {
            Ok(db) => {
                *slot = Some(db);
                recovery.failure = None;
                // Caches of accounts and settings are built again from what is on disk.
                self.accounts_generation.fetch_add(1, Ordering::AcqRel);
                self.poisoned.store(false, Ordering::SeqCst);
                true
            }
            Err(e) => {
                recovery.failure = Some(e.to_string());
                false
            }
        }
    }

    fn reopen(&self) -> Result<Database> {
        let builder = Self::builder(self.cache_size);
        let db = match &self.source {
            Source::Path(path) => builder.open(path)?,
            Source::Storage(reopen) => reopen(&builder)?,
            Source::Once => return Err(Error::Poisoned),
        };
        probe(&db)?;
        Ok(db)
    }

    fn write_inner(&self, body: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()> {
        let mut txn = self.db()?.begin_write()?;
        if !self.durable {
            txn.set_durability(Durability::None)?;
        }
        let last = last_commit(&txn.open_table(META)?)?;
        // Transaction time strictly increases from commit to commit, whatever the clock, and
        // stays after every "now" already handed to a reader (see `stamp.rs`).
        let clock = self.clock.now().as_micros();
        let stamp = self.stamper.assign(clock, last);
        let result = (|| {
            txn.open_table(META)?
                .insert(META_LAST_TX, stamp.to_be_bytes().as_slice())?;
            let changed = {
                let mut w = RedbWrite {
                    txn: &txn,
                    now: Timestamp::from_micros(stamp),
                    cache: RefCell::new(None),
                    accounts_changed: false,
                    vector_codes: self.vector_codes,
                };
                body(&mut w)?;
                w.accounts_changed
            };
            txn.commit()?;
            Ok(changed)
        })();
        match result {
            Ok(changed) => {
                if changed {
                    self.accounts_generation.fetch_add(1, Ordering::AcqRel);
                }
                Ok(())
            }
            Err(e) => {
                self.stamper.abandon(stamp);
                Err(e)
            }
        }
    }

    /// The read-side "now" for a snapshot: the clock, never before the snapshot's last commit,
    /// and always before any commit the snapshot does not contain (see `stamp.rs`).
    fn read_now(&self, txn: &ReadTransaction) -> Result<Timestamp> {
        let last = last_commit(&txn.open_table(META)?)?;
        let clock = self.clock.now().as_micros();
        Ok(Timestamp::from_micros(self.stamper.read_now(clock, last)))
    }
}

/// How many bytes [`probe`] writes: more than a write request's commit needs.
const PROBE_BYTES: usize = 1 << 20;

/// The scratch table [`probe`] writes (absent outside a probe).
const PROBE: ::redb::TableDefinition<u8, &[u8]> = ::redb::TableDefinition::new("recovery_probe");

/// Proves that commits reach the disk again after a failure: a durable commit of
/// [`PROBE_BYTES`] (free pages inside the file may hold a commit of nothing while the disk
/// is still full), then one that drops them.
fn probe(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    txn.open_table(PROBE)?
        .insert(0, vec![0x5a; PROBE_BYTES].as_slice())?;
    txn.commit()?;
    let txn = db.begin_write()?;
    txn.delete_table(PROBE)?;
    txn.commit()?;
    Ok(())
}

impl Backend for RedbBackend {
    fn read(&self, _account: Option<&str>) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(RedbRead {
            backend: self,
            txn: self.db()?.begin_read()?,
            now: OnceCell::new(),
            rows: OnceCell::new(),
            versions: OnceCell::new(),
            inputs: OnceCell::new(),
            shared: RefCell::default(),
            loaded: RefCell::default(),
        }))
    }

    fn write(
        &self,
        _accounts: &[&str],
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        if !self.recover() {
            return Err(Error::Poisoned);
        }
        let result = self.write_inner(body);
        // After a failed commit (or a storage failure inside it) redb's state is unknown to
        // this handle; a caller's error only aborted its transaction.
        if let Err(e) = &result
            && e.is_storage_failure()
        {
            self.recovery.lock().failure = Some(e.to_string());
            self.poisoned.store(true, Ordering::SeqCst);
        }
        result
    }

    fn accounts_generation(&self) -> u64 {
        self.accounts_generation.load(Ordering::Acquire)
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    fn is_degraded(&self) -> bool {
        self.is_poisoned()
    }

    fn health(&self) -> std::result::Result<(), Degraded> {
        if self.recover() {
            return Ok(());
        }
        let recovery = self.recovery.lock();
        let failure = recovery
            .failure
            .as_deref()
            .unwrap_or("a storage write failed");
        let recoverable = !matches!(self.source, Source::Once);
        Err(Degraded {
            reason: if recoverable {
                format!(
                    "{failure}; writes are refused until the database reopens (tried at most every {} s)",
                    self.recovery_interval.as_secs_f64()
                )
            } else {
                format!("{failure}; writes are refused until the store is reopened")
            },
            recoverable,
        })
    }

    fn grouping(&self) -> Grouping {
        // One write transaction at a time: every queued request shares the next.
        Grouping::Store
    }

    fn storage_stats(&self) -> Result<StorageStats> {
        // redb reports the whole file's page counts from a write transaction only; it is
        // aborted, having written nothing.
        let db = self.db()?;
        let txn = db.begin_write()?;
        let whole = txn.stats()?;
        txn.abort()?;
        let page = whole.page_size() as u64;
        let allocated = whole.allocated_pages() * page;
        let total = match &self.source {
            Source::Path(path) => Some(std::fs::metadata(path)?.len()),
            Source::Storage(_) | Source::Once => None,
        };
        let read = db.begin_read()?;
        let mut tables = Vec::new();
        for handle in read.list_tables()? {
            let table = read.open_untyped_table(handle.clone())?;
            let stats = table.stats()?;
            tables.push(TableStats {
                name: handle.name().to_owned(),
                entries: table.len()?,
                bytes: (stats.leaf_pages() + stats.branch_pages()) * page,
                stored_bytes: stats.stored_bytes(),
                fragmented_bytes: Some(stats.fragmented_bytes()),
            });
        }
        tables.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        Ok(StorageStats {
            backend: "redb",
            total_bytes: total,
            allocated_bytes: allocated,
            free_bytes: total.map(|t| t.saturating_sub(allocated)),
            tables,
        })
    }

    fn compact(&mut self) -> Result<bool> {
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        compact::compact(self.db.get_mut().as_mut().ok_or(Error::Poisoned)?)
    }

    fn unembedded(&self, after: Option<MemoryId>, tag: u64, batch: usize) -> Result<Backlog> {
        let txn = self.db()?.begin_read()?;
        let rows = txn.open_table(ROWS)?;
        let vectors = txn.open_table(VECTORS)?;
        let range = match after {
            Some(id) if id.as_u128() == u128::MAX => return Ok(Backlog::default()),
            Some(id) => rows.range(id.as_u128() + 1..)?,
            None => rows.range(0u128..)?,
        };
        let mut backlog = Backlog::default();
        for entry in range {
            let (key, value) = entry?;
            let id = MemoryId::from_u128(key.value());
            backlog.last = Some(id);
            let row = decode_row(value.value())?;
            let Some(scope) = row.positions.first().map(|p| p.tree) else {
                continue;
            };
            if !vectors::has(&vectors, scope, id, tag)? {
                backlog.rows.push((row.account, id, row.decision));
                if backlog.rows.len() == batch {
                    break;
                }
            }
        }
        Ok(backlog)
    }
}

/// A read snapshot.
struct RedbRead<'b> {
    backend: &'b RedbBackend,
    txn: ReadTransaction,
    /// Settled at the first call of `now` (see `stamp.rs`: a reader that never asks never
    /// holds a writer's stamp back).
    now: OnceCell<Timestamp>,
    /// The two tables nearly every read uses, opened once per snapshot.
    rows: OnceCell<ReadOnlyTable<u128, &'static [u8]>>,
    versions: OnceCell<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    /// The shared inputs table (`None`: the store has none), and the inputs read so far: the
    /// facts of one conversation share one copy of it.
    inputs: OnceCell<Option<ReadOnlyTable<&'static [u8], &'static [u8]>>>,
    shared: RefCell<HashMap<[u8; 40], Arc<str>>>,
    /// Rows decoded by one operation and wanted by the next (the session neighbours of a
    /// search's best matches are found through their rows; the walk after it reads the same
    /// rows again).
    loaded: RefCell<HashMap<MemoryId, RowRecord>>,
}

impl Lookup for RedbRead<'_> {
    fn now(&self) -> Result<Timestamp> {
        if let Some(now) = self.now.get() {
            return Ok(*now);
        }
        let now = self.backend.read_now(&self.txn)?;
        Ok(*self.now.get_or_init(|| now))
    }

    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>> {
        rows::fetch(
            self.rows()?,
            self.versions()?,
            &|scope, hash| self.input(scope, hash),
            account,
            id,
        )
    }

    fn usage(&self, account: &str) -> Result<Option<Usage>> {
        if let Some(found) = accounts::usage_in_meta(&self.txn.open_table(META)?, account)? {
            return Ok(Some(found));
        }
        accounts::usage(accounts::open_optional(&self.txn, USAGE)?.as_ref(), account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>> {
        accounts::account(accounts::open_optional(&self.txn, ACCOUNTS)?.as_ref(), id)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        accounts::accounts(accounts::open_optional(&self.txn, ACCOUNTS)?.as_ref())
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        accounts::api_key(accounts::open_optional(&self.txn, API_KEYS)?.as_ref(), hash)
    }

    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        accounts::api_keys(accounts::open_optional(&self.txn, API_KEYS)?.as_ref())
    }

    fn settings(&self, key: Uuid) -> Result<Option<Settings>> {
        accounts::settings(
            accounts::open_optional(&self.txn, KEY_SETTINGS)?.as_ref(),
            key,
        )
    }

    fn operator(&self) -> Result<Option<OperatorCredential>> {
        accounts::operator(accounts::open_optional(&self.txn, META)?.as_ref())
    }

    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        accounts::session(accounts::open_optional(&self.txn, SESSIONS)?.as_ref(), hash)
    }
}

impl RedbRead<'_> {
    fn rows(&self) -> Result<&ReadOnlyTable<u128, &'static [u8]>> {
        if let Some(table) = self.rows.get() {
            return Ok(table);
        }
        let table = self.txn.open_table(ROWS)?;
        Ok(self.rows.get_or_init(|| table))
    }

    fn versions(&self) -> Result<&ReadOnlyTable<&'static [u8], &'static [u8]>> {
        if let Some(table) = self.versions.get() {
            return Ok(table);
        }
        let table = self.txn.open_table(VERSIONS)?;
        Ok(self.versions.get_or_init(|| table))
    }

    /// A shared input, read once per snapshot.
    fn input(&self, scope: u64, hash: &[u8; 32]) -> Result<Arc<str>> {
        let key = encoding::input_key(scope, hash);
        if let Some(text) = self.shared.borrow().get(&key) {
            return Ok(text.clone());
        }
        if self.inputs.get().is_none() {
            let table = accounts::open_optional(&self.txn, INPUTS)?;
            let _ = self.inputs.set(table);
        }
        let table = self.inputs.get().and_then(Option::as_ref);
        let text = read_input(table, &key)?;
        self.shared.borrow_mut().insert(key, text.clone());
        Ok(text)
    }

    fn scopes(&self, scope: &Scope<'_>) -> Result<Vec<u64>> {
        let trees = self.txn.open_table(TREES)?;
        list::scope_trees(&trees, scope.account, scope.tenants, Facet::All)
    }
}

impl super::Inventory for RedbRead<'_> {
    fn memory_accounts(&self) -> Result<Vec<String>> {
        let Some(trees) = accounts::open_optional(&self.txn, TREES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let Some(entry) = trees.range(from.as_slice()..)?.next() else {
                return Ok(out);
            };
            let (key, _) = entry?;
            let (account, next) = encoding::tree_account(key.value())
                .ok_or_else(|| Error::Corrupted("a trees key without its account".into()))?;
            out.push(account);
            from = next;
        }
    }

    fn tenants_of(&self, account: &str) -> Result<Vec<Option<String>>> {
        let Some(trees) = accounts::open_optional(&self.txn, TREES)? else {
            return Ok(Vec::new());
        };
        let prefix = encoding::account_prefix(account);
        let mut out = Vec::new();
        for entry in trees.range(prefix.as_slice()..)? {
            let (key, _) = entry?;
            if !key.value().starts_with(&prefix) {
                break;
            }
            if let Some(tenant) = encoding::tree_tenant(key.value(), account, Facet::All) {
                out.push(tenant);
            }
        }
        out.sort();
        Ok(out)
    }

    fn owners(&self, ids: &[MemoryId]) -> Result<Vec<(MemoryId, String)>> {
        let Some(rows) = accounts::open_optional(&self.txn, ROWS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for &id in ids {
            if let Some(row) = rows::load_row(&rows, id)? {
                out.push((id, row.account));
            }
        }
        Ok(out)
    }

    fn rows_ascending(
        &self,
        account: &str,
        tenant: Option<&str>,
        after: Option<crate::model::ListCursor>,
        limit: usize,
    ) -> Result<Vec<MemoryId>> {
        let (Some(trees), Some(nodes)) = (
            accounts::open_optional(&self.txn, TREES)?,
            accounts::open_optional(&self.txn, TREE_NODES)?,
        ) else {
            return Ok(Vec::new());
        };
        let name = encoding::tree_name(account, tenant, Facet::All);
        let Some(tree) = trees.get(name.as_slice())?.map(|v| v.value()) else {
            return Ok(Vec::new());
        };
        // Rows created before the cursor's instant are a prefix: start after them.
        let from = match after {
            Some(c) => {
                let count = tree::count(&nodes, tree)?;
                tree::created_prefix(&nodes, tree, count, c.created_at.as_micros() - 1)?
            }
            None => 0,
        };
        let after = after.map(|c| (c.created_at.as_micros(), c.id));
        let mut out = Vec::with_capacity(limit.min(1024));
        tree::scan_asc(&nodes, tree, from, &mut |id, summary| {
            if after.is_none_or(|cursor| (summary.created, id) > cursor) {
                out.push(id);
            }
            Ok(if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(out)
    }
}

impl Read for RedbRead<'_> {
    fn list(&self, listing: &Listing<'_>, keep: &dyn Fn(&Memory) -> bool) -> Result<Vec<Memory>> {
        let trees = self.txn.open_table(TREES)?;
        let nodes = self.txn.open_table(TREE_NODES)?;
        let inputs = |scope: u64, hash: &[u8; 32]| self.input(scope, hash);
        list::list(
            &trees,
            &nodes,
            self.rows()?,
            self.versions()?,
            &inputs,
            listing,
            keep,
        )
    }

    fn rows_at(
        &self,
        account: &str,
        ids: &[MemoryId],
        at: Option<Timestamp>,
    ) -> Result<Vec<Option<Memory>>> {
        let (rows, versions) = (self.rows()?, self.versions()?);
        let mut loaded = self.loaded.borrow_mut();
        ids.iter()
            .map(|&id| {
                let row = match loaded.remove(&id) {
                    Some(row) => row,
                    None => rows::indexed_row(rows, id, account)?,
                };
                rows::version_at(versions, id, row.created_at, at)?
                    .map(|version| {
                        rows::render(id, row, &version, &|scope, hash| self.input(scope, hash))
                    })
                    .transpose()
            })
            .collect()
    }

    fn events(&self, account: &str, id: MemoryId) -> Result<Vec<AuditEvent>> {
        rows::indexed_row(self.rows()?, id, account)?;
        let events = self.txn.open_table(EVENTS)?;
        let (lo, hi) = (event_key(id, 0), event_key(id, u32::MAX));
        let mut log = Vec::new();
        for entry in events.range(lo.as_slice()..=hi.as_slice())? {
            log.push(decode_event(entry?.1.value())?);
        }
        Ok(log)
    }

    fn chain(&self, account: &str, start: MemoryId, max_hops: usize) -> Result<Vec<Memory>> {
        let preds = self.txn.open_table(PREDECESSORS)?;
        let inputs = |scope: u64, hash: &[u8; 32]| self.input(scope, hash);
        chain::walk(
            self.rows()?,
            self.versions()?,
            &preds,
            &inputs,
            account,
            start,
            max_hops,
        )
    }

    fn postings(&self, scope: &Scope<'_>, terms: &[String]) -> Result<Vec<ScopePostings>> {
        let scopes = self.scopes(scope)?;
        lexical::postings(&self.txn, &scopes, terms)
    }

    fn session_neighbours(
        &self,
        account: &str,
        ids: &[MemoryId],
        window: u64,
    ) -> Result<Vec<Neighbour>> {
        let rows = self.rows()?;
        let nodes = self.txn.open_table(TREE_NODES)?;
        let mut loaded = self.loaded.borrow_mut();
        let mut out = Vec::new();
        for &id in ids {
            let row = match loaded.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(rows::indexed_row(rows, id, account)?)
                }
            };
            // Positions: scope, source, then the session's tree when there is one.
            let Some(session) = row.positions.get(2).filter(|_| row.session_id.is_some()) else {
                continue;
            };
            for distance in 1..=window {
                let before = session.seq.checked_sub(distance);
                for seq in before.into_iter().chain([session.seq + distance]) {
                    if let Some(neighbour) = tree::leaf_id(&nodes, session.tree, seq)? {
                        out.push(Neighbour {
                            of: id,
                            distance,
                            id: neighbour,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn vectors(
        &self,
        scope: &Scope<'_>,
        tag: u64,
        visit: &mut dyn FnMut(MemoryId, &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        let scopes = self.scopes(scope)?;
        vectors::visit(&self.txn.open_table(VECTORS)?, &scopes, tag, visit)
    }

    fn vector_codes(
        &self,
        scope: &Scope<'_>,
        tag: u64,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<bool> {
        let scopes = self.scopes(scope)?;
        match self.txn.open_table(VECTOR_CODES) {
            Ok(codes) => vectors::visit_codes(&codes, &scopes, tag, visit)?,
            // No vector was ever coded in this file.
            Err(::redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    fn vectors_of(
        &self,
        rows: &[(u64, MemoryId)],
        tag: u64,
        visit: &mut dyn FnMut(MemoryId, &[u8]),
    ) -> Result<()> {
        let table = self.txn.open_table(VECTORS)?;
        for &(scope, id) in rows {
            let Some(value) = table.get(encoding::scope_row_key(scope, id).as_slice())? else {
                continue;
            };
            let (stored_tag, components) = encoding::vector_parts(value.value())?;
            if stored_tag == tag {
                visit(id, components);
            }
        }
        Ok(())
    }

    fn vector(&self, account: &str, id: MemoryId, tag: u64) -> Result<Option<Vec<f32>>> {
        let Owned::Mine(row) = rows::owned_row(self.rows()?, id, account)? else {
            return Ok(None);
        };
        let Some(scope) = row.positions.first().map(|p| p.tree) else {
            return Ok(None);
        };
        vectors::load(&self.txn.open_table(VECTORS)?, scope, id, tag)
    }

    fn row_vector(&self, account: &str, id: MemoryId) -> Result<Option<(u64, Vec<f32>)>> {
        let Owned::Mine(row) = rows::owned_row(self.rows()?, id, account)? else {
            return Ok(None);
        };
        let Some(scope) = row.positions.first().map(|p| p.tree) else {
            return Ok(None);
        };
        let Some(vectors) = accounts::open_optional(&self.txn, VECTORS)? else {
            return Ok(None);
        };
        vectors::load_any(&vectors, scope, id)
    }
}

/// A write transaction.
struct RedbWrite<'t> {
    txn: &'t WriteTransaction,
    now: Timestamp,
    /// The tables of inserts, opened once per transaction; dropped before any other operation
    /// opens a table of its own (redb opens a table once at a time).
    cache: RefCell<Option<write::InsertTables<'t>>>,
    accounts_changed: bool,
    vector_codes: bool,
}

impl<'t> RedbWrite<'t> {
    /// Runs `f` on the insert tables, opening them if needed.
    fn inserting<T>(&self, f: impl FnOnce(&mut write::InsertTables<'t>) -> Result<T>) -> Result<T> {
        let mut cache = self.cache.borrow_mut();
        if cache.is_none() {
            *cache = Some(write::InsertTables::open(self.txn, self.vector_codes)?);
        }
        f(cache.as_mut().expect("opened above"))
    }

    /// The transaction, with the insert tables closed.
    fn txn(&self) -> &'t WriteTransaction {
        self.cache.borrow_mut().take();
        self.txn
    }
}

impl Lookup for RedbWrite<'_> {
    fn now(&self) -> Result<Timestamp> {
        Ok(self.now)
    }

    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>> {
        let txn = self.txn();
        // A shared input exists only where its table does: opened (never created) on demand.
        let inputs = |scope: u64, hash: &[u8; 32]| {
            read_input(
                Some(&txn.open_table(INPUTS)?),
                &encoding::input_key(scope, hash),
            )
        };
        rows::fetch(
            &txn.open_table(ROWS)?,
            &txn.open_table(VERSIONS)?,
            &inputs,
            account,
            id,
        )
    }

    fn usage(&self, account: &str) -> Result<Option<Usage>> {
        self.inserting(|t| t.usage(account))
    }

    fn account(&self, id: &str) -> Result<Option<Account>> {
        accounts::account(Some(&self.txn().open_table(ACCOUNTS)?), id)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        accounts::accounts(Some(&self.txn().open_table(ACCOUNTS)?))
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        accounts::api_key(Some(&self.txn().open_table(API_KEYS)?), hash)
    }

    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        accounts::api_keys(Some(&self.txn().open_table(API_KEYS)?))
    }

    fn settings(&self, key: Uuid) -> Result<Option<Settings>> {
        accounts::settings(Some(&self.txn().open_table(KEY_SETTINGS)?), key)
    }

    fn operator(&self) -> Result<Option<OperatorCredential>> {
        accounts::operator(Some(&self.txn().open_table(META)?))
    }

    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        accounts::session(Some(&self.txn().open_table(SESSIONS)?), hash)
    }
}

impl Write for RedbWrite<'_> {
    fn duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
    ) -> Result<Vec<Duplicate>> {
        self.inserting(|t| t.duplicates(account, tenant, fingerprint))
    }

    fn forget_duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
        dead: &[MemoryId],
    ) -> Result<()> {
        self.inserting(|t| t.forget_duplicates(account, tenant, fingerprint, dead))
    }

    fn insert(&mut self, row: &NewRow) -> Result<()> {
        self.inserting(|t| t.insert(row))
    }

    fn import_rows(&mut self, rows: &[ImportedRow]) -> Result<()> {
        self.inserting(|t| t.import_rows(rows))
    }

    fn append_version(
        &mut self,
        account: &str,
        id: MemoryId,
        previous: &Version,
        next: &Version,
        at: Timestamp,
    ) -> Result<()> {
        write::append_version(self.txn(), at, account, id, previous, next)
    }

    fn append_event(&mut self, account: &str, id: MemoryId, event: &AuditEvent) -> Result<()> {
        write::append_event(self.txn(), account, id, event)
    }

    fn delete(&mut self, account: &str, tenants: Tenants<'_>) -> Result<u64> {
        delete::delete(self.txn(), account, tenants)
    }

    fn put_vector(&mut self, account: &str, id: MemoryId, tag: u64, unit: &[f32]) -> Result<bool> {
        write::put_vector(self.txn(), account, id, tag, unit, self.vector_codes)
    }

    fn put_usage(&mut self, account: &str, usage: &Usage) -> Result<()> {
        self.inserting(|t| t.put_usage(account, usage))
    }

    fn count_write(&mut self, account: &str, now: Timestamp) -> Result<()> {
        let mut usage = crate::account::current_usage(self.usage(account)?, now);
        usage.count(now);
        self.put_usage(account, &usage)
    }

    fn put_account(&mut self, account: &Account) -> Result<()> {
        self.txn().open_table(ACCOUNTS)?.insert(
            account.id.as_str(),
            encoding::encode_account(account).as_slice(),
        )?;
        Ok(())
    }

    fn put_api_key(&mut self, hash: &[u8; 32], key: &ApiKey) -> Result<()> {
        self.txn()
            .open_table(API_KEYS)?
            .insert(hash.as_slice(), encoding::encode_api_key(key).as_slice())?;
        Ok(())
    }

    fn put_settings(&mut self, key: Uuid, settings: &Settings) -> Result<()> {
        self.txn().open_table(KEY_SETTINGS)?.insert(
            key.as_u128(),
            encoding::encode_settings(settings).as_slice(),
        )?;
        Ok(())
    }

    fn put_operator(&mut self, credential: &OperatorCredential) -> Result<()> {
        self.txn().open_table(META)?.insert(
            META_OPERATOR,
            accounts::encode_operator(credential).as_slice(),
        )?;
        Ok(())
    }

    fn put_session(&mut self, hash: &[u8; 32], session: &SessionRecord) -> Result<()> {
        self.txn().open_table(SESSIONS)?.insert(
            hash.as_slice(),
            encoding::encode_session(session).as_slice(),
        )?;
        Ok(())
    }

    fn delete_session(&mut self, hash: &[u8; 32]) -> Result<()> {
        self.txn().open_table(SESSIONS)?.remove(hash.as_slice())?;
        Ok(())
    }

    fn prune_sessions(&mut self, now: Timestamp, keep: usize) -> Result<()> {
        accounts::prune_sessions(&mut self.txn().open_table(SESSIONS)?, now, keep)
    }

    fn accounts_changed(&mut self) {
        self.accounts_changed = true;
    }
}

/// The shared input at `key` of `table`; a row that names a missing one is corruption.
fn read_input(
    table: Option<&impl ReadableTable<&'static [u8], &'static [u8]>>,
    key: &[u8; 40],
) -> Result<Arc<str>> {
    let value = match table {
        Some(table) => table.get(key.as_slice())?,
        None => None,
    };
    let value =
        value.ok_or_else(|| Error::Corrupted("a row names a missing shared input".into()))?;
    Ok(encoding::decode_input(value.value())?.into())
}

fn last_commit(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Option<i64>> {
    meta.get(META_LAST_TX)?
        .map(|v| read_i64(v.value()))
        .transpose()
}

fn read_u32(bytes: &[u8]) -> Result<u32> {
    bytes
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| Error::Corrupted("meta value is not a u32".into()))
}

fn read_i64(bytes: &[u8]) -> Result<i64> {
    bytes
        .try_into()
        .map(i64::from_be_bytes)
        .map_err(|_| Error::Corrupted("meta value is not an i64".into()))
}

fn read_u64(bytes: &[u8]) -> Result<u64> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupted("meta value is not a u64".into()))
}
