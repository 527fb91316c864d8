//! Duplicate suppression (spec §9.3): per tenant, against live rows, by fingerprint.

#[macro_use]
mod backends;

use aurra::{ListQuery, MemoryId, NewMemory, Result, StoreOptions, Supersede, WriteOutcome};

fn saved(outcome: WriteOutcome) -> MemoryId {
    outcome.saved_id().expect("saved")
}

on_every_backend! {
    fn same_fingerprint_in_the_same_tenant_returns_the_existing_id(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let first = saved(store.write("a", NewMemory::new("Loves pickleball"))?);
        let again = store.write("a", NewMemory::new("  Loves pickleball "))?;
        assert_eq!(again, WriteOutcome::Duplicate { existing: first });
        // Not semantic: a paraphrase is saved.
        assert!(
            store
                .write("a", NewMemory::new("Enjoys pickleball"))?
                .saved_id()
                .is_some()
        );
        assert_eq!(store.list("a", &ListQuery::new())?.memories.len(), 2);
        Ok(())
    }

    fn other_tenants_sources_and_channels_are_not_duplicates(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        saved(store.write("a", NewMemory::new("x"))?);
        for m in [
            NewMemory::new("x").with_tenant("t"),
            NewMemory::new("x").with_source("notion"),
            NewMemory::new("x").with_channel("other"),
        ] {
            assert!(store.write("a", m)?.saved_id().is_some());
        }
        assert!(store.write("b", NewMemory::new("x"))?.saved_id().is_some());
        Ok(())
    }

    fn only_the_first_hundred_characters_count(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let stem = "a".repeat(100);
        saved(store.write("a", NewMemory::new(format!("{stem} one")))?);
        assert!(matches!(
            store.write("a", NewMemory::new(format!("{stem} two")))?,
            WriteOutcome::Duplicate { .. }
        ));
        Ok(())
    }

    fn slack_rows_are_keyed_by_external_id(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let msg = |text: &str, ts: &str| {
            NewMemory::new(text)
                .with_source("slack")
                .with_external_id(ts)
        };
        let first = saved(store.write("a", msg("hello", "1715.01"))?);
        assert_eq!(
            store.write("a", msg("edited hello", "1715.01"))?,
            WriteOutcome::Duplicate { existing: first }
        );
        assert!(
            store
                .write("a", msg("hello", "1715.02"))?
                .saved_id()
                .is_some()
        );
        Ok(())
    }

    fn a_superseded_or_expired_row_no_longer_suppresses(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let old = saved(store.write("a", NewMemory::new("Status: busy"))?);
        let new = saved(store.write("a", NewMemory::new("Status: free"))?);
        store.supersede(
            "a",
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: None,
            },
            "a",
        )?;
        let again = saved(store.write("a", NewMemory::new("Status: busy"))?);
        assert_ne!(again, old);
        let now = store.now()?;
        store.supersede(
            "a",
            again,
            Supersede {
                superseded_by: None,
                valid_to: Some(now),
            },
            "a",
        )?;
        assert!(
            store
                .write("a", NewMemory::new("Status: busy"))?
                .saved_id()
                .is_some()
        );
        Ok(())
    }

    fn a_batch_suppresses_its_own_repeats(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let out = store.write_batch(
            "a",
            vec![
                NewMemory::new("x"),
                NewMemory::new("y"),
                NewMemory::new("x"),
            ],
        )?;
        let first = out[0].saved_id().expect("saved");
        assert_eq!(out[2], WriteOutcome::Duplicate { existing: first });
        Ok(())
    }
}

on_every_backend! {
    fn duplicates_are_found_before_and_after_the_index_merges_them_and_across_reopening(backend: &TestBackend) -> Result<()> {
        // On redb a row's fingerprint waits in the lexical delta with its terms and joins the
        // duplicate index when the delta is merged (every 64 rows of a scope), or when a handle
        // rebuilds the index; a handle without the index writes it directly.
        let fact = |i: usize| NewMemory::new(format!("Fact {i}: person{} works in city{}", i % 7, i % 5));
        let mut ids = Vec::new();
        {
            let store = backend.try_open(StoreOptions::new())?;
            for i in 0..150 {
                ids.push(saved(store.write("a", fact(i))?));
            }
            // Merged long ago, merged by the last merge, still pending.
            for i in [0, 5, 63, 64, 127, 128, 140, 149] {
                assert_eq!(store.write("a", fact(i))?, WriteOutcome::Duplicate { existing: ids[i] });
            }
            // A row no longer live is no duplicate: one merged, one pending.
            for i in [10, 145] {
                let change = Supersede { superseded_by: None, valid_to: Some(store.now()?) };
                assert!(store.supersede("a", ids[i], change, "test")?.changed);
                let replacement = saved(store.write("a", fact(i))?);
                assert_ne!(replacement, ids[i]);
                ids[i] = replacement;
            }
        }
        {
            // Without the index: pending fingerprints are still found, new ones written.
            let store = backend.try_open(StoreOptions::new().lexical_index(false))?;
            for i in [3, 148, 149] {
                assert_eq!(store.write("a", fact(i))?, WriteOutcome::Duplicate { existing: ids[i] });
            }
            ids.push(saved(store.write("a", fact(150))?));
        }
        // The index rebuilt on open: every fingerprint still there, once.
        let store = backend.try_open(StoreOptions::new())?;
        for i in [0, 10, 64, 145, 149, 150] {
            assert_eq!(store.write("a", fact(i))?, WriteOutcome::Duplicate { existing: ids[i] });
        }
        let all = store.list("a", &ListQuery::new().mode(aurra::ReadMode::History).limit(1000))?;
        assert_eq!(all.memories.len(), 153);
        Ok(())
    }
}
