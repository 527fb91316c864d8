//! `Store::storage_stats` (what `aurra stats` prints): every table of the store with its
//! entries and sizes, on every backend, following writes and deletes.

#[macro_use]
mod backends;

use aurra::{Error, ListQuery, NewMemory, Result, StorageStats, StoreOptions};
use backends::Kind;

/// The table holding one entry per memory row: `rows` on redb, `memories` on PostgreSQL.
fn row_entries(stats: &StorageStats) -> u64 {
    let name = if stats.backend == "redb" {
        "rows"
    } else {
        "memories"
    };
    stats
        .tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in {stats:?}"))
        .entries
}

on_every_backend! {
    fn the_stats_count_every_row_and_follow_a_delete(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let stats = store.storage_stats()?;
        let expected = if backend.kind == Kind::Redb { "redb" } else { "postgres" };
        assert_eq!(stats.backend, expected);
        assert_eq!(row_entries(&stats), 0);

        for i in 0..30 {
            let tenant = if i < 20 { "crm" } else { "support" };
            store.write("acme", NewMemory::new(format!("Fact number {i} about Alice")).with_tenant(tenant))?;
        }
        let stats = store.storage_stats()?;
        assert_eq!(row_entries(&stats), 30, "{stats:?}");
        // Largest first, and every figure consistent with the whole.
        assert!(stats.tables.windows(2).all(|w| w[0].bytes >= w[1].bytes), "{stats:?}");
        let pages: u64 = stats.tables.iter().map(|t| t.bytes).sum();
        assert!(pages <= stats.allocated_bytes, "{stats:?}");
        for table in &stats.tables {
            assert!(table.stored_bytes <= table.bytes, "{table:?}");
            if backend.kind == Kind::Redb {
                assert!(table.fragmented_bytes.is_some_and(|f| f <= table.bytes), "{table:?}");
            } else {
                assert_eq!(table.fragmented_bytes, None);
            }
        }
        if let Some(total) = stats.total_bytes {
            assert!(total >= stats.allocated_bytes, "{stats:?}");
            assert_eq!(stats.free_bytes.map(|f| f + stats.allocated_bytes).unwrap_or(total), total);
        }
        if backend.kind == Kind::Redb {
            // Opened on a path: the file's length is known.
            let file = std::fs::metadata(backend.path()).expect("the store file").len();
            assert_eq!(stats.total_bytes, Some(file));
        }

        assert_eq!(store.delete_tenant("acme", Some("crm"))?, 20);
        assert_eq!(row_entries(&store.storage_stats()?), 10);
        Ok(())
    }
}

on_every_backend! {
    fn compacting_returns_what_a_hard_delete_freed_and_keeps_every_row(backend: &TestBackend) -> Result<()> {
        let mut store = backend.try_open(StoreOptions::new())?;
        // Long facts, so that the deleted tenant's pages are many.
        let filler = "and a long explanation of why it matters ".repeat(20);
        let batch = |tenant: &str, from: usize, n: usize| -> Vec<NewMemory> {
            (from..from + n)
                .map(|i| NewMemory::new(format!("{tenant} fact {i} {filler}")).with_tenant(tenant))
                .collect()
        };
        for from in (0..1000).step_by(250) {
            store.write_batch("acme", batch("crm", from, 250))?;
        }
        store.write_batch("acme", batch("support", 0, 20))?;
        let kept = store.list("acme", &ListQuery::new().tenant("support").limit(100))?;
        assert_eq!(kept.memories.len(), 20);
        assert_eq!(store.delete_tenant("acme", Some("crm"))?, 1000);

        // Not while another handle shares the store.
        let clone = store.clone();
        match store.compact() {
            Err(Error::Conflict(detail)) => assert!(detail.contains("only handle"), "{detail}"),
            other => panic!("compact with a second handle: {other:?}"),
        }
        drop(clone);

        let before = store.storage_stats()?;
        let shrank = store.compact()?;
        let after = store.storage_stats()?;
        if backend.kind == Kind::Redb {
            assert!(shrank, "a file with a deleted tenant's pages shrinks");
            let (before, after) = (before.total_bytes.unwrap(), after.total_bytes.unwrap());
            assert!(after * 2 < before, "file {before} -> {after} bytes");
            let file = std::fs::metadata(backend.path()).expect("the store file").len();
            assert_eq!(file, after);
        } else {
            assert!(!shrank, "PostgreSQL manages its own space");
        }
        // Nothing else moved, and the store still writes.
        let again = store.list("acme", &ListQuery::new().tenant("support").limit(100))?;
        assert_eq!(again.memories, kept.memories);
        assert_eq!(row_entries(&after), 20);
        store.write("acme", NewMemory::new("After the compaction").with_tenant("support"))?;
        drop(store);
        let reopened = backend.try_open(StoreOptions::new())?;
        let listed = reopened.list("acme", &ListQuery::new().tenant("support").limit(100))?;
        assert_eq!(listed.memories.len(), 21);
        Ok(())
    }
}

/// redb leaves pages half full where a table grows in the middle (every tree appends at the
/// end of its own key range); compacting repacks such tables in key order.
#[test]
fn compacting_repacks_half_empty_tables_and_reads_stay_the_same() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = aurra::Store::open(dir.path().join("aurra.redb"))?;
    // Forty sessions written round-robin: their trees all grow at once, each in the middle
    // of the table.
    for round in 0..10 {
        let batch = (0..400)
            .map(|i| {
                NewMemory::new(format!("Note {round}-{i} on project{}", i % 17))
                    .with_session(format!("session-{}", i % 40))
            })
            .collect();
        store.write_batch("acme", batch)?;
    }
    let unused = |stats: &StorageStats| {
        let t = stats
            .tables
            .iter()
            .find(|t| t.name == "tree_nodes")
            .expect("tree_nodes");
        t.fragmented_bytes.expect("redb reports it") as f64 / t.bytes as f64
    };
    let query = ListQuery::new().session("session-7").limit(1000);
    let listed = store.list("acme", &query)?;
    assert_eq!(listed.memories.len(), 100);
    let searched = store.search("acme", &aurra::SearchQuery::new("project5").limit(50))?;
    let before = store.storage_stats()?;
    assert!(unused(&before) > 0.3, "{before:?}");

    assert!(store.compact()?);
    let after = store.storage_stats()?;
    assert!(unused(&after) < 0.2, "{after:?}");
    assert!(
        after.total_bytes < before.total_bytes,
        "{before:?}\n{after:?}"
    );
    assert_eq!(store.list("acme", &query)?.memories, listed.memories);
    let again = store.search("acme", &aurra::SearchQuery::new("project5").limit(50))?;
    let ids = |r: &aurra::SearchResult| r.hits.iter().map(|h| h.memory.id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&searched));
    // And it goes on writing.
    store.write(
        "acme",
        NewMemory::new("After compaction").with_session("session-7"),
    )?;
    assert_eq!(store.list("acme", &query)?.memories.len(), 101);
    Ok(())
}
