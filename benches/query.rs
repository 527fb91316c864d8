//! Query retrieval: aurra's lexical search (`Store::search`, current truth, 10 hits) against
//! SQLite FTS5 (`bm25`, 10 hits) on the same texts, in the same process: 10k and 100k
//! memories in one tenant, 500 three-word questions.
//!
//! Prints p50/p95 per engine and size, then criterion's measurement of the same loop. When
//! the LoCoMo development file is present (`AURRA_LOCOMO`, default
//! `../shared/data/locomo/locomo-dev.json`) it also prints recall@10 of both engines on it,
//! so that speed is compared at known recall. `cargo bench --bench query`.

use std::time::{Duration, Instant};

use aurra::{NewMemory, SearchQuery, Store, StoreOptions};
use criterion::{BenchmarkId, Criterion};
use rusqlite::{Connection, params};

mod sizes;

const ACCOUNT: &str = "acme";
const TENANT: &str = "bench";
const QUESTIONS: usize = 500;
const HITS: usize = 10;
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ren", "tas", "vo", "pel", "dri", "sun", "mar", "ti", "gal", "nor", "bek",
    "lu", "sa",
];

/// A deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words drawn with Zipf-like frequencies (rank r has weight 1 / (r + 1)), like text.
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new() -> Self {
        let mut words = Vec::new();
        for a in SYLLABLES {
            for b in SYLLABLES {
                words.push(format!("{a}{b}"));
                for c in SYLLABLES {
                    words.push(format!("{a}{b}{c}"));
                }
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in (1..words.len()).rev() {
            words.swap(i, rng.below(i + 1));
        }
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Words { words, cumulative }
    }

    fn draw(&self, rng: &mut Rng, skip_top: usize) -> &str {
        let total = self.cumulative[self.cumulative.len() - 1];
        loop {
            let x = (rng.next() as f64 / u64::MAX as f64) * total;
            let rank = self.cumulative.partition_point(|&c| c < x);
            if rank >= skip_top && rank < self.words.len() {
                return &self.words[rank];
            }
        }
    }
}

fn texts(size: usize) -> Vec<String> {
    let words = Words::new();
    let mut rng = Rng(42);
    (0..size)
        .map(|_| {
            let n = 8 + rng.below(13);
            (0..n)
                .map(|_| words.draw(&mut rng, 0).to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn questions() -> Vec<Vec<String>> {
    let words = Words::new();
    let mut rng = Rng(7);
    (0..QUESTIONS)
        .map(|_| {
            (0..3)
                .map(|_| words.draw(&mut rng, 30).to_owned())
                .collect()
        })
        .collect()
}

struct Engines {
    aurra: Store,
    sqlite: Connection,
    _dir: tempfile::TempDir,
}

fn build(size: usize) -> Engines {
    let dir = tempfile::tempdir().expect("temp dir");
    let aurra = Store::open_with(
        dir.path().join("aurra.redb"),
        StoreOptions::new().durable(false),
    )
    .expect("open aurra");
    let all = texts(size);
    for chunk in all.chunks(1000) {
        let batch = chunk
            .iter()
            .map(|t| NewMemory::new(t.clone()).with_tenant(TENANT))
            .collect();
        aurra.write_batch(ACCOUNT, batch).expect("load aurra");
    }
    let sqlite = Connection::open(dir.path().join("fts.sqlite")).expect("open sqlite");
    sqlite
        .execute_batch("PRAGMA journal_mode=WAL; CREATE VIRTUAL TABLE docs USING fts5(body);")
        .expect("fts5 table");
    let txn = sqlite.unchecked_transaction().expect("txn");
    {
        let mut insert = txn
            .prepare("INSERT INTO docs(body) VALUES (?1)")
            .expect("prepare");
        for t in &all {
            insert.execute(params![t]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    Engines {
        aurra,
        sqlite,
        _dir: dir,
    }
}

fn aurra_search(store: &Store, question: &[String]) -> usize {
    let query = SearchQuery::new(question.join(" "))
        .tenant(TENANT)
        .limit(HITS);
    let hits = store.search(ACCOUNT, &query).expect("search").hits;
    assert!(hits.len() <= HITS);
    hits.len()
}

fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn sqlite_search(conn: &Connection, question: &[String]) -> usize {
    let mut stmt = conn
        .prepare_cached("SELECT rowid FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs) LIMIT 10")
        .expect("prepare");
    let rows: Vec<i64> = stmt
        .query_map(params![fts_query(question)], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.len()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.95))
}

fn sizes() -> Vec<usize> {
    sizes::sizes(&[10_000, 100_000], 2000)
}

/// recall@10 of both engines on the LoCoMo file, if present.
fn locomo_recall() {
    let path = std::env::var("AURRA_LOCOMO")
        .unwrap_or_else(|_| "../shared/data/locomo/locomo-dev.json".into());
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("(LoCoMo file {path} not found: recall comparison skipped)");
        return;
    };
    let run = aurra::eval::run_locomo(&text, aurra::StoreOptions::new(), &[]).expect("aurra eval");
    let report = &run.reports[0];
    // FTS5 on the same turns (the same stored text), one conversation at a time; questions
    // become an OR of their words longer than two letters.
    let conversations = aurra::eval::parse_locomo(&text).expect("parse LoCoMo");
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch(
        "CREATE VIRTUAL TABLE turns USING fts5(conv UNINDEXED, dia UNINDEXED, body);",
    )
    .expect("fts5");
    let (mut sum, mut count) = (0.0, 0usize);
    for (n, conversation) in conversations.iter().enumerate() {
        for turn in &conversation.turns {
            conn.execute(
                "INSERT INTO turns(conv, dia, body) VALUES (?1, ?2, ?3)",
                params![n as i64, turn.dia_id, turn.content],
            )
            .expect("insert");
        }
        for question in &conversation.questions {
            let terms: Vec<String> = question
                .text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 2)
                .map(str::to_lowercase)
                .collect();
            let mut found: Vec<String> = Vec::new();
            if !terms.is_empty() {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT dia FROM turns WHERE turns MATCH ?1 AND conv = ?2 \
                         ORDER BY bm25(turns) LIMIT 10",
                    )
                    .expect("prepare");
                found = stmt
                    .query_map(
                        params![format!("body : ({})", fts_query(&terms)), n as i64],
                        |r| r.get::<_, String>(0),
                    )
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows");
            }
            let evidence = &question.evidence;
            let hit = evidence.iter().filter(|e| found.contains(e)).count();
            sum += hit as f64 / evidence.len() as f64;
            count += 1;
        }
    }
    println!(
        "LoCoMo dev recall@10: aurra {:.3}, SQLite FTS5 bm25 {:.3} ({count} questions)",
        report.recall[1],
        sum / count.max(1) as f64
    );
}

fn main() {
    let qs = questions();
    let mut c = Criterion::default().configure_from_args();
    println!("| memories | aurra p50 | aurra p95 | FTS5 p50 | FTS5 p95 | FTS5 p95 ÷ aurra p95 |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut group_inputs = Vec::new();
    for size in sizes() {
        let engines = build(size);
        let mut aurra_times = Vec::with_capacity(qs.len());
        let mut sqlite_times = Vec::with_capacity(qs.len());
        // Warm both caches once, then time every question on each engine.
        for q in &qs {
            aurra_search(&engines.aurra, q);
            sqlite_search(&engines.sqlite, q);
        }
        for q in &qs {
            let t = Instant::now();
            aurra_search(&engines.aurra, q);
            aurra_times.push(t.elapsed());
            let t = Instant::now();
            sqlite_search(&engines.sqlite, q);
            sqlite_times.push(t.elapsed());
        }
        let (a50, a95) = percentiles(aurra_times);
        let (s50, s95) = percentiles(sqlite_times);
        println!(
            "| {size} | {a50:.2?} | {a95:.2?} | {s50:.2?} | {s95:.2?} | {:.2}× |",
            s95.as_secs_f64() / a95.as_secs_f64()
        );
        group_inputs.push((size, engines));
    }
    locomo_recall();
    let mut group = c.benchmark_group("query");
    for (size, engines) in &group_inputs {
        let label = format!("{}k", size / 1000);
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                aurra_search(&engines.aurra, &qs[i])
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("sqlite_fts5", &label), |b| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                sqlite_search(&engines.sqlite, &qs[i])
            })
        });
    }
    group.finish();
    c.final_summary();
}
