//! Accounts, API keys (stored as SHA-256 hashes only), per-key settings and write usage.
//!
//! These tables are created on first use, so a store that never had an account is unchanged.

use std::sync::atomic::Ordering;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, TableError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Store;
use super::tables::*;
use crate::account::{
    API_KEY_PREFIX, API_KEY_RANDOM_BYTES, API_KEY_SHOWN_CHARS, Account, ApiKey,
    HALF_LIFE_RANGE_DAYS, MIN_CONFIDENCE_FLOOR, Settings, SettingsPatch, Usage, month_start,
};
use crate::encoding::{
    decode_account, decode_api_key, decode_settings, decode_usage, encode_account, encode_api_key,
    encode_settings, encode_usage,
};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The longest account id accepted.
const MAX_ACCOUNT_CHARS: usize = 128;

impl Store {
    /// A counter that changes after every committed change to API keys or settings made
    /// through this handle (or its clones). redb lets one process open the file at a time, so
    /// a caller that caches [`Store::authenticate`] or [`Store::settings`] results stays
    /// coherent by dropping its cache when this value changes.
    pub fn accounts_generation(&self) -> u64 {
        self.inner.accounts_generation.load(Ordering::Acquire)
    }

    fn accounts_changed(&self) {
        self.inner
            .accounts_generation
            .fetch_add(1, Ordering::AcqRel);
    }

    /// Creates an account. Account ids are 1–128 characters of letters, digits and `._:@-`.
    /// Fails with [`Error::Conflict`] if it exists.
    pub fn create_account(&self, id: &str) -> Result<Account> {
        validate_account_id(id)?;
        self.transact(|txn, now| {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(id)?.is_some() {
                return Err(Error::Conflict(format!("account {id:?} already exists")));
            }
            let account = new_account(id, now);
            accounts.insert(id, encode_account(&account).as_slice())?;
            Ok(account)
        })
    }

    /// The account with this id, if any.
    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        let txn = self.begin_read()?;
        let Some(accounts) = open_optional(&txn, ACCOUNTS)? else {
            return Ok(None);
        };
        accounts
            .get(id)?
            .map(|v| decode_account(v.value()))
            .transpose()
    }

    /// Every account, by id.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let txn = self.begin_read()?;
        let Some(accounts) = open_optional(&txn, ACCOUNTS)? else {
            return Ok(Vec::new());
        };
        accounts
            .iter()?
            .map(|entry| decode_account(entry?.1.value()))
            .collect()
    }

    /// Issues a new API key for `account` (created if it does not exist yet) and returns its
    /// record and the secret. The secret is returned only here: the store keeps its hash.
    pub fn create_api_key(&self, account: &str, label: &str) -> Result<(ApiKey, String)> {
        validate_account_id(account)?;
        let mut random = [0u8; API_KEY_RANDOM_BYTES];
        getrandom::fill(&mut random)
            .map_err(|e| Error::Storage(format!("no randomness for an API key: {e}")))?;
        let mut secret = String::from(API_KEY_PREFIX);
        for byte in random {
            secret.push_str(&format!("{byte:02x}"));
        }
        let hash = hash_secret(&secret);
        let key = self.transact(|txn, now| {
            let mut accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(account)?.is_none() {
                let record = new_account(account, now);
                accounts.insert(account, encode_account(&record).as_slice())?;
            }
            let key = ApiKey {
                id: Uuid::now_v7(),
                account: account.to_owned(),
                shown_prefix: secret[..API_KEY_SHOWN_CHARS].to_owned(),
                label: label.to_owned(),
                created_at: now,
                revoked_at: None,
            };
            txn.open_table(API_KEYS)?
                .insert(hash.as_slice(), encode_api_key(&key).as_slice())?;
            Ok(key)
        })?;
        self.accounts_changed();
        Ok((key, secret))
    }

    /// The live key whose secret is `secret`, or `None` (unknown, malformed or revoked).
    pub fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>> {
        if !secret.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let txn = self.begin_read()?;
        let Some(keys) = open_optional(&txn, API_KEYS)? else {
            return Ok(None);
        };
        let found = keys
            .get(hash_secret(secret).as_slice())?
            .map(|v| decode_api_key(v.value()))
            .transpose()?;
        Ok(found.filter(|key| key.revoked_at.is_none()))
    }

    /// Every key ever issued (revoked ones included), oldest first. Secrets are not stored,
    /// so none can be listed.
    pub fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let txn = self.begin_read()?;
        let Some(keys) = open_optional(&txn, API_KEYS)? else {
            return Ok(Vec::new());
        };
        let mut all = keys
            .iter()?
            .map(|entry| decode_api_key(entry?.1.value()))
            .collect::<Result<Vec<_>>>()?;
        all.sort_by_key(|k| k.id);
        Ok(all)
    }

    /// Revokes the key with this id; revoking twice keeps the first revocation time.
    pub fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey> {
        let revoked = self.transact(|txn, now| {
            let mut keys = txn.open_table(API_KEYS)?;
            let mut found = None;
            for entry in keys.iter()? {
                let (hash, value) = entry?;
                let key = decode_api_key(value.value())?;
                if key.id == id {
                    found = Some((hash.value().to_vec(), key));
                    break;
                }
            }
            let (hash, mut key) =
                found.ok_or_else(|| Error::InvalidArgument(format!("no API key with id {id}")))?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(now);
                keys.insert(hash.as_slice(), encode_api_key(&key).as_slice())?;
            }
            Ok(key)
        })?;
        self.accounts_changed();
        Ok(revoked)
    }

    /// The settings of key `key` (the defaults if it never stored any).
    pub fn settings(&self, key: Uuid) -> Result<Settings> {
        let txn = self.begin_read()?;
        let Some(table) = open_optional(&txn, KEY_SETTINGS)? else {
            return Ok(Settings::default());
        };
        Ok(table
            .get(key.as_u128())?
            .map(|v| decode_settings(v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// Applies `patch` to the settings of key `key` and returns the result. Refuses (with
    /// [`Error::InvalidArgument`], nothing stored) an empty patch, `min_confidence` outside
    /// 0.85–1.0, `freshness_half_life_days` outside 1–3650, or an empty `classifier_model`.
    pub fn update_settings(&self, key: Uuid, patch: SettingsPatch) -> Result<Settings> {
        validate_patch(&patch)?;
        let updated = self.transact(|txn, _now| {
            let mut table = txn.open_table(KEY_SETTINGS)?;
            let mut settings = table
                .get(key.as_u128())?
                .map(|v| decode_settings(v.value()))
                .transpose()?
                .unwrap_or_default();
            let SettingsPatch {
                auto_supersede_default,
                excluded_categories,
                min_confidence,
                classifier_model,
                freshness_half_life_days,
            } = patch;
            if let Some(v) = auto_supersede_default {
                settings.auto_supersede_default = v;
            }
            if let Some(v) = excluded_categories {
                settings.excluded_categories = v;
            }
            if let Some(v) = min_confidence {
                settings.min_confidence = v;
            }
            if let Some(v) = classifier_model {
                settings.classifier_model = v;
            }
            if let Some(v) = freshness_half_life_days {
                settings.freshness_half_life_days = v;
            }
            settings.stored = true;
            table.insert(key.as_u128(), encode_settings(&settings).as_slice())?;
            Ok(settings)
        })?;
        self.accounts_changed();
        Ok(updated)
    }

    /// The account's write usage in the current period (a UTC calendar month).
    pub fn usage(&self, account: &str) -> Result<Usage> {
        let txn = self.begin_read()?;
        let now = self.read_now(&txn)?;
        let stored = match open_optional(&txn, USAGE)? {
            Some(table) => table
                .get(account)?
                .map(|v| decode_usage(v.value()))
                .transpose()?,
            None => None,
        };
        Ok(current_usage(stored, now))
    }

    /// Records that a write of `account` was refused for quota, starting its grace period if
    /// none has started in the current period. Returns the usage after the change.
    pub fn start_grace_period(&self, account: &str) -> Result<Usage> {
        self.transact(|txn, now| {
            let mut table = txn.open_table(USAGE)?;
            let stored = table
                .get(account)?
                .map(|v| decode_usage(v.value()))
                .transpose()?;
            let mut usage = current_usage(stored, now);
            if usage.grace_started_at.is_none() {
                usage.grace_started_at = Some(now);
                table.insert(account, encode_usage(&usage).as_slice())?;
            }
            Ok(usage)
        })
    }
}

/// Counts one write request of `account` at `now`, inside the write's own transaction.
pub(crate) fn count_write(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    account: &str,
    now: Timestamp,
) -> Result<()> {
    let stored = table
        .get(account)?
        .map(|v| decode_usage(v.value()))
        .transpose()?;
    let mut usage = current_usage(stored, now);
    usage.writes_used += 1;
    table.insert(account, encode_usage(&usage).as_slice())?;
    Ok(())
}

/// The usage of the period containing `now`: the stored one, or a fresh one if the stored
/// record belongs to an earlier period.
fn current_usage(stored: Option<Usage>, now: Timestamp) -> Usage {
    let period_start = month_start(now);
    match stored {
        Some(usage) if usage.period_start == period_start => usage,
        _ => Usage {
            period_start,
            writes_used: 0,
            grace_started_at: None,
        },
    }
}

fn new_account(id: &str, now: Timestamp) -> Account {
    Account {
        id: id.to_owned(),
        org_id: Uuid::now_v7(),
        created_at: now,
    }
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn validate_account_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._:@-".contains(c);
    if id.is_empty() || id.chars().count() > MAX_ACCOUNT_CHARS || !id.chars().all(ok_char) {
        return Err(Error::InvalidArgument(format!(
            "account id {id:?} must be 1–{MAX_ACCOUNT_CHARS} letters, digits or ._:@-"
        )));
    }
    Ok(())
}

fn validate_patch(patch: &SettingsPatch) -> Result<()> {
    if patch.is_empty() {
        return Err(Error::InvalidArgument("no settings fields provided".into()));
    }
    if let Some(v) = patch.min_confidence
        && !(MIN_CONFIDENCE_FLOOR..=1.0).contains(&v)
    {
        return Err(Error::InvalidArgument(format!(
            "min_confidence must be between {MIN_CONFIDENCE_FLOOR} and 1.0"
        )));
    }
    if let Some(v) = patch.freshness_half_life_days
        && !HALF_LIFE_RANGE_DAYS.contains(&v)
    {
        return Err(Error::InvalidArgument(
            "freshness_half_life_days must be a number between 1 and 3650.".into(),
        ));
    }
    if patch
        .classifier_model
        .as_deref()
        .is_some_and(|m| m.trim().is_empty())
    {
        return Err(Error::InvalidArgument(
            "classifier_model must not be empty".into(),
        ));
    }
    Ok(())
}

/// Opens a table that may not have been created yet (`None`: empty).
fn open_optional<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>> {
    match txn.open_table(def) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;
    use crate::{NewMemory, StoreOptions};

    #[test]
    fn keys_authenticate_until_revoked_and_only_hashes_are_stored() -> Result<()> {
        let store = Store::in_memory()?;
        let (key, secret) = store.create_api_key("acme", "laptop")?;
        assert!(secret.starts_with("aurra_"));
        assert_eq!(
            secret.len(),
            API_KEY_PREFIX.len() + 2 * API_KEY_RANDOM_BYTES
        );
        assert!(secret.starts_with(&key.shown_prefix));
        assert_eq!(store.authenticate(&secret)?, Some(key.clone()));
        assert_eq!(store.authenticate("aurra_nope")?, None);
        assert_eq!(store.authenticate("bearer-without-prefix")?, None);
        assert!(store.account("acme")?.is_some());

        let listed = store.api_keys()?;
        assert_eq!(listed, vec![key.clone()]);
        let generation = store.accounts_generation();
        let revoked = store.revoke_api_key(key.id)?;
        assert_ne!(store.accounts_generation(), generation);
        assert!(revoked.revoked_at.is_some());
        assert_eq!(store.authenticate(&secret)?, None);
        let (_, other) = store.create_api_key("acme", "ci")?;
        assert_ne!(other, secret);
        Ok(())
    }

    #[test]
    fn settings_are_per_key_and_validated() -> Result<()> {
        let store = Store::in_memory()?;
        let (a, _) = store.create_api_key("acme", "a")?;
        let (b, _) = store.create_api_key("acme", "b")?;
        assert_eq!(store.settings(a.id)?, Settings::default());
        let patch = SettingsPatch {
            min_confidence: Some(0.9),
            excluded_categories: Some(vec![]),
            ..SettingsPatch::default()
        };
        let updated = store.update_settings(a.id, patch)?;
        assert_eq!(updated.min_confidence, 0.9);
        assert!(updated.excluded_categories.is_empty() && updated.stored);
        assert_eq!(store.settings(a.id)?, updated);
        assert_eq!(store.settings(b.id)?, Settings::default());
        for bad in [
            SettingsPatch::default(),
            SettingsPatch {
                min_confidence: Some(0.5),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                freshness_half_life_days: Some(0.5),
                ..SettingsPatch::default()
            },
            SettingsPatch {
                classifier_model: Some(" ".into()),
                ..SettingsPatch::default()
            },
        ] {
            assert!(matches!(
                store.update_settings(a.id, bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(store.settings(a.id)?, updated);
        Ok(())
    }

    #[test]
    fn writes_are_counted_per_account_and_period() -> Result<()> {
        let clock = ManualClock::new(Timestamp::parse("2026-11-30T23:00:00Z")?);
        let store = Store::in_memory_with(StoreOptions::new().clock(clock.clone()))?;
        store.write("acme", NewMemory::new("one"))?;
        store.write_batch("acme", vec![NewMemory::new("two"), NewMemory::new("three")])?;
        store.write("globex", NewMemory::new("one"))?;
        assert_eq!(store.usage("acme")?.writes_used, 2);
        assert_eq!(store.usage("globex")?.writes_used, 1);
        let grace = store.start_grace_period("acme")?;
        assert!(grace.grace_started_at.is_some());
        assert_eq!(store.start_grace_period("acme")?, grace);

        clock.set(Timestamp::parse("2026-12-01T01:00:00Z")?);
        let december = store.usage("acme")?;
        assert_eq!(december.writes_used, 0);
        assert_eq!(december.grace_started_at, None);
        assert_eq!(
            december.period_start,
            Timestamp::parse("2026-12-01T00:00:00Z")?
        );
        Ok(())
    }

    #[test]
    fn account_ids_are_validated_and_unique() -> Result<()> {
        let store = Store::in_memory()?;
        store.create_account("acme")?;
        assert!(matches!(
            store.create_account("acme"),
            Err(Error::Conflict(_))
        ));
        for bad in ["", "a b", "ünï", &"x".repeat(129)] {
            assert!(matches!(
                store.create_account(bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(store.accounts()?.len(), 1);
        Ok(())
    }
}
