//! Level 1 supersession (spec §7.1): what is refused, what is idempotent, what each body does.

#[macro_use]
mod backends;

use backends::TestBackend;

use aurra::{
    Error, EventDetails, EventKind, ListQuery, ManualClock, MemoryId, NewMemory, ReadMode, Result,
    Store, StoreOptions, Supersede, Timestamp,
};

const DAY: i64 = 86_400_000_000;

fn store(backend: &TestBackend) -> Result<(Store, ManualClock)> {
    let clock = ManualClock::new(Timestamp::parse("2026-05-01T00:00:00Z")?);
    let store = backend.try_open(StoreOptions::new().clock(clock.clone()))?;
    Ok((store, clock))
}

fn write(store: &Store, account: &str, text: &str) -> Result<MemoryId> {
    Ok(store
        .write(account, NewMemory::new(text))?
        .saved_id()
        .expect("saved"))
}

fn by(id: MemoryId) -> Supersede {
    Supersede {
        superseded_by: Some(id),
        valid_to: None,
    }
}

on_every_backend! {
    fn replacement_closes_the_old_row_in_both_time_axes(backend: &TestBackend) -> Result<()> {
        let (store, clock) = store(backend)?;
        let old = write(&store, "a", "Editor is vim")?;
        clock.advance(DAY);
        let new = write(&store, "a", "Editor is helix")?;
        clock.advance(DAY);
        let out = store.supersede("a", old, by(new), "a")?;
        assert!(out.changed);
        let m = store.get("a", old)?;
        let at = store.now()?;
        assert_eq!(m.superseded_by, Some(new));
        assert_eq!(m.valid_to, Some(at));
        assert_eq!(m.transaction_time_end, Some(at));
        let current = store.list("a", &ListQuery::new())?;
        assert_eq!(
            current.memories.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![new]
        );
        let (_, events) = store.audit("a", old)?;
        let last = events.last().expect("events");
        assert_eq!(last.kind, EventKind::MemorySuperseded);
        assert_eq!(last.by, "a");
        assert_eq!(
            last.details,
            EventDetails::Superseded {
                superseded_by: Some(new),
                valid_to: at,
                requested_valid_to: None,
            }
        );
        Ok(())
    }

    fn expiry_ends_validity_but_the_row_stays_believed(backend: &TestBackend) -> Result<()> {
        let (store, clock) = store(backend)?;
        let id = write(&store, "a", "On PTO")?;
        let end = clock.now_plus(5 * DAY);
        let out = store.supersede(
            "a",
            id,
            Supersede {
                superseded_by: None,
                valid_to: Some(end),
            },
            "a",
        )?;
        assert_eq!(out.valid_to, end);
        let m = store.get("a", id)?;
        assert_eq!(m.transaction_time_end, None);
        assert_eq!(m.superseded_by, None);
        // A future expiry keeps the fact current until it passes.
        assert_eq!(store.list("a", &ListQuery::new())?.memories.len(), 1);
        clock.advance(5 * DAY);
        assert!(store.list("a", &ListQuery::new())?.memories.is_empty());
        let history = store.list("a", &ListQuery::new().mode(ReadMode::History))?;
        assert_eq!(history.memories.len(), 1);
        assert_eq!(
            store.audit("a", id)?.1.last().map(|e| e.kind),
            Some(EventKind::MemoryExpired)
        );
        Ok(())
    }

    fn identical_repeat_is_idempotent_and_writes_nothing(backend: &TestBackend) -> Result<()> {
        let (store, _) = store(backend)?;
        let old = write(&store, "a", "x1")?;
        let new = write(&store, "a", "x2")?;
        assert!(store.supersede("a", old, by(new), "a")?.changed);
        let events = store.audit("a", old)?.1.len();
        let again = store.supersede("a", old, by(new), "a")?;
        assert!(!again.changed);
        assert_eq!(store.audit("a", old)?.1.len(), events);
        Ok(())
    }

    fn refuses_self_cycles_and_a_different_replacement(backend: &TestBackend) -> Result<()> {
        let (store, _) = store(backend)?;
        let a = write(&store, "acct", "v1")?;
        let b = write(&store, "acct", "v2")?;
        let c = write(&store, "acct", "v3")?;
        assert!(matches!(
            store.supersede("acct", a, by(a), "acct"),
            Err(Error::Conflict(_))
        ));
        store.supersede("acct", a, by(b), "acct")?;
        store.supersede("acct", b, by(c), "acct")?;
        // c -> a would close the loop a -> b -> c -> a.
        assert!(matches!(
            store.supersede("acct", c, by(a), "acct"),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            store.supersede("acct", a, by(c), "acct"),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            store.supersede("acct", a, Supersede::default(), "acct"),
            Err(Error::InvalidArgument(_))
        ));
        // Nothing of the refused calls was written.
        assert_eq!(store.get("acct", c)?.superseded_by, None);
        assert_eq!(store.get("acct", a)?.superseded_by, Some(b));
        Ok(())
    }

    fn another_accounts_memory_is_forbidden_and_an_unknown_id_not_found(backend: &TestBackend) -> Result<()> {
        let (store, _) = store(backend)?;
        let mine = write(&store, "mine", "mine")?;
        let theirs = write(&store, "theirs", "theirs")?;
        let unknown = MemoryId::generate();
        assert!(
            matches!(store.supersede("mine", theirs, by(mine), "mine"), Err(Error::Forbidden(id)) if id == theirs)
        );
        assert!(
            matches!(store.supersede("mine", mine, by(theirs), "mine"), Err(Error::Forbidden(id)) if id == theirs)
        );
        assert!(
            matches!(store.supersede("mine", mine, by(unknown), "mine"), Err(Error::NotFound(id)) if id == unknown)
        );
        assert!(matches!(
            store.get("mine", theirs),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            store.timeline("mine", theirs),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            store.audit("mine", unknown),
            Err(Error::NotFound(_))
        ));
        assert_eq!(store.get("theirs", theirs)?.superseded_by, None);
        Ok(())
    }

    fn valid_to_before_valid_from_is_an_empty_interval(backend: &TestBackend) -> Result<()> {
        let (store, clock) = store(backend)?;
        let id = write(&store, "a", "x")?;
        let valid_from = store.get("a", id)?.valid_from;
        let before = clock.now_plus(-DAY);
        let expire = Supersede {
            superseded_by: None,
            valid_to: Some(before),
        };
        let out = store.supersede("a", id, expire.clone(), "a")?;
        // Stored (and returned) as the start: the fact was never valid.
        assert!(out.changed);
        assert_eq!(out.valid_to, valid_from);
        let m = store.get("a", id)?;
        assert_eq!(m.valid_to, Some(valid_from));
        assert_eq!(m.transaction_time_end, None, "an expiry leaves the row believed");
        assert!(store.list("a", &ListQuery::new())?.memories.is_empty());
        // Valid at no instant, not even at its start.
        let as_of = store.list("a", &ListQuery::new().mode(ReadMode::AsOf(valid_from)))?;
        assert!(as_of.memories.is_empty());
        let (_, events) = store.audit("a", id)?;
        let last = events.last().expect("events");
        assert_eq!(last.kind, EventKind::MemoryExpired);
        assert_eq!(last.details.requested_valid_to(), Some(before));
        assert!(matches!(last.details, EventDetails::Expired { valid_to, .. } if valid_to == valid_from));
        // Repeating the call is idempotent; a different end is a conflict.
        assert!(!store.supersede("a", id, expire, "a")?.changed);
        assert_eq!(store.audit("a", id)?.1.len(), events.len());
        assert!(matches!(
            store.supersede(
                "a",
                id,
                Supersede {
                    superseded_by: None,
                    valid_to: Some(clock.now_plus(DAY))
                },
                "a"
            ),
            Err(Error::Conflict(_))
        ));

        // With a replacement: superseded, the same empty interval, the request in the audit.
        let old = write(&store, "a", "y")?;
        let new = write(&store, "a", "z")?;
        let old_from = store.get("a", old)?.valid_from;
        let out = store.supersede(
            "a",
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: Some(before),
            },
            "a",
        )?;
        assert_eq!((out.valid_to, out.superseded_by), (old_from, Some(new)));
        let (_, events) = store.audit("a", old)?;
        let last = events.last().expect("events");
        assert_eq!(last.kind, EventKind::MemorySuperseded);
        assert_eq!(last.details.requested_valid_to(), Some(before));
        // An end at or after the start is stored as given, with nothing requested recorded.
        let later = write(&store, "a", "w")?;
        let end = clock.now_plus(DAY);
        store.supersede("a", later, Supersede { superseded_by: None, valid_to: Some(end) }, "a")?;
        let (_, events) = store.audit("a", later)?;
        assert_eq!(events.last().expect("events").details.requested_valid_to(), None);
        Ok(())
    }

    fn replacement_may_live_in_another_tenant_of_the_same_account(backend: &TestBackend) -> Result<()> {
        let (store, _) = store(backend)?;
        let old = write(&store, "a", "x")?;
        let new = store
            .write("a", NewMemory::new("y").with_tenant("other"))?
            .saved_id()
            .expect("saved");
        store.supersede("a", old, by(new), "a")?;
        let timeline = store.timeline("a", new)?;
        assert_eq!(
            timeline.versions.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![old, new]
        );
        Ok(())
    }
}

trait ClockExt {
    fn now_plus(&self, micros: i64) -> Timestamp;
}

impl ClockExt for ManualClock {
    fn now_plus(&self, micros: i64) -> Timestamp {
        aurra::Clock::now(self).saturating_add_micros(micros)
    }
}
