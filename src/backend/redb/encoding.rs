//! The only module that turns stored records and keys into bytes and back.
//!
//! Records are `[FORMAT_VERSION as u8] ++ postcard(record)`. Keys are fixed-width big-endian
//! byte strings so that redb's byte order is the logical order; signed instants are stored
//! with the sign bit flipped so that they sort correctly. ARCHITECTURE.md lists every table
//! and key layout. Changing any of them requires bumping [`FORMAT_VERSION`] and a new golden
//! fixture (`tests/fixtures/`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::account::{Account, ApiKey, Settings, Usage};
use crate::backend::Version;
use crate::error::{Error, Result};
use crate::model::{AuditEvent, Extraction, MemoryId, WriteShape};
use crate::time::Timestamp;

/// Version of the on-disk format: table set, key layouts and record encodings.
pub const FORMAT_VERSION: u32 = 1;

/// The newest row record version this build reads. It writes 3 for rows with their original
/// input inline and 4 for rows that reference a shared input (`inputs` table): the fields of
/// versions 1 and 2, with the copies elided that nearly every row has (a summary equal to the
/// decision, a channel equal to the source, an original message equal to the decision, an
/// original input equal to the original message). Versions 1 and 2 are still read.
pub(crate) const ROW_RECORD_VERSION: u8 = 4;

/// The immutable part of a stored memory, written once at insert, as decoded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RowRecord {
    /// Where the row sits in each ordered index tree: its scope's tree of all rows first, then
    /// by source, then by session.
    pub positions: Vec<TreePosition>,
    pub account: String,
    pub tenant: Option<String>,
    pub decision: String,
    pub summary: String,
    pub topic: String,
    pub importance_score: u8,
    pub source: String,
    pub channel: String,
    pub session_id: Option<String>,
    /// `None`: the first characters of the shared input (see `rows::render`).
    pub original_message: Option<String>,
    pub original_input: RowInput,
    pub external_id: Option<String>,
    pub captured_at: Timestamp,
    pub created_at: Timestamp,
    pub valid_from: Timestamp,
    pub extraction: Option<Extraction>,
    /// How the row arrived (for its derived `memory.created` event).
    pub shape: WriteShape,
}

/// Where a row's original input is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RowInput {
    /// In the row record (record version 1), decoded straight into the shared form.
    Inline(Arc<str>),
    /// In `inputs`, under the row's scope, by its SHA-256 (record version 2).
    Shared([u8; 32]),
}

/// Record version 1 of a row, exactly as format 1 wrote it from the start, borrowed
/// (encoding; decoding: [`RowVisitor`]).
#[derive(Serialize)]
pub(crate) struct RowV1Ref<'a> {
    pub positions: &'a [TreePosition],
    pub account: &'a str,
    pub tenant: Option<&'a str>,
    pub decision: &'a str,
    pub summary: &'a str,
    pub topic: &'a str,
    pub importance_score: u8,
    pub source: &'a str,
    pub channel: &'a str,
    pub session_id: Option<&'a str>,
    pub original_message: &'a str,
    pub original_input: &'a str,
    pub external_id: Option<&'a str>,
    pub captured_at: Timestamp,
    pub created_at: Timestamp,
    pub valid_from: Timestamp,
    pub extraction: Option<&'a Extraction>,
    pub shape: WriteShape,
}

/// Record version 2 of a row: its input by reference, its original message only when it is
/// not the input's first characters (encoding; decoding: [`RowVisitor`]).
#[derive(Serialize)]
pub(crate) struct RowV2Ref<'a> {
    pub positions: &'a [TreePosition],
    pub account: &'a str,
    pub tenant: Option<&'a str>,
    pub decision: &'a str,
    pub summary: &'a str,
    pub topic: &'a str,
    pub importance_score: u8,
    pub source: &'a str,
    pub channel: &'a str,
    pub session_id: Option<&'a str>,
    pub original_message: Option<&'a str>,
    pub input: [u8; 32],
    pub external_id: Option<&'a str>,
    pub captured_at: Timestamp,
    pub created_at: Timestamp,
    pub valid_from: Timestamp,
    pub extraction: Option<&'a Extraction>,
    pub shape: WriteShape,
}

/// `Some(value)` unless it equals `same`: what a compact record stores of a field that is
/// usually a copy of another.
fn unless_same<'a>(value: &'a str, same: &str) -> Option<&'a str> {
    (value != same).then_some(value)
}

/// Record version 3: [`RowV1Ref`]'s fields, `None` where a field repeats another.
#[derive(Serialize)]
struct RowV3<'a> {
    positions: &'a [TreePosition],
    account: &'a str,
    tenant: Option<&'a str>,
    decision: &'a str,
    /// `None`: the decision.
    summary: Option<&'a str>,
    topic: &'a str,
    importance_score: u8,
    source: &'a str,
    /// `None`: the source.
    channel: Option<&'a str>,
    session_id: Option<&'a str>,
    /// `None`: the decision.
    original_message: Option<&'a str>,
    /// `None`: the original message.
    original_input: Option<&'a str>,
    external_id: Option<&'a str>,
    captured_at: Timestamp,
    created_at: Timestamp,
    valid_from: Timestamp,
    extraction: Option<&'a Extraction>,
    shape: WriteShape,
}

/// Record version 4: [`RowV2Ref`]'s fields, `None` where a field repeats another.
#[derive(Serialize)]
struct RowV4<'a> {
    positions: &'a [TreePosition],
    account: &'a str,
    tenant: Option<&'a str>,
    decision: &'a str,
    /// `None`: the decision.
    summary: Option<&'a str>,
    topic: &'a str,
    importance_score: u8,
    source: &'a str,
    /// `None`: the source.
    channel: Option<&'a str>,
    session_id: Option<&'a str>,
    /// `None`: the input's first characters (as in version 2).
    original_message: Option<&'a str>,
    input: [u8; 32],
    external_id: Option<&'a str>,
    captured_at: Timestamp,
    created_at: Timestamp,
    valid_from: Timestamp,
    extraction: Option<&'a Extraction>,
    shape: WriteShape,
}

fn row_record<T: Serialize>(version: u8, row: &T) -> Vec<u8> {
    let mut out = vec![version];
    out.extend(postcard::to_allocvec(row).expect("postcard serialisation into a Vec"));
    out
}

/// A row with its input inline: `[3] ++ postcard(RowV3)`.
pub(crate) fn encode_row_v1(row: &RowV1Ref<'_>) -> Vec<u8> {
    row_record(
        3,
        &RowV3 {
            positions: row.positions,
            account: row.account,
            tenant: row.tenant,
            decision: row.decision,
            summary: unless_same(row.summary, row.decision),
            topic: row.topic,
            importance_score: row.importance_score,
            source: row.source,
            channel: unless_same(row.channel, row.source),
            session_id: row.session_id,
            original_message: unless_same(row.original_message, row.decision),
            original_input: unless_same(row.original_input, row.original_message),
            external_id: row.external_id,
            captured_at: row.captured_at,
            created_at: row.created_at,
            valid_from: row.valid_from,
            extraction: row.extraction,
            shape: row.shape,
        },
    )
}

/// A row that references a shared input: `[4] ++ postcard(RowV4)`.
pub(crate) fn encode_row_v2(row: &RowV2Ref<'_>) -> Vec<u8> {
    row_record(
        4,
        &RowV4 {
            positions: row.positions,
            account: row.account,
            tenant: row.tenant,
            decision: row.decision,
            summary: unless_same(row.summary, row.decision),
            topic: row.topic,
            importance_score: row.importance_score,
            source: row.source,
            channel: unless_same(row.channel, row.source),
            session_id: row.session_id,
            original_message: row.original_message,
            input: row.input,
            external_id: row.external_id,
            captured_at: row.captured_at,
            created_at: row.created_at,
            valid_from: row.valid_from,
            extraction: row.extraction,
            shape: row.shape,
        },
    )
}

/// `[1] ++ postcard(RowV1Ref)`: how format 1 wrote rows before version 3 (kept for the
/// decoder's tests).
#[cfg(test)]
fn encode_row_version_1(row: &RowV1Ref<'_>) -> Vec<u8> {
    row_record(1, row)
}

/// `[2] ++ postcard(RowV2Ref)`: shared-input rows before version 4 (for the tests).
#[cfg(test)]
fn encode_row_version_2(row: &RowV2Ref<'_>) -> Vec<u8> {
    row_record(2, row)
}

/// A row record of either version.
pub(crate) fn decode_row(bytes: &[u8]) -> Result<RowRecord> {
    let corrupt = |e: postcard::Error| Error::Corrupted(format!("row record: {e}"));
    match bytes.split_first() {
        None => Err(Error::Corrupted("empty row record".into())),
        Some((&version @ 1..=ROW_RECORD_VERSION, body)) => {
            let mut de = postcard::Deserializer::from_bytes(body);
            serde::Deserializer::deserialize_tuple(&mut de, ROW_FIELDS, RowVisitor { version })
                .map_err(corrupt)
        }
        Some((&found, _)) => Err(Error::IncompatibleFormat {
            found: u32::from(found),
            supported: u32::from(ROW_RECORD_VERSION),
            unknown_features: Vec::new(),
        }),
    }
}

/// The number of fields of a row record (both versions).
const ROW_FIELDS: usize = 18;

/// Decodes a row record of version 1 ([`RowV1Ref`]'s fields), 2 ([`RowV2Ref`]'s), 3 or 4
/// (theirs, with repeats elided: [`RowV3`], [`RowV4`]) straight
/// into a [`RowRecord`]: the versions differ in two fields, and a record is read on every
/// row a list touches, so it is built once rather than decoded into a struct per version
/// and moved (a few hundred bytes per row).
struct RowVisitor {
    version: u8,
}

impl<'de> serde::de::Visitor<'de> for RowVisitor {
    type Value = RowRecord;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a row record of version {}", self.version)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<RowRecord, A::Error> {
        let mut index = 0usize..;
        macro_rules! element {
            ($ty:ty) => {{
                let at = index.next().unwrap_or_default();
                seq.next_element::<$ty>()?
                    .ok_or_else(|| serde::de::Error::invalid_length(at, &self))?
            }};
        }
        let positions = element!(Vec<TreePosition>);
        let account = element!(String);
        let tenant = element!(Option<String>);
        let compact = self.version >= 3;
        let decision = element!(String);
        let summary = if compact {
            element!(Option<String>).unwrap_or_else(|| decision.clone())
        } else {
            element!(String)
        };
        let topic = element!(String);
        let importance_score = element!(u8);
        let source = element!(String);
        let channel = if compact {
            element!(Option<String>).unwrap_or_else(|| source.clone())
        } else {
            element!(String)
        };
        let session_id = element!(Option<String>);
        let (original_message, original_input) = match self.version {
            1 => {
                let message = element!(String);
                // Read from the record's bytes into its `Arc` at once: through a `String` it
                // would be allocated and copied twice, and it is often the longest field.
                let input = element!(&'de str);
                (Some(message), RowInput::Inline(Arc::from(input)))
            }
            3 => {
                let message = element!(Option<String>).unwrap_or_else(|| decision.clone());
                let input = match element!(Option<&'de str>) {
                    Some(input) => Arc::from(input),
                    None => Arc::from(message.as_str()),
                };
                (Some(message), RowInput::Inline(input))
            }
            _ => {
                let message = element!(Option<String>);
                (message, RowInput::Shared(element!([u8; 32])))
            }
        };
        Ok(RowRecord {
            positions,
            account,
            tenant,
            decision,
            summary,
            topic,
            importance_score,
            source,
            channel,
            session_id,
            original_message,
            original_input,
            external_id: element!(Option<String>),
            captured_at: element!(Timestamp),
            created_at: element!(Timestamp),
            valid_from: element!(Timestamp),
            extraction: element!(Option<Extraction>),
            shape: element!(WriteShape),
        })
    }
}

impl RowRecord {
    /// The row's duplicate-suppression fingerprint (derived, not stored: its scope is the tree
    /// of its first position).
    pub(crate) fn fingerprint(&self) -> Vec<u8> {
        let scope = self.positions.first().map_or(0, |p| p.tree);
        dedup_key(
            scope,
            &crate::dedup::fingerprint(
                &self.source,
                &self.channel,
                &self.decision,
                self.external_id.as_deref(),
            ),
        )
    }
}

/// A row's position in one ordered index tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TreePosition {
    pub tree: u64,
    pub seq: u64,
}

fn encode_record<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION as u8];
    // Serialising plain structs into a Vec cannot fail.
    out.extend(postcard::to_allocvec(record).expect("postcard serialisation into a Vec"));
    out
}

fn decode_record<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T> {
    let body = record_body(what, bytes)?;
    postcard::from_bytes(body).map_err(|e| Error::Corrupted(format!("{what} record: {e}")))
}

/// A record's bytes after its version byte, which must be this build's.
fn record_body<'a>(what: &str, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| Error::Corrupted(format!("empty {what} record")))?;
    if u32::from(version) != FORMAT_VERSION {
        return Err(Error::IncompatibleFormat {
            found: u32::from(version),
            supported: FORMAT_VERSION,
            unknown_features: Vec::new(),
        });
    }
    Ok(body)
}

macro_rules! record_codec {
    ($ty:ty, $enc:ident, $dec:ident, $name:literal) => {
        pub(crate) fn $enc(record: &$ty) -> Vec<u8> {
            encode_record(record)
        }
        pub(crate) fn $dec(bytes: &[u8]) -> Result<$ty> {
            decode_record($name, bytes)
        }
    };
}

record_codec!(Version, encode_version, decode_version, "version");
/// Version byte of an `events` value whose details carry a requested end of validity
/// (`EventDetails::requested_valid_to`): version (2) ++ postcard(AuditEvent) ++
/// postcard(requested end). Every other event is a version-1 record, as before; a store
/// with version-2 events requires the `requested-valid-to` feature.
const EVENT_V2: u8 = 2;

pub(crate) fn encode_event(event: &AuditEvent) -> Vec<u8> {
    let mut out = encode_record(event);
    if let Some(requested) = event.details.requested_valid_to() {
        out[0] = EVENT_V2;
        out.extend(postcard::to_allocvec(&requested).expect("postcard serialisation into a Vec"));
    }
    out
}

pub(crate) fn decode_event(bytes: &[u8]) -> Result<AuditEvent> {
    let Some((&EVENT_V2, body)) = bytes.split_first() else {
        return decode_record("event", bytes);
    };
    let corrupted = |e: postcard::Error| Error::Corrupted(format!("event record: {e}"));
    let (mut event, rest) = postcard::take_from_bytes::<AuditEvent>(body).map_err(corrupted)?;
    let requested = postcard::from_bytes(rest).map_err(corrupted)?;
    event.details.set_requested_valid_to(Some(requested));
    Ok(event)
}
record_codec!(ApiKey, encode_api_key, decode_api_key, "api key");
record_codec!(Settings, encode_settings, decode_settings, "settings");
record_codec!(
    crate::account::SessionRecord,
    encode_session,
    decode_session,
    "session"
);

/// A record that grew a field after files were written: the record as it was ++
/// postcard(the extension). A record without the trailing bytes (an older file) reads the
/// extension's default.
fn encode_extended<T: Serialize, E: Serialize + Default + PartialEq>(
    record: &T,
    ext: &E,
) -> Vec<u8> {
    let mut out = encode_record(record);
    if *ext != E::default() {
        out.extend(postcard::to_allocvec(ext).expect("postcard serialisation into a Vec"));
    }
    out
}

fn decode_extended<T, E>(what: &str, bytes: &[u8]) -> Result<(T, E)>
where
    T: for<'a> Deserialize<'a>,
    E: for<'a> Deserialize<'a> + Default,
{
    let corrupted = |e: postcard::Error| Error::Corrupted(format!("{what} record: {e}"));
    let body = record_body(what, bytes)?;
    let (record, rest) = postcard::take_from_bytes::<T>(body).map_err(corrupted)?;
    let ext = if rest.is_empty() {
        E::default()
    } else {
        postcard::from_bytes(rest).map_err(corrupted)?
    };
    Ok((record, ext))
}

/// An account: its original fields ++ its plan, when it has one of its own.
pub(crate) fn encode_account(account: &Account) -> Vec<u8> {
    encode_extended(account, &account.plan)
}

pub(crate) fn decode_account(bytes: &[u8]) -> Result<Account> {
    let (mut account, plan): (Account, crate::AccountPlan) = decode_extended("account", bytes)?;
    account.plan = plan;
    Ok(account)
}

/// A usage record: its original fields ++ the writes per day of the period.
pub(crate) fn encode_usage(usage: &Usage) -> Vec<u8> {
    encode_extended(usage, &usage.writes_by_day)
}

pub(crate) fn decode_usage(bytes: &[u8]) -> Result<Usage> {
    let (mut usage, days): (Usage, Vec<u64>) = decode_extended("usage", bytes)?;
    usage.writes_by_day = days;
    Ok(usage)
}

/// Version byte of a `lexical_delta` row value with a fingerprint (version 1, the format
/// version, is postcard(DeltaRecord) alone, as files before it hold; still read).
const DELTA_V2: u8 = 2;

/// `lexical_delta` row value: version (2) ++ the row's duplicate fingerprint, while it is not
/// in `dedup` yet (u16 length ++ bytes; empty: in `dedup` already, or not wanted) ++
/// postcard(DeltaRecord). The fingerprint comes first so that a duplicate check reads it
/// without decoding the terms.
pub(crate) fn encode_delta(record: &DeltaRecord, fingerprint: &[u8]) -> Vec<u8> {
    let len = u16::try_from(fingerprint.len()).expect("fingerprints are a few hundred bytes");
    let mut out = vec![DELTA_V2];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(fingerprint);
    out.extend(postcard::to_allocvec(record).expect("postcard serialisation into a Vec"));
    out
}

/// The fingerprint of a `lexical_delta` row value and its postcard part.
fn split_delta(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    match bytes.split_first() {
        None => Err(Error::Corrupted("empty delta record".into())),
        Some((1, body)) => Ok((&[], body)),
        Some((&DELTA_V2, body)) => {
            let len = usize::from(u16::from_be_bytes(take(body, 0, "delta record")?));
            let fingerprint = body
                .get(2..2 + len)
                .ok_or_else(|| Error::Corrupted("delta record: fingerprint truncated".into()))?;
            Ok((fingerprint, &body[2 + len..]))
        }
        Some((&found, _)) => Err(Error::IncompatibleFormat {
            found: u32::from(found),
            supported: u32::from(DELTA_V2),
            unknown_features: Vec::new(),
        }),
    }
}

/// The fingerprint a `lexical_delta` row value holds for `dedup` (empty: none).
pub(crate) fn delta_fingerprint(bytes: &[u8]) -> Result<&[u8]> {
    Ok(split_delta(bytes)?.0)
}

pub(crate) fn decode_delta(bytes: &[u8]) -> Result<DeltaRecord> {
    let (_, record) = split_delta(bytes)?;
    postcard::from_bytes(record).map_err(|e| Error::Corrupted(format!("delta record: {e}")))
}
/// `meta.required_features`: the features a store uses that a build must know to read it.
pub(crate) fn encode_features(features: &[String]) -> Vec<u8> {
    encode_record(&features)
}

pub(crate) fn decode_features(bytes: &[u8]) -> Result<Vec<String>> {
    decode_record("required features", bytes)
}

/// `inputs` key: scope tree id (8) ++ SHA-256 of the input (32).
pub(crate) fn input_key(scope: u64, hash: &[u8; 32]) -> [u8; 40] {
    let mut k = [0; 40];
    k[..8].copy_from_slice(&scope.to_be_bytes());
    k[8..].copy_from_slice(hash);
    k
}

/// `inputs` value: version (1) ++ the UTF-8 text.
pub(crate) fn encode_input(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + text.len());
    out.push(1);
    out.extend_from_slice(text.as_bytes());
    out
}

pub(crate) fn decode_input(bytes: &[u8]) -> Result<&str> {
    match bytes.split_first() {
        Some((1, text)) => {
            std::str::from_utf8(text).map_err(|_| Error::Corrupted("an input is not UTF-8".into()))
        }
        Some((&found, _)) => Err(Error::IncompatibleFormat {
            found: u32::from(found),
            supported: 1,
            unknown_features: Vec::new(),
        }),
        None => Err(Error::Corrupted("empty input record".into())),
    }
}

/// Maps an instant to a u64 whose unsigned order is the instant's order.
pub(crate) fn sortable(t: Timestamp) -> u64 {
    (t.as_micros() as u64) ^ (1 << 63)
}

fn unsortable(v: u64) -> Timestamp {
    Timestamp::from_micros((v ^ (1 << 63)) as i64)
}

fn take<const N: usize>(bytes: &[u8], at: usize, what: &str) -> Result<[u8; N]> {
    bytes
        .get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Corrupted(format!("{what} key too short")))
}

fn exact_len(bytes: &[u8], len: usize, what: &str) -> Result<()> {
    if bytes.len() == len {
        Ok(())
    } else {
        Err(Error::Corrupted(format!(
            "{what} key has {} bytes, expected {len}",
            bytes.len()
        )))
    }
}

/// `versions` key: id (16) ++ sortable transaction start (8).
pub(crate) fn version_key(id: MemoryId, start: Timestamp) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(&id.as_u128().to_be_bytes());
    k[16..].copy_from_slice(&sortable(start).to_be_bytes());
    k
}

/// Decodes a `versions` key.
pub(crate) fn decode_version_key(bytes: &[u8]) -> Result<(MemoryId, Timestamp)> {
    exact_len(bytes, 24, "version")?;
    let id = u128::from_be_bytes(take(bytes, 0, "version")?);
    let start = u64::from_be_bytes(take(bytes, 16, "version")?);
    Ok((MemoryId::from_u128(id), unsortable(start)))
}

/// `events` key: id (16) ++ event number (4).
pub(crate) fn event_key(id: MemoryId, n: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(&id.as_u128().to_be_bytes());
    k[16..].copy_from_slice(&n.to_be_bytes());
    k
}

/// Decodes an `events` key.
pub(crate) fn decode_event_key(bytes: &[u8]) -> Result<(MemoryId, u32)> {
    exact_len(bytes, 20, "event")?;
    let id = u128::from_be_bytes(take(bytes, 0, "event")?);
    let n = u32::from_be_bytes(take(bytes, 16, "event")?);
    Ok((MemoryId::from_u128(id), n))
}

/// `predecessors` key: successor id (16) ++ predecessor id (16).
pub(crate) fn pred_key(successor: MemoryId, predecessor: MemoryId) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&successor.as_u128().to_be_bytes());
    k[16..].copy_from_slice(&predecessor.as_u128().to_be_bytes());
    k
}

/// Decodes a `predecessors` key.
pub(crate) fn decode_pred_key(bytes: &[u8]) -> Result<(MemoryId, MemoryId)> {
    exact_len(bytes, 32, "predecessor")?;
    let a = u128::from_be_bytes(take(bytes, 0, "predecessor")?);
    let b = u128::from_be_bytes(take(bytes, 16, "predecessor")?);
    Ok((MemoryId::from_u128(a), MemoryId::from_u128(b)))
}

/// `tree_nodes` key: tree id (8) ++ level (1) ++ index at that level (8).
pub(crate) fn node_key(tree: u64, level: u8, index: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&tree.to_be_bytes());
    k[8] = level;
    k[9..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Decodes a `tree_nodes` key.
pub(crate) fn decode_node_key(bytes: &[u8]) -> Result<(u64, u8, u64)> {
    exact_len(bytes, 17, "tree node")?;
    let tree = u64::from_be_bytes(take(bytes, 0, "tree node")?);
    let index = u64::from_be_bytes(take(bytes, 9, "tree node")?);
    Ok((tree, bytes[8], index))
}

/// The interval summary of one row, or the aggregate of a block of rows, in an index tree.
///
/// Aggregates take the minimum of the lower bounds and the maximum of the upper bounds, so a
/// block that cannot contain a match for a read is skipped whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// `created_at` (transaction time start).
    pub created: i64,
    /// `valid_from`.
    pub valid_from: i64,
    /// Latest `valid_to` (`i64::MAX` when open).
    pub valid_to: i64,
    /// Transaction time at which `valid_to` was set (`i64::MIN` when never).
    pub valid_to_set_at: i64,
    /// End of the row's "current in the store's belief" interval on the transaction axis
    /// (`i64::MAX` while open).
    pub current_end: i64,
}

impl Summary {
    /// The identity of [`Summary::merge`].
    pub const EMPTY: Summary = Summary {
        created: i64::MAX,
        valid_from: i64::MAX,
        valid_to: i64::MIN,
        valid_to_set_at: i64::MIN,
        current_end: i64::MIN,
    };

    /// The aggregate of two summaries.
    pub fn merge(self, other: Summary) -> Summary {
        Summary {
            created: self.created.min(other.created),
            valid_from: self.valid_from.min(other.valid_from),
            valid_to: self.valid_to.max(other.valid_to),
            valid_to_set_at: self.valid_to_set_at.max(other.valid_to_set_at),
            current_end: self.current_end.max(other.current_end),
        }
    }
}

const SUMMARY_LEN: usize = 40;

/// `tree_nodes` value: summary (40) ++ at level 0 the row id (16).
pub(crate) fn encode_node(summary: &Summary, id: Option<MemoryId>) -> Vec<u8> {
    let mut v = Vec::with_capacity(SUMMARY_LEN + 16);
    for x in [
        summary.created,
        summary.valid_from,
        summary.valid_to,
        summary.valid_to_set_at,
        summary.current_end,
    ] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    if let Some(id) = id {
        v.extend_from_slice(&id.as_u128().to_be_bytes());
    }
    v
}

/// Decodes a `tree_nodes` value.
pub(crate) fn decode_node(bytes: &[u8]) -> Result<(Summary, Option<MemoryId>)> {
    let field = |i: usize| -> Result<i64> { Ok(i64::from_be_bytes(take(bytes, i * 8, "node")?)) };
    let summary = Summary {
        created: field(0)?,
        valid_from: field(1)?,
        valid_to: field(2)?,
        valid_to_set_at: field(3)?,
        current_end: field(4)?,
    };
    let id = match bytes.len() {
        SUMMARY_LEN => None,
        n if n == SUMMARY_LEN + 16 => Some(MemoryId::from_u128(u128::from_be_bytes(take(
            bytes,
            SUMMARY_LEN,
            "node",
        )?))),
        n => return Err(Error::Corrupted(format!("tree node value of {n} bytes"))),
    };
    Ok((summary, id))
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn push_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            push_str(out, s);
        }
    }
}

/// Which rows of a scope an index tree orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Facet<'a> {
    /// Every row of the scope.
    All,
    /// Rows with this `source`.
    Source(&'a str),
    /// Rows with this `session_id`.
    Session(&'a str),
}

/// `trees` key prefix of an account: len-prefixed account. Every key of the account's trees
/// starts with it, so an account delete is one range.
pub(crate) fn account_prefix(account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + account.len());
    push_str(&mut k, account);
    k
}

/// The account of a `trees` key, and the first key after every key of that account.
pub(crate) fn tree_account(key: &[u8]) -> Option<(String, Vec<u8>)> {
    let len = u32::from_be_bytes(key.get(..4)?.try_into().ok()?) as usize;
    let account = std::str::from_utf8(key.get(4..4 + len)?).ok()?.to_owned();
    // After the account come a tenant tag (0 or 1): 2 is past all of them.
    let mut next = account_prefix(&account);
    next.push(2);
    Some((account, next))
}

/// `trees` key prefix of one (account, tenant) scope.
pub(crate) fn scope_prefix(account: &str, tenant: Option<&str>) -> Vec<u8> {
    let mut k = account_prefix(account);
    push_opt_str(&mut k, tenant);
    k
}

/// `trees` key: scope prefix ++ facet tag (1) ++ len-prefixed facet value.
pub(crate) fn tree_name(account: &str, tenant: Option<&str>, facet: Facet<'_>) -> Vec<u8> {
    let mut k = scope_prefix(account, tenant);
    match facet {
        Facet::All => k.push(0),
        Facet::Source(s) => {
            k.push(1);
            push_str(&mut k, s);
        }
        Facet::Session(s) => {
            k.push(2);
            push_str(&mut k, s);
        }
    }
    k
}

/// The tenant of a `trees` key of `account` whose facet is `facet`, or `None` if the key names
/// another facet's tree (or is not a key of `account`).
pub(crate) fn tree_tenant(key: &[u8], account: &str, facet: Facet<'_>) -> Option<Option<String>> {
    let rest = key.strip_prefix(account_prefix(account).as_slice())?;
    let tenant = match rest.split_first()? {
        (0, _) => None,
        (1, rest) => {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            Some(std::str::from_utf8(rest.get(4..4 + len)?).ok()?.to_owned())
        }
        _ => return None,
    };
    (key == tree_name(account, tenant.as_deref(), facet).as_slice()).then_some(tenant)
}

/// `posting_blocks` key prefix of one term in one scope: scope (8) ++ term (u32 length ++
/// UTF-8).
pub(crate) fn posting_prefix(scope: u64, term: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + 4 + term.len() + 4);
    k.extend_from_slice(&scope.to_be_bytes());
    push_str(&mut k, term);
    k
}

/// `posting_blocks` key: term prefix ++ block number (u32, big-endian; the term's blocks in
/// the order they were started).
pub(crate) fn posting_block_key(prefix: &[u8], block: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 4);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&block.to_be_bytes());
    k
}

/// The block number at the end of a `posting_blocks` key.
pub(crate) fn posting_block_number(key: &[u8]) -> Result<u32> {
    let at = key
        .len()
        .checked_sub(4)
        .ok_or_else(|| Error::Corrupted("posting block key too short".into()))?;
    Ok(u32::from_be_bytes(take(key, at, "posting block key")?))
}

/// Version byte of a `posting_blocks` value.
const POSTING_BLOCK_V1: u8 = 1;

/// A posting block holds up to this many bytes of postings (about 60 of them); a merge
/// appends to a term's last block and starts a new one when it is full.
pub(crate) const POSTING_BLOCK_BYTES: usize = 1024;

/// Appends one posting to a `posting_blocks` value (an empty `out` gets the version byte
/// first): row id (16, big-endian) ++ tf (LEB128) ++ the row's length in terms (LEB128).
pub(crate) fn push_posting(out: &mut Vec<u8>, id: MemoryId, tf: u32, len: u32) {
    if out.is_empty() {
        out.push(POSTING_BLOCK_V1);
    }
    out.extend_from_slice(&id.as_u128().to_be_bytes());
    push_leb128(out, tf);
    push_leb128(out, len);
}

fn push_leb128(out: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_leb128(bytes: &[u8], at: &mut usize) -> Result<u32> {
    let mut n = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| Error::Corrupted("posting block truncated".into()))?;
        *at += 1;
        let part = u32::from(byte & 0x7F);
        if shift == 28 && part > 0x0F {
            break;
        }
        n |= part << shift;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(Error::Corrupted("posting block: integer too long".into()))
}

/// Calls `each(id, tf, len)` for every posting of a `posting_blocks` value, in order.
pub(crate) fn decode_posting_block(
    bytes: &[u8],
    mut each: impl FnMut(MemoryId, u32, u32),
) -> Result<()> {
    match bytes.first() {
        Some(&POSTING_BLOCK_V1) => {}
        Some(&other) => {
            return Err(Error::Corrupted(format!(
                "posting block of unknown version {other}"
            )));
        }
        None => return Err(Error::Corrupted("empty posting block".into())),
    }
    let mut at = 1;
    while at < bytes.len() {
        let id = u128::from_be_bytes(take(bytes, at, "posting block")?);
        at += 16;
        let tf = read_leb128(bytes, &mut at)?;
        let len = read_leb128(bytes, &mut at)?;
        each(MemoryId::from_u128(id), tf, len);
    }
    Ok(())
}

/// A scope's lexical statistics: rows indexed, their total length in terms, and how many of
/// them wait in the delta (not yet merged into postings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LexicalStats {
    pub rows: u64,
    pub terms: u64,
    pub pending: u64,
}

pub(crate) fn encode_lexical_stats(s: LexicalStats) -> [u8; 24] {
    let mut out = [0; 24];
    out[..8].copy_from_slice(&s.rows.to_be_bytes());
    out[8..16].copy_from_slice(&s.terms.to_be_bytes());
    out[16..].copy_from_slice(&s.pending.to_be_bytes());
    out
}

/// Reads 24-byte stats, and the 16-byte ones written before the delta existed.
pub(crate) fn decode_lexical_stats(bytes: &[u8]) -> Result<LexicalStats> {
    if bytes.len() != 16 {
        exact_len(bytes, 24, "lexical stats")?;
    }
    Ok(LexicalStats {
        rows: u64::from_be_bytes(take(bytes, 0, "lexical stats")?),
        terms: u64::from_be_bytes(take(bytes, 8, "lexical stats")?),
        pending: if bytes.len() == 24 {
            u64::from_be_bytes(take(bytes, 16, "lexical stats")?)
        } else {
            0
        },
    })
}

/// A row waiting in its scope's delta: its distinct terms with their frequencies, and its
/// length in terms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeltaRecord {
    pub len: u32,
    pub terms: Vec<(String, u32)>,
}

/// `lexical_delta` and `vectors` key: scope (8) ++ row id (16). Ids grow with time, so a
/// scope's entries are appended at its end.
pub(crate) fn scope_row_key(scope: u64, id: MemoryId) -> [u8; 24] {
    let mut k = [0; 24];
    k[..8].copy_from_slice(&scope.to_be_bytes());
    k[8..].copy_from_slice(&id.as_u128().to_be_bytes());
    k
}

/// The first and last `scope_row_key` of `scope`: the range holding all its rows.
pub(crate) fn scope_row_range(scope: u64) -> ([u8; 24], [u8; 24]) {
    (
        scope_row_key(scope, MemoryId::from_u128(0)),
        scope_row_key(scope, MemoryId::from_u128(u128::MAX)),
    )
}

pub(crate) fn decode_scope_row_key(bytes: &[u8]) -> Result<(u64, MemoryId)> {
    exact_len(bytes, 24, "delta")?;
    Ok((
        u64::from_be_bytes(take(bytes, 0, "delta")?),
        MemoryId::from_u128(u128::from_be_bytes(take(bytes, 8, "delta")?)),
    ))
}

/// Version byte of a `vectors` value.
const VECTOR_V1: u8 = 1;

/// `vectors` value: version (1) ++ vector space tag (8, big-endian) ++ the unit vector's
/// components as little-endian f32.
pub(crate) fn encode_vector(tag: u64, vector: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + 4 * vector.len());
    out.push(VECTOR_V1);
    out.extend_from_slice(&tag.to_be_bytes());
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// A `vectors` value's space tag and its components' bytes (little-endian f32), without
/// copying them.
pub(crate) fn vector_parts(bytes: &[u8]) -> Result<(u64, &[u8])> {
    match bytes.first() {
        Some(&VECTOR_V1) => {}
        Some(&found) => {
            return Err(Error::IncompatibleFormat {
                found: u32::from(found),
                supported: u32::from(VECTOR_V1),
                unknown_features: Vec::new(),
            });
        }
        None => return Err(Error::Corrupted("empty vector record".into())),
    }
    let tag = u64::from_be_bytes(take(bytes, 1, "vector")?);
    let body = &bytes[9..];
    if !body.len().is_multiple_of(4) {
        return Err(Error::Corrupted(
            "vector length is not a multiple of 4".into(),
        ));
    }
    Ok((tag, body))
}

/// `dedup` key: scope tree id (8) ++ the row's fingerprint (`crate::dedup::fingerprint`).
pub(crate) fn dedup_key(scope: u64, fingerprint: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + fingerprint.len());
    k.extend_from_slice(&scope.to_be_bytes());
    k.extend_from_slice(fingerprint);
    k
}

/// `dedup` entry key: fingerprint (self-delimiting) ++ id (16).
pub(crate) fn dedup_entry(fingerprint: &[u8], id: MemoryId) -> Vec<u8> {
    let mut k = fingerprint.to_vec();
    k.extend_from_slice(&id.as_u128().to_be_bytes());
    k
}

/// The id at the end of a `dedup` entry key.
pub(crate) fn dedup_entry_id(key: &[u8]) -> Result<MemoryId> {
    let at = key
        .len()
        .checked_sub(16)
        .ok_or_else(|| Error::Corrupted("dedup key too short".into()))?;
    Ok(MemoryId::from_u128(u128::from_be_bytes(take(
        key, at, "dedup",
    )?)))
}

/// Runs every decoder on `bytes` (for fuzzing: none may panic).
pub fn fuzz_decode_all(bytes: &[u8]) {
    let _ = decode_row(bytes);
    let _ = decode_features(bytes);
    let _ = decode_input(bytes);
    let _ = decode_version(bytes);
    let _ = decode_event(bytes);
    let _ = decode_account(bytes);
    let _ = decode_api_key(bytes);
    let _ = decode_settings(bytes);
    let _ = decode_usage(bytes);
    let _ = decode_version_key(bytes);
    let _ = decode_event_key(bytes);
    let _ = decode_pred_key(bytes);
    let _ = decode_node_key(bytes);
    let _ = decode_node(bytes);
    let _ = posting_block_number(bytes);
    let _ = decode_posting_block(bytes, |_, _, _| {});
    let _ = decode_lexical_stats(bytes);
    let _ = decode_delta(bytes);
    let _ = delta_fingerprint(bytes);
    let _ = decode_scope_row_key(bytes);
    let _ = vector_parts(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_a_requested_end_round_trip_and_others_keep_version_1() {
        use crate::model::{EventDetails, EventKind};
        let at = Timestamp::from_micros(1_700_000_000_000_000);
        let mut event = AuditEvent {
            kind: EventKind::MemoryExpired,
            at,
            by: "acme".into(),
            details: EventDetails::Expired {
                valid_to: at,
                requested_valid_to: None,
            },
        };
        let plain = encode_event(&event);
        assert_eq!(
            plain,
            encode_record(&event),
            "unchanged for events without one"
        );
        assert_eq!(plain[0], 1);
        assert_eq!(decode_event(&plain).unwrap(), event);

        event
            .details
            .set_requested_valid_to(Some(Timestamp::from_micros(5)));
        let extended = encode_event(&event);
        assert_eq!(extended[0], EVENT_V2);
        assert_eq!(decode_event(&extended).unwrap(), event);
        for cut in 1..extended.len() {
            assert!(decode_event(&extended[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn delta_records_carry_their_fingerprint_and_truncation_is_refused() {
        let record = DeltaRecord {
            len: 7,
            terms: vec![("alic".into(), 2), ("acm".into(), 1)],
        };
        for fingerprint in [&b""[..], b"\x01\x05agent"] {
            let bytes = encode_delta(&record, fingerprint);
            assert_eq!(delta_fingerprint(&bytes).unwrap(), fingerprint);
            assert_eq!(decode_delta(&bytes).unwrap(), record);
            for cut in 0..bytes.len() {
                assert!(decode_delta(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut other = encode_delta(&record, b"x");
        other[0] = 9;
        assert!(matches!(
            delta_fingerprint(&other),
            Err(Error::IncompatibleFormat { found: 9, .. })
        ));
        // Version 1, as files before the fingerprint hold it: no fingerprint.
        let mut v1 = vec![1u8];
        v1.extend(postcard::to_allocvec(&record).unwrap());
        assert_eq!(delta_fingerprint(&v1).unwrap(), b"");
        assert_eq!(decode_delta(&v1).unwrap(), record);
    }

    #[test]
    fn posting_blocks_round_trip_and_bad_blocks_are_refused() {
        let postings = [
            (MemoryId::from_u128(1), 1, 9),
            (MemoryId::from_u128(u128::MAX), 300, 70_000),
            (MemoryId::from_u128(7 << 64), u32::MAX, 0),
        ];
        let mut block = Vec::new();
        for (id, tf, len) in postings {
            push_posting(&mut block, id, tf, len);
        }
        let mut back = Vec::new();
        decode_posting_block(&block, |id, tf, len| back.push((id, tf, len))).unwrap();
        assert_eq!(back, postings);
        // Truncated anywhere inside a posting, of another version, empty: refused.
        // The postings end at 19 (1 + 16 + 1 + 1) and 40 (+ 16 + 2 + 3).
        for cut in (2..block.len()).filter(|cut| ![19, 40].contains(cut)) {
            assert!(
                decode_posting_block(&block[..cut], |_, _, _| {}).is_err(),
                "cut at {cut}"
            );
        }
        let mut other = block.clone();
        other[0] = 2;
        assert!(decode_posting_block(&other, |_, _, _| {}).is_err());
        assert!(decode_posting_block(&[], |_, _, _| {}).is_err());
        // An integer longer than a u32 is refused, not wrapped.
        let mut long = vec![POSTING_BLOCK_V1];
        long.extend_from_slice(&[0; 16]);
        long.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0]);
        assert!(decode_posting_block(&long, |_, _, _| {}).is_err());
        let key = posting_block_key(&posting_prefix(3, "alice"), 42);
        assert_eq!(posting_block_number(&key).unwrap(), 42);
        assert!(key.starts_with(&posting_prefix(3, "alice")));
    }

    #[test]
    fn vectors_round_trip_and_bad_records_are_refused() {
        let v = [0.5f32, -0.25, 1.0e-3];
        let bytes = encode_vector(42, &v);
        let (tag, body) = vector_parts(&bytes).unwrap();
        assert_eq!(tag, 42);
        let out: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(out, v);
        assert!(vector_parts(&bytes[..bytes.len() - 1]).is_err());
        assert!(vector_parts(&bytes[..5]).is_err());
        assert!(vector_parts(&[]).is_err());
        let mut future = bytes.clone();
        future[0] = 2;
        assert!(matches!(
            vector_parts(&future),
            Err(Error::IncompatibleFormat { found: 2, .. })
        ));
    }

    #[test]
    fn tree_names_give_back_their_tenant_for_their_facet_only() {
        for tenant in [None, Some(""), Some("a"), Some("a\u{0}b"), Some("ünï")] {
            let all = tree_name("acme", tenant, Facet::All);
            assert_eq!(
                tree_tenant(&all, "acme", Facet::All),
                Some(tenant.map(str::to_owned))
            );
            assert_eq!(tree_tenant(&all, "acm", Facet::All), None);
            assert_eq!(tree_tenant(&all, "acme", Facet::Source("x")), None);
            let source = tree_name("acme", tenant, Facet::Source("slack"));
            assert_eq!(tree_tenant(&source, "acme", Facet::All), None);
            assert_eq!(
                tree_tenant(&source, "acme", Facet::Source("slack")),
                Some(tenant.map(str::to_owned))
            );
        }
        assert_eq!(tree_tenant(b"\x00\x00", "acme", Facet::All), None);
    }

    #[test]
    fn sortable_instants_keep_their_order() {
        let values = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in values.windows(2) {
            let (a, b) = (Timestamp::from_micros(w[0]), Timestamp::from_micros(w[1]));
            assert!(sortable(a) < sortable(b));
            assert_eq!(unsortable(sortable(a)), a);
        }
    }

    #[test]
    fn keys_round_trip() {
        let id = MemoryId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let t = Timestamp::from_micros(-42);
        assert_eq!(decode_version_key(&version_key(id, t)).unwrap(), (id, t));
        assert_eq!(decode_event_key(&event_key(id, 9)).unwrap(), (id, 9));
        let other = MemoryId::from_u128(5);
        assert_eq!(decode_pred_key(&pred_key(id, other)).unwrap(), (id, other));
        assert_eq!(decode_node_key(&node_key(3, 2, 77)).unwrap(), (3, 2, 77));
    }

    #[test]
    fn node_values_round_trip() {
        let s = Summary {
            created: 1,
            valid_from: -2,
            valid_to: i64::MAX,
            valid_to_set_at: i64::MIN,
            current_end: 9,
        };
        let id = MemoryId::from_u128(77);
        assert_eq!(
            decode_node(&encode_node(&s, Some(id))).unwrap(),
            (s, Some(id))
        );
        assert_eq!(decode_node(&encode_node(&s, None)).unwrap(), (s, None));
        assert!(decode_node(&[0; 41]).is_err());
    }

    #[test]
    fn row_records_of_both_versions_decode_field_by_field_and_truncation_is_corrupted() {
        let positions = [TreePosition { tree: 3, seq: 9 }];
        let extraction = Extraction {
            provider: "builtin".into(),
            model: "rules".into(),
            prompt_version: "rules-v1".into(),
            extracted_at: Timestamp::from_micros(5),
        };
        let v1_row = RowV1Ref {
            positions: &positions,
            account: "acme",
            tenant: Some("crm"),
            decision: "Alice works at Acme",
            summary: "Alice works at Acme",
            topic: "work",
            importance_score: 7,
            source: "chat",
            channel: "api",
            session_id: Some("s1"),
            original_message: "Alice works",
            original_input: "Alice works at Acme, she said",
            external_id: None,
            captured_at: Timestamp::from_micros(1),
            created_at: Timestamp::from_micros(2),
            valid_from: Timestamp::from_micros(3),
            extraction: Some(&extraction),
            shape: WriteShape::Messages,
        };
        let v1 = encode_row_version_1(&v1_row);
        let row = decode_row(&v1).unwrap();
        assert_eq!(row.positions, positions);
        assert_eq!(
            (row.account.as_str(), row.tenant.as_deref()),
            ("acme", Some("crm"))
        );
        assert_eq!(row.original_message.as_deref(), Some("Alice works"));
        assert_eq!(
            row.original_input,
            RowInput::Inline("Alice works at Acme, she said".into())
        );
        assert_eq!(row.session_id.as_deref(), Some("s1"));
        assert_eq!(row.external_id, None);
        assert_eq!(
            (row.captured_at, row.created_at, row.valid_from),
            (
                Timestamp::from_micros(1),
                Timestamp::from_micros(2),
                Timestamp::from_micros(3)
            )
        );
        assert_eq!(row.extraction, Some(extraction.clone()));
        assert_eq!(row.shape, WriteShape::Messages);

        let v2_row = RowV2Ref {
            positions: &positions,
            account: "acme",
            tenant: None,
            decision: "d",
            summary: "s",
            topic: "t",
            importance_score: 1,
            source: "src",
            channel: "ch",
            session_id: None,
            original_message: None,
            input: [7; 32],
            external_id: Some("x-1"),
            captured_at: Timestamp::from_micros(4),
            created_at: Timestamp::from_micros(5),
            valid_from: Timestamp::from_micros(6),
            extraction: None,
            shape: WriteShape::Content,
        };
        let v2 = encode_row_version_2(&v2_row);
        let row = decode_row(&v2).unwrap();
        assert_eq!(row.original_message, None);
        assert_eq!(row.original_input, RowInput::Shared([7; 32]));
        assert_eq!(row.external_id.as_deref(), Some("x-1"));
        assert_eq!(row.valid_from, Timestamp::from_micros(6));
        assert_eq!(row.shape, WriteShape::Content);

        // What this build writes (3 and 4) decodes to the same rows, repeats or not.
        let v3 = encode_row_v1(&v1_row);
        let v4 = encode_row_v2(&v2_row);
        assert_eq!((v3[0], v4[0]), (3, 4));
        assert_eq!(decode_row(&v3).unwrap(), decode_row(&v1).unwrap());
        assert_eq!(decode_row(&v4).unwrap(), decode_row(&v2).unwrap());
        let text = "Bob moved to Berlin in March";
        let repeats = RowV1Ref {
            summary: text,
            decision: text,
            original_message: text,
            original_input: text,
            source: "chat",
            channel: "chat",
            ..v1_row
        };
        let (old, new) = (encode_row_version_1(&repeats), encode_row_v1(&repeats));
        assert_eq!(decode_row(&new).unwrap(), decode_row(&old).unwrap());
        assert!(
            new.len() + 3 * text.len() + 4 <= old.len(),
            "{} vs {}",
            new.len(),
            old.len()
        );
        let shared = RowV2Ref {
            summary: "d",
            channel: "src",
            ..v2_row
        };
        assert_eq!(
            decode_row(&encode_row_v2(&shared)).unwrap(),
            decode_row(&encode_row_version_2(&shared)).unwrap()
        );

        for record in [&v1, &v2, &v3, &v4] {
            for cut in 1..record.len() {
                assert!(
                    matches!(decode_row(&record[..cut]), Err(Error::Corrupted(_))),
                    "a record cut at {cut} of {} bytes",
                    record.len()
                );
            }
        }
    }

    #[test]
    fn records_refuse_other_format_versions() {
        let mut bytes = encode_version(&Version::default());
        assert_eq!(decode_version(&bytes).unwrap(), Version::default());
        bytes[0] = 99;
        assert!(matches!(
            decode_version(&bytes),
            Err(Error::IncompatibleFormat { found: 99, .. })
        ));
        assert!(matches!(decode_row(&[]), Err(Error::Corrupted(_))));
    }

    #[test]
    fn account_prefix_does_not_match_longer_account_names() {
        let a = tree_name("ab", None, Facet::All);
        assert!(a.starts_with(&account_prefix("ab")));
        assert!(!a.starts_with(&account_prefix("a")));
        let t = tree_name("ab", Some("t"), Facet::Source("s"));
        assert!(t.starts_with(&scope_prefix("ab", Some("t"))));
        assert!(!t.starts_with(&scope_prefix("ab", None)));
    }
}
