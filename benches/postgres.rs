//! The PostgreSQL backend, operation by operation, against a hand-written SQL baseline on the
//! same PostgreSQL server and the same data, and against the redb backend: durable single
//! write, current truth, `as_of`, `transaction_as_of` (20 rows each) and timeline.
//!
//! The baseline is the SQLite bench's bitemporal table (`common::sqlite`: the final state of
//! every row plus the instant of each change, the same indexes) translated to PostgreSQL, with
//! its queries prepared once; a write is its duplicate check and insert in one transaction.
//! Both live on one durable cluster (fsync and synchronous commit on), in schemas of their own.
//!
//! `cargo bench --bench postgres` starts a throwaway durable cluster (`scripts/postgres-cluster
//! start DIR durable`) and loads every size (the 1M dataset takes minutes); with
//! `AURRA_BENCH_DATABASE_URL` it uses that database instead and keeps the loaded schemas for
//! the next run. Sizes: `AURRA_BENCH_SIZES` as for every bench.

mod common;

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;

use aurra::{
    ListQuery, ManualClock, MemoryId, PostgresConfig, ReadMode, Store, StoreOptions, Supersede,
    Timestamp, WriteOutcome,
};
use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group};

/// Bumped when the loading changes (a kept schema of another version is loaded again).
const LOAD_VERSION: i32 = 1;

/// The account the write benches write to, in every engine: the dataset stays as loaded
/// (a kept database serves the next run), while the writes go into the same tables and
/// indexes.
const WRITER: &str = "acme-writes";

/// The database the benches run on, and the throwaway cluster holding it (if started here).
struct Server {
    url: String,
    cluster: Option<std::path::PathBuf>,
}

impl Server {
    fn get() -> &'static Server {
        static SERVER: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
        SERVER.get_or_init(|| {
            if let Ok(url) = std::env::var("AURRA_BENCH_DATABASE_URL") {
                return Server { url, cluster: None };
            }
            let dir = std::env::temp_dir().join(format!("aurra-bench-pg-{}", std::process::id()));
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres-cluster");
            let out = Command::new(script)
                .args(["start", dir.to_str().expect("utf-8 path"), "durable"])
                .output()
                .expect("run scripts/postgres-cluster");
            assert!(
                out.status.success(),
                "cannot start PostgreSQL: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let url = String::from_utf8(out.stdout)
                .expect("url")
                .trim()
                .to_owned();
            Server {
                url,
                cluster: Some(dir),
            }
        })
    }

    fn stop(&self) {
        if let Some(dir) = &self.cluster {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres-cluster");
            let _ = Command::new(script)
                .args(["stop", dir.to_str().expect("utf-8 path")])
                .status();
        }
    }
}

/// The hand-written baseline: one connection, statements prepared once.
struct Baseline {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    current: tokio_postgres::Statement,
    as_of: tokio_postgres::Statement,
    tx_as_of: tokio_postgres::Statement,
    timeline: tokio_postgres::Statement,
    duplicate: tokio_postgres::Statement,
    insert: tokio_postgres::Statement,
}

const COLUMNS: &str = "id, decision, summary, topic, importance, source, channel, session_id, \
    original_message, original_input, external_id, captured_at, created_at, valid_from, \
    valid_to, valid_to_set_at, superseded_by, tx_start, tx_end";

impl Baseline {
    fn connect(url: &str, schema: &str) -> Baseline {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
                ))
                .await
                .expect("schema");
            client
        });
        let prepare = |sql: String| runtime.block_on(client.prepare(&sql)).expect("prepare");
        let select = |filter: &str| {
            format!(
                "SELECT {COLUMNS} FROM memories WHERE account = $1 AND tenant = $2 AND {filter} \
                 ORDER BY created_at DESC, id DESC LIMIT 20"
            )
        };
        let exists = runtime
            .block_on(client.query_opt(
                "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() \
                 AND tablename = 'memories'",
                &[],
            ))
            .expect("catalog")
            .is_some();
        if !exists {
            runtime
                .block_on(client.batch_execute(postgres_baseline::SCHEMA))
                .expect("create");
        }
        Baseline {
            current: prepare(select(
                "superseded_by IS NULL AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)",
            )),
            as_of: prepare(select(
                "valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)",
            )),
            tx_as_of: prepare(
                "SELECT id, decision, summary, topic, importance, source, channel, session_id, \
                 original_message, original_input, external_id, captured_at, created_at, \
                 valid_from, CASE WHEN valid_to_set_at <= $3 THEN valid_to END, \
                 CASE WHEN valid_to_set_at <= $3 THEN valid_to_set_at END, \
                 CASE WHEN tx_end <= $3 THEN superseded_by END, tx_start, \
                 CASE WHEN tx_end <= $3 THEN tx_end END FROM memories \
                 WHERE account = $1 AND tenant = $2 AND created_at <= $3 \
                 AND (tx_end IS NULL OR tx_end > $3) AND valid_from <= $3 \
                 AND (valid_to IS NULL OR valid_to_set_at > $3 OR valid_to > $3) \
                 ORDER BY created_at DESC, id DESC LIMIT 20"
                    .into(),
            ),
            timeline: prepare(format!(
                "WITH RECURSIVE \
                 forward(id) AS (SELECT $1::bigint UNION SELECT m.superseded_by FROM memories m \
                     JOIN forward f ON m.id = f.id WHERE m.superseded_by IS NOT NULL), \
                 backward(id) AS (SELECT $1::bigint UNION SELECT m.id FROM memories m \
                     JOIN backward b ON m.superseded_by = b.id) \
                 SELECT {COLUMNS} FROM memories \
                 WHERE id IN (SELECT id FROM forward UNION SELECT id FROM backward) \
                 ORDER BY valid_from, created_at, id"
            )),
            duplicate: prepare(
                "SELECT id FROM memories WHERE fingerprint = $1 AND superseded_by IS NULL \
                 AND (valid_to IS NULL OR valid_to > $2) LIMIT 1"
                    .into(),
            ),
            insert: prepare(
                "INSERT INTO memories (id, account, tenant, decision, summary, topic, importance, \
                 source, channel, session_id, original_message, original_input, external_id, \
                 fingerprint, captured_at, created_at, valid_from, valid_to, valid_to_set_at, \
                 superseded_by, tx_start, tx_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                    .into(),
            ),
            runtime,
            client,
        }
    }

    fn insert(&self, r: &Record) {
        let bound = postgres_baseline::Bound::of(r);
        let params = bound.params(r);
        self.runtime
            .block_on(self.client.execute(&self.insert, &params))
            .expect("insert");
    }

    /// The duplicate check and the insert, in one durable transaction.
    fn write(&self, r: &Record) {
        self.runtime
            .block_on(self.client.batch_execute("BEGIN"))
            .expect("begin");
        let duplicate = self
            .runtime
            .block_on(
                self.client
                    .query_opt(&self.duplicate, &[&sqlite::fingerprint(r), &r.created_at]),
            )
            .expect("duplicate check");
        assert!(duplicate.is_none());
        self.insert(r);
        self.runtime
            .block_on(self.client.batch_execute("COMMIT"))
            .expect("commit");
    }

    fn list(&self, statement: &tokio_postgres::Statement, at: i64) -> Vec<i64> {
        self.runtime
            .block_on(self.client.query(statement, &[&ACCOUNT, &TENANT, &at]))
            .expect("list")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    fn timeline(&self, seq: u32) -> Vec<i64> {
        self.runtime
            .block_on(self.client.query(&self.timeline, &[&i64::from(seq)]))
            .expect("timeline")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// Whether the schema holds this plan already (a kept database).
    fn loaded(&self, size: usize) -> bool {
        self.runtime
            .block_on(
                self.client.batch_execute(
                    "CREATE TABLE IF NOT EXISTS loaded (size bigint, version integer)",
                ),
            )
            .expect("loaded table");
        self.runtime
            .block_on(self.client.query_opt(
                "SELECT 1 FROM loaded WHERE size = $1 AND version = $2",
                &[&(size as i64), &LOAD_VERSION],
            ))
            .expect("loaded")
            .is_some()
    }

    fn mark_loaded(&self, size: usize) {
        self.runtime
            .block_on(self.client.execute(
                "INSERT INTO loaded VALUES ($1, $2)",
                &[&(size as i64), &LOAD_VERSION],
            ))
            .expect("mark loaded");
    }

    fn execute(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .expect(sql);
    }
}

/// One size on PostgreSQL: the aurra store (read-mostly handle and durable handle), its ids by
/// sequence number, and the baseline.
struct PgDataset {
    aurra: Store,
    durable: Store,
    ids: Vec<MemoryId>,
    baseline: Baseline,
}

fn aurra_config(size: usize) -> PostgresConfig {
    PostgresConfig::new(Server::get().url.clone())
        .schema(format!("bench_aurra_{}", size_label(size).to_lowercase()))
}

/// Loads the plan into aurra on PostgreSQL exactly as `common` loads it into redb: batches of
/// 1000 with their transaction times, then each supersession and expiry as its own commit.
fn load_aurra(plan: &Plan, store: &Store, clock: &ManualClock) {
    let mut ids: Vec<MemoryId> = Vec::with_capacity(plan.rows.len());
    let mut events = plan.events.iter().peekable();
    for (c, commit) in plan.commits.iter().enumerate() {
        clock.set(Timestamp::from_micros(commit.at));
        let batch = (commit.first..commit.end)
            .map(|seq| new_memory(seq, &plan.rows[seq as usize]))
            .collect();
        for outcome in store.write_batch(ACCOUNT, batch).expect("write_batch") {
            match outcome {
                WriteOutcome::Saved(m) => ids.push(m.id),
                WriteOutcome::Duplicate { .. } => panic!("the plan has no duplicates"),
            }
        }
        while let Some(e) = events.next_if(|e| e.after_commit as usize == c) {
            clock.set(Timestamp::from_micros(e.at));
            let (id, request) = match e.change {
                Change::Supersede { old, new } => (
                    ids[old as usize],
                    Supersede {
                        superseded_by: Some(ids[new as usize]),
                        valid_to: None,
                    },
                ),
                Change::Expire { row, valid_to } => (
                    ids[row as usize],
                    Supersede {
                        superseded_by: None,
                        valid_to: Some(Timestamp::from_micros(valid_to)),
                    },
                ),
            };
            store
                .supersede(ACCOUNT, id, request, ACCOUNT)
                .expect("supersede");
        }
    }
}

fn pg_dataset(d: &Dataset) -> PgDataset {
    let started = std::time::Instant::now();
    let size = d.size;
    let server = Server::get();
    let baseline = Baseline::connect(
        &server.url,
        &format!("bench_sql_{}", size_label(size).to_lowercase()),
    );
    let config = aurra_config(size);
    let clock = ManualClock::new(Timestamp::from_micros(T0 - SECOND));
    let loaded = baseline.loaded(size);
    if !loaded {
        baseline.execute("TRUNCATE memories");
        // A fresh schema: one kept from another version may have other tables or indexes.
        baseline.execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            config.schema_name()
        ));
        let store = Store::open_postgres(
            &config,
            StoreOptions::new().clock(clock.clone()).durable(false),
        )
        .expect("open");
        store.delete_account(ACCOUNT).expect("start empty");
        load_aurra(&d.plan, &store, &clock);
        drop(store);
        baseline.execute("BEGIN");
        for (seq, r) in d.plan.rows.iter().enumerate() {
            baseline.insert(&record(seq as u32, r, &d.plan.rows));
        }
        baseline.execute("COMMIT");
        baseline.execute("VACUUM ANALYZE memories");
        baseline.mark_loaded(size);
    }
    // The clock stands one second after the last change, as for every engine.
    clock.set(Timestamp::from_micros(d.plan.now));
    let aurra =
        Store::open_postgres(&config, StoreOptions::new().clock(clock.clone())).expect("open");
    let durable = aurra.clone();
    // Ids were generated in sequence order (UUIDv7, one process): by id is by sequence.
    let ids: Vec<MemoryId> = baseline
        .runtime
        .block_on(baseline.client.query(
            &format!(
                "SELECT id FROM \"{}\".memories WHERE account_id = '{ACCOUNT}' ORDER BY id",
                config.schema_name()
            ),
            &[],
        ))
        .expect("ids")
        .iter()
        .map(|row| MemoryId::from_uuid(row.get(0)))
        .collect();
    assert_eq!(ids.len(), size, "every row loaded");
    eprintln!(
        "postgres dataset {}: {} in {:.1}s",
        size_label(size),
        if loaded { "kept" } else { "loaded" },
        started.elapsed().as_secs_f64()
    );
    PgDataset {
        aurra,
        durable,
        ids,
        baseline,
    }
}

/// The three engines agree on every read the benches run.
fn verify(d: &Dataset, p: &PgDataset) {
    let seq: std::collections::HashMap<MemoryId, i64> = p
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as i64))
        .collect();
    let redb_seq: std::collections::HashMap<MemoryId, i64> = d
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as i64))
        .collect();
    let check = |mode: ReadMode, statement: &tokio_postgres::Statement, at: i64| {
        let q = ListQuery::new().tenant(TENANT).mode(mode).limit(LIMIT);
        let got: Vec<i64> = p
            .aurra
            .list(ACCOUNT, &q)
            .expect("list")
            .memories
            .iter()
            .map(|m| seq[&m.id])
            .collect();
        let redb: Vec<i64> = d
            .aurra
            .list(ACCOUNT, &q)
            .expect("list")
            .memories
            .iter()
            .map(|m| redb_seq[&m.id])
            .collect();
        assert_eq!(got, p.baseline.list(statement, at), "{mode:?}");
        assert_eq!(got, redb, "{mode:?}");
        assert_eq!(got.len(), LIMIT);
    };
    check(ReadMode::Current, &p.baseline.current, d.plan.now);
    for &at in d.instants.iter().take(16) {
        check(as_of_mode(at), &p.baseline.as_of, at);
        check(tx_as_of_mode(at), &p.baseline.tx_as_of, at);
    }
    for &(s, len) in d.chains.iter().take(16) {
        let t = p
            .aurra
            .timeline(ACCOUNT, p.ids[s as usize])
            .expect("timeline");
        let got: Vec<i64> = t.versions.iter().map(|m| seq[&m.id]).collect();
        assert_eq!(got.len(), len);
        assert_eq!(got, p.baseline.timeline(s));
    }
}

fn bench(c: &mut Criterion) {
    for size in sizes() {
        let d = dataset(size);
        let p = Arc::new(pg_dataset(&d));
        verify(&d, &p);
        let label = size_label(size);

        type Mode = fn(i64) -> ReadMode;
        let lists: [(&str, Mode, &tokio_postgres::Statement, bool); 3] = [
            (
                "pg_current",
                |_| ReadMode::Current,
                &p.baseline.current,
                false,
            ),
            ("pg_as_of", as_of_mode, &p.baseline.as_of, true),
            ("pg_tx_as_of", tx_as_of_mode, &p.baseline.tx_as_of, true),
        ];
        for (name, mode, statement, travels) in lists {
            let mut group = c.benchmark_group(name);
            let instant = |i: usize| {
                if travels {
                    d.instants[i % d.instants.len()]
                } else {
                    d.plan.now
                }
            };
            let mut i = 0;
            group.bench_function(BenchmarkId::new("aurra-postgres", &label), |b| {
                b.iter(|| {
                    i += 1;
                    let q = ListQuery::new()
                        .tenant(TENANT)
                        .mode(mode(black_box(instant(i))))
                        .limit(LIMIT);
                    let rows = p.aurra.list(ACCOUNT, &q).expect("list").memories;
                    assert_eq!(rows.len(), LIMIT);
                    rows
                })
            });
            let mut i = 0;
            group.bench_function(BenchmarkId::new("sql", &label), |b| {
                b.iter(|| {
                    i += 1;
                    let rows = p.baseline.list(statement, black_box(instant(i)));
                    assert_eq!(rows.len(), LIMIT);
                    rows
                })
            });
            let mut i = 0;
            group.bench_function(BenchmarkId::new("aurra-redb", &label), |b| {
                b.iter(|| {
                    i += 1;
                    let rows = aurra_list(&d, mode(black_box(instant(i))));
                    assert_eq!(rows.len(), LIMIT);
                    rows
                })
            });
            group.finish();
        }

        let mut group = c.benchmark_group("pg_timeline");
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra-postgres", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = d.chains[i % d.chains.len()];
                let t = p
                    .aurra
                    .timeline(ACCOUNT, black_box(p.ids[seq as usize]))
                    .expect("timeline");
                assert_eq!(t.versions.len(), len);
                t
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("sql", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = d.chains[i % d.chains.len()];
                let t = p.baseline.timeline(black_box(seq));
                assert_eq!(t.len(), len);
                t
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra-redb", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = d.chains[i % d.chains.len()];
                let t = d
                    .aurra
                    .timeline(ACCOUNT, black_box(d.ids[seq as usize]))
                    .expect("timeline");
                assert_eq!(t.versions.len(), len);
                t
            })
        });
        group.finish();

        // Last: every write adds a row to each engine (of the writer account, emptied first:
        // a kept database has the previous run's).
        p.durable.delete_account(WRITER).expect("empty the writer");
        p.baseline
            .execute(&format!("DELETE FROM memories WHERE account = '{WRITER}'"));
        let mut group = c.benchmark_group("pg_write");
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("aurra-postgres", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    new_memory(0, &fresh_row(n, d.plan.now))
                },
                |m| {
                    let out = p.durable.write(WRITER, m).expect("write");
                    assert!(out.saved_id().is_some());
                    out
                },
                BatchSize::SmallInput,
            )
        });
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("sql", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let mut r = fresh_record(&d, n);
                    r.account = WRITER.to_owned();
                    r
                },
                |r| p.baseline.write(&r),
                BatchSize::SmallInput,
            )
        });
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("aurra-redb", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    new_memory(0, &fresh_row(n, d.plan.now))
                },
                |m| d.aurra.write(WRITER, m).expect("write"),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::finish();
    Server::get().stop();
}
