//! Opening: a new file appears whole, data survives a reopen, garbage is refused cleanly.

use aurra::{Error, ListQuery, NewMemory, Result, Store};

#[test]
fn a_new_store_is_created_whole_and_survives_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("memories.redb");
    // A staging file left behind by a creation that crashed is not an obstacle.
    std::fs::write(dir.path().join("memories.redb.creating"), b"half a header")?;
    let id = {
        let store = Store::open(&path)?;
        store
            .write("a", NewMemory::new("kept"))?
            .saved_id()
            .expect("saved")
    };
    assert!(path.exists());
    assert!(!dir.path().join("memories.redb.creating").exists());
    let store = Store::open(&path)?;
    assert_eq!(store.get("a", id)?.decision, "kept");
    assert_eq!(store.list("a", &ListQuery::new())?.memories.len(), 1);
    Ok(())
}

#[test]
fn a_file_that_is_not_a_store_is_refused_with_an_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("not-a-store.redb");
    std::fs::write(&path, vec![0x5a; 8192])?;
    assert!(matches!(Store::open(&path), Err(Error::Storage(_))));
    // The file is left as it was.
    assert_eq!(std::fs::read(&path)?, vec![0x5a; 8192]);
    Ok(())
}
