//! Export (`Store::export`, `aurra export`) on every backend: every memory of the scope once,
//! with what the store reads back for it (its fields, when each part was set, its stored
//! audit events, its vector and space), the accounts, key hashes, settings and usage of a
//! whole store, a header first and the totals last; pages that keep memory flat visit every
//! row once.

#[macro_use]
mod backends;

use std::collections::{BTreeMap, HashSet};

use aurra::export::{EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ExportRecord, ExportTotals};
use aurra::{
    Embedder, ExportScope, ListQuery, ManualClock, MemoryId, NewMemory, ReadMode, Result,
    SettingsPatch, Store, StoreOptions, Supersede, Timestamp,
};
use backends::TestBackend;

/// Deterministic, in-process, 4 dimensions.
#[derive(Debug)]
struct TinyEmbedder;

impl Embedder for TinyEmbedder {
    fn space(&self) -> &str {
        "export-test-v1"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![1f32; 4];
                for (i, b) in t.bytes().enumerate() {
                    v[i % 4] += f32::from(b);
                }
                v
            })
            .collect())
    }
}

fn export(store: &Store, scope: ExportScope) -> Result<(Vec<ExportRecord>, ExportTotals)> {
    let mut records = Vec::new();
    let totals = store.export(&scope, &mut |r| {
        // Through the file format and back: what a reader of the file gets.
        let line = serde_json::to_string(&r).expect("serialise");
        assert!(!line.contains('\n'), "one record, one line");
        records.push(serde_json::from_str(&line).expect("read back"));
        Ok(())
    })?;
    Ok((records, totals))
}

fn memories(records: &[ExportRecord]) -> Vec<&aurra::export::ExportedMemory> {
    records
        .iter()
        .filter_map(|r| match r {
            ExportRecord::Memory(m) => Some(m.as_ref()),
            _ => None,
        })
        .collect()
}

struct World {
    store: Store,
    clock: ManualClock,
    paris: MemoryId,
    lyon: MemoryId,
    ended: MemoryId,
    empty: MemoryId,
}

fn world(backend: &TestBackend) -> Result<World> {
    let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
    let store = backend.try_open(
        StoreOptions::new()
            .clock(clock.clone())
            .embedder(TinyEmbedder),
    )?;
    let write = |m: NewMemory| -> Result<MemoryId> {
        Ok(store.write("acme", m)?.saved_id().expect("saved"))
    };
    let paris = write(NewMemory::new("Alice lives in Paris").with_tenant("t1"))?;
    clock.advance(60_000_000);
    let lyon = write(NewMemory::new("Alice lives in Lyon").with_tenant("t1"))?;
    let ended = write(NewMemory::new("The office is open on Sundays"))?;
    let empty = write(
        NewMemory::new("The trial runs in April")
            .with_valid_from(Timestamp::parse("2026-04-01T00:00:00Z")?),
    )?;
    store.write("globex", NewMemory::new("Globex ships on Fridays"))?;
    clock.advance(60_000_000);
    store.supersede(
        "acme",
        paris,
        Supersede {
            superseded_by: Some(lyon),
            valid_to: None,
        },
        "tester",
    )?;
    clock.advance(60_000_000);
    store.supersede(
        "acme",
        ended,
        Supersede {
            superseded_by: None,
            valid_to: Some(clock.now()),
        },
        "tester",
    )?;
    // An end before the start: stored as an empty interval, the request kept in the event.
    store.supersede(
        "acme",
        empty,
        Supersede {
            superseded_by: None,
            valid_to: Some(Timestamp::parse("2026-03-15T00:00:00Z")?),
        },
        "tester",
    )?;
    Ok(World {
        store,
        clock,
        paris,
        lyon,
        ended,
        empty,
    })
}

use aurra::Clock as _;

on_every_backend! {
    fn an_accounts_export_holds_every_memory_as_the_store_reads_it(backend: &TestBackend) -> Result<()> {
        let w = world(backend)?;
        let (records, totals) = export(&w.store, ExportScope { account: Some("acme".into()), tenant: None })?;
        let ExportRecord::Header(header) = &records[0] else { panic!("no header first: {:?}", records[0]) };
        assert_eq!((header.format.as_str(), header.format_version), (EXPORT_FORMAT, EXPORT_FORMAT_VERSION));
        assert_eq!(header.account.as_deref(), Some("acme"));
        assert!(!header.whole_store);
        assert_eq!(records.last(), Some(&ExportRecord::End(totals)));
        // An account's export holds no accounts or keys, and nothing of globex.
        assert!(records.iter().all(|r| !matches!(r, ExportRecord::Account(_) | ExportRecord::ApiKey(_) | ExportRecord::Operator(_))));
        let exported = memories(&records);
        // Tenant by tenant (the default one first), each oldest first.
        let order: Vec<_> = exported.iter().map(|m| (m.tenant.clone(), m.created_at, m.id)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(totals.memories, 4);
        assert_eq!(exported.len(), 4);
        assert!(exported.iter().all(|m| m.account == "acme"));

        let history = w.store.list("acme", &ListQuery::new().all_tenants().mode(ReadMode::History).limit(100))?;
        let listed: HashSet<MemoryId> = history.memories.iter().map(|m| m.id).collect();
        let ids: HashSet<MemoryId> = exported.iter().map(|m| m.id).collect();
        assert_eq!(ids, listed, "every memory, once");

        let mut events = 0;
        for m in &exported {
            let (read, audit) = w.store.audit("acme", m.id)?;
            assert_eq!(
                (&m.decision, &m.tenant, &m.source, m.created_at, m.valid_from, m.valid_to, m.superseded_by, m.transaction_time_end),
                (&read.decision, &read.tenant, &read.source, read.created_at, read.valid_from, read.valid_to, read.superseded_by, read.transaction_time_end),
            );
            assert_eq!(m.original_input, read.original_input.to_string());
            let stored: Vec<_> = audit
                .iter()
                .filter(|e| !matches!(e.kind.as_str(), "created" | "memory.created"))
                .collect();
            assert_eq!(m.events.len(), stored.len(), "{m:?}");
            for (got, want) in m.events.iter().zip(stored) {
                assert_eq!((got.kind, got.at, &got.by), (want.kind, want.at, &want.by));
                assert_eq!(got.requested_valid_to, want.details.requested_valid_to());
            }
            events += m.events.len() as u64;
            let vector = m.vector.as_ref().expect("a vector of the embedder's space");
            assert_eq!(vector.values.len(), 4);
            let norm: f32 = vector.values.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        }
        assert_eq!(totals.events, events);
        assert_eq!(totals.vectors, 4);
        let tags: HashSet<u64> = exported.iter().map(|m| m.vector.as_ref().unwrap().space_tag).collect();
        assert_eq!(tags.len(), 1, "one space");

        // When each part was set: the supersession's instant for Paris, the expiry's for the
        // office; the empty interval keeps what was asked in its event.
        let by_id: BTreeMap<MemoryId, _> = exported.iter().map(|m| (m.id, *m)).collect();
        let paris = by_id[&w.paris];
        assert_eq!(paris.superseded_by, Some(w.lyon));
        assert!(paris.valid_to_set_at.is_some());
        assert_eq!(paris.valid_to_set_at, paris.transaction_time_end);
        let ended = by_id[&w.ended];
        assert_eq!(ended.transaction_time_end, None);
        assert_eq!(ended.valid_to_set_at, Some(ended.events[0].at));
        assert!(ended.valid_to_set_at.unwrap() <= w.clock.now());
        let empty = by_id[&w.empty];
        assert_eq!(empty.valid_to, Some(empty.valid_from));
        assert_eq!(
            empty.events[0].requested_valid_to,
            Some(Timestamp::parse("2026-03-15T00:00:00Z")?)
        );
        assert_eq!(by_id[&w.lyon].events.len(), 0);

        // One tenant, and the default tenant.
        let (t1, _) = export(&w.store, ExportScope { account: Some("acme".into()), tenant: Some(Some("t1".into())) })?;
        let t1: HashSet<MemoryId> = memories(&t1).iter().map(|m| m.id).collect();
        assert_eq!(t1, HashSet::from([w.paris, w.lyon]));
        let (default, _) = export(&w.store, ExportScope { account: Some("acme".into()), tenant: Some(None) })?;
        let default: HashSet<MemoryId> = memories(&default).iter().map(|m| m.id).collect();
        assert_eq!(default, HashSet::from([w.ended, w.empty]));
        Ok(())
    }

    fn a_whole_store_export_holds_accounts_keys_settings_and_usage(backend: &TestBackend) -> Result<()> {
        let w = world(backend)?;
        let (key, secret) = w.store.create_api_key("acme", "ci")?;
        w.store.update_settings(key.id, SettingsPatch { freshness_half_life_days: Some(12.0), ..Default::default() })?;
        let (old, _) = w.store.create_api_key("initech", "old")?;
        w.store.revoke_api_key(old.id)?;
        w.store.set_account_plan("acme", aurra::AccountPlan { tier: Some("pro".into()), writes_limit: Some(9) })?;
        let operator = w.store.ensure_operator_token()?.expect("issued");
        let (records, totals) = export(&w.store, ExportScope::default())?;
        let ExportRecord::Header(header) = &records[0] else { panic!("no header") };
        assert!(header.whole_store && header.account.is_none());

        let accounts: Vec<_> = records.iter().filter_map(|r| match r { ExportRecord::Account(a) => Some(a), _ => None }).collect();
        let acme = accounts.iter().find(|a| a.id == "acme").expect("acme");
        assert_eq!((acme.plan_tier.as_deref(), acme.writes_limit), (Some("pro"), Some(9)));
        let usage = acme.usage.as_ref().expect("usage");
        assert_eq!(usage.writes_used, w.store.usage("acme")?.writes_used);
        assert_eq!(usage.writes_by_day, w.store.usage("acme")?.writes_by_day);
        assert_eq!(totals.accounts, accounts.len() as u64);

        let keys: Vec<_> = records.iter().filter_map(|r| match r { ExportRecord::ApiKey(k) => Some(k), _ => None }).collect();
        assert_eq!(keys.len(), 2, "acme's ci key and initech's revoked one");
        let ci = keys.iter().find(|k| k.id == key.id).expect("the ci key");
        assert_eq!(ci.settings.as_ref().map(|s| s.freshness_half_life_days), Some(12.0));
        assert!(keys.iter().find(|k| k.id == old.id).unwrap().revoked_at.is_some());
        // Hashes only: no secret anywhere in the file.
        let text: String = records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        assert!(!text.contains(&secret) && !text.contains(&operator));
        let hash = |s: &str| -> String {
            use sha2::Digest;
            sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_eq!(ci.hash, hash(&secret));
        assert!(records.iter().any(|r| matches!(r, ExportRecord::Operator(o) if o.hash == hash(&operator))));

        // Every account's memories, globex's too (it has memories and no account record).
        let exported = memories(&records);
        assert_eq!(exported.iter().filter(|m| m.account == "globex").count(), 1);
        assert_eq!(exported.len(), 5);
        assert_eq!(records.last(), Some(&ExportRecord::End(totals)));
        Ok(())
    }

    fn pages_visit_every_row_once(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let mut written = HashSet::new();
        for batch in 0..11 {
            let facts = (0..100)
                .map(|i| NewMemory::new(format!("fact {batch} {i} item{:x}", (batch * 100 + i) * 7919)).with_tenant("bulk"))
                .collect();
            for outcome in store.write_batch("acme", facts)? {
                written.insert(outcome.saved_id().expect("saved"));
            }
        }
        let (records, totals) = export(&store, ExportScope { account: Some("acme".into()), tenant: Some(Some("bulk".into())) })?;
        let exported = memories(&records);
        let ids: Vec<MemoryId> = exported.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 1100);
        // Oldest first, the order an import appends them in.
        assert!(exported.windows(2).all(|w| (w[0].created_at, w[0].id) < (w[1].created_at, w[1].id)));
        assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), written);
        assert_eq!(totals.memories, 1100);
        Ok(())
    }
}

#[test]
fn a_bad_scope_is_refused() {
    let store = Store::in_memory().unwrap();
    let mut sink = |_: ExportRecord| Ok(());
    for scope in [
        ExportScope {
            account: Some(String::new()),
            tenant: None,
        },
        ExportScope {
            account: None,
            tenant: Some(Some("t".into())),
        },
        ExportScope {
            account: Some("acme".into()),
            tenant: Some(Some(String::new())),
        },
    ] {
        assert!(
            matches!(
                store.export(&scope, &mut sink),
                Err(aurra::Error::InvalidArgument(_))
            ),
            "{scope:?}"
        );
    }
}
