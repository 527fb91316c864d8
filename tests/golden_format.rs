//! The on-disk format (FORMAT_VERSION 1) against a golden fixture: a store file written by
//! this format, `tests/fixtures/format-v1.redb`, with its ids and the results of every read
//! kind recorded in `tests/fixtures/format-v1.expected.json`.
//!
//! - The fixture reads back exactly as recorded: list in every mode and with every filter,
//!   get, timeline, audit, the access errors.
//! - Its transaction clock and duplicate index still work: a reopened fixture refuses a
//!   duplicate of a live memory and stamps new writes after its last transaction.
//! - The current writer still writes the fixture's bytes: the same operations, replayed now,
//!   leave the same tables with the same keys and values (ids aside).
//! - A file or a record of another format version is refused with `IncompatibleFormat`.
//!
//! - Format-1 files written before the account tables (`format-v1-before-accounts.redb`)
//!   before the lexical index (`format-v1-before-lexical.redb`) and before its delta
//!   (`format-v1-before-delta.redb`), before the vectors (`format-v1-before-vectors.redb`)
//!   before the posting blocks (`format-v1-before-blocks.redb`) and before the vectors'
//!   binary codes (`format-v1-before-codes.redb`), and before usage records carried writes per
//!   day (`format-v1-before-daily-usage.redb`) still read back exactly
//!   as recorded: the account tables are created on first use, the rows of a file without
//!   the index (or with the legacy one-entry-per-posting table) are indexed when it is
//!   opened, rows without vectors are found lexically, and vectors without codes are coded
//!   when the file is opened (and searched through the codes).
//! - The fixture is written with a deterministic in-process embedder, so its `vectors` table
//!   is part of the byte comparison, and a semantic search over it finds what it should.
//!
//! Regenerate the fixture (only when the format changes, together with a FORMAT_VERSION bump
//! and a new fixture name; or when format 1 gains an optional table, keeping the older
//! fixture as a compatibility check) with
//! `AURRA_REGENERATE_FIXTURES=1 cargo test --test golden_format`.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aurra::{
    AuditEvent, Embedder, Error, EventDetails, Extraction, ListQuery, ManualClock, Memory,
    MemoryId, NewMemory, ReadMode, SearchQuery, Store, StoreOptions, Supersede, Timestamp,
    WriteOutcome, WriteShape,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde_json::{Value, json};

type TestResult<T = ()> = Result<T, Box<dyn StdError>>;

const REGENERATE: &str = "AURRA_REGENERATE_FIXTURES";
const FIXTURE: &str = "format-v1.redb";
const EXPECTED: &str = "format-v1.expected.json";
/// Format 1 as written before the optional account tables (accounts, API keys, settings,
/// usage) were added.
const BEFORE_ACCOUNTS: (&str, &str) = (
    "format-v1-before-accounts.redb",
    "format-v1-before-accounts.expected.json",
);
/// Format 1 as written before the lexical index (postings, lexical stats) was added.
const BEFORE_LEXICAL: (&str, &str) = (
    "format-v1-before-lexical.redb",
    "format-v1-before-lexical.expected.json",
);
/// Format 1 as written before the lexical delta (every posting written at insert, 16-byte
/// lexical stats).
const BEFORE_DELTA: (&str, &str) = (
    "format-v1-before-delta.redb",
    "format-v1-before-delta.expected.json",
);

/// Format 1 as written before the vector table (embeddings) was added.
const BEFORE_VECTORS: (&str, &str) = (
    "format-v1-before-vectors.redb",
    "format-v1-before-vectors.expected.json",
);

/// Format 1 as written before the posting blocks (the lexical index one entry per (term,
/// row) in the `postings` table), with every optional table.
const BEFORE_BLOCKS: (&str, &str) = (
    "format-v1-before-blocks.redb",
    "format-v1-before-blocks.expected.json",
);

/// Format 1 as written before the vectors' binary codes (`vector_codes`), with vectors.
const BEFORE_CODES: (&str, &str) = (
    "format-v1-before-codes.redb",
    "format-v1-before-codes.expected.json",
);
/// Format 1 as written before usage records carried their writes per day (and account
/// records a plan of their own).
const BEFORE_DAILY_USAGE: (&str, &str) = (
    "format-v1-before-daily-usage.redb",
    "format-v1-before-daily-usage.expected.json",
);

/// The fixture's embedder: deterministic, in-process, 4 dimensions (byte sums by position).
#[derive(Debug)]
struct FixtureEmbedder;

impl Embedder for FixtureEmbedder {
    fn space(&self) -> &str {
        "golden-fixture-v1"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 4];
                for (i, b) in t.bytes().enumerate() {
                    v[i % 4] += f32::from(b);
                }
                v
            })
            .collect())
    }
}

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// 2026-01-01T00:00:00Z plus `hours`.
fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(1_767_225_600 * SECOND + hours * HOUR)
}

fn start() -> Timestamp {
    at(0)
}

/// When the fixture is read: a day after its last write.
fn read_at() -> Timestamp {
    at(10).saturating_add_micros(DAY)
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// Names of the fixture's memories, in the order they were written.
const NAMES: [&str; 9] = [
    "alice-initech",
    "office-berlin",
    "prototype-redb",
    "alice-globex",
    "alice-hooli",
    "standup",
    "globex-friday",
    "eve-research",
    "globex-friday-notion",
];

fn saved(outcome: WriteOutcome) -> aurra::Result<MemoryId> {
    outcome
        .saved_id()
        .ok_or_else(|| Error::InvalidArgument(format!("expected a saved memory: {outcome:?}")))
}

fn by(id: MemoryId) -> Supersede {
    Supersede {
        superseded_by: Some(id),
        valid_to: None,
    }
}

/// Writes the fixture's contents into a new store at `path` with a manual clock, an hour
/// between operations. Returns the memory ids by name. Deterministic but for the ids.
fn build(path: &Path) -> aurra::Result<BTreeMap<String, MemoryId>> {
    let clock = ManualClock::new(start());
    let store = Store::open_with(
        path,
        StoreOptions::new()
            .clock(clock.clone())
            .embedder(FixtureEmbedder),
    )?;
    let mut ids = BTreeMap::new();

    // A memory with a session id; the first link of a chain of three.
    let v1 = saved(store.write(
        "acme",
        NewMemory::new("Alice works at Initech").with_session("sess-1"),
    )?)?;
    ids.insert("alice-initech".to_owned(), v1);

    // A back-dated memory.
    clock.set(at(1));
    let office = store.write(
        "acme",
        NewMemory::new("The office is in Berlin")
            .with_topic("Facilities")
            .with_valid_from(Timestamp::parse("2025-06-01T00:00:00Z")?),
    )?;
    ids.insert("office-berlin".to_owned(), saved(office)?);

    // Every optional field, extraction metadata included, in a named tenant.
    clock.set(at(2));
    let mut full = NewMemory::new("The prototype stores its data in redb")
        .with_tenant("research")
        .with_source("slack")
        .with_channel("eng-storage")
        .with_session("sess-2")
        .with_external_id("1767232800.000100")
        .with_importance(8)
        .with_topic("Engineering")
        .with_recorded_at(at(1).saturating_add_micros(30 * MINUTE))
        .with_original_message("FYI: the prototype stores its data in redb — one file, no server.");
    full.summary = Some("Prototype on redb".to_owned());
    full.original_input = Some(
        "[{\"role\":\"user\",\"content\":\"FYI: the prototype stores its data in redb\"}]"
            .to_owned(),
    );
    full.shape = WriteShape::Messages;
    full.extraction = Some(Extraction {
        provider: "anthropic".to_owned(),
        model: "claude-sonnet-4-5".to_owned(),
        prompt_version: "extract-v3".to_owned(),
        extracted_at: at(2),
    });
    ids.insert(
        "prototype-redb".to_owned(),
        saved(store.write("acme", full)?)?,
    );

    // The chain: Initech -> Globex -> Hooli.
    clock.set(at(3));
    let v2 = saved(store.write("acme", NewMemory::new("Alice works at Globex"))?)?;
    ids.insert("alice-globex".to_owned(), v2);
    clock.set(at(4));
    store.supersede("acme", v1, by(v2), "acme")?;
    clock.set(at(5));
    let v3 = saved(store.write("acme", NewMemory::new("Alice works at Hooli"))?)?;
    ids.insert("alice-hooli".to_owned(), v3);
    clock.set(at(6));
    store.supersede("acme", v2, by(v3), "acme-admin")?;

    // An expiry.
    clock.set(at(7));
    let standup = saved(store.write("acme", NewMemory::new("Standup is at 10:00"))?)?;
    ids.insert("standup".to_owned(), standup);
    clock.set(at(8));
    store.supersede(
        "acme",
        standup,
        Supersede {
            superseded_by: None,
            valid_to: Some(at(8).saturating_add_micros(30 * MINUTE)),
        },
        "acme",
    )?;

    // A duplicate write: nothing is stored.
    clock.set(at(9));
    let duplicate = store.write("acme", NewMemory::new("  Alice works at Hooli "))?;
    if duplicate != (WriteOutcome::Duplicate { existing: v3 }) {
        return Err(Error::InvalidArgument(format!(
            "expected a duplicate of {v3}: {duplicate:?}"
        )));
    }

    // The other account: a batch over two tenants, with a duplicate inside it.
    clock.set(at(10));
    let outcomes = store.write_batch(
        "globex",
        vec![
            NewMemory::new("Globex ships on Friday"),
            NewMemory::new("Eve runs the research team").with_tenant("research"),
            NewMemory::new("Globex ships on Friday"),
            NewMemory::new("Globex ships on Friday").with_source("notion"),
        ],
    )?;
    let mut outcomes = outcomes.into_iter();
    let friday = saved(outcomes.next().expect("4 outcomes"))?;
    ids.insert("globex-friday".to_owned(), friday);
    ids.insert(
        "eve-research".to_owned(),
        saved(outcomes.next().expect("4 outcomes"))?,
    );
    if outcomes.next() != Some(WriteOutcome::Duplicate { existing: friday }) {
        return Err(Error::InvalidArgument(
            "expected an in-batch duplicate".into(),
        ));
    }
    ids.insert(
        "globex-friday-notion".to_owned(),
        saved(outcomes.next().expect("4 outcomes"))?,
    );
    assert_eq!(ids.len(), NAMES.len(), "every named memory was written");
    Ok(ids)
}

/// The reads recorded in the expectations: every list mode at the instants that matter, in
/// every scope, the filters, a limit, and per memory get, timeline and audit (also from the
/// wrong account), and an unknown id.
fn read_specs(ids: &BTreeMap<String, MemoryId>) -> Vec<Value> {
    let ts = |t: Timestamp| t.to_string();
    let mut instants = vec![
        Timestamp::parse("2025-07-01T00:00:00Z").expect("valid"),
        at(0),
        at(2),
        at(4).saturating_add_micros(-1),
        at(4),
        at(6),
        at(8),
        at(8).saturating_add_micros(30 * MINUTE),
        at(10),
        read_at(),
    ];
    instants.dedup();
    let mut modes = vec![json!({"mode": "current"}), json!({"mode": "history"})];
    for &t in &instants {
        modes.push(json!({"mode": "as_of", "at": ts(t)}));
        for include_superseded in [false, true] {
            modes.push(json!({
                "mode": "transaction_as_of",
                "at": ts(t),
                "include_superseded": include_superseded,
            }));
        }
    }
    for (valid_at, transaction_at) in [(3, 5), (5, 3), (8, 10), (9, 7)] {
        modes.push(json!({
            "mode": "bitemporal",
            "valid_at": ts(at(valid_at)),
            "transaction_at": ts(at(transaction_at)),
        }));
    }

    let mut specs = Vec::new();
    for account in ["acme", "globex"] {
        for tenant in [Value::Null, json!("research")] {
            for mode in &modes {
                specs.push(json!({
                    "call": "list", "account": account, "tenant": tenant, "mode": mode,
                    "source": null, "session": null, "limit": 100,
                }));
            }
        }
    }
    let filtered = [
        ("acme", Value::Null, json!("agent"), Value::Null, 100),
        ("acme", Value::Null, Value::Null, json!("sess-1"), 100),
        ("acme", json!("research"), json!("slack"), Value::Null, 100),
        ("acme", json!("research"), Value::Null, json!("sess-2"), 100),
        ("acme", json!("research"), json!("agent"), Value::Null, 100),
        ("globex", Value::Null, json!("notion"), Value::Null, 100),
        ("acme", Value::Null, Value::Null, Value::Null, 2),
    ];
    for (account, tenant, source, session, limit) in filtered {
        for mode in [json!({"mode": "current"}), json!({"mode": "history"})] {
            specs.push(json!({
                "call": "list", "account": account, "tenant": tenant, "mode": mode,
                "source": source, "session": session, "limit": limit,
            }));
        }
    }
    for (name, id) in ids {
        let owner = if name.starts_with("globex") || name.starts_with("eve") {
            "globex"
        } else {
            "acme"
        };
        let other = if owner == "acme" { "globex" } else { "acme" };
        for read in ["get", "timeline", "audit"] {
            for account in [owner, other] {
                specs.push(json!({"call": read, "account": account, "id": id.to_string()}));
            }
        }
    }
    let unknown = MemoryId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    for read in ["get", "timeline", "audit"] {
        specs.push(json!({"call": read, "account": "acme", "id": unknown.to_string()}));
    }
    specs
}

// ---------------------------------------------------------------------------------------------
// Reads, rendered as JSON
// ---------------------------------------------------------------------------------------------

fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_string()))
}

fn opt_id(id: Option<MemoryId>) -> Value {
    id.map_or(Value::Null, |id| json!(id.to_string()))
}

fn memory_json(m: &Memory) -> Value {
    json!({
        "id": m.id.to_string(),
        "account": m.account,
        "tenant": m.tenant,
        "decision": m.decision,
        "summary": m.summary,
        "topic": m.topic,
        "importance_score": m.importance_score,
        "source": m.source,
        "channel": m.channel,
        "session_id": m.session_id,
        "original_message": m.original_message,
        "original_input": m.original_input,
        "external_id": m.external_id,
        "captured_at": m.captured_at.to_string(),
        "created_at": m.created_at.to_string(),
        "valid_from": m.valid_from.to_string(),
        "valid_to": opt_ts(m.valid_to),
        "superseded_by": opt_id(m.superseded_by),
        "transaction_time_start": m.transaction_time_start.to_string(),
        "transaction_time_end": opt_ts(m.transaction_time_end),
        "extraction": m.extraction.as_ref().map(|e| json!({
            "provider": e.provider,
            "model": e.model,
            "prompt_version": e.prompt_version,
            "extracted_at": e.extracted_at.to_string(),
        })),
    })
}

/// A list row: the id and the part of the row that the mode's replayed version decides.
fn row_json(m: &Memory) -> Value {
    json!({
        "id": m.id.to_string(),
        "valid_to": opt_ts(m.valid_to),
        "superseded_by": opt_id(m.superseded_by),
        "transaction_time_end": opt_ts(m.transaction_time_end),
    })
}

fn event_json(e: &AuditEvent) -> Value {
    let details = match &e.details {
        EventDetails::None => Value::Null,
        EventDetails::Created {
            shape,
            topic,
            source,
            tenant,
        } => json!({"shape": shape.as_str(), "topic": topic, "source": source, "tenant": tenant}),
        EventDetails::Superseded {
            superseded_by,
            valid_to,
            ..
        } => json!({"superseded_by": opt_id(*superseded_by), "valid_to": valid_to.to_string()}),
        EventDetails::Expired { valid_to, .. } => json!({"valid_to": valid_to.to_string()}),
        other => json!({"unexpected": format!("{other:?}")}),
    };
    json!({"kind": e.kind.as_str(), "at": e.at.to_string(), "by": e.by, "details": details})
}

fn error_json(e: &Error) -> Value {
    let kind = match e {
        Error::NotFound(_) => "not_found",
        Error::Forbidden(_) => "forbidden",
        other => return json!({"error": other.to_string()}),
    };
    json!({"error": kind})
}

fn field<'a>(spec: &'a Value, name: &str) -> Result<&'a str, String> {
    spec[name]
        .as_str()
        .ok_or_else(|| format!("{name} missing in {spec}"))
}

fn timestamp(spec: &Value, name: &str) -> TestResult<Timestamp> {
    Ok(Timestamp::parse(field(spec, name)?)?)
}

fn mode_of(spec: &Value) -> TestResult<ReadMode> {
    Ok(match field(spec, "mode")? {
        "current" => ReadMode::Current,
        "history" => ReadMode::History,
        "as_of" => ReadMode::AsOf(timestamp(spec, "at")?),
        "transaction_as_of" => ReadMode::TransactionAsOf {
            at: timestamp(spec, "at")?,
            include_superseded: spec["include_superseded"]
                .as_bool()
                .ok_or("include_superseded missing")?,
        },
        "bitemporal" => ReadMode::Bitemporal {
            valid_at: timestamp(spec, "valid_at")?,
            transaction_at: timestamp(spec, "transaction_at")?,
        },
        other => return Err(format!("unknown mode {other}").into()),
    })
}

/// Performs one recorded read on `store` and renders its result.
fn perform(store: &Store, spec: &Value) -> TestResult<Value> {
    let account = field(spec, "account")?;
    let rendered = match field(spec, "call")? {
        "list" => {
            let mut q = ListQuery::new()
                .mode(mode_of(&spec["mode"])?)
                .limit(spec["limit"].as_u64().ok_or("limit missing")? as usize);
            if let Some(t) = spec["tenant"].as_str() {
                q = q.tenant(t);
            }
            if let Some(s) = spec["source"].as_str() {
                q = q.source(s);
            }
            if let Some(s) = spec["session"].as_str() {
                q = q.session(s);
            }
            store.list(account, &q).map(|r| {
                json!({
                    "now": r.now.to_string(),
                    "memories": r.memories.iter().map(row_json).collect::<Vec<_>>(),
                })
            })
        }
        "get" => store
            .get(account, field(spec, "id")?.parse()?)
            .map(|m| memory_json(&m)),
        "timeline" => store
            .timeline(account, field(spec, "id")?.parse()?)
            .map(|t| {
                json!({
                    "memory_id": t.memory_id.to_string(),
                    "now": t.now.to_string(),
                    "versions": t.versions.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
                })
            }),
        "audit" => store
            .audit(account, field(spec, "id")?.parse()?)
            .map(|(m, events)| {
                json!({
                    "memory": m.id.to_string(),
                    "events": events.iter().map(event_json).collect::<Vec<_>>(),
                })
            }),
        other => return Err(format!("unknown read {other}").into()),
    };
    Ok(match rendered {
        Ok(value) => value,
        Err(e) => error_json(&e),
    })
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

/// Regenerates the fixture into `dir`: the store file and its expectations.
fn regenerate(dir: &Path) -> TestResult {
    let scratch = tempfile::tempdir()?;
    let path = scratch.path().join(FIXTURE);
    let ids = build(&path)?;
    {
        // Shrink the file; the logical contents do not change.
        let mut db = redb::Database::open(&path)?;
        while db.compact()? {}
    }
    let store = Store::open_with(
        &path,
        StoreOptions::new().clock(ManualClock::new(read_at())),
    )?;
    let mut reads = Vec::new();
    for spec in read_specs(&ids) {
        let result = perform(&store, &spec)?;
        reads.push(json!({"read": spec, "returns": result}));
    }
    let expected = json!({
        "about": "Golden fixture of the aurra on-disk format; see tests/golden_format.rs.",
        "format_version": aurra::FORMAT_VERSION,
        "generated_by": format!("aurra {}", env!("CARGO_PKG_VERSION")),
        "clock_start": start().to_string(),
        "last_transaction_time": at(10).to_string(),
        "read_at": read_at().to_string(),
        "ids": ids.iter().map(|(k, v)| (k.clone(), json!(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "reads": "READS",
    });
    // One read per line: small, and a changed read is a one-line diff.
    let reads = reads
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    let text = serde_json::to_string_pretty(&expected)?.replace(
        "\"reads\": \"READS\"",
        &format!("\"reads\": [\n    {}\n  ]", reads.join(",\n    ")),
    );
    drop(store);
    // Written next to their final names, then renamed (`*.tmp` is excluded from packages).
    fs::create_dir_all(dir)?;
    let tmp_db = dir.join(format!("{FIXTURE}.tmp"));
    let tmp_json = dir.join(format!("{EXPECTED}.tmp"));
    fs::copy(&path, &tmp_db)?;
    fs::write(&tmp_json, text + "\n")?;
    fs::rename(tmp_db, dir.join(FIXTURE))?;
    fs::rename(tmp_json, dir.join(EXPECTED))?;
    Ok(())
}

/// The fixture's expectations, regenerated first (once per test process) when
/// `AURRA_REGENERATE_FIXTURES` is set.
fn expectations() -> TestResult<&'static Value> {
    static EXPECTATIONS: OnceLock<Result<Value, String>> = OnceLock::new();
    let loaded = EXPECTATIONS.get_or_init(|| {
        let load = || -> TestResult<Value> {
            if std::env::var_os(REGENERATE).is_some_and(|v| !v.is_empty()) {
                regenerate(&fixtures_dir())?;
            }
            let text = fs::read_to_string(fixtures_dir().join(EXPECTED))?;
            Ok(serde_json::from_str(&text)?)
        };
        load().map_err(|e| e.to_string())
    });
    match loaded {
        Ok(value) => Ok(value),
        Err(e) => Err(format!("loading the fixture's expectations: {e}").into()),
    }
}

/// A private copy of the fixture (tests may write to it).
fn fixture_copy() -> TestResult<(tempfile::TempDir, PathBuf)> {
    expectations()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(FIXTURE);
    fs::copy(fixtures_dir().join(FIXTURE), &path)?;
    Ok((dir, path))
}

fn id_of(expected: &Value, name: &str) -> TestResult<MemoryId> {
    Ok(expected["ids"][name]
        .as_str()
        .ok_or_else(|| format!("no id for {name}"))?
        .parse()?)
}

fn ids_of(expected: &Value) -> TestResult<BTreeMap<String, MemoryId>> {
    NAMES
        .iter()
        .map(|name| Ok(((*name).to_owned(), id_of(expected, name)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_fixture_is_of_the_current_format_version() -> TestResult {
    let expected = expectations()?;
    assert_eq!(
        expected["format_version"].as_u64(),
        Some(u64::from(aurra::FORMAT_VERSION)),
        "FORMAT_VERSION changed: keep this fixture (and decide what a v2 build does with a v1 \
         file), and add a format-v{} fixture",
        aurra::FORMAT_VERSION
    );
    let size = fs::metadata(fixtures_dir().join(FIXTURE))?.len();
    assert!(size > 0 && size < 2 << 20, "fixture of {size} bytes");
    Ok(())
}

#[test]
fn the_fixture_reads_back_exactly_as_recorded() -> TestResult {
    let expected = expectations()?;
    let (_dir, path) = fixture_copy()?;
    reads_back_as_recorded(expected, &path)
}

#[test]
fn the_fixtures_vectors_are_searched_by_its_embedder() -> TestResult {
    let current = expectations()?.clone();
    let before: Value =
        serde_json::from_str(&fs::read_to_string(fixtures_dir().join(BEFORE_CODES.1))?)?;
    // The current fixture, and the one from before the codes (coded when it is opened): the
    // index finds what the exact scan of every vector finds.
    for (file, expected) in [(FIXTURE, &current), (BEFORE_CODES.0, &before)] {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(file);
        fs::copy(fixtures_dir().join(file), &path)?;
        let query = SearchQuery::new("Alice works at Initech").mode(ReadMode::History);
        let mut found = Vec::new();
        for index in [true, false] {
            let store = Store::open_with(
                &path,
                StoreOptions::new()
                    .lexical_index(false)
                    .vector_index(index)
                    .embedder(FixtureEmbedder),
            )?;
            let result = store.search("acme", &query)?;
            assert_eq!(result.search_type, aurra::SearchType::Semantic);
            let top = &result.hits[0];
            assert_eq!(top.memory.id, id_of(expected, "alice-initech")?, "{file}");
            assert!((top.similarity - 1.0).abs() < 1e-6, "{}", top.similarity);
            found.push(
                result
                    .hits
                    .iter()
                    .map(|h| (h.memory.id, h.similarity))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(found[0], found[1], "{file}: index and exact scan agree");
    }
    Ok(())
}

#[test]
fn files_from_before_the_optional_tables_read_back_exactly_as_recorded() -> TestResult {
    for (file, expectations) in [
        BEFORE_ACCOUNTS,
        BEFORE_LEXICAL,
        BEFORE_DELTA,
        BEFORE_VECTORS,
        BEFORE_BLOCKS,
        BEFORE_CODES,
        BEFORE_DAILY_USAGE,
    ] {
        let expected: Value =
            serde_json::from_str(&fs::read_to_string(fixtures_dir().join(expectations))?)?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(file);
        fs::copy(fixtures_dir().join(file), &path)?;
        // Opening indexes the rows written before the lexical index, and changes nothing a
        // read returns.
        reads_back_as_recorded(&expected, &path)?;
        let store = Store::open(&path)?;
        let hits = store.search("acme", &SearchQuery::new("Alice works").limit(100))?;
        assert!(
            !hits.hits.is_empty(),
            "{file}: migrated rows are searchable"
        );
        for hit in &hits.hits {
            assert!(
                hit.memory.decision.to_lowercase().contains("alice")
                    || hit.memory.decision.to_lowercase().contains("work")
            );
        }
        if file == BEFORE_DAILY_USAGE.0 {
            // Its usage has no days: it reads as none, and the next write counts in its day
            // (days are kept from the first write after the upgrade on); its accounts have no
            // plan of their own.
            drop(store);
            let read_at = Timestamp::parse(field(&expected, "read_at")?)?;
            let store =
                Store::open_with(&path, StoreOptions::new().clock(ManualClock::new(read_at)))?;
            let before = store.usage("acme")?;
            assert!(
                before.writes_used > 0 && before.writes_by_day.is_empty(),
                "{before:?}"
            );
            assert!(
                store
                    .accounts()?
                    .iter()
                    .all(|a| a.plan == aurra::AccountPlan::default())
            );
            store.write("acme", NewMemory::new("Counted in its day"))?;
            let after = store.usage("acme")?;
            assert_eq!(after.writes_used, before.writes_used + 1);
            let day = (read_at.as_micros() - before.period_start.as_micros()) / 86_400_000_000;
            let mut days = vec![0; day as usize];
            days.push(1);
            assert_eq!(after.writes_by_day, days);
            continue;
        }
        if file == BEFORE_BLOCKS.0 {
            // Its write usage is in the legacy `usage` table: still read, then counted on in
            // `meta` (at the fixture's time: usage is per calendar month).
            drop(store);
            let read_at = Timestamp::parse(field(&expected, "read_at")?)?;
            let clock = || StoreOptions::new().clock(ManualClock::new(read_at));
            let store = Store::open_with(&path, clock())?;
            let used = store.usage("acme")?.writes_used;
            assert!(used > 0, "{file}: the recorded usage");
            store.write("acme", NewMemory::new("Written after the upgrade"))?;
            assert_eq!(store.usage("acme")?.writes_used, used + 1);
            drop(store);
            let store = Store::open_with(&path, clock())?;
            assert_eq!(store.usage("acme")?.writes_used, used + 1);
            continue;
        }
        if file == BEFORE_ACCOUNTS.0 {
            // It has no account tables; using them creates them.
            assert!(store.api_keys()?.is_empty());
            assert_eq!(store.usage("acme")?.writes_used, 0);
            let (key, secret) = store.create_api_key("acme", "after upgrade")?;
            assert_eq!(store.authenticate(&secret)?, Some(key));
        }
    }
    Ok(())
}

fn reads_back_as_recorded(expected: &Value, path: &Path) -> TestResult {
    let read_at = Timestamp::parse(field(expected, "read_at")?)?;
    let store = Store::open_with(path, StoreOptions::new().clock(ManualClock::new(read_at)))?;
    let reads = expected["reads"].as_array().ok_or("no reads")?;

    let mut mismatches = Vec::new();
    let mut kinds = BTreeMap::<String, usize>::new();
    for read in reads {
        let spec = &read["read"];
        let kind = match field(spec, "call")? {
            "list" => format!("list {}", field(&spec["mode"], "mode")?),
            other => other.to_owned(),
        };
        *kinds.entry(kind).or_default() += 1;
        let got = perform(&store, spec)?;
        if got != read["returns"] {
            mismatches.push(format!(
                "{spec}\n  got      {got}\n  expected {}",
                read["returns"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} reads differ from the fixture's expectations:\n{}",
        mismatches.len(),
        reads.len(),
        mismatches.join("\n")
    );
    // The expectations cover every read kind (an emptied file cannot pass).
    for kind in [
        "list current",
        "list history",
        "list as_of",
        "list transaction_as_of",
        "list bitemporal",
        "get",
        "timeline",
        "audit",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= 4,
            "{kind}: {kinds:?}"
        );
    }

    // What the fixture is meant to contain, checked by hand rather than against the recording.
    let ids = ids_of(expected)?;
    let chain: Vec<MemoryId> = ["alice-initech", "alice-globex", "alice-hooli"]
        .iter()
        .map(|n| ids[*n])
        .collect();
    for id in &chain {
        let timeline = store.timeline("acme", *id)?;
        assert_eq!(
            timeline.versions.iter().map(|m| m.id).collect::<Vec<_>>(),
            chain
        );
    }
    let v1 = store.get("acme", chain[0])?;
    assert_eq!(v1.superseded_by, Some(chain[1]));
    assert_eq!(v1.session_id.as_deref(), Some("sess-1"));
    assert_eq!(v1.transaction_time_end, Some(at(4)));
    let office = store.get("acme", ids["office-berlin"])?;
    assert_eq!(office.valid_from, Timestamp::parse("2025-06-01T00:00:00Z")?);
    assert_eq!(office.created_at, at(1));
    let standup = store.get("acme", ids["standup"])?;
    assert_eq!(
        standup.valid_to,
        Some(at(8).saturating_add_micros(30 * MINUTE))
    );
    assert_eq!(
        (standup.superseded_by, standup.transaction_time_end),
        (None, None)
    );
    let proto = store.get("acme", ids["prototype-redb"])?;
    assert_eq!(proto.tenant.as_deref(), Some("research"));
    assert_eq!(
        proto
            .extraction
            .as_ref()
            .map(|e| (e.model.as_str(), e.extracted_at)),
        Some(("claude-sonnet-4-5", at(2)))
    );
    assert_eq!(proto.captured_at, at(1).saturating_add_micros(30 * MINUTE));
    let current: Vec<MemoryId> = store
        .list("acme", &ListQuery::new())?
        .memories
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(current, vec![ids["alice-hooli"], ids["office-berlin"]]);
    assert!(matches!(
        store.get("globex", ids["alice-hooli"]),
        Err(Error::Forbidden(_))
    ));
    Ok(())
}

#[test]
fn the_fixture_keeps_its_transaction_clock_and_duplicate_index() -> TestResult {
    let expected = expectations()?;
    let ids = ids_of(expected)?;
    let last = Timestamp::parse(field(expected, "last_transaction_time")?)?;
    let (_dir, path) = fixture_copy()?;
    // A clock behind the fixture's last transaction: reads and writes still come after it.
    let clock = ManualClock::new(start());
    let store = Store::open_with(&path, StoreOptions::new().clock(clock.clone()))?;
    assert_eq!(store.now()?, last);

    // Duplicates of live memories, in both accounts and both fingerprint kinds.
    assert_eq!(
        store.write("acme", NewMemory::new("Alice works at Hooli"))?,
        WriteOutcome::Duplicate {
            existing: ids["alice-hooli"]
        }
    );
    assert_eq!(
        store.write("globex", NewMemory::new("Globex ships on Friday"))?,
        WriteOutcome::Duplicate {
            existing: ids["globex-friday"]
        }
    );
    let slack = NewMemory::new("a different text, same Slack message")
        .with_tenant("research")
        .with_source("slack")
        .with_channel("eng-storage")
        .with_external_id("1767232800.000100");
    assert_eq!(
        store.write("acme", slack)?,
        WriteOutcome::Duplicate {
            existing: ids["prototype-redb"]
        }
    );
    // Superseded and expired memories are no longer duplicates.
    clock.set(read_at());
    for text in ["Alice works at Initech", "Standup is at 10:00"] {
        assert!(
            store
                .write("acme", NewMemory::new(text))?
                .saved_id()
                .is_some(),
            "{text}"
        );
    }

    // New writes land after the fixture's history, in its existing trees.
    let fresh = ManualClock::new(start());
    drop(store);
    let store = Store::open_with(&path, StoreOptions::new().clock(fresh))?;
    let before = store.now()?;
    assert!(before > last);
    let id = saved(store.write(
        "acme",
        NewMemory::new("Written after the fixture").with_session("sess-1"),
    )?)?;
    let m = store.get("acme", id)?;
    assert_eq!(m.created_at, before.next());
    let session = store.list(
        "acme",
        &ListQuery::new().session("sess-1").mode(ReadMode::History),
    )?;
    assert_eq!(
        session.memories.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![id, ids["alice-initech"]]
    );
    store.supersede("acme", ids["alice-hooli"], by(id), "acme")?;
    assert_eq!(store.timeline("acme", id)?.versions.len(), 4);
    Ok(())
}

// --- The tables of FORMAT_VERSION 1, as ARCHITECTURE.md documents them ----------------------

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ROWS: TableDefinition<u128, &[u8]> = TableDefinition::new("rows");
const BYTES_TABLES: [&str; 4] = ["versions", "events", "tree_nodes", "vectors"];
const SET_TABLES: [&str; 2] = ["predecessors", "dedup"];

/// Bytes with every memory id replaced by its name.
fn tokenise(bytes: &[u8], ids: &[(String, [u8; 16])]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some((name, _)) = ids.iter().find(|(_, id)| bytes[i..].starts_with(id)) {
            out.push_str(&format!("<{name}>"));
            i += 16;
        } else {
            out.push_str(&format!("{:02x}", bytes[i]));
            i += 1;
        }
    }
    out
}

/// Every table, key and value of the store file at `path`, ids replaced by names.
fn logical_dump(path: &Path, names: &BTreeMap<String, MemoryId>) -> TestResult<Vec<String>> {
    let ids: Vec<(String, [u8; 16])> = names
        .iter()
        .map(|(n, id)| (n.clone(), id.as_u128().to_be_bytes()))
        .collect();
    let name_of = |id: u128| {
        names
            .iter()
            .find(|(_, v)| v.as_u128() == id)
            .map_or_else(|| format!("{id:032x}"), |(n, _)| format!("<{n}>"))
    };
    let db = redb::Database::open(path)?;
    let txn = db.begin_read()?;
    let mut tables: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
    tables.sort();
    let mut lines = vec![format!("tables {tables:?}")];
    for entry in txn.open_table(META)?.iter()? {
        let (k, v) = entry?;
        lines.push(format!(
            "meta {} = {}",
            k.value(),
            tokenise(v.value(), &ids)
        ));
    }
    for entry in txn.open_table(ROWS)?.iter()? {
        let (k, v) = entry?;
        lines.push(format!(
            "rows {} = {}",
            name_of(k.value()),
            tokenise(v.value(), &ids)
        ));
    }
    for table in BYTES_TABLES {
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(table);
        for entry in txn.open_table(def)?.iter()? {
            let (k, v) = entry?;
            lines.push(format!(
                "{table} {} = {}",
                tokenise(k.value(), &ids),
                tokenise(v.value(), &ids)
            ));
        }
    }
    let trees: TableDefinition<&[u8], u64> = TableDefinition::new("trees");
    for entry in txn.open_table(trees)?.iter()? {
        let (k, v) = entry?;
        lines.push(format!(
            "trees {} = {}",
            tokenise(k.value(), &ids),
            v.value()
        ));
    }
    for table in SET_TABLES {
        let def: TableDefinition<&[u8], ()> = TableDefinition::new(table);
        for entry in txn.open_table(def)?.iter()? {
            lines.push(format!("{table} {}", tokenise(entry?.0.value(), &ids)));
        }
    }
    Ok(lines)
}

#[test]
fn the_current_writer_writes_the_fixtures_bytes() -> TestResult {
    let expected = expectations()?;
    let (_dir, fixture) = fixture_copy()?;
    let golden = logical_dump(&fixture, &ids_of(expected)?)?;

    let scratch = tempfile::tempdir()?;
    let path = scratch.path().join("now.redb");
    let ids = build(&path)?;
    let now = logical_dump(&path, &ids)?;

    for (i, (got, want)) in now.iter().zip(&golden).enumerate() {
        assert_eq!(
            got, want,
            "entry {i} differs from the fixture: the writer changed the on-disk format; bump \
             FORMAT_VERSION and add a fixture"
        );
    }
    assert_eq!(now.len(), golden.len(), "number of entries");
    assert!(golden[0].contains("\"tree_nodes\""), "{}", golden[0]);
    assert_eq!(
        golden[1],
        format!("meta format_version = {:08x}", aurra::FORMAT_VERSION)
    );
    assert!(
        golden
            .iter()
            .any(|l| l.starts_with("rows <prototype-redb> = 03"))
    );
    Ok(())
}

#[test]
fn a_file_or_record_of_another_format_version_is_refused() -> TestResult {
    let expected = expectations()?;
    let ids = ids_of(expected)?;

    // The file's format version.
    let (_dir, path) = fixture_copy()?;
    {
        let db = redb::Database::open(&path)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("format_version")?.map(|v| v.value().to_vec());
            assert_eq!(found, Some(aurra::FORMAT_VERSION.to_be_bytes().to_vec()));
            meta.insert("format_version", 2u32.to_be_bytes().as_slice())?;
        }
        txn.commit()?;
    }
    match Store::open(&path) {
        Err(Error::IncompatibleFormat {
            found: 2,
            supported,
            ..
        }) => assert_eq!(supported, aurra::FORMAT_VERSION),
        other => panic!("a version 2 file opened: {other:?}"),
    }

    // One record's version byte: 5, which no build has written (row records are of version 3,
    // or 4 for rows that share their input, tests/shared_inputs.rs; 1 and 2 in older files).
    let (_dir, path) = fixture_copy()?;
    let bumped = ids["alice-hooli"];
    {
        let db = redb::Database::open(&path)?;
        let txn = db.begin_write()?;
        {
            let mut rows = txn.open_table(ROWS)?;
            let mut record = rows
                .get(bumped.as_u128())?
                .ok_or("the fixture lacks a row")?
                .value()
                .to_vec();
            assert_eq!(
                record[0], 3,
                "rows with their input inline are of version 3"
            );
            record[0] = 5;
            rows.insert(bumped.as_u128(), record.as_slice())?;
        }
        txn.commit()?;
    }
    let store = Store::open(&path)?;
    let refused = |r: aurra::Result<()>| {
        matches!(
            r,
            Err(Error::IncompatibleFormat {
                found: 5,
                supported: 4,
                ..
            })
        )
    };
    assert!(refused(store.get("acme", bumped).map(drop)));
    assert!(refused(store.audit("acme", bumped).map(drop)));
    assert!(refused(
        store
            .list("acme", &ListQuery::new().mode(ReadMode::History))
            .map(drop)
    ));
    // Other rows are unaffected.
    assert_eq!(
        store.get("acme", ids["office-berlin"])?.decision,
        "The office is in Berlin"
    );
    Ok(())
}
