//! Runs the Python conformance suite (`tests/conformance/`, pytest) against the real `aurra`
//! binary: the official SDK `aurra==0.8.1` and `aurra-langchain==0.1.0`, unchanged, pointed
//! at a server with `base_url`. Three times: on the embedded redb store, on PostgreSQL, and
//! with the shared server as two processes on one PostgreSQL schema. The suite includes the
//! dashboard's browser tests (`test_dashboard_browser.py`: Playwright driving Debian's
//! Chromium, which `scripts/test` installs), which also take the README's screenshots on the
//! redb run (into `AURRA_SCREENSHOTS`, default `target/screenshots`).
//!
//! Needs Python 3 with `tests/conformance/requirements.txt` installed; `.ci/run` installs
//! them into a virtualenv and sets `AURRA_PYTHON`. Without them this test fails and says how
//! to install them: the suite is part of the test command, never silently skipped. The
//! PostgreSQL runs need `AURRA_TEST_DATABASE_URL` (see `tests/backends/mod.rs`).

mod backends;

use std::path::Path;
use std::process::Command;

fn run_suite(backend: &str, database: Option<(&str, &str)>) {
    let python = std::env::var("AURRA_PYTHON").unwrap_or_else(|_| "python3".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = root.join("tests/conformance");
    let probe = Command::new(&python)
        .args([
            "-c",
            "import aurra, aurra_langchain, langchain_core, pytest, playwright",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the conformance suite needs its Python packages; install them with\n    \
             {python} -m pip install -r {}\n(or set AURRA_PYTHON to a Python that has them)\n{}",
            suite.join("requirements.txt").display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run {python:?} ({e}); set AURRA_PYTHON to a Python 3"),
    }
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no"])
        .arg(&suite)
        .env("AURRA_BIN", env!("CARGO_BIN_EXE_aurra"))
        .env("AURRA_LOG", "warn")
        .env("AURRA_CONFORMANCE_BACKEND", backend)
        .current_dir(root);
    if let Some((url, prefix)) = database {
        cmd.env("AURRA_CONFORMANCE_DATABASE_URL", url)
            .env("AURRA_CONFORMANCE_SCHEMA_PREFIX", prefix);
    }
    let out = cmd.output().expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the SDK conformance suite failed on {backend}:\n{stdout}"
    );
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
}

#[test]
fn the_official_python_sdk_works_against_the_server() {
    run_suite("redb", None);
}

/// The suite's schemas, dropped when the run ends.
#[cfg(feature = "postgres")]
struct Schemas(String);

#[cfg(feature = "postgres")]
impl Drop for Schemas {
    fn drop(&mut self) {
        let url = backends::database_url();
        let prefix = self.0.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dropped: Result<(), tokio_postgres::Error> = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let rows = client
                .query(
                    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
                    &[&prefix],
                )
                .await?;
            for row in rows {
                let schema: String = row.get(0);
                client
                    .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .await?;
            }
            Ok(())
        });
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("dropping the conformance schemas: {e}");
        }
    }
}

#[cfg(feature = "postgres")]
fn run_on_postgres(backend: &str) {
    let url = backends::database_url();
    let schemas = Schemas(format!("conformance_{}", uuid::Uuid::now_v7().simple()));
    run_suite(backend, Some((&url, &schemas.0)));
}

#[cfg(feature = "postgres")]
#[test]
fn the_official_python_sdk_works_against_a_postgres_backed_server() {
    run_on_postgres("postgres");
}

#[cfg(feature = "postgres")]
#[test]
fn the_official_python_sdk_works_against_two_servers_on_one_database() {
    run_on_postgres("postgres-pair");
}
