//! The PostgreSQL schema and its versioned migrations, applied when a store opens.
//!
//! Every table that holds an account's data has `account_id` as the first column of its
//! primary key and of every index, so that it can be hash-partitioned (or, on Citus,
//! distributed) by it; the tables that map credentials to accounts (accounts, API keys,
//! per-key settings) and the store's own records are small and global (Citus reference
//! tables). The layout is described in ARCHITECTURE.md and README ("PostgreSQL").
//!
//! `format` records the schema version and the features a store requires. A build refuses a
//! schema newer than it knows, or one that requires a feature it does not know, with
//! `IncompatibleFormat`; it never reads a schema it cannot read exactly.

use tokio_postgres::Client;

use crate::error::{Error, Result};

/// The newest schema version this build creates and reads.
pub(crate) const SCHEMA_VERSION: u32 = 4;

/// Features this build knows. A store records the ones it uses in `format.features`; a
/// build that finds one it does not know refuses the store.
pub(crate) const KNOWN_FEATURES: &[&str] = &[];

/// Tables whose rows belong to one account: partitioned (or distributed) by `account_id`.
pub(crate) const ACCOUNT_TABLES: &[&str] = &[
    "clocks",
    "memories",
    "inputs",
    "events",
    "postings",
    "lexical_stats",
    "vectors",
    "usage",
];

/// Global tables (Citus: reference tables).
pub(crate) const GLOBAL_TABLES: &[&str] = &[
    "format",
    "generation",
    "accounts",
    "api_keys",
    "key_settings",
    "operator_credential",
    "sessions",
];

/// How the account tables are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `Some(n)`: each account table is hash-partitioned by `account_id` into `n`
    /// partitions (declarative partitioning imposes Citus's rule that every unique key
    /// contains the distribution column).
    pub partitions: Option<u32>,
}

/// The account tables of schema version 1: (name, columns and primary key).
const V1_ACCOUNT_TABLES: &[(&str, &str)] = &[
    (
        "clocks",
        "account_id text NOT NULL,
         last_tx bigint NOT NULL,
         PRIMARY KEY (account_id)",
    ),
    (
        "memories",
        "account_id text NOT NULL,
         id uuid NOT NULL,
         tenant text NOT NULL,
         decision text NOT NULL,
         summary text NOT NULL,
         topic text NOT NULL,
         importance smallint NOT NULL,
         source text NOT NULL,
         channel text NOT NULL,
         session_id text,
         original_message text,
         original_input text,
         input_hash bytea,
         external_id text,
         captured_at bigint NOT NULL,
         created_at bigint NOT NULL,
         valid_from bigint NOT NULL,
         valid_to bigint,
         valid_to_set_at bigint,
         superseded_by uuid,
         tx_end bigint,
         extraction jsonb,
         shape smallint NOT NULL,
         fingerprint bytea NOT NULL,
         CHECK ((original_input IS NULL) <> (input_hash IS NULL)),
         CHECK (original_message IS NOT NULL OR input_hash IS NOT NULL),
         PRIMARY KEY (account_id, id)",
    ),
    (
        // Inputs shared by several rows of a tenant (a conversation and the facts extracted
        // from it), stored once; a row with `input_hash` shows this text as its
        // `original_input` and, when its `original_message` is null, its first characters.
        "inputs",
        "account_id text NOT NULL,
         tenant text NOT NULL,
         hash bytea NOT NULL,
         text text NOT NULL,
         PRIMARY KEY (account_id, tenant, hash)",
    ),
    (
        "events",
        "account_id text NOT NULL,
         memory_id uuid NOT NULL,
         n integer NOT NULL,
         kind text NOT NULL,
         at bigint NOT NULL,
         actor text NOT NULL,
         details jsonb NOT NULL,
         PRIMARY KEY (account_id, memory_id, n)",
    ),
    (
        "postings",
        "account_id text NOT NULL,
         tenant text NOT NULL,
         term text NOT NULL,
         memory_id uuid NOT NULL,
         tf integer NOT NULL,
         len integer NOT NULL,
         PRIMARY KEY (account_id, tenant, term, memory_id)",
    ),
    (
        "lexical_stats",
        "account_id text NOT NULL,
         tenant text NOT NULL,
         rows bigint NOT NULL,
         terms bigint NOT NULL,
         PRIMARY KEY (account_id, tenant)",
    ),
    (
        "vectors",
        "account_id text NOT NULL,
         tenant text NOT NULL,
         memory_id uuid NOT NULL,
         space bigint NOT NULL,
         vector bytea NOT NULL,
         PRIMARY KEY (account_id, tenant, memory_id)",
    ),
    (
        "usage",
        "account_id text NOT NULL,
         period_start bigint NOT NULL,
         writes_used bigint NOT NULL,
         grace_started_at bigint,
         PRIMARY KEY (account_id)",
    ),
];

/// The indexes of schema version 1 (each on an account table, `account_id` first).
const V1_INDEXES: &[&str] = &[
    // Newest first within a tenant: history, transaction-time travel.
    "CREATE INDEX memories_newest ON memories (account_id, tenant, created_at DESC, id DESC)",
    // The rows not superseded: current truth.
    "CREATE INDEX memories_live ON memories (account_id, tenant, created_at DESC, id DESC)
         WHERE superseded_by IS NULL",
    "CREATE INDEX memories_source ON memories
         (account_id, tenant, source, created_at DESC, id DESC)",
    // A session's rows, newest first (and, read backwards, the turns around a turn).
    "CREATE INDEX memories_session ON memories
         (account_id, tenant, session_id, created_at DESC, id DESC) WHERE session_id IS NOT NULL",
    // Predecessors (the backward links of chains).
    "CREATE INDEX memories_successor ON memories (account_id, superseded_by)
         WHERE superseded_by IS NOT NULL",
    // Duplicate suppression among rows not superseded.
    "CREATE INDEX memories_fingerprint ON memories (account_id, tenant, fingerprint)
         WHERE superseded_by IS NULL",
    "CREATE INDEX events_memory ON events (account_id, memory_id, n)",
    "CREATE INDEX vectors_space ON vectors (account_id, tenant, space)",
];

/// Version 4: memories by id alone, whatever their account — the one index that does not
/// lead with `account_id`. Ids are unique in a store: an import checks the ids it brings
/// against every account, and a request for an id its account does not hold asks whether
/// another account does (403) or none (404). Without it both scan the whole table (an
/// import's check per batch made a 100k import quadratic). Not unique: on a partitioned
/// or distributed table a unique key must contain `account_id`; each partition or shard
/// keeps its own part, and the lookup asks all of them.
const ID_INDEX: &str = "CREATE INDEX memories_id ON memories (id)";

const V1_GLOBAL: &[&str] = &[
    "CREATE TABLE generation (
         id smallint PRIMARY KEY CHECK (id = 1),
         value bigint NOT NULL)",
    "INSERT INTO generation (id, value) VALUES (1, 0)",
    "CREATE TABLE accounts (
         id text PRIMARY KEY,
         org_id uuid NOT NULL,
         created_at bigint NOT NULL)",
    "CREATE TABLE api_keys (
         hash bytea PRIMARY KEY,
         id uuid NOT NULL UNIQUE,
         account_id text NOT NULL,
         shown_prefix text NOT NULL,
         label text NOT NULL,
         created_at bigint NOT NULL,
         revoked_at bigint)",
    "CREATE TABLE key_settings (
         key_id uuid PRIMARY KEY,
         settings jsonb NOT NULL)",
];

/// The statements that create schema version 1 in `layout`.
fn version_1(layout: Layout) -> Vec<String> {
    let mut out: Vec<String> = V1_GLOBAL.iter().map(|s| (*s).to_owned()).collect();
    for (table, columns) in V1_ACCOUNT_TABLES {
        match layout.partitions {
            None => out.push(format!("CREATE TABLE {table} ({columns})")),
            Some(n) => {
                out.push(format!(
                    "CREATE TABLE {table} ({columns}) PARTITION BY HASH (account_id)"
                ));
                for r in 0..n {
                    out.push(format!(
                        "CREATE TABLE {table}_p{r} PARTITION OF {table} \
                         FOR VALUES WITH (MODULUS {n}, REMAINDER {r})"
                    ));
                }
            }
        }
    }
    out.extend(V1_INDEXES.iter().map(|s| (*s).to_owned()));
    out
}

/// What an open found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub version: u32,
    pub features: Vec<String>,
    /// Whether the lexical index covers every row.
    pub lexical_complete: bool,
}

/// Brings the schema in `schema` up to [`SCHEMA_VERSION`] (creating it on a fresh database)
/// and returns its format. Serialised by an advisory lock, so several servers may start at
/// once. Refuses a schema this build cannot read exactly.
pub(crate) async fn migrate(client: &Client, schema: &str, layout: Layout) -> Result<Format> {
    client.batch_execute("BEGIN").await.map_err(pg)?;
    let outcome = migrate_in_transaction(client, schema, layout).await;
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    client.batch_execute(end).await.map_err(pg)?;
    outcome
}

async fn migrate_in_transaction(txn: &Client, schema: &str, layout: Layout) -> Result<Format> {
    txn.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&super::clock::migration_lock(schema)],
    )
    .await
    .map_err(pg)?;
    txn.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}; SET LOCAL search_path TO {}",
        quote_ident(schema),
        quote_ident(schema)
    ))
    .await
    .map_err(pg)?;
    let exists = txn
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'format'",
            &[&schema],
        )
        .await
        .map_err(pg)?
        .is_some();
    let mut format = if exists {
        let row = txn
            .query_one(
                "SELECT version, features, lexical_complete FROM format WHERE id = 1",
                &[],
            )
            .await
            .map_err(pg)?;
        Format {
            version: u32::try_from(row.get::<_, i32>(0))
                .map_err(|_| Error::Corrupted("negative schema version".into()))?,
            features: row.get(1),
            lexical_complete: row.get(2),
        }
    } else {
        txn.batch_execute(
            "CREATE TABLE format (
                 id smallint PRIMARY KEY CHECK (id = 1),
                 version integer NOT NULL,
                 features text[] NOT NULL,
                 lexical_complete boolean NOT NULL,
                 created_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO format (id, version, features, lexical_complete)
                 VALUES (1, 0, '{}', true)",
        )
        .await
        .map_err(pg)?;
        Format {
            version: 0,
            features: Vec::new(),
            lexical_complete: true,
        }
    };
    check(&format)?;
    if format.version < 1 {
        for statement in version_1(layout) {
            txn.batch_execute(&statement).await.map_err(pg)?;
        }
        format.version = 1;
    }
    if format.version < 2 {
        // Version 2: the operator credential (admin API, dashboard). A version 1 schema gains
        // the table; nothing else changes.
        txn.batch_execute(
            "CREATE TABLE operator_credential (
                 id smallint PRIMARY KEY CHECK (id = 1),
                 hash bytea NOT NULL,
                 created_at bigint NOT NULL)",
        )
        .await
        .map_err(pg)?;
        format.version = 2;
    }
    if format.version < 3 {
        // Version 3: writes per day of the period in `usage` (31 days, zeros until written),
        // per-account plan settings (NULL: the server's default), and the dashboard's
        // sessions (shared by every server; `owner_key` or `operator_issued_at` is set).
        let zeros = vec!["0"; 31].join(",");
        txn.batch_execute(&format!(
            "ALTER TABLE usage ADD COLUMN writes_by_day bigint[] NOT NULL \
                 DEFAULT '{{{zeros}}}'::bigint[];
             ALTER TABLE accounts ADD COLUMN plan_tier text, ADD COLUMN writes_limit bigint;
             CREATE TABLE sessions (
                 hash bytea PRIMARY KEY,
                 owner_key uuid,
                 operator_issued_at bigint,
                 csrf text NOT NULL,
                 created_at bigint NOT NULL,
                 expires_at bigint NOT NULL,
                 CHECK ((owner_key IS NULL) <> (operator_issued_at IS NULL)))"
        ))
        .await
        .map_err(pg)?;
        format.version = 3;
    }
    if format.version < 4 {
        txn.batch_execute(ID_INDEX).await.map_err(pg)?;
        format.version = 4;
    }
    txn.execute(
        "UPDATE format SET version = $1 WHERE id = 1",
        &[&(format.version as i32)],
    )
    .await
    .map_err(pg)?;
    Ok(format)
}

/// Refuses a format this build cannot read exactly.
pub(crate) fn check(format: &Format) -> Result<()> {
    let unknown: Vec<String> = format
        .features
        .iter()
        .filter(|f| !KNOWN_FEATURES.contains(&f.as_str()))
        .cloned()
        .collect();
    if format.version > SCHEMA_VERSION || !unknown.is_empty() {
        return Err(Error::IncompatibleFormat {
            found: format.version,
            supported: SCHEMA_VERSION,
            unknown_features: unknown,
        });
    }
    Ok(())
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn pg(e: tokio_postgres::Error) -> Error {
    Error::Storage(crate::error::StorageError::postgres(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_table_and_index_leads_with_account_id() {
        for (table, columns) in V1_ACCOUNT_TABLES {
            assert!(ACCOUNT_TABLES.contains(table), "{table} is listed");
            assert!(
                columns.starts_with("account_id text NOT NULL"),
                "{table}: account_id first"
            );
            let key = columns.rsplit("PRIMARY KEY (").next().unwrap();
            assert!(key.starts_with("account_id"), "{table}: key {key}");
        }
        for index in V1_INDEXES {
            let columns = index.split_once(" (").unwrap().1;
            assert!(columns.starts_with("account_id"), "{index}");
        }
        let created: Vec<&str> = V1_ACCOUNT_TABLES.iter().map(|(t, _)| *t).collect();
        assert_eq!(created, ACCOUNT_TABLES);
    }

    #[test]
    fn partitioned_layout_partitions_every_account_table() {
        let statements = version_1(Layout {
            partitions: Some(4),
        });
        for table in ACCOUNT_TABLES {
            assert!(
                statements
                    .iter()
                    .any(|s| s.starts_with(&format!("CREATE TABLE {table} ("))
                        && s.ends_with("PARTITION BY HASH (account_id)"))
            );
            assert!(
                statements
                    .iter()
                    .any(|s| s.starts_with(&format!("CREATE TABLE {table}_p3 PARTITION OF")))
            );
        }
    }

    #[test]
    fn newer_versions_and_unknown_features_are_refused() {
        let ok = Format {
            version: SCHEMA_VERSION,
            features: Vec::new(),
            lexical_complete: true,
        };
        assert!(check(&ok).is_ok());
        let newer = Format {
            version: SCHEMA_VERSION + 1,
            ..ok.clone()
        };
        assert!(matches!(
            check(&newer),
            Err(Error::IncompatibleFormat { found, .. }) if found == SCHEMA_VERSION + 1
        ));
        let unknown = Format {
            features: vec!["from-the-future".into()],
            ..ok
        };
        match check(&unknown) {
            Err(Error::IncompatibleFormat {
                unknown_features, ..
            }) => assert_eq!(unknown_features, ["from-the-future"]),
            other => panic!("{other:?}"),
        }
    }
}
