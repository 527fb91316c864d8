//! Import (`Store::import`) on every backend and between them: an export imported into a
//! fresh store of the other backend reads back identically in every read mode at every
//! instant the source has (lists, searches, timelines, audits), and exports the same file;
//! a rerun after an interruption completes without duplicates; a tampered, cut, newer or
//! inconsistent file is refused naming its line, and leaves the store as it was.

#[macro_use]
mod backends;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::Arc;

use aurra::export::ExportRecord;
use aurra::{
    Clock as _, Embedder, Error, ExportScope, ImportReport, ListQuery, ManualClock, MemoryId,
    NewMemory, ReadMode, Result, SearchQuery, SettingsPatch, Store, StoreOptions, Supersede,
    Timestamp, WriteShape,
};
use backends::{Kind, TestBackend};

/// Deterministic, in-process, 4 dimensions.
#[derive(Debug)]
struct TinyEmbedder;

impl Embedder for TinyEmbedder {
    fn space(&self) -> &str {
        "import-test-v1"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![1f32; 4];
                for (i, b) in t.bytes().enumerate() {
                    v[i % 4] += f32::from(b % 7);
                }
                v
            })
            .collect())
    }
}

const ACCOUNTS: [&str; 2] = ["acme", "globex"];

fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .embedder(TinyEmbedder)
}

/// A store with a bit of everything: tenants, sources, sessions, a conversation's facts,
/// back-dated and recorded facts, supersessions, an expiry followed by a supersession (two
/// versions), an empty interval, accounts, keys with settings, the operator credential.
fn source_store(backend: &TestBackend, clock: &ManualClock) -> Result<Store> {
    let store = backend.try_open(options(clock))?;
    store.create_account("acme")?;
    store.create_account("globex")?;
    let (key, _) = store.create_api_key("acme", "laptop")?;
    store.update_settings(
        key.id,
        SettingsPatch {
            auto_supersede_default: Some(true),
            ..SettingsPatch::default()
        },
    )?;
    let (old, _) = store.create_api_key("globex", "ci")?;
    store.revoke_api_key(old.id)?;
    store.ensure_operator_token()?;
    let write = |account: &str, m: NewMemory| -> Result<MemoryId> {
        Ok(store.write(account, m)?.saved_id().expect("saved"))
    };
    let paris = write(
        "acme",
        NewMemory::new("Alice lives in Paris").with_tenant("t1"),
    )?;
    clock.advance(60_000_000);
    let lyon = write(
        "acme",
        NewMemory::new("Alice lives in Lyon")
            .with_tenant("t1")
            .with_source("slack")
            .with_external_id("1700000000.0001"),
    )?;
    let office = write("acme", NewMemory::new("The office is open on Sundays"))?;
    let trial = write(
        "acme",
        NewMemory::new("The trial runs in April")
            .with_valid_from(Timestamp::parse("2026-04-01T00:00:00Z")?),
    )?;
    let conversation: Arc<str> = "user: I moved to Berlin and I work at Globex\n".into();
    let facts = store.write_batch(
        "acme",
        vec![
            NewMemory {
                shape: WriteShape::Messages,
                ..NewMemory::new("User moved to Berlin")
                    .with_conversation(conversation.clone())
                    .with_session("s1")
            },
            NewMemory {
                shape: WriteShape::Messages,
                ..NewMemory::new("User works at Globex")
                    .with_conversation(conversation)
                    .with_session("s1")
            },
        ],
    )?;
    let berlin = facts[0].saved_id().expect("saved");
    write(
        "globex",
        NewMemory::new("Globex ships on Fridays")
            .with_recorded_at(Timestamp::parse("2025-12-24T10:00:00Z")?)
            .with_tenant("ops"),
    )?;
    clock.advance(60_000_000);
    let supersede = |account: &str, id, by, valid_to| {
        store.supersede(
            account,
            id,
            Supersede {
                superseded_by: by,
                valid_to,
            },
            "tester",
        )
    };
    supersede("acme", paris, Some(lyon), None)?;
    clock.advance(60_000_000);
    supersede("acme", office, None, Some(clock.now()))?;
    // An end before the start: stored as an empty interval, the request kept in the event.
    supersede(
        "acme",
        trial,
        None,
        Some(Timestamp::parse("2026-03-15T00:00:00Z")?),
    )?;
    clock.advance(30_000_000);
    // Expired, then superseded: two versions at two instants.
    supersede("acme", berlin, None, Some(clock.now()))?;
    clock.advance(30_000_000);
    let munich = write("acme", NewMemory::new("User moved to Munich"))?;
    supersede("acme", berlin, Some(munich), None)?;
    clock.advance(60_000_000);
    Ok(store)
}

fn export_lines(store: &Store, scope: ExportScope) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    store.export(&scope, &mut |r| {
        lines.push(serde_json::to_string(&r).expect("serialise"));
        Ok(())
    })?;
    Ok(lines)
}

fn import_lines(store: &Store, lines: &[String]) -> Result<ImportReport> {
    let mut text = lines.join("\n");
    text.push('\n');
    store.import(&mut Cursor::new(text.into_bytes()), &mut |_| {})
}

/// The export without its header's instant (the only line that says when it was taken).
fn body(lines: &[String]) -> Vec<String> {
    lines[1..].to_vec()
}

/// Every transaction and valid time in the export, one microsecond either side too.
fn instants(lines: &[String]) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for line in lines {
        let Ok(ExportRecord::Memory(m)) = serde_json::from_str::<ExportRecord>(line) else {
            continue;
        };
        let times = [
            Some(m.created_at),
            Some(m.valid_from),
            m.valid_to,
            m.valid_to_set_at,
            m.transaction_time_end,
        ];
        for t in times
            .into_iter()
            .flatten()
            .chain(m.events.iter().map(|e| e.at))
        {
            let t = t.as_micros();
            out.extend([t - 1, t, t + 1]);
        }
    }
    out
}

/// Every read of `a` and `b` agrees: lists and searches in every mode at every instant, for
/// every tenant scope; timelines and audits of every memory.
fn same_reads(a: &Store, b: &Store, at: &BTreeSet<i64>) -> Result<()> {
    let scopes = [
        ListQuery::new(),
        ListQuery::new().tenant("t1"),
        ListQuery::new().tenant("ops"),
        ListQuery::new().all_tenants(),
    ];
    for account in ACCOUNTS {
        let history = a.list(
            account,
            &ListQuery::new()
                .all_tenants()
                .mode(ReadMode::History)
                .limit(1000),
        )?;
        assert!(!history.memories.is_empty());
        for m in &history.memories {
            assert_eq!(a.timeline(account, m.id)?, b.timeline(account, m.id)?);
            assert_eq!(a.audit(account, m.id)?, b.audit(account, m.id)?);
        }
        for &t in at {
            let t = Timestamp::from_micros(t);
            let t2 = Timestamp::from_micros(t.as_micros() - 90_000_000);
            for mode in [
                ReadMode::Current,
                ReadMode::History,
                ReadMode::AsOf(t),
                ReadMode::TransactionAsOf {
                    at: t,
                    include_superseded: false,
                },
                ReadMode::TransactionAsOf {
                    at: t,
                    include_superseded: true,
                },
                ReadMode::Bitemporal {
                    valid_at: t2,
                    transaction_at: t,
                },
            ] {
                for scope in &scopes {
                    let q = scope.clone().mode(mode).limit(1000);
                    assert_eq!(
                        a.list(account, &q)?,
                        b.list(account, &q)?,
                        "{account} {q:?}"
                    );
                    for words in ["Alice lives", "office Sundays", "User moved Berlin"] {
                        let mut s = SearchQuery::new(words).mode(mode).limit(50);
                        s.tenant = q.tenant.clone();
                        s.all_tenants = q.all_tenants;
                        assert_eq!(
                            a.search(account, &s)?,
                            b.search(account, &s)?,
                            "{account} {s:?}"
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Export from `from`, import into a fresh `to`: the same reads and the same export.
fn round_trip(from: Kind, to: Kind) -> Result<()> {
    let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
    let (source_backend, target_backend) = (TestBackend::new(from), TestBackend::new(to));
    let source = source_store(&source_backend, &clock)?;
    let lines = export_lines(&source, ExportScope::default())?;
    let target = target_backend.try_open(options(&clock))?;
    let report = import_lines(&target, &lines)?;
    assert_eq!(
        (
            report.memories,
            report.accounts,
            report.api_keys,
            report.operator
        ),
        (8, 2, 2, true)
    );
    assert_eq!(report.events, 5);
    assert_eq!(report.vectors, 8);
    assert_eq!(
        body(&export_lines(&target, ExportScope::default())?),
        body(&lines)
    );
    clock.advance(1_000_000);
    same_reads(&source, &target, &instants(&lines))?;
    // The keys work in the new store; the revoked one does not.
    let keys = target.api_keys()?;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.iter().filter(|k| k.revoked_at.is_some()).count(), 1);
    assert_eq!(source.api_keys()?, keys);
    let acme = keys
        .iter()
        .find(|k| k.account == "acme")
        .expect("acme's key");
    assert_eq!(source.settings(acme.id)?, target.settings(acme.id)?);
    assert_eq!(source.accounts()?, target.accounts()?);
    assert_eq!(source.usage("acme")?, target.usage("acme")?);
    assert_eq!(source.operator_issued_at()?, target.operator_issued_at()?);
    // And it keeps working: a write after the import is newer than everything imported.
    let id = target
        .write(
            "acme",
            NewMemory::new("Alice lives in Nice").with_tenant("t1"),
        )?
        .saved_id()
        .expect("saved");
    let newest = target.list(
        "acme",
        &ListQuery::new().tenant("t1").mode(ReadMode::History),
    )?;
    assert_eq!(newest.memories[0].id, id, "newest of its tenant");
    Ok(())
}

#[test]
fn redb_to_redb() -> Result<()> {
    round_trip(Kind::Redb, Kind::Redb)
}

#[cfg(feature = "postgres")]
#[test]
fn redb_to_postgres() -> Result<()> {
    round_trip(Kind::Redb, Kind::Postgres)
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_to_redb() -> Result<()> {
    round_trip(Kind::Postgres, Kind::Redb)
}

#[cfg(feature = "postgres")]
#[test]
fn partitioned_postgres_to_postgres() -> Result<()> {
    round_trip(Kind::PostgresPartitioned, Kind::Postgres)
}

fn is_line_error(e: &Error, line: usize, words: &str) -> bool {
    let text = e.to_string();
    text.contains(&format!("line {line}: ")) && text.contains(words)
}

on_every_backend! {
    /// An import cut short writes what it read, says so, and a rerun of the whole file
    /// completes it without writing anything twice.
    fn an_interrupted_import_resumes(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
        let source = Store::in_memory_with(options(&clock))?;
        for i in 0..5000 {
            source.write("acme", NewMemory::new(format!("fact number {i}")).with_tenant(if i % 2 == 0 { "even" } else { "odd" }))?;
            if i % 1000 == 0 {
                clock.advance(1_000_000);
            }
        }
        let lines = export_lines(&source, ExportScope { account: Some("acme".into()), tenant: None })?;
        // Writes at one clock reading are stamped a microsecond apart: let the clock pass them.
        clock.advance(1_000_000);
        let target = backend.try_open(options(&clock))?;
        // Cut after 3000 memories: two batches of the first tenant commit, the rest waits.
        let cut = import_lines(&target, &lines[..3001]).expect_err("cut short");
        assert!(cut.to_string().contains("without its end record"), "{cut}");
        let partial = export_lines(&target, ExportScope { account: Some("acme".into()), tenant: None })?;
        assert_eq!(partial.len() - 2, 3000, "what the cut file held is in");
        let report = import_lines(&target, &lines)?;
        assert_eq!((report.memories, report.memories_present), (2000, 3000));
        assert_eq!(body(&export_lines(&target, ExportScope { account: Some("acme".into()), tenant: None })?), body(&lines));
        // A third run finds everything there.
        let again = import_lines(&target, &lines)?;
        assert_eq!((again.memories, again.memories_present), (0, 5000));
        Ok(())
    }

    /// A memory that differs from the one with its id here is refused, naming its line and
    /// field; the batch it is in writes nothing.
    fn a_tampered_line_is_refused(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
        let source_backend = TestBackend::new(Kind::Redb);
        let source = source_store(&source_backend, &clock)?;
        let lines = export_lines(&source, ExportScope::default())?;
        let target = backend.try_open(options(&clock))?;
        import_lines(&target, &lines)?;
        let before = export_lines(&target, ExportScope::default())?;
        let (n, line) = lines.iter().enumerate().find(|(_, l)| l.contains("Alice lives in Lyon")).expect("Lyon");
        let mut tampered = lines.clone();
        tampered[n] = line.replace("Alice lives in Lyon", "Alice lives in Rome");
        let e = import_lines(&target, &tampered).expect_err("refused");
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(is_line_error(&e, n + 1, "different decision"), "{e}");
        assert_eq!(body(&export_lines(&target, ExportScope::default())?), body(&before));

        // The end record's counts catch a line taken out.
        let (gone, _) = lines.iter().enumerate().find(|(_, l)| l.contains("Globex ships")).expect("Globex");
        let mut shortened = lines.clone();
        shortened.remove(gone);
        let fresh_backend = TestBackend::new(backend.kind);
        let fresh = fresh_backend.try_open(options(&clock))?;
        let e = import_lines(&fresh, &shortened).expect_err("refused");
        assert!(is_line_error(&e, shortened.len(), "altered"), "{e}");
        Ok(())
    }

    /// A newer format, a non-export, a malformed record, an impossible row, a memory older
    /// than its tenant's newest, a transaction time in the store's future: each refused with
    /// its line, nothing written.
    fn bad_files_are_refused_with_their_line(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
        let source = Store::in_memory_with(options(&clock))?;
        source.write("acme", NewMemory::new("first"))?;
        clock.advance(1_000_000);
        source.write("acme", NewMemory::new("second"))?;
        let lines = export_lines(&source, ExportScope { account: Some("acme".into()), tenant: None })?;
        let target = backend.try_open(options(&clock))?;
        let empty = |target: &Store| -> Result<bool> {
            Ok(target.list("acme", &ListQuery::new().all_tenants().mode(ReadMode::History))?.memories.is_empty())
        };

        let mut newer = lines.clone();
        newer[0] = newer[0].replace("\"format_version\":1", "\"format_version\":2");
        let e = import_lines(&target, &newer).expect_err("newer");
        assert!(is_line_error(&e, 1, "format version 2 is newer"), "{e}");

        let e = import_lines(&target, &[r#"{"content":"a fact"}"#.to_owned()]).expect_err("facts");
        assert!(is_line_error(&e, 1, "not an aurra export"), "{e}");

        let mut malformed = lines.clone();
        malformed[1] = malformed[1].replace("\"decision\"", "\"decisoin\"");
        let e = import_lines(&target, &malformed).expect_err("malformed");
        assert!(is_line_error(&e, 2, "not an export record"), "{e}");

        let mut impossible = lines.clone();
        impossible[2] = impossible[2].replace("\"importance_score\":5", "\"importance_score\":11");
        let e = import_lines(&target, &impossible).expect_err("impossible");
        assert!(is_line_error(&e, 3, "importance_score"), "{e}");
        assert!(empty(&target)?, "a refused batch writes nothing");

        // The store's clock is behind the file's times.
        let behind_backend = TestBackend::new(backend.kind);
        let behind_clock = ManualClock::new(Timestamp::parse("2026-02-01T00:00:00Z")?);
        let behind = behind_backend.try_open(options(&behind_clock))?;
        let e = import_lines(&behind, &lines).expect_err("future");
        assert!(is_line_error(&e, 2, "after this store's clock"), "{e}");
        assert!(empty(&behind)?);

        // A tenant that holds newer memories here is not appended to.
        clock.advance(1_000_000);
        target.write("acme", NewMemory::new("already here"))?;
        let e = import_lines(&target, &lines).expect_err("older");
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(is_line_error(&e, 2, "older than memory"), "{e}");
        assert_eq!(target.list("acme", &ListQuery::new().mode(ReadMode::History))?.memories.len(), 1);
        Ok(())
    }

    /// A bulk load of facts: the write's defaults and duplicate rule (within the load and
    /// against what is here), in one transaction, and no write request counted in the
    /// account's usage.
    fn facts_load_without_counting_as_writes(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
        let store = backend.try_open(options(&clock))?;
        store.write("acme", NewMemory::new("Alice lives in Lyon").with_tenant("alice"))?;
        let before = store.usage("acme")?.writes_used;
        let facts = vec![
            NewMemory::new("Alice lives in Lyon").with_tenant("alice"),
            NewMemory::new("Alice likes tea").with_tenant("alice"),
            NewMemory::new("Alice likes tea").with_tenant("alice"),
            NewMemory::new("Alice likes tea").with_tenant("bob"),
        ];
        let outcomes = store.load_facts("acme", facts)?;
        let saved: Vec<bool> = outcomes.iter().map(|o| matches!(o, aurra::WriteOutcome::Saved(_))).collect();
        assert_eq!(saved, [false, true, false, true]);
        assert_eq!(store.usage("acme")?.writes_used, before, "a load is not a write request");
        let alice = store.list("acme", &ListQuery::new().tenant("alice"))?.memories;
        assert_eq!(alice.len(), 2);
        assert!(alice.iter().all(|m| m.source == "agent" && m.importance_score == 5));
        // A refused fact refuses its whole batch.
        let e = store.load_facts("acme", vec![NewMemory::new("fine"), NewMemory::new("  ")]).expect_err("empty");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(store.list("acme", &ListQuery::new())?.memories.iter().all(|m| m.decision != "fine"));
        Ok(())
    }
}
