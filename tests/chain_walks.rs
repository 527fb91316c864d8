//! Timeline walks (spec §7.2, §9.6): both directions, fan-in, ordering, the 50-hop bound.

#[macro_use]
mod backends;

use aurra::{
    MAX_CHAIN_HOPS, MemoryId, NewMemory, Result, Store, StoreOptions, Supersede, Timestamp,
};

fn write(store: &Store, text: &str, valid_from: Option<Timestamp>) -> Result<MemoryId> {
    let mut m = NewMemory::new(text);
    if let Some(t) = valid_from {
        m = m.with_valid_from(t);
    }
    Ok(store.write("a", m)?.saved_id().expect("saved"))
}

fn link(store: &Store, old: MemoryId, new: MemoryId) -> Result<()> {
    store.supersede(
        "a",
        old,
        Supersede {
            superseded_by: Some(new),
            valid_to: None,
        },
        "a",
    )?;
    Ok(())
}

on_every_backend! {
    fn any_member_yields_the_whole_chain_ordered_by_valid_from(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let t = |s: &str| Timestamp::parse(s).map(Some);
        // Written out of valid-time order on purpose.
        let v2 = write(&store, "v2", t("2026-02-01T00:00:00Z")?)?;
        let v1 = write(&store, "v1", t("2026-01-01T00:00:00Z")?)?;
        let v3 = write(&store, "v3", t("2026-03-01T00:00:00Z")?)?;
        link(&store, v1, v2)?;
        link(&store, v2, v3)?;
        for start in [v1, v2, v3] {
            let timeline = store.timeline("a", start)?;
            assert_eq!(timeline.memory_id, start);
            let ids: Vec<_> = timeline.versions.iter().map(|m| m.id).collect();
            assert_eq!(ids, vec![v1, v2, v3], "from {start}");
        }
        Ok(())
    }

    fn fan_in_predecessors_are_all_found(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let a = write(&store, "tea in the morning", None)?;
        let b = write(&store, "coffee in the afternoon", None)?;
        let c = write(&store, "no caffeine at all", None)?;
        link(&store, a, c)?;
        link(&store, b, c)?;
        let ids: Vec<_> = store
            .timeline("a", a)?
            .versions
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(
            ids.contains(&b),
            "a sibling predecessor is reached through the shared successor"
        );
        Ok(())
    }

    fn a_never_superseded_memory_is_a_chain_of_one(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let id = write(&store, "alone", None)?;
        assert_eq!(store.timeline("a", id)?.versions.len(), 1);
        Ok(())
    }

    fn walks_stop_after_fifty_hops(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let ids: Vec<MemoryId> = (0..70)
            .map(|i| write(&store, &format!("version {i}"), None))
            .collect::<Result<_>>()?;
        for pair in ids.windows(2) {
            link(&store, pair[0], pair[1])?;
        }
        let from_head = store.timeline("a", ids[69])?;
        assert_eq!(from_head.versions.len(), MAX_CHAIN_HOPS + 1);
        assert_eq!(from_head.versions[0].id, ids[69 - MAX_CHAIN_HOPS]);
        let from_middle = store.timeline("a", ids[35])?;
        assert_eq!(
            from_middle.versions.len(),
            70,
            "35 back and 34 forward are within the bound"
        );
        Ok(())
    }
}
