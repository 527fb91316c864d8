//! The Level 2 pipeline in the library (`aurra::classify::run_level2`): classification runs
//! outside the write transaction, so the candidate may change before the supersession is
//! applied; Level 1's checks then refuse it, nothing is superseded, and the audit says so.

#[macro_use]
mod backends;

use aurra::classify::{Classifier, RulesClassifier, Verdict, VerdictKind, run_level2};
use aurra::{EventDetails, Memory, NewMemory, Settings, Store, StoreOptions, Supersede};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What happens to the store while a candidate is being classified.
type Meanwhile<'a> = Box<dyn Fn(&Store, &Memory) + Send + Sync + 'a>;

/// Says `supersedes` (0.99) for every pair, after letting `meanwhile` change the store.
struct Racing<'a> {
    store: &'a Store,
    meanwhile: Meanwhile<'a>,
}

impl Classifier for Racing<'_> {
    fn model(&self) -> &str {
        "racing-test"
    }

    fn classify(&self, old: &Memory, _new: &Memory) -> aurra::Result<Verdict> {
        (self.meanwhile)(self.store, old);
        Ok(Verdict {
            kind: VerdictKind::Supersedes,
            confidence: 0.99,
            reasoning: "test".into(),
        })
    }
}

fn saved(store: &Store, text: &str) -> aurra::Result<Memory> {
    let outcome = store.write("acme", NewMemory::new(text))?;
    let id = outcome.saved_id().expect("saved");
    store.get("acme", id)
}

on_every_backend! {
    fn a_candidate_superseded_meanwhile_is_not_superseded_again(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let old = saved(&store, "User works at Initech")?;
        let other = saved(&store, "User works at Hooli")?;
        let new = saved(&store, "User works at Globex")?;
        let other_id = other.id;
        let racing = Racing {
            store: &store,
            meanwhile: Box::new(move |store, candidate| {
                if candidate.decision == "User works at Initech" {
                    store
                        .supersede(
                            "acme",
                            candidate.id,
                            Supersede {
                                superseded_by: Some(other_id),
                                valid_to: None,
                            },
                            "acme",
                        )
                        .expect("concurrent supersede");
                }
            }),
        };
        let settings = Settings::default();
        let result = run_level2(&store, "acme", &new, &[], &settings, &racing)?;
        assert!(result.ran);
        // Hooli (0.99) may be chosen; Initech, changed meanwhile, keeps its other successor.
        let initech = store.timeline("acme", old.id)?;
        let initech_now = initech.versions.iter().find(|m| m.id == old.id).unwrap();
        assert_eq!(initech_now.superseded_by, Some(other_id));
        let (_, events) = store.audit("acme", old.id)?;
        let mut classified = 0;
        for event in &events {
            if let EventDetails::Classified { applied, model, .. } = &event.details {
                classified += 1;
                assert_eq!(model, "racing-test");
                if result
                    .supersession
                    .as_ref()
                    .is_none_or(|s| s.old_memory_id != old.id)
                {
                    assert!(!applied);
                }
            }
        }
        assert_eq!(classified, 1);
        Ok(())
    }

    fn only_the_most_confident_supersession_is_applied_and_siblings_are_not_candidates(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let old = saved(&store, "User lives in Berlin")?;
        let sibling = saved(&store, "User lives in Berlin near the park")?;
        let new = saved(&store, "User moved to Lisbon")?;
        let settings = Settings::default();
        let result = run_level2(
            &store,
            "acme",
            &new,
            &[sibling.id],
            &settings,
            &RulesClassifier::default(),
        )?;
        assert!(result.ran);
        assert_eq!(
            result.candidates_examined, 1,
            "the sibling is not a candidate"
        );
        let supersession = result.supersession.expect("applied");
        assert_eq!(supersession.old_memory_id, old.id);
        assert_eq!(supersession.model, "builtin-rules-v2");
        assert!(store.get("acme", old.id)?.superseded_by == Some(new.id));
        assert!(store.get("acme", sibling.id)?.superseded_by.is_none());
        Ok(())
    }

    fn a_fact_about_one_of_two_current_values_ends_neither(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        // Two homes: both current.
        let berlin = saved(&store, "User lives in Berlin")?;
        let denver = saved(&store, "User lives in Denver")?;
        let rules = RulesClassifier::default();
        let settings = Settings::default();
        // More about Berlin: it contradicts Denver on its own, but the store held both.
        let detail = saved(&store, "User lives in Berlin near the park")?;
        let result = run_level2(&store, "acme", &detail, &[], &settings, &rules)?;
        assert!(result.ran);
        assert_eq!(result.candidates_examined, 2);
        assert_eq!(result.supersession, None);
        assert!(store.get("acme", denver.id)?.superseded_by.is_none());
        // A move ends one of them.
        let moved = saved(&store, "User moved to Lisbon")?;
        let result = run_level2(&store, "acme", &moved, &[], &settings, &rules)?;
        let supersession = result.supersession.expect("applied");
        assert!([berlin.id, denver.id, detail.id].contains(&supersession.old_memory_id));
        Ok(())
    }
}
