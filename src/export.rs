//! The export format: JSON Lines, one [`ExportRecord`] a line, in this order — a
//! [`ExportHeader`]; for a whole-store export the operator credential, every account with
//! its plan and usage, every API key (its SHA-256, never a secret) with its settings; then
//! every memory of the scope with all it holds ([`ExportedMemory`]: its latest state and the
//! transaction times at which each part of it was set, its stored audit events, its vector
//! and that vector's space tag); and last an [`ExportTotals`] line, so that a reader can tell
//! a complete file from a cut one.
//!
//! Timestamps are microseconds since the Unix epoch (UTC), exactly as stored. A memory's
//! history is complete in its latest state: its parts only ever fill in (`valid_to` at
//! `valid_to_set_at`, `superseded_by` at `transaction_time_end`), so every version it ever
//! had follows from it. Derived indexes (lexical, duplicates, the interval trees, vector
//! codes) are not exported: an import rebuilds them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{Settings, Usage};
use crate::model::{EventDetails, EventKind, Extraction, MemoryId, WriteShape};
use crate::time::Timestamp;

/// The value of [`ExportHeader::format`].
pub const EXPORT_FORMAT: &str = "aurra-export";
/// The newest export format version this build writes and reads.
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// One line of an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportRecord {
    /// The first line.
    Header(ExportHeader),
    /// The operator credential (whole-store exports).
    Operator(ExportedOperator),
    /// An account (whole-store exports).
    Account(ExportedAccount),
    /// An API key (whole-store exports).
    ApiKey(ExportedKey),
    /// A memory.
    Memory(Box<ExportedMemory>),
    /// The last line.
    End(ExportTotals),
}

/// What was exported, by what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The aurra version that wrote it.
    pub aurra_version: String,
    /// When the export started (the store's clock).
    pub exported_at: Timestamp,
    /// The account exported; `None`: every account (a whole-store export).
    pub account: Option<String>,
    /// The tenant exported (with `account`); `None`: every tenant.
    pub tenant: Option<String>,
    /// Whether the file holds a whole store: accounts, keys, settings, usage, the operator
    /// credential.
    pub whole_store: bool,
}

/// The operator credential: its SHA-256 only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedOperator {
    /// SHA-256 of the credential, hex.
    pub hash: String,
    /// When it was issued.
    pub created_at: Timestamp,
}

/// An account with its own plan and its usage record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAccount {
    /// The account id.
    pub id: String,
    /// Its stable UUID.
    pub org_id: Uuid,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its own plan tier (`None`: the server's).
    pub plan_tier: Option<String>,
    /// Its own write limit (`None`: the server's).
    pub writes_limit: Option<u64>,
    /// Its usage record as stored (of whatever period it was last written in).
    pub usage: Option<ExportedUsage>,
}

/// A usage record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedUsage {
    /// Start of the period.
    pub period_start: Timestamp,
    /// Write requests counted in it.
    pub writes_used: u64,
    /// When its grace period started.
    pub grace_started_at: Option<Timestamp>,
    /// Write requests per UTC day of the period.
    pub writes_by_day: Vec<u64>,
}

impl From<&Usage> for ExportedUsage {
    fn from(u: &Usage) -> Self {
        ExportedUsage {
            period_start: u.period_start,
            writes_used: u.writes_used,
            grace_started_at: u.grace_started_at,
            writes_by_day: u.writes_by_day.clone(),
        }
    }
}

/// An API key: the SHA-256 of its secret (the secret is never stored) and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedKey {
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The key's id.
    pub id: Uuid,
    /// Its account.
    pub account: String,
    /// The prefix shown in listings.
    pub shown_prefix: String,
    /// Its label.
    pub label: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Its settings, when it ever stored any.
    pub settings: Option<Settings>,
}

/// A memory: everything stored for it. The fields are [`crate::Memory`]'s (documented there)
/// and what the store keeps beside them.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedMemory {
    pub id: MemoryId,
    pub account: String,
    pub tenant: Option<String>,
    pub decision: String,
    pub summary: String,
    pub topic: String,
    pub importance_score: u8,
    pub source: String,
    pub channel: String,
    pub session_id: Option<String>,
    pub original_message: String,
    pub original_input: String,
    pub external_id: Option<String>,
    pub captured_at: Timestamp,
    /// Transaction time of its insert (`transaction_time_start`).
    pub created_at: Timestamp,
    pub valid_from: Timestamp,
    pub valid_to: Option<Timestamp>,
    /// The transaction time at which `valid_to` was set.
    pub valid_to_set_at: Option<Timestamp>,
    pub superseded_by: Option<MemoryId>,
    /// The transaction time of its supersession.
    pub transaction_time_end: Option<Timestamp>,
    pub extraction: Option<Extraction>,
    /// How it arrived.
    pub shape: WriteShape,
    /// Its stored audit events, oldest first (the creation events follow from the row).
    pub events: Vec<ExportedEvent>,
    /// Its vector, if it has one.
    pub vector: Option<ExportedVector>,
}

/// A stored audit event ([`crate::AuditEvent`]'s fields).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    pub kind: EventKind,
    pub at: Timestamp,
    pub by: String,
    pub details: EventDetails,
    /// [`EventDetails::requested_valid_to`], which the details' own form leaves out.
    pub requested_valid_to: Option<Timestamp>,
}

/// A unit vector and the tag of its embedding space (model and dimensions).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedVector {
    pub space_tag: u64,
    pub values: Vec<f32>,
}

/// What an export held (counts of each kind of record); its last line.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportTotals {
    pub accounts: u64,
    pub api_keys: u64,
    pub memories: u64,
    pub events: u64,
    pub vectors: u64,
}

/// Hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
