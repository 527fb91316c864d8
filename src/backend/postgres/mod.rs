//! The PostgreSQL backend (feature `postgres`): many server processes on one database, a
//! schema that runs on Citus with every account table distributed by `account_id`.
//!
//! - tokio-postgres, each pooled connection driven on the thread that uses it (`pool.rs`), so
//!   the library's callers stay synchronous. Statements that do not depend on each other's
//!   results are pipelined (sent together, one round trip).
//! - Transaction time: `clock.rs` (account clocks, advisory locks, the database clock).
//! - Statements: `sql.rs`; schema and migrations: `schema.rs`.
//! - A write transaction that hits a serialisation failure or a deadlock is run again, up to
//!   [`ATTEMPTS`] times, then fails with [`Error::Contention`].
//! - Keys and settings changed by any process reach every process's
//!   [`Backend::accounts_generation`] within [`GENERATION_POLL`] (a generation counter bumped
//!   in the changing transaction, polled).

mod clock;
mod pool;
mod read;
pub(crate) mod schema;
mod sql;
mod write;

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use self::clock::Floors;
use self::pool::{Pool, Pooled};
use self::schema::Layout;
use super::{Backend, Backlog, Grouping, Read, StorageStats, TableStats, Write};
use crate::error::{Error, Result, StorageError};
use crate::model::MemoryId;
use crate::text::Analyzer;
use crate::time::{Clock, Timestamp};

pub(crate) use self::sql::pg;

/// How often a write transaction is tried when it keeps hitting serialisation failures.
pub(crate) const ATTEMPTS: u32 = 6;

/// How often the accounts generation is read from the database.
pub(crate) const GENERATION_POLL: Duration = Duration::from_millis(200);

/// Where and how to connect to PostgreSQL: a connection URL (`postgres://user:pass@host/db`,
/// or the key-value form), the schema that holds aurra's tables, and the pool size.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    url: String,
    schema: String,
    pool_size: usize,
    partitions: Option<u32>,
}

impl PostgresConfig {
    /// A configuration for the database at `url`: schema `aurra`, a pool of 16 connections.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            schema: "aurra".into(),
            pool_size: 16,
            partitions: None,
        }
    }

    /// Keeps aurra's tables in `schema` (created if missing). Several stores may share one
    /// database under different schemas.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The most connections this store opens at once.
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections.max(1);
        self
    }

    /// Creates the account tables hash-partitioned by `account_id` into `partitions`
    /// partitions (only when the schema is created; an existing schema keeps its layout).
    /// This is the layout Citus imposes when it distributes a table by `account_id`.
    pub fn hash_partitions(mut self, partitions: u32) -> Self {
        self.partitions = Some(partitions.max(1));
        self
    }

    /// The schema holding aurra's tables.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// The statements that distribute this schema's tables on Citus, to run once after the
    /// first start created them and before any data is written: every account table
    /// distributed by `account_id` and colocated with `clocks` (so that each request is a
    /// single-shard statement), every global table a reference table.
    pub fn citus_distribution_sql(&self) -> Vec<String> {
        let table = |t: &str| {
            format!(
                "'{}.{}'",
                schema::quote_ident(&self.schema).replace('\'', "''"),
                t
            )
        };
        let mut out: Vec<String> = schema::GLOBAL_TABLES
            .iter()
            .map(|t| format!("SELECT create_reference_table({});", table(t)))
            .collect();
        let anchor = schema::ACCOUNT_TABLES[0];
        for t in schema::ACCOUNT_TABLES {
            out.push(if *t == anchor {
                format!(
                    "SELECT create_distributed_table({}, 'account_id');",
                    table(t)
                )
            } else {
                format!(
                    "SELECT create_distributed_table({}, 'account_id', colocate_with => {});",
                    table(t),
                    table(anchor)
                )
            });
        }
        out
    }
}

/// What the engine passes when opening.
pub(crate) struct Options<'a> {
    /// `None`: the database server's clock (one clock for every process).
    pub clock: Option<Arc<dyn Clock>>,
    pub durable: bool,
    pub lexical: Option<&'a Analyzer>,
}

/// The PostgreSQL backend.
pub(crate) struct PgBackend {
    pool: Pool,
    schema: String,
    clock: Option<Arc<dyn Clock>>,
    durable: bool,
    floors: Floors,
    generation: Arc<AtomicU64>,
    /// When the generation poller last reached the database.
    reach: Arc<Mutex<Reach>>,
    /// Dropping it stops the generation poller.
    _poller: Mutex<mpsc::Sender<()>>,
}

/// When the generation poller last reached the database.
#[derive(Debug)]
struct Reach {
    last_ok: std::time::Instant,
}

/// The database counts as unreachable (`/health` 503) when the poller has not reached it
/// for this long: ten polls.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(2);

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("schema", &self.schema)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

impl PgBackend {
    /// Connects, applies the migrations (refusing a schema this build cannot read), starts
    /// the generation poller, and rebuilds the lexical index if a handle wrote without it.
    pub(crate) fn open(config: &PostgresConfig, options: &Options<'_>) -> Result<Self> {
        let mut pg_config: tokio_postgres::Config = config
            .url
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("not a PostgreSQL connection URL: {e}")))?;
        let search_path = format!("-c search_path={}", schema::quote_ident(&config.schema));
        let options_text = match pg_config.get_options() {
            Some(existing) => format!("{existing} {search_path}"),
            None => search_path,
        };
        pg_config.options(&options_text);
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("aurra");
        }
        let pool = Pool::new(pg_config, config.pool_size);
        let layout = Layout {
            partitions: config.partitions,
        };
        let (format, latest, generation, database_clock) = {
            let mut conn = pool.get()?;
            let format = conn
                .run(async |client| Ok(schema::migrate(client, &config.schema, layout).await))??;
            conn.run(async |client| {
                let latest = client.query_one(sql::LATEST_COMMIT, &[]).await?;
                let generation = client.query_one(sql::GENERATION, &[]).await?;
                let clock = client.query_one(sql::CLOCK, &[]).await?;
                Ok((
                    format,
                    latest.get::<_, Option<i64>>(0),
                    generation.get::<_, i64>(0),
                    clock.get::<_, i64>(0),
                ))
            })?
        };
        let opened_at = match &options.clock {
            Some(clock) => clock.now().as_micros(),
            None => database_clock,
        };
        let generation = Arc::new(AtomicU64::new(generation.max(0) as u64));
        let reach = Arc::new(Mutex::new(Reach {
            last_ok: std::time::Instant::now(),
        }));
        let poller =
            spawn_generation_poller(pool.config().clone(), generation.clone(), reach.clone())?;
        let backend = PgBackend {
            pool,
            schema: config.schema.clone(),
            clock: options.clock.clone(),
            durable: options.durable,
            floors: Floors::new(opened_at, latest),
            generation,
            reach,
            _poller: Mutex::new(poller),
        };
        match options.lexical {
            Some(analyzer) if !format.lexical_complete => backend.rebuild_lexical(analyzer)?,
            Some(_) => {}
            None => backend.set_lexical_complete(false)?,
        }
        Ok(backend)
    }

    /// A session on a pooled connection.
    fn session(&self) -> Result<Session<'_>> {
        Ok(Session {
            backend: self,
            conn: RefCell::new(self.pool.get()?),
            in_transaction: Cell::new(false),
            opening: RefCell::new(None),
            opened: OnceCell::new(),
        })
    }

    /// The clock reading for a transaction: the store's clock, or the database's.
    fn clock_or(&self, database: i64) -> i64 {
        match &self.clock {
            Some(clock) => clock.now().as_micros(),
            None => database,
        }
    }

    fn set_lexical_complete(&self, complete: bool) -> Result<()> {
        self.session()?
            .execute(sql::SET_LEXICAL_COMPLETE, &[&complete])
            .map(drop)
    }

    /// Indexes every row again (a handle wrote without the index), one transaction.
    fn rebuild_lexical(&self, analyzer: &Analyzer) -> Result<()> {
        let session = self.session()?;
        session.begin("BEGIN; LOCK TABLE memories IN SHARE MODE")?;
        session.execute(sql::CLEAR_LEXICAL, &[])?;
        let accounts = session.query(sql::ACCOUNTS_WITH_MEMORIES, &[])?;
        let (insert, count) = (
            session.prepare(sql::INSERT_POSTINGS)?,
            session.prepare(sql::COUNT_LEXICAL)?,
        );
        for account in accounts {
            let account: String = account.get(0);
            for row in session.query(sql::INDEX_SOURCE, &[&account])? {
                let id: uuid::Uuid = row.get(0);
                let tenant: String = row.get(1);
                let decision: String = row.get(2);
                let analyzed = analyzer.analyze(&decision);
                session.run(async |client| {
                    write::index_row(client, &insert, &count, &account, &tenant, id, &analyzed)
                        .await
                })?;
            }
        }
        session.execute(sql::SET_LEXICAL_COMPLETE, &[&true])?;
        session.commit()
    }

    /// One attempt at a write transaction.
    fn write_once(
        &self,
        accounts: &[&str],
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let session = self.session()?;
        let held: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
        let locks: Vec<i64> = held
            .iter()
            .map(|a| clock::account_lock(&self.schema, a))
            .collect();
        let (lock, last, clock) = (
            session.prepare(sql::LOCK)?,
            session.prepare(sql::LAST_COMMITS)?,
            session.prepare(sql::CLOCK)?,
        );
        let begin = if self.durable {
            "BEGIN"
        } else {
            "BEGIN; SET LOCAL synchronous_commit TO off"
        };
        session.in_transaction.set(true);
        // One round trip: the locks are taken before the clocks are read (statements run in
        // order), and in sorted order, so two writers never wait for each other in a cycle.
        let (last, database_clock) = session.run(async |client| {
            let keys: Vec<[&(dyn ToSql + Sync); 1]> = locks.iter().map(|k| [k as _]).collect();
            let locking =
                futures_util::future::try_join_all(keys.iter().map(|k| client.execute(&lock, k)));
            let accounts: [&(dyn ToSql + Sync); 1] = [&held];
            let (_, _, last, clock) = tokio::try_join!(
                biased;
                client.batch_execute(begin),
                locking,
                client.query_one(&last, &accounts),
                client.query_one(&clock, &[]),
            )?;
            Ok((last.get::<_, Option<i64>>(0), clock.get::<_, i64>(0)))
        })?;
        let stamp = self.floors.stamp(self.clock_or(database_clock), last);
        let mut w = write::PgWrite::new(&session, Timestamp::from_micros(stamp));
        body(&mut w)?;
        let changed = w.accounts_changed;
        let (set_clocks, bump) = (
            session.prepare(sql::SET_CLOCKS)?,
            session.prepare(sql::BUMP_GENERATION)?,
        );
        // One round trip: what the body deferred, the clocks, the generation, the commit.
        let generation = w.flush_with(async |client| {
            let clocks: [&(dyn ToSql + Sync); 2] = [&held, &stamp];
            let set = async {
                match held.is_empty() {
                    true => Ok(0),
                    false => client.execute(&set_clocks, &clocks).await,
                }
            };
            let bumped = async {
                match changed {
                    true => Ok(Some(client.query_one(&bump, &[]).await?.get::<_, i64>(0))),
                    false => Ok(None),
                }
            };
            let (_, generation, _) =
                tokio::try_join!(biased; set, bumped, client.batch_execute("COMMIT"))?;
            Ok(generation)
        })?;
        session.in_transaction.set(false);
        self.floors.committed(stamp);
        if let Some(value) = generation {
            self.generation
                .fetch_max(value.max(0) as u64, Ordering::AcqRel);
        }
        Ok(())
    }
}

/// Keeps the accounts generation within [`GENERATION_POLL`] of the database, on a thread
/// with a connection of its own (opened again when it breaks, on the next tick), until the
/// returned sender is dropped. Each tick that reaches the database records it in `reach`.
fn spawn_generation_poller(
    config: tokio_postgres::Config,
    generation: Arc<AtomicU64>,
    reach: Arc<Mutex<Reach>>,
) -> Result<mpsc::Sender<()>> {
    let mut conn = Some(pool::Conn::connect(&config)?);
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("aurra-generation".into())
        .spawn(move || {
            // Each tick waits on the channel: a stop (or the store dropped) ends it at once.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(GENERATION_POLL) {
                if conn.as_ref().is_none_or(|c| c.broken) {
                    // The database restarted or the network failed: reconnect; until that
                    // works the last value stays (and the tick after tries again).
                    conn = pool::Conn::connect(&config).ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                if let Ok(value) = c
                    .run(async |client| client.query_one(sql::GENERATION, &[]).await)
                    .map(|row| row.get::<_, i64>(0))
                {
                    generation.fetch_max(value.max(0) as u64, Ordering::AcqRel);
                    reach.lock().last_ok = std::time::Instant::now();
                }
            }
        })
        .map_err(Error::Io)?;
    Ok(stop)
}

impl Backend for PgBackend {
    fn read(&self, account: Option<&str>) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(read::PgRead::open(self, account)?))
    }

    fn write(
        &self,
        accounts: &[&str],
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let mut attempt = 1;
        loop {
            match self.write_once(accounts, body) {
                Err(Error::Storage(e)) if retryable(&e) => {
                    if attempt == ATTEMPTS {
                        return Err(Error::Contention(e));
                    }
                    // Back off a little more each time, so that the conflicting
                    // transactions spread out.
                    std::thread::sleep(Duration::from_millis(2 << attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn accounts_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn is_poisoned(&self) -> bool {
        // The database knows what it committed: a failed transaction was rolled back.
        false
    }

    fn is_degraded(&self) -> bool {
        self.reach.lock().last_ok.elapsed() >= UNREACHABLE_AFTER
    }

    fn health(&self) -> std::result::Result<(), super::Degraded> {
        // Nothing in this handle needs recovering (each request takes a pooled connection
        // and gets its own error); the poller says whether the database answers.
        let reach = self.reach.lock();
        let silent = reach.last_ok.elapsed();
        if silent < UNREACHABLE_AFTER {
            return Ok(());
        }
        // Not the database's own message: `/health` is public, and that message can name
        // roles and hosts (each failing request logs it).
        Err(super::Degraded {
            reason: format!(
                "the database has not answered for {} s; the store reconnects by itself",
                silent.as_secs()
            ),
            recoverable: true,
        })
    }

    fn grouping(&self) -> Grouping {
        // Accounts commit in parallel, each under its own lock.
        Grouping::Account
    }

    fn unembedded(&self, after: Option<MemoryId>, tag: u64, batch: usize) -> Result<Backlog> {
        let after = after.map(|id| id.as_uuid());
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let rows = self
            .session()?
            .query(sql::UNEMBEDDED, &[&after, &(tag as i64), &limit])?;
        let mut backlog = Backlog::default();
        for row in rows {
            let id = MemoryId::from_uuid(row.get(1));
            backlog.last = Some(id);
            backlog.rows.push((row.get(0), id, row.get(2)));
        }
        Ok(backlog)
    }

    /// PostgreSQL reuses the space of deleted rows itself (autovacuum); giving it back to the
    /// file system (`VACUUM FULL`) locks tables for as long as it runs, an operator's call.
    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }

    fn after_bulk_load(&self) -> Result<()> {
        let session = self.session()?;
        session.run(async |client| client.batch_execute(sql::ANALYZE_LOADED).await)?;
        Ok(())
    }

    fn storage_stats(&self) -> Result<StorageStats> {
        let session = self.session()?;
        let sizes = session.query(sql::TABLE_SIZES, &[])?;
        let mut tables = Vec::with_capacity(sizes.len());
        for row in sizes {
            let name: String = row.get(0);
            // The name comes from the catalog; quoted, it cannot be anything but a name.
            let count = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
            let entries: i64 = session
                .run(async |client| client.query_one(&count, &[]).await)?
                .get(0);
            tables.push(TableStats {
                name,
                entries: u64::try_from(entries).unwrap_or(0),
                bytes: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                stored_bytes: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                fragmented_bytes: None,
            });
        }
        let total = tables.iter().map(|t| t.bytes).sum();
        Ok(StorageStats {
            backend: "postgres",
            total_bytes: Some(total),
            allocated_bytes: total,
            free_bytes: None,
            tables,
        })
    }
}

/// Whether a failure is a conflict with concurrent transactions that a retry may resolve.
fn retryable(e: &StorageError) -> bool {
    e.as_postgres().and_then(|e| e.code()).is_some_and(|code| {
        *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A pooled connection in use by one snapshot or transaction. Dropped mid-transaction, it
/// is rolled back; if that fails too, the connection is closed rather than reused.
pub(crate) struct Session<'b> {
    backend: &'b PgBackend,
    conn: RefCell<Pooled<'b>>,
    pub(crate) in_transaction: Cell<bool>,
    /// A read snapshot's opening (its account and lock key), not sent yet: it goes with the
    /// session's first statement, in the same round trip.
    opening: RefCell<Option<(String, i64)>>,
    /// What the opening read, under the lock: the account's last commit, the database clock.
    opened: OnceCell<(Option<i64>, i64)>,
}

impl<'b> Session<'b> {
    pub(crate) fn backend(&self) -> &'b PgBackend {
        self.backend
    }

    /// Makes this session a snapshot of `account`: `BEGIN`, the account's shared lock and its
    /// clock, sent with the first statement (see `clock.rs`).
    pub(crate) fn open_snapshot(&self, account: &str) {
        let key = clock::account_lock(&self.backend.schema, account);
        *self.opening.borrow_mut() = Some((account.to_owned(), key));
    }

    /// The snapshot's clock reading (sending its opening now if no statement has yet).
    pub(crate) fn clock(&self) -> Result<Option<(Option<i64>, i64)>> {
        if self.opening.borrow().is_some() {
            self.run(async |_| Ok(()))?;
        }
        Ok(self.opened.get().copied())
    }

    /// The statement for `sql`, prepared once per connection.
    pub(crate) fn prepare(&self, sql: &str) -> Result<Statement> {
        self.conn.borrow_mut().prepare(sql)
    }

    /// Runs `request` (which may pipeline several statements) on this thread, after the
    /// snapshot's opening when it has not been sent yet.
    pub(crate) fn run<T, F>(&self, request: F) -> Result<T>
    where
        F: for<'c> AsyncFnOnce(&'c Client) -> Result<T, tokio_postgres::Error>,
    {
        let Some((account, key)) = self.opening.borrow_mut().take() else {
            return self.conn.borrow_mut().run(request);
        };
        let (lock, clock) = (
            self.prepare(sql::LOCK_SHARED)?,
            self.prepare(sql::ACCOUNT_CLOCK)?,
        );
        self.in_transaction.set(true);
        let (opened, value) = self.conn.borrow_mut().run(async |client| {
            let (locked, clocked): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
                ([&key], [&account]);
            // In order: the statements after the lock see every commit before it was granted.
            let (_, _, row, value) = tokio::try_join!(
                biased;
                client.batch_execute("BEGIN"),
                client.execute(&lock, &locked),
                client.query_one(&clock, &clocked),
                request(client),
            )?;
            Ok(((row.get::<_, Option<i64>>(0), row.get::<_, i64>(1)), value))
        })?;
        let _ = self.opened.set(opened);
        Ok(value)
    }

    /// Starts a transaction with `statements` (a simple query, `BEGIN` first).
    pub(crate) fn begin(&self, statements: &str) -> Result<()> {
        self.in_transaction.set(true);
        self.run(async |client| client.batch_execute(statements).await)
    }

    pub(crate) fn commit(&self) -> Result<()> {
        self.run(async |client| client.batch_execute("COMMIT").await)?;
        self.in_transaction.set(false);
        Ok(())
    }

    /// Runs a prepared statement; its rows.
    pub(crate) fn query(
        &self,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let prepared = self.prepare(statement)?;
        self.run(async |client| client.query(&prepared, params).await)
    }

    /// Like [`Session::query`], for a statement that returns no rows; the number affected.
    pub(crate) fn execute(&self, statement: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let prepared = self.prepare(statement)?;
        self.run(async |client| client.execute(&prepared, params).await)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.in_transaction.get() {
            return;
        }
        let mut conn = self.conn.borrow_mut();
        if self.opened.get().is_some() {
            // A read snapshot: ended without waiting for the answer (`Conn::send`), so that
            // a read costs no round trip of its own to end.
            conn.send("ROLLBACK");
            return;
        }
        let rolled_back = conn.run(async |client| client.batch_execute("ROLLBACK").await);
        if rolled_back.is_err() {
            // Its state is unknown: close it rather than hand it to the next user.
            conn.broken = true;
        }
    }
}
