//! The store agrees with a plain in-memory model on every read, across random sequences of
//! writes (incl. back-dated and duplicate), supersessions, expiries, deletes, clock moves and
//! reopens; with and without embeddings (hybrid search). And a store moved to the other
//! backend (export, then import into a fresh store) reads back identically at every probed
//! instant, agrees with the model, and goes on agreeing as operations continue on it.

mod backends;
mod model;

use backends::{Kind, TestBackend};
use model::{Harness, Op, W};
use proptest::prelude::*;

fn w() -> impl Strategy<Value = W> {
    (
        0u8..3,
        0u8..6,
        0u8..3,
        proptest::option::weighted(0.4, 0u8..2),
        proptest::option::weighted(0.3, -300i16..300),
        proptest::option::weighted(0.2, 0u8..4),
    )
        .prop_map(|(tenant, text, source, session, valid_from, external)| W {
            tenant,
            text,
            source,
            session,
            valid_from,
            external,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..2, proptest::collection::vec(w(), 1..4))
            .prop_map(|(account, batch)| Op::Write { account, batch }),
        4 => (
            0u8..2,
            any::<u16>(),
            proptest::option::weighted(0.7, any::<u16>()),
            proptest::option::weighted(0.4, -200i16..200),
        )
            .prop_map(|(account, target, replacement, valid_to)| Op::Supersede {
                account,
                target,
                replacement,
                valid_to
            }),
        1 => (0u8..2, 0u8..3).prop_map(|(account, tenant)| Op::DeleteTenant { account, tenant }),
        1 => (0u8..2).prop_map(|account| Op::DeleteAccount { account }),
        3 => (1u16..400).prop_map(Op::Advance),
        1 => (1u16..30).prop_map(Op::Rewind),
        1 => Just(Op::Reopen),
        4 => (0u8..2, 0u8..3, any::<u16>(), any::<u16>(), any::<u8>(), any::<u8>()).prop_map(
            |(account, tenant, instant, instant2, filter, limit)| Op::Check {
                account,
                tenant,
                instant,
                instant2,
                filter,
                limit
            }
        ),
        2 => (0u8..2, any::<u16>()).prop_map(|(account, target)| Op::Chain { account, target }),
    ]
}

/// Runs `ops` against a fresh store of `kind` and the model.
fn agree(kind: Kind, embeddings: bool, ops: &[Op]) {
    let backend = std::rc::Rc::new(TestBackend::new(kind));
    let opener = backend.clone();
    let mut harness = Harness::opening(embeddings, Box::new(move |options| opener.open(options)));
    for op in ops {
        harness.apply(op);
    }
    harness.check_everything();
    drop(harness);
    drop(backend);
}

/// Runs `before` on a fresh store of `from`, moves it to a fresh store of `to`, runs `after`.
#[cfg(feature = "postgres")]
fn moved(from: Kind, to: Kind, embeddings: bool, before: &[Op], after: &[Op]) {
    let source = std::rc::Rc::new(TestBackend::new(from));
    let opener = source.clone();
    let mut harness = Harness::opening(embeddings, Box::new(move |options| opener.open(options)));
    for op in before {
        harness.apply(op);
    }
    let target = std::rc::Rc::new(TestBackend::new(to));
    let opener = target.clone();
    harness.move_to(Box::new(move |options| opener.open(options)));
    drop(source);
    harness.check_everything();
    harness.check_histories();
    for op in after {
        harness.apply(op);
    }
    harness.check_everything();
    drop(harness);
    drop(target);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn redb_store_agrees_with_model(
        embeddings in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        agree(Kind::Redb, embeddings, &ops);
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn postgres_store_agrees_with_model(
        embeddings in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        agree(Kind::Postgres, embeddings, &ops);
    }

    #[test]
    fn partitioned_postgres_store_agrees_with_model(
        embeddings in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        agree(Kind::PostgresPartitioned, embeddings, &ops);
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_store_moved_from_redb_to_postgres_reads_the_same(
        embeddings in any::<bool>(),
        before in proptest::collection::vec(op(), 1..50),
        after in proptest::collection::vec(op(), 0..10),
    ) {
        moved(Kind::Redb, Kind::Postgres, embeddings, &before, &after);
    }

    #[test]
    fn a_store_moved_from_postgres_to_redb_reads_the_same(
        embeddings in any::<bool>(),
        before in proptest::collection::vec(op(), 1..50),
        after in proptest::collection::vec(op(), 0..10),
    ) {
        moved(Kind::Postgres, Kind::Redb, embeddings, &before, &after);
    }
}
