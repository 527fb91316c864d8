//! The facts extracted from one conversation share it: it is stored once per tenant and each
//! fact refers to it (`NewMemory::conversation`), on every backend. On redb such rows are
//! records of version 4 (2 in files from before compact records) and the file requires the `shared-inputs` feature; a golden fixture
//! (`tests/fixtures/format-v1-shared-inputs.redb`) pins their bytes, and a file that requires
//! a feature this build does not know (`format-v1-requires-unknown-feature.redb`) is refused
//! with `IncompatibleFormat`, untouched.
//!
//! Regenerate the fixtures (only when their format changes) with
//! `AURRA_REGENERATE_FIXTURES=1 cargo test --test shared_inputs`.

#[macro_use]
mod backends;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aurra::{
    Error, ListQuery, ManualClock, Memory, MemoryId, NewMemory, ReadMode, Store, StoreOptions,
    Timestamp, WriteShape,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{Value, json};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A conversation of `turns` lines, each `width` characters.
fn conversation(turns: usize, width: usize) -> Arc<str> {
    (0..turns)
        .map(|i| format!("User: line {i:05} {}", "x".repeat(width)))
        .collect::<Vec<_>>()
        .join("\n")
        .into()
}

fn fact(text: &str, conversation: &Arc<str>) -> NewMemory {
    let mut m = NewMemory::new(text)
        .with_source("agent_session")
        .with_session("s1")
        .with_conversation(conversation.clone());
    m.shape = WriteShape::Messages;
    m
}

on_every_backend! {
    /// Every fact shows the whole conversation as its input and its first 500 characters as
    /// its message; a message given explicitly is kept.
    fn facts_of_one_conversation_show_it_whole(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let talk = conversation(40, 60);
        let mut own = fact("User has a dog", &talk);
        own.original_message = Some("User: I have a dog".into());
        let saved = store.write_batch(
            "acme",
            vec![fact("User likes tea", &talk), fact("User lives in Oslo", &talk), own],
        )?;
        let ids: Vec<MemoryId> = saved.iter().map(|o| o.saved_id().expect("saved")).collect();
        let prefix: String = talk.chars().take(aurra::ORIGINAL_MESSAGE_MAX_CHARS).collect();
        for (i, id) in ids.iter().enumerate() {
            let m = store.get("acme", *id)?;
            assert_eq!(&*m.original_input, &*talk);
            let message = if i == 2 { "User: I have a dog" } else { prefix.as_str() };
            assert_eq!(m.original_message, message);
            let (audited, _) = store.audit("acme", *id)?;
            assert_eq!(&*audited.original_input, &*talk);
        }
        // Read back in one list, they share one copy of it.
        let list = store.list("acme", &ListQuery::new())?;
        assert_eq!(list.memories.len(), 3);
        assert!(list
            .memories
            .windows(2)
            .all(|w| Arc::ptr_eq(&w[0].original_input, &w[1].original_input)));
        // A conversation and an original input exclude each other.
        let mut both = fact("User is tired", &talk);
        both.original_input = Some("other".into());
        assert!(matches!(
            store.write("acme", both),
            Err(Error::InvalidArgument(_))
        ));
        Ok(())
    }

    /// The same conversation in two requests and two tenants; a tenant's delete takes its
    /// copy and leaves the other's.
    fn a_conversation_is_kept_per_tenant_and_deleted_with_it(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let talk = conversation(5, 20);
        let mut other = fact("User likes rain", &talk);
        other.tenant = Some("t2".into());
        store.write("acme", fact("User likes tea", &talk))?;
        store.write("acme", fact("User likes coffee", &talk))?;
        let kept = store.write("acme", other)?.saved_id().expect("saved");
        assert_eq!(store.delete_tenant("acme", None)?, 2);
        assert_eq!(&*store.get("acme", kept)?.original_input, &*talk);
        let again = store.write("acme", fact("User likes tea", &talk))?;
        let again = store.get("acme", again.saved_id().expect("saved"))?;
        assert_eq!(&*again.original_input, &*talk);
        Ok(())
    }
}

/// What a request stores grows with its input, not with its input times its facts: 200 facts
/// of a 100 KB conversation add about the conversation, once.
#[test]
fn storage_is_proportional_to_the_input_not_to_the_facts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s.redb");
    let store = Store::open_with(&path, StoreOptions::new().durable(false))?;
    store.write("acme", NewMemory::new("warm up"))?;
    drop(store);
    let mut db = redb::Database::open(&path)?;
    while db.compact()? {}
    drop(db);
    let before = fs::metadata(&path)?.len();
    let talk = conversation(1000, 90);
    assert!(talk.len() > 100_000);
    let store = Store::open_with(&path, StoreOptions::new().durable(false))?;
    let facts = (0..200)
        .map(|i| fact(&format!("User fact number {i}"), &talk))
        .collect();
    let saved = store.write_batch("acme", facts)?;
    assert!(saved.iter().all(|o| o.saved_id().is_some()));
    drop(store);
    let mut db = redb::Database::open(&path)?;
    while db.compact()? {}
    drop(db);
    let grown = fs::metadata(&path)?.len() - before;
    // One copy is ~100 KB; 200 copies would be 20 MB.
    assert!(
        grown < 4 * talk.len() as u64,
        "200 facts of a {} byte conversation grew the file by {grown} bytes",
        talk.len()
    );
    Ok(())
}

// --- The redb fixtures ------------------------------------------------------------------------

const FIXTURE: &str = "format-v1-shared-inputs.redb";
const EXPECTED: &str = "format-v1-shared-inputs.expected.json";
const UNKNOWN: &str = "format-v1-requires-unknown-feature.redb";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn at(hours: i64) -> Timestamp {
    Timestamp::parse("2026-02-01T09:00:00Z")
        .expect("valid")
        .saturating_add_micros(hours * 3_600_000_000)
}

/// The fixture's writes: two facts of one conversation with derived messages, one with its
/// own, the conversation again in another tenant, and a content-mode row beside them.
fn build(path: &Path) -> aurra::Result<BTreeMap<String, MemoryId>> {
    let clock = ManualClock::new(at(0));
    let store = Store::open_with(path, StoreOptions::new().clock(clock.clone()))?;
    let talk: Arc<str> =
        "User: I moved to Oslo last spring.\nAssistant: Nice!\nUser: I also got a dog.".into();
    let mut own = fact("User has a dog", &talk);
    own.original_message = Some("User: I also got a dog.".into());
    let first = store.write_batch(
        "acme",
        vec![
            fact("User lives in Oslo", &talk),
            fact("User moved last spring", &talk),
            own,
        ],
    )?;
    clock.set(at(1));
    let mut elsewhere = fact("User lives in Oslo", &talk);
    elsewhere.tenant = Some("travel".into());
    let second = store.write_batch("acme", vec![elsewhere, NewMemory::new("Content row")])?;
    let names = ["oslo", "spring", "dog", "oslo-travel", "content"];
    let ids = first
        .iter()
        .chain(&second)
        .map(|o| o.saved_id().expect("saved"));
    Ok(names.iter().map(|n| (*n).to_owned()).zip(ids).collect())
}

fn memory_json(m: &Memory) -> Value {
    json!({
        "id": m.id.to_string(), "tenant": m.tenant, "decision": m.decision,
        "original_message": m.original_message, "original_input": &*m.original_input,
        "created_at": m.created_at.to_string(), "session_id": m.session_id,
    })
}

/// Every row as read back: get, audit and both tenants' lists.
fn reads(store: &Store, ids: &BTreeMap<String, MemoryId>) -> aurra::Result<Value> {
    let mut out = serde_json::Map::new();
    for (name, id) in ids {
        let (m, events) = store.audit("acme", *id)?;
        assert_eq!(store.get("acme", *id)?, m);
        out.insert(
            name.clone(),
            json!({"memory": memory_json(&m), "events": events.len()}),
        );
    }
    for tenant in [None, Some("travel")] {
        let mut q = ListQuery::new().mode(ReadMode::History);
        q.tenant = tenant.map(str::to_owned);
        let list: Vec<Value> = store
            .list("acme", &q)?
            .memories
            .iter()
            .map(memory_json)
            .collect();
        out.insert(format!("list {tenant:?}"), json!(list));
    }
    Ok(Value::Object(out))
}

const INPUTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inputs");
const ROWS: TableDefinition<u128, &[u8]> = TableDefinition::new("rows");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The rows (ids by name), the shared inputs and the required features of a file.
fn records(path: &Path, ids: &BTreeMap<String, MemoryId>) -> TestResult<Vec<String>> {
    let db = redb::Database::open(path)?;
    let txn = db.begin_read()?;
    let mut out = Vec::new();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut tokens: Vec<(String, String)> = ids
        .iter()
        .map(|(n, id)| (hex(&id.as_u128().to_be_bytes()), format!("<{n}>")))
        .collect();
    tokens.sort();
    let tokenise = |s: String| {
        tokens
            .iter()
            .fold(s, |s, (id, name)| s.replace(id.as_str(), name))
    };
    for entry in txn.open_table(ROWS)?.iter()? {
        let (k, v) = entry?;
        let name = ids
            .iter()
            .find(|(_, id)| id.as_u128() == k.value())
            .map(|(n, _)| n.clone())
            .ok_or("an unnamed row")?;
        out.push(format!("row {name} = {}", tokenise(hex(v.value()))));
    }
    for entry in txn.open_table(INPUTS)?.iter()? {
        let (k, v) = entry?;
        out.push(format!("input {} = {}", hex(k.value()), hex(v.value())));
    }
    let features = txn.open_table(META)?;
    let features = features
        .get("required_features")?
        .ok_or("no required features")?;
    out.push(format!("required_features = {}", hex(features.value())));
    Ok(out)
}

fn regenerate() -> TestResult {
    let scratch = tempfile::tempdir()?;
    let path = scratch.path().join(FIXTURE);
    let ids = build(&path)?;
    {
        let mut db = redb::Database::open(&path)?;
        while db.compact()? {}
    }
    let store = Store::open_with(&path, StoreOptions::new().clock(ManualClock::new(at(2))))?;
    let expected = json!({
        "about": "Rows sharing an input (row records of version 4); see tests/shared_inputs.rs.",
        "ids": ids.iter().map(|(k, v)| (k.clone(), json!(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "reads": reads(&store, &ids)?,
    });
    drop(store);
    fs::copy(&path, fixtures().join(FIXTURE))?;
    fs::write(
        fixtures().join(EXPECTED),
        serde_json::to_string_pretty(&expected)? + "\n",
    )?;
    // The same file, requiring a feature of a build from the future.
    let future = scratch.path().join(UNKNOWN);
    fs::copy(&path, &future)?;
    {
        let db = redb::Database::open(&future)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let features: Vec<String> = vec!["shared-inputs".into(), "from-the-future".into()];
            let mut bytes = vec![1u8];
            bytes.extend(postcard_strings(&features));
            meta.insert("required_features", bytes.as_slice())?;
        }
        txn.commit()?;
    }
    fs::copy(&future, fixtures().join(UNKNOWN))?;
    Ok(())
}

/// postcard's encoding of a list of strings: varint lengths, then the bytes.
fn postcard_strings(items: &[String]) -> Vec<u8> {
    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut out = Vec::new();
    varint(items.len(), &mut out);
    for item in items {
        varint(item.len(), &mut out);
        out.extend_from_slice(item.as_bytes());
    }
    out
}

fn expected() -> TestResult<Value> {
    if std::env::var_os("AURRA_REGENERATE_FIXTURES").is_some_and(|v| !v.is_empty()) {
        regenerate()?;
    }
    Ok(serde_json::from_str(&fs::read_to_string(
        fixtures().join(EXPECTED),
    )?)?)
}

fn ids_of(expected: &Value) -> TestResult<BTreeMap<String, MemoryId>> {
    expected["ids"]
        .as_object()
        .ok_or("no ids")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or("id")?.parse()?)))
        .collect()
}

#[test]
fn the_shared_inputs_fixture_reads_back_and_the_writer_writes_its_bytes() -> TestResult {
    let expected = expected()?;
    let ids = ids_of(&expected)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(FIXTURE);
    fs::copy(fixtures().join(FIXTURE), &path)?;
    let golden = records(&path, &ids)?;
    let store = Store::open_with(&path, StoreOptions::new().clock(ManualClock::new(at(2))))?;
    assert_eq!(reads(&store, &ids)?, expected["reads"]);
    // One copy of the conversation per tenant that has it; rows of version 4 and 3.
    assert_eq!(golden.iter().filter(|l| l.starts_with("input ")).count(), 2);
    assert!(golden.iter().any(|l| l.starts_with("row oslo = 04")));
    assert!(golden.iter().any(|l| l.starts_with("row content = 03")));
    drop(store);

    let scratch = tempfile::tempdir()?;
    let now = scratch.path().join("now.redb");
    let written = build(&now)?;
    assert_eq!(
        records(&now, &written)?,
        golden,
        "the writer changed these records"
    );
    Ok(())
}

/// The fixture as written before compact row records (versions 2 and 1) and posting blocks.
const BEFORE_COMPACT: (&str, &str) = (
    "format-v1-shared-inputs-before-compact.redb",
    "format-v1-shared-inputs-before-compact.expected.json",
);

#[test]
fn shared_inputs_written_before_compact_records_read_back_as_recorded() -> TestResult {
    let (file, expectations) = BEFORE_COMPACT;
    let expected: Value =
        serde_json::from_str(&fs::read_to_string(fixtures().join(expectations))?)?;
    let ids = ids_of(&expected)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(file);
    fs::copy(fixtures().join(file), &path)?;
    let old = records(&path, &ids)?;
    assert!(old.iter().any(|l| l.starts_with("row oslo = 02")));
    assert!(old.iter().any(|l| l.starts_with("row content = 01")));
    let store = Store::open_with(&path, StoreOptions::new().clock(ManualClock::new(at(2))))?;
    assert_eq!(reads(&store, &ids)?, expected["reads"]);
    let hits = store.search("acme", &aurra::SearchQuery::new("Oslo").limit(10))?;
    assert!(!hits.hits.is_empty(), "the re-indexed rows are searchable");
    Ok(())
}

#[test]
fn a_file_that_requires_an_unknown_feature_is_refused_untouched() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(UNKNOWN);
    fs::copy(fixtures().join(UNKNOWN), &path)?;
    let ids = ids_of(&expected()?)?;
    let before = records(&path, &ids)?;
    for _ in 0..2 {
        match Store::open(&path) {
            Err(Error::IncompatibleFormat {
                unknown_features, ..
            }) => assert_eq!(unknown_features, ["from-the-future"]),
            other => panic!("a file requiring an unknown feature opened: {other:?}"),
        }
    }
    // Nothing of it was rewritten (redb may touch its own header, never a record).
    assert_eq!(records(&path, &ids)?, before);
    Ok(())
}
