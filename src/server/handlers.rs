//! The endpoint handlers: validate input, call the library, render wire types.

use std::sync::Arc;

use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::input::{Fields, Query, json_object};
use super::wire::QueryEcho;
use super::wire::{self, WireEvent, WireSettings, ts};
use super::{AppState, Body, auth, json_response, response};
use crate::classify::{Classifier, Level2Result, LlmClassifier, RulesClassifier, run_level2};
use crate::extract::{Extractor, LlmExtractor, RulesExtractor, Turn};
use crate::llm::{BaseUrlPolicy, HttpLlm, LlmConfig, Provider};
use crate::{
    ApiKey, Extraction, ExtractiveAnswerer, HALF_LIFE_RANGE_DAYS, ListQuery, LlmAnswerer, Memory,
    MemoryId, NewMemory, QueryRequest, ReadMode, SearchQuery, SearchType, Settings, SettingsPatch,
    Store, Supersede, Timestamp, WriteOutcome, WriteShape,
};

/// One authenticated request.
pub(crate) struct Ctx {
    pub state: Arc<AppState>,
    pub key: ApiKey,
    pub query: Option<String>,
}

impl Ctx {
    fn account(&self) -> &str {
        &self.key.account
    }

    /// Runs a read of the caller's account on the reader pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store, &str) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let account = self.key.account.clone();
        self.state.read(move |store| f(store, &account)).await
    }

    /// Runs a write of the caller's account on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store, &str) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let account = self.key.account.clone();
        self.state.write(move |store| f(store, &account)).await
    }

    async fn half_life(&self) -> Result<f64, ApiError> {
        Ok(self
            .state
            .settings(self.key.id)
            .await?
            .freshness_half_life_days)
    }
}

/// A 200 with `body` serialised straight to bytes (no intermediate JSON tree).
fn ok(body: &impl serde::Serialize) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, to_json(body)?))
}

/// `body` as JSON bytes.
pub(crate) fn to_json(body: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    // Responses are mostly lists of memories of ~1 KiB each: start big enough to avoid the
    // first few reallocations.
    to_json_sized(body, 16 * 1024)
}

/// `body` as JSON bytes, in a buffer of `capacity` to start with.
///
/// The bytes are serde_json's, written by `sonic-rs`: its SIMD string escaping makes a
/// 20-memory list (19 KB, mostly strings) 1.34x cheaper to render, and rendering is the
/// largest share of a list request's CPU (BENCHMARKS.md, "The server under load"). A test
/// below holds the two serialisers to the same output.
fn to_json_sized(body: &impl serde::Serialize, capacity: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::with_capacity(capacity);
    sonic_rs::to_writer(&mut bytes, body).map_err(|e| {
        tracing::error!(error = %e, "response serialisation failed");
        ApiError::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })?;
    Ok(bytes)
}

/// A buffer size that holds a list of `count` memories without growing (~950 bytes each
/// with three copies of a short text).
fn list_capacity(count: usize) -> usize {
    1024 + count * 1280
}

/// Validates the `llm` object: wrong JSON types are `422`, an unknown provider or a missing
/// required field `400` (spec §9.1).
fn llm_spec(fields: &mut Fields<'_>) -> Result<Option<LlmConfig>, ApiError> {
    let Some(map) = fields.object("llm") else {
        return Ok(None);
    };
    let text = |name: &str| match map.get(name) {
        Some(Value::String(s)) if s.contains('\0') => Err(ApiError::validation(vec![
            super::input::nul_error(vec![json!("body"), json!("llm"), json!(name)]),
        ])),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(_)) => Ok(None),
        Some(_) => Err(ApiError::validation(vec![super::errors::FieldError {
            loc: vec![json!("body"), json!("llm"), json!(name)],
            msg: "str type expected".into(),
            kind: "type_error.str",
        }])),
    };
    let name = text("provider")?
        .ok_or_else(|| ApiError::bad_request("llm.provider is required"))?
        .to_ascii_lowercase();
    let Some(provider) = Provider::parse(&name) else {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        return Err(ApiError::bad_request(format!(
            "Unknown llm.provider {name:?}; expected one of {}",
            names.join(", ")
        )));
    };
    let api_key = match text("api_key")? {
        Some(k) => k,
        None => text("key")?.ok_or_else(|| ApiError::bad_request("llm.api_key is required"))?,
    };
    let model = text("model")?.ok_or_else(|| ApiError::bad_request("llm.model is required"))?;
    let base_url = text("base_url")?;
    let api_version = match text("api_version")? {
        Some(v) => Some(v),
        None => match map.get("extra") {
            Some(Value::Object(extra)) => extra
                .get("api_version")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        },
    };
    Ok(Some(LlmConfig {
        provider,
        api_key,
        model,
        base_url,
        api_version,
    }))
}

/// Ends field validation (`422` for any type error, those of `llm` included), then checks
/// the `llm` object's values (`400`).
fn finish_with_llm(mut f: Fields<'_>) -> Result<Option<LlmConfig>, ApiError> {
    if !f.present("llm") {
        f.finish()?;
        return Ok(None);
    }
    let spec = llm_spec(&mut f);
    f.finish()?;
    spec
}

/// The Level 2 result object of spec §9.4 (`memory_id` in messages mode); the supersession
/// carries both spellings the SDK and the docs use.
fn level2_json(result: &Level2Result, memory_id: Option<MemoryId>) -> Value {
    let supersession = result.supersession.as_ref().map(|s| {
        json!({
            "old_memory_id": s.old_memory_id.to_string(),
            "superseded_id": s.old_memory_id.to_string(),
            "verdict": s.verdict.as_str(),
            "confidence": s.confidence,
            "reasoning": s.reasoning,
            "reason": s.reasoning,
            "model": s.model,
        })
    });
    let mut value = json!({
        "ran": result.ran,
        "skipped_reason": result.skipped_reason,
        "candidates_examined": result.candidates_examined,
        "supersession": supersession,
    });
    if let Some(id) = memory_id {
        value["memory_id"] = json!(id.to_string());
    }
    value
}

/// What Level 2 needs to run for a request: the key's settings and the classifier to use.
#[derive(Clone)]
struct Level2Plan {
    settings: Settings,
    /// The server's default model with the classifier model id; `None`: the offline rules.
    llm: Option<LlmConfig>,
    timeout: std::time::Duration,
}

impl Level2Plan {
    /// The plan when Level 2 is enabled for this request, else `None`.
    async fn of(ctx: &Ctx, requested: Option<bool>) -> Result<Option<Level2Plan>, ApiError> {
        let settings = ctx.state.settings(ctx.key.id).await?;
        if !requested.unwrap_or(settings.auto_supersede_default) {
            return Ok(None);
        }
        let config = &ctx.state.config;
        // The classifier is the server's default model with `classifier_model` (spec O-10:
        // any id the configured backend knows); the hosted default id, which only Anthropic
        // knows, means the default model itself on other providers; `builtin-rules-v2` (or its
        // former name `builtin-rules-v1`, which keys saved before the rename still hold; or no
        // default model) is the offline classifier. A caller's `llm` is never used (§9.1).
        let llm = config.default_llm.clone().and_then(|mut llm| {
            let model = settings.classifier_model.trim();
            if RulesClassifier::names(model) {
                return None;
            }
            let hosted_default = Settings::default().classifier_model;
            if model != hosted_default || llm.provider == Provider::Anthropic {
                llm.model = model.to_owned();
            }
            Some(llm)
        });
        Ok(Some(Level2Plan {
            settings,
            llm,
            timeout: config.llm_timeout,
        }))
    }

    /// Runs Level 2 for each saved row (`siblings`: all rows the request saved). A classifier
    /// that fails leaves the rows saved and says why in `skipped_reason`; any other failure
    /// (the store's, an embedding model's) is the request's, and is returned.
    fn run(
        &self,
        store: &Store,
        account: &str,
        saved: &[Memory],
    ) -> crate::Result<Vec<Level2Result>> {
        let ids: Vec<MemoryId> = saved.iter().map(|m| m.id).collect();
        let client = match &self.llm {
            Some(config) => match HttpLlm::new(config.clone(), self.timeout) {
                Ok(client) => Some(client),
                Err(e) => {
                    let reason = format!("classifier unavailable: {}", e.message);
                    return Ok(saved
                        .iter()
                        .map(|_| Level2Result::skipped(&reason))
                        .collect());
                }
            },
            None => None,
        };
        let rules = RulesClassifier::default();
        let llm_classifier = client.as_ref().map(|c| LlmClassifier::new(c));
        let classifier: &dyn Classifier = match &llm_classifier {
            Some(c) => c,
            None => &rules,
        };
        saved
            .iter()
            .map(|memory| {
                let siblings: Vec<MemoryId> =
                    ids.iter().copied().filter(|id| *id != memory.id).collect();
                match run_level2(
                    store,
                    account,
                    memory,
                    &siblings,
                    &self.settings,
                    classifier,
                ) {
                    Ok(result) => Ok(result),
                    Err(crate::Error::Llm(e)) => {
                        tracing::warn!(provider = %e.provider, kind = ?e.kind, "level 2 classifier failed");
                        Ok(Level2Result::skipped(format!(
                            "classifier unavailable: {}",
                            e.message
                        )))
                    }
                    Err(e) => Err(e),
                }
            })
            .collect()
    }
}

fn disabled() -> Level2Result {
    Level2Result::skipped("auto_supersede disabled")
}

// ---- POST /agent/memories -------------------------------------------------------------------

/// A `POST /agent/memories` body, read and checked as far as it can be without the store:
/// field types (`422`), tenant and source, and one mode of the two (`400`).
pub(crate) struct WriteBody {
    /// Content mode: the new memory with the body's fields and defaults applied.
    pub content: Option<NewMemory>,
    /// Messages mode: the turns, at least one.
    pub turns: Option<Vec<Turn>>,
    pub source: Option<String>,
    pub tenant_id: Option<String>,
    pub session_id: Option<String>,
    pub auto_supersede: Option<bool>,
    pub recorded_at: Option<Timestamp>,
    pub external_id: Option<String>,
    pub llm: Option<LlmConfig>,
}

impl WriteBody {
    pub fn read(map: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::body(map);
        let content = f.str("content");
        let messages = f.array("messages");
        let topic = f.str("topic");
        let importance_score = f.int("importance_score");
        let importance = f.str("importance");
        let source = f.str("source");
        let tenant_id = f.str("tenant_id");
        let session_id = f.str("session_id");
        let auto_supersede = f.bool("auto_supersede");
        let recorded_at = f.timestamp("recorded_at");
        let valid_from = f.timestamp("valid_from");
        let external_id = f.str("external_id");
        let parsed_messages = messages.map(|items| parse_messages(&mut f, items));
        let llm = finish_with_llm(f)?;

        let present = (
            map.get("content").is_some_and(|v| !v.is_null()),
            messages.is_some(),
        );
        // Refused in both modes before any work (a conversation with no facts writes nothing,
        // and would otherwise answer 200 to what a fact would get 400 for).
        crate::store::validate_tenant(tenant_id.as_deref())?;
        if let Some(source) = &source {
            crate::store::validate_source(source)?;
        }
        let mut body = WriteBody {
            content: None,
            turns: None,
            source,
            tenant_id,
            session_id,
            auto_supersede,
            recorded_at,
            external_id,
            llm,
        };
        match present {
            (true, true) => Err(ApiError::bad_request(
                "Provide either content or messages, not both",
            )),
            (false, false) => Err(ApiError::bad_request("Must provide content or messages")),
            (true, false) => {
                let content = content.unwrap_or_default();
                if content.trim().is_empty() {
                    return Err(ApiError::bad_request("content must not be empty"));
                }
                let score = importance_score
                    .or_else(|| importance.as_deref().map(wire::importance_from_legacy))
                    .unwrap_or(5);
                let mut memory = body
                    .base(NewMemory::new(content.trim()))
                    .with_importance(score)
                    .with_source(body.source.clone().unwrap_or_else(|| "agent".into()));
                memory.topic = topic
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| crate::DEFAULT_TOPIC.into());
                memory.valid_from = valid_from;
                memory.original_message = Some(content);
                if let Some(s) = &body.session_id {
                    memory = memory.with_session(s.clone());
                }
                body.content = Some(memory);
                Ok(body)
            }
            (false, true) => {
                let turns = parsed_messages.flatten().unwrap_or_default();
                if turns.is_empty() {
                    return Err(ApiError::bad_request("messages must not be empty"));
                }
                body.turns = Some(turns);
                Ok(body)
            }
        }
    }

    /// `m` with the fields both modes share: tenant, `recorded_at`, `external_id`.
    fn base(&self, m: NewMemory) -> NewMemory {
        let m = match &self.tenant_id {
            Some(t) => m.with_tenant(t.clone()),
            None => m,
        };
        NewMemory {
            recorded_at: self.recorded_at,
            external_id: self.external_id.clone(),
            ..m
        }
    }
}

pub(crate) async fn write_memories(ctx: &Ctx, bytes: &[u8]) -> Result<Response<Body>, ApiError> {
    let map = json_object(bytes)?;
    let mut body = WriteBody::read(&map)?;
    let tenant_id = body.tenant_id.clone();
    let auto_supersede = body.auto_supersede;
    match (body.content.take(), body.turns.take()) {
        (Some(memory), _) => {
            let level2 = Level2Plan::of(ctx, auto_supersede).await?;
            auth::check_write_quota(&ctx.state, ctx.account()).await?;
            let (outcome, level2) = ctx
                .write(move |store, account| {
                    let outcome = store.write(account, memory)?;
                    let result = match (&outcome, &level2) {
                        (WriteOutcome::Saved(m), Some(plan)) => plan
                            .run(store, account, std::slice::from_ref(m.as_ref()))?
                            .pop(),
                        _ => None,
                    };
                    Ok((outcome, result))
                })
                .await?;
            let body = match outcome {
                WriteOutcome::Saved(m) => json!({
                    "status": "saved",
                    "memory_id": m.id.to_string(),
                    "company_id": ctx.account(),
                    "tenant_id": tenant_id,
                    "auto_supersede": level2_json(&level2.unwrap_or_else(disabled), None),
                }),
                WriteOutcome::Duplicate { existing } => json!({
                    "status": "duplicate",
                    "memory_id": null,
                    "duplicate_of": existing.to_string(),
                    "company_id": ctx.account(),
                    "tenant_id": tenant_id,
                    "auto_supersede": null,
                }),
            };
            Ok(response(StatusCode::OK, &body))
        }
        (None, turns) => {
            let turns = turns.unwrap_or_default();
            let level2 = Level2Plan::of(ctx, auto_supersede).await?;
            auth::check_write_quota(&ctx.state, ctx.account()).await?;
            // The SDK always sends source "agent"; in messages mode that means "absent".
            let source = body
                .source
                .clone()
                .filter(|s| s != "agent")
                .unwrap_or_else(|| "agent_session".into());
            let session_id = body.session_id.clone();
            let channel = session_id.clone().unwrap_or_else(|| "agent_session".into());
            // One copy of the conversation, shared by every fact extracted from it (and
            // stored once: `NewMemory::conversation`).
            let rendering: std::sync::Arc<str> = render_conversation(&turns).into();
            let today = body
                .recorded_at
                .unwrap_or_else(|| ctx.state.store.clock_now());
            let llm = body.llm.take();
            let byo = llm.is_some();
            let model = chosen_llm(ctx, llm);
            let timeout = ctx.state.config.llm_timeout;
            // Extraction (a provider call, or the offline rules) runs off the async threads
            // and outside any write transaction; then the facts are written in one batch.
            // At most `max_concurrent_extractions` at once: the rest wait here.
            let _permit = ctx.state.extractions.acquire().await.map_err(|_| {
                ApiError::detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is shutting down",
                )
            })?;
            let (extracted, saved, level2_results, extraction) = ctx
                .write(move |store, account| {
                    let (facts, extraction) = match model {
                        Some((config, policy)) => {
                            let llm = connect(config, policy, timeout)?;
                            let extractor = LlmExtractor::new(&llm);
                            (
                                extractor.extract(&turns, today)?,
                                extraction_of(&extractor, today),
                            )
                        }
                        None => (
                            RulesExtractor.extract(&turns, today)?,
                            extraction_of(&RulesExtractor, today),
                        ),
                    };
                    if facts.len() > MAX_FACTS_PER_REQUEST {
                        return Err(crate::Error::InvalidArgument(format!(
                            "the conversation yielded {} facts; at most {MAX_FACTS_PER_REQUEST} \
                             are stored per request: send it in shorter parts",
                            facts.len()
                        )));
                    }
                    let memories: Vec<NewMemory> = facts
                        .into_iter()
                        .map(|fact| {
                            let mut m = body
                                .base(NewMemory::new(fact.decision))
                                .with_source(source.clone())
                                .with_channel(channel.clone())
                                .with_conversation(rendering.clone())
                                .with_importance(fact.importance_score);
                            m.topic = fact.topic;
                            m.session_id = session_id.clone();
                            m.extraction = Some(extraction.clone());
                            m.shape = WriteShape::Messages;
                            m
                        })
                        .collect();
                    let extracted = memories.len();
                    // Even with no facts: the request still counts as one write (spec O-12).
                    let outcomes = store.write_batch(account, memories)?;
                    let saved: Vec<Memory> = outcomes
                        .into_iter()
                        .filter_map(|o| match o {
                            WriteOutcome::Saved(m) => Some(*m),
                            WriteOutcome::Duplicate { .. } => None,
                        })
                        .collect();
                    let results = match &level2 {
                        Some(plan) => plan.run(store, account, &saved)?,
                        None => saved.iter().map(|_| disabled()).collect(),
                    };
                    Ok((extracted, saved, results, extraction))
                })
                .await
                .map_err(|e| e.for_model(byo))?;
            let ids: Vec<MemoryId> = saved.iter().map(|m| m.id).collect();
            let body = json!({
                "status": "extracted",
                "company_id": ctx.account(),
                "tenant_id": tenant_id,
                "extracted_count": extracted,
                "saved_count": ids.len(),
                "memory_ids": ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "extraction": {
                    "provider": extraction.provider,
                    "model": extraction.model,
                    "byo_llm": byo,
                },
                "auto_supersede": level2_results
                    .iter()
                    .zip(&ids)
                    .map(|(result, id)| level2_json(result, Some(*id)))
                    .collect::<Vec<_>>(),
            });
            Ok(response(StatusCode::OK, &body))
        }
    }
}

/// Facts one messages-mode request may store. The conversation is stored once and each fact
/// costs a row (its sentence, ~200 bytes of fields, six index entries and its postings) and
/// a Level 2 classification when that runs: this bounds one request's rows and work (the
/// offline extractor yields at most one fact per sentence, a model far fewer).
const MAX_FACTS_PER_REQUEST: usize = 1000;

/// The `extraction` metadata of the extractor that ran at `today`.
fn extraction_of(extractor: &dyn Extractor, today: Timestamp) -> Extraction {
    Extraction {
        provider: extractor.provider().to_owned(),
        model: extractor.model().to_owned(),
        prompt_version: extractor.prompt_version().to_owned(),
        extracted_at: today,
    }
}

/// The model a request uses: the caller's `llm` (with the base-URL policy to check), else the
/// server's default, else none (the offline implementation). Never a fallback between them.
fn chosen_llm(ctx: &Ctx, byo: Option<LlmConfig>) -> Option<(LlmConfig, Option<BaseUrlPolicy>)> {
    let config = &ctx.state.config;
    match byo {
        Some(c) => Some((c, Some(config.base_url_policy))),
        None => config.default_llm.clone().map(|c| (c, None)),
    }
}

/// A client for a chosen model (a caller's base URL checked against the policy).
fn connect(
    config: LlmConfig,
    policy: Option<BaseUrlPolicy>,
    timeout: std::time::Duration,
) -> crate::Result<HttpLlm> {
    match policy {
        Some(policy) => HttpLlm::checked(config, timeout, policy),
        None => HttpLlm::new(config, timeout),
    }
    .map_err(crate::Error::Llm)
}

/// Validates the chat array: each item an object with string `role` and `content`, and
/// optionally the speaker's `name` (the OpenAI chat shape's field) and the `timestamp` it was
/// said at (ISO 8601; its relative time is read against it). A blank `name` or `timestamp`
/// is the same as none.
fn parse_messages(f: &mut Fields<'_>, items: &[Value]) -> Option<Vec<Turn>> {
    let mut turns = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            f.push(
                vec![json!("messages"), json!(i)],
                "value is not a valid dict",
                "type_error.dict",
            );
            ok = false;
            continue;
        };
        let mut field = |name: &str, required: bool| match obj.get(name) {
            Some(Value::String(s)) if s.contains('\0') => {
                f.push(
                    vec![json!("messages"), json!(i), json!(name)],
                    super::input::NUL_MESSAGE,
                    super::input::NUL_KIND,
                );
                Err(())
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => {
                f.push(
                    vec![json!("messages"), json!(i), json!(name)],
                    "field required",
                    "value_error.missing",
                );
                Err(())
            }
            Some(_) => {
                f.push(
                    vec![json!("messages"), json!(i), json!(name)],
                    "str type expected",
                    "type_error.str",
                );
                Err(())
            }
        };
        let (role, content, name, timestamp) = (
            field("role", true),
            field("content", true),
            field("name", false),
            field("timestamp", false),
        );
        let at = match timestamp {
            // Blank is not given, as a blank `name` is.
            Ok(Some(text)) if text.trim().is_empty() => Ok(None),
            Ok(Some(text)) => match Timestamp::parse(&text) {
                Ok(at) => Ok(Some(at)),
                Err(e) => {
                    f.push(
                        vec![json!("messages"), json!(i), json!("timestamp")],
                        super::input::datetime_error(&e),
                        "value_error.datetime",
                    );
                    Err(())
                }
            },
            Ok(None) => Ok(None),
            Err(()) => Err(()),
        };
        match (role, content, name, at) {
            (Ok(Some(role)), Ok(Some(content)), Ok(name), Ok(at)) => {
                let mut turn = Turn::new(role, content);
                turn.name = name.filter(|n| !n.trim().is_empty());
                turn.at = at;
                turns.push(turn);
            }
            _ => ok = false,
        }
    }
    ok.then_some(turns)
}

/// `User: …` / `Assistant: …` lines, or the speaker's name when the message gives one
/// (`Caroline: …`); system turns are not part of the conversation record.
fn render_conversation(turns: &[Turn]) -> String {
    turns
        .iter()
        .filter_map(|turn| {
            let who = match (turn.role.to_ascii_lowercase().as_str(), &turn.name) {
                ("user" | "assistant", Some(name)) => name.trim().to_owned(),
                ("user", None) => "User".to_owned(),
                ("assistant", None) => "Assistant".to_owned(),
                _ => return None,
            };
            Some(format!("{who}: {}", turn.content.trim()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- GET /agent/memories --------------------------------------------------------------------

/// The read scope shared by list and query: tenant and temporal mode, with the raw echoes.
struct Scope {
    tenant: Option<String>,
    mode: ReadMode,
    as_of: Option<String>,
    transaction_as_of: Option<String>,
    include_superseded: bool,
}

pub(crate) async fn list_memories(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let mut q = Query::parse(ctx.query.as_deref());
    let tenant = q.str("tenant_id");
    let source = q.str("source");
    let session = q.str("session_id");
    let include_superseded = q.bool("include_superseded").unwrap_or(false);
    let as_of = q.timestamp("as_of");
    let transaction_as_of = q.timestamp("transaction_as_of");
    let limit = q.int_in("limit", 1..=1000).unwrap_or(100);
    q.finish()?;
    let scope = Scope {
        tenant,
        mode: ReadMode::from_params(
            as_of.as_ref().map(|(t, _)| *t),
            transaction_as_of.as_ref().map(|(t, _)| *t),
            include_superseded,
        ),
        as_of: as_of.map(|(_, s)| s),
        transaction_as_of: transaction_as_of.map(|(_, s)| s),
        include_superseded,
    };
    let mut query = ListQuery::new().mode(scope.mode).limit(limit as usize);
    query.tenant = scope.tenant.clone();
    query.all_tenants = scope.tenant.is_none() && ctx.state.config.all_tenants_when_omitted;
    query.source = source.clone();
    query.session_id = session;
    let half_life = ctx.half_life().await?;
    // Read and render on the reader thread: a 20-memory response is ~19 KB of JSON, CPU
    // work that would otherwise hold an async worker away from its connections.
    let bytes = ctx
        .read(move |store, account| {
            let result = store.list(account, &query)?;
            let capacity = list_capacity(result.memories.len());
            Ok(to_json_sized(
                &wire::ListResponse {
                    company_id: account,
                    tenant_id: scope.tenant.as_deref(),
                    as_of: scope.as_of.as_deref(),
                    transaction_as_of: scope.transaction_as_of.as_deref(),
                    include_superseded: scope.include_superseded,
                    source: source.as_deref(),
                    count: result.memories.len(),
                    superseded_count: wire::superseded_count(&result.memories, result.now),
                    memories: wire::memories(&result.memories, result.now, half_life),
                },
                capacity,
            ))
        })
        .await?;
    Ok(json_response(StatusCode::OK, bytes?))
}

// ---- DELETE /agent/memories -----------------------------------------------------------------

pub(crate) async fn delete_memories(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let q = Query::parse(ctx.query.as_deref());
    let tenant = q.str("tenant_id");
    q.finish()?;
    let scope = tenant.clone();
    let deleted = ctx
        .write(move |store, account| match scope {
            Some(t) => store.delete_tenant(account, Some(&t)),
            None => store.delete_account(account),
        })
        .await?;
    tracing::info!(account = ctx.account(), tenant = ?tenant, deleted, "bulk delete");
    Ok(response(
        StatusCode::OK,
        &json!({
            "status": "deleted",
            "company_id": ctx.account(),
            "tenant_id": tenant,
            "deleted_count": deleted,
        }),
    ))
}

// ---- POST /agent/query ----------------------------------------------------------------------

pub(crate) async fn query(ctx: &Ctx, bytes: &[u8]) -> Result<Response<Body>, ApiError> {
    let map = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let question = f.required_str("question");
    let limit = f.int("limit");
    let tenant = f.str("tenant_id");
    let sources = f.str_list("sources");
    let as_of_raw = f.str("as_of");
    let as_of = f.timestamp("as_of");
    let tx_raw = f.str("transaction_as_of");
    let transaction_as_of = f.timestamp("transaction_as_of");
    let include_proof_tree = f.bool("include_proof_tree").unwrap_or(false);
    let reference_date = f.timestamp("reference_date");
    if let Some(q) = &question
        && q.trim().is_empty()
    {
        f.push(
            vec![json!("question")],
            "ensure this value has at least 1 characters",
            "value_error.any_str.min_length",
        );
    }
    let limit = match limit {
        Some(n) if n < 1 => {
            f.range_error("limit", true, 1);
            30
        }
        Some(n) if n > 100 => {
            f.range_error("limit", false, 100);
            30
        }
        Some(n) => n,
        None => 30,
    };
    let byo_llm = finish_with_llm(f)?;
    let request = QueryRequest {
        search: SearchQuery {
            text: question.unwrap_or_default(),
            tenant: tenant.clone(),
            all_tenants: tenant.is_none() && ctx.state.config.all_tenants_when_omitted,
            mode: ReadMode::from_params(as_of, transaction_as_of, false),
            sources: sources.clone(),
            limit: limit as usize,
            method: None,
        },
        reference_date,
        include_proof_tree,
    };
    let echo = QueryEcho {
        company_id: ctx.account().to_owned(),
        tenant_id: tenant,
        sources,
        as_of: as_of_raw,
        transaction_as_of: tx_raw,
        k: limit,
    };
    let half_life = ctx.half_life().await?;
    let byo = byo_llm.is_some();
    let llm = chosen_llm(ctx, byo_llm);
    let timeout = ctx.state.config.llm_timeout;
    // Provider and embedding calls wait on the network: the blocking pool, not the readers.
    let network = llm.is_some() || ctx.state.store.search_type() != Some(SearchType::Keyword);
    let answer = move |store: &Store, account: &str| {
        let answer = match llm {
            Some((llm_config, policy)) => {
                let llm = connect(llm_config, policy, timeout)?;
                store.query(account, &request, &LlmAnswerer::new(&llm))?
            }
            None => store.query(account, &request, &ExtractiveAnswerer)?,
        };
        Ok(to_json(&wire::query_response(&answer, &echo, half_life)))
    };
    let bytes = if network {
        ctx.write(answer).await.map_err(|e| e.for_model(byo))?
    } else {
        ctx.read(answer).await?
    };
    Ok(json_response(StatusCode::OK, bytes?))
}

// ---- /memories/{id}/... ---------------------------------------------------------------------

pub(crate) async fn supersede(
    ctx: &Ctx,
    id: MemoryId,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    let map = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let superseded_by = f.uuid("superseded_by");
    let valid_to = f.timestamp("valid_to");
    f.finish()?;
    if superseded_by.is_none() && valid_to.is_none() {
        return Err(ApiError::bad_request(
            "Must provide superseded_by or valid_to",
        ));
    }
    let change = Supersede {
        superseded_by,
        valid_to,
    };
    let outcome = ctx
        .write(move |store, account| store.supersede(account, id, change, account))
        .await?;
    Ok(response(
        StatusCode::OK,
        &json!({
            "status": "superseded",
            "memory_id": outcome.memory_id.to_string(),
            "superseded_by": outcome.superseded_by.map(|s| s.to_string()),
            "valid_to": ts(outcome.valid_to),
        }),
    ))
}

pub(crate) async fn timeline(ctx: &Ctx, id: MemoryId) -> Result<Response<Body>, ApiError> {
    let half_life = ctx.half_life().await?;
    let timeline = ctx
        .read(move |store, account| store.timeline(account, id))
        .await?;
    ok(&wire::TimelineResponse {
        memory_id: id.to_string(),
        company_id: ctx.account(),
        chain_length: timeline.versions.len(),
        timeline: wire::memories(&timeline.versions, timeline.now, half_life),
    })
}

pub(crate) async fn audit(ctx: &Ctx, id: MemoryId) -> Result<Response<Body>, ApiError> {
    let (memory, events, now) = ctx
        .read(move |store, account| {
            let now = store.now()?;
            let (memory, events) = store.audit(account, id)?;
            Ok((memory, events, now))
        })
        .await?;
    let extraction = match &memory.extraction {
        Some(e) => json!({
            "provider": e.provider,
            "model": e.model,
            "prompt_version": e.prompt_version,
            "extracted_at": ts(e.extracted_at),
        }),
        // Content mode stores the text verbatim: nothing was extracted.
        None => json!({
            "provider": null,
            "model": null,
            "prompt_version": null,
            "extracted_at": null,
        }),
    };
    let history: Vec<WireEvent> = events.iter().map(WireEvent::of).collect();
    Ok(response(
        StatusCode::OK,
        &json!({
            "memory_id": id.to_string(),
            "memory": {
                "summary": memory.summary,
                "decision": memory.decision,
                "topic": memory.topic,
            },
            "provenance": {
                "source_type": memory.source,
                "channel": memory.channel,
                "tenant_id": memory.tenant,
                "session_id": memory.session_id,
                "workspace_id": null,
                "org_id": null,
                "external_id": memory.external_id,
                "original_input": memory.original_input,
                "captured_at": ts(memory.captured_at),
            },
            "extraction": extraction,
            "temporal": wire::Temporal::of(&memory, now),
            "history": history,
        }),
    ))
}

// ---- settings and plan ----------------------------------------------------------------------

pub(crate) async fn get_settings(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let settings = ctx.state.settings(ctx.key.id).await?;
    let status = if settings.stored { "ok" } else { "default" };
    ok(&WireSettings::of(&settings, status))
}

pub(crate) async fn patch_settings(ctx: &Ctx, bytes: &[u8]) -> Result<Response<Body>, ApiError> {
    let map: Map<String, Value> = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let patch = SettingsPatch {
        auto_supersede_default: f.bool("auto_supersede_default"),
        excluded_categories: f.str_list("excluded_categories"),
        min_confidence: f.number("min_confidence"),
        classifier_model: f.str("classifier_model"),
        freshness_half_life_days: f.number("freshness_half_life_days"),
    };
    f.finish()?;
    if patch.is_empty() {
        return Err(ApiError::bad_request("no settings fields provided"));
    }
    if let Some(days) = patch.freshness_half_life_days
        && !HALF_LIFE_RANGE_DAYS.contains(&days)
    {
        let hint = "freshness_half_life_days must be a number between 1 and 3650.";
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "status": "error",
                "error": "validation failed",
                "hint": hint,
                "detail": hint,
            }),
            retry_after: None,
            close: false,
            llm_unavailable: false,
            allow: None,
        });
    }
    let key = ctx.key.id;
    let settings = ctx
        .state
        .write(move |store| store.update_settings(key, patch))
        .await?;
    ok(&WireSettings::of(&settings, "updated"))
}

pub(crate) async fn plan_status(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let plan = auth::plan_state(&ctx.state, ctx.account()).await?;
    Ok(response(
        StatusCode::OK,
        &json!({
            "org_id": plan.org_id.to_string(),
            "plan_tier": plan.tier,
            "plan_status": "active",
            "writes_used": plan.usage.writes_used,
            "writes_limit": plan.writes_limit,
            "writes_remaining": plan.writes_limit.saturating_sub(plan.usage.writes_used),
            "period_start": ts(plan.usage.period_start),
            "in_grace_period": plan.in_grace_period,
            "blocked": plan.blocked,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sonic-rs` renders responses; the contract's bytes are serde_json's. A list whose
    /// memories hold every kind of character JSON must escape, a session, a tenant, a
    /// superseded row and an expired one is rendered by both and compared byte for byte.
    #[test]
    fn responses_render_as_serde_json_would() {
        let store = Store::in_memory().expect("in-memory store");
        let texts = [
            "plain text about project7",
            "quotes \" and backslashes \\ and a slash /",
            "controls \u{1} \u{1f} \t \n \r \u{7f} and U+2028 \u{2028}",
            "unicode: café, 日本語, emoji 🦀, combining e\u{301}",
        ];
        let mut ids = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let memory = NewMemory::new(*text)
                .with_tenant("render")
                .with_importance(i as i64 * 3)
                .with_session(format!("session \"{i}\""));
            match store.write("acme", memory).expect("write") {
                WriteOutcome::Saved(m) => ids.push(m.id),
                WriteOutcome::Duplicate { .. } => panic!("{text:?} was taken for a duplicate"),
            }
        }
        let supersede = |id, by, valid_to| {
            let request = Supersede {
                superseded_by: by,
                valid_to,
            };
            store
                .supersede("acme", id, request, "test")
                .expect("supersede");
        };
        supersede(ids[0], Some(ids[1]), None);
        supersede(ids[2], None, Some(store.clock_now()));
        let query = ListQuery::new()
            .tenant("render")
            .mode(ReadMode::History)
            .limit(10);
        let result = store.list("acme", &query).expect("list");
        assert_eq!(result.memories.len(), texts.len());
        for half_life in [30.0, 0.0, f64::INFINITY] {
            let body = wire::ListResponse {
                company_id: "acme",
                tenant_id: Some("render"),
                as_of: None,
                transaction_as_of: Some("2026-01-01T00:00:00Z"),
                include_superseded: true,
                source: None,
                count: result.memories.len(),
                superseded_count: wire::superseded_count(&result.memories, result.now),
                memories: wire::memories(&result.memories, result.now, half_life),
            };
            let ours = to_json_sized(&body, list_capacity(body.count)).expect("render");
            let reference = serde_json::to_vec(&body).expect("serde_json");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&reference),
                "half-life {half_life}"
            );
        }
    }
}
