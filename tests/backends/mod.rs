//! One harness for every backend: a behaviour test written against [`TestBackend`] runs on
//! redb and on PostgreSQL, plain and with every account table hash-partitioned by
//! `account_id` (the layout Citus imposes). [`on_every_backend!`] turns each test function
//! into one test per backend.
//!
//! PostgreSQL tests need a server: `scripts/test` installs PostgreSQL 15 if it is missing,
//! starts a throwaway cluster on a loopback port and sets `AURRA_TEST_DATABASE_URL`. Each
//! test works in a schema of its own, dropped when it ends. Without a server the
//! PostgreSQL tests fail, saying what to run; they never pass without one.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::path::PathBuf;

#[cfg(feature = "postgres")]
use aurra::PostgresConfig;
use aurra::{Store, StoreOptions};

/// The environment variable naming the test database.
pub const DATABASE_URL: &str = "AURRA_TEST_DATABASE_URL";

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Redb,
    Postgres,
    /// Every account table hash-partitioned by `account_id` into 4 partitions.
    PostgresPartitioned,
}

/// A place for one test's store: a temporary directory (redb) or a schema of its own
/// (PostgreSQL), removed when dropped.
pub struct TestBackend {
    pub kind: Kind,
    dir: tempfile::TempDir,
    schema: Option<String>,
}

/// The test database's URL, or a failure that says how to get one.
pub fn database_url() -> String {
    match std::env::var(DATABASE_URL) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "PostgreSQL tests need a server and {DATABASE_URL}: run scripts/test, which \
             installs PostgreSQL 15 when it is missing (apt-get install -y postgresql-15) and \
             starts a throwaway cluster; or point {DATABASE_URL} at a database you own"
        ),
    }
}

impl TestBackend {
    pub fn new(kind: Kind) -> Self {
        let schema = match kind {
            Kind::Redb => None,
            Kind::Postgres | Kind::PostgresPartitioned => {
                database_url();
                Some(format!("test_{}", uuid::Uuid::now_v7().simple()))
            }
        };
        TestBackend {
            kind,
            dir: tempfile::tempdir().expect("temporary directory"),
            schema,
        }
    }

    /// The store file of a redb backend.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("store.redb")
    }

    /// The PostgreSQL configuration of this test's schema.
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Option<PostgresConfig> {
        let schema = self.schema.as_ref()?;
        let config = PostgresConfig::new(database_url())
            .schema(schema.clone())
            .pool_size(8);
        Some(match self.kind {
            Kind::PostgresPartitioned => config.hash_partitions(4),
            _ => config,
        })
    }

    /// The schema of a PostgreSQL backend.
    pub fn schema_name(&self) -> &str {
        self.schema.as_deref().expect("a PostgreSQL backend")
    }

    /// Opens (or reopens) the store with `options`: on redb the same file each time.
    pub fn open(&self, options: StoreOptions) -> Store {
        self.try_open(options).expect("open the store")
    }

    pub fn try_open(&self, options: StoreOptions) -> aurra::Result<Store> {
        #[cfg(feature = "postgres")]
        if let Some(config) = self.postgres() {
            return Store::open_postgres(&config, options);
        }
        Store::open_with(self.path(), options)
    }
}

/// A plain client of the test database, working in one schema, on a runtime of its own: for
/// a test that inspects or changes what a store wrote behind its back.
#[cfg(feature = "postgres")]
pub struct Admin {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

#[cfg(feature = "postgres")]
impl Admin {
    pub fn connect(schema: &str) -> Admin {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
                    .await
                    .expect("connect");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("SET search_path TO \"{schema}\""))
                .await
                .expect("search path");
            client
        });
        Admin { runtime, client }
    }

    /// The rows of one statement.
    pub fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        self.runtime
            .block_on(self.client.query(sql, params))
            .expect(sql)
    }

    /// The one `bigint` a statement returns (a count).
    pub fn count(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> i64 {
        self.runtime
            .block_on(self.client.query_one(sql, params))
            .expect(sql)
            .get(0)
    }

    /// Runs statements as one simple query.
    pub fn execute(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .expect(sql);
    }
}

#[cfg(feature = "postgres")]
impl Drop for TestBackend {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let url = database_url();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dropped = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
        });
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("dropping schema {schema}: {e}");
        }
    }
}

/// Every kind, for tests that loop over them.
pub const KINDS: [Kind; 3] = [Kind::Redb, Kind::Postgres, Kind::PostgresPartitioned];

/// Turns each `fn name(backend: &TestBackend) -> R { ... }` into a module `name` with one
/// test per backend: `redb`, `postgres`, `postgres_partitioned`.
#[macro_export]
macro_rules! on_every_backend {
    ($($(#[doc = $doc:literal])* fn $name:ident($backend:ident: &TestBackend) -> $ret:ty $body:block)*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn run($backend: &$crate::backends::TestBackend) -> $ret $body

                #[test]
                fn redb() -> $ret {
                    run(&$crate::backends::TestBackend::new($crate::backends::Kind::Redb))
                }

                #[cfg(feature = "postgres")]
                #[test]
                fn postgres() -> $ret {
                    run(&$crate::backends::TestBackend::new($crate::backends::Kind::Postgres))
                }

                #[cfg(feature = "postgres")]
                #[test]
                fn postgres_partitioned() -> $ret {
                    run(&$crate::backends::TestBackend::new(
                        $crate::backends::Kind::PostgresPartitioned,
                    ))
                }
            }
        )*
    };
}
