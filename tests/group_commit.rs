//! Group commit: writes that arrive while a commit is in flight share the next transaction,
//! and each caller returns only once that commit is durable.

use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use aurra::{ListQuery, NewMemory, ReadMode, StorageBackend, Store, StoreOptions};
use redb::backends::InMemoryBackend;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The signal pair of a held fsync: "entered" to the test, "release" from it.
type Gate = Arc<Mutex<Option<(Sender<()>, Receiver<()>)>>>;

/// An in-memory backend whose next `sync_data` (the commit's fsync) can be held until the
/// test releases it.
#[derive(Debug)]
struct GatedBackend {
    inner: InMemoryBackend,
    gate: Gate,
}

impl StorageBackend for GatedBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        let armed = self.gate.lock().expect("gate").take();
        if let Some((entered, release)) = armed {
            entered.send(()).expect("test is waiting");
            release.recv().expect("test releases the commit");
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.inner.write(offset, data)
    }
}

#[test]
fn writes_queued_behind_a_commit_share_the_next_one() -> TestResult {
    let gate: Gate = Arc::new(Mutex::new(None));
    let backend = GatedBackend {
        inner: InMemoryBackend::new(),
        gate: gate.clone(),
    };
    let store = Store::open_backend(backend, StoreOptions::new())?;

    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    *gate.lock().expect("gate") = Some((entered_tx, release_rx));
    let leader = {
        let store = store.clone();
        std::thread::spawn(move || store.write("acme", NewMemory::new("first")))
    };
    // The first write is inside its commit's fsync.
    entered_rx.recv()?;
    let followers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let account = if i % 2 == 0 { "acme" } else { "globex" };
            std::thread::spawn(move || store.write(account, NewMemory::new(format!("fact {i}"))))
        })
        .collect();
    // Wait (without sleeping) until all eight are queued behind the held commit.
    while store.queued_writes() < 8 {
        std::thread::yield_now();
    }
    release_tx.send(())?;

    let first = leader.join().expect("leader")?;
    let first = first.saved_id().expect("saved");
    let mut stamps = Vec::new();
    for follower in followers {
        let outcome = follower.join().expect("follower")?;
        let aurra::WriteOutcome::Saved(memory) = outcome else {
            panic!("fact saved");
        };
        stamps.push(memory.created_at);
    }
    // All eight committed together: one transaction time, after the first write's.
    stamps.dedup();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    let first_at = store.get("acme", first)?.created_at;
    assert!(stamps[0] > first_at);

    // Every write is there, in its own account, and each counted as one write request.
    let all = ListQuery::new().mode(ReadMode::History);
    assert_eq!(store.list("acme", &all)?.memories.len(), 5);
    assert_eq!(store.list("globex", &all)?.memories.len(), 4);
    assert_eq!(store.usage("acme")?.writes_used, 5);
    assert_eq!(store.usage("globex")?.writes_used, 4);
    Ok(())
}

#[test]
fn a_failed_caller_does_not_fail_its_group() -> TestResult {
    let store = Store::in_memory()?;
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Every fourth request is invalid: refused before it joins a group.
                let text = if i % 4 == 0 {
                    " ".to_owned()
                } else {
                    format!("fact {i}")
                };
                store.write("acme", NewMemory::new(text))
            })
        })
        .collect();
    let mut saved = 0;
    for (i, t) in threads.into_iter().enumerate() {
        match t.join().expect("thread") {
            Ok(outcome) => {
                assert!(i % 4 != 0);
                assert!(outcome.saved_id().is_some());
                saved += 1;
            }
            Err(aurra::Error::InvalidArgument(_)) => assert_eq!(i % 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(saved, 12);
    assert_eq!(store.list("acme", &ListQuery::new())?.memories.len(), 12);
    Ok(())
}
