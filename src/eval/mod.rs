//! Quality measurements: retrieval on LoCoMo-format conversations (`aurra eval locomo FILE`)
//! messages-mode extraction on labelled conversations (`aurra eval extraction FILE`), and the
//! Level 2 classifier on labelled pairs (`aurra eval classification FILE`).
//!
//! LoCoMo:
//! Each conversation goes into its own tenant, one memory per turn (`"<speaker>: <text>"`,
//! plus the image caption when there is one), `valid_from` = the session's date. Every
//! question of categories 1–4 goes through [`Store::query`]; recall@k is the fraction of a
//! question's evidence turns among its top k candidates, averaged over questions.

mod classification;
mod extraction;
mod extraction_locomo;
pub use classification::{
    CandidateReport, ClassificationReport, run_candidates, run_classification,
};
pub use extraction::{ExtractionReport, run_extraction};
pub use extraction_locomo::{LocomoExtractionReport, relative_time_words, run_locomo_extraction};

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::answer::ExtractiveAnswerer;
use crate::error::{Error, Result};
use crate::model::{NewMemory, SearchQuery, SearchType};
use crate::query::QueryRequest;
use crate::store::{Store, StoreOptions};
use crate::time::Timestamp;

/// The cut-offs reported.
pub const RECALL_AT: [usize; 3] = [5, 10, 20];

pub(crate) const ACCOUNT: &str = "locomo";

/// Which questions a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Every conversation of the file.
    All,
    /// The conversations not held out: the ones tuning may look at.
    Tuning,
    /// The conversations named held out: never tuned on.
    HeldOut,
}

impl Split {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Split::All => "all conversations",
            Split::Tuning => "tuning conversations",
            Split::HeldOut => "held-out conversations",
        }
    }
}

/// Recall and latency of one retrieval method on one split.
#[derive(Clone, Debug, PartialEq)]
pub struct LocomoReport {
    /// Conversations in the split.
    pub conversations: usize,
    /// Memories of those conversations (one per turn).
    pub memories: usize,
    /// Questions asked (categories 1–4 with evidence).
    pub questions: usize,
    /// Mean recall at 5, 10 and 20.
    pub recall: [f64; 3],
    /// Per category: questions and mean recall at 5, 10, 20.
    pub per_category: BTreeMap<u64, (usize, [f64; 3])>,
    /// Query latency percentiles in microseconds: p50 and p95.
    pub latency_micros: (u64, u64),
    /// How candidates were retrieved.
    pub search_type: SearchType,
    /// Which conversations.
    pub split: Split,
}

impl std::fmt::Display for LocomoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} search, {}: {} conversations, {} memories, {} questions (categories 1-4)",
            self.search_type.as_str(),
            self.split.as_str(),
            self.conversations,
            self.memories,
            self.questions,
        )?;
        writeln!(
            f,
            "| category | questions | recall@5 | recall@10 | recall@20 |"
        )?;
        writeln!(f, "| --- | ---: | ---: | ---: | ---: |")?;
        for (category, (n, r)) in &self.per_category {
            writeln!(
                f,
                "| {} | {n} | {:.3} | {:.3} | {:.3} |",
                category_name(*category),
                r[0],
                r[1],
                r[2]
            )?;
        }
        let r = self.recall;
        writeln!(
            f,
            "| all | {} | {:.3} | {:.3} | {:.3} |",
            self.questions, r[0], r[1], r[2]
        )?;
        write!(
            f,
            "query latency: p50 {} µs, p95 {} µs",
            self.latency_micros.0, self.latency_micros.1
        )
    }
}

/// Every report of one `run_locomo`: each retrieval method the store can do (keyword,
/// semantic, hybrid) on each split, measured on the same stored turns in the same run.
#[derive(Clone, Debug, PartialEq)]
pub struct LocomoRun {
    /// By method, then split.
    pub reports: Vec<LocomoReport>,
}

impl LocomoRun {
    /// The report of `method` on `split`.
    pub fn report(&self, method: SearchType, split: Split) -> Option<&LocomoReport> {
        self.reports
            .iter()
            .find(|r| r.search_type == method && r.split == split)
    }
}

impl std::fmt::Display for LocomoRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for report in &self.reports {
            writeln!(f, "{report}\n")?;
        }
        for split in [Split::All, Split::Tuning, Split::HeldOut] {
            if let (Some(keyword), Some(hybrid)) = (
                self.report(SearchType::Keyword, split),
                self.report(SearchType::Hybrid, split),
            ) {
                writeln!(
                    f,
                    "{}: hybrid recall@10 {:.3} against keyword {:.3} ({:+.3})",
                    split.as_str(),
                    hybrid.recall[1],
                    keyword.recall[1],
                    hybrid.recall[1] - keyword.recall[1]
                )?;
            }
        }
        Ok(())
    }
}

fn category_name(category: u64) -> String {
    match category {
        1 => "1 multi-hop".into(),
        2 => "2 temporal".into(),
        3 => "3 open-domain".into(),
        4 => "4 single-hop".into(),
        other => other.to_string(),
    }
}

/// `part / whole`, or 1 when `whole` is 0 (nothing to get wrong, nothing to miss).
fn share_or_one(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// How `store` searches; an error when its options allow no search.
pub(crate) fn searching(store: &Store) -> Result<SearchType> {
    store
        .search_type()
        .ok_or_else(|| Error::InvalidArgument("the store options allow no search".into()))
}

fn bad(what: impl Into<String>) -> Error {
    Error::InvalidArgument(format!("not a LoCoMo file: {}", what.into()))
}

/// Parses a session date such as `1:56 pm on 8 May, 2023` (read as UTC).
pub fn parse_session_date(text: &str) -> Option<Timestamp> {
    let normalised = text.trim().replace("  ", " ");
    let parsed = NaiveDateTime::parse_from_str(&normalised, "%I:%M %p on %d %B, %Y")
        .or_else(|_| NaiveDateTime::parse_from_str(&normalised, "%I:%M %p on %d %b, %Y"))
        .ok()?;
    Some(Timestamp::from_micros(parsed.and_utc().timestamp_micros()))
}

/// One conversation of a LoCoMo file: its turns and its scored questions.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    /// `sample_id` (or `conversation-N`).
    pub id: String,
    /// Every turn, in order.
    pub turns: Vec<Turn>,
    /// Questions of categories 1–4 that name evidence.
    pub questions: Vec<Question>,
}

/// One turn, as stored: one memory each.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// `D1:3`.
    pub dia_id: String,
    /// 1-based session number.
    pub session: usize,
    /// The session's date, when it parses.
    pub date: Option<Timestamp>,
    /// `"<speaker>: <text>"`, plus ` [image: <caption>]` when there is one.
    pub content: String,
    /// Who spoke.
    pub speaker: String,
    /// What they said (without the caption).
    pub text: String,
}

/// One scored question.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// The question.
    pub text: String,
    /// 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop.
    pub category: u64,
    /// The `dia_id`s of its evidence turns.
    pub evidence: Vec<String>,
    /// The gold answer (numbers as written), when the file gives one.
    pub answer: Option<String>,
}

/// Parses a LoCoMo-format file (see `../shared/data/locomo/README.md`).
pub fn parse_locomo(json: &str) -> Result<Vec<Conversation>> {
    let data: Value = serde_json::from_str(json).map_err(|e| bad(format!("invalid JSON ({e})")))?;
    let samples = data.as_array().ok_or_else(|| bad("expected a list"))?;
    let mut conversations = Vec::with_capacity(samples.len());
    for (n, sample) in samples.iter().enumerate() {
        let id = sample["sample_id"]
            .as_str()
            .map_or_else(|| format!("conversation-{n}"), str::to_owned);
        let conversation = sample["conversation"]
            .as_object()
            .ok_or_else(|| bad(format!("{id}: no conversation")))?;
        let mut turns = Vec::new();
        for session in 1.. {
            let Some(session_turns) = conversation.get(&format!("session_{session}")) else {
                break;
            };
            let date = conversation
                .get(&format!("session_{session}_date_time"))
                .and_then(Value::as_str)
                .and_then(parse_session_date);
            for turn in session_turns.as_array().into_iter().flatten() {
                let (Some(speaker), Some(text), Some(dia_id)) = (
                    turn["speaker"].as_str(),
                    turn["text"].as_str(),
                    turn["dia_id"].as_str(),
                ) else {
                    continue;
                };
                let mut content = format!("{speaker}: {text}");
                if let Some(caption) = turn["blip_caption"].as_str() {
                    content.push_str(&format!(" [image: {caption}]"));
                }
                turns.push(Turn {
                    dia_id: dia_id.to_owned(),
                    session,
                    date,
                    content,
                    speaker: speaker.to_owned(),
                    text: text.to_owned(),
                });
            }
        }
        let mut questions = Vec::new();
        for qa in sample["qa"].as_array().into_iter().flatten() {
            let category = qa["category"].as_u64().unwrap_or(0);
            let Some(text) = qa["question"].as_str() else {
                continue;
            };
            let evidence: Vec<String> = qa["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .flat_map(|e| e.split([';', ',', ' ']))
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
            if (1..=4).contains(&category) && !evidence.is_empty() {
                let answer = match &qa["answer"] {
                    Value::String(a) => Some(a.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                questions.push(Question {
                    text: text.to_owned(),
                    category,
                    evidence,
                    answer,
                });
            }
        }
        conversations.push(Conversation {
            id,
            turns,
            questions,
        });
    }
    Ok(conversations)
}

/// Loads the conversations of `json` into a fresh in-memory store opened with `options`
/// (e.g. with an embedder, to measure hybrid search), asks every question of categories 1–4
/// with each retrieval method the store can do, and reports recall@5/10/20 and query latency
/// per method: on every conversation when `held_out` is empty, else separately on the
/// conversations named there (by `sample_id`) and on the rest.
pub fn run_locomo(json: &str, options: StoreOptions, held_out: &[String]) -> Result<LocomoRun> {
    let conversations = parse_locomo(json)?;
    for name in held_out {
        if !conversations.iter().any(|c| &c.id == name) {
            return Err(Error::InvalidArgument(format!(
                "held-out conversation {name:?} is not in the file"
            )));
        }
    }
    let store = Store::in_memory_with(options.durable(false))?;
    for conversation in &conversations {
        let batch: Vec<NewMemory> = conversation
            .turns
            .iter()
            .map(|turn| {
                let mut memory = NewMemory::new(turn.content.clone())
                    .with_tenant(conversation.id.clone())
                    .with_source("locomo")
                    .with_channel(turn.dia_id.clone())
                    .with_session(format!("session_{}", turn.session))
                    .with_external_id(turn.dia_id.clone());
                memory.valid_from = turn.date;
                memory.recorded_at = turn.date;
                memory
            })
            .collect();
        store.write_batch(ACCOUNT, batch)?;
    }
    let own = searching(&store)?;
    let methods: &[SearchType] = match own {
        SearchType::Hybrid => &[
            SearchType::Keyword,
            SearchType::Semantic,
            SearchType::Hybrid,
        ],
        SearchType::Keyword => &[SearchType::Keyword],
        SearchType::Semantic => &[SearchType::Semantic],
    };
    let splits: Vec<(Split, Vec<&Conversation>)> = if held_out.is_empty() {
        vec![(Split::All, conversations.iter().collect())]
    } else {
        let (held, tuning): (Vec<&Conversation>, Vec<&Conversation>) =
            conversations.iter().partition(|c| held_out.contains(&c.id));
        vec![(Split::Tuning, tuning), (Split::HeldOut, held)]
    };
    let mut reports = Vec::new();
    for &method in methods {
        for (split, members) in &splits {
            reports.push(measure(&store, method, *split, members)?);
        }
    }
    Ok(LocomoRun { reports })
}

/// Asks the questions of `conversations` with `method` and scores them.
fn measure(
    store: &Store,
    method: SearchType,
    split: Split,
    conversations: &[&Conversation],
) -> Result<LocomoReport> {
    let questions: Vec<(&str, &Question)> = conversations
        .iter()
        .flat_map(|c| c.questions.iter().map(move |q| (c.id.as_str(), q)))
        .collect();
    let deepest = RECALL_AT[RECALL_AT.len() - 1];
    let mut totals = [0.0; 3];
    let mut per_category: BTreeMap<u64, (usize, [f64; 3])> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(questions.len());
    for (tenant, question) in &questions {
        let Question {
            text,
            category,
            evidence,
            ..
        } = question;
        let request = QueryRequest {
            search: SearchQuery::new(text.clone())
                .tenant(*tenant)
                .limit(deepest)
                .method(method),
            reference_date: None,
            include_proof_tree: false,
        };
        let started = Instant::now();
        let answer = store.query(ACCOUNT, &request, &ExtractiveAnswerer)?;
        latencies.push(started.elapsed().as_micros() as u64);
        let ranked: Vec<&str> = answer
            .citations
            .iter()
            .filter_map(|c| c.memory.external_id.as_deref())
            .collect();
        let entry = per_category.entry(*category).or_default();
        entry.0 += 1;
        for (i, k) in RECALL_AT.iter().enumerate() {
            let top = &ranked[..ranked.len().min(*k)];
            let found = evidence
                .iter()
                .filter(|e| top.contains(&e.as_str()))
                .count();
            let recall = found as f64 / evidence.len() as f64;
            totals[i] += recall;
            entry.1[i] += recall;
        }
    }
    for (n, sums) in per_category.values_mut() {
        for s in sums.iter_mut() {
            *s /= (*n).max(1) as f64;
        }
    }
    let count = questions.len().max(1) as f64;
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(LocomoReport {
        conversations: conversations.len(),
        memories: conversations.iter().map(|c| c.turns.len()).sum(),
        questions: questions.len(),
        recall: totals.map(|t| t / count),
        per_category,
        latency_micros: (pick(0.50), pick(0.95)),
        search_type: method,
        split,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_dates_parse_in_both_month_spellings() {
        assert_eq!(
            parse_session_date("1:56 pm on 8 May, 2023"),
            Some(Timestamp::parse("2023-05-08T13:56:00Z").unwrap())
        );
        assert_eq!(
            parse_session_date("10:37 am on 27 June, 2023"),
            Some(Timestamp::parse("2023-06-27T10:37:00Z").unwrap())
        );
        assert_eq!(parse_session_date("yesterday"), None);
    }

    #[test]
    fn recall_counts_evidence_found_in_the_top_k() {
        let file = serde_json::json!([{
            "sample_id": "conv-1",
            "conversation": {
                "speaker_a": "Caroline", "speaker_b": "Melanie",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to the LGBTQ support group yesterday."},
                    {"speaker": "Melanie", "dia_id": "D1:2", "text": "I painted a sunrise last year."},
                    {"speaker": "Caroline", "dia_id": "D1:3", "text": "Nice!", "blip_caption": "a photo of a lake"}
                ]
            },
            "qa": [
                {"question": "When did Caroline go to the support group?", "answer": "7 May 2023", "evidence": ["D1:1"], "category": 2},
                {"question": "What did Melanie paint?", "answer": "a sunrise", "evidence": ["D1:2"], "category": 4},
                {"question": "What is in Caroline's photo?", "answer": "a lake", "evidence": ["D1:3"], "category": 4},
                {"question": "Unanswerable?", "adversarial_answer": "x", "evidence": ["D1:1"], "category": 5},
                {"question": "Zebra unicorns?", "answer": "none", "evidence": ["D1:9"], "category": 1}
            ]
        }]);
        let run = run_locomo(&file.to_string(), StoreOptions::new(), &[]).unwrap();
        assert_eq!(run.reports.len(), 1);
        let report = run.report(SearchType::Keyword, Split::All).unwrap();
        assert_eq!(
            (report.conversations, report.memories, report.questions),
            (1, 3, 4)
        );
        // Three of four questions find their evidence at rank 1; the last finds nothing.
        assert_eq!(report.recall, [0.75, 0.75, 0.75]);
        assert_eq!(report.per_category[&4], (2, [1.0, 1.0, 1.0]));
        assert_eq!(report.per_category[&1], (1, [0.0, 0.0, 0.0]));
        assert!(report.to_string().contains("| all | 4 | 0.750"));
    }

    #[test]
    fn held_out_conversations_are_reported_apart_and_must_exist() {
        let conversation = |id: &str, text: &str, question: &str| {
            serde_json::json!({
                "sample_id": id,
                "conversation": {
                    "session_1_date_time": "1:56 pm on 8 May, 2023",
                    "session_1": [
                        {"speaker": "Ann", "dia_id": "D1:1", "text": text},
                        {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice."}
                    ]
                },
                "qa": [{"question": question, "answer": "x", "evidence": ["D1:1"], "category": 4}]
            })
        };
        let file = serde_json::json!([
            conversation("a", "I adopted a greyhound.", "What dog did Ann adopt?"),
            conversation("b", "I sold my bicycle.", "Which planet is largest?"),
        ])
        .to_string();
        let run = run_locomo(&file, StoreOptions::new(), &["b".to_owned()]).unwrap();
        let tuning = run.report(SearchType::Keyword, Split::Tuning).unwrap();
        let held = run.report(SearchType::Keyword, Split::HeldOut).unwrap();
        assert_eq!(
            (tuning.conversations, tuning.memories, tuning.questions),
            (1, 2, 1)
        );
        assert_eq!(
            (held.conversations, held.memories, held.questions),
            (1, 2, 1)
        );
        assert_eq!(tuning.recall, [1.0; 3]);
        assert_eq!(held.recall, [0.0; 3]);
        assert!(run.report(SearchType::Keyword, Split::All).is_none());
        assert!(run.to_string().contains("held-out conversations"));
        match run_locomo(&file, StoreOptions::new(), &["c".to_owned()]) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("\"c\""), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_that_is_not_locomo_is_refused_with_a_reason() {
        for bad in ["{", "{}", "[{\"sample_id\": \"x\"}]"] {
            match run_locomo(bad, StoreOptions::new(), &[]) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains("LoCoMo"), "{msg}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
