//! The PostgreSQL backend's connections: a store survives the database closing them (a
//! restart, an idle timeout, an administrator), and one account's transaction never waits
//! for another's.

#![cfg(feature = "postgres")]

mod backends;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use aurra::{ListQuery, NewMemory, PostgresConfig, Store, StoreOptions};
use backends::{Admin, Kind, TestBackend};

/// How long a test waits for something that should happen at once before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// The test database's URL with `application_name` set, so that the test can find the
/// store's own connections among every other test's.
fn url_named(name: &str) -> String {
    let url = backends::database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let join = if url.contains('?') { '&' } else { '?' };
        format!("{url}{join}application_name={name}")
    } else {
        format!("{url} application_name={name}")
    }
}

/// A store on `schema` whose connections carry an `application_name` of their own (returned),
/// so that the test can find them in `pg_stat_activity`.
fn open_named(schema: &str, pool_size: usize) -> (String, Store) {
    let name = format!("aurra-test-{}", uuid::Uuid::now_v7().simple());
    let config = PostgresConfig::new(url_named(&name))
        .schema(schema)
        .pool_size(pool_size);
    let store = Store::open_postgres(&config, StoreOptions::new()).expect("open");
    (name, store)
}

/// Waits until `done` holds, failing the test after [`PATIENCE`].
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}: not after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_store_keeps_working_after_the_database_closed_its_connections() {
    let backend = TestBackend::new(Kind::Postgres);
    let schema = backend.schema_name().to_owned();
    let (name, store) = open_named(&schema, 4);
    let id = store
        .write("acme", NewMemory::new("Alice works at Acme"))
        .expect("write")
        .saved_id()
        .expect("saved");
    assert_eq!(
        store
            .list("acme", &ListQuery::new())
            .expect("list")
            .memories
            .len(),
        1
    );

    // What a database restart does to every connection of the store: the pool's idle ones
    // and the generation poller's.
    let admin = Admin::connect(&schema);
    let mine = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1";
    assert!(
        admin.count(mine, &[&name]) >= 2,
        "the pool and the poller are connected"
    );
    let terminated = admin.count(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1",
        &[&name],
    );
    assert!(terminated >= 2);
    eventually("the terminated connections are gone", || {
        admin.count(mine, &[&name]) == 0
    });

    // Reads and writes work at once: closed idle connections are not handed out.
    let listed = store
        .list("acme", &ListQuery::new())
        .expect("list after the restart");
    assert_eq!(listed.memories[0].id, id);
    store
        .write("acme", NewMemory::new("Alice leads the platform team"))
        .expect("write after the restart");
    assert_eq!(
        store
            .list("acme", &ListQuery::new())
            .expect("list")
            .memories
            .len(),
        2
    );

    // Key changes made elsewhere still reach this store: the poller reconnected.
    let before = store.accounts_generation();
    let other = Store::open_postgres(
        &PostgresConfig::new(backends::database_url()).schema(schema),
        StoreOptions::new(),
    )
    .expect("open a second handle");
    other
        .create_api_key("acme", "after the restart")
        .expect("create a key");
    eventually("the generation moved after the restart", || {
        store.accounts_generation() != before
    });
}

#[test]
fn one_accounts_write_does_not_wait_for_anothers_commit() {
    let backend = TestBackend::new(Kind::Postgres);
    let schema = backend.schema_name().to_owned();
    let (name, store) = open_named(&schema, 16);
    store.write("acme", NewMemory::new("first")).expect("write");
    store
        .write("globex", NewMemory::new("first"))
        .expect("write");

    // Hold acme's clock row: acme's next commit waits on it.
    let admin = Admin::connect(&schema);
    admin.execute("BEGIN; SELECT last_tx FROM clocks WHERE account_id = 'acme' FOR UPDATE");

    // Plain threads, not scoped ones: if an assertion fails, the admin connection closes as
    // the test unwinds, which releases acme's row and lets the blocked writer finish.
    let write = |account: &'static str| {
        let (done, result) = mpsc::channel();
        let store = store.clone();
        std::thread::spawn(move || {
            let outcome = store.write(account, NewMemory::new("second"));
            let _ = done.send(outcome.map(|_| ()));
        });
        result
    };
    let acme = write("acme");
    // Wait until acme's write is in its commit, waiting on the row.
    eventually("acme's write is waiting on its clock row", || {
        admin.count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&name],
        ) == 1
    });

    // globex commits while acme's transaction is stuck.
    write("globex")
        .recv_timeout(PATIENCE)
        .expect("globex's write finished while acme's was blocked")
        .expect("globex's write");
    assert!(acme.try_recv().is_err(), "acme's write is still waiting");

    admin.execute("COMMIT");
    acme.recv_timeout(PATIENCE)
        .expect("acme's write finished once released")
        .expect("acme's write");
    for account in ["acme", "globex"] {
        let listed = store.list(account, &ListQuery::new()).expect("list");
        assert_eq!(listed.memories.len(), 2, "{account}");
    }
}

/// `Store::health` on PostgreSQL: when the database stops answering the store's
/// connections (here: its role may no longer log in, and its sessions are ended), health
/// turns degraded within seconds; when the database takes
/// connections again, it turns healthy without reopening the store.
#[test]
fn health_follows_whether_the_database_answers() {
    let backend = TestBackend::new(Kind::Postgres);
    let admin = Admin::connect(backend.schema_name());
    let role = format!(
        "aurra_h_{}",
        &uuid::Uuid::now_v7().simple().to_string()[16..]
    );
    let database = admin.rows("SELECT current_database()", &[])[0].get::<_, String>(0);
    admin.execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CREATE ON DATABASE \"{database}\" TO {role};"
    ));
    let url = backends::database_url();
    let url = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let join = if url.contains('?') { '&' } else { '?' };
        format!("{url}{join}user={role}")
    } else {
        format!("{url} user={role}")
    };
    let schema = role.clone();
    let config = PostgresConfig::new(url).schema(&schema).pool_size(2);
    let store = Store::open_postgres(&config, StoreOptions::new()).expect("open as the role");
    assert_eq!(store.health(), Ok(()));
    assert!(!store.is_degraded());

    admin.execute(&format!(
        "ALTER ROLE {role} NOLOGIN; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
    ));
    eventually("health turns degraded", || store.is_degraded());
    let degraded = store.health().expect_err("degraded");
    assert!(degraded.recoverable);
    assert!(
        degraded.reason.contains("has not answered"),
        "{}",
        degraded.reason
    );
    // Not the database's message (it names the role): `/health` is public.
    assert!(!degraded.reason.contains(&role), "{}", degraded.reason);
    assert!(store.write("acme", NewMemory::new("refused")).is_err());

    admin.execute(&format!("ALTER ROLE {role} LOGIN;"));
    eventually("health recovers", || store.health().is_ok());
    store
        .write(
            "acme",
            NewMemory::new("written after the database answered again"),
        )
        .expect("write after recovery");
    drop(store);
    admin.execute(&format!(
        "DROP SCHEMA \"{schema}\" CASCADE; REVOKE CREATE ON DATABASE \"{database}\" FROM {role}; \
         DROP ROLE {role};"
    ));
}
