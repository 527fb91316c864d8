//! Hard delete of a tenant or an account (spec §5.3): every version, index entry and event
//! goes; other tenants and accounts are untouched; pointers into deleted rows dangle.

#[macro_use]
mod backends;

use aurra::{
    Error, ListQuery, MemoryId, NewMemory, ReadMode, Result, Store, StoreOptions, Supersede,
};

fn write(store: &Store, account: &str, tenant: Option<&str>, text: &str) -> Result<MemoryId> {
    let mut m = NewMemory::new(text);
    if let Some(t) = tenant {
        m = m.with_tenant(t);
    }
    Ok(store.write(account, m)?.saved_id().expect("saved"))
}

fn count(store: &Store, account: &str, tenant: Option<&str>) -> Result<usize> {
    let mut q = ListQuery::new().mode(ReadMode::History).limit(1000);
    if let Some(t) = tenant {
        q = q.tenant(t);
    }
    Ok(store.list(account, &q)?.memories.len())
}

on_every_backend! {
    fn tenant_delete_removes_only_that_tenant(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let gone = write(&store, "a", Some("t1"), "one")?;
        let gone2 = write(&store, "a", Some("t1"), "two")?;
        store.supersede(
            "a",
            gone,
            Supersede {
                superseded_by: Some(gone2),
                valid_to: None,
            },
            "a",
        )?;
        let kept = write(&store, "a", None, "default")?;
        let other = write(&store, "b", Some("t1"), "other account")?;
        assert_eq!(store.delete_tenant("a", Some("t1"))?, 2);
        for id in [gone, gone2] {
            assert!(matches!(store.get("a", id), Err(Error::NotFound(_))));
            assert!(matches!(store.audit("a", id), Err(Error::NotFound(_))));
            assert!(matches!(store.timeline("a", id), Err(Error::NotFound(_))));
        }
        assert_eq!(count(&store, "a", Some("t1"))?, 0);
        assert_eq!(store.get("a", kept)?.decision, "default");
        assert_eq!(store.get("b", other)?.decision, "other account");
        // Transaction-time replay cannot bring deleted rows back.
        let q = ListQuery::new()
            .tenant("t1")
            .mode(ReadMode::TransactionAsOf {
                at: store.now()?,
                include_superseded: true,
            });
        assert!(store.list("a", &q)?.memories.is_empty());
        // The tenant can be written again, and duplicates of deleted rows are not suppressed.
        assert!(
            store
                .write("a", NewMemory::new("one").with_tenant("t1"))?
                .saved_id()
                .is_some()
        );
        Ok(())
    }

    fn account_delete_removes_every_tenant_of_the_account(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        for t in [None, Some("t1"), Some("t2")] {
            write(&store, "a", t, "x")?;
            write(&store, "ab", t, "x")?;
        }
        assert_eq!(store.delete_account("a")?, 3);
        for t in [None, Some("t1"), Some("t2")] {
            assert_eq!(count(&store, "a", t)?, 0);
            assert_eq!(
                count(&store, "ab", t)?,
                1,
                "an account whose name extends 'a' is untouched"
            );
        }
        assert_eq!(store.delete_account("a")?, 0);
        Ok(())
    }

    fn surviving_rows_keep_dangling_pointers_and_walks_stop_there(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let old = write(&store, "a", None, "old")?;
        let new = write(&store, "a", Some("t"), "new")?;
        store.supersede(
            "a",
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: None,
            },
            "a",
        )?;
        store.delete_tenant("a", Some("t"))?;
        assert_eq!(store.get("a", old)?.superseded_by, Some(new));
        let timeline = store.timeline("a", old)?;
        assert_eq!(
            timeline.versions.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![old]
        );
        Ok(())
    }
}
