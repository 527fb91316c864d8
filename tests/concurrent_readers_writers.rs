//! One `Store` shared by threads: it is `Send + Sync` and cheap to clone; writers that write,
//! supersede and expire concurrently with readers never show a reader anything but a
//! consistent snapshot, and every acknowledged write ends up stored exactly once.

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;

use aurra::{
    Clock, ListQuery, ListResult, ManualClock, Memory, MemoryId, NewMemory, ReadMode, Store,
    StoreOptions, Supersede, Timestamp, temporal,
};

type TestResult<T = ()> = Result<T, Box<dyn StdError + Send + Sync>>;

const SECOND: i64 = 1_000_000;
/// 2026-01-01T00:00:00Z
const START: i64 = 1_767_225_600 * SECOND;
const ACCOUNT: &str = "acct";
const WRITERS: usize = 4;
const READERS: usize = 4;
const FACTS: usize = 40;
/// An expired fact's validity lasts this many transactions (the clock stands still, so
/// transaction time advances by 1 µs per commit).
const EXPIRES_AFTER: i64 = 20;

fn assert_send_sync<T: Send + Sync + Clone>() {}

// Checked at compile time.
const _: fn() = assert_send_sync::<Store>;

#[test]
fn a_store_is_send_sync_and_its_clones_share_one_database() -> aurra::Result<()> {
    assert_send_sync::<Store>();
    let store = Store::in_memory()?;
    let clone = store.clone();
    let id = thread::scope(|s| {
        s.spawn(move || clone.write(ACCOUNT, NewMemory::new("from a clone")))
            .join()
    })
    .expect("the writer thread")?
    .saved_id()
    .expect("saved");
    assert_eq!(store.get(ACCOUNT, id)?.decision, "from a clone");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The workload of one writer, and what a snapshot must show of it
// ---------------------------------------------------------------------------------------------

fn text(writer: usize, fact: usize, part: &str) -> String {
    format!("w{writer} f{fact:03} {part}")
}

/// Facts written in a batch with two extra memories (the batch must appear whole or not at
/// all).
fn batched(fact: usize) -> bool {
    fact.is_multiple_of(4)
}

/// Facts whose replacement is then expired.
fn expired(fact: usize) -> bool {
    fact.is_multiple_of(3)
}

/// What one writer was told.
#[derive(Debug)]
struct Fact {
    old: MemoryId,
    extras: Vec<MemoryId>,
    new: MemoryId,
    valid_to: Option<Timestamp>,
}

/// Writer `w`: for each fact, write it (alone or in a batch), write its replacement,
/// supersede it, and sometimes expire the replacement. Every eighth fact it waits until the
/// readers have completed two more snapshots, so that readers certainly see it half-way.
fn write_facts(
    store: &Store,
    w: usize,
    reads: &AtomicUsize,
    aborted: &AtomicBool,
) -> TestResult<Vec<Fact>> {
    let mut facts = Vec::new();
    for i in 0..FACTS {
        let (old, extras) = if batched(i) {
            let outcomes = store.write_batch(
                ACCOUNT,
                vec![
                    NewMemory::new(text(w, i, "old")),
                    NewMemory::new(text(w, i, "extra a")),
                    NewMemory::new(text(w, i, "extra b")),
                ],
            )?;
            let ids: Vec<MemoryId> = outcomes.iter().filter_map(|o| o.saved_id()).collect();
            assert_eq!(ids.len(), 3, "a batch of new texts is saved whole");
            (ids[0], ids[1..].to_vec())
        } else {
            let id = store.write(ACCOUNT, NewMemory::new(text(w, i, "old")))?;
            (id.saved_id().expect("a new text is saved"), Vec::new())
        };
        let new = store
            .write(ACCOUNT, NewMemory::new(text(w, i, "new")))?
            .saved_id()
            .expect("a new text is saved");
        let out = store.supersede(
            ACCOUNT,
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: None,
            },
            ACCOUNT,
        )?;
        assert!(out.changed);
        let valid_to = if expired(i) {
            let end = store
                .get(ACCOUNT, new)?
                .created_at
                .saturating_add_micros(EXPIRES_AFTER);
            let request = Supersede {
                superseded_by: None,
                valid_to: Some(end),
            };
            assert_eq!(
                store.supersede(ACCOUNT, new, request, ACCOUNT)?.valid_to,
                end
            );
            Some(end)
        } else {
            None
        };
        facts.push(Fact {
            old,
            extras,
            new,
            valid_to,
        });
        if i % 8 == 7 {
            let target = reads.load(Ordering::SeqCst) + 2;
            while reads.load(Ordering::SeqCst) < target {
                if aborted.load(Ordering::SeqCst) {
                    return Err("a reader failed".into());
                }
                thread::yield_now();
            }
        }
    }
    Ok(facts)
}

/// How many of writer `w`'s operations a full-history snapshot shows, checking that they
/// are a prefix of its sequence (a later operation is never visible without every earlier
/// one) and that each batch is whole.
fn progress(w: usize, by_text: &HashMap<&str, &Memory>) -> usize {
    let mut applied = Vec::new();
    for i in 0..FACTS {
        let old = by_text.get(text(w, i, "old").as_str());
        let new = by_text.get(text(w, i, "new").as_str());
        if batched(i) {
            for extra in ["extra a", "extra b"] {
                assert_eq!(
                    by_text.contains_key(text(w, i, extra).as_str()),
                    old.is_some(),
                    "batch of writer {w} fact {i} is half visible"
                );
            }
        }
        applied.push(old.is_some());
        applied.push(new.is_some());
        let superseded_by = old.and_then(|m| m.superseded_by);
        if let (Some(by), Some(new)) = (superseded_by, new) {
            assert_eq!(
                by, new.id,
                "writer {w} fact {i} superseded by its replacement"
            );
        }
        applied.push(superseded_by.is_some());
        if expired(i) {
            applied.push(new.is_some_and(|m| m.valid_to.is_some()));
        }
    }
    let done = applied.iter().take_while(|a| **a).count();
    assert!(
        applied[done..].iter().all(|a| !a),
        "writer {w}: operation {done} is missing but a later one is visible"
    );
    done
}

fn operations_per_writer() -> usize {
    (0..FACTS).map(|i| if expired(i) { 4 } else { 3 }).sum()
}

// ---------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------

fn history() -> ListQuery {
    ListQuery::new().mode(ReadMode::History).limit(100_000)
}

/// The part of a row that changes over time.
type State = (Option<MemoryId>, Option<Timestamp>, Option<Timestamp>);

fn state(m: &Memory) -> State {
    (m.superseded_by, m.valid_to, m.transaction_time_end)
}

fn rows(result: &ListResult) -> Vec<(MemoryId, State)> {
    result.memories.iter().map(|m| (m.id, state(m))).collect()
}

fn newest_first_without_repeats(result: &ListResult) {
    let mut seen = HashSet::new();
    for m in &result.memories {
        assert!(seen.insert(m.id), "{} listed twice", m.id);
    }
    for pair in result.memories.windows(2) {
        assert!(
            (pair[0].created_at, pair[0].id) > (pair[1].created_at, pair[1].id),
            "not newest first"
        );
    }
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Seen {
    snapshots: usize,
    /// Snapshots in which some writer was neither at its start nor at its end.
    half_way: usize,
}

/// Sets the flag if the reader panics, so that writers waiting for it give up.
struct AbortOnPanic<'a>(&'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Reads until the writers are done (and once more), checking at every snapshot what must
/// hold at any instant, and across snapshots what must never go backwards.
fn read_until_done(
    store: &Store,
    done: &AtomicBool,
    reads: &AtomicUsize,
    aborted: &AtomicBool,
) -> TestResult<Seen> {
    let _guard = AbortOnPanic(aborted);
    let mut seen = Seen::default();
    let mut last_progress = [0usize; WRITERS];
    let mut last_states: HashMap<MemoryId, State> = HashMap::new();
    let mut last_snapshot: Option<(Timestamp, Vec<(MemoryId, State)>)> = None;
    loop {
        let finished = done.load(Ordering::SeqCst);

        // Full history: one snapshot.
        let all = store.list(ACCOUNT, &history())?;
        newest_first_without_repeats(&all);
        let by_text: HashMap<&str, &Memory> = all
            .memories
            .iter()
            .map(|m| (m.decision.as_str(), m))
            .collect();
        let by_id: HashMap<MemoryId, &Memory> = all.memories.iter().map(|m| (m.id, m)).collect();
        for (w, last) in last_progress.iter_mut().enumerate() {
            let now = progress(w, &by_text);
            assert!(
                now >= *last,
                "writer {w} went back from {last} to {now} operations"
            );
            if now > 0 && now < operations_per_writer() {
                seen.half_way += 1;
            }
            *last = now;
        }
        for m in &all.memories {
            // Nothing ever seen changes back or disappears (there are no deletes).
            if let Some(before) = last_states.get(&m.id) {
                for (was, is) in [
                    (before.0.is_some(), m.superseded_by.is_some()),
                    (before.1.is_some(), m.valid_to.is_some()),
                    (before.2.is_some(), m.transaction_time_end.is_some()),
                ] {
                    assert!(
                        !was || is,
                        "{} lost a recorded end: {before:?} -> {m:?}",
                        m.id
                    );
                }
            }
            // A replacement is stored before the supersession that names it, and a memory
            // and its replacement are never both current.
            if let Some(by) = m.superseded_by {
                let replacement = by_id
                    .get(&by)
                    .ok_or_else(|| format!("{} is superseded by {by}, which is not there", m.id))?;
                assert!(replacement.created_at < m.transaction_time_end.expect("closed"));
                assert!(
                    !(temporal::flags(m, all.now).is_current
                        && temporal::flags(replacement, all.now).is_current)
                );
            }
        }
        let count = all.memories.len();
        assert!(count >= last_states.len(), "history shrank to {count}");
        for id in last_states.keys() {
            assert!(by_id.contains_key(id), "{id} disappeared");
        }
        last_states = all.memories.iter().map(|m| (m.id, state(m))).collect();

        // Current truth, another snapshot: nothing superseded, nothing outside its validity.
        let current = store.list(ACCOUNT, &ListQuery::new().limit(100_000))?;
        newest_first_without_repeats(&current);
        for m in &current.memories {
            assert!(
                m.superseded_by.is_none(),
                "{} is superseded but listed",
                m.id
            );
            assert!(
                temporal::current_at(m, current.now),
                "{} is not current at {}",
                m.id,
                current.now
            );
        }

        // The past does not change: replaying the instant of the previous snapshot shows
        // exactly that snapshot, and its current truth is the current part of it.
        if let Some((at, before)) = &last_snapshot {
            let replay = store.list(
                ACCOUNT,
                &history().mode(ReadMode::TransactionAsOf {
                    at: *at,
                    include_superseded: true,
                }),
            )?;
            assert_eq!(&rows(&replay), before, "replay of {at}");
        }
        let replay_current = store.list(
            ACCOUNT,
            &history().mode(ReadMode::TransactionAsOf {
                at: all.now,
                include_superseded: false,
            }),
        )?;
        let expected: Vec<MemoryId> = all
            .memories
            .iter()
            .filter(|m| temporal::current_at(m, all.now))
            .map(|m| m.id)
            .collect();
        assert_eq!(
            replay_current
                .memories
                .iter()
                .map(|m| m.id)
                .collect::<Vec<_>>(),
            expected,
            "current truth at {}",
            all.now
        );
        last_snapshot = Some((all.now, rows(&all)));

        // A chain seen in the snapshot is walkable later (the walk is its own snapshot).
        if let Some(m) = all.memories.iter().find(|m| m.superseded_by.is_some()) {
            let chain: Vec<MemoryId> = store
                .timeline(ACCOUNT, m.id)?
                .versions
                .iter()
                .map(|v| v.id)
                .collect();
            assert!(chain.contains(&m.id) && chain.contains(&m.superseded_by.expect("set")));
        }

        seen.snapshots += 1;
        reads.fetch_add(1, Ordering::SeqCst);
        if finished {
            return Ok(seen);
        }
    }
}

#[test]
fn readers_see_consistent_snapshots_while_writers_write_and_supersede() -> TestResult {
    // The clock stands still: transaction time moves 1 µs per commit, so every instant a
    // reader sees is the instant of a commit (with a moving clock, see the test below).
    let clock = ManualClock::new(Timestamp::from_micros(START));
    let store = Store::in_memory_with(StoreOptions::new().clock(clock))?;
    let seed = store
        .write(ACCOUNT, NewMemory::new("seed"))?
        .saved_id()
        .expect("saved");

    let done = AtomicBool::new(false);
    let aborted = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let (facts, seen) = thread::scope(|s| -> TestResult<_> {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let store = store.clone();
                let (done, reads, aborted) = (&done, &reads, &aborted);
                s.spawn(move || read_until_done(&store, done, reads, aborted))
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.clone();
                let (reads, aborted) = (&reads, &aborted);
                s.spawn(move || write_facts(&store, w, reads, aborted))
            })
            .collect();
        let mut facts = Vec::new();
        for writer in writers {
            facts.push(writer.join().map_err(|_| "a writer panicked")??);
        }
        done.store(true, Ordering::SeqCst);
        let mut seen = Vec::new();
        for reader in readers {
            seen.push(reader.join().map_err(|_| "a reader panicked")??);
        }
        Ok((facts, seen))
    })?;

    // Every acknowledged write is there exactly once, in its acknowledged state.
    let all = store.list(ACCOUNT, &history())?;
    let mut count: HashMap<MemoryId, usize> = HashMap::new();
    for m in &all.memories {
        *count.entry(m.id).or_default() += 1;
    }
    let mut acknowledged = vec![seed];
    for fact in facts.iter().flatten() {
        acknowledged.extend([fact.old, fact.new]);
        acknowledged.extend(&fact.extras);
        let old = store.get(ACCOUNT, fact.old)?;
        assert_eq!(old.superseded_by, Some(fact.new));
        let new = store.get(ACCOUNT, fact.new)?;
        assert_eq!((new.superseded_by, new.valid_to), (None, fact.valid_to));
    }
    for id in &acknowledged {
        assert_eq!(count.get(id), Some(&1), "{id}");
    }
    assert_eq!(
        all.memories.len(),
        acknowledged.len(),
        "nothing unacknowledged is stored"
    );
    let by_text: HashMap<&str, &Memory> = all
        .memories
        .iter()
        .map(|m| (m.decision.as_str(), m))
        .collect();
    for w in 0..WRITERS {
        assert_eq!(progress(w, &by_text), operations_per_writer());
    }

    // The readers ran alongside the writers and saw them half-way.
    eprintln!("readers saw {seen:?}");
    assert_eq!(seen.len(), READERS);
    assert!(seen.iter().all(|s| s.snapshots > 0), "{seen:?}");
    assert!(
        seen.iter().map(|s| s.half_way).sum::<usize>() > 0,
        "{seen:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A read while a commit is in flight, with a clock that moves
// ---------------------------------------------------------------------------------------------

/// A manual clock whose next reading can be made to wait: the reader of that reading (the
/// writer, inside its transaction) reports the reading and blocks until released.
#[derive(Debug)]
struct GatedClock {
    micros: AtomicI64,
    gate: Mutex<Option<Gate>>,
}

#[derive(Debug)]
struct Gate {
    entered: mpsc::Sender<Timestamp>,
    release: mpsc::Receiver<()>,
}

#[derive(Clone, Debug)]
struct SharedClock(Arc<GatedClock>);

impl Clock for SharedClock {
    fn now(&self) -> Timestamp {
        let t = Timestamp::from_micros(self.0.micros.load(Ordering::SeqCst));
        let gate = self
            .0
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(gate) = gate {
            // If the test is gone, there is nobody to wait for.
            if gate.entered.send(t).is_ok() {
                let _ = gate.release.recv();
            }
        }
        t
    }
}

/// Spec §3.7: `transaction_as_of = T` replays the store "exactly as it stood at T". A reader
/// that was told "now is T" and did not see a write must not later find that write in the
/// replay of T, so a commit still in flight when a reader takes its "now" has to be stamped
/// after that "now".
#[test]
fn a_commit_in_flight_is_not_stamped_before_the_now_of_a_read_that_missed_it() -> TestResult {
    let clock = SharedClock(Arc::new(GatedClock {
        micros: AtomicI64::new(START),
        gate: Mutex::new(None),
    }));
    let store = Store::in_memory_with(StoreOptions::new().clock(clock.clone()))?;
    store.write(ACCOUNT, NewMemory::new("before"))?;
    clock.0.micros.fetch_add(SECOND, Ordering::SeqCst);

    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    *clock.0.gate.lock().unwrap_or_else(PoisonError::into_inner) = Some(Gate {
        entered: entered_tx,
        release: release_rx,
    });
    let (seen, written) = thread::scope(|s| -> TestResult<_> {
        let writer = s.spawn(|| store.write(ACCOUNT, NewMemory::new("in flight")));
        // The writer is inside its transaction and has read the clock.
        let stamped = entered.recv()?;
        assert_eq!(stamped, Timestamp::from_micros(START + SECOND));
        // Time passes; a reader reads "now", before the commit.
        clock.0.micros.fetch_add(SECOND, Ordering::SeqCst);
        let seen = store.list(ACCOUNT, &ListQuery::new())?;
        release.send(())?;
        let written = writer.join().map_err(|_| "the writer panicked")??;
        Ok((seen, written.saved_id().expect("saved")))
    })?;
    assert_eq!(
        seen.memories
            .iter()
            .map(|m| m.decision.as_str())
            .collect::<Vec<_>>(),
        vec!["before"]
    );

    // The store as it stood at the instant that reader was given must be what it saw.
    let replay = store.list(
        ACCOUNT,
        &ListQuery::new().mode(ReadMode::TransactionAsOf {
            at: seen.now,
            include_superseded: false,
        }),
    )?;
    let created = store.get(ACCOUNT, written)?.created_at;
    assert_eq!(
        replay
            .memories
            .iter()
            .map(|m| m.decision.as_str())
            .collect::<Vec<_>>(),
        vec!["before"],
        "a reader was told the store stood at {} without the write, yet replaying {} shows \
         it: the write committed later but is stamped {created}",
        seen.now,
        seen.now,
    );
    assert!(created > seen.now);
    Ok(())
}
