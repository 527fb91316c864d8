//! A real full disk under the real binary: `aurra serve` with its data dir on a small tmpfs
//! that a filler file fills. Writes get 503 and `/health` says why; once the filler is
//! removed, `/health` reopens the store file and turns 200 and writes succeed, without a
//! restart, with every acknowledged write still there; `/metrics` shows the degraded state
//! and the failed commits meanwhile.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN), which the test command has: without it this
//! test fails, it does not skip. Bounded: at most `MAX_WRITES` writes to fill the store.

mod process;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const MAX_WRITES: usize = 2_000;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root: this test fills a real file system ({status})"
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `path` with a file there, down to less than one page.
fn fill(path: &Path) -> PathBuf {
    let filler = path.join("filler");
    let mut file = std::fs::File::create(&filler).expect("filler");
    for chunk in [1 << 16, 1 << 12] {
        let bytes = vec![7u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    let _ = file.sync_all();
    filler
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", auth)
        .header("Content-Type", "application/json");
    let mut resp = match body {
        Some(body) => agent.run(request.body(body.to_string()).expect("request")),
        None => agent.run(request.body(()).expect("request")),
    }
    .expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).expect("json"))
}

#[test]
fn a_full_disk_is_reported_and_recovered_without_a_restart() {
    let fs = Tmpfs::mount("24m");
    let data = fs.path().join("data");
    let started = process::start(process::serve(&data).args([
        "--storage-recovery-secs",
        "0",
        "--cache-size-mib",
        "8",
        "--metrics-bind",
        "127.0.0.1:0",
    ]));
    let metrics = process::metrics_url(&started.lines).expect("metrics address");
    let mut child = started.child;
    let url = started.url;
    let key = std::fs::read_to_string(data.join("first-api-key")).expect("first key");
    let auth = format!("Bearer {}", key.trim());
    let agent = process::agent();
    let write = |n: usize| {
        // Long enough that the file must grow within a bounded number of writes.
        let content = format!(
            "fact {n}: {}",
            "the quick brown fox jumps over it ".repeat(60)
        );
        call(
            &agent,
            "POST",
            &format!("{url}/agent/memories"),
            &auth,
            Some(json!({"content": content})),
        )
    };
    let mut acked = Vec::new();
    for n in 0..3 {
        let (status, body) = write(n);
        assert_eq!(status, 200, "{body}");
        acked.push(body["memory_id"].as_str().unwrap().to_owned());
    }

    let filler = fill(fs.path());
    let mut refused = None;
    for n in 3..MAX_WRITES {
        match write(n) {
            (200, body) => acked.push(body["memory_id"].as_str().unwrap().to_owned()),
            (status, body) => {
                refused = Some((status, body));
                break;
            }
        }
    }
    let (status, body) = refused.expect("a full disk refuses a write within the bound");
    assert_eq!(status, 503, "{body}");
    let (status, health) = call(&agent, "GET", &format!("{url}/health"), "", None);
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "unavailable");
    assert!(
        health["detail"]
            .as_str()
            .unwrap()
            .contains("Storage unavailable"),
        "{health}"
    );
    let (status, body) = write(MAX_WRITES);
    assert_eq!(status, 503, "still full: {body}");
    let full = process::scrape(&metrics);
    assert_eq!(full["aurra_storage_degraded"], 1.0, "{full:?}");
    assert!(full["aurra_storage_errors_total"] >= 2.0, "{full:?}");
    assert!(full["aurra_http_requests_total{route=\"write_memories\",status=\"503\"}"] >= 2.0);

    std::fs::remove_file(&filler).expect("free the space");
    let (status, health) = call(&agent, "GET", &format!("{url}/health"), "", None);
    assert_eq!(
        (status, health.clone()),
        (200, json!({"status": "ok"})),
        "{health}"
    );
    let (status, body) = write(MAX_WRITES + 1);
    assert_eq!(status, 200, "{body}");
    acked.push(body["memory_id"].as_str().unwrap().to_owned());
    let healed = process::scrape(&metrics);
    assert_eq!(healed["aurra_storage_degraded"], 0.0, "{healed:?}");
    assert_eq!(
        healed["aurra_storage_errors_total"],
        full["aurra_storage_errors_total"]
    );

    let (status, list) = call(
        &agent,
        "GET",
        &format!("{url}/agent/memories?limit=100&offset=0"),
        &auth,
        None,
    );
    assert_eq!(status, 200, "{list}");
    let mut listed = Vec::new();
    let mut offset = 0;
    let mut page = list;
    loop {
        let memories = page["memories"].as_array().unwrap().clone();
        listed.extend(
            memories
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        offset += memories.len();
        if memories.len() < 100 {
            break;
        }
        let (status, next) = call(
            &agent,
            "GET",
            &format!("{url}/agent/memories?limit=100&offset={offset}"),
            &auth,
            None,
        );
        assert_eq!(status, 200, "{next}");
        page = next;
    }
    listed.sort_unstable();
    acked.sort_unstable();
    assert_eq!(
        listed, acked,
        "every acknowledged write, and nothing refused"
    );
    child.kill().expect("stop the server");
    child.wait().expect("wait");
}
