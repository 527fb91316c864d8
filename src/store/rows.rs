//! Loading rows and their versions, and rendering them as [`Memory`] values.

use redb::ReadableTable;

use crate::encoding::{RowRecord, Summary, VersionRecord, decode_row, decode_version, version_key};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, EXTRACTOR_ACTOR, EventDetails, EventKind, Memory, MemoryId};
use crate::time::Timestamp;

pub(crate) fn load_row<T>(rows: &T, id: MemoryId) -> Result<Option<RowRecord>>
where
    T: ReadableTable<u128, &'static [u8]>,
{
    rows.get(id.as_u128())?
        .map(|v| decode_row(v.value()))
        .transpose()
}

/// The row, checked against the account: `NotFound` if absent, `Forbidden` if foreign.
pub(crate) fn owned_row<T>(rows: &T, id: MemoryId, account: &str) -> Result<RowRecord>
where
    T: ReadableTable<u128, &'static [u8]>,
{
    match load_row(rows, id)? {
        None => Err(Error::NotFound(id)),
        Some(row) if row.account != account => Err(Error::Forbidden(id)),
        Some(row) => Ok(row),
    }
}

/// The version of a row created at `created_at` that was believed at `at` (the last one that
/// started at or before it), or the latest when `at` is `None`. `None` if the row did not exist
/// yet at `at`.
///
/// A row's first version is implicit (nothing ended, nothing replaced): only changes are
/// stored, so an insert writes no version entry.
pub(crate) fn version_at<T>(
    versions: &T,
    id: MemoryId,
    created_at: Timestamp,
    at: Option<Timestamp>,
) -> Result<Option<VersionRecord>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    if at.is_some_and(|t| t < created_at) {
        return Ok(None);
    }
    version_until(versions, id, at.unwrap_or(Timestamp::MAX)).map(Some)
}

/// The latest version of a row.
pub(crate) fn latest_version<T>(versions: &T, id: MemoryId) -> Result<VersionRecord>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    version_until(versions, id, Timestamp::MAX)
}

/// The last stored version that started at or before `until`, or the implicit first one.
fn version_until<T>(versions: &T, id: MemoryId, until: Timestamp) -> Result<VersionRecord>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (lo, hi) = (version_key(id, Timestamp::MIN), version_key(id, until));
    match versions.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => Ok(VersionRecord::default()),
        Some(entry) => decode_version(entry?.1.value()),
    }
}

/// The two events every row starts with (`created`, `memory.created`). They follow from the
/// row itself, so they are derived rather than stored.
pub(crate) fn creation_events(row: &RowRecord) -> [AuditEvent; 2] {
    [
        AuditEvent {
            kind: EventKind::Created,
            at: row.created_at,
            by: EXTRACTOR_ACTOR.to_owned(),
            details: EventDetails::None,
        },
        AuditEvent {
            kind: EventKind::MemoryCreated,
            at: row.created_at,
            by: row.account.clone(),
            details: EventDetails::Created {
                shape: row.shape,
                topic: row.topic.clone(),
                source: row.source.clone(),
                tenant: row.tenant.clone(),
            },
        },
    ]
}

pub(crate) fn render(id: MemoryId, row: RowRecord, version: &VersionRecord) -> Memory {
    Memory {
        id,
        account: row.account,
        tenant: row.tenant,
        decision: row.decision,
        summary: row.summary,
        topic: row.topic,
        importance_score: row.importance_score,
        source: row.source,
        channel: row.channel,
        session_id: row.session_id,
        original_message: row.original_message,
        original_input: row.original_input,
        external_id: row.external_id,
        captured_at: row.captured_at,
        created_at: row.created_at,
        valid_from: row.valid_from,
        valid_to: version.valid_to,
        superseded_by: version.superseded_by,
        transaction_time_start: row.created_at,
        transaction_time_end: version.transaction_time_end,
        extraction: row.extraction,
    }
}

/// Whether a row with this leaf summary has never changed (no version stored), so its only
/// version is the implicit first one. Every stored version sets `valid_to`.
pub(crate) fn never_changed(summary: &Summary) -> bool {
    summary.valid_to_set_at == i64::MIN
}

/// The index summary of a row in its latest version (see `tree.rs`).
pub(crate) fn summary_of(row: &RowRecord, version: &VersionRecord) -> Summary {
    // On the transaction axis the row is "current" from max(created_at, valid_from) until
    // the supersession was recorded, or until its validity ended (if that was recorded
    // before it happened) or was recorded (if recorded after).
    let superseded_at = version
        .transaction_time_end
        .map_or(i64::MAX, Timestamp::as_micros);
    let expired_at = match (version.valid_to, version.valid_to_set_at) {
        (Some(end), Some(set_at)) => end.as_micros().max(set_at.as_micros()),
        (Some(end), None) => end.as_micros(),
        (None, _) => i64::MAX,
    };
    Summary {
        created: row.created_at.as_micros(),
        valid_from: row.valid_from.as_micros(),
        valid_to: version.valid_to.map_or(i64::MAX, Timestamp::as_micros),
        valid_to_set_at: version
            .valid_to_set_at
            .map_or(i64::MIN, Timestamp::as_micros),
        current_end: superseded_at.min(expired_at),
    }
}
