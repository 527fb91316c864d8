//! `Store`: the engine. The domain rules (validation and defaults, duplicate rules, Level 1
//! planning, temporal selection, BM25 and rank fusion, answering, proof trees) over one
//! storage interface (`crate::backend`), whichever backend it runs on. Nothing here names a
//! redb type or writes SQL.

mod accounts;
pub use accounts::FIRST_ACCOUNT;
#[cfg(feature = "server")]
pub(crate) use accounts::validate_account_id;
mod chain;
pub use chain::MAX_CHAIN_HOPS;
mod delete;
mod export;
pub use export::ExportScope;
mod group;
mod import;
pub use import::ImportReport;
mod lexical;
mod query;
mod read;
mod search;
mod supersede;
pub use supersede::CLASSIFIER_ACTOR;
mod vectors;
mod write;
#[cfg(feature = "server")]
pub(crate) use write::{validate_new, validate_source, validate_tenant};

use std::path::Path;
use std::sync::Arc;

use crate::backend::redb::{Options as RedbOptions, RedbBackend};
use crate::backend::{Backend, Read, Write};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::time::{Clock, SystemClock, Timestamp};

pub use crate::backend::Degraded;
pub use crate::backend::redb::StorageBackend;

/// Options for opening a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `None`: the system clock (on PostgreSQL, the database server's).
    clock: Option<Arc<dyn Clock>>,
    cache_size: Option<usize>,
    durable: bool,
    lexical_index: bool,
    embedder: Option<Arc<dyn Embedder>>,
    vector_index: bool,
    recovery_interval: std::time::Duration,
    observer: Option<CommitObserver>,
    max_sessions: usize,
}

/// Called after every write transaction of a store ([`StoreOptions::observe_commits`]).
#[derive(Clone)]
struct CommitObserver(Arc<dyn Fn(&Commit) + Send + Sync>);

impl std::fmt::Debug for CommitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitObserver")
    }
}

/// One write transaction, as a [`CommitObserver`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Commit {
    /// The write requests it held: several when concurrent writes were group-committed, else
    /// one.
    pub requests: usize,
    /// From the transaction's start to its end, the commit's fsync included.
    pub duration: std::time::Duration,
    /// How it ended.
    pub outcome: CommitOutcome,
}

/// How a write transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitOutcome {
    /// Committed.
    Committed,
    /// Refused by its own checks (`InvalidArgument`, `NotFound`, `Forbidden`, `Conflict`):
    /// nothing was written and the store is fine.
    Refused,
    /// Failed below the store's rules: storage, I/O, a poisoned handle, contention.
    Failed,
}

/// The default of [`StoreOptions::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

/// The default least time between two attempts to reopen a redb database after a storage
/// failure ([`StoreOptions::recovery_interval`]).
pub const DEFAULT_RECOVERY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: None,
            cache_size: None,
            durable: true,
            lexical_index: true,
            embedder: None,
            vector_index: true,
            recovery_interval: DEFAULT_RECOVERY_INTERVAL,
            observer: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

impl StoreOptions {
    /// Defaults: wall clock, redb's default cache, every commit durable (fsync) before it
    /// returns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads "now" from `clock` (for tests and reproducible imports). Without one, the
    /// system clock; on PostgreSQL, transaction time then comes from the database server's
    /// clock, which every server process shares.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// After a storage failure (a full disk, an I/O error) a redb store refuses writes and,
    /// at most once per `interval`, closes and reopens its database when a write or
    /// [`Store::health`] finds it failed (default [`DEFAULT_RECOVERY_INTERVAL`]).
    pub fn recovery_interval(mut self, interval: std::time::Duration) -> Self {
        self.recovery_interval = interval;
        self
    }

    /// Calls `observer` after every write transaction with its size, duration and outcome
    /// (for metrics: the server's `/metrics` uses it). It runs on the writing thread, after
    /// the commit and before the writers return: keep it short.
    pub fn observe_commits(mut self, observer: impl Fn(&Commit) + Send + Sync + 'static) -> Self {
        self.observer = Some(CommitObserver(Arc::new(observer)));
        self
    }

    /// The most dashboard sessions the store keeps (default [`DEFAULT_MAX_SESSIONS`]);
    /// starting one more ends the oldest ([`Store::start_session`]).
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
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

    /// With `true` (the default), semantic search ranks a scope by the vectors' binary codes
    /// first and computes the exact cosine only for the best candidates (a few hundred; more
    /// when the temporal scope or the source filter leaves too few of them), which is what
    /// keeps it fast at 100k memories. With `false` every vector of the scope is scored
    /// exactly, and writes skip the codes (on redb, a later open with the index on codes
    /// every vector again). Backends without codes (PostgreSQL) always score exactly.
    pub fn vector_index(mut self, on: bool) -> Self {
        self.vector_index = on;
        self
    }
}

#[derive(Debug)]
struct Inner {
    backend: Box<dyn Backend>,
    clock: Arc<dyn Clock>,
    lexical_index: bool,
    group: group::GroupCommit,
    analyzer: crate::text::Analyzer,
    embedder: Option<Arc<dyn Embedder>>,
    vector_index: bool,
    /// The tag of the embedder's vector space (0 without one).
    embedder_tag: u64,
    observer: Option<CommitObserver>,
    max_sessions: usize,
}

/// A bitemporal memory store: on one redb file, embedded (the default), or on PostgreSQL.
///
/// Cheap to clone (an `Arc`), `Send + Sync`: share one `Store` between threads. Reads run
/// concurrently on snapshots; writes are durable when they return (unless
/// [`StoreOptions::durable`] says otherwise).
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
        let analyzer = crate::text::Analyzer::default();
        let backend = RedbBackend::open(path.as_ref(), &redb_options(&options, &analyzer))?;
        Ok(Self::assemble(Box::new(backend), options, analyzer))
    }

    /// Opens a store on any redb [`StorageBackend`] (an in-memory buffer, a fault-injecting
    /// backend in tests, ...).
    pub fn open_backend(backend: impl StorageBackend, options: StoreOptions) -> Result<Store> {
        let analyzer = crate::text::Analyzer::default();
        let backend = RedbBackend::open_storage(backend, &redb_options(&options, &analyzer))?;
        Ok(Self::assemble(Box::new(backend), options, analyzer))
    }

    /// Opens a store on the storage `reopen` makes. After a storage failure the store closes
    /// the database and opens it again on a fresh backend from `reopen` (at most once per
    /// [`StoreOptions::recovery_interval`]); a store from [`Store::open_backend`] cannot.
    pub fn open_reopenable<S: StorageBackend>(
        reopen: impl Fn() -> std::io::Result<S> + Send + Sync + 'static,
        options: StoreOptions,
    ) -> Result<Store> {
        let analyzer = crate::text::Analyzer::default();
        let open = move |builder: &::redb::Builder| -> Result<::redb::Database> {
            Ok(builder.create_with_backend(reopen()?)?)
        };
        let backend =
            RedbBackend::open_reopenable(Arc::new(open), &redb_options(&options, &analyzer))?;
        Ok(Self::assemble(Box::new(backend), options, analyzer))
    }

    /// A store that lives in memory only (for tests and examples).
    pub fn in_memory() -> Result<Store> {
        Self::in_memory_with(StoreOptions::default())
    }

    /// A store that lives in memory only, with options.
    pub fn in_memory_with(options: StoreOptions) -> Result<Store> {
        Self::open_backend(::redb::backends::InMemoryBackend::new(), options)
    }

    /// Opens the store in a PostgreSQL database (feature `postgres`), applying the schema's
    /// migrations first. Several stores, in one process or many, may open the same database
    /// and schema at once: they serve the same data (see the README, "PostgreSQL").
    ///
    /// Errors: `InvalidArgument` for a malformed URL; `Storage` when the database cannot be
    /// reached; `IncompatibleFormat` when the schema was written by a newer build.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(
        config: &crate::backend::postgres::PostgresConfig,
        options: StoreOptions,
    ) -> Result<Store> {
        let analyzer = crate::text::Analyzer::default();
        let backend = crate::backend::postgres::PgBackend::open(
            config,
            &crate::backend::postgres::Options {
                clock: options.clock.clone(),
                durable: options.durable,
                lexical: options.lexical_index.then_some(&analyzer),
            },
        )?;
        Ok(Self::assemble(Box::new(backend), options, analyzer))
    }

    fn assemble(
        backend: Box<dyn Backend>,
        options: StoreOptions,
        analyzer: crate::text::Analyzer,
    ) -> Store {
        let group = group::GroupCommit::new(backend.grouping());
        Store {
            inner: Arc::new(Inner {
                backend,
                clock: options.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                lexical_index: options.lexical_index,
                group,
                analyzer,
                embedder_tag: options
                    .embedder
                    .as_ref()
                    .map_or(0, |e| crate::embed::space_tag(e.space())),
                embedder: options.embedder,
                vector_index: options.vector_index,
                observer: options.observer,
                max_sessions: options.max_sessions.max(1),
            }),
        }
    }

    /// Whether an earlier failed commit has made this handle refuse writes (until it
    /// recovers: see [`Store::health`]).
    pub fn is_poisoned(&self) -> bool {
        self.inner.backend.is_poisoned()
    }

    /// Whether [`Store::health`] would report a problem now (a poisoned redb handle, a
    /// PostgreSQL database that has not answered for 2 s), without attempting a recovery.
    pub fn is_degraded(&self) -> bool {
        self.inner.backend.is_degraded()
    }

    /// `Ok` when writes can succeed, otherwise why not. A redb store poisoned by a storage
    /// failure first tries to recover by reopening its database (at most once per
    /// [`StoreOptions::recovery_interval`]; a store opened from a path or with
    /// [`Store::open_reopenable`]). Writes make the same attempt. On PostgreSQL: whether the
    /// database answered in the last 2 s (the accounts poller asks it five times a second).
    pub fn health(&self) -> std::result::Result<(), crate::backend::Degraded> {
        self.inner.backend.health()
    }

    /// Where the store's bytes are, table by table (what `aurra stats` prints). On redb: the
    /// file's length, its allocated and free pages, and per table its entries, pages, stored
    /// bytes and the unused space inside its pages; on PostgreSQL: per table its rows (an
    /// exact count: this reads every table) and its size with indexes. Every account's
    /// data: an operator's report.
    pub fn storage_stats(&self) -> Result<crate::StorageStats> {
        self.inner.backend.storage_stats()
    }

    /// Returns the free pages inside the store's file to the file system: the space a hard
    /// delete freed (which later writes reuse anyway) and what page splits left behind. On
    /// redb the file is rewritten in place, every page moved towards its start, and the tail
    /// truncated; `true` if the file shrank. On PostgreSQL nothing happens (`false`): the
    /// database reuses the space of deleted rows itself, and `VACUUM FULL` is an operator's
    /// decision.
    ///
    /// Needs the only handle to the store: it fails with [`Error::Conflict`] while a clone
    /// of this `Store` exists (a server's threads, say).
    ///
    /// [`Error::Conflict`]: crate::Error::Conflict
    pub fn compact(&mut self) -> Result<bool> {
        let inner = Arc::get_mut(&mut self.inner).ok_or_else(|| {
            crate::Error::Conflict("compacting needs the only handle to the store".into())
        })?;
        inner.backend.compact()
    }

    /// The clock's current reading.
    pub fn clock_now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// A read view of `account`'s memories (or, with `None`, of the global tables only).
    fn read(&self, account: Option<&str>) -> Result<Box<dyn Read + '_>> {
        self.inner.backend.read(account)
    }

    /// Runs `body` in one write transaction holding `accounts`, stamped with a fresh
    /// transaction time, and commits it. `body` may run more than once (see
    /// [`Backend::write`]); only its last run's value is returned.
    fn transact<T>(
        &self,
        accounts: &[&str],
        body: impl FnMut(&mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        self.transact_requests(1, accounts, body)
    }

    /// [`Store::transact`] for a transaction holding `requests` write requests (a group
    /// commit), reported to the commit observer.
    fn transact_requests<T>(
        &self,
        requests: usize,
        accounts: &[&str],
        mut body: impl FnMut(&mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        let mut out = None;
        let started = self
            .inner
            .observer
            .as_ref()
            .map(|_| std::time::Instant::now());
        let result = self.inner.backend.write(accounts, &mut |w| {
            out = Some(body(w)?);
            Ok(())
        });
        if let (Some(observer), Some(started)) = (&self.inner.observer, started) {
            let outcome = match &result {
                Ok(()) => CommitOutcome::Committed,
                Err(
                    Error::InvalidArgument(_)
                    | Error::NotFound(_)
                    | Error::Forbidden(_)
                    | Error::Conflict(_),
                ) => CommitOutcome::Refused,
                Err(_) => CommitOutcome::Failed,
            };
            (observer.0)(&Commit {
                requests,
                duration: started.elapsed(),
                outcome,
            });
        }
        result?;
        out.ok_or_else(|| {
            Error::Corrupted("the backend committed without running the transaction".into())
        })
    }
}

/// What the redb backend needs of the options.
fn redb_options<'a>(
    options: &StoreOptions,
    analyzer: &'a crate::text::Analyzer,
) -> RedbOptions<'a> {
    RedbOptions {
        clock: options
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock)),
        cache_size: options.cache_size,
        durable: options.durable,
        lexical: options.lexical_index.then_some(analyzer),
        vector_codes: options.vector_index,
        recovery_interval: options.recovery_interval,
    }
}
