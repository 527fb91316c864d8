//! A storage failure under the server: the write gets 503 with a `detail` (never a success),
//! later writes get 503 too and `/health` turns 503 with the reason, the server keeps
//! answering, and once the disk takes writes again the store reopens its database (at most
//! once per recovery interval) and serves writes without a restart.

mod http;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use aurra::server::Config;
use aurra::{StorageBackend, Store, StoreOptions};
use http::TestServer;
use redb::backends::InMemoryBackend;
use serde_json::json;

/// An in-memory backend whose writes and syncs fail once `failing` is set (a full disk), and
/// whose syncs fail too once `syncs_left` more have succeeded (-1: no countdown). Clones
/// share the bytes (a reopened database sees what the failed one committed).
#[derive(Clone, Debug)]
struct FlakyDisk {
    inner: Arc<InMemoryBackend>,
    failing: Arc<AtomicBool>,
    syncs_left: Arc<AtomicI64>,
}

impl FlakyDisk {
    fn new() -> (FlakyDisk, Arc<AtomicBool>, Arc<AtomicI64>) {
        let failing = Arc::new(AtomicBool::new(false));
        let syncs_left = Arc::new(AtomicI64::new(-1));
        let disk = FlakyDisk {
            inner: Arc::new(InMemoryBackend::new()),
            failing: failing.clone(),
            syncs_left: syncs_left.clone(),
        };
        (disk, failing, syncs_left)
    }

    fn check(&self) -> Result<(), io::Error> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("no space left on device (injected)"));
        }
        Ok(())
    }
}

impl StorageBackend for FlakyDisk {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        self.check()?;
        match self.syncs_left.load(Ordering::SeqCst) {
            0 => return Err(io::Error::other("no space left on device (injected)")),
            left if left > 0 => {
                self.syncs_left.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

/// A store on `disk` that reopens it after a failure (at most once per `interval`), and the
/// count of its opens.
fn reopenable(disk: FlakyDisk, interval: Duration) -> (Store, Arc<AtomicUsize>) {
    let opens = Arc::new(AtomicUsize::new(0));
    let counted = opens.clone();
    let reopen = move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(disk.clone())
    };
    let options = StoreOptions::new().recovery_interval(interval);
    let store = Store::open_reopenable(reopen, options).expect("store");
    (store, opens)
}

#[test]
fn a_failing_disk_gets_503_and_nothing_is_acknowledged() {
    let (disk, failing, _) = FlakyDisk::new();
    let store = Store::open_backend(disk, StoreOptions::new()).expect("store");
    let server = TestServer::launch(store, Config::default());
    let kept = server.write(
        &server.acme,
        json!({"content": "written before the disk filled"}),
    );

    failing.store(true, Ordering::SeqCst);
    let refused = server.post("/agent/memories", &server.acme, &json!({"content": "lost"}));
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("retry"));
    // The handle is poisoned: later writes are refused without touching the disk.
    failing.store(false, Ordering::SeqCst);
    let again = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "later"}),
    );
    assert_eq!(again.status, 503);
    assert!(server.store.is_poisoned());
    // Health says so (an orchestrator restarts the server); the server keeps answering, and
    // serves the acknowledged row from redb's cache when it can.
    let health = server.get_anonymous("/health");
    assert_eq!(
        (health.status, health.body["status"].clone()),
        (503, json!("unavailable"))
    );
    let list = server.get("/agent/memories", &server.acme);
    if list.status == 200 {
        assert_eq!(list.body["memories"][0]["id"], kept.as_str());
        assert_eq!(list.body["count"], 1);
    } else {
        assert_eq!(list.status, 503, "{}", list.text);
    }
}

/// Level 2 reports a failing *classifier* as `skipped_reason` on a 200; a store that fails
/// while Level 2 records its verdict is the request's failure, a 503, not "classifier
/// unavailable".
#[test]
fn a_storage_failure_during_level2_fails_the_request() {
    let (disk, _, syncs_left) = FlakyDisk::new();
    let store = Store::open_backend(disk, StoreOptions::new()).expect("store");
    let server = TestServer::launch(store, Config::default());
    server.write(
        &server.acme,
        json!({"content": "Alice works at Acme as a senior engineer"}),
    );
    // The new row's own commit succeeds; Level 2's commit (its verdict's audit event) fails.
    syncs_left.store(1, Ordering::SeqCst);
    let resp = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "Alice now works at Initech as a senior engineer", "auto_supersede": true}),
    );
    assert_eq!(resp.status, 503, "{}", resp.text);
    assert!(
        !resp.text.contains("classifier unavailable"),
        "{}",
        resp.text
    );
    assert_eq!(
        syncs_left.load(Ordering::SeqCst),
        0,
        "the write committed, Level 2's commit was the one refused"
    );
}

/// A full disk, then room again: writes get 503 and `/health` says why while the disk is
/// full; once it has room, `/health` reopens the database and turns 200, and writes succeed,
/// with every acknowledged row there and the refused one absent. No restart.
#[test]
fn the_store_recovers_when_the_disk_has_room_again() {
    let (disk, failing, _) = FlakyDisk::new();
    let (store, opens) = reopenable(disk, Duration::ZERO);
    let server = TestServer::launch(store, Config::default());
    let before = server.write(
        &server.acme,
        json!({"content": "written before the disk filled"}),
    );

    failing.store(true, Ordering::SeqCst);
    let refused = server.post("/agent/memories", &server.acme, &json!({"content": "lost"}));
    assert_eq!(refused.status, 503, "{}", refused.text);
    // Still full: each check tries to reopen (interval zero) and fails; writes are refused.
    let health = server.get_anonymous("/health");
    assert_eq!(health.status, 503, "{}", health.text);
    let detail = health.body["detail"].as_str().unwrap();
    assert!(detail.contains("no space left on device"), "{detail}");
    assert!(detail.contains("reopens"), "{detail}");
    let still = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "lost too"}),
    );
    assert_eq!(still.status, 503, "{}", still.text);
    assert!(server.store.is_poisoned());

    failing.store(false, Ordering::SeqCst);
    let opened = opens.load(Ordering::SeqCst);
    let health = server.get_anonymous("/health");
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        opens.load(Ordering::SeqCst),
        opened + 1,
        "one reopen recovered it"
    );
    assert!(!server.store.is_poisoned());
    let after = server.write(
        &server.acme,
        json!({"content": "written after space returned"}),
    );
    let list = server.get("/agent/memories", &server.acme);
    assert_eq!(list.status, 200, "{}", list.text);
    let mut ids: Vec<&str> = list.body["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![before.as_str(), after.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{}", list.text);
    let texts = list.text.clone();
    assert!(!texts.contains("lost"), "{texts}");
}

/// Reopening is attempted at most once per recovery interval, however many writes and
/// health checks arrive: with a long interval, the disk having room again is not noticed
/// until the interval has passed.
#[test]
fn reopening_is_rate_limited() {
    let (disk, failing, _) = FlakyDisk::new();
    let (store, opens) = reopenable(disk, Duration::from_secs(3600));
    assert_eq!(opens.load(Ordering::SeqCst), 1, "the first open");
    let server = TestServer::launch(store, Config::default());
    failing.store(true, Ordering::SeqCst);
    let refused = server.post("/agent/memories", &server.acme, &json!({"content": "lost"}));
    assert_eq!(refused.status, 503, "{}", refused.text);
    // The first check after the failure tries (and fails: the disk is still full).
    assert_eq!(server.get_anonymous("/health").status, 503);
    assert_eq!(opens.load(Ordering::SeqCst), 2);
    failing.store(false, Ordering::SeqCst);
    for _ in 0..5 {
        let write = server.post("/agent/memories", &server.acme, &json!({"content": "x"}));
        assert_eq!(write.status, 503, "{}", write.text);
        assert_eq!(server.get_anonymous("/health").status, 503);
    }
    assert_eq!(
        opens.load(Ordering::SeqCst),
        2,
        "no attempt within the interval"
    );
}
