//! Transaction time on PostgreSQL stays exact across processes: several OS processes (this
//! test binary, run again as workers) write to one account of one database concurrently,
//! supersede each other's rows and read back; afterwards every read they made is replayed
//! with `transaction_as_of = now of that read`, and must return exactly what the read saw,
//! row states included. Every single-row commit of the account gets its own stamp.
//!
//! The clock is the database server's (the default), so the processes share one clock; no
//! test clock is involved.

#![cfg(feature = "postgres")]

mod backends;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};

use aurra::{ListQuery, NewMemory, ReadMode, Store, StoreOptions, Supersede, Timestamp};
use backends::{Kind, TestBackend};
use serde_json::{Value, json};

const WORKERS: usize = 3;
const ROUNDS: usize = 100;
const ACCOUNT: &str = "shared";

/// What one read saw: its now and every row (id and state), newest first.
fn observe(store: &Store) -> aurra::Result<Value> {
    let seen = store.list(
        ACCOUNT,
        &ListQuery::new().mode(ReadMode::History).limit(100_000),
    )?;
    Ok(json!({"now": seen.now.as_micros(), "rows": rows(&seen.memories)}))
}

fn rows(memories: &[aurra::Memory]) -> Value {
    memories
        .iter()
        .map(|m| {
            json!([
                m.id.to_string(),
                m.valid_to.map(|t| t.as_micros()),
                m.superseded_by.map(|s| s.to_string()),
                m.transaction_time_end.map(|t| t.as_micros()),
                m.created_at.as_micros(),
            ])
        })
        .collect()
}

/// One worker's rounds: write a row, sometimes supersede a row another worker wrote, read.
/// Returns every observation and the stamps of its own writes.
fn work(store: &Store, worker: usize) -> aurra::Result<(Vec<Value>, Vec<i64>)> {
    let mut observations = Vec::new();
    let mut stamps = Vec::new();
    for round in 0..ROUNDS {
        let saved = store.write(
            ACCOUNT,
            NewMemory::new(format!("worker {worker} round {round}")),
        )?;
        let aurra::WriteOutcome::Saved(memory) = saved else {
            panic!("a distinct text was taken for a duplicate");
        };
        stamps.push(memory.created_at.as_micros());
        if round % 3 == 2 {
            // The oldest row still current (another worker's, often): supersede it.
            let current = store.list(ACCOUNT, &ListQuery::new().limit(100_000))?;
            if let Some(old) = current.memories.iter().rev().find(|m| m.id != memory.id) {
                let outcome = store.supersede(
                    ACCOUNT,
                    old.id,
                    Supersede {
                        superseded_by: Some(memory.id),
                        valid_to: None,
                    },
                    ACCOUNT,
                );
                // Another worker may have superseded it first: a Conflict, nothing written.
                match outcome {
                    Ok(_) | Err(aurra::Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        observations.push(observe(store)?);
    }
    Ok((observations, stamps))
}

/// Run by the parent as a separate process (see below): works on the schema named in the
/// environment and writes its observations to the file named there. Run directly, it works
/// alone on a fresh schema and checks its own reads replay exactly.
#[test]
fn a_worker_process_replays_its_own_reads() {
    let backend;
    let config = match std::env::var("AURRA_WORKER_SCHEMA") {
        Ok(schema) => aurra::PostgresConfig::new(backends::database_url()).schema(schema),
        Err(_) => {
            backend = TestBackend::new(Kind::Postgres);
            backend.postgres().expect("a PostgreSQL backend")
        }
    };
    let worker: usize = std::env::var("AURRA_WORKER_INDEX").map_or(0, |n| n.parse().unwrap());
    let store = Store::open_postgres(&config, StoreOptions::new()).expect("open");
    if std::env::var("AURRA_WORKER_OUTPUT").is_ok() {
        // Ready; the parent releases every worker at once, so that their rounds overlap.
        // On a line of its own: the test harness has printed "test <name> ... " before.
        println!("\nworker ready");
        let mut go = String::new();
        std::io::stdin()
            .read_line(&mut go)
            .expect("the parent's go");
    }
    let (observations, stamps) = work(&store, worker).expect("work");
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "one process's commits are stamped in order: {stamps:?}"
    );
    if let Ok(path) = std::env::var("AURRA_WORKER_OUTPUT") {
        let mut file = std::fs::File::create(path).expect("output file");
        let report = json!({"observations": observations, "stamps": stamps});
        writeln!(file, "{report}").expect("write output");
    } else {
        replay_all(&store, &observations);
    }
}

/// Every observation, replayed now: the same rows in the same states.
fn replay_all(store: &Store, observations: &[Value]) {
    for seen in observations {
        let at = Timestamp::from_micros(seen["now"].as_i64().expect("now"));
        let replay = store
            .list(
                ACCOUNT,
                &ListQuery::new()
                    .mode(ReadMode::TransactionAsOf {
                        at,
                        include_superseded: true,
                    })
                    .limit(100_000),
            )
            .expect("replay");
        assert_eq!(
            rows(&replay.memories),
            seen["rows"],
            "transaction_as_of = {at} replays what the read at that now saw"
        );
    }
}

#[test]
fn reads_of_several_processes_replay_exactly_and_every_commit_has_its_own_stamp() {
    let backend = TestBackend::new(Kind::Postgres);
    let config = backend.postgres().expect("a PostgreSQL backend");
    // Create the schema once, before the workers race to open it.
    let store = Store::open_postgres(&config, StoreOptions::new()).expect("open");
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("this test binary");
    let mut children: Vec<_> = (0..WORKERS)
        .map(|i| {
            let output = dir.path().join(format!("worker-{i}.json"));
            let child = Command::new(&exe)
                .args([
                    "--exact",
                    "a_worker_process_replays_its_own_reads",
                    "--test-threads=1",
                    // Its "ready" line must reach this process.
                    "--nocapture",
                ])
                .env("AURRA_WORKER_SCHEMA", config.schema_name())
                .env("AURRA_WORKER_INDEX", i.to_string())
                .env("AURRA_WORKER_OUTPUT", &output)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker");
            (child, output)
        })
        .collect();
    let mut outputs = Vec::new();
    for (child, _) in &mut children {
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = stdout
            .by_ref()
            .map(|l| l.expect("a line"))
            .any(|l| l == "worker ready");
        assert!(ready, "a worker ended before it was ready");
        outputs.push(stdout);
    }
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().expect("stdin"), "go").expect("release a worker");
    }
    // The rest of each worker's output (the test harness's lines), read as it comes.
    let drains: Vec<_> = outputs
        .into_iter()
        .map(|lines| std::thread::spawn(move || lines.count()))
        .collect();
    let mut observations = Vec::new();
    let mut stamps = Vec::new();
    for drain in drains {
        drain.join().expect("drain a worker's output");
    }
    for (mut child, output) in children {
        assert!(child.wait().expect("wait").success(), "a worker failed");
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(output).expect("report")).expect("json");
        observations.extend(report["observations"].as_array().expect("array").clone());
        stamps.extend(
            report["stamps"]
                .as_array()
                .expect("array")
                .iter()
                .map(|s| s.as_i64().expect("stamp")),
        );
    }
    assert_eq!(observations.len(), WORKERS * ROUNDS);
    let distinct: HashSet<i64> = stamps.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        stamps.len(),
        "two commits of one account share a transaction time"
    );
    // The workers' reads interleaved with each other's commits; each still replays exactly.
    replay_all(&store, &observations);
    let all = store
        .list(
            ACCOUNT,
            &ListQuery::new().mode(ReadMode::History).limit(100_000),
        )
        .expect("list");
    assert_eq!(all.memories.len(), WORKERS * ROUNDS);
}
