//! Reads on both time axes (spec §3.7): valid-time travel, exact transaction-time replay, and
//! both together — the audit question "as of T1, what did we think was true at T2".

#[macro_use]
mod backends;

use backends::TestBackend;

use aurra::{
    ListQuery, ManualClock, MemoryId, NewMemory, ReadMode, Result, Store, StoreOptions, Supersede,
    Timestamp, temporal,
};

const DAY: i64 = 86_400_000_000;

struct World {
    store: Store,
    clock: ManualClock,
}

impl World {
    fn new(backend: &TestBackend) -> Result<Self> {
        let clock = ManualClock::new(Timestamp::parse("2026-03-01T00:00:00Z")?);
        let store = backend.try_open(StoreOptions::new().clock(clock.clone()))?;
        Ok(World { store, clock })
    }

    fn now(&self) -> Timestamp {
        aurra::Clock::now(&self.clock)
    }

    fn write(&self, m: NewMemory) -> Result<MemoryId> {
        Ok(self.store.write("acct", m)?.saved_id().expect("saved"))
    }

    fn ids(&self, mode: ReadMode) -> Result<Vec<MemoryId>> {
        let list = self.store.list("acct", &ListQuery::new().mode(mode))?;
        Ok(list.memories.iter().map(|m| m.id).collect())
    }
}

on_every_backend! {
    fn valid_time_travel_sees_superseded_rows_that_were_valid_then(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let acme = w.write(NewMemory::new("Alice works at Acme"))?;
        w.clock.advance(10 * DAY);
        let while_at_acme = w.now();
        w.clock.advance(10 * DAY);
        let globex = w.write(NewMemory::new("Alice works at Globex"))?;
        w.store.supersede(
            "acct",
            acme,
            Supersede {
                superseded_by: Some(globex),
                valid_to: None,
            },
            "acct",
        )?;
        w.clock.advance(DAY);
        assert_eq!(w.ids(ReadMode::Current)?, vec![globex]);
        assert_eq!(w.ids(ReadMode::AsOf(while_at_acme))?, vec![acme]);
        assert_eq!(w.ids(ReadMode::History)?, vec![globex, acme]);
        Ok(())
    }

    fn transaction_time_replays_rows_as_they_stood(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let acme = w.write(NewMemory::new("Alice works at Acme"))?;
        w.clock.advance(DAY);
        let globex = w.write(NewMemory::new("Alice works at Globex"))?;
        w.clock.advance(DAY);
        let before_supersede = w.now();
        w.clock.advance(DAY);
        w.store.supersede(
            "acct",
            acme,
            Supersede {
                superseded_by: Some(globex),
                valid_to: None,
            },
            "acct",
        )?;
        w.clock.advance(DAY);

        // At `before_supersede` both were believed current, and the old row is rendered as it was:
        // no valid_to, no superseded_by, no transaction_time_end, flags computed at that instant.
        let replay = w.store.list(
            "acct",
            &ListQuery::new().mode(ReadMode::TransactionAsOf {
                at: before_supersede,
                include_superseded: false,
            }),
        )?;
        assert_eq!(replay.now, before_supersede);
        assert_eq!(
            replay.memories.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![globex, acme]
        );
        let old = &replay.memories[1];
        assert_eq!(
            (old.valid_to, old.superseded_by, old.transaction_time_end),
            (None, None, None)
        );
        let flags = temporal::flags(old, replay.now);
        assert!(flags.is_current && flags.is_known_current);

        // Today the old row is superseded; with include_superseded it is still listed, closed.
        let today = w.now();
        let all = w.store.list(
            "acct",
            &ListQuery::new().mode(ReadMode::TransactionAsOf {
                at: today,
                include_superseded: true,
            }),
        )?;
        assert_eq!(all.memories.len(), 2);
        assert_eq!(all.memories[1].superseded_by, Some(globex));
        assert!(all.memories[1].transaction_time_end.is_some());
        // Before anything was written the store was empty.
        let empty = ReadMode::TransactionAsOf {
            at: today.saturating_add_micros(-10 * DAY),
            include_superseded: true,
        };
        assert!(w.ids(empty)?.is_empty());
        Ok(())
    }

    fn bitemporal_read_keeps_a_row_superseded_before_t1_that_was_valid_at_t2(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let vim = w.write(NewMemory::new("Editor is vim"))?;
        w.clock.advance(5 * DAY);
        let t2 = w.now(); // vim was true then
        w.clock.advance(5 * DAY);
        let helix = w.write(NewMemory::new("Editor is helix"))?;
        w.store.supersede(
            "acct",
            vim,
            Supersede {
                superseded_by: Some(helix),
                valid_to: None,
            },
            "acct",
        )?;
        w.clock.advance(5 * DAY);
        let t1 = w.now(); // after the supersession was recorded
        w.clock.advance(5 * DAY);

        // "As of t1, what did we think was true at t2?" — vim, although it was superseded by t1.
        assert_eq!(
            w.ids(ReadMode::Bitemporal {
                valid_at: t2,
                transaction_at: t1
            })?,
            vec![vim]
        );
        // And at t1, what was true at t1: helix.
        assert_eq!(
            w.ids(ReadMode::Bitemporal {
                valid_at: t1,
                transaction_at: t1
            })?,
            vec![helix]
        );
        // Before helix was recorded we believed vim was valid at any later instant.
        let earlier = t2.saturating_add_micros(DAY);
        assert_eq!(
            w.ids(ReadMode::Bitemporal {
                valid_at: t1,
                transaction_at: earlier
            })?,
            vec![vim]
        );
        Ok(())
    }

    fn back_dated_facts_are_valid_from_their_date_but_recorded_now(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let recorded = w.now();
        let last_year = Timestamp::parse("2025-03-01T00:00:00Z")?;
        let id = w.write(NewMemory::new("Moved to Lisbon").with_valid_from(last_year))?;
        let m = w.store.get("acct", id)?;
        assert_eq!(m.valid_from, last_year);
        assert_eq!(m.created_at, recorded);
        assert_eq!(m.transaction_time_start, recorded);
        let mid_2025 = Timestamp::parse("2025-07-01T00:00:00Z")?;
        assert_eq!(w.ids(ReadMode::AsOf(mid_2025))?, vec![id]);
        // The store did not know it in mid 2025.
        let replay = ReadMode::Bitemporal {
            valid_at: mid_2025,
            transaction_at: mid_2025,
        };
        assert!(w.ids(replay)?.is_empty());
        Ok(())
    }

    fn recorded_at_sets_capture_and_validity_but_not_transaction_time(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let said = Timestamp::parse("2026-01-15T09:30:00+01:00")?;
        let id = w.write(NewMemory::new("Prefers tea").with_recorded_at(said))?;
        let m = w.store.get("acct", id)?;
        assert_eq!((m.captured_at, m.valid_from), (said, said));
        assert_eq!(m.created_at, w.now());
        Ok(())
    }

    fn transaction_time_keeps_increasing_when_the_clock_steps_back(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let a = w.write(NewMemory::new("first"))?;
        w.clock.advance(-DAY);
        let b = w.write(NewMemory::new("second"))?;
        let (ma, mb) = (w.store.get("acct", a)?, w.store.get("acct", b)?);
        assert!(mb.created_at > ma.created_at);
        assert_eq!(w.ids(ReadMode::Current)?, vec![b, a]);
        Ok(())
    }

    fn source_and_session_filters_and_limit(backend: &TestBackend) -> Result<()> {
        let w = World::new(backend)?;
        let mut slack = Vec::new();
        for i in 0..5 {
            w.clock.advance(1);
            slack.push(
                w.write(
                    NewMemory::new(format!("slack {i}"))
                        .with_source("slack")
                        .with_session("s1"),
                )?,
            );
            w.clock.advance(1);
            w.write(NewMemory::new(format!("agent {i}")).with_session("s2"))?;
        }
        let q = ListQuery::new().source("slack").limit(3);
        let got: Vec<_> = w
            .store
            .list("acct", &q)?
            .memories
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(got, slack.iter().rev().take(3).copied().collect::<Vec<_>>());
        let q = ListQuery::new().session("s1").source("agent");
        assert!(w.store.list("acct", &q)?.memories.is_empty());
        let q = ListQuery::new().session("s2");
        assert_eq!(w.store.list("acct", &q)?.memories.len(), 5);
        Ok(())
    }
}
