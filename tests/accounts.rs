//! Accounts, API keys (hashes only), per-key settings and write usage, on every backend.

#[macro_use]
mod backends;

use aurra::{
    API_KEY_PREFIX, Error, ManualClock, NewMemory, OPERATOR_TOKEN_PREFIX, Result, Settings,
    SettingsPatch, StoreOptions, Timestamp,
};

on_every_backend! {
    fn keys_authenticate_until_revoked(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let (key, secret) = store.create_api_key("acme", "laptop")?;
        // "aurra_" and 192 random bits in hex.
        assert!(secret.starts_with(API_KEY_PREFIX));
        assert_eq!(secret.len(), API_KEY_PREFIX.len() + 48);
        assert!(secret.starts_with(&key.shown_prefix));
        assert_eq!(store.authenticate(&secret)?, Some(key.clone()));
        assert_eq!(store.authenticate("aurra_nope")?, None);
        assert_eq!(store.authenticate("bearer-without-prefix")?, None);
        assert!(store.account("acme")?.is_some());

        assert_eq!(store.api_keys()?, vec![key.clone()]);
        let generation = store.accounts_generation();
        let revoked = store.revoke_api_key(key.id)?;
        assert_ne!(store.accounts_generation(), generation);
        assert!(revoked.revoked_at.is_some());
        assert_eq!(store.authenticate(&secret)?, None);
        let (_, other) = store.create_api_key("acme", "ci")?;
        assert_ne!(other, secret);

        // Everything survives a reopen; the revoked key stays revoked.
        drop(store);
        let store = backend.try_open(StoreOptions::new())?;
        assert_eq!(store.authenticate(&secret)?, None);
        assert!(store.authenticate(&other)?.is_some());
        assert_eq!(store.api_keys()?.len(), 2);
        Ok(())
    }

    fn the_operator_credential_is_issued_once_and_replaced_on_reset(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        assert!(!store.authenticate_operator("aurra_operator_00")?);
        assert_eq!(store.operator_issued_at()?, None);
        let token = store.ensure_operator_token()?.expect("issued on the first call");
        assert!(token.starts_with(OPERATOR_TOKEN_PREFIX));
        assert_eq!(token.len(), OPERATOR_TOKEN_PREFIX.len() + 48);
        assert!(store.authenticate_operator(&token)?);
        assert!(store.operator_issued_at()?.is_some());
        assert_eq!(store.ensure_operator_token()?, None, "issued once");
        // Neither credential works as the other.
        let (_, key) = store.create_api_key("acme", "")?;
        assert!(!store.authenticate_operator(&key)?);
        assert_eq!(store.authenticate(&token)?, None);
        // A near miss (last digit changed) is refused.
        let mut near = token.clone();
        let last = near.pop().unwrap();
        near.push(if last == '0' { '1' } else { '0' });
        assert!(!store.authenticate_operator(&near)?);
        assert!(store.api_keys()?.iter().all(|k| k.account == "acme"));

        // It survives a reopen; a reset replaces it.
        drop(store);
        let store = backend.try_open(StoreOptions::new())?;
        assert!(store.authenticate_operator(&token)?);
        assert_eq!(store.ensure_operator_token()?, None);
        let generation = store.accounts_generation();
        let fresh = store.reset_operator_token()?;
        assert_ne!(store.accounts_generation(), generation);
        assert_ne!(fresh, token);
        assert!(!store.authenticate_operator(&token)?);
        assert!(store.authenticate_operator(&fresh)?);
        Ok(())
    }

    fn ensure_api_key_creates_one_key_only_when_there_is_none(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let (first, secret) = store.ensure_api_key("default", "first start")?.expect("created");
        assert_eq!(store.authenticate(&secret)?, Some(first));
        assert!(store.ensure_api_key("default", "second start")?.is_none());
        assert_eq!(store.api_keys()?.len(), 1);
        Ok(())
    }

    fn settings_are_per_key_and_validated(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let (a, _) = store.create_api_key("acme", "a")?;
        let (b, _) = store.create_api_key("acme", "b")?;
        assert_eq!(store.settings(a.id)?, Settings::default());
        let generation = store.accounts_generation();
        let patch = SettingsPatch {
            min_confidence: Some(0.9),
            excluded_categories: Some(vec![]),
            ..SettingsPatch::default()
        };
        let updated = store.update_settings(a.id, patch)?;
        assert_ne!(store.accounts_generation(), generation);
        assert_eq!(updated.min_confidence, 0.9);
        assert!(updated.excluded_categories.is_empty() && updated.stored);
        assert_eq!(store.settings(a.id)?, updated);
        assert_eq!(store.settings(b.id)?, Settings::default());
        for bad in [
            SettingsPatch::default(),
            SettingsPatch {
                min_confidence: Some(0.5),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                freshness_half_life_days: Some(0.5),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                classifier_model: Some(" ".into()),
                ..SettingsPatch::default()
            },
        ] {
            assert!(matches!(
                store.update_settings(a.id, bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(store.settings(a.id)?, updated);
        drop(store);
        let store = backend.try_open(StoreOptions::new())?;
        assert_eq!(store.settings(a.id)?, updated);
        Ok(())
    }

    fn writes_are_counted_per_account_and_period(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-11-30T23:00:00Z")?);
        let store = backend.try_open(StoreOptions::new().clock(clock.clone()))?;
        store.write("acme", NewMemory::new("one"))?;
        store.write_batch("acme", vec![NewMemory::new("two"), NewMemory::new("three")])?;
        store.write("globex", NewMemory::new("one"))?;
        assert_eq!(store.usage("acme")?.writes_used, 2);
        assert_eq!(store.usage("globex")?.writes_used, 1);
        // Both writes on the period's 30th day.
        let mut november = vec![0; 29];
        november.push(2);
        assert_eq!(store.usage("acme")?.writes_by_day, november);
        let grace = store.start_grace_period("acme")?;
        assert!(grace.grace_started_at.is_some());
        assert_eq!(store.start_grace_period("acme")?, grace);
        assert_eq!(store.usage("acme")?.writes_by_day, november, "kept by the grace period");

        clock.set(Timestamp::parse("2026-12-01T01:00:00Z")?);
        let december = store.usage("acme")?;
        assert_eq!(december.writes_used, 0);
        assert_eq!(december.grace_started_at, None);
        assert_eq!(december.period_start, Timestamp::parse("2026-12-01T00:00:00Z")?);
        // The first write of the new month starts a fresh count, and clears the grace period.
        store.write("acme", NewMemory::new("four"))?;
        let counted = store.usage("acme")?;
        assert_eq!(counted.writes_used, 1);
        assert_eq!(counted.grace_started_at, None);
        assert_eq!(counted.writes_by_day, [1], "the new period's days start afresh");
        assert_eq!(store.usage("globex")?.writes_used, 0);
        assert!(store.usage("globex")?.writes_by_day.is_empty());
        clock.set(Timestamp::parse("2026-12-03T12:00:00Z")?);
        store.write("acme", NewMemory::new("five"))?;
        clock.set(Timestamp::parse("2026-12-31T23:59:59Z")?);
        store.write("acme", NewMemory::new("six"))?;
        let mut december = vec![0; 31];
        (december[0], december[2], december[30]) = (1, 1, 1);
        assert_eq!(store.usage("acme")?.writes_by_day, december);
        Ok(())
    }

    fn dashboard_sessions_live_until_they_expire_or_end_and_the_oldest_go_past_the_cap(backend: &TestBackend) -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-05-01T00:00:00Z")?);
        let store = backend.try_open(StoreOptions::new().clock(clock.clone()).max_sessions(3))?;
        let (key, _) = store.create_api_key("acme", "")?;
        let hour = std::time::Duration::from_secs(3600);
        let owner = aurra::SessionOwner::Key(key.id);
        let first = store.start_session([1; 32], owner.clone(), "c1".into(), hour)?;
        assert_eq!(first.owner, owner);
        assert_eq!(first.expires_at.as_micros() - first.created_at.as_micros(), 3_600_000_000);
        assert_eq!(store.session(&[1; 32])?, Some(first.clone()));
        assert_eq!(store.session(&[9; 32])?, None);

        // The cap: a fourth session ends the oldest.
        let operator = aurra::SessionOwner::Operator(Timestamp::parse("2026-04-01T00:00:00Z")?);
        for n in 2..=4u8 {
            clock.advance(1_000_000);
            store.start_session([n; 32], operator.clone(), format!("c{n}"), hour)?;
        }
        assert_eq!(store.session(&[1; 32])?, None, "the oldest went");
        for n in 2..=4u8 {
            let kept = store.session(&[n; 32])?.expect("kept");
            assert_eq!((kept.owner, kept.csrf), (operator.clone(), format!("c{n}")));
        }

        // Ended, and expired.
        store.end_session(&[2; 32])?;
        assert_eq!(store.session(&[2; 32])?, None);
        store.end_session(&[2; 32])?;
        clock.advance(3_600_000_000 - 2_000_000);
        assert!(store.session(&[4; 32])?.is_some(), "not yet");
        clock.advance(1_000_000);
        assert_eq!(store.session(&[3; 32])?, None, "an hour after it started");
        assert!(store.session(&[4; 32])?.is_some());
        Ok(())
    }

    fn memory_accounts_are_data_whatever_their_characters(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        let odd = "o'brien\\'; --";
        store.write(odd, NewMemory::new("quoted"))?;
        store.write("o", NewMemory::new("plain"))?;
        let listed = store.list(odd, &aurra::ListQuery::new())?;
        assert_eq!(listed.memories.len(), 1);
        assert_eq!(listed.memories[0].decision, "quoted");
        assert_eq!(listed.memories[0].account, odd);
        assert_eq!(store.list("o", &aurra::ListQuery::new())?.memories.len(), 1);
        Ok(())
    }

    fn account_ids_are_validated_and_unique(backend: &TestBackend) -> Result<()> {
        let store = backend.try_open(StoreOptions::new())?;
        store.create_account("acme")?;
        assert!(matches!(store.create_account("acme"), Err(Error::Conflict(_))));
        for bad in ["", "a b", "ünï", &"x".repeat(129)] {
            assert!(matches!(
                store.create_account(bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(store.accounts()?.len(), 1);
        Ok(())
    }
}
