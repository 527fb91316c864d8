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
