//! `Store`: the bitemporal memory store on one redb file. All redb access lives under this
//! module; nothing above it names a redb type.

mod accounts;
mod chain;
pub use chain::MAX_CHAIN_HOPS;
mod delete;
mod group;
mod lexical;
mod query;
mod read;
mod rows;
mod search;
mod stamp;
mod supersede;
pub use supersede::CLASSIFIER_ACTOR;
pub(crate) mod tables;
mod tree;
mod vectors;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};

use crate::embed::Embedder;
use crate::encoding::FORMAT_VERSION;
use crate::error::{Error, Result};
use crate::time::{Clock, SystemClock, Timestamp};
use tables::*;

pub use redb::StorageBackend;

/// Options for opening a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    clock: Arc<dyn Clock>,
    cache_size: Option<usize>,
    durable: bool,
    lexical_index: bool,
    embedder: Option<Arc<dyn Embedder>>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(SystemClock),
            cache_size: None,
            durable: true,
            lexical_index: true,
            embedder: None,
        }
    }
}

impl StoreOptions {
    /// Defaults: wall clock, redb's default cache, every commit durable (fsync) before it
    /// returns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads "now" from `clock` (for tests and reproducible imports).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets redb's page cache size in bytes.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// With `false`, commits return before data reaches the disk: a crash may lose the most
    /// recent writes (never corrupt older ones). Only for bulk loads that can be redone.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// With `false`, writes skip the lexical index (cheaper writes for stores that never
    /// search) and [`Store::search`] / [`Store::query`] refuse with `InvalidArgument`.
    /// Reopening with the index on rebuilds it from every row.
    pub fn lexical_index(mut self, on: bool) -> Self {
        self.lexical_index = on;
        self
    }

    /// Embeds every written memory with `embedder` (before its write transaction; a failure
    /// writes nothing and returns [`Error::Unavailable`]) and stores the vector with the row;
    /// searches then rank by cosine similarity too ([`crate::SearchType`]). Rows written
    /// without an embedder, or with another model, are found by lexical search only.
    pub fn embedder(mut self, embedder: impl Embedder + 'static) -> Self {
        self.embedder = Some(Arc::new(embedder));
        self
    }
}

#[derive(Debug)]
struct Inner {
    db: Database,
    clock: Arc<dyn Clock>,
    durable: bool,
    lexical_index: bool,
    poisoned: AtomicBool,
    stamper: stamp::Stamper,
    group: group::GroupCommit,
    /// Bumped after every committed change to API keys or settings (see
    /// [`Store::accounts_generation`]).
    accounts_generation: std::sync::atomic::AtomicU64,
    analyzer: crate::text::Analyzer,
    embedder: Option<Arc<dyn Embedder>>,
    /// The tag of the embedder's vector space (0 without one).
    embedder_tag: u64,
}

/// A bitemporal memory store on one redb file.
///
/// Cheap to clone (an `Arc`), `Send + Sync`: share one `Store` between threads. Reads run
/// concurrently on MVCC snapshots; writes are serialised by redb and are durable when they
/// return (unless [`StoreOptions::durable`] says otherwise).
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens the store at `path`, creating the file if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Opens the store at `path` with options, creating the file if it does not exist.
    ///
    /// A new file is initialised under a temporary name and renamed into place, so a crash
    /// while creating it never leaves a file at `path` that cannot be opened.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref();
        if !path.exists() {
            Self::create_file(path, &options)?;
        }
        let db = Self::builder(&options).create(path)?;
        Self::init(db, options)
    }

    fn create_file(path: &Path, options: &StoreOptions) -> Result<()> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".creating");
        let staging = path.with_file_name(name);
        match std::fs::remove_file(&staging) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let db = Self::builder(options).create(&staging)?;
        drop(Self::init(db, options.clone())?);
        std::fs::rename(&staging, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable.
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Opens a store on any redb [`StorageBackend`] (an in-memory buffer, a fault-injecting
    /// backend in tests, ...).
    pub fn open_backend(backend: impl StorageBackend, options: StoreOptions) -> Result<Store> {
        let db = Self::builder(&options).create_with_backend(backend)?;
        Self::init(db, options)
    }

    /// A store that lives in memory only (for tests and examples).
    pub fn in_memory() -> Result<Store> {
        Self::in_memory_with(StoreOptions::default())
    }

    /// A store that lives in memory only, with options.
    pub fn in_memory_with(options: StoreOptions) -> Result<Store> {
        Self::open_backend(redb::backends::InMemoryBackend::new(), options)
    }

    fn builder(options: &StoreOptions) -> redb::Builder {
        let mut builder = Database::builder();
        if let Some(bytes) = options.cache_size {
            builder.set_cache_size(bytes);
        }
        builder
    }

    fn init(db: Database, options: StoreOptions) -> Result<Store> {
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
                    });
                }
                None => {
                    meta.insert(META_FORMAT, FORMAT_VERSION.to_be_bytes().as_slice())?;
                }
            }
            // Create every table so that read transactions can open them.
            txn.open_table(ROWS)?;
            txn.open_table(VERSIONS)?;
            txn.open_table(EVENTS)?;
            txn.open_table(PREDECESSORS)?;
            txn.open_table(TREES)?;
            txn.open_table(TREE_NODES)?;
            txn.open_table(DEDUP)?;
            txn.open_table(POSTINGS)?;
            txn.open_table(LEXICAL_DELTA)?;
            txn.open_table(LEXICAL_STATS)?;
            txn.open_table(VECTORS)?;
        }
        let analyzer = crate::text::Analyzer::default();
        if options.lexical_index {
            lexical::build_if_missing(&txn, &analyzer)?;
        } else {
            lexical::mark_stale(&txn)?;
        }
        txn.commit()?;
        let stamper = stamp::Stamper::new(options.clock.now().as_micros());
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                clock: options.clock,
                durable: options.durable,
                lexical_index: options.lexical_index,
                poisoned: AtomicBool::new(false),
                stamper,
                group: group::GroupCommit::default(),
                accounts_generation: std::sync::atomic::AtomicU64::new(0),
                analyzer,
                embedder_tag: options
                    .embedder
                    .as_ref()
                    .map_or(0, |e| crate::embed::space_tag(e.space())),
                embedder: options.embedder,
            }),
        })
    }

    /// Whether an earlier failed commit has made this handle refuse writes.
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::SeqCst)
    }

    /// The clock's current reading.
    pub fn clock_now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Runs `body` in one write transaction stamped with a fresh transaction time and commits
    /// it. A failed commit (or a storage failure inside `body`) poisons the handle; a caller
    /// error returned by `body` only aborts the transaction.
    fn transact<T>(
        &self,
        body: impl FnOnce(&WriteTransaction, Timestamp) -> Result<T>,
    ) -> Result<T> {
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        let result = self.write_inner(body);
        if let Err(Error::Storage(_) | Error::Io(_)) = &result {
            self.inner.poisoned.store(true, Ordering::SeqCst);
        }
        result
    }

    fn write_inner<T>(
        &self,
        body: impl FnOnce(&WriteTransaction, Timestamp) -> Result<T>,
    ) -> Result<T> {
        let mut txn = self.inner.db.begin_write()?;
        if !self.inner.durable {
            txn.set_durability(Durability::None)?;
        }
        let last = last_commit(&txn.open_table(META)?)?;
        // Transaction time strictly increases from commit to commit, whatever the clock, and
        // stays after every "now" already handed to a reader (see `stamp.rs`).
        let clock = self.inner.clock.now().as_micros();
        let stamp = self.inner.stamper.assign(clock, last);
        let result = (|| {
            txn.open_table(META)?
                .insert(META_LAST_TX, stamp.to_be_bytes().as_slice())?;
            let value = body(&txn, Timestamp::from_micros(stamp))?;
            txn.commit()?;
            Ok(value)
        })();
        if result.is_err() {
            self.inner.stamper.abandon(stamp);
        }
        result
    }

    /// The read-side "now" for a snapshot: the clock, never before the snapshot's last commit,
    /// and always before any commit the snapshot does not contain (see `stamp.rs`).
    fn read_now(&self, txn: &redb::ReadTransaction) -> Result<Timestamp> {
        let last = last_commit(&txn.open_table(META)?)?;
        let clock = self.inner.clock.now().as_micros();
        Ok(Timestamp::from_micros(
            self.inner.stamper.read_now(clock, last),
        ))
    }

    fn begin_read(&self) -> Result<redb::ReadTransaction> {
        Ok(self.inner.db.begin_read()?)
    }
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
