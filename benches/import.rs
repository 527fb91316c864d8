//! Export, import and bulk-load speed, in one run on the same rows (the dataset of
//! `common/mod.rs`), each import into a fresh durable store per sample, in rows per second
//! (criterion's throughput):
//!
//! - `export-redb`: `Store::export` of the dataset's account (every memory with its events and
//!   vector, one snapshot), each record serialised to JSON Lines into a buffered sink;
//! - `import-redb`: `Store::import` of that export (JSON Lines, every row with its versions,
//!   events and vector) into a new redb file;
//! - `import-postgres`: the same into a new schema, when `AURRA_BENCH_DATABASE_URL` names a
//!   database (`scripts/postgres-cluster start DIR durable` prints one); then
//!   `export-postgres`, the export of one such schema, and `postgres-copy`, a plain binary
//!   `COPY` of the same rows into the SQLite baseline's table in PostgreSQL's types;
//! - `facts`: `aurra import --facts`' path: each row as a content-mode write body, parsed and
//!   validated like a request, then `Store::load_facts` in batches of 2 048 (new ids and
//!   times, the duplicate rule on every row);
//! - `write_batch`: the library's ordinary write path, the same rows in `write_batch` calls of
//!   2 048;
//! - `sqlite-bulk`: a plain SQLite bulk insert of the same rows (`common::sqlite`: WAL,
//!   `synchronous=FULL`, the bitemporal table with its five indexes, statements prepared
//!   once) in one transaction.
//!
//! The goals: export at 200 000 rows/s or more; import into redb at 50 000 rows/s or
//! more, and at least as fast as the SQLite bulk insert.

mod common;

use aurra::{NewMemory, Store, StoreOptions};
use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};

/// Rows per `write_batch` / `load_facts` call.
const BATCH: usize = 2048;

/// The dataset's account as an export file.
fn export_of(d: &Dataset) -> Vec<u8> {
    let mut out = Vec::new();
    export_account(&d.aurra, &mut out);
    out
}

/// The totals of exporting the dataset's account of `store` into a sink, which has `size`
/// memories.
fn exported(store: &Store, size: usize) -> aurra::export::ExportTotals {
    let mut out = std::io::BufWriter::new(std::io::sink());
    let totals = export_account(store, &mut out);
    assert_eq!(totals.memories as usize, size);
    totals
}

/// A content-mode write body with `m`'s fields, one line.
fn fact_line(m: &NewMemory) -> String {
    let mut body = serde_json::json!({
        "content": m.decision,
        "tenant_id": m.tenant,
        "topic": m.topic,
        "importance_score": m.importance_score,
        "source": m.source,
        "session_id": m.session_id,
        "external_id": m.external_id,
    });
    if let Some(v) = m.valid_from {
        body["valid_from"] = serde_json::Value::String(v.to_string());
    }
    body.to_string()
}

fn fresh_redb() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open_with(dir.path().join("aurra.redb"), StoreOptions::default()).expect("open");
    (dir, store)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    let postgres = std::env::var("AURRA_BENCH_DATABASE_URL").ok();
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let export = export_of(&d);
        let memories: Vec<NewMemory> = d
            .plan
            .rows
            .iter()
            .enumerate()
            .map(|(seq, r)| new_memory(seq as u32, r))
            .collect();
        let facts: Vec<String> = memories.iter().map(fact_line).collect();
        let records: Vec<Record> = d
            .plan
            .rows
            .iter()
            .enumerate()
            .map(|(seq, r)| record(seq as u32, r, &d.plan.rows))
            .collect();
        group.throughput(Throughput::Elements(size as u64));

        group.bench_function(BenchmarkId::new("export-redb", &label), |b| {
            b.iter(|| exported(&d.aurra, size))
        });

        group.bench_function(BenchmarkId::new("import-redb", &label), |b| {
            b.iter_batched(
                fresh_redb,
                |(dir, store)| {
                    let report = store
                        .import(&mut std::io::Cursor::new(&export), &mut |_| {})
                        .expect("import");
                    assert_eq!(report.memories as usize, size);
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });

        if let Some(url) = &postgres {
            let n = std::cell::Cell::new(0u64);
            let next_schema = || {
                n.set(n.get() + 1);
                format!("bench_import_{}_{}", std::process::id(), n.get())
            };
            let fresh_postgres = || {
                let schema = next_schema();
                let config = aurra::PostgresConfig::new(url).schema(schema);
                Store::open_postgres(&config, StoreOptions::default()).expect("open postgres")
            };
            let import = |store: Store| {
                let report = store
                    .import(&mut std::io::Cursor::new(&export), &mut |_| {})
                    .expect("import");
                assert_eq!(report.memories as usize, size);
                store
            };
            group.bench_function(BenchmarkId::new("import-postgres", &label), |b| {
                b.iter_batched(fresh_postgres, import, BatchSize::PerIteration)
            });
            let loaded = import(fresh_postgres());
            group.bench_function(BenchmarkId::new("export-postgres", &label), |b| {
                b.iter(|| exported(&loaded, size))
            });
            drop(loaded);
            group.bench_function(BenchmarkId::new("postgres-copy", &label), |b| {
                b.iter_batched(
                    || {
                        let schema = next_schema();
                        let mut client = SyncClient::connect(url);
                        client
                            .batch_execute(&format!(
                                "CREATE SCHEMA {schema}; SET search_path TO {schema}; {}",
                                postgres_baseline::SCHEMA
                            ))
                            .expect("schema");
                        client
                    },
                    |mut client| {
                        assert_eq!(client.copy(&records) as usize, size);
                        client
                    },
                    BatchSize::PerIteration,
                )
            });
            drop_schemas(url);
        }

        group.bench_function(BenchmarkId::new("facts", &label), |b| {
            b.iter_batched(
                fresh_redb,
                |(dir, store)| {
                    let mut saved = 0;
                    for chunk in facts.chunks(BATCH) {
                        let batch: Vec<NewMemory> = chunk
                            .iter()
                            .map(|line| {
                                aurra::server::facts::parse_fact(line)
                                    .expect("a fact")
                                    .memory
                            })
                            .collect();
                        saved += store.load_facts(ACCOUNT, batch).expect("load").len();
                    }
                    assert_eq!(saved, size);
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });

        group.bench_function(BenchmarkId::new("write_batch", &label), |b| {
            b.iter_batched(
                fresh_redb,
                |(dir, store)| {
                    for chunk in memories.chunks(BATCH) {
                        store
                            .write_batch(ACCOUNT, chunk.to_vec())
                            .expect("write_batch");
                    }
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });

        group.bench_function(BenchmarkId::new("sqlite-bulk", &label), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let conn = sqlite::open(&dir.path().join("bulk.db"));
                    conn.execute_batch(sqlite::SCHEMA).expect("schema");
                    (dir, conn)
                },
                |(dir, mut conn)| {
                    sqlite::load(&mut conn, &records).expect("load");
                    (dir, conn)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Drops the schemas this process created.
fn drop_schemas(url: &str) {
    let mut client = SyncClient::connect(url);
    let prefix = format!("bench_import_{}_", std::process::id());
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
            &[&prefix],
        )
        .expect("schemas");
    for row in rows {
        let name: String = row.get(0);
        client
            .batch_execute(&format!("DROP SCHEMA \"{name}\" CASCADE"))
            .expect("drop schema");
    }
}

/// A blocking tokio-postgres client on its own current-thread runtime.
struct SyncClient {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl SyncClient {
    fn connect(url: &str) -> Self {
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
        });
        SyncClient { runtime, client }
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        self.runtime.block_on(self.client.query(sql, params))
    }

    /// `records` into `memories` by binary `COPY`, in one transaction; the rows copied.
    fn copy(&mut self, records: &[Record]) -> u64 {
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::Type;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
        ];
        self.runtime.block_on(async {
            self.client.batch_execute("BEGIN").await.expect("begin");
            let sink = self
                .client
                .copy_in(
                    "COPY memories (id, account, tenant, decision, summary, topic, importance, \
                     source, channel, session_id, original_message, original_input, \
                     external_id, fingerprint, captured_at, created_at, valid_from, valid_to, \
                     valid_to_set_at, superseded_by, tx_start, tx_end) \
                     FROM STDIN (FORMAT binary)",
                )
                .await
                .expect("copy");
            let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
            for r in records {
                let bound = postgres_baseline::Bound::of(r);
                let row = bound.params(r);
                writer.as_mut().write(&row).await.expect("copy row");
            }
            let copied = writer.finish().await.expect("copy end");
            self.client.batch_execute("COMMIT").await.expect("commit");
            copied
        })
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    common::finish();
}
