//! The PostgreSQL backend (feature `postgres`): many server processes on one database, a
//! schema that runs on Citus with every account table distributed by `account_id`.
//!
//! - tokio-postgres, pooled by deadpool-postgres, on a small tokio runtime owned by the
//!   backend; the store's blocking calls wait on it (`block_on`), so the library's callers
//!   stay synchronous. Statements that do not depend on each other's results are pipelined
//!   (sent together, one round trip).
//! - Transaction time: `clock.rs` (account clocks, advisory locks, the database clock).
//! - Statements: `sql.rs`; schema and migrations: `schema.rs`.
//! - A write transaction that hits a serialisation failure or a deadlock is run again, up to
//!   [`ATTEMPTS`] times, then fails with [`Error::Contention`].
//! - Keys and settings changed by any process reach every process's
//!   [`Backend::accounts_generation`] within [`GENERATION_POLL`] (a generation counter bumped
//!   in the changing transaction, polled).

mod clock;
mod read;
pub(crate) mod schema;
mod sql;
mod write;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use self::clock::Floors;
use self::schema::Layout;
use super::{Backend, Backlog, Read, Write};
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
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    schema: String,
    clock: Option<Arc<dyn Clock>>,
    durable: bool,
    floors: Floors,
    generation: Arc<AtomicU64>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("schema", &self.schema)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        // Without waiting: the last handle may be dropped on an async thread, where a
        // runtime cannot be shut down blocking.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgBackend {
    /// Connects, applies the migrations (refusing a schema this build cannot read), starts
    /// the generation poller, and rebuilds the lexical index if a handle wrote without it.
    pub(crate) fn open(config: &PostgresConfig, options: &Options<'_>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("aurra-postgres")
            .enable_all()
            .build()?;
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
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("PostgreSQL pool: {e}")))?;
        let layout = Layout {
            partitions: config.partitions,
        };
        let (format, latest, generation) = runtime.block_on(async {
            let mut conn = pool.get().await.map_err(pool_error)?;
            let format = schema::migrate(&mut conn, &config.schema, layout).await?;
            let latest: Option<i64> = conn
                .query_one(sql::LATEST_COMMIT, &[])
                .await
                .map_err(pg)?
                .get(0);
            let generation: i64 = conn
                .query_one(sql::GENERATION, &[])
                .await
                .map_err(pg)?
                .get(0);
            Ok::<_, Error>((format, latest, generation))
        })?;
        let opened_at = match &options.clock {
            Some(clock) => clock.now().as_micros(),
            None => runtime.block_on(async {
                let conn = pool.get().await.map_err(pool_error)?;
                Ok::<i64, Error>(conn.query_one(sql::CLOCK, &[]).await.map_err(pg)?.get(0))
            })?,
        };
        let backend = PgBackend {
            pool,
            schema: config.schema.clone(),
            clock: options.clock.clone(),
            durable: options.durable,
            floors: Floors::new(opened_at, latest),
            generation: Arc::new(AtomicU64::new(generation.max(0) as u64)),
            runtime: Some(runtime),
        };
        backend.spawn_generation_poller();
        match options.lexical {
            Some(analyzer) if !format.lexical_complete => backend.rebuild_lexical(analyzer)?,
            Some(_) => {}
            None => backend.set_lexical_complete(false)?,
        }
        Ok(backend)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the backend")
    }

    /// Runs `future` on the backend's runtime, waiting for it on this thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime().block_on(future)
    }

    /// A pooled connection.
    fn connection(&self) -> Result<Object> {
        self.block_on(self.pool.get()).map_err(pool_error)
    }

    /// Keeps [`Backend::accounts_generation`] within [`GENERATION_POLL`] of the database.
    fn spawn_generation_poller(&self) {
        let (pool, generation) = (self.pool.clone(), self.generation.clone());
        self.runtime().spawn(async move {
            let mut ticks = tokio::time::interval(GENERATION_POLL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // A failed poll keeps the last value; the next tick tries again.
                let Ok(conn) = pool.get().await else { continue };
                if let Ok(row) = conn.query_one(sql::GENERATION, &[]).await {
                    let value: i64 = row.get(0);
                    generation.fetch_max(value.max(0) as u64, Ordering::AcqRel);
                }
            }
        });
    }

    /// The clock reading for a transaction: the store's clock, or the database's.
    fn clock_or(&self, database: i64) -> i64 {
        match &self.clock {
            Some(clock) => clock.now().as_micros(),
            None => database,
        }
    }

    fn set_lexical_complete(&self, complete: bool) -> Result<()> {
        let conn = self.connection()?;
        self.block_on(conn.execute(sql::SET_LEXICAL_COMPLETE, &[&complete]))
            .map_err(pg)?;
        Ok(())
    }

    /// Indexes every row again (a handle wrote without the index), one transaction.
    fn rebuild_lexical(&self, analyzer: &Analyzer) -> Result<()> {
        let mut conn = self.connection()?;
        self.block_on(async {
            let txn = conn.transaction().await.map_err(pg)?;
            // Writers hold their accounts' locks; the rebuild holds every row still.
            txn.batch_execute("LOCK TABLE memories IN SHARE MODE")
                .await
                .map_err(pg)?;
            txn.batch_execute(sql::CLEAR_LEXICAL).await.map_err(pg)?;
            let accounts = txn
                .query(sql::ACCOUNTS_WITH_MEMORIES, &[])
                .await
                .map_err(pg)?;
            let insert = txn.prepare(sql::INSERT_POSTINGS).await.map_err(pg)?;
            let count = txn.prepare(sql::COUNT_LEXICAL).await.map_err(pg)?;
            for account in accounts {
                let account: String = account.get(0);
                for row in txn
                    .query(sql::INDEX_SOURCE, &[&account])
                    .await
                    .map_err(pg)?
                {
                    let id: uuid::Uuid = row.get(0);
                    let tenant: String = row.get(1);
                    let decision: String = row.get(2);
                    let analyzed = analyzer.analyze(&decision);
                    let client: &tokio_postgres::Transaction<'_> = &txn;
                    write::index_row(client, &insert, &count, &account, &tenant, id, &analyzed)
                        .await?;
                }
            }
            txn.execute(sql::SET_LEXICAL_COMPLETE, &[&true])
                .await
                .map_err(pg)?;
            txn.commit().await.map_err(pg)
        })
    }

    /// One attempt at a write transaction.
    fn write_once(
        &self,
        accounts: &[&str],
        body: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let mut session = Session::new(self, self.connection()?);
        let held: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
        let locks: Vec<i64> = held
            .iter()
            .map(|a| clock::account_lock(&self.schema, a))
            .collect();
        let (last, database_clock) = self.block_on(async {
            let client = session.client();
            let lock = client.prepare_cached(sql::LOCK).await.map_err(pg)?;
            let last = client.prepare_cached(sql::LAST_COMMITS).await.map_err(pg)?;
            let clock = client.prepare_cached(sql::CLOCK).await.map_err(pg)?;
            let begin = if self.durable {
                "BEGIN"
            } else {
                "BEGIN; SET LOCAL synchronous_commit TO off"
            };
            // One round trip: the locks are taken before the clocks are read (statements run
            // in order), and in sorted order, so two writers never wait for each other in a
            // cycle.
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
            )
            .map_err(pg)?;
            Ok::<_, Error>((last.get::<_, Option<i64>>(0), clock.get::<_, i64>(0)))
        })?;
        session.in_transaction = true;
        let stamp = self.floors.stamp(self.clock_or(database_clock), last);
        let mut w = write::PgWrite {
            session: &session,
            stamp: Timestamp::from_micros(stamp),
            accounts_changed: false,
            inputs: Default::default(),
            shared: Default::default(),
        };
        body(&mut w)?;
        let changed = w.accounts_changed;
        let generation = self.block_on(async {
            let client = session.client();
            let set_clocks = client.prepare_cached(sql::SET_CLOCKS).await.map_err(pg)?;
            let bump = client
                .prepare_cached(sql::BUMP_GENERATION)
                .await
                .map_err(pg)?;
            if !held.is_empty() {
                client
                    .execute(&set_clocks, &[&held, &stamp])
                    .await
                    .map_err(pg)?;
            }
            let generation = match changed {
                true => Some(
                    client
                        .query_one(&bump, &[])
                        .await
                        .map_err(pg)?
                        .get::<_, i64>(0),
                ),
                false => None,
            };
            client.batch_execute("COMMIT").await.map_err(pg)?;
            Ok::<_, Error>(generation)
        })?;
        session.in_transaction = false;
        self.floors.committed(stamp);
        if let Some(value) = generation {
            self.generation
                .fetch_max(value.max(0) as u64, Ordering::AcqRel);
        }
        Ok(())
    }
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

    fn unembedded(&self, after: Option<MemoryId>, tag: u64, batch: usize) -> Result<Backlog> {
        let conn = self.connection()?;
        let after = after.map(|id| id.as_uuid());
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let rows = self
            .block_on(conn.query(sql::UNEMBEDDED, &[&after, &(tag as i64), &limit]))
            .map_err(pg)?;
        let mut backlog = Backlog::default();
        for row in rows {
            let id = MemoryId::from_uuid(row.get(1));
            backlog.last = Some(id);
            backlog.rows.push((row.get(0), id, row.get(2)));
        }
        Ok(backlog)
    }
}

/// Whether a failure is a conflict with concurrent transactions that a retry may resolve.
fn retryable(e: &StorageError) -> bool {
    e.as_postgres().and_then(|e| e.code()).is_some_and(|code| {
        *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    })
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    Error::Storage(StorageError::pool(e))
}

/// A pooled connection in use by one snapshot or transaction: rolled back (or, if that
/// fails, not returned to the pool) when dropped mid-transaction.
pub(crate) struct Session<'b> {
    backend: &'b PgBackend,
    conn: Option<Object>,
    pub(crate) in_transaction: bool,
}

impl<'b> Session<'b> {
    fn new(backend: &'b PgBackend, conn: Object) -> Self {
        Session {
            backend,
            conn: Some(conn),
            in_transaction: false,
        }
    }

    pub(crate) fn backend(&self) -> &'b PgBackend {
        self.backend
    }

    pub(crate) fn client(&self) -> &Object {
        self.conn
            .as_ref()
            .expect("a session holds its connection until dropped")
    }

    /// Prepares (once per connection) and runs a statement.
    pub(crate) fn query(
        &self,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.backend.block_on(async {
            let client = self.client();
            let prepared = client.prepare_cached(statement).await.map_err(pg)?;
            client.query(&prepared, params).await.map_err(pg)
        })
    }

    /// Like [`Session::query`], for a statement that returns no rows; the number affected.
    pub(crate) fn execute(
        &self,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        self.backend.block_on(async {
            let client = self.client();
            let prepared = client.prepare_cached(statement).await.map_err(pg)?;
            client.execute(&prepared, params).await.map_err(pg)
        })
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !self.in_transaction {
            return;
        }
        let rolled_back = self.backend.block_on(conn.batch_execute("ROLLBACK"));
        if rolled_back.is_err() {
            // Its state is unknown: close it rather than hand it to the next user.
            drop(Object::take(conn));
        }
    }
}
