//! Loading rows and their versions, and rendering them as [`Memory`] values.

use redb::ReadableTable;

use std::sync::Arc;

use super::encoding::{RowInput, RowRecord, Summary, decode_row, decode_version, version_key};
use crate::backend::{Owned, Stored, Version};
use crate::error::{Error, Result};
use crate::model::{Memory, MemoryId, ORIGINAL_MESSAGE_MAX_CHARS, truncate_chars};
use crate::time::Timestamp;

/// Reads the shared input with this hash under a scope (see `tables::INPUTS`).
pub(crate) type InputFn<'a> = &'a dyn Fn(u64, &[u8; 32]) -> Result<Arc<str>>;

pub(crate) fn load_row<T>(rows: &T, id: MemoryId) -> Result<Option<RowRecord>>
where
    T: ReadableTable<u128, &'static [u8]>,
{
    rows.get(id.as_u128())?
        .map(|v| decode_row(v.value()))
        .transpose()
}

/// The row, checked against the account.
pub(crate) fn owned_row<T>(rows: &T, id: MemoryId, account: &str) -> Result<Owned<RowRecord>>
where
    T: ReadableTable<u128, &'static [u8]>,
{
    Ok(match load_row(rows, id)? {
        None => Owned::Absent,
        Some(row) if row.account != account => Owned::Foreign,
        Some(row) => Owned::Mine(row),
    })
}

/// The row of `account` with id `id` in its latest state.
pub(crate) fn fetch<R, V>(
    rows: &R,
    versions: &V,
    inputs: InputFn<'_>,
    account: &str,
    id: MemoryId,
) -> Result<Owned<Stored>>
where
    R: ReadableTable<u128, &'static [u8]>,
    V: ReadableTable<&'static [u8], &'static [u8]>,
{
    Ok(match owned_row(rows, id, account)? {
        Owned::Mine(row) => {
            let version = latest_version(versions, id)?;
            let shape = row.shape;
            Owned::Mine(Stored {
                valid_to_set_at: version.valid_to_set_at,
                memory: render(id, row, &version, inputs)?,
                shape,
            })
        }
        Owned::Foreign => Owned::Foreign,
        Owned::Absent => Owned::Absent,
    })
}

/// A row that this snapshot's own index names: missing or foreign is corruption.
pub(crate) fn indexed_row<T>(rows: &T, id: MemoryId, account: &str) -> Result<RowRecord>
where
    T: ReadableTable<u128, &'static [u8]>,
{
    match load_row(rows, id)? {
        Some(row) if row.account == account => Ok(row),
        Some(_) => Err(Error::Corrupted(format!(
            "the index of one account names memory {id} of another"
        ))),
        None => Err(Error::Corrupted(format!("index names missing memory {id}"))),
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
) -> Result<Option<Version>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    if at.is_some_and(|t| t < created_at) {
        return Ok(None);
    }
    version_until(versions, id, at.unwrap_or(Timestamp::MAX)).map(Some)
}

/// The latest version of a row.
pub(crate) fn latest_version<T>(versions: &T, id: MemoryId) -> Result<Version>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    version_until(versions, id, Timestamp::MAX)
}

/// The last stored version that started at or before `until`, or the implicit first one.
fn version_until<T>(versions: &T, id: MemoryId, until: Timestamp) -> Result<Version>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let (lo, hi) = (version_key(id, Timestamp::MIN), version_key(id, until));
    match versions.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => Ok(Version::default()),
        Some(entry) => decode_version(entry?.1.value()),
    }
}

/// The row as a [`Memory`] in `version`; a shared input is read through `inputs`, and a
/// row that keeps no original message of its own shows the input's first characters.
pub(crate) fn render(
    id: MemoryId,
    row: RowRecord,
    version: &Version,
    inputs: InputFn<'_>,
) -> Result<Memory> {
    let scope = row.positions.first().map_or(0, |p| p.tree);
    let original_input: Arc<str> = match row.original_input {
        RowInput::Inline(text) => text,
        RowInput::Shared(hash) => inputs(scope, &hash)?,
    };
    let original_message = row
        .original_message
        .unwrap_or_else(|| truncate_chars(&original_input, ORIGINAL_MESSAGE_MAX_CHARS));
    Ok(Memory {
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
        original_message,
        original_input,
        external_id: row.external_id,
        captured_at: row.captured_at,
        created_at: row.created_at,
        valid_from: row.valid_from,
        valid_to: version.valid_to,
        superseded_by: version.superseded_by,
        transaction_time_start: row.created_at,
        transaction_time_end: version.transaction_time_end,
        extraction: row.extraction,
    })
}

/// Whether a row with this leaf summary has never changed (no version stored), so its only
/// version is the implicit first one. Every stored version sets `valid_to`.
pub(crate) fn never_changed(summary: &Summary) -> bool {
    summary.valid_to_set_at == i64::MIN
}

/// The index summary of a row in its latest version (see `tree.rs`).
pub(crate) fn summary_of(row: &RowRecord, version: &Version) -> Summary {
    summary_at(row.created_at, row.valid_from, version)
}

/// The index summary of a row created at `created` and valid from `valid_from`, in
/// `version`.
pub(crate) fn summary_at(created: Timestamp, valid_from: Timestamp, version: &Version) -> Summary {
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
        created: created.as_micros(),
        valid_from: valid_from.as_micros(),
        valid_to: version.valid_to.map_or(i64::MAX, Timestamp::as_micros),
        valid_to_set_at: version
            .valid_to_set_at
            .map_or(i64::MIN, Timestamp::as_micros),
        current_end: superseded_at.min(expired_at),
    }
}
