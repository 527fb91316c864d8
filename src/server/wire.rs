//! Wire types: the JSON shapes of the contract, kept apart from the core types so that the
//! store can evolve without changing what clients see (spec §3.2–3.4, §7.3, §8).

use schemars::JsonSchema;
use serde::Serialize;

use crate::temporal::{flags, freshness};
use crate::{AuditEvent, EventDetails, Memory, MemoryId, Settings, Timestamp};

/// A timestamp as the contract renders it: UTC, 6 fractional digits, `+00:00`.
pub(crate) fn ts(t: Timestamp) -> String {
    t.to_string()
}

/// A timestamp field, rendered once into a fixed buffer (no `String`, no `core::fmt`); a
/// memory's instants often coincide (`created_at`, `transaction_time_start`, `captured_at`,
/// `valid_from`), so [`Ts::like`] reuses a rendering.
#[derive(Clone, Copy)]
pub(crate) struct Ts {
    at: Timestamp,
    text: Option<[u8; 32]>,
}

impl Ts {
    fn new(at: Timestamp) -> Self {
        Ts {
            at,
            text: at.rendered(),
        }
    }

    /// `at`, reusing `self`'s rendering when it is the same instant.
    fn like(self, at: Timestamp) -> Self {
        if at == self.at { self } else { Ts::new(at) }
    }
}

impl JsonSchema for Ts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "UTC, six fractional digits, `+00:00` (2026-05-05T23:09:59.063114+00:00)",
        })
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.text.as_ref().and_then(|t| std::str::from_utf8(t).ok()) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(&self.at),
        }
    }
}

fn opt_ts(t: Option<Timestamp>) -> Option<Ts> {
    t.map(Ts::new)
}

fn opt_id(id: Option<MemoryId>) -> Option<String> {
    id.map(|i| i.to_string())
}

/// The 9-field `temporal` block (spec §3.3).
#[derive(Serialize, JsonSchema)]
pub(crate) struct Temporal {
    valid_from: Ts,
    valid_to: Option<Ts>,
    superseded_by: Option<String>,
    is_current: bool,
    is_expired: bool,
    is_superseded: bool,
    transaction_time_start: Ts,
    transaction_time_end: Option<Ts>,
    is_known_current: bool,
}

impl Temporal {
    pub fn of(m: &Memory, now: Timestamp) -> Self {
        Self::with(m, now, Ts::new(m.created_at))
    }

    /// Like [`Temporal::of`], reusing `created`'s rendering of `created_at`.
    fn with(m: &Memory, now: Timestamp, created: Ts) -> Self {
        let f = flags(m, now);
        Temporal {
            valid_from: created.like(m.valid_from),
            valid_to: opt_ts(m.valid_to),
            superseded_by: opt_id(m.superseded_by),
            is_current: f.is_current,
            is_expired: f.is_expired,
            is_superseded: f.is_superseded,
            transaction_time_start: created.like(m.transaction_time_start),
            transaction_time_end: opt_ts(m.transaction_time_end),
            is_known_current: f.is_known_current,
        }
    }
}

/// `source_citation` (spec §3.4).
#[derive(Serialize, JsonSchema)]
pub(crate) struct SourceCitation<'a> {
    r#type: &'a str,
    channel: &'a str,
    captured_at: Ts,
    session_id: Option<&'a str>,
    original_message: &'a str,
}

impl<'a> SourceCitation<'a> {
    fn with(m: &'a Memory, created: Ts) -> Self {
        SourceCitation {
            r#type: &m.source,
            channel: &m.channel,
            captured_at: created.like(m.captured_at),
            session_id: m.session_id.as_deref(),
            original_message: &m.original_message,
        }
    }
}

/// The memory object of list, query and timeline responses (spec §3.2).
#[derive(Serialize, JsonSchema)]
pub(crate) struct WireMemory<'a> {
    id: String,
    summary: &'a str,
    decision: &'a str,
    topic: &'a str,
    importance_score: u8,
    /// Legacy string form of `importance_score` (spec §3.5, optional).
    importance: &'static str,
    source: &'a str,
    channel: &'a str,
    session_id: Option<&'a str>,
    original_message: &'a str,
    created_at: Ts,
    valid_from: Ts,
    valid_to: Option<Ts>,
    superseded_by: Option<String>,
    tenant_id: Option<&'a str>,
    freshness: f64,
    source_citation: SourceCitation<'a>,
    temporal: Temporal,
}

impl<'a> WireMemory<'a> {
    /// `m` as seen at `now`, with freshness from the caller's half-life.
    pub fn of(m: &'a Memory, now: Timestamp, half_life_days: f64) -> Self {
        let created = Ts::new(m.created_at);
        WireMemory {
            id: m.id.to_string(),
            summary: &m.summary,
            decision: &m.decision,
            topic: &m.topic,
            importance_score: m.importance_score,
            importance: legacy_importance(m.importance_score),
            source: &m.source,
            channel: &m.channel,
            session_id: m.session_id.as_deref(),
            original_message: &m.original_message,
            created_at: created,
            valid_from: created.like(m.valid_from),
            valid_to: opt_ts(m.valid_to),
            superseded_by: opt_id(m.superseded_by),
            tenant_id: m.tenant.as_deref(),
            freshness: freshness(m, now, half_life_days),
            source_citation: SourceCitation::with(m, created),
            temporal: Temporal::with(m, now, created),
        }
    }
}

fn legacy_importance(score: u8) -> &'static str {
    match score {
        7.. => "high",
        ..=3 => "low",
        _ => "medium",
    }
}

/// The legacy `importance` request string mapped to a score (spec §3.5).
pub(crate) fn importance_from_legacy(text: &str) -> i64 {
    match text.trim().to_ascii_lowercase().as_str() {
        "high" => 8,
        "low" => 2,
        _ => 5,
    }
}

/// Memories rendered for one read.
pub(crate) fn memories(list: &[Memory], now: Timestamp, half_life: f64) -> Vec<WireMemory<'_>> {
    list.iter()
        .map(|m| WireMemory::of(m, now, half_life))
        .collect()
}

/// The `GET /agent/memories` response (spec §5.2).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ListResponse<'a> {
    pub company_id: &'a str,
    pub tenant_id: Option<&'a str>,
    pub as_of: Option<&'a str>,
    pub transaction_as_of: Option<&'a str>,
    pub include_superseded: bool,
    pub source: Option<&'a str>,
    pub count: usize,
    pub superseded_count: usize,
    pub memories: Vec<WireMemory<'a>>,
}

/// The `GET /memories/{id}/timeline` response (spec §7.2).
#[derive(Serialize, JsonSchema)]
pub(crate) struct TimelineResponse<'a> {
    pub memory_id: String,
    pub company_id: &'a str,
    pub chain_length: usize,
    pub timeline: Vec<WireMemory<'a>>,
}

/// How many rows of a result are superseded (`superseded_count`, spec O-2).
pub(crate) fn superseded_count(list: &[Memory], now: Timestamp) -> usize {
    list.iter().filter(|m| flags(m, now).is_superseded).count()
}

/// The `GET /agent/settings` object (spec §8.1).
#[derive(Serialize, JsonSchema)]
pub(crate) struct WireSettings<'a> {
    auto_supersede_default: bool,
    excluded_categories: &'a [String],
    min_confidence: f64,
    classifier_model: &'a str,
    freshness_half_life_days: f64,
    status: &'a str,
}

impl<'a> WireSettings<'a> {
    pub fn of(s: &'a Settings, status: &'a str) -> Self {
        WireSettings {
            auto_supersede_default: s.auto_supersede_default,
            excluded_categories: &s.excluded_categories,
            min_confidence: s.min_confidence,
            classifier_model: &s.classifier_model,
            freshness_half_life_days: s.freshness_half_life_days,
            status,
        }
    }
}

/// One `history` entry of the audit response (spec §9.5).
#[derive(Serialize, JsonSchema)]
pub(crate) struct WireEvent {
    event: &'static str,
    at: String,
    by: String,
    details: serde_json::Value,
}

impl WireEvent {
    pub fn of(e: &AuditEvent) -> Self {
        use serde_json::json;
        let details = match &e.details {
            EventDetails::Created {
                shape,
                topic,
                source,
                tenant,
            } => json!({
                "shape": shape.as_str(), "topic": topic, "source": source, "tenant_id": tenant,
            }),
            EventDetails::Superseded {
                superseded_by,
                valid_to,
                requested_valid_to,
            } => {
                let mut details =
                    json!({ "superseded_by": opt_id(*superseded_by), "valid_to": ts(*valid_to) });
                requested(&mut details, *requested_valid_to);
                details
            }
            EventDetails::Expired {
                valid_to,
                requested_valid_to,
            } => {
                let mut details = json!({ "valid_to": ts(*valid_to) });
                requested(&mut details, *requested_valid_to);
                details
            }
            EventDetails::Classified {
                verdict,
                confidence,
                model,
                new_memory_id,
                applied,
                reasoning,
            } => json!({
                "verdict": verdict, "confidence": confidence, "model": model,
                "new_memory_id": new_memory_id.to_string(), "applied": applied,
                "reasoning": reasoning,
            }),
            _ => serde_json::Value::Null,
        };
        WireEvent {
            event: e.kind.as_str(),
            at: ts(e.at),
            by: e.by.clone(),
            details,
        }
    }
}

/// Adds `requested_valid_to` to a supersession's details when the stored end differs from
/// the one asked for (an end before `valid_from`).
fn requested(details: &mut serde_json::Value, requested: Option<Timestamp>) {
    if let (Some(at), Some(object)) = (requested, details.as_object_mut()) {
        object.insert("requested_valid_to".into(), ts(at).into());
    }
}

/// What a query response echoes of its request.
pub(crate) struct QueryEcho {
    pub company_id: String,
    pub tenant_id: Option<String>,
    pub sources: Option<Vec<String>>,
    /// As sent.
    pub as_of: Option<String>,
    /// As sent.
    pub transaction_as_of: Option<String>,
    /// The candidate limit.
    pub k: i64,
}

/// Similarity as the examples show it: 4 decimals.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One entry of `citations` (spec §6.2).
#[derive(Serialize, JsonSchema)]
struct WireCitation<'a> {
    index: usize,
    memory_id: String,
    decision: &'a str,
    /// Alias of `decision` (old quickstart shape).
    content: &'a str,
    topic: &'a str,
    similarity: f64,
    cited_by_llm: bool,
    valid_from: Ts,
    is_superseded: bool,
    tenant_id: Option<&'a str>,
    source: &'a str,
}

/// A candidate's full memory object, with its similarity.
#[derive(Serialize, JsonSchema)]
struct RankedMemory<'a> {
    #[serde(flatten)]
    memory: WireMemory<'a>,
    similarity: f64,
}

#[derive(Serialize, JsonSchema)]
struct BiTemporal {
    valid_from: Ts,
    valid_to: Option<Ts>,
    transaction_time_start: Ts,
    transaction_time_end: Option<Ts>,
    superseded_by: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct EvidenceEntry<'a> {
    index: usize,
    memory_id: String,
    decision: &'a str,
    similarity: f64,
    cited: bool,
    bi_temporal: BiTemporal,
    source_citation: SourceCitation<'a>,
}

#[derive(Serialize, JsonSchema)]
struct Filters<'a> {
    tenant_id: Option<&'a str>,
    sources: Option<&'a [String]>,
    as_of: Option<&'a str>,
    transaction_as_of: Option<&'a str>,
    similarity_threshold: Option<f64>,
    include_superseded: bool,
}

#[derive(Serialize, JsonSchema)]
struct Retrieval<'a> {
    method: &'static str,
    k: i64,
    memories_evaluated: usize,
    memories_cited: usize,
    filters: Filters<'a>,
}

#[derive(Serialize, JsonSchema)]
struct WireLink {
    memory_id: String,
    superseded_by: Option<String>,
    superseded_at: Option<Ts>,
    decision_at_time: String,
}

#[derive(Serialize, JsonSchema)]
struct WireChain {
    starting_memory_id: String,
    current_truth_memory_id: Option<String>,
    chain: Vec<WireLink>,
}

#[derive(Serialize, JsonSchema)]
struct WireProofTree<'a> {
    version: &'static str,
    question: &'a str,
    answer_hash: &'a str,
    generated_at: Ts,
    retrieval: Retrieval<'a>,
    evidence_chain: Vec<EvidenceEntry<'a>>,
    supersession_chains: Vec<WireChain>,
}

/// The `POST /agent/query` response (spec §6.1).
#[derive(Serialize, JsonSchema)]
pub(crate) struct QueryResponse<'a> {
    question: &'a str,
    answer: &'a str,
    answer_with_citations: &'a str,
    citations: Vec<WireCitation<'a>>,
    memories: Vec<RankedMemory<'a>>,
    memories_searched: usize,
    search_type: &'static str,
    company_id: &'a str,
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_as_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof_tree: Option<WireProofTree<'a>>,
}

pub(crate) fn query_response<'a>(
    answer: &'a crate::QueryAnswer,
    echo: &'a QueryEcho,
    half_life: f64,
) -> QueryResponse<'a> {
    let now = answer.now;
    let citations = answer
        .citations
        .iter()
        .map(|c| WireCitation {
            index: c.index,
            memory_id: c.memory.id.to_string(),
            decision: &c.memory.decision,
            content: &c.memory.decision,
            topic: &c.memory.topic,
            similarity: round4(c.similarity),
            cited_by_llm: c.cited,
            valid_from: Ts::new(c.memory.valid_from),
            is_superseded: flags(&c.memory, now).is_superseded,
            tenant_id: c.memory.tenant.as_deref(),
            source: &c.memory.source,
        })
        .collect();
    let memories = answer
        .citations
        .iter()
        .map(|c| RankedMemory {
            memory: WireMemory::of(&c.memory, now, half_life),
            similarity: round4(c.similarity),
        })
        .collect();
    let proof_tree = answer.proof_tree.as_ref().map(|tree| WireProofTree {
        version: tree.version,
        question: &answer.question,
        answer_hash: &tree.answer_hash,
        generated_at: Ts::new(tree.generated_at),
        retrieval: Retrieval {
            method: answer.search_type.as_str(),
            k: echo.k,
            memories_evaluated: answer.citations.len(),
            memories_cited: answer.citations.iter().filter(|c| c.cited).count(),
            filters: Filters {
                tenant_id: echo.tenant_id.as_deref(),
                sources: echo.sources.as_deref(),
                as_of: echo.as_of.as_deref(),
                transaction_as_of: echo.transaction_as_of.as_deref(),
                similarity_threshold: None,
                include_superseded: false,
            },
        },
        evidence_chain: answer
            .citations
            .iter()
            .map(|c| EvidenceEntry {
                index: c.index,
                memory_id: c.memory.id.to_string(),
                decision: &c.memory.decision,
                similarity: round4(c.similarity),
                cited: c.cited,
                bi_temporal: BiTemporal {
                    valid_from: Ts::new(c.memory.valid_from),
                    valid_to: opt_ts(c.memory.valid_to),
                    transaction_time_start: Ts::new(c.memory.transaction_time_start),
                    transaction_time_end: opt_ts(c.memory.transaction_time_end),
                    superseded_by: opt_id(c.memory.superseded_by),
                },
                source_citation: SourceCitation::with(&c.memory, Ts::new(c.memory.created_at)),
            })
            .collect(),
        supersession_chains: tree
            .supersession_chains
            .iter()
            .map(|chain| WireChain {
                starting_memory_id: chain.starting_memory_id.to_string(),
                current_truth_memory_id: opt_id(chain.current_truth_memory_id),
                chain: chain
                    .chain
                    .iter()
                    .map(|link| WireLink {
                        memory_id: link.memory_id.to_string(),
                        superseded_by: opt_id(link.superseded_by),
                        superseded_at: opt_ts(link.superseded_at),
                        decision_at_time: link.decision_at_time.clone(),
                    })
                    .collect(),
            })
            .collect(),
    });
    QueryResponse {
        question: &answer.question,
        answer: &answer.answer,
        answer_with_citations: &answer.answer_with_citations,
        citations,
        memories,
        memories_searched: answer.citations.len(),
        search_type: answer.search_type.as_str(),
        company_id: &echo.company_id,
        tenant_id: echo.tenant_id.as_deref(),
        as_of: echo.as_of.as_deref(),
        transaction_as_of: echo.transaction_as_of.as_deref(),
        proof_tree,
    }
}
