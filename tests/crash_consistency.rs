//! Crash consistency through redb's `StorageBackend`: a workload of writes, batches,
//! supersessions, expiries and a tenant delete runs on a fault-injecting backend that, from
//! its N-th I/O call on, either fails every call or "stops" (the process dies: nothing more
//! reaches the disk). For every N, the store reopened on what a crash leaves behind (the
//! synced bytes, and the bytes written so far) holds exactly the acknowledged operations,
//! plus at most the one in flight, entirely or not at all, in every read mode, timeline and
//! audit log. A handle whose commit failed refuses every later write with `Error::Poisoned`
//! without touching the storage, and still reads exactly the committed state.
//!
//! One exception is tolerated and counted: a crash inside redb's creation of a brand-new file
//! (before the store has opened for the first time) can leave a file that redb refuses ever
//! after ("Not a redb database"). Nothing acknowledged is lost there, but the file must be
//! removed by hand (see `check_image`).

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aurra::{
    Error, EventDetails, ListQuery, ManualClock, Memory, MemoryId, NewMemory, ReadMode,
    StorageBackend, Store, StoreOptions, Supersede, SupersedeOutcome, Timestamp, WriteOutcome,
};

type TestResult<T = ()> = Result<T, Box<dyn StdError>>;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 86_400 * SECOND;
/// 2026-01-01T00:00:00Z
const START: i64 = 1_767_225_600 * SECOND;

const ACCOUNTS: [&str; 2] = ["acme", "globex"];
const TENANTS: [Option<&str>; 2] = [None, Some("team")];

// ---------------------------------------------------------------------------------------------
// The fault-injecting backend
// ---------------------------------------------------------------------------------------------

/// What happens from the chosen I/O call on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// That call and every later one return an I/O error.
    Error,
    /// The process dies: later writes never reach the disk and syncs no longer make anything
    /// durable. (The doomed process keeps a private view of its writes so that it can run to
    /// the end of the operation it was in without tripping over its own lost writes.)
    Stop,
}

#[derive(Debug, Default)]
struct State {
    /// The file as the process sees it: every successful write is applied at once.
    live: Vec<u8>,
    /// What a completed `sync_data` made durable: the image a power loss leaves.
    durable: Vec<u8>,
    /// I/O calls made so far (`len`, `read`, `set_len`, `write`, `sync_data`).
    calls: u64,
    fault: Option<(u64, Fault)>,
    /// The file as the process had written it when the fault struck: the image a process
    /// kill leaves when the operating system keeps its page cache.
    live_at_fault: Option<Vec<u8>>,
}

enum Call {
    Normal,
    Fail,
    Ghost,
}

impl State {
    fn enter(&mut self) -> Call {
        let n = self.calls;
        self.calls += 1;
        match self.fault {
            Some((at, kind)) if n >= at => {
                if self.live_at_fault.is_none() {
                    self.live_at_fault = Some(self.live.clone());
                }
                match kind {
                    Fault::Error => Call::Fail,
                    Fault::Stop => Call::Ghost,
                }
            }
            _ => Call::Normal,
        }
    }
}

/// A redb backend in memory, with a durable image that only advances on `sync_data`, and an
/// optional fault. Cloning shares the state, so the test keeps a handle.
#[derive(Clone, Debug, Default)]
struct FaultBackend {
    state: Arc<Mutex<State>>,
}

fn injected() -> io::Error {
    io::Error::other("injected I/O fault")
}

impl FaultBackend {
    fn with_fault(fault: Option<(u64, Fault)>) -> Self {
        let backend = FaultBackend::default();
        backend.lock().fault = fault;
        backend
    }

    /// A backend holding `image` as its file contents, durable and fault-free.
    fn from_image(image: &[u8]) -> Self {
        let backend = FaultBackend::default();
        {
            let mut state = backend.lock();
            state.live = image.to_vec();
            state.durable = image.to_vec();
        }
        backend
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn calls(&self) -> u64 {
        self.lock().calls
    }

    fn tripped(&self) -> bool {
        self.lock().live_at_fault.is_some()
    }

    /// The images a crash at this point may leave: the synced bytes (power loss) and the
    /// bytes written before the fault (process kill, page cache kept).
    fn crash_images(&self) -> Vec<(&'static str, Vec<u8>)> {
        let state = self.lock();
        let written = state
            .live_at_fault
            .clone()
            .unwrap_or_else(|| state.live.clone());
        vec![("synced", state.durable.clone()), ("written", written)]
    }
}

impl StorageBackend for FaultBackend {
    fn len(&self) -> Result<u64, io::Error> {
        let mut state = self.lock();
        match state.enter() {
            Call::Fail => Err(injected()),
            Call::Normal | Call::Ghost => Ok(state.live.len() as u64),
        }
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let mut state = self.lock();
        if let Call::Fail = state.enter() {
            return Err(injected());
        }
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + out.len();
        if end > state.live.len() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        out.copy_from_slice(&state.live[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut state = self.lock();
        if let Call::Fail = state.enter() {
            return Err(injected());
        }
        let len = usize::try_from(len).map_err(io::Error::other)?;
        state.live.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut state = self.lock();
        match state.enter() {
            Call::Fail => Err(injected()),
            Call::Ghost => Ok(()),
            Call::Normal => {
                let State { live, durable, .. } = &mut *state;
                durable.clone_from(live);
                Ok(())
            }
        }
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.lock();
        if let Call::Fail = state.enter() {
            return Err(injected());
        }
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + data.len();
        if end > state.live.len() {
            state.live.resize(end, 0);
        }
        state.live[start..end].copy_from_slice(data);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

struct Item {
    text: &'static str,
    tenant: Option<&'static str>,
    session: Option<&'static str>,
    back_dated: Option<i64>,
}

fn item(text: &'static str) -> Item {
    Item {
        text,
        tenant: None,
        session: None,
        back_dated: None,
    }
}

fn in_team(mut item: Item) -> Item {
    item.tenant = Some("team");
    item
}

enum Op {
    Write {
        account: &'static str,
        items: Vec<Item>,
    },
    Supersede {
        account: &'static str,
        target: &'static str,
        by: Option<&'static str>,
        /// `valid_to` relative to the operation's time.
        valid_to: Option<i64>,
    },
    DeleteTenant {
        account: &'static str,
        tenant: Option<&'static str>,
    },
}

fn write(account: &'static str, items: Vec<Item>) -> Op {
    Op::Write { account, items }
}

fn supersede(
    account: &'static str,
    target: &'static str,
    by: Option<&'static str>,
    valid_to: Option<i64>,
) -> Op {
    Op::Supersede {
        account,
        target,
        by,
        valid_to,
    }
}

fn workload() -> Vec<Op> {
    vec![
        write("acme", vec![item("Alice works at Initech")]),
        write(
            "acme",
            vec![
                item("Bob likes tea"),
                in_team(item("Carol is on call")),
                Item {
                    back_dated: Some(90 * DAY),
                    ..item("Dave led the 2025 migration")
                },
            ],
        ),
        write(
            "globex",
            vec![Item {
                session: Some("s1"),
                ..item("Globex ships on Friday")
            }],
        ),
        write("acme", vec![item("Alice works at Globex")]),
        // Replacement.
        supersede(
            "acme",
            "Alice works at Initech",
            Some("Alice works at Globex"),
            None,
        ),
        // Expiry, 30 minutes from now (past at read time).
        supersede("acme", "Bob likes tea", None, Some(30 * MINUTE)),
        write(
            "acme",
            vec![
                in_team(item("Carol is off call")),
                in_team(item("Team standup at 10")),
            ],
        ),
        // Replacement with an explicit end in the past.
        supersede(
            "acme",
            "Carol is on call",
            Some("Carol is off call"),
            Some(-MINUTE),
        ),
        // A duplicate of a live row: nothing is written.
        write("acme", vec![item("Bob likes tea")]),
        // A batch with a duplicate inside it.
        write(
            "globex",
            vec![
                item("Globex hires Eve"),
                Item {
                    session: Some("s1"),
                    ..item("Globex ships on Friday")
                },
                item("Globex moves to Berlin"),
            ],
        ),
        Op::DeleteTenant {
            account: "acme",
            tenant: Some("team"),
        },
        write("acme", vec![in_team(item("Team standup at 11"))]),
        write("acme", vec![item("Alice works at Hooli")]),
        // Third link of the chain.
        supersede(
            "acme",
            "Alice works at Globex",
            Some("Alice works at Hooli"),
            None,
        ),
        // Expiry in the future (still current at read time).
        supersede("globex", "Globex moves to Berlin", None, Some(DAY)),
    ]
}

/// The instant operation `k` runs at (and its transaction time: the clock only moves forward).
fn op_time(k: usize) -> Timestamp {
    Timestamp::from_micros(START + (k as i64 + 1) * MINUTE)
}

/// When the reopened stores are read: after every operation, and after the 30-minute expiry.
fn read_at(ops: &[Op]) -> Timestamp {
    op_time(ops.len()).saturating_add_micros(60 * MINUTE)
}

/// What an operation returned.
#[derive(Clone, Debug)]
enum Ack {
    Wrote(Vec<WriteOutcome>),
    Superseded(SupersedeOutcome),
    Deleted(u64),
}

impl Ack {
    /// The outcome with ids left out, to compare runs with each other.
    fn shape(&self) -> String {
        match self {
            Ack::Wrote(outcomes) => outcomes
                .iter()
                .map(|o| match o {
                    WriteOutcome::Saved(m) => format!("saved {}", m.decision),
                    WriteOutcome::Duplicate { .. } => "duplicate".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Ack::Superseded(o) => format!(
                "superseded changed={} valid_to={} by={}",
                o.changed,
                o.valid_to,
                o.superseded_by.is_some()
            ),
            Ack::Deleted(n) => format!("deleted {n}"),
        }
    }
}

fn apply(
    store: &Store,
    op: &Op,
    at: Timestamp,
    ids: &HashMap<&'static str, MemoryId>,
) -> aurra::Result<Ack> {
    match op {
        Op::Write { account, items } => {
            let memories: Vec<NewMemory> = items
                .iter()
                .map(|i| {
                    let mut m = NewMemory::new(i.text);
                    if let Some(t) = i.tenant {
                        m = m.with_tenant(t);
                    }
                    if let Some(s) = i.session {
                        m = m.with_session(s);
                    }
                    if let Some(back) = i.back_dated {
                        m = m.with_valid_from(at.saturating_add_micros(-back));
                    }
                    m
                })
                .collect();
            if memories.len() == 1 {
                let single = memories.into_iter().next().expect("one item");
                Ok(Ack::Wrote(vec![store.write(account, single)?]))
            } else {
                Ok(Ack::Wrote(store.write_batch(account, memories)?))
            }
        }
        Op::Supersede {
            account,
            target,
            by,
            valid_to,
        } => {
            // An id whose write was never acknowledged (only after a failure, when the
            // operation must be refused anyway) stands for a memory that does not exist.
            let id = |text: &str| ids.get(text).copied().unwrap_or_else(MemoryId::generate);
            let request = Supersede {
                superseded_by: by.map(id),
                valid_to: valid_to.map(|off| at.saturating_add_micros(off)),
            };
            Ok(Ack::Superseded(store.supersede(
                account,
                id(target),
                request,
                account,
            )?))
        }
        Op::DeleteTenant { account, tenant } => {
            Ok(Ack::Deleted(store.delete_tenant(account, *tenant)?))
        }
    }
}

fn options(clock: &ManualClock) -> StoreOptions {
    // Default durability: every commit is synced before it returns.
    StoreOptions::new().clock(clock.clone())
}

// ---------------------------------------------------------------------------------------------
// The expectation: per-id state from the acknowledged outcomes, and whole-store signatures
// ---------------------------------------------------------------------------------------------

/// The latest state of every memory the acknowledged operations created (`None`: deleted),
/// computed from the operations' own outcomes.
#[derive(Default)]
struct Expected {
    memories: HashMap<MemoryId, Option<Memory>>,
    ids: HashMap<&'static str, MemoryId>,
}

impl Expected {
    fn record(&mut self, op: &Op, at: Timestamp, ack: &Ack) {
        match (op, ack) {
            (Op::Write { items, .. }, Ack::Wrote(outcomes)) => {
                assert_eq!(items.len(), outcomes.len(), "one outcome per item");
                for (item, outcome) in items.iter().zip(outcomes) {
                    if let WriteOutcome::Saved(m) = outcome {
                        assert_eq!(m.created_at, at, "transaction time of {}", item.text);
                        self.ids.insert(item.text, m.id);
                        self.memories.insert(m.id, Some((**m).clone()));
                    }
                }
            }
            (Op::Supersede { .. }, Ack::Superseded(out)) => {
                let m = self
                    .memories
                    .get_mut(&out.memory_id)
                    .and_then(Option::as_mut)
                    .expect("superseded a known memory");
                if out.changed {
                    if m.superseded_by.is_none() && out.superseded_by.is_some() {
                        m.transaction_time_end = Some(at);
                    }
                    m.superseded_by = out.superseded_by;
                    m.valid_to = Some(out.valid_to);
                }
            }
            (Op::DeleteTenant { account, tenant }, Ack::Deleted(n)) => {
                let mut deleted = 0;
                for m in self.memories.values_mut() {
                    if m.as_ref()
                        .is_some_and(|m| m.account == *account && m.tenant.as_deref() == *tenant)
                    {
                        *m = None;
                        deleted += 1;
                    }
                }
                assert_eq!(*n, deleted, "deleted count");
            }
            _ => panic!("outcome does not match its operation"),
        }
    }

    /// Ids whose state the operation `op` (whose outcome is unknown) may have changed.
    fn touched_by(&self, op: &Op) -> HashSet<MemoryId> {
        match op {
            Op::Write { .. } => HashSet::new(),
            Op::Supersede { target, .. } => HashSet::from([self.ids[target]]),
            Op::DeleteTenant { account, tenant } => self
                .memories
                .iter()
                .filter(|(_, m)| {
                    m.as_ref()
                        .is_some_and(|m| m.account == *account && m.tenant.as_deref() == *tenant)
                })
                .map(|(id, _)| *id)
                .collect(),
        }
    }

    /// Every acknowledged memory is there in its acknowledged state (deleted ones are gone),
    /// except those that the operation in flight may have changed.
    fn check(&self, store: &Store, skip: &HashSet<MemoryId>, what: &str) -> TestResult {
        for (id, expected) in &self.memories {
            if skip.contains(id) {
                continue;
            }
            match expected {
                Some(m) => assert_eq!(&store.get(&m.account, *id)?, m, "{what}: memory {id}"),
                None => {
                    for account in ACCOUNTS {
                        assert!(
                            matches!(store.get(account, *id), Err(Error::NotFound(_))),
                            "{what}: deleted memory {id} is back"
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

fn query(tenant: Option<&str>, mode: ReadMode) -> ListQuery {
    let q = ListQuery::new().mode(mode).limit(1000);
    match tenant {
        Some(t) => q.tenant(t),
        None => q,
    }
}

fn rel(t: Timestamp) -> String {
    if t == Timestamp::MAX {
        "inf".to_owned()
    } else {
        format!("{}s", (t.as_micros() - START) as f64 / SECOND as f64)
    }
}

/// Everything a reader can observe, with ids replaced by the (unique) decision texts: every
/// list in every mode at every instant that matters, and per memory its state, timeline and
/// audit log. Two stores with the same signature hold the same logical state.
fn signature(store: &Store, ops: &[Op]) -> aurra::Result<Vec<String>> {
    let mut names: HashMap<MemoryId, String> = HashMap::new();
    let mut everything: Vec<Memory> = Vec::new();
    for account in ACCOUNTS {
        for tenant in TENANTS {
            for m in store
                .list(account, &query(tenant, ReadMode::History))?
                .memories
            {
                names.insert(m.id, m.decision.clone());
                everything.push(m);
            }
        }
    }
    let name = |id: Option<MemoryId>| -> String {
        match id {
            None => "-".to_owned(),
            Some(id) => names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| "<missing>".to_owned()),
        }
    };
    let render = |m: &Memory| -> String {
        format!(
            "[{} | {:?}/{:?} | src={} sess={:?} | valid {}..{} | tx {}..{} | captured {} | by={}]",
            m.decision,
            m.account,
            m.tenant,
            m.source,
            m.session_id,
            rel(m.valid_from),
            m.valid_to.map_or("open".to_owned(), rel),
            rel(m.transaction_time_start),
            m.transaction_time_end.map_or("open".to_owned(), rel),
            rel(m.captured_at),
            name(m.superseded_by),
        )
    };

    let end = read_at(ops);
    let mut instants = vec![
        Timestamp::from_micros(START - 100 * DAY),
        Timestamp::from_micros(START),
        end,
    ];
    instants.extend((0..ops.len()).map(op_time));
    instants.push(op_time(5).saturating_add_micros(30 * MINUTE));
    let mut modes = vec![ReadMode::Current, ReadMode::History];
    for &t in &instants {
        modes.push(ReadMode::AsOf(t));
        for include_superseded in [false, true] {
            modes.push(ReadMode::TransactionAsOf {
                at: t,
                include_superseded,
            });
        }
    }
    // Both axes: what the store believed before the chain grew and before the tenant delete.
    for (valid_at, transaction_at) in [(3, 6), (6, 3), (9, 12)] {
        modes.push(ReadMode::Bitemporal {
            valid_at: op_time(valid_at),
            transaction_at: op_time(transaction_at),
        });
    }

    let mut lines = vec![format!("now {}", rel(store.now()?))];
    for account in ACCOUNTS {
        for tenant in TENANTS {
            for mode in &modes {
                let rows = store.list(account, &query(tenant, *mode))?.memories;
                lines.push(format!(
                    "{account}/{tenant:?} {mode:?}: {}",
                    rows.iter().map(render).collect::<Vec<_>>().join(" ")
                ));
            }
            let in_session =
                store.list(account, &query(tenant, ReadMode::History).session("s1"))?;
            lines.push(format!(
                "{account}/{tenant:?} session s1: {}",
                in_session
                    .memories
                    .iter()
                    .map(render)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    everything.sort_by(|a, b| a.decision.cmp(&b.decision));
    for m in &everything {
        let got = store.get(&m.account, m.id)?;
        lines.push(format!("get {}", render(&got)));
        let timeline = store.timeline(&m.account, m.id)?;
        lines.push(format!(
            "timeline {}: {}",
            m.decision,
            timeline
                .versions
                .iter()
                .map(|v| v.decision.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        ));
        let (_, events) = store.audit(&m.account, m.id)?;
        let events: Vec<String> = events
            .iter()
            .map(|e| {
                let details = match &e.details {
                    EventDetails::Superseded {
                        superseded_by,
                        valid_to,
                        ..
                    } => format!(
                        "superseded by={} valid_to={}",
                        name(*superseded_by),
                        rel(*valid_to)
                    ),
                    EventDetails::Expired { valid_to, .. } => {
                        format!("expired valid_to={}", rel(*valid_to))
                    }
                    other => format!("{other:?}"),
                };
                format!("{}@{} by {}: {details}", e.kind.as_str(), rel(e.at), e.by)
            })
            .collect();
        lines.push(format!("audit {}: {}", m.decision, events.join("; ")));
    }
    Ok(lines)
}

/// Points at the first line where two signatures differ.
fn first_difference(a: &[String], b: &[String]) -> String {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            return format!("line {i}:\n  got      {x}\n  expected {y}");
        }
    }
    format!("lengths {} vs {}", a.len(), b.len())
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/// The signature of the store after each prefix of the workload (index k: k operations),
/// the outcome shapes, and the number of I/O calls a fault-free run makes from opening the
/// store to closing it.
struct Reference {
    signatures: Vec<Vec<String>>,
    shapes: Vec<String>,
    calls: u64,
}

fn reference(ops: &[Op]) -> TestResult<Reference> {
    // Counting run: only the workload, as a faulted run makes it.
    let counter = FaultBackend::with_fault(None);
    let clock = ManualClock::new(Timestamp::from_micros(START));
    let store = Store::open_backend(counter.clone(), options(&clock))?;
    let mut expected = Expected::default();
    let mut shapes = Vec::new();
    for (k, op) in ops.iter().enumerate() {
        clock.set(op_time(k));
        let ack = apply(&store, op, op_time(k), &expected.ids)?;
        expected.record(op, op_time(k), &ack);
        shapes.push(ack.shape());
    }
    let workload_calls = counter.calls();
    drop(store);
    // Closing the database does I/O of its own: a crash there must lose nothing.
    let calls = counter.calls();
    assert!(calls >= workload_calls);

    // Signature runs: each prefix of the workload on a fresh store, then read. (Reading the
    // live store between operations would stamp the next write after the reader's "now",
    // which the faulted runs, reading only at the end, do not do.)
    let mut signatures = Vec::new();
    for prefix in 0..=ops.len() {
        let clock = ManualClock::new(Timestamp::from_micros(START));
        let store = Store::open_backend(FaultBackend::default(), options(&clock))?;
        let mut expected = Expected::default();
        for (k, op) in ops[..prefix].iter().enumerate() {
            clock.set(op_time(k));
            let ack = apply(&store, op, op_time(k), &expected.ids)?;
            expected.record(op, op_time(k), &ack);
        }
        clock.set(read_at(ops));
        signatures.push(signature(&store, ops)?);
    }
    // Every operation but a suppressed duplicate changes what readers see, so a crash image
    // matches at most one prefix (up to those duplicates).
    for (k, pair) in signatures.windows(2).enumerate() {
        let invisible = shapes[k] == "duplicate";
        assert_eq!(
            pair[0] == pair[1],
            invisible,
            "operation {k} ({})",
            shapes[k]
        );
    }
    Ok(Reference {
        signatures,
        shapes,
        calls,
    })
}

/// What a faulted run leaves to check.
struct Outcome {
    expected: Expected,
    /// Operations acknowledged before the fault (a prefix of the workload).
    acked: usize,
    /// Whether operation `acked` was in flight when the fault struck.
    in_flight: bool,
    /// Whether the fault struck before `Store::open_backend` returned (the new, empty file
    /// was being created).
    during_open: bool,
    /// Reads of acknowledged memories on the poisoned handle: (served, refused).
    reads_after_failure: (usize, usize),
}

/// Runs the workload until the fault strikes (and, for an I/O error, checks the poisoned
/// handle), then drops the store.
fn run_faulted(
    ops: &[Op],
    backend: &FaultBackend,
    kind: Fault,
    reference: &Reference,
) -> TestResult<Outcome> {
    let clock = ManualClock::new(Timestamp::from_micros(START));
    let mut out = Outcome {
        expected: Expected::default(),
        acked: 0,
        in_flight: false,
        during_open: false,
        reads_after_failure: (0, 0),
    };
    let store = match Store::open_backend(backend.clone(), options(&clock)) {
        Ok(store) => store,
        Err(e) => {
            assert!(backend.tripped(), "open failed without a fault: {e}");
            assert!(
                matches!(e, Error::Storage(_) | Error::Io(_)),
                "open failed with {e:?}"
            );
            out.during_open = true;
            return Ok(out);
        }
    };
    if backend.tripped() {
        out.during_open = true;
        if kind == Fault::Stop {
            // The process died while opening: nothing of the workload ran.
            return Ok(out);
        }
    }
    for (k, op) in ops.iter().enumerate() {
        clock.set(op_time(k));
        let result = apply(&store, op, op_time(k), &out.expected.ids);
        match (kind, result) {
            (Fault::Stop, _) if backend.tripped() => {
                // The process died during this operation: whatever it was told, nobody
                // heard it.
                out.in_flight = true;
                return Ok(out);
            }
            (_, Ok(ack)) => {
                assert_eq!(ack.shape(), reference.shapes[k], "outcome of operation {k}");
                out.expected.record(op, op_time(k), &ack);
                out.acked += 1;
            }
            (Fault::Error, Err(Error::Storage(_) | Error::Io(_))) => {
                assert!(backend.tripped(), "storage error without a fault");
                assert!(store.is_poisoned(), "a failed commit poisons the handle");
                out.in_flight = true;
                clock.set(read_at(ops));
                out.reads_after_failure = check_poisoned(&store, backend, ops, &out, reference)?;
                return Ok(out);
            }
            (_, Err(e)) => panic!("operation {k} failed with an unexpected error: {e:?}"),
        }
    }
    Ok(out)
}

/// After a failed commit: every kind of write is refused with `Poisoned` without any I/O,
/// caller mistakes are still reported as such, and reads return exactly the acknowledged
/// state (or, where redb refuses them, a storage error; never anything else). Returns the
/// number of reads served and refused.
fn check_poisoned(
    store: &Store,
    backend: &FaultBackend,
    ops: &[Op],
    out: &Outcome,
    reference: &Reference,
) -> TestResult<(usize, usize)> {
    let failed = out.acked;
    let expected = &out.expected;
    let calls = backend.calls();
    for (k, op) in ops.iter().enumerate().skip(failed) {
        let result = apply(store, op, op_time(k), &expected.ids);
        assert!(
            matches!(result, Err(Error::Poisoned)),
            "operation {k} after the failure of operation {failed}: {result:?}"
        );
    }
    let result = store.write_batch(
        "acme",
        vec![
            NewMemory::new("after the failure"),
            NewMemory::new("and more"),
        ],
    );
    assert!(matches!(result, Err(Error::Poisoned)), "{result:?}");
    let result = store.delete_account("globex");
    assert!(matches!(result, Err(Error::Poisoned)), "{result:?}");
    if let Some(id) = expected.ids.get("Dave led the 2025 migration") {
        let request = Supersede {
            superseded_by: None,
            valid_to: Some(read_at(ops)),
        };
        let result = store.supersede("acme", *id, request, "acme");
        assert!(matches!(result, Err(Error::Poisoned)), "{result:?}");
    }
    assert!(matches!(
        store.write("", NewMemory::new("x")),
        Err(Error::InvalidArgument(_))
    ));
    assert!(store.is_poisoned(), "the poison stays until a reopen");
    assert_eq!(backend.calls(), calls, "refused writes touch no storage");

    let mut served = 0;
    let mut refused = 0;
    let in_flight = expected.touched_by(&ops[failed]);
    for (id, m) in &expected.memories {
        let Some(m) = m else { continue };
        match store.get(&m.account, *id) {
            Ok(got) => {
                served += 1;
                if !in_flight.contains(id) {
                    assert_eq!(&got, m, "read of {id} on the poisoned handle");
                }
            }
            Err(Error::Storage(_)) => refused += 1,
            Err(e) => panic!("read of {id} on the poisoned handle: {e:?}"),
        }
    }
    match signature(store, ops) {
        Ok(got) => {
            served += 1;
            let committed = &reference.signatures[failed];
            assert!(
                &got == committed,
                "the poisoned handle reads something else than the committed state: {}",
                first_difference(&got, committed)
            );
        }
        Err(Error::Storage(_)) => refused += 1,
        Err(e) => panic!("reads on the poisoned handle: {e:?}"),
    }
    Ok((served, refused))
}

/// How a crash image reopened.
#[derive(Debug, PartialEq, Eq)]
enum Reopened {
    /// It holds the acknowledged operations.
    Acknowledged,
    /// It holds the acknowledged operations and the one in flight.
    WithInFlight,
    /// redb refuses the file: the crash hit redb's creation of the database file.
    NotARedbFile,
}

/// Opens a store on a crash image and checks it against the reference.
fn check_image(
    ops: &[Op],
    image: &[u8],
    what: &str,
    outcome: &Outcome,
    reference: &Reference,
) -> TestResult<Reopened> {
    let clock = ManualClock::new(read_at(ops));
    let store = match Store::open_backend(FaultBackend::from_image(image), options(&clock)) {
        Ok(store) => store,
        // A crash inside redb's creation of a new file (after it sized the file, before it
        // wrote the header's magic number) leaves a file that redb refuses ever after. No
        // acknowledged data can be lost there (the store had not opened yet), but the file
        // has to be deleted by hand. Tolerated only for such crashes; see the report.
        Err(Error::Storage(e))
            if outcome.during_open && e.to_string().contains("Not a redb database") =>
        {
            return Ok(Reopened::NotARedbFile);
        }
        Err(e) => return Err(format!("{what}: the store does not reopen: {e}").into()),
    };
    assert!(
        !store.is_poisoned(),
        "{what}: a reopened store is not poisoned"
    );

    let got = signature(&store, ops).map_err(|e| format!("{what}: reading failed: {e}"))?;
    let before = &reference.signatures[outcome.acked];
    let after = if outcome.in_flight {
        reference.signatures.get(outcome.acked + 1)
    } else {
        None
    };
    let reopened = if &got == before {
        Reopened::Acknowledged
    } else if Some(&got) == after {
        Reopened::WithInFlight
    } else {
        panic!(
            "{what}: the reopened store matches neither the {} acknowledged operations{}\n\
             vs the acknowledged state: {}{}",
            outcome.acked,
            if after.is_some() {
                " nor those plus the one in flight"
            } else {
                ""
            },
            first_difference(&got, before),
            after.map_or(String::new(), |a| format!(
                "\nvs with the one in flight: {}",
                first_difference(&got, a)
            ))
        );
    };

    let skip = if outcome.in_flight {
        outcome.expected.touched_by(&ops[outcome.acked])
    } else {
        HashSet::new()
    };
    outcome.expected.check(&store, &skip, what)?;

    // The reopened store takes writes again.
    let id = store
        .write("acme", NewMemory::new("written after the crash"))?
        .saved_id()
        .ok_or_else(|| format!("{what}: the first write after reopening is a duplicate"))?;
    assert_eq!(store.get("acme", id)?.decision, "written after the crash");
    Ok(reopened)
}

/// Totals over all the faults of one kind.
#[derive(Debug, Default)]
struct Tally {
    struck: u64,
    images_checked: u64,
    not_a_redb_file: u64,
    in_flight_applied: u64,
    reads_served: usize,
    reads_refused: usize,
}

fn check_fault(
    ops: &[Op],
    reference: &Reference,
    at: u64,
    kind: Fault,
    tally: &mut Tally,
) -> TestResult {
    let backend = FaultBackend::with_fault(Some((at, kind)));
    let outcome = run_faulted(ops, &backend, kind, reference)?;
    if backend.tripped() {
        tally.struck += 1;
    } else {
        assert_eq!(
            outcome.acked,
            ops.len(),
            "without a fault every operation ran"
        );
    }
    tally.reads_served += outcome.reads_after_failure.0;
    tally.reads_refused += outcome.reads_after_failure.1;
    let images = backend.crash_images();
    for (i, (image_kind, image)) in images.iter().enumerate() {
        if images[..i].iter().any(|(_, earlier)| earlier == image) {
            continue;
        }
        let what = format!("{kind:?} from I/O call {at}, {image_kind} image");
        match check_image(ops, image, &what, &outcome, reference)? {
            Reopened::Acknowledged => tally.images_checked += 1,
            Reopened::WithInFlight => {
                tally.images_checked += 1;
                tally.in_flight_applied += 1;
            }
            Reopened::NotARedbFile => tally.not_a_redb_file += 1,
        }
    }
    Ok(())
}

/// Checks a fault of `kind` at every I/O call from opening the store to closing it, then a
/// run without a fault.
fn check_every_call(kind: Fault) -> TestResult<Tally> {
    let ops = workload();
    let reference = reference(&ops)?;
    assert!(reference.calls > 20, "{} I/O calls", reference.calls);
    let mut tally = Tally::default();
    for at in (0..reference.calls).chain([u64::MAX]) {
        check_fault(&ops, &reference, at, kind, &mut tally)?;
    }
    eprintln!("{kind:?}: {} I/O calls, {tally:?}", reference.calls);
    assert_eq!(tally.struck, reference.calls, "every fault struck");
    assert!(tally.images_checked > reference.calls);
    // Both outcomes of an operation in flight occur: the crash images are not all trivial.
    assert!(tally.in_flight_applied > 0);
    Ok(tally)
}

#[test]
fn io_errors_from_any_call_on_lose_nothing_acknowledged_and_poison_the_handle() -> TestResult {
    let tally = check_every_call(Fault::Error)?;
    // Reads of committed data on the poisoned handle are served (from redb's cache) and
    // agree with the acknowledged state.
    assert!(tally.reads_served > 0);
    Ok(())
}

#[test]
fn a_process_dying_at_any_call_leaves_the_acknowledged_prefix_and_nothing_half_written()
-> TestResult {
    check_every_call(Fault::Stop)?;
    Ok(())
}
