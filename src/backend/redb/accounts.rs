//! The account tables in redb (accounts, API keys by the hash of their secret, per-key
//! settings, write usage), created on first use: a store that never had an account is
//! unchanged.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableError};
use uuid::Uuid;

use super::encoding::{decode_account, decode_api_key, decode_settings, decode_usage};
use super::tables::{META_OPERATOR, META_USAGE_PREFIX};
use crate::account::{Account, ApiKey, OperatorCredential, SessionRecord, Settings, Usage};
use crate::error::{Error, Result};

/// Opens a table that may not have been created yet (`None`: empty).
pub(crate) fn open_optional<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>> {
    match txn.open_table(def) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Like [`open_optional`], in a write transaction, without creating the table: a write that
/// only looks for a legacy record must not add a table to the file.
pub(crate) fn open_optional_write<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'t redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::Table<'t, K, V>>> {
    use redb::TableHandle;
    if !txn.list_tables()?.any(|t| t.name() == def.name()) {
        return Ok(None);
    }
    Ok(Some(txn.open_table(def)?))
}

/// The `meta` key of an account's write usage.
fn usage_key(account: &str) -> String {
    format!("{META_USAGE_PREFIX}{account}")
}

/// An account's write usage as this build stores it: in `meta`.
pub(crate) fn usage_in_meta(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    account: &str,
) -> Result<Option<Usage>> {
    meta.get(usage_key(account).as_str())?
        .map(|v| decode_usage(v.value()))
        .transpose()
}

pub(crate) fn put_usage_in_meta(
    meta: &mut redb::Table<'_, &'static str, &'static [u8]>,
    account: &str,
    usage: &Usage,
) -> Result<()> {
    meta.insert(
        usage_key(account).as_str(),
        super::encoding::encode_usage(usage).as_slice(),
    )?;
    Ok(())
}

/// An account's write usage in the legacy `usage` table (files written before it moved into
/// `meta`).
pub(crate) fn usage(
    table: Option<&impl ReadableTable<&'static str, &'static [u8]>>,
    account: &str,
) -> Result<Option<Usage>> {
    let Some(table) = table else { return Ok(None) };
    table
        .get(account)?
        .map(|v| decode_usage(v.value()))
        .transpose()
}

pub(crate) fn account(
    table: Option<&impl ReadableTable<&'static str, &'static [u8]>>,
    id: &str,
) -> Result<Option<Account>> {
    let Some(table) = table else { return Ok(None) };
    table
        .get(id)?
        .map(|v| decode_account(v.value()))
        .transpose()
}

pub(crate) fn accounts(
    table: Option<&impl ReadableTable<&'static str, &'static [u8]>>,
) -> Result<Vec<Account>> {
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    table
        .iter()?
        .map(|entry| decode_account(entry?.1.value()))
        .collect()
}

pub(crate) fn api_key(
    table: Option<&impl ReadableTable<&'static [u8], &'static [u8]>>,
    hash: &[u8; 32],
) -> Result<Option<ApiKey>> {
    let Some(table) = table else { return Ok(None) };
    table
        .get(hash.as_slice())?
        .map(|v| decode_api_key(v.value()))
        .transpose()
}

pub(crate) fn api_keys(
    table: Option<&impl ReadableTable<&'static [u8], &'static [u8]>>,
) -> Result<Vec<([u8; 32], ApiKey)>> {
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    table
        .iter()?
        .map(|entry| {
            let (hash, value) = entry?;
            let hash: [u8; 32] = hash
                .value()
                .try_into()
                .map_err(|_| Error::Corrupted("API key hash is not 32 bytes".into()))?;
            Ok((hash, decode_api_key(value.value())?))
        })
        .collect()
}

pub(crate) fn settings(
    table: Option<&impl ReadableTable<u128, &'static [u8]>>,
    key: Uuid,
) -> Result<Option<Settings>> {
    let Some(table) = table else { return Ok(None) };
    table
        .get(key.as_u128())?
        .map(|v| decode_settings(v.value()))
        .transpose()
}

/// The operator credential in `meta`, if one was issued.
pub(crate) fn operator(
    meta: Option<&impl ReadableTable<&'static str, &'static [u8]>>,
) -> Result<Option<OperatorCredential>> {
    let Some(meta) = meta else { return Ok(None) };
    let Some(value) = meta.get(META_OPERATOR)? else {
        return Ok(None);
    };
    let bytes = value.value();
    let (Ok(hash), Ok(at)) = (
        <[u8; 32]>::try_from(bytes.get(..32).unwrap_or_default()),
        <[u8; 8]>::try_from(bytes.get(32..).unwrap_or_default()),
    ) else {
        return Err(Error::Corrupted(
            "operator credential record is not 40 bytes".into(),
        ));
    };
    Ok(Some(OperatorCredential {
        hash,
        created_at: crate::time::Timestamp::from_micros(i64::from_be_bytes(at)),
    }))
}

/// The `meta` record of [`operator`].
pub(crate) fn encode_operator(credential: &OperatorCredential) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&credential.hash);
    out[32..].copy_from_slice(&credential.created_at.as_micros().to_be_bytes());
    out
}

/// The dashboard session stored under `hash`, if any.
pub(crate) fn session(
    table: Option<&impl ReadableTable<&'static [u8], &'static [u8]>>,
    hash: &[u8; 32],
) -> Result<Option<SessionRecord>> {
    let Some(table) = table else { return Ok(None) };
    table
        .get(hash.as_slice())?
        .map(|v| super::encoding::decode_session(v.value()))
        .transpose()
}

/// Removes the sessions expired at `now`, then the oldest while more than `keep` remain.
pub(crate) fn prune_sessions(
    table: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    now: crate::time::Timestamp,
    keep: usize,
) -> Result<()> {
    let mut live = Vec::new();
    let mut gone = Vec::new();
    for entry in table.iter()? {
        let (hash, value) = entry?;
        let record = super::encoding::decode_session(value.value())?;
        if record.expires_at <= now {
            gone.push(hash.value().to_vec());
        } else {
            live.push((record.created_at, hash.value().to_vec()));
        }
    }
    if live.len() > keep {
        live.sort();
        let excess = live.len() - keep;
        gone.extend(live.into_iter().take(excess).map(|(_, hash)| hash));
    }
    for hash in gone {
        table.remove(hash.as_slice())?;
    }
    Ok(())
}
