//! # aurra
//!
//! A bitemporal memory store for AI agents, embedded in-process on a single
//! [redb](https://docs.rs/redb) file.
//!
//! Every memory is an atomic fact with provenance (source, channel, session, original input),
//! an account and a tenant, an importance score, and two time axes: **valid time** (when the
//! fact was true in the world: `valid_from`, `valid_to`) and **transaction time** (when the
//! store believed it). Facts are never overwritten: a change supersedes the old fact, the chain
//! of versions can be walked both ways, and every row keeps an append-only audit log. Reads
//! travel in time on either axis or both.
//!
//! It also answers questions from memories with citations ([`Store::search`],
//! [`Store::query`]: lexical retrieval within the temporal scope, an offline extractive
//! answerer, a hash-bound proof tree), and, with the default `server` feature, serves the
//! hosted Aurra REST contract ([`server`], the `aurra serve` binary).
//!
//! Every LLM feature works offline by default and takes a language model when given one
//! ([`llm`]): query answers ([`LlmAnswerer`]), messages-mode extraction ([`extract`]) and
//! Level 2 auto-supersession ([`classify`]).
//!
//! Retrieval is lexical by default (no network needed); with an [`Embedder`] configured
//! ([`StoreOptions::embedder`], e.g. [`OpenAiEmbedder`] for any OpenAI-compatible
//! `/v1/embeddings` server, or `LocalEmbedder` in-process with the `local-embed` feature) it
//! is hybrid: BM25 and cosine similarity fused by score.
//!
//! What it is not (yet): a distributed store.
//!
//! ```
//! use aurra::{ListQuery, NewMemory, ReadMode, Store, Supersede};
//!
//! # fn main() -> aurra::Result<()> {
//! let store = Store::in_memory()?;
//! let old = store.write("acme", NewMemory::new("Alice works at Initech"))?.saved_id().unwrap();
//! let before = store.now()?;
//! let new = store.write("acme", NewMemory::new("Alice works at Globex"))?.saved_id().unwrap();
//! store.supersede("acme", old, Supersede { superseded_by: Some(new), valid_to: None }, "acme")?;
//!
//! let now = store.list("acme", &ListQuery::new())?;
//! assert_eq!(now.memories[0].decision, "Alice works at Globex");
//! assert_eq!(now.memories.len(), 1);
//!
//! let then = store.list("acme", &ListQuery::new().mode(ReadMode::AsOf(before)))?;
//! assert_eq!(then.memories[0].decision, "Alice works at Initech");
//! assert_eq!(store.timeline("acme", new)?.versions.len(), 2);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod answer;
mod backend;
pub mod classify;
mod dedup;
mod embed;
mod error;
pub mod eval;
pub mod export;
pub mod extract;
pub mod llm;
mod model;
mod query;
mod secrets;
#[cfg(feature = "server")]
pub mod server;
mod store;
pub mod temporal;
mod text;
mod time;

pub use account::{
    API_KEY_PREFIX, Account, AccountPlan, ApiKey, HALF_LIFE_RANGE_DAYS, MIN_CONFIDENCE_FLOOR,
    OPERATOR_TOKEN_PREFIX, SessionOwner, SessionRecord, Settings, SettingsPatch, Usage,
    month_start,
};
pub use answer::{
    ANSWER_PROMPT_VERSION, AnswerRequest, Answerer, Candidate, ExtractiveAnswerer, LlmAnswerer,
    Marked, verify_markers,
};
#[cfg(feature = "postgres")]
pub use backend::postgres::PostgresConfig;
pub use backend::redb::FORMAT_VERSION;
pub use backend::{StorageStats, TableStats};
pub use embed::Embedder;
#[cfg(feature = "http")]
pub use embed::OpenAiEmbedder;
#[cfg(feature = "local-embed")]
pub use embed::{LocalEmbedder, Pooling};
pub use error::{Error, Result, StorageError};
pub use model::{
    AuditEvent, Classification, DEFAULT_IMPORTANCE, DEFAULT_TOPIC, EXTRACTOR_ACTOR, EventDetails,
    EventKind, Extraction, ListCursor, ListQuery, ListResult, Memory, MemoryId, NewMemory,
    ORIGINAL_MESSAGE_MAX_CHARS, ReadMode, SearchHit, SearchQuery, SearchResult, SearchType,
    Supersede, SupersedeOutcome, Timeline, WriteOutcome, WriteShape,
};
pub use query::{
    ChainLink, Citation, EMPTY_ANSWER, ProofTree, QueryAnswer, QueryRequest, SupersessionChain,
    answer_hash,
};
pub use store::{
    CLASSIFIER_ACTOR, Commit, CommitOutcome, DEFAULT_MAX_SESSIONS, DEFAULT_RECOVERY_INTERVAL,
    Degraded, ExportScope, FIRST_ACCOUNT, ImportReport, MAX_CHAIN_HOPS, StorageBackend, Store,
    StoreOptions,
};
pub use temporal::TemporalFlags;
pub use time::{Clock, ManualClock, SystemClock, Timestamp};

/// The README's Rust examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Byte-level codecs, exposed only for the fuzz targets. Not a stable API.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::backend::redb::encoding::fuzz_decode_all;
}
