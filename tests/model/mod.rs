//! A plain in-memory model of the store, and a harness that drives the real store and the
//! model with the same operations and compares every read.
//!
//! The model shares nothing with the store's implementation: it keeps a `Vec` of rows with
//! their full version history and answers every read by brute force from the rules of the
//! spec (§3.7, §7.1, §9.3, §9.6). Used by `tests/model_based.rs` (proptest) and by the
//! `ops` fuzz target.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};

use aurra::{
    Error, EventKind, ListQuery, ManualClock, Memory, MemoryId, NewMemory, ReadMode, SearchQuery,
    Store, StoreOptions, Supersede, Timestamp, WriteOutcome,
};

pub const ACCOUNTS: [&str; 2] = ["acct-a", "acct-b"];
pub const TENANTS: [Option<&str>; 3] = [None, Some("t1"), Some("t2")];
pub const TEXTS: [&str; 6] = [
    "Alice works at Acme",
    "Alice works at Globex",
    "Bob likes tea",
    "Bob likes coffee",
    "The launch is on Friday",
    "  Alice works at Acme  ",
];
/// Search questions: each word is a surface form that occurs in `TEXTS` and is no stop word.
pub const QUERIES: [&str; 5] = ["Alice", "tea", "works", "Friday launch", "coffee Bob"];
pub const SOURCES: [&str; 3] = ["agent", "slack", "notion"];
pub const SESSIONS: [&str; 2] = ["s1", "s2"];
const SECOND: i64 = 1_000_000;
/// 2026-01-01T00:00:00Z
pub const START: i64 = 1_767_225_600 * SECOND;

/// One memory of a write operation, as small integers.
#[derive(Clone, Debug)]
pub struct W {
    pub tenant: u8,
    pub text: u8,
    pub source: u8,
    pub session: Option<u8>,
    /// Seconds relative to the clock.
    pub valid_from: Option<i16>,
    pub external: Option<u8>,
}

/// One operation, as small integers so that any byte string or strategy can produce it.
#[derive(Clone, Debug)]
pub enum Op {
    Write {
        account: u8,
        batch: Vec<W>,
    },
    Supersede {
        account: u8,
        target: u16,
        replacement: Option<u16>,
        valid_to: Option<i16>,
    },
    DeleteTenant {
        account: u8,
        tenant: u8,
    },
    DeleteAccount {
        account: u8,
    },
    Advance(u16),
    Rewind(u16),
    Reopen,
    Check {
        account: u8,
        tenant: u8,
        instant: u16,
        instant2: u16,
        filter: u8,
        limit: u8,
    },
    Chain {
        account: u8,
        target: u16,
    },
}

#[derive(Clone, Debug, PartialEq)]
struct Version {
    start: i64,
    valid_to: Option<i64>,
    valid_to_set_at: Option<i64>,
    superseded_by: Option<MemoryId>,
    tx_end: Option<i64>,
}

#[derive(Clone, Debug)]
struct Row {
    id: MemoryId,
    account: usize,
    tenant: Option<String>,
    decision: String,
    source: String,
    channel: String,
    session: Option<String>,
    external: Option<String>,
    created: i64,
    valid_from: i64,
    versions: Vec<Version>,
    events: Vec<(EventKind, i64, String)>,
    deleted: bool,
}

impl Row {
    fn latest(&self) -> &Version {
        self.versions.last().expect("a row has a version")
    }

    fn at(&self, t: i64) -> Option<&Version> {
        self.versions.iter().rev().find(|v| v.start <= t)
    }

    fn fingerprint(&self) -> (String, String, String) {
        match &self.external {
            Some(ext) if self.source == "slack" => ("slack#".into(), ext.clone(), String::new()),
            _ => (
                self.source.clone(),
                self.channel.clone(),
                self.decision.trim().chars().take(100).collect(),
            ),
        }
    }
}

/// The model: every row ever written, the transaction clock.
#[derive(Default)]
pub struct Model {
    rows: Vec<Row>,
    last_tx: Option<i64>,
    /// The latest "now" the store told a reader: later writes are stamped after it.
    max_read: std::cell::Cell<Option<i64>>,
}

fn valid(vf: i64, vt: Option<i64>, t: i64) -> bool {
    vf <= t && vt.is_none_or(|e| e > t)
}

impl Model {
    /// The transaction time the next commit gets at this clock reading.
    fn next_tx(&self, clock: i64) -> i64 {
        [self.last_tx, self.max_read.get()]
            .into_iter()
            .flatten()
            .fold(clock, |t, floor| t.max(floor + 1))
    }

    fn tx(&mut self, clock: i64) -> i64 {
        let t = self.next_tx(clock);
        self.last_tx = Some(t);
        t
    }

    /// "Now" of a read (no write is ever in flight in the harness); remembered.
    fn read_now(&self, clock: i64) -> i64 {
        let now = self.last_tx.map_or(clock, |l| l.max(clock));
        self.max_read
            .set(Some(self.max_read.get().map_or(now, |m| m.max(now))));
        now
    }

    fn find(&self, id: MemoryId) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id && !r.deleted)
    }

    fn list(&self, account: usize, q: &ListQuery, now: i64) -> Vec<(MemoryId, Version)> {
        let mut out: Vec<(i64, MemoryId, Version)> = Vec::new();
        for r in self
            .rows
            .iter()
            .filter(|r| !r.deleted && r.account == account)
        {
            if (!q.all_tenants && r.tenant != q.tenant)
                || q.source.as_ref().is_some_and(|s| *s != r.source)
                || q.session_id.is_some() && q.session_id != r.session
            {
                continue;
            }
            let v = match q.mode.transaction_instant() {
                Some(t1) if r.created > t1.as_micros() => continue,
                Some(t1) => r.at(t1.as_micros()).expect("created before t1").clone(),
                None => r.latest().clone(),
            };
            let keep = match q.mode {
                ReadMode::Current => {
                    v.superseded_by.is_none() && valid(r.valid_from, v.valid_to, now)
                }
                ReadMode::History => true,
                ReadMode::AsOf(t) => valid(r.valid_from, v.valid_to, t.as_micros()),
                ReadMode::TransactionAsOf {
                    at,
                    include_superseded,
                } => {
                    include_superseded
                        || v.superseded_by.is_none()
                            && valid(r.valid_from, v.valid_to, at.as_micros())
                }
                ReadMode::Bitemporal { valid_at, .. } => {
                    valid(r.valid_from, v.valid_to, valid_at.as_micros())
                }
            };
            if keep {
                out.push((r.created, r.id, v));
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
        if let Some(c) = q.before {
            out.retain(|r| (r.0, r.1) < (c.created_at.as_micros(), c.id));
        }
        out.into_iter()
            .take(q.limit)
            .map(|(_, id, v)| (id, v))
            .collect()
    }

    fn timeline(&self, account: usize, id: MemoryId) -> Result<Vec<MemoryId>, &'static str> {
        let start = self.find(id).ok_or("not found")?;
        if start.account != account {
            return Err("forbidden");
        }
        let mut seen = HashSet::from([id]);
        let mut queue = VecDeque::from([(id, 0)]);
        while let Some((at, hops)) = queue.pop_front() {
            if hops == aurra::MAX_CHAIN_HOPS {
                continue;
            }
            let row = self.find(at).expect("visited rows exist");
            let mut next: Vec<MemoryId> = row.latest().superseded_by.into_iter().collect();
            next.extend(
                self.rows
                    .iter()
                    .filter(|r| !r.deleted && r.latest().superseded_by == Some(at))
                    .map(|r| r.id),
            );
            for n in next {
                if let Some(r) = self.find(n)
                    && r.account == account
                    && seen.insert(n)
                {
                    queue.push_back((n, hops + 1));
                }
            }
        }
        let mut rows: Vec<&Row> = seen.iter().map(|id| self.find(*id).unwrap()).collect();
        rows.sort_by_key(|r| (r.valid_from, r.created, r.id));
        Ok(rows.into_iter().map(|r| r.id).collect())
    }
}

/// A deterministic in-process embedder: every text gets a non-zero vector, so with it every
/// row of a scope is a semantic candidate.
#[derive(Debug)]
struct ByteEmbedder;

impl aurra::Embedder for ByteEmbedder {
    fn space(&self) -> &str {
        "model-test"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![1f32; 8];
                for (i, b) in t.bytes().enumerate() {
                    v[i % 8] += f32::from(b % 17);
                }
                v
            })
            .collect())
    }
}

/// Opens (and reopens) the store under test with the options given.
pub type Opener = Box<dyn Fn(StoreOptions) -> Store>;

/// Drives a real store (reopened on demand) and the model side by side.
pub struct Harness {
    store: Option<Store>,
    /// The store embeds every row (searches are hybrid).
    embeddings: bool,
    open: Opener,
    clock: ManualClock,
    model: Model,
}

fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidArgument(_) => "invalid",
        Error::NotFound(_) => "not found",
        Error::Forbidden(_) => "forbidden",
        Error::Conflict(_) => "conflict",
        other => panic!("unexpected store error: {other}"),
    }
}

impl Harness {
    /// A store with lexical search only.
    pub fn new() -> Self {
        Self::with_embeddings(false)
    }

    /// With `embeddings`, the store also embeds every row and searches are hybrid. On a
    /// redb file in a temporary directory.
    pub fn with_embeddings(embeddings: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.redb");
        Self::opening(
            embeddings,
            Box::new(move |options| {
                let _keep = &dir;
                Store::open_with(&path, options).expect("open store")
            }),
        )
    }

    /// A store that `open` opens (and reopens) with the options the harness chooses.
    pub fn opening(embeddings: bool, open: Opener) -> Self {
        let clock = ManualClock::new(Timestamp::from_micros(START));
        let store = Self::reopen(&open, &clock, embeddings);
        let model = Model::default();
        // The store stamps writes at or after the instant it was opened.
        model.max_read.set(Some(START - 1));
        Harness {
            store: Some(store),
            embeddings,
            open,
            clock,
            model,
        }
    }

    fn reopen(open: &Opener, clock: &ManualClock, embeddings: bool) -> Store {
        let mut options = StoreOptions::new().durable(false).clock(clock.clone());
        if embeddings {
            options = options.embedder(ByteEmbedder);
        }
        open(options)
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("store is open")
    }

    fn clock(&self) -> i64 {
        aurra::Clock::now(&self.clock).as_micros()
    }

    fn id_at(&self, index: u16) -> Option<MemoryId> {
        (!self.model.rows.is_empty())
            .then(|| self.model.rows[usize::from(index) % self.model.rows.len()].id)
    }

    /// Instants worth probing: every recorded time, one microsecond either side, and now.
    fn instant(&self, index: u16) -> i64 {
        let mut points = vec![self.clock(), START - SECOND];
        for r in &self.model.rows {
            points.extend([r.created, r.valid_from, r.created - 1, r.valid_from - 1]);
            for v in &r.versions {
                points.push(v.start);
                points.extend(v.valid_to);
                points.extend(v.valid_to.map(|x| x - 1));
            }
        }
        points[usize::from(index) % points.len()]
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Write { account, batch } => self.write(usize::from(*account) % 2, batch),
            Op::Supersede {
                account,
                target,
                replacement,
                valid_to,
            } => self.supersede(usize::from(*account) % 2, *target, *replacement, *valid_to),
            Op::DeleteTenant { account, tenant } => {
                let (a, t) = (usize::from(*account) % 2, TENANTS[usize::from(*tenant) % 3]);
                let n = self
                    .store()
                    .delete_tenant(ACCOUNTS[a], t)
                    .expect("delete tenant");
                let mut expected = 0;
                for r in self.model.rows.iter_mut() {
                    if !r.deleted && r.account == a && r.tenant.as_deref() == t {
                        r.deleted = true;
                        expected += 1;
                    }
                }
                assert_eq!(n, expected, "deleted count");
                let clock = self.clock();
                self.model.tx(clock);
            }
            Op::DeleteAccount { account } => {
                let a = usize::from(*account) % 2;
                let n = self
                    .store()
                    .delete_account(ACCOUNTS[a])
                    .expect("delete account");
                let mut expected = 0;
                for r in self
                    .model
                    .rows
                    .iter_mut()
                    .filter(|r| !r.deleted && r.account == a)
                {
                    r.deleted = true;
                    expected += 1;
                }
                assert_eq!(n, expected, "deleted count");
                let clock = self.clock();
                self.model.tx(clock);
            }
            Op::Advance(s) => self.clock.advance(i64::from(*s) * SECOND),
            Op::Rewind(s) => self.clock.advance(-i64::from(*s % 30) * SECOND),
            Op::Reopen => {
                drop(self.store.take());
                self.store = Some(Self::reopen(&self.open, &self.clock, self.embeddings));
                // A new handle stamps writes at or after the instant it was opened.
                self.model.max_read.set(Some(self.clock() - 1));
            }
            Op::Check {
                account,
                tenant,
                instant,
                instant2,
                filter,
                limit,
            } => self.check(
                usize::from(*account) % 2,
                *tenant,
                *instant,
                *instant2,
                *filter,
                *limit,
            ),
            Op::Chain { account, target } => self.chain(usize::from(*account) % 2, *target),
        }
    }

    fn write(&mut self, account: usize, batch: &[W]) {
        let clock = self.clock();
        let items: Vec<NewMemory> = batch
            .iter()
            .map(|w| {
                let mut m = NewMemory::new(TEXTS[usize::from(w.text) % TEXTS.len()])
                    .with_source(SOURCES[usize::from(w.source) % SOURCES.len()]);
                if let Some(t) = TENANTS[usize::from(w.tenant) % 3] {
                    m = m.with_tenant(t);
                }
                if let Some(s) = w.session {
                    m = m.with_session(SESSIONS[usize::from(s) % 2]);
                }
                if let Some(off) = w.valid_from {
                    m = m.with_valid_from(Timestamp::from_micros(clock + i64::from(off) * SECOND));
                }
                if let Some(e) = w.external {
                    m = m.with_external_id(format!("ts-{}", e % 4));
                }
                m
            })
            .collect();
        let outcomes = self
            .store()
            .write_batch(ACCOUNTS[account], items.clone())
            .expect("write");
        let now = self.model.tx(clock);
        assert_eq!(outcomes.len(), items.len());
        for (m, outcome) in items.into_iter().zip(outcomes) {
            let candidate = Row {
                id: MemoryId::from_u128(0),
                account,
                tenant: m.tenant.clone(),
                decision: m.decision.clone(),
                source: m.source.clone(),
                channel: m.source.clone(),
                session: m.session_id.clone(),
                external: m.external_id.clone(),
                created: now,
                valid_from: m.valid_from.map_or(now, |t| t.as_micros()),
                versions: vec![Version {
                    start: now,
                    valid_to: None,
                    valid_to_set_at: None,
                    superseded_by: None,
                    tx_end: None,
                }],
                events: vec![
                    (EventKind::Created, now, aurra::EXTRACTOR_ACTOR.to_owned()),
                    (EventKind::MemoryCreated, now, ACCOUNTS[account].to_owned()),
                ],
                deleted: false,
            };
            let live_twin = self.model.rows.iter().find(|r| {
                !r.deleted
                    && r.account == account
                    && r.tenant == candidate.tenant
                    && r.fingerprint() == candidate.fingerprint()
                    && r.latest().superseded_by.is_none()
                    && r.latest().valid_to.is_none_or(|e| e > now)
            });
            match (outcome, live_twin) {
                (WriteOutcome::Duplicate { existing }, Some(twin)) => {
                    assert_eq!(existing, twin.id, "duplicate of the live twin")
                }
                (WriteOutcome::Saved(saved), None) => {
                    assert_eq!(saved.created_at.as_micros(), now, "transaction time");
                    assert_eq!(saved.valid_from.as_micros(), candidate.valid_from);
                    self.model.rows.push(Row {
                        id: saved.id,
                        ..candidate
                    });
                }
                (outcome, twin) => panic!(
                    "duplicate suppression disagrees: store {outcome:?}, model twin {:?}",
                    twin.map(|t| t.id)
                ),
            }
        }
    }

    fn supersede(
        &mut self,
        account: usize,
        target: u16,
        replacement: Option<u16>,
        valid_to: Option<i16>,
    ) {
        let Some(id) = self.id_at(target) else { return };
        let clock = self.clock();
        let request = Supersede {
            superseded_by: replacement.and_then(|r| self.id_at(r)),
            valid_to: valid_to.map(|s| Timestamp::from_micros(clock + i64::from(s) * SECOND)),
        };
        let got = self
            .store()
            .supersede(ACCOUNTS[account], id, request.clone(), "tester");
        let expected = self.model_supersede(account, id, &request, clock);
        match (got, expected) {
            (Ok(out), Ok(changed)) => assert_eq!(out.changed, changed, "changed flag"),
            (Err(e), Err(kind)) => assert_eq!(error_kind(&e), kind, "{e}"),
            (got, expected) => panic!("supersede disagrees: store {got:?}, model {expected:?}"),
        }
    }

    fn model_supersede(
        &mut self,
        account: usize,
        id: MemoryId,
        req: &Supersede,
        clock: i64,
    ) -> Result<bool, &'static str> {
        if req.superseded_by.is_none() && req.valid_to.is_none() {
            return Err("invalid");
        }
        // An unknown or foreign target first, then the rules of the request.
        let target = self.model.find(id).ok_or("not found")?;
        if target.account != account {
            return Err("forbidden");
        }
        if req.superseded_by == Some(id) {
            return Err("conflict");
        }
        if let Some(rep) = req.superseded_by {
            let r = self.model.find(rep).ok_or("not found")?;
            if r.account != account {
                return Err("forbidden");
            }
            let mut seen = HashSet::new();
            let mut step = Some(rep);
            while let Some(s) = step {
                if s == id {
                    return Err("conflict");
                }
                let Some(row) = self.model.find(s) else { break };
                if !seen.insert(s) {
                    break;
                }
                step = row.latest().superseded_by;
            }
        }
        let cur = target.latest().clone();
        let vf = target.valid_from;
        if let (Some(a), Some(b)) = (cur.superseded_by, req.superseded_by)
            && a != b
        {
            return Err("conflict");
        }
        // An end before the start is stored as the start (an empty interval).
        let requested = req.valid_to.map(|t| t.as_micros().max(vf));
        if let (Some(a), Some(b)) = (cur.valid_to, requested)
            && a != b
        {
            return Err("conflict");
        }
        // The transaction time the store will use; consumed only on success.
        let now = self.model.next_tx(clock);
        let sup = cur.superseded_by.or(req.superseded_by);
        let vt = cur.valid_to.or(requested).unwrap_or(now.max(vf));
        self.model.tx(clock);
        let next = Version {
            start: now,
            valid_to: Some(vt),
            valid_to_set_at: cur.valid_to_set_at.or(Some(now)),
            superseded_by: sup,
            tx_end: cur.tx_end.or(sup.map(|_| now)),
        };
        let changed = Version {
            start: cur.start,
            ..next.clone()
        } != cur;
        if changed {
            let row = self
                .model
                .rows
                .iter_mut()
                .find(|r| r.id == id && !r.deleted)
                .unwrap();
            let kind = if sup.is_some() {
                EventKind::MemorySuperseded
            } else {
                EventKind::MemoryExpired
            };
            row.events.push((kind, now, "tester".to_owned()));
            row.versions.push(next);
        }
        Ok(changed)
    }

    fn check(
        &self,
        account: usize,
        tenant: u8,
        instant: u16,
        instant2: u16,
        filter: u8,
        limit: u8,
    ) {
        let now = self.model.read_now(self.clock());
        assert_eq!(self.store().now().unwrap().as_micros(), now, "read time");
        let (t1, t2) = (
            Timestamp::from_micros(self.instant(instant)),
            Timestamp::from_micros(self.instant(instant2)),
        );
        let modes = every_mode(t1, t2);
        for mode in modes {
            let mut q = ListQuery::new()
                .mode(mode)
                .limit(if limit.is_multiple_of(4) {
                    100
                } else {
                    usize::from(limit % 4)
                });
            if let Some(t) = TENANTS[usize::from(tenant) % 3] {
                q = q.tenant(t);
            }
            if filter & 64 == 64 {
                q = q.all_tenants();
            }
            if filter & 1 == 1 {
                q = q.source(SOURCES[usize::from(filter >> 2) % 3]);
            }
            if filter & 2 == 2 {
                q = q.session(SESSIONS[usize::from(filter >> 4) % 2]);
            }
            let got = self.store().list(ACCOUNTS[account], &q).expect("list");
            let expected = self.model.list(account, &q, now);
            let render = |m: &Memory| {
                (
                    m.id,
                    m.valid_to.map(|t| t.as_micros()),
                    m.superseded_by,
                    m.transaction_time_end.map(|t| t.as_micros()),
                )
            };
            let got: Vec<_> = got.memories.iter().map(render).collect();
            let expected: Vec<_> = expected
                .iter()
                .map(|(id, v)| (*id, v.valid_to, v.superseded_by, v.tx_end))
                .collect();
            assert_eq!(got, expected, "list {q:?} at now={now}");
            self.check_paging(account, &q, now);
            if q.session_id.is_none() {
                self.check_search(
                    account,
                    &q,
                    now,
                    QUERIES[usize::from(instant) % QUERIES.len()],
                );
            }
        }
    }

    /// Following `next` from the first page of `q` visits every row the mode selects, once
    /// each, in list order, and each page is the model's page after the same cursor.
    fn check_paging(&self, account: usize, q: &ListQuery, now: i64) {
        let all: Vec<MemoryId> = self
            .model
            .list(account, &q.clone().limit(usize::MAX), now)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut seen = Vec::new();
        let mut page = q.clone();
        // Bounded: each page is non-empty or the last, so at most all.len() + 1 pages.
        for _ in 0..=all.len() {
            let got = self
                .store()
                .list(ACCOUNTS[account], &page)
                .expect("list page");
            let expected: Vec<MemoryId> = self
                .model
                .list(account, &page, now)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let ids: Vec<MemoryId> = got.memories.iter().map(|m| m.id).collect();
            assert_eq!(ids, expected, "page {page:?} at now={now}");
            seen.extend(ids);
            match got.next {
                Some(cursor) => page = page.before(cursor),
                None => break,
            }
        }
        assert_eq!(seen, all, "pages of {q:?} at now={now}");
    }

    /// A search returns only rows a list with the same scope, mode and source filter returns,
    /// and every such row that contains a query word (others may join as session neighbours
    /// of a match); hits are best first. With embeddings every row is a candidate, so a
    /// search returns exactly the rows the list returns.
    fn check_search(&self, account: usize, q: &ListQuery, now: i64, words: &str) {
        let mut search = SearchQuery::new(words).mode(q.mode).limit(1000);
        search.tenant = q.tenant.clone();
        search.all_tenants = q.all_tenants;
        search.sources = q.source.clone().map(|s| vec![s]);
        let got = self
            .store()
            .search(ACCOUNTS[account], &search)
            .expect("search");
        for pair in got.hits.windows(2) {
            assert!(pair[0].score >= pair[1].score, "ranked best first");
            assert!(
                pair[0].similarity >= pair[1].similarity,
                "similarity follows rank"
            );
        }
        assert!(got.hits.iter().all(|h| (0.0..=1.0).contains(&h.similarity)));
        let wanted: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
        let mut everything = q.clone();
        everything.limit = usize::MAX;
        let listed: Vec<MemoryId> = self
            .model
            .list(account, &everything, now)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let matching = listed.iter().filter(|id| {
            let row = self.model.find(**id).expect("listed row exists");
            row.decision
                .split_whitespace()
                .any(|w| wanted.contains(&w.to_lowercase()))
        });
        let expected_type = if self.embeddings {
            aurra::SearchType::Hybrid
        } else {
            aurra::SearchType::Keyword
        };
        assert_eq!(got.search_type, expected_type);
        let got: Vec<MemoryId> = got.hits.iter().map(|h| h.memory.id).collect();
        if self.embeddings {
            let mut sorted = got.clone();
            sorted.sort();
            let mut all = listed.clone();
            all.sort();
            assert_eq!(sorted, all, "hybrid search {words:?} in {q:?} = list");
        }
        for id in &got {
            assert!(
                listed.contains(id),
                "search {words:?} in {q:?}: {id} is out of scope"
            );
        }
        for id in matching {
            assert!(
                got.contains(id),
                "search {words:?} in {q:?}: {id} matches but is missing"
            );
        }
    }

    fn chain(&self, account: usize, target: u16) {
        let Some(id) = self.id_at(target) else { return };
        let got = self.store().timeline(ACCOUNTS[account], id);
        if got.is_ok() {
            self.model.read_now(self.clock());
        }
        match (got, self.model.timeline(account, id)) {
            (Ok(t), Ok(ids)) => {
                assert_eq!(
                    t.versions.iter().map(|m| m.id).collect::<Vec<_>>(),
                    ids,
                    "timeline"
                )
            }
            (Err(e), Err(kind)) => assert_eq!(error_kind(&e), kind),
            (got, exp) => panic!("timeline disagrees: {got:?} vs {exp:?}"),
        }
        let audit = self.store().audit(ACCOUNTS[account], id);
        match (audit, self.model.find(id)) {
            (Ok((m, events)), Some(row)) => {
                assert_eq!(row.account, account);
                assert_eq!(m.id, id);
                let got: Vec<_> = events
                    .iter()
                    .map(|e| (e.kind, e.at.as_micros(), e.by.clone()))
                    .collect();
                assert_eq!(got, row.events, "audit log");
            }
            (Err(Error::Forbidden(_)), Some(row)) => assert_ne!(row.account, account),
            (Err(Error::NotFound(_)), None) => {}
            (got, row) => panic!("audit disagrees: {got:?} vs row present {}", row.is_some()),
        }
    }

    /// Moves the store to the one `open` opens (fresh, usually of another backend): exports
    /// the whole store, imports the file there, checks that both stores answer a grid of
    /// reads identically (lists and searches in every mode at probed instants, for every
    /// tenant scope; every row's timeline and audit), and goes on with the new store.
    pub fn move_to(&mut self, open: Opener) {
        // The store stamps writes after readings it handed out: the clock passes them first.
        let (clock, last) = (self.clock(), self.model.last_tx.unwrap_or(START));
        self.clock.advance(last.max(clock) - clock + SECOND);
        let mut file = Vec::new();
        self.store()
            .export(&aurra::ExportScope::default(), &mut |record| {
                serde_json::to_writer(&mut file, &record).expect("serialise");
                file.push(b'\n');
                Ok(())
            })
            .expect("export");
        let target = Self::reopen(&open, &self.clock, self.embeddings);
        // As after a reopen: the new store knows nothing of the reads the old one handed out
        // (which a clock stepped back can leave ahead of the clock); it stamps writes at or
        // after the instant it was opened.
        self.model.max_read.set(Some(self.clock() - 1));
        let report = target
            .import(&mut file.as_slice(), &mut |_| {})
            .expect("import");
        let live = self.model.rows.iter().filter(|r| !r.deleted).count();
        assert_eq!(report.memories, live as u64, "every row moves");
        // The import's own transactions were stamped (a microsecond apart from the clock's
        // reading, as any commits): later stamps follow the last of them. An import that
        // wrote nothing (an empty store's export) committed nothing: the new store has no
        // stamp yet, and its "now" is the clock's.
        let clock = self.clock();
        let stamped = target.now().expect("now").as_micros();
        assert!(
            (clock..clock + 1000).contains(&stamped),
            "the import's commits are stamped at the clock: {stamped} vs {clock}"
        );
        let committed = report.memories + report.accounts + report.api_keys > 0 || report.operator;
        self.model.last_tx = committed.then_some(stamped);
        // Both stores read at the same instant, after every commit of either.
        self.clock.advance(SECOND);
        let (before, after) = (self.reads(self.store()), self.reads(&target));
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b, a, "the moved store reads differently");
        }
        self.store = Some(target);
        self.open = open;
    }

    /// A grid of reads, rendered.
    fn reads(&self, store: &Store) -> Vec<String> {
        let instants: Vec<i64> = (0..8u16).map(|i| self.instant(i * 5 + 1)).collect();
        let mut out = Vec::new();
        for account in ACCOUNTS {
            for scope in 0..4 {
                let base = match TENANTS.get(scope) {
                    Some(Some(t)) => ListQuery::new().tenant(*t),
                    Some(None) => ListQuery::new(),
                    None => ListQuery::new().all_tenants(),
                };
                for (k, &t) in instants.iter().enumerate() {
                    let t1 = Timestamp::from_micros(t);
                    let t2 = Timestamp::from_micros(instants[(k + 3) % instants.len()]);
                    for mode in every_mode(t1, t2) {
                        let q = base.clone().mode(mode).limit(100);
                        out.push(format!("{:?}", store.list(account, &q)));
                        let words = QUERIES[k % QUERIES.len()];
                        let mut s = SearchQuery::new(words).mode(mode).limit(100);
                        s.tenant = q.tenant.clone();
                        s.all_tenants = q.all_tenants;
                        out.push(format!("{:?}", store.search(account, &s)));
                    }
                }
            }
            for r in self.model.rows.iter().filter(|r| !r.deleted) {
                out.push(format!("{:?}", store.timeline(account, r.id)));
                out.push(format!("{:?}", store.audit(account, r.id)));
            }
        }
        out
    }

    /// Every row's timeline and audit log against the model's.
    pub fn check_histories(&self) {
        for account in 0..2 {
            for index in 0..self.model.rows.len() {
                self.chain(account, index as u16);
            }
        }
    }

    /// Final full comparison: every account, tenant and mode at every probed instant.
    pub fn check_everything(&self) {
        for account in 0..2u8 {
            for tenant in 0..3u8 {
                for instant in 0..8u16 {
                    self.check(usize::from(account), tenant, instant * 7, instant * 3, 0, 0);
                    self.check(
                        usize::from(account),
                        tenant,
                        instant * 7,
                        instant * 3,
                        64,
                        0,
                    );
                }
            }
        }
    }
}

/// Decodes operations from arbitrary bytes (for the fuzz target).
pub fn ops_from_bytes(mut data: &[u8]) -> Vec<Op> {
    fn byte(data: &mut &[u8]) -> Option<u8> {
        let (&b, rest) = data.split_first()?;
        *data = rest;
        Some(b)
    }
    fn word(data: &mut &[u8]) -> Option<u16> {
        Some(u16::from(byte(data)?) << 8 | u16::from(byte(data)?))
    }
    fn opt<T>(data: &mut &[u8], f: impl FnOnce(&mut &[u8]) -> Option<T>) -> Option<Option<T>> {
        let flag = byte(data)?;
        if flag & 1 == 1 {
            f(data).map(Some)
        } else {
            Some(None)
        }
    }
    let mut ops = Vec::new();
    let next = |data: &mut &[u8]| -> Option<Op> {
        Some(match byte(data)? % 10 {
            0 | 1 => {
                let account = byte(data)?;
                let n = byte(data)? % 3 + 1;
                let mut batch = Vec::new();
                for _ in 0..n {
                    batch.push(W {
                        tenant: byte(data)?,
                        text: byte(data)?,
                        source: byte(data)?,
                        session: opt(data, byte)?,
                        valid_from: opt(data, |d| word(d).map(|w| w as i16 / 256))?,
                        external: opt(data, byte)?,
                    });
                }
                Op::Write { account, batch }
            }
            2 => Op::Supersede {
                account: byte(data)?,
                target: word(data)?,
                replacement: opt(data, word)?,
                valid_to: opt(data, |d| word(d).map(|w| w as i16 / 256))?,
            },
            3 => Op::DeleteTenant {
                account: byte(data)?,
                tenant: byte(data)?,
            },
            4 => Op::DeleteAccount {
                account: byte(data)?,
            },
            5 => Op::Advance(word(data)? % 3600),
            6 => Op::Rewind(word(data)?),
            7 => Op::Reopen,
            8 => Op::Check {
                account: byte(data)?,
                tenant: byte(data)?,
                instant: word(data)?,
                instant2: word(data)?,
                filter: byte(data)?,
                limit: byte(data)?,
            },
            _ => Op::Chain {
                account: byte(data)?,
                target: word(data)?,
            },
        })
    };
    while ops.len() < 64 {
        match next(&mut data) {
            Some(op) => ops.push(op),
            None => break,
        }
    }
    ops
}

/// Every read mode, at `t1` (and valid at `t2` for the bitemporal one).
fn every_mode(t1: Timestamp, t2: Timestamp) -> [ReadMode; 6] {
    [
        ReadMode::Current,
        ReadMode::History,
        ReadMode::AsOf(t1),
        ReadMode::TransactionAsOf {
            at: t1,
            include_superseded: false,
        },
        ReadMode::TransactionAsOf {
            at: t1,
            include_superseded: true,
        },
        ReadMode::Bitemporal {
            valid_at: t2,
            transaction_at: t1,
        },
    ]
}
