//! Import: an export (see `crate::export`) loaded into this store with its ids, transaction
//! times, versions, audit events and vectors exactly as they were, in batches of
//! 2 048 memories per transaction.
//!
//! The rules that make it safe to rerun and to trust:
//! - A memory whose id is here already is compared with the file: the same content (an
//!   earlier, interrupted run wrote it) is left as it is; different content is refused,
//!   naming the line.
//! - A tenant is appended to: a new memory must be newer (`created_at`, then id) than every
//!   memory its tenant holds here. Transaction time only increases in a store, and every
//!   index that orders rows relies on it.
//! - No imported transaction time may be after this store's clock: a store never believed
//!   anything in its future.
//! - Derived indexes (lexical, duplicates, interval trees, vector codes) are rebuilt by the
//!   same inserts a write makes; nothing counts as a write request in the account's usage.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::sync::Arc;

use super::Store;
use super::accounts::validate_account_id;
use super::export::exported_memory;
use super::write::{no_nul, validate_account, validate_source, validate_tenant};
use crate::account::{Account, AccountPlan, ApiKey, OperatorCredential, Usage};
use crate::backend::{ImportedRow, Listing, NewRow, Read, Scope, Tenants, Version, Write};
use crate::error::{Error, Result};
use crate::export::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ExportHeader, ExportRecord, ExportTotals,
    ExportedAccount, ExportedKey, ExportedMemory, ExportedOperator,
};
use crate::model::{AuditEvent, EventDetails, MemoryId, ReadMode, WriteShape};
use crate::time::Timestamp;

/// Memories per transaction.
const BATCH: usize = 2048;

/// Accounts, keys and the operator credential per transaction.
const GLOBAL_BATCH: usize = 512;

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read.
    pub lines: u64,
    /// Memories written.
    pub memories: u64,
    /// Memories that were here already with the same content (an earlier run's), left alone.
    pub memories_present: u64,
    /// Audit events written.
    pub events: u64,
    /// Vectors written.
    pub vectors: u64,
    /// Accounts written.
    pub accounts: u64,
    /// API keys written.
    pub api_keys: u64,
    /// Accounts, keys and operator credentials that were here already, the same.
    pub records_present: u64,
    /// Whether the operator credential was written.
    pub operator: bool,
}

impl Store {
    /// Loads an export (JSON Lines, as [`Store::export`] writes it) from `input`, calling
    /// `progress` after each batch. Idempotent: rerunning the same file after an
    /// interruption writes what is missing and nothing twice.
    ///
    /// Refuses, with [`Error::InvalidArgument`] or [`Error::Conflict`] naming the line: a file
    /// that is not an export or of a newer format version, a malformed or inconsistent
    /// record, an id or account that exists here with different content, a memory older
    /// than its tenant's newest here, a transaction time after this store's clock, and a
    /// file that ends before its end record (after writing what it holds, so that a rerun
    /// with the complete file finishes the job). Each batch commits whole or not at all.
    pub fn import(
        &self,
        input: &mut dyn BufRead,
        progress: &mut dyn FnMut(&ImportReport),
    ) -> Result<ImportReport> {
        let mut line = String::new();
        let mut number = 0u64;
        let header = loop {
            line.clear();
            if input.read_line(&mut line).map_err(io_error)? == 0 {
                return Err(Error::InvalidArgument(
                    "the input is empty: an export starts with its header line".into(),
                ));
            }
            number += 1;
            if !line.trim().is_empty() {
                break read_header(number, line.trim_end())?;
            }
        };
        // Two stages: this thread reads, parses and checks the lines and derives each row's
        // index entries; a second one writes the batches, one at a time, while the next is
        // read. At most one batch waits between them: memory stays flat.
        std::thread::scope(|s| {
            let (batches, to_write) = std::sync::mpsc::sync_channel::<Batch>(1);
            let (written, reports) = std::sync::mpsc::channel::<Result<(ImportReport, Spent)>>();
            let writer = s.spawn(move || {
                let mut writer = Writer {
                    store: self,
                    report: ImportReport::default(),
                    newest: HashMap::new(),
                };
                for batch in to_write {
                    let done = writer.write(batch).map(|spent| (writer.report, spent));
                    let failed = done.is_err();
                    if written.send(done).is_err() || failed {
                        break;
                    }
                }
            });
            let mut reader = Reader {
                store: self,
                header,
                seen: ExportTotals::default(),
                memories: Vec::new(),
                globals: Vec::new(),
                batches: Some(batches),
                reports,
                report: ImportReport::default(),
                lines: number,
            };
            let read = reader.read(input, progress);
            // Every batch sent is written (or the first failure ends the writing) before the
            // outcome is known: what was read before a bad line commits, as batch by batch.
            reader.batches = None;
            let wrote = reader.drain(progress);
            writer
                .join()
                .map_err(|_| Error::Corrupted("the import's writer thread panicked".into()))?;
            // A failed batch holds earlier lines than anything the reader refused.
            wrote?;
            let ended = read?;
            let mut report = reader.report;
            report.lines = reader.lines;
            if report.memories > 0 {
                self.inner.backend.after_bulk_load()?;
            }
            if !ended {
                return Err(Error::InvalidArgument(format!(
                    "the file ends after line {} without its end record: it was cut short \
                     ({} memories written so far; rerun with the complete file to finish)",
                    reader.lines, report.memories
                )));
            }
            Ok(report)
        })
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::InvalidArgument(format!("reading the import: {e}"))
}

/// An error about line `n` of the input.
fn at(n: u64, message: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("line {n}: {message}"))
}

fn conflict(n: u64, message: impl std::fmt::Display) -> Error {
    Error::Conflict(format!("line {n}: {message}"))
}

/// The header, checked for its format before it is read as this version's record.
fn read_header(n: u64, text: &str) -> Result<ExportHeader> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| at(n, format!("not JSON: {e}")))?;
    let field = |name: &str| value.get(name).cloned().unwrap_or(serde_json::Value::Null);
    if field("type") != "header" || field("format") != EXPORT_FORMAT {
        return Err(at(
            n,
            "not an aurra export: its first record is the header {\"type\":\"header\",\
             \"format\":\"aurra-export\",...} (plain facts load with --facts)",
        ));
    }
    match field("format_version").as_u64() {
        Some(v) if v > u64::from(EXPORT_FORMAT_VERSION) => {
            return Err(at(
                n,
                format!(
                    "export format version {v} is newer than this aurra reads (up to \
                     {EXPORT_FORMAT_VERSION}): import it with the aurra that wrote it ({}) or \
                     a newer one",
                    field("aurra_version").as_str().unwrap_or("unknown")
                ),
            ));
        }
        Some(_) => {}
        None => return Err(at(n, "the header has no format_version")),
    }
    match serde_json::from_value(value) {
        Ok(ExportRecord::Header(header)) => Ok(header),
        Ok(_) => Err(at(n, "not a header record")),
        Err(e) => Err(at(n, format!("a malformed header: {e}"))),
    }
}

/// Where a row sorts in its tenant: `(created_at, id)`.
type Position = (Timestamp, MemoryId);

/// What the reader hands the writer: one transaction's records, each with its line.
enum Batch {
    /// Memories, all of one account, each with the row a write would store for it.
    Memories(Vec<(u64, ExportedMemory, ImportedRow)>),
    /// Accounts, keys and the operator credential.
    Globals(Vec<(u64, ExportRecord)>),
}

/// What a written batch leaves: the writer hands it back, so that the reader, which waits
/// for the writer anyway, frees its thousands of strings.
type Spent = Option<Written>;

/// A written batch's memories (with their lines) and rows.
type Written = (Vec<(u64, ExportedMemory)>, Vec<ImportedRow>);

/// The first stage: reads and checks the lines, and batches them.
struct Reader<'s> {
    store: &'s Store,
    header: ExportHeader,
    /// What the file held so far (compared with its end record).
    seen: ExportTotals,
    /// Memories waiting for their transaction (all of one account), with their lines.
    memories: Vec<(u64, ExportedMemory, ImportedRow)>,
    /// Accounts, keys and the operator credential waiting for theirs.
    globals: Vec<(u64, ExportRecord)>,
    /// To the writer (`None` once closed).
    batches: Option<std::sync::mpsc::SyncSender<Batch>>,
    /// From the writer: its report after each batch with what the batch left, or the
    /// failure that ended it.
    reports: std::sync::mpsc::Receiver<Result<(ImportReport, Spent)>>,
    /// The writer's latest report.
    report: ImportReport,
    /// Lines read.
    lines: u64,
}

impl Reader<'_> {
    /// Reads the records after the header; whether the end record came.
    fn read(
        &mut self,
        input: &mut dyn BufRead,
        progress: &mut dyn FnMut(&ImportReport),
    ) -> Result<bool> {
        let mut line = String::new();
        let mut ended = None;
        loop {
            line.clear();
            if input.read_line(&mut line).map_err(io_error)? == 0 {
                break;
            }
            self.lines += 1;
            let number = self.lines;
            let text = line.trim_end();
            if text.trim().is_empty() {
                continue;
            }
            if let Some(end) = ended {
                return Err(at(
                    number,
                    format!("a record after the end record (line {end})"),
                ));
            }
            let record: ExportRecord = serde_json::from_str(text)
                .map_err(|e| at(number, format!("not an export record: {e}")))?;
            match record {
                ExportRecord::Header(_) => {
                    return Err(at(number, "a second header: one export per file"));
                }
                ExportRecord::End(totals) => {
                    self.flush(progress)?;
                    if totals != self.seen {
                        return Err(at(
                            number,
                            format!(
                                "the end record counts {totals:?}, the file holds {:?}: it was \
                                 altered",
                                self.seen
                            ),
                        ));
                    }
                    ended = Some(number);
                }
                ExportRecord::Memory(memory) => self.memory(number, *memory, progress)?,
                global => self.global(number, global, progress)?,
            }
        }
        self.flush(progress)?;
        Ok(ended.is_some())
    }

    /// Hands the waiting records to the writer (accounts and keys first, as they came
    /// before the memories in the file).
    fn flush(&mut self, progress: &mut dyn FnMut(&ImportReport)) -> Result<()> {
        if !self.globals.is_empty() {
            let batch = Batch::Globals(std::mem::take(&mut self.globals));
            self.send(batch, progress)?;
        }
        if !self.memories.is_empty() {
            let batch = Batch::Memories(std::mem::take(&mut self.memories));
            self.send(batch, progress)?;
        }
        Ok(())
    }

    /// Sends `batch`, waiting while one batch waits already; reports what was written
    /// meanwhile.
    fn send(&mut self, batch: Batch, progress: &mut dyn FnMut(&ImportReport)) -> Result<()> {
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).is_ok(),
            None => false,
        };
        while let Ok(done) = self.reports.try_recv() {
            self.written(done?, progress);
        }
        if sent {
            Ok(())
        } else {
            // The writer stopped: its failure is the outcome (see `drain`).
            Err(Error::InvalidArgument("the import's writer stopped".into()))
        }
    }

    /// Waits for the writer to finish (the sender closed), reporting each batch; the
    /// writer's failure, if it had one.
    fn drain(&mut self, progress: &mut dyn FnMut(&ImportReport)) -> Result<()> {
        while let Ok(done) = self.reports.recv() {
            self.written(done?, progress);
        }
        Ok(())
    }

    /// Notes a written batch (and frees what it left: here, off the writer's path).
    fn written(
        &mut self,
        (report, _spent): (ImportReport, Spent),
        progress: &mut dyn FnMut(&ImportReport),
    ) {
        self.report = report;
        self.report.lines = self.lines;
        progress(&self.report);
    }

    fn global(
        &mut self,
        n: u64,
        record: ExportRecord,
        progress: &mut dyn FnMut(&ImportReport),
    ) -> Result<()> {
        if !self.header.whole_store {
            return Err(at(
                n,
                "accounts, keys and the operator credential belong to a whole-store export, \
                 and the header says this one is not",
            ));
        }
        match &record {
            ExportRecord::Account(_) => self.seen.accounts += 1,
            ExportRecord::ApiKey(_) => self.seen.api_keys += 1,
            _ => {}
        }
        self.globals.push((n, record));
        if self.globals.len() >= GLOBAL_BATCH {
            self.flush(progress)?;
        }
        Ok(())
    }

    fn memory(
        &mut self,
        n: u64,
        memory: ExportedMemory,
        progress: &mut dyn FnMut(&ImportReport),
    ) -> Result<()> {
        validate_memory(n, &memory, &self.header)?;
        self.seen.memories += 1;
        self.seen.events += memory.events.len() as u64;
        self.seen.vectors += u64::from(memory.vector.is_some());
        if self
            .memories
            .first()
            .is_some_and(|(_, m, _)| m.account != memory.account)
        {
            self.flush(progress)?;
        }
        let row = imported_row(self.store, n, &memory)?;
        self.memories.push((n, memory, row));
        if self.memories.len() >= BATCH {
            self.flush(progress)?;
        }
        Ok(())
    }
}

/// The second stage: writes the batches.
struct Writer<'s> {
    store: &'s Store,
    report: ImportReport,
    /// Per tenant, the newest `(created_at, id)` here (`None`: the tenant is empty).
    newest: HashMap<(String, Option<String>), Option<Position>>,
}

impl Writer<'_> {
    fn write(&mut self, batch: Batch) -> Result<Spent> {
        match batch {
            Batch::Globals(batch) => self.write_globals(batch).map(|()| None),
            Batch::Memories(batch) => self.write_memories(batch).map(Some),
        }
    }

    fn write_globals(&mut self, batch: Vec<(u64, ExportRecord)>) -> Result<()> {
        let accounts: Vec<&str> = batch
            .iter()
            .filter_map(|(_, r)| match r {
                ExportRecord::Account(a) => Some(a.id.as_str()),
                _ => None,
            })
            .collect();
        let (written, present) = self.store.transact(&accounts, |w| {
            let mut written = ImportReport::default();
            let mut present = 0;
            for (n, record) in &batch {
                let new = match record {
                    ExportRecord::Operator(o) => put_operator(w, *n, o)?,
                    ExportRecord::Account(a) => put_account(w, *n, a)?,
                    ExportRecord::ApiKey(k) => put_key(w, *n, k)?,
                    _ => unreachable!("only global records are batched here"),
                };
                if !new {
                    present += 1;
                    continue;
                }
                match record {
                    ExportRecord::Operator(_) => written.operator = true,
                    ExportRecord::Account(_) => written.accounts += 1,
                    _ => written.api_keys += 1,
                }
            }
            Ok((written, present))
        })?;
        self.report.operator |= written.operator;
        self.report.accounts += written.accounts;
        self.report.api_keys += written.api_keys;
        self.report.records_present += present;
        Ok(())
    }

    fn write_memories(
        &mut self,
        batch: Vec<(u64, ExportedMemory, ImportedRow)>,
    ) -> Result<Written> {
        let account = batch[0].1.account.clone();
        let ids: Vec<MemoryId> = batch.iter().map(|(_, m, _)| m.id).collect();
        let owners: HashMap<MemoryId, String> =
            self.store.read(None)?.owners(&ids)?.into_iter().collect();
        let mut fresh: Vec<(u64, ExportedMemory)> = Vec::with_capacity(batch.len());
        let mut rows: Vec<ImportedRow> = Vec::with_capacity(batch.len());
        {
            // Dropped before the write: on PostgreSQL it holds the account's shared lock.
            let snapshot = self.store.read(Some(&account))?;
            for (n, m, row) in batch {
                match owners.get(&m.id) {
                    Some(owner) if *owner != account => {
                        return Err(conflict(
                            n,
                            format!(
                                "memory {} is in another account of this store; ids are \
                                 unique in a store",
                                m.id
                            ),
                        ));
                    }
                    Some(_) => {
                        let here = exported_memory(snapshot.as_ref(), &account, m.id)?.ok_or_else(
                            || conflict(n, format!("memory {} vanished while importing", m.id)),
                        )?;
                        if let Some(field) = difference(&m, &here) {
                            return Err(conflict(
                                n,
                                format!(
                                    "memory {} is in this store already with a different \
                                     {field}: this file does not match what is here",
                                    m.id
                                ),
                            ));
                        }
                        self.report.memories_present += 1;
                    }
                    None => {
                        let key = (account.clone(), m.tenant.clone());
                        let newest = match self.newest.get(&key) {
                            Some(newest) => *newest,
                            None => newest_row(snapshot.as_ref(), &account, m.tenant.as_deref())?,
                        };
                        if let Some((created, id)) = newest
                            && (m.created_at, m.id) <= (created, id)
                        {
                            return Err(conflict(
                                n,
                                format!(
                                    "memory {} (written at {}) is older than memory {id} \
                                     (written at {created}) of {} here: an import appends to \
                                     a tenant, so import into a store or tenant without newer \
                                     memories",
                                    m.id,
                                    m.created_at,
                                    describe_tenant(m.tenant.as_deref()),
                                ),
                            ));
                        }
                        self.newest.insert(key, Some((m.created_at, m.id)));
                        rows.push(row);
                        fresh.push((n, m));
                    }
                }
            }
        }
        if fresh.is_empty() {
            return Ok((fresh, rows));
        }
        self.store.transact(&[&account], |w| {
            let now = w.now()?;
            for (n, m) in &fresh {
                let latest = transaction_times(m).max().expect("created_at");
                if latest > now {
                    return Err(at(
                        *n,
                        format!(
                            "memory {} has a transaction time ({latest}) after this store's \
                             clock ({now}): a store never believed anything in its future; \
                             import on a machine whose clock is past it",
                            m.id
                        ),
                    ));
                }
            }
            w.import_rows(&rows)?;
            Ok(())
        })?;
        for (_, m) in &fresh {
            self.report.memories += 1;
            self.report.events += m.events.len() as u64;
            self.report.vectors += u64::from(m.vector.is_some());
        }
        Ok((fresh, rows))
    }
}

/// What an import stores for `m` (line `n`): the row a write would have stored, derived
/// entries included, its versions and its events.
fn imported_row(store: &Store, n: u64, m: &ExportedMemory) -> Result<ImportedRow> {
    Ok(ImportedRow {
        row: new_row(store, m),
        versions: versions_of(m),
        events: events_of(n, m)?,
    })
}

/// The row a write would have stored for `m`, derived entries included.
fn new_row(store: &Store, m: &ExportedMemory) -> NewRow {
    let inner = &store.inner;
    NewRow {
        id: m.id,
        account: m.account.clone(),
        tenant: m.tenant.clone(),
        decision: m.decision.clone(),
        summary: m.summary.clone(),
        topic: m.topic.clone(),
        importance_score: m.importance_score,
        source: m.source.clone(),
        channel: m.channel.clone(),
        session_id: m.session_id.clone(),
        original_message: m.original_message.clone(),
        original_input: Arc::from(m.original_input.as_str()),
        // Facts of a conversation share its text (stored once per tenant), as written.
        shared_input: m.shape == WriteShape::Messages,
        external_id: m.external_id.clone(),
        captured_at: m.captured_at,
        created_at: m.created_at,
        valid_from: m.valid_from,
        extraction: m.extraction.clone(),
        shape: m.shape,
        fingerprint: crate::dedup::fingerprint(
            &m.source,
            &m.channel,
            &m.decision,
            m.external_id.as_deref(),
        ),
        lexical: inner
            .lexical_index
            .then(|| inner.analyzer.analyze(&m.decision)),
        vector: m.vector.as_ref().map(|v| (v.space_tag, v.values.clone())),
    }
}

fn describe_tenant(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("tenant {t:?}"),
        None => "the default tenant".into(),
    }
}

/// The newest `(created_at, id)` of a tenant, if it holds any row.
fn newest_row(
    snapshot: &dyn Read,
    account: &str,
    tenant: Option<&str>,
) -> Result<Option<Position>> {
    let listing = Listing {
        scope: Scope {
            account,
            tenants: Tenants::One(tenant),
        },
        mode: ReadMode::History,
        now: snapshot.now()?,
        source: None,
        session: None,
        limit: 1,
        before: None,
    };
    Ok(snapshot
        .list(&listing, &|_| true)?
        .first()
        .map(|m| (m.created_at, m.id)))
}

/// Every transaction time a memory carries.
fn transaction_times(m: &ExportedMemory) -> impl Iterator<Item = Timestamp> + '_ {
    [
        Some(m.created_at),
        m.valid_to_set_at,
        m.transaction_time_end,
    ]
    .into_iter()
    .flatten()
    .chain(m.events.iter().map(|e| e.at))
}

/// The versions the memory went through, each from the transaction time it began.
fn versions_of(m: &ExportedMemory) -> Vec<(Timestamp, Version)> {
    let times: BTreeSet<Timestamp> = [m.valid_to_set_at, m.transaction_time_end]
        .into_iter()
        .flatten()
        .collect();
    times
        .into_iter()
        .map(|t| {
            let set = |at: Option<Timestamp>| at.filter(|a| *a <= t);
            let version = Version {
                valid_to: set(m.valid_to_set_at).and(m.valid_to),
                valid_to_set_at: set(m.valid_to_set_at),
                superseded_by: set(m.transaction_time_end).and(m.superseded_by),
                transaction_time_end: set(m.transaction_time_end),
            };
            (t, version)
        })
        .collect()
}

/// The stored audit events of `m` (line `n`), each supersession's or expiry's with the end
/// it was asked for.
fn events_of(n: u64, m: &ExportedMemory) -> Result<Vec<AuditEvent>> {
    m.events
        .iter()
        .map(|e| {
            let mut details = e.details.clone();
            match &mut details {
                EventDetails::Superseded {
                    requested_valid_to, ..
                }
                | EventDetails::Expired {
                    requested_valid_to, ..
                } => *requested_valid_to = e.requested_valid_to,
                _ if e.requested_valid_to.is_some() => {
                    return Err(at(
                        n,
                        "requested_valid_to on an event that is not a supersession or an \
                         expiry",
                    ));
                }
                _ => {}
            }
            Ok(AuditEvent {
                kind: e.kind,
                at: e.at,
                by: e.by.clone(),
                details,
            })
        })
        .collect()
}

/// The first field in which the file's memory differs from the one here. A vector the file
/// lacks may have been added here since (`aurra embed`), and is not a difference.
fn difference(file: &ExportedMemory, here: &ExportedMemory) -> Option<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(file), serde_json::to_value(here))
    else {
        return Some("encoding".into());
    };
    a.iter()
        .find(|(name, value)| {
            !(name.as_str() == "vector" && value.is_null()) && b.get(name.as_str()) != Some(value)
        })
        .map(|(name, _)| name.clone())
}

/// What a store could have written: the invariants every stored row keeps.
fn validate_memory(n: u64, m: &ExportedMemory, header: &ExportHeader) -> Result<()> {
    let line = |e: Error| match e {
        Error::InvalidArgument(message) => at(n, message),
        other => other,
    };
    validate_account(&m.account).map_err(line)?;
    if let Some(account) = &header.account
        && *account != m.account
    {
        return Err(at(
            n,
            format!(
                "memory {} is of account {:?}, and the header says the file holds account \
                 {account:?} only",
                m.id, m.account
            ),
        ));
    }
    validate_tenant(m.tenant.as_deref()).map_err(line)?;
    for (what, text) in [
        ("decision", Some(m.decision.as_str())),
        ("summary", Some(m.summary.as_str())),
        ("topic", Some(m.topic.as_str())),
        ("source", Some(m.source.as_str())),
        ("channel", Some(m.channel.as_str())),
        ("session_id", m.session_id.as_deref()),
        ("original_message", Some(m.original_message.as_str())),
        ("original_input", Some(m.original_input.as_str())),
        ("external_id", m.external_id.as_deref()),
    ] {
        no_nul(what, text).map_err(line)?;
    }
    validate_source(&m.source).map_err(line)?;
    let fail = |what: &str| Err(at(n, format!("memory {}: {what}", m.id)));
    if m.decision.trim().is_empty() {
        return fail("decision must not be empty");
    }
    if !(1..=10).contains(&m.importance_score) {
        return fail("importance_score is outside 1-10");
    }
    if m.valid_to.is_some() != m.valid_to_set_at.is_some() {
        return fail("valid_to and valid_to_set_at come together");
    }
    if m.superseded_by.is_some() != m.transaction_time_end.is_some() {
        return fail("superseded_by and transaction_time_end come together");
    }
    if m.superseded_by == Some(m.id) {
        return fail("a memory does not supersede itself");
    }
    if m.valid_to.is_some_and(|end| end < m.valid_from) {
        return fail("valid_to is before valid_from");
    }
    if transaction_times(m).any(|t| t < m.created_at) {
        return fail(
            "a transaction time (valid_to_set_at, transaction_time_end or an event's) is before created_at",
        );
    }
    if m.events.windows(2).any(|w| w[1].at < w[0].at) {
        return fail("its events are not in time order");
    }
    if let Some(v) = &m.vector {
        let norm: f64 = v
            .values
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        if v.values.is_empty()
            || v.values.iter().any(|x| !x.is_finite())
            || (norm - 1.0).abs() > 1e-3
        {
            return fail("its vector is not a unit vector");
        }
    }
    Ok(())
}

fn hash_of(n: u64, hex: &str) -> Result<[u8; 32]> {
    let bytes = hex.as_bytes();
    let mut out = [0u8; 32];
    if bytes.len() != 64 {
        return Err(at(n, "a hash is 64 hexadecimal digits"));
    }
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok();
        out[i] = digits
            .and_then(|d| u8::from_str_radix(d, 16).ok())
            .ok_or_else(|| at(n, "a hash is 64 hexadecimal digits"))?;
    }
    Ok(out)
}

/// Stores the operator credential; `false` when the same one is here already.
fn put_operator(w: &mut dyn Write, n: u64, o: &ExportedOperator) -> Result<bool> {
    let credential = OperatorCredential {
        hash: hash_of(n, &o.hash)?,
        created_at: o.created_at,
    };
    match w.operator()? {
        None => {
            w.put_operator(&credential)?;
            w.accounts_changed();
            Ok(true)
        }
        Some(here) if here == credential => Ok(false),
        Some(_) => Err(conflict(
            n,
            "this store has an operator credential of its own: import a whole-store export \
             into a new store",
        )),
    }
}

/// Stores an account and its usage; `false` when the same is here already.
fn put_account(w: &mut dyn Write, n: u64, a: &ExportedAccount) -> Result<bool> {
    validate_account_id(&a.id).map_err(|e| at(n, e))?;
    let account = Account {
        id: a.id.clone(),
        org_id: a.org_id,
        created_at: a.created_at,
        plan: AccountPlan {
            tier: a.plan_tier.clone(),
            writes_limit: a.writes_limit,
        },
    };
    let usage = a.usage.as_ref().map(|u| Usage {
        period_start: u.period_start,
        writes_used: u.writes_used,
        grace_started_at: u.grace_started_at,
        writes_by_day: u.writes_by_day.clone(),
    });
    match w.account(&a.id)? {
        None => {
            w.put_account(&account)?;
            if let Some(usage) = &usage {
                w.put_usage(&a.id, usage)?;
            }
            w.accounts_changed();
            Ok(true)
        }
        Some(here) if here == account && w.usage(&a.id)? == usage => Ok(false),
        Some(_) => Err(conflict(
            n,
            format!(
                "account {:?} is in this store already with a different plan or usage",
                a.id
            ),
        )),
    }
}

/// Stores a key and its settings; `false` when the same is here already.
fn put_key(w: &mut dyn Write, n: u64, k: &ExportedKey) -> Result<bool> {
    let hash = hash_of(n, &k.hash)?;
    let key = ApiKey {
        id: k.id,
        account: k.account.clone(),
        shown_prefix: k.shown_prefix.clone(),
        label: k.label.clone(),
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    };
    match w.api_key(&hash)? {
        None => {
            w.put_api_key(&hash, &key)?;
            if let Some(settings) = &k.settings {
                w.put_settings(k.id, settings)?;
            }
            w.accounts_changed();
            Ok(true)
        }
        Some(here) if here == key && w.settings(k.id)? == k.settings => Ok(false),
        Some(_) => Err(conflict(
            n,
            format!(
                "API key {} is in this store already with different content",
                k.id
            ),
        )),
    }
}
