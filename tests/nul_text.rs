//! U+0000 in text: refused with `InvalidArgument` on every backend (PostgreSQL cannot store
//! it; redb could, so the two would otherwise disagree), and nothing is written.

#[macro_use]
mod backends;

use aurra::{Error, ListQuery, NewMemory, ReadMode, Result, SettingsPatch, StoreOptions};

on_every_backend! {
    fn nul_in_any_text_is_refused_and_nothing_is_written(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let refused = [
            NewMemory::new("a\0b"),
            NewMemory::new("x").with_tenant("t\0"),
            NewMemory::new("x").with_topic("to\0pic"),
            NewMemory::new("x").with_source("s\0"),
            NewMemory::new("x").with_session("s\0"),
        ];
        for memory in refused {
            assert!(
                matches!(store.write("acme", memory.clone()), Err(Error::InvalidArgument(_))),
                "{memory:?}"
            );
        }
        assert!(matches!(
            store.list("acme", &ListQuery::new().tenant("a\0")),
            Err(Error::InvalidArgument(_))
        ));
        let (key, _) = store.create_api_key("acme", "k")?;
        let patch = SettingsPatch {
            excluded_categories: Some(vec!["ok".into(), "n\0".into()]),
            ..SettingsPatch::default()
        };
        assert!(matches!(
            store.update_settings(key.id, patch),
            Err(Error::InvalidArgument(_))
        ));
        assert!(store.list("acme", &ListQuery::new().mode(ReadMode::History))?.memories.is_empty());
        assert!(!store.is_poisoned());
        Ok(())
    }
}
