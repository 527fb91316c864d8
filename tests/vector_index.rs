//! The vector index (binary codes, then the exact cosine of the best candidates) against the
//! exact scan of every vector, on the same file: the temporal scope stays exact when the
//! candidates the codes pick are mostly outside it (superseded, not yet valid, not yet
//! recorded), and a forgotten tenant's codes go with it.

use aurra::{
    Embedder, ManualClock, NewMemory, ReadMode, SearchQuery, Store, StoreOptions, Supersede,
    Timestamp, WriteOutcome,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DIMS: usize = 64;

/// Text `near <n>` maps to a vector close to one shared direction (the closer the larger
/// `n`); `far <n>` to vectors pointing elsewhere. Deterministic.
#[derive(Debug)]
struct Directions;

fn component(seed: u64, i: usize) -> f32 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 31)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

impl Embedder for Directions {
    fn space(&self) -> &str {
        "test-directions"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let (kind, n) = t.split_once(' ').unwrap_or((t, "0"));
                let n: u64 = n.parse().unwrap_or(0);
                (0..DIMS)
                    .map(|i| match kind {
                        // The shared direction, plus noise shrinking as n grows.
                        "near" => {
                            component(1, i) + component(1000 + n, i) * 3.0 / (1.0 + n as f32 / 50.0)
                        }
                        "question" => component(1, i),
                        _ => component(5000 + n, i),
                    })
                    .collect()
            })
            .collect())
    }
}

fn ids(found: &aurra::SearchResult) -> Vec<aurra::MemoryId> {
    found.hits.iter().map(|h| h.memory.id).collect()
}

#[test]
fn the_temporal_scope_is_exact_when_the_nearest_rows_are_out_of_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("aurra.redb");
    let clock = ManualClock::new(Timestamp::from_micros(1_000_000));
    let options = |index: bool| {
        StoreOptions::new()
            .clock(clock.clone())
            .lexical_index(false)
            .vector_index(index)
            .embedder(Directions)
    };
    let before;
    {
        let store = Store::open_with(&path, options(true))?;
        // 1 200 rows near the question: more than the candidates the index re-scores for a
        // limit of 10 (400). The 1 150 nearest are then superseded.
        let written = store.write_batch(
            "acme",
            (0..1200)
                .map(|n| NewMemory::new(format!("near {n}")).with_tenant("t"))
                .chain((0..300).map(|n| NewMemory::new(format!("far {n}")).with_tenant("t")))
                .collect(),
        )?;
        let ids: Vec<aurra::MemoryId> = written
            .iter()
            .map(|w| match w {
                WriteOutcome::Saved(m) => m.id,
                other => panic!("{other:?}"),
            })
            .collect();
        clock.advance(1_000_000);
        before = store.now()?;
        clock.advance(1_000_000);
        for id in &ids[50..1200] {
            store.supersede(
                "acme",
                *id,
                Supersede {
                    superseded_by: None,
                    valid_to: Some(before),
                },
                "test",
            )?;
        }
    }
    let question = |mode: ReadMode| {
        SearchQuery::new("question")
            .tenant("t")
            .limit(10)
            .mode(mode)
    };
    let modes = [
        ReadMode::Current,
        ReadMode::AsOf(before),
        ReadMode::TransactionAsOf {
            at: before,
            include_superseded: false,
        },
        ReadMode::History,
    ];
    let mut results = Vec::new();
    for index in [true, false] {
        let store = Store::open_with(&path, options(index))?;
        let now = store.now()?;
        let mut per_mode = Vec::new();
        for mode in &modes {
            let found = store.search("acme", &question(*mode))?;
            assert_eq!(found.hits.len(), 10, "{mode:?}");
            for hit in &found.hits {
                let m = &hit.memory;
                match mode {
                    // Only the 50 rows never expired are current.
                    ReadMode::Current => assert!(m.valid_to.is_none_or(|to| to > now), "{m:?}"),
                    ReadMode::AsOf(t) | ReadMode::TransactionAsOf { at: t, .. } => {
                        assert!(
                            m.valid_from <= *t && m.valid_to.is_none_or(|to| to > *t),
                            "{m:?}"
                        )
                    }
                    _ => {}
                }
            }
            per_mode.push(ids(&found));
        }
        results.push(per_mode);
    }
    // The index returns what the exact scan returns, mode by mode.
    assert_eq!(results[0], results[1]);
    // Current truth is not the history's top 10 (those are superseded).
    assert_ne!(results[0][0], results[0][3]);
    Ok(())
}

#[test]
fn writes_without_the_index_are_coded_when_it_is_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("aurra.redb");
    let options = |index: bool| {
        StoreOptions::new()
            .lexical_index(false)
            .vector_index(index)
            .embedder(Directions)
    };
    {
        let store = Store::open_with(&path, options(true))?;
        store.write_batch(
            "acme",
            (0..500)
                .map(|n| NewMemory::new(format!("far {n}")).with_tenant("t"))
                .collect(),
        )?;
    }
    {
        // These rows get vectors but no codes.
        let store = Store::open_with(&path, options(false))?;
        store.write_batch(
            "acme",
            // Far less noise than the 500 others: the 20 nearest rows.
            (1000..1020)
                .map(|n| NewMemory::new(format!("near {n}")).with_tenant("t"))
                .collect(),
        )?;
    }
    let question = SearchQuery::new("question").tenant("t").limit(20);
    let found = Store::open_with(&path, options(true))?.search("acme", &question)?;
    let near = found
        .hits
        .iter()
        .filter(|h| h.memory.decision.starts_with("near"))
        .count();
    assert_eq!(
        near, 20,
        "the rows written without codes are found through them"
    );
    let exact = Store::open_with(&path, options(false))?.search("acme", &question)?;
    assert_eq!(ids(&found), ids(&exact));
    Ok(())
}

#[test]
fn forgetting_a_tenant_takes_its_codes() -> TestResult {
    let store = Store::in_memory_with(
        StoreOptions::new()
            .lexical_index(false)
            .embedder(Directions),
    )?;
    for tenant in ["a", "b"] {
        store.write_batch(
            "acme",
            (0..100)
                .map(|n| NewMemory::new(format!("near {n}")).with_tenant(tenant))
                .collect(),
        )?;
    }
    assert_eq!(store.delete_tenant("acme", Some("a"))?, 100);
    let all = SearchQuery::new("question").all_tenants().limit(200);
    let found = store.search("acme", &all)?;
    assert_eq!(found.hits.len(), 100);
    assert!(
        found
            .hits
            .iter()
            .all(|h| h.memory.tenant.as_deref() == Some("b"))
    );
    Ok(())
}
