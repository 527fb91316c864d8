//! The PostgreSQL schema: versioned and refused when newer than this build (or requiring a
//! feature it does not know), migrated once however many servers start together, and laid
//! out so that every account table can be distributed by `account_id` (Citus): with hash
//! partitioning, PostgreSQL itself enforces that every unique key contains it.

#![cfg(feature = "postgres")]

mod backends;

use aurra::{Error, NewMemory, Store, StoreOptions};
use backends::{Admin, Kind, TestBackend};

/// Runs `sql` in the test's schema.
fn execute(backend: &TestBackend, sql: &str) -> Vec<tokio_postgres::Row> {
    Admin::connect(backend.schema_name()).rows(sql, &[])
}

fn open(backend: &TestBackend) -> aurra::Result<Store> {
    Store::open_postgres(
        &backend.postgres().expect("a PostgreSQL backend"),
        StoreOptions::new(),
    )
}

#[test]
fn a_newer_schema_or_an_unknown_feature_is_refused() {
    let backend = TestBackend::new(Kind::Postgres);
    let store = open(&backend).expect("open");
    let id = store
        .write("acme", NewMemory::new("kept"))
        .expect("write")
        .saved_id()
        .expect("saved");
    drop(store);

    execute(&backend, "UPDATE format SET version = 99");
    match open(&backend) {
        Err(Error::IncompatibleFormat {
            found: 99,
            supported,
            unknown_features,
        }) => {
            assert_eq!(supported, 4);
            assert!(unknown_features.is_empty());
        }
        other => panic!("a newer schema opened: {other:?}"),
    }
    execute(
        &backend,
        "UPDATE format SET version = 4, features = '{from-the-future}'",
    );
    match open(&backend) {
        Err(Error::IncompatibleFormat {
            unknown_features, ..
        }) => assert_eq!(unknown_features, ["from-the-future"]),
        other => panic!("an unknown feature was accepted: {other:?}"),
    }
    // Refusing changed nothing: back to what this build knows, the data is there.
    execute(&backend, "UPDATE format SET features = '{}'");
    let store = open(&backend).expect("open");
    assert_eq!(store.get("acme", id).expect("get").decision, "kept");
}

#[test]
fn servers_starting_together_migrate_once() {
    let backend = TestBackend::new(Kind::Postgres);
    std::thread::scope(|scope| {
        let opened: Vec<_> = (0..4).map(|_| scope.spawn(|| open(&backend))).collect();
        for handle in opened {
            handle.join().expect("a thread").expect("open");
        }
    });
    let version = execute(&backend, "SELECT version FROM format");
    assert_eq!(version[0].get::<_, i32>(0), 4);
}

/// A schema of version 1 (before the operator credential, the writes per day, the
/// per-account plans, the dashboard's sessions and the index of ids) is brought to the
/// current version when a newer build opens it: the tables, columns and index are added,
/// nothing else changes.
#[test]
fn a_version_1_schema_is_brought_to_the_current_version() {
    let backend = TestBackend::new(Kind::Postgres);
    let store = open(&backend).expect("open");
    let (_, key) = store.create_api_key("acme", "").expect("key");
    store
        .write("acme", NewMemory::new("counted"))
        .expect("write");
    drop(store);
    execute(&backend, "DROP TABLE operator_credential");
    execute(&backend, "DROP TABLE sessions");
    execute(&backend, "ALTER TABLE usage DROP COLUMN writes_by_day");
    execute(
        &backend,
        "ALTER TABLE accounts DROP COLUMN plan_tier, DROP COLUMN writes_limit",
    );
    execute(&backend, "DROP INDEX memories_id");
    execute(&backend, "UPDATE format SET version = 1");
    let store = open(&backend).expect("open");
    let version = execute(&backend, "SELECT version FROM format");
    assert_eq!(version[0].get::<_, i32>(0), 4);
    let indexes = execute(
        &backend,
        "SELECT 1 FROM pg_indexes WHERE indexname = 'memories_id' AND schemaname = current_schema()",
    );
    assert_eq!(indexes.len(), 1, "the index of ids is back");
    assert!(store.authenticate(&key).expect("authenticate").is_some());
    let token = store
        .ensure_operator_token()
        .expect("issue")
        .expect("none before");
    assert!(store.authenticate_operator(&token).expect("check"));
    let stored = execute(&backend, "SELECT hash FROM operator_credential");
    let hash: Vec<u8> = stored[0].get(0);
    assert_eq!(hash.len(), 32, "only the hash is stored");

    // The usage kept its count, without days; the next write is counted in its day.
    let before = store.usage("acme").expect("usage");
    assert_eq!((before.writes_used, before.writes_by_day.len()), (1, 0));
    store
        .write("acme", NewMemory::new("counted again"))
        .expect("write");
    let after = store.usage("acme").expect("usage");
    assert_eq!(after.writes_used, 2);
    assert_eq!(after.writes_by_day.iter().sum::<u64>(), 1, "{after:?}");
    let account = store.account("acme").expect("read").expect("the account");
    assert_eq!(account.plan, aurra::AccountPlan::default());
    // And the dashboard's sessions have their table.
    let signed_in = store
        .authenticate(&key)
        .expect("authenticate")
        .expect("live");
    let owner = aurra::SessionOwner::Key(signed_in.id);
    let hour = std::time::Duration::from_secs(3600);
    let started = store
        .start_session([7; 32], owner, "t".into(), hour)
        .expect("start");
    assert_eq!(store.session(&[7; 32]).expect("read"), Some(started));
}

#[test]
fn every_account_table_is_partitioned_by_account_and_every_unique_key_contains_it() {
    let backend = TestBackend::new(Kind::PostgresPartitioned);
    let store = open(&backend).expect("open");
    store.write("acme", NewMemory::new("one")).expect("write");
    store.write("globex", NewMemory::new("two")).expect("write");
    let schema = backend
        .postgres()
        .expect("a PostgreSQL backend")
        .schema_name()
        .to_owned();
    let partitioned = execute(
        &backend,
        &format!(
            "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p \
             JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{schema}' ORDER BY 1"
        ),
    );
    let tables: Vec<(String, String)> = partitioned.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        tables.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        [
            "clocks",
            "events",
            "inputs",
            "lexical_stats",
            "memories",
            "postings",
            "usage",
            "vectors"
        ]
    );
    assert!(
        tables.iter().all(|(_, key)| key == "HASH (account_id)"),
        "{tables:?}"
    );
    // PostgreSQL refuses a unique index on a partitioned table that lacks the partition key;
    // check it anyway, on the catalog: every unique index of an account table has account_id.
    let unique = execute(
        &backend,
        &format!(
            "SELECT c.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{schema}' AND x.indisunique AND c.relkind = 'p'"
        ),
    );
    assert!(unique.len() >= tables.len());
    for row in &unique {
        let definition: String = row.get(2);
        assert!(definition.contains("(account_id"), "{definition}");
    }
}

#[test]
fn the_citus_statements_distribute_every_table() {
    let config = aurra::PostgresConfig::new("host=unused").schema("aurra");
    let statements = config.citus_distribution_sql();
    for table in [
        "clocks",
        "memories",
        "inputs",
        "events",
        "postings",
        "lexical_stats",
        "vectors",
        "usage",
    ] {
        assert!(
            statements
                .iter()
                .any(|s| s.contains(&format!("'\"aurra\".{table}', 'account_id'"))),
            "{table}: {statements:?}"
        );
    }
    for table in [
        "format",
        "generation",
        "accounts",
        "api_keys",
        "key_settings",
        "operator_credential",
    ] {
        assert!(
            statements
                .iter()
                .any(|s| s == &format!("SELECT create_reference_table('\"aurra\".{table}');")),
            "{table}: {statements:?}"
        );
    }
    // Colocated with the first, so that a request's statements stay on one shard.
    assert_eq!(
        statements
            .iter()
            .filter(|s| s.contains("colocate_with => '\"aurra\".clocks'"))
            .count(),
        7
    );
}
