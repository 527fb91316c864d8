//! Value types of the memory model: what callers write, what they read back.
//!
//! No I/O here. The temporal rules that interpret these values live in [`crate::temporal`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Longest `original_message` kept on a memory, in characters (spec §3.1).
pub const ORIGINAL_MESSAGE_MAX_CHARS: usize = 500;
/// The first `max` characters of `text`.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

/// Default importance when the caller gives none (spec §3.5).
pub const DEFAULT_IMPORTANCE: u8 = 5;
/// Default topic of a content-mode write.
pub const DEFAULT_TOPIC: &str = "General";

/// A memory's id: a UUIDv7, so ids sort roughly by creation time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemoryId(Uuid);

impl MemoryId {
    /// A fresh time-ordered id (monotonic within this process).
    pub fn generate() -> Self {
        MemoryId(Uuid::now_v7())
    }

    /// Wraps an existing UUID.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        MemoryId(uuid)
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The id as a 128-bit big-endian integer (its storage key).
    pub const fn as_u128(&self) -> u128 {
        self.0.as_u128()
    }

    /// The id from its storage key.
    pub const fn from_u128(value: u128) -> Self {
        MemoryId(Uuid::from_u128(value))
    }
}

impl fmt::Display for MemoryId {
    /// Lower-case hyphenated, as on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for MemoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MemoryId {
    type Err = Error;

    /// Parses a UUID in any of its standard text forms.
    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s.trim())
            .map(MemoryId)
            .map_err(|_| Error::InvalidArgument(format!("not a UUID: {s:?}")))
    }
}

/// Which extractor produced a memory (recorded for audit; never a key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extraction {
    /// Provider name (`builtin`, `anthropic`, `openai`, ...).
    pub provider: String,
    /// Model id.
    pub model: String,
    /// Version of the extraction prompt or rule set.
    pub prompt_version: String,
    /// When extraction ran.
    pub extracted_at: Timestamp,
}

/// How a memory reached the store, recorded in its `memory.created` audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteShape {
    /// Stored verbatim from a `content` string (`"legacy_content"` on the wire).
    Content,
    /// Extracted from a chat `messages` array (`"messages"` on the wire).
    Messages,
}

impl WriteShape {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteShape::Content => "legacy_content",
            WriteShape::Messages => "messages",
        }
    }
}

/// A memory to be written. Build it with [`NewMemory::new`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMemory {
    /// Tenant inside the account; `None` is the default tenant.
    pub tenant: Option<String>,
    /// The canonical fact text.
    pub decision: String,
    /// Short text; defaults to `decision`.
    pub summary: Option<String>,
    /// Category label; defaults to `"General"`.
    pub topic: String,
    /// 1–10; values outside are clamped.
    pub importance_score: i64,
    /// Origin tag (`agent`, `slack`, ...).
    pub source: String,
    /// Sub-channel; defaults to `source`.
    pub channel: Option<String>,
    /// Conversation id.
    pub session_id: Option<String>,
    /// Raw input shown with the memory; defaults to `decision`, truncated to 500 characters.
    pub original_message: Option<String>,
    /// Full raw input kept for audit; defaults to the untruncated original message.
    pub original_input: Option<String>,
    /// The input several memories were extracted from (a rendered conversation), shared by
    /// them: it is their `original_input` (and, unless `original_message` is given, the
    /// source of its first 500 characters), stored once per tenant however many memories
    /// refer to it. Excludes `original_input`.
    pub conversation: Option<Arc<str>>,
    /// Caller's id of the source event (a Slack `ts`, ...). For `source == "slack"` it is the
    /// duplicate-suppression key.
    pub external_id: Option<String>,
    /// Explicit start of validity (back-dating). Defaults to `recorded_at`, else the write time.
    pub valid_from: Option<Timestamp>,
    /// When the input was captured: sets `captured_at` and the default `valid_from`. Never
    /// changes transaction time.
    pub recorded_at: Option<Timestamp>,
    /// Extraction metadata, for extracted facts.
    pub extraction: Option<Extraction>,
    /// How the memory arrived (for the audit log).
    pub shape: WriteShape,
}

impl NewMemory {
    /// A content-mode memory with the contract's defaults: default tenant, topic `General`,
    /// importance 5, source `agent`.
    pub fn new(decision: impl Into<String>) -> Self {
        NewMemory {
            tenant: None,
            decision: decision.into(),
            summary: None,
            topic: DEFAULT_TOPIC.to_owned(),
            importance_score: i64::from(DEFAULT_IMPORTANCE),
            source: "agent".to_owned(),
            channel: None,
            session_id: None,
            original_message: None,
            original_input: None,
            conversation: None,
            external_id: None,
            valid_from: None,
            recorded_at: None,
            extraction: None,
            shape: WriteShape::Content,
        }
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the topic.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = topic.into();
        self
    }

    /// Sets the importance score (clamped to 1–10 on write).
    pub fn with_importance(mut self, score: i64) -> Self {
        self.importance_score = score;
        self
    }

    /// Sets the source tag.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets the channel.
    pub fn with_channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Sets the session id.
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the external id.
    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// Back-dates (or post-dates) the start of validity.
    pub fn with_valid_from(mut self, valid_from: Timestamp) -> Self {
        self.valid_from = Some(valid_from);
        self
    }

    /// Sets when the input was captured.
    pub fn with_recorded_at(mut self, recorded_at: Timestamp) -> Self {
        self.recorded_at = Some(recorded_at);
        self
    }

    /// Sets the raw input shown with the memory.
    pub fn with_original_message(mut self, message: impl Into<String>) -> Self {
        self.original_message = Some(message.into());
        self
    }

    /// Sets the input this memory was extracted from, shared with the other memories
    /// extracted from it (see [`NewMemory::conversation`]).
    pub fn with_conversation(mut self, conversation: Arc<str>) -> Self {
        self.conversation = Some(conversation);
        self
    }
}

/// One memory as stored, in the state it had at the instant it was read for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Id.
    pub id: MemoryId,
    /// Owning account (`company_id`).
    pub account: String,
    /// Tenant; `None` is the default tenant.
    pub tenant: Option<String>,
    /// The canonical fact.
    pub decision: String,
    /// Short text.
    pub summary: String,
    /// Category label.
    pub topic: String,
    /// 1–10.
    pub importance_score: u8,
    /// Origin tag.
    pub source: String,
    /// Sub-channel.
    pub channel: String,
    /// Conversation id.
    pub session_id: Option<String>,
    /// Raw input, at most 500 characters.
    pub original_message: String,
    /// Full raw input (shared by the memories extracted from one conversation).
    pub original_input: Arc<str>,
    /// Caller's id of the source event.
    pub external_id: Option<String>,
    /// When the input was captured.
    pub captured_at: Timestamp,
    /// When the row was inserted (equals `transaction_time_start`).
    pub created_at: Timestamp,
    /// Valid time start.
    pub valid_from: Timestamp,
    /// Valid time end; `None` is open.
    pub valid_to: Option<Timestamp>,
    /// The replacement memory, if superseded.
    pub superseded_by: Option<MemoryId>,
    /// When the store started believing the row.
    pub transaction_time_start: Timestamp,
    /// When the store stopped believing the row (set by a supersession, not by an expiry).
    pub transaction_time_end: Option<Timestamp>,
    /// Extraction metadata.
    pub extraction: Option<Extraction>,
}

/// What a write did with one [`NewMemory`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored as a new memory.
    Saved(Box<Memory>),
    /// Suppressed as a duplicate of a live memory (spec §9.3); nothing was written.
    Duplicate {
        /// The live memory it duplicates.
        existing: MemoryId,
    },
}

impl WriteOutcome {
    /// The id of the saved memory, or `None` for a duplicate.
    pub fn saved_id(&self) -> Option<MemoryId> {
        match self {
            WriteOutcome::Saved(m) => Some(m.id),
            WriteOutcome::Duplicate { .. } => None,
        }
    }
}

/// A Level 1 supersession or expiry of one memory (spec §7.1). At least one field is required.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Supersede {
    /// The replacement memory (same account, any tenant).
    pub superseded_by: Option<MemoryId>,
    /// Explicit end of validity; defaults to the time of the supersession.
    pub valid_to: Option<Timestamp>,
}

/// What a supersession left on the target memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupersedeOutcome {
    /// The target memory.
    pub memory_id: MemoryId,
    /// Its replacement (if any).
    pub superseded_by: Option<MemoryId>,
    /// The `valid_to` now stored.
    pub valid_to: Timestamp,
    /// `false` when the call repeated an identical earlier one and wrote nothing.
    pub changed: bool,
}

/// Which rows a list read returns, per spec §3.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Current truth: live rows current now.
    Current,
    /// Every live row: current, superseded and expired.
    History,
    /// Valid-time travel: live rows valid at the instant (superseded ones included).
    AsOf(Timestamp),
    /// Transaction-time travel: replay the store as it stood at `at`; with
    /// `include_superseded` every row of that state, else the rows current at `at`.
    TransactionAsOf {
        /// The replayed instant.
        at: Timestamp,
        /// Return superseded and expired rows of the replayed state too.
        include_superseded: bool,
    },
    /// Both axes: rows of the state at `transaction_at` that were valid at `valid_at`.
    Bitemporal {
        /// The valid-time instant.
        valid_at: Timestamp,
        /// The replayed transaction-time instant.
        transaction_at: Timestamp,
    },
}

impl ReadMode {
    /// Builds the mode from the contract's three parameters.
    pub fn from_params(
        as_of: Option<Timestamp>,
        transaction_as_of: Option<Timestamp>,
        include_superseded: bool,
    ) -> Self {
        match (as_of, transaction_as_of) {
            (None, None) if include_superseded => ReadMode::History,
            (None, None) => ReadMode::Current,
            (Some(t), None) => ReadMode::AsOf(t),
            (None, Some(at)) => ReadMode::TransactionAsOf {
                at,
                include_superseded,
            },
            (Some(valid_at), Some(transaction_at)) => ReadMode::Bitemporal {
                valid_at,
                transaction_at,
            },
        }
    }

    /// The replayed transaction-time instant, if the mode travels in transaction time.
    pub fn transaction_instant(&self) -> Option<Timestamp> {
        match *self {
            ReadMode::TransactionAsOf { at, .. } => Some(at),
            ReadMode::Bitemporal { transaction_at, .. } => Some(transaction_at),
            _ => None,
        }
    }
}

/// A list read: tenant, temporal mode, filters and limit. Results are newest first by
/// `created_at`, ties by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Tenant; `None` is the default tenant.
    pub tenant: Option<String>,
    /// Read every tenant of the account (then `tenant` is ignored). Off by default: reads are
    /// scoped to one tenant (spec §2.3, O-1).
    pub all_tenants: bool,
    /// Temporal mode.
    pub mode: ReadMode,
    /// Exact match on `source`.
    pub source: Option<String>,
    /// Exact match on `session_id`.
    pub session_id: Option<String>,
    /// Maximum number of rows.
    pub limit: usize,
    /// Continue a paged read: only rows older than this cursor (see [`ListResult::next`]).
    pub before: Option<ListCursor>,
}

impl ListQuery {
    /// Current truth of the default tenant, 100 rows.
    pub fn new() -> Self {
        ListQuery {
            tenant: None,
            all_tenants: false,
            mode: ReadMode::Current,
            source: None,
            session_id: None,
            limit: 100,
            before: None,
        }
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Reads every tenant of the account instead of one.
    pub fn all_tenants(mut self) -> Self {
        self.all_tenants = true;
        self
    }

    /// Sets the temporal mode.
    pub fn mode(mut self, mode: ReadMode) -> Self {
        self.mode = mode;
        self
    }

    /// Filters on `source`.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Filters on `session_id`.
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the limit.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after the page `cursor` ended (keyset paging: rows written meanwhile do not
    /// shift the pages, since new rows are newer than every cursor).
    pub fn before(mut self, cursor: ListCursor) -> Self {
        self.before = Some(cursor);
        self
    }
}

/// Where a page of a list read ended: the last row's `created_at` and id, the list's sort key.
/// Its text form (`Display`/`FromStr`) is opaque and fit for a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListCursor {
    /// `created_at` of the page's last (oldest) row.
    pub created_at: Timestamp,
    /// Its id.
    pub id: MemoryId,
}

impl ListCursor {
    /// The cursor just after `memory` in list order.
    pub fn after(memory: &Memory) -> Self {
        ListCursor {
            created_at: memory.created_at,
            id: memory.id,
        }
    }
}

impl fmt::Display for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            self.created_at.as_micros(),
            self.id.as_uuid().simple()
        )
    }
}

impl FromStr for ListCursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("not a list cursor: {s:?}"));
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(ListCursor {
            created_at: Timestamp::from_micros(micros),
            id: MemoryId::from_uuid(id),
        })
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        Self::new()
    }
}

/// A lexical search (BM25 over the analysed `decision` text) within the rows a list with the
/// same scope, mode and source filter would return. Results are best first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// The question or keywords.
    pub text: String,
    /// Tenant; `None` is the default tenant.
    pub tenant: Option<String>,
    /// Search every tenant of the account (then `tenant` is ignored).
    pub all_tenants: bool,
    /// Temporal mode: only rows this mode selects can be hits.
    pub mode: ReadMode,
    /// Exact-match filter on `source` (any of these), applied before ranking.
    pub sources: Option<Vec<String>>,
    /// Maximum number of hits.
    pub limit: usize,
    /// Retrieve with this method instead of the store's own (e.g. keyword-only on a store
    /// with an embedder, to compare); it must be one the store can do. `None`: the store's
    /// [`Store::search_type`](crate::Store::search_type).
    pub method: Option<SearchType>,
}

impl SearchQuery {
    /// A current-truth search of the default tenant, 30 hits.
    pub fn new(text: impl Into<String>) -> Self {
        SearchQuery {
            text: text.into(),
            tenant: None,
            all_tenants: false,
            mode: ReadMode::Current,
            sources: None,
            limit: 30,
            method: None,
        }
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Searches every tenant of the account.
    pub fn all_tenants(mut self) -> Self {
        self.all_tenants = true;
        self
    }

    /// Sets the temporal mode.
    pub fn mode(mut self, mode: ReadMode) -> Self {
        self.mode = mode;
        self
    }

    /// Keeps only rows whose `source` is one of `sources`.
    pub fn sources(mut self, sources: Vec<String>) -> Self {
        self.sources = Some(sources);
        self
    }

    /// Sets the limit.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Retrieves with `method` instead of the store's own (see [`SearchQuery::method`]).
    pub fn method(mut self, method: SearchType) -> Self {
        self.method = Some(method);
        self
    }
}

/// One search hit.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    /// The memory, in the state the mode reads.
    pub memory: Memory,
    /// The ranking score: BM25 (with lent neighbour score) for keyword search, else the same
    /// as `similarity`.
    pub score: f64,
    /// In [0, 1], never increasing down the hits; its meaning depends on the
    /// [`SearchType`] (see there).
    pub similarity: f64,
}

/// What a search returns: hits best first, and the instant their flags are computed at.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// Hits, best first (ties: newest first).
    pub hits: Vec<SearchHit>,
    /// "Now" for these rows (the replayed instant for transaction-time travel).
    pub now: Timestamp,
    /// How the hits were retrieved.
    pub search_type: SearchType,
}

/// How a search retrieves candidates (spec O-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchType {
    /// Lexical only (BM25); `similarity` is the score over the best score any row could reach.
    Keyword,
    /// Embeddings only; `similarity` is the cosine similarity to the question, floored at 0.
    Semantic,
    /// Both, fused by score (weighted BM25 over the question's best plus rescaled cosine,
    /// then session neighbours' share); `similarity` is the fused score capped at 1.
    Hybrid,
}

impl SearchType {
    /// The wire name: `keyword`, `semantic` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchType::Keyword => "keyword",
            SearchType::Semantic => "semantic",
            SearchType::Hybrid => "hybrid",
        }
    }
}

/// What a list read returns: the rows and the instant their flags are computed at.
#[derive(Clone, Debug, PartialEq)]
pub struct ListResult {
    /// Rows, newest first.
    pub memories: Vec<Memory>,
    /// "Now" for these rows: the read time, or the replayed instant for transaction-time
    /// travel. Compute [`crate::TemporalFlags`] and freshness with it.
    pub now: Timestamp,
    /// Set when the page is full: pass it to [`ListQuery::before`] for the next page.
    pub next: Option<ListCursor>,
}

/// The supersession chain containing a memory, oldest `valid_from` first.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The requested memory.
    pub memory_id: MemoryId,
    /// Every version of the chain, by `valid_from` ascending (ties by `created_at`).
    pub versions: Vec<Memory>,
    /// The read time.
    pub now: Timestamp,
}

/// Kinds of audit events (spec §9.5). Unknown kinds may be added later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// Extraction or verbatim capture completed (`created`).
    Created,
    /// The row was inserted (`memory.created`).
    MemoryCreated,
    /// The row was superseded (`memory.superseded`).
    MemorySuperseded,
    /// The row's validity was ended without a replacement (`memory.expired`).
    MemoryExpired,
    /// A Level 2 classifier judged the row against a new one (`memory.classified`).
    MemoryClassified,
}

impl EventKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::MemoryCreated => "memory.created",
            EventKind::MemorySuperseded => "memory.superseded",
            EventKind::MemoryExpired => "memory.expired",
            EventKind::MemoryClassified => "memory.classified",
        }
    }
}

/// The structured details of an audit event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventDetails {
    /// No details (`null`).
    None,
    /// Details of `memory.created`.
    Created {
        /// How the memory arrived.
        shape: WriteShape,
        /// Its topic.
        topic: String,
        /// Its source.
        source: String,
        /// Its tenant.
        tenant: Option<String>,
    },
    /// Details of `memory.superseded`.
    Superseded {
        /// The replacement, if any.
        superseded_by: Option<MemoryId>,
        /// The stored end of validity.
        valid_to: Timestamp,
        /// The end the caller asked for, when it was before `valid_from` and the stored end
        /// is `valid_from` instead (an empty interval); `None` otherwise. Encoded by each
        /// backend after the rest of the details (older records have none).
        #[serde(skip)]
        requested_valid_to: Option<Timestamp>,
    },
    /// Details of `memory.expired`.
    Expired {
        /// The stored end of validity.
        valid_to: Timestamp,
        /// As in [`EventDetails::Superseded`].
        #[serde(skip)]
        requested_valid_to: Option<Timestamp>,
    },
    /// Details of `memory.classified`.
    Classified {
        /// `supersedes`, `refines` or `independent`.
        verdict: String,
        /// Classifier confidence, 0–1.
        confidence: f64,
        /// Classifier model.
        model: String,
        /// The new memory the row was compared with.
        new_memory_id: MemoryId,
        /// Whether a supersession was applied.
        applied: bool,
        /// One-sentence reason.
        reasoning: String,
    },
}

impl EventDetails {
    /// The end of validity a supersession asked for when the stored one differs (see
    /// [`EventDetails::Superseded`]).
    pub fn requested_valid_to(&self) -> Option<Timestamp> {
        match self {
            EventDetails::Superseded {
                requested_valid_to, ..
            }
            | EventDetails::Expired {
                requested_valid_to, ..
            } => *requested_valid_to,
            _ => None,
        }
    }

    /// Sets what [`EventDetails::requested_valid_to`] returns (a no-op on other details).
    pub(crate) fn set_requested_valid_to(&mut self, requested: Option<Timestamp>) {
        if let EventDetails::Superseded {
            requested_valid_to, ..
        }
        | EventDetails::Expired {
            requested_valid_to, ..
        } = self
        {
            *requested_valid_to = requested;
        }
    }
}

/// One Level 2 judgement of a candidate against a new memory, as recorded in the
/// candidate's `memory.classified` event.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// The judged (older) memory.
    pub candidate: MemoryId,
    /// `supersedes`, `refines` or `independent`.
    pub verdict: String,
    /// 0–1.
    pub confidence: f64,
    /// One sentence.
    pub reasoning: String,
}

/// One entry of a memory's append-only audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// What happened.
    pub kind: EventKind,
    /// When (transaction time of the commit that recorded it).
    pub at: Timestamp,
    /// Who: an account id, `aurra-extractor`, `aurra-classifier`, ...
    pub by: String,
    /// Structured details.
    pub details: EventDetails,
}

/// Who performed an operation, recorded as `by` in audit events.
pub const EXTRACTOR_ACTOR: &str = "aurra-extractor";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_cursor_reads_back_its_text_and_refuses_other_text() {
        let cursor = ListCursor {
            created_at: Timestamp::from_micros(1_767_225_600_000_001),
            id: MemoryId::generate(),
        };
        let text = cursor.to_string();
        assert!(
            text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'),
            "{text}"
        );
        assert_eq!(text.parse::<ListCursor>().unwrap(), cursor);
        for bad in ["", "12", "x.0190", "12.not-a-uuid", ".", "1.2.3"] {
            assert!(
                matches!(bad.parse::<ListCursor>(), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
