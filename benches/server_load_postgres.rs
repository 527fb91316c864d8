//! Load benchmark of `aurra serve --database …`: one, then four server processes on one
//! PostgreSQL schema, driven over loopback by the load generator of `server_load` (clients
//! spread over the processes in turn): durable content-mode writes/s with 1 and 64 clients,
//! lists of 20 (of 10k memories) with 1 and 64 clients, p50/p99.
//!
//! `cargo bench --bench server_load_postgres` starts a throwaway durable cluster
//! (`scripts/postgres-cluster start DIR durable`), or uses `AURRA_BENCH_DATABASE_URL`.
//! `AURRA_LOAD_SECS` sets each phase's length (default 5 s), `AURRA_LOAD_CLIENTS` the
//! concurrent count (default 64). The server processes are the bench profile's `aurra`.

mod load;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aurra::{NewMemory, PostgresConfig, Store, StoreOptions};
use load::{env_or, run_phase};

const LIST_ROWS: usize = 10_000;
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres-cluster");

/// A server process, stopped (SIGTERM) when dropped.
struct Server(Child);

impl Server {
    fn start(url: &str, schema: &str) -> (Server, SocketAddr) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aurra"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--database-schema",
                schema,
            ])
            .env("AURRA_DATABASE_URL", url)
            .env("AURRA_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aurra serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines.next().expect("the server exited").expect("a line");
            if let Some(url) = line.strip_prefix("aurra listening on http://") {
                break url.trim().parse().expect("an address");
            }
        };
        std::thread::spawn(move || lines.count());
        (Server(child), addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn main() {
    let secs: u64 = env_or("AURRA_LOAD_SECS", 5);
    let many: usize = env_or("AURRA_LOAD_CLIENTS", 64);
    let cluster = std::env::temp_dir().join(format!("aurra-load-pg-{}", std::process::id()));
    let url = match std::env::var("AURRA_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let out = Command::new(SCRIPT)
                .args(["start", cluster.to_str().expect("utf-8"), "durable"])
                .output()
                .expect("scripts/postgres-cluster");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .expect("url")
                .trim()
                .to_owned()
        }
    };
    let schema = format!("load_{}", std::process::id());
    let config = PostgresConfig::new(url.clone()).schema(schema.clone());
    let store = Store::open_postgres(&config, StoreOptions::new()).expect("open");
    let (_, key) = store.create_api_key("bench", "load").expect("key");
    for chunk in 0..LIST_ROWS / 1000 {
        let batch = (0..1000)
            .map(|i| NewMemory::new(format!("list fact {chunk}-{i}")).with_tenant("list"))
            .collect();
        store.write_batch("bench", batch).expect("preload");
    }
    drop(store);

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let phase = Duration::from_secs(secs);
    println!("aurra serve on PostgreSQL: {secs} s per phase, durable cluster, loopback");
    println!("| processes | workload | clients | requests/s | p50 | p99 |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for processes in [1usize, 4] {
        let servers: Vec<(Server, SocketAddr)> = (0..processes)
            .map(|_| Server::start(&url, &schema))
            .collect();
        let addrs: Vec<SocketAddr> = servers.iter().map(|(_, a)| *a).collect();
        for (name, clients) in [
            ("durable write", 1),
            ("durable write", many),
            ("list (limit 20 of 10k)", 1),
            ("list (limit 20 of 10k)", many),
        ] {
            let write = name.starts_with("durable");
            let stats = client_rt.block_on(run_phase(&addrs, &key, clients, phase, write));
            println!(
                "| {processes} | {name} | {clients} | {:.0} | {:.2} ms | {:.2} ms |",
                stats.rate, stats.p50_ms, stats.p99_ms
            );
        }
        drop(servers);
    }
    drop_schema(&client_rt, &url, &schema);
    if std::env::var("AURRA_BENCH_DATABASE_URL").is_err() {
        let _ = Command::new(SCRIPT)
            .args(["stop", cluster.to_str().expect("utf-8")])
            .status();
    }
}

/// Leaves the database as it was (a kept database outlives the bench).
fn drop_schema(runtime: &tokio::runtime::Runtime, url: &str, schema: &str) {
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .expect("drop the bench schema");
    });
}
