//! Load benchmark of `aurra serve` on loopback: durable content-mode writes/s with 1 and with
//! 64 concurrent HTTP clients (group commit at work), and list requests/s with p50/p99.
//!
//! Not a criterion bench (criterion measures one call at a time): a Rust load generator with
//! keep-alive connections, one per client, in the same process as the server but on its own
//! runtime. `cargo bench --bench server_load`; `AURRA_LOAD_SECS` sets each phase's length
//! (default 5 s), `AURRA_LOAD_CLIENTS` the concurrent count (default 64), `AURRA_LOAD_ONLY`
//! a workload name filter (`write` or `list`).

mod load;

use std::sync::Arc;
use std::time::Duration;

use aurra::server::{AppState, Config};
use aurra::{NewMemory, Store};
use load::{env_or, run_phase};

const LIST_ROWS: usize = 10_000;

/// The allocator of the `aurra` binary (and of this benchmark, to measure the same server):
/// glibc's malloc spent a fifth of the server's time consolidating under concurrent load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let secs: u64 = env_or("AURRA_LOAD_SECS", 5);
    let many: usize = env_or("AURRA_LOAD_CLIENTS", 64);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("aurra.redb")).expect("open store");
    let (_, key) = store.create_api_key("bench", "load").expect("key");
    for chunk in 0..LIST_ROWS / 1000 {
        let batch = (0..1000)
            .map(|i| NewMemory::new(format!("list fact {chunk}-{i}")).with_tenant("list"))
            .collect();
        store.write_batch("bench", batch).expect("preload");
    }

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = Arc::new(AppState::new(store, Config::default()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(aurra::server::run(listener, state, async {
        let _ = stop_rx.await;
    }));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let phase = Duration::from_secs(secs);
    println!("aurra serve load benchmark: {secs} s per phase, durable store, loopback {addr}");
    println!("| workload | clients | requests/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut results = Vec::new();
    for (name, clients) in [
        ("durable write", 1),
        ("durable write", many),
        ("list (limit 20 of 10k)", 1),
        ("list (limit 20 of 10k)", many),
    ] {
        let write = name.starts_with("durable");
        let stats = client_rt.block_on(run_phase(&[addr], &key, clients, phase, write));
        println!(
            "| {name} | {clients} | {:.0} | {:.2} ms | {:.2} ms |",
            stats.rate, stats.p50_ms, stats.p99_ms
        );
        results.push(stats);
    }
    println!(
        "\nwrite throughput {many} clients / 1 client: {:.1}x; list p99 at {many} clients: {:.2} ms",
        results[1].rate / results[0].rate,
        results[3].p99_ms
    );
    let _ = stop_tx.send(());
    server_rt
        .block_on(server)
        .expect("server task")
        .expect("server run");
}
