//! Lexical search: BM25 over analysed text, scoped by account and tenant, within the rows the
//! temporal mode selects, filtered by source before ranking.

#[macro_use]
mod backends;

use aurra::{ListQuery, NewMemory, ReadMode, SearchQuery, Store, StoreOptions, Supersede};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn decisions(store: &Store, account: &str, query: &SearchQuery) -> aurra::Result<Vec<String>> {
    Ok(store
        .search(account, query)?
        .hits
        .into_iter()
        .map(|h| h.memory.decision)
        .collect())
}

on_every_backend! {
    fn inflections_match_and_rarer_terms_rank_higher(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        store.write(
            "acme",
            NewMemory::new("Melanie painted a sunrise by the lake"),
        )?;
        store.write(
            "acme",
            NewMemory::new("Melanie went to the lake with the kids"),
        )?;
        store.write("acme", NewMemory::new("Melanie likes the lake"))?;
        store.write("acme", NewMemory::new("Caroline joined a support group"))?;
        let hits = store.search(
            "acme",
            &SearchQuery::new("When did Melanie paint a sunrise?"),
        )?;
        assert_eq!(
            hits.hits[0].memory.decision,
            "Melanie painted a sunrise by the lake"
        );
        assert_eq!(
            hits.hits.len(),
            3,
            "every row with a query term is a candidate"
        );
        assert!(hits.hits[0].similarity > hits.hits[1].similarity);
        assert!(
            hits.hits
                .iter()
                .all(|h| h.similarity > 0.0 && h.similarity <= 1.0)
        );
        assert_eq!(
            decisions(&store, "acme", &SearchQuery::new("support groups"))?,
            ["Caroline joined a support group"]
        );
        assert!(
            store
                .search("acme", &SearchQuery::new("the of and"))?
                .hits
                .is_empty()
        );
        assert!(
            store
                .search("acme", &SearchQuery::new("zebra"))?
                .hits
                .is_empty()
        );
        Ok(())
    }

    fn accounts_and_tenants_never_mix(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        store.write("acme", NewMemory::new("Alice works at Acme"))?;
        store.write(
            "acme",
            NewMemory::new("Alice works at Acme").with_tenant("t1"),
        )?;
        store.write("globex", NewMemory::new("Alice works at Globex"))?;
        let q = SearchQuery::new("Alice works");
        assert_eq!(decisions(&store, "acme", &q)?, ["Alice works at Acme"]);
        assert_eq!(decisions(&store, "globex", &q)?, ["Alice works at Globex"]);
        assert_eq!(decisions(&store, "acme", &q.clone().tenant("t1"))?.len(), 1);
        assert_eq!(decisions(&store, "acme", &q.clone().tenant("t2"))?.len(), 0);
        assert_eq!(
            decisions(&store, "acme", &q.clone().all_tenants())?.len(),
            2
        );
        Ok(())
    }

    fn superseded_facts_are_never_current_candidates_but_travel_in_time(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let old = store
            .write("acme", NewMemory::new("Alice works at Initech"))?
            .saved_id()
            .unwrap();
        let before = store.now()?;
        let new = store
            .write("acme", NewMemory::new("Alice works at Globex"))?
            .saved_id()
            .unwrap();
        store.supersede(
            "acme",
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: None,
            },
            "acme",
        )?;
        let q = SearchQuery::new("Where does Alice work? Initech?");
        assert_eq!(decisions(&store, "acme", &q)?, ["Alice works at Globex"]);
        let then = q.clone().mode(ReadMode::TransactionAsOf {
            at: before,
            include_superseded: false,
        });
        assert_eq!(
            decisions(&store, "acme", &then)?,
            ["Alice works at Initech"]
        );
        let history = decisions(&store, "acme", &q.clone().mode(ReadMode::History))?;
        assert_eq!(history, ["Alice works at Initech", "Alice works at Globex"]);
        Ok(())
    }

    fn sources_filter_before_ranking_and_limit_counts_only_selected_rows(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        for i in 0..5 {
            store.write(
                "acme",
                NewMemory::new(format!("deploy note {i} deploy deploy")).with_source("agent"),
            )?;
        }
        store.write(
            "acme",
            NewMemory::new("a deploy happened").with_source("slack"),
        )?;
        let q = SearchQuery::new("deploy")
            .sources(vec!["slack".into()])
            .limit(1);
        assert_eq!(decisions(&store, "acme", &q)?, ["a deploy happened"]);
        let both = SearchQuery::new("deploy")
            .sources(vec!["slack".into(), "agent".into()])
            .limit(3);
        assert_eq!(store.search("acme", &both)?.hits.len(), 3);
        Ok(())
    }

    fn hard_delete_removes_postings_and_the_scope_starts_afresh(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        store.write("acme", NewMemory::new("Bob likes tea").with_tenant("t"))?;
        store.write("acme", NewMemory::new("Bob likes coffee"))?;
        assert_eq!(store.delete_tenant("acme", Some("t"))?, 1);
        assert_eq!(
            decisions(&store, "acme", &SearchQuery::new("tea").tenant("t"))?.len(),
            0
        );
        assert_eq!(
            decisions(&store, "acme", &SearchQuery::new("coffee"))?.len(),
            1
        );
        store.write(
            "acme",
            NewMemory::new("Bob likes green tea").with_tenant("t"),
        )?;
        assert_eq!(
            decisions(&store, "acme", &SearchQuery::new("tea").tenant("t"))?,
            ["Bob likes green tea"]
        );
        store.delete_account("acme")?;
        assert!(decisions(&store, "acme", &SearchQuery::new("Bob").all_tenants())?.is_empty());
        assert!(
            store
                .list("acme", &ListQuery::new().all_tenants())?
                .memories
                .is_empty()
        );
        Ok(())
    }

    fn the_index_survives_reopen(backend: &TestBackend) -> TestResult {
        {
            let store = backend.try_open(StoreOptions::new())?;
            store.write("acme", NewMemory::new("The launch is on Friday"))?;
        }
        let store = backend.try_open(StoreOptions::new())?;
        assert_eq!(
            decisions(&store, "acme", &SearchQuery::new("launch"))?.len(),
            1
        );
        Ok(())
    }

    fn turns_next_to_a_strong_match_in_the_same_session_join_the_candidates(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        let turn = |text: &str, session: &str| NewMemory::new(text).with_session(session);
        store.write_batch(
            "acme",
            vec![
                turn("Caroline: Did you adopt the puppy?", "s1"),
                turn("Melanie: Yes, last Tuesday!", "s1"),
                turn("Caroline: How lovely.", "s1"),
                turn("Melanie: Yes, we went hiking.", "s2"),
            ],
        )?;
        let hits = decisions(
            &store,
            "acme",
            &SearchQuery::new("When was the puppy adopted?"),
        )?;
        assert_eq!(hits[0], "Caroline: Did you adopt the puppy?");
        assert!(
            hits.contains(&"Melanie: Yes, last Tuesday!".to_owned()),
            "{hits:?}"
        );
        assert!(
            !hits.contains(&"Melanie: Yes, we went hiking.".to_owned()),
            "{hits:?}"
        );
        Ok(())
    }

    fn a_store_opened_without_the_index_refuses_search_and_is_reindexed_later(backend: &TestBackend) -> TestResult {
        let texts = ["Bob likes tea", "Bob likes green tea", "Alice likes coffee"];
        {
            let store = backend.try_open(StoreOptions::new())?;
            store.write("acme", NewMemory::new(texts[0]))?;
        }
        {
            let store = backend.try_open(StoreOptions::new().lexical_index(false))?;
            store.write("acme", NewMemory::new(texts[1]))?;
            store.write("acme", NewMemory::new(texts[2]))?;
            assert!(matches!(
                store.search("acme", &SearchQuery::new("tea")),
                Err(aurra::Error::InvalidArgument(_))
            ));
        }
        // Reopened with the index: rebuilt from every row, scored as if indexed all along
        // (and as the embedded store scores them).
        let store = backend.try_open(StoreOptions::new())?;
        let reference = Store::in_memory()?;
        for text in texts {
            reference.write("acme", NewMemory::new(text))?;
        }
        for question in ["tea", "Bob likes", "coffee"] {
            let got = store.search("acme", &SearchQuery::new(question))?;
            let want = reference.search("acme", &SearchQuery::new(question))?;
            let pairs = |r: &aurra::SearchResult| -> Vec<(String, String)> {
                r.hits
                    .iter()
                    .map(|h| (h.memory.decision.clone(), format!("{:.9}", h.score)))
                    .collect()
            };
            assert_eq!(pairs(&got), pairs(&want), "{question}");
        }
        Ok(())
    }

    fn rows_merged_into_postings_and_rows_still_pending_score_alike(backend: &TestBackend) -> TestResult {
        // More rows than one delta holds: some are merged into postings, the rest pending.
        let store = backend.try_open(StoreOptions::new())?;
        let reference_texts: Vec<String> = (0..600)
            .map(|i| {
                let extra = if i % 7 == 0 { " beta" } else { "" };
                format!("item{i} alpha{extra}")
            })
            .collect();
        for chunk in reference_texts.chunks(50) {
            let batch = chunk
                .iter()
                .map(|t| NewMemory::new(t.clone()).with_tenant("t"))
                .collect();
            store.write_batch("acme", batch)?;
        }
        let beta = store.search("acme", &SearchQuery::new("beta").tenant("t").limit(1000))?;
        assert_eq!(
            beta.hits.len(),
            reference_texts
                .iter()
                .filter(|t| t.ends_with("beta"))
                .count()
        );
        // Every "beta" row has the same length and term frequencies: one score for all.
        let first = beta.hits[0].score;
        assert!(beta.hits.iter().all(|h| (h.score - first).abs() < 1e-9));
        let alpha = store.search("acme", &SearchQuery::new("alpha").tenant("t").limit(1000))?;
        assert_eq!(alpha.hits.len(), 600);
        let one = store.search("acme", &SearchQuery::new("item599").tenant("t"))?;
        assert_eq!(one.hits[0].memory.decision, "item599 alpha");
        let old = store.search("acme", &SearchQuery::new("item3").tenant("t"))?;
        assert_eq!(old.hits[0].memory.decision, "item3 alpha");
        assert_eq!(store.delete_tenant("acme", Some("t"))?, 600);
        assert!(
            store
                .search("acme", &SearchQuery::new("alpha").tenant("t"))?
                .hits
                .is_empty()
        );
        Ok(())
    }

    fn a_huge_question_is_bounded_and_still_answers(backend: &TestBackend) -> TestResult {
        let store = backend.try_open(StoreOptions::new())?;
        store.write("acme", NewMemory::new("Bob likes tea"))?;
        // The first words count; a megabyte of distinct noise after them does not.
        let noise: Vec<String> = (0..100_000).map(|i| format!("noise{i}")).collect();
        let question = format!("tea {}", noise.join(" "));
        let hits = store.search("acme", &SearchQuery::new(question))?;
        assert_eq!(hits.hits.len(), 1);
        Ok(())
    }
}
