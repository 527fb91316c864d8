//! The account tables in redb (accounts, API keys by the hash of their secret, per-key
//! settings, write usage), created on first use: a store that never had an account is
//! unchanged.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableError};
use uuid::Uuid;

use super::encoding::{decode_account, decode_api_key, decode_settings, decode_usage};
use crate::account::{Account, ApiKey, Settings, Usage};
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
