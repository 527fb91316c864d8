//! Accounts, API keys (stored as SHA-256 hashes only), per-key settings and write usage.
//!
//! These tables are created on first use, so a store that never had an account is unchanged.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Store;
use crate::account::{
    API_KEY_PREFIX, API_KEY_RANDOM_BYTES, API_KEY_SHOWN_CHARS, Account, AccountPlan, ApiKey,
    HALF_LIFE_RANGE_DAYS, MIN_CONFIDENCE_FLOOR, OPERATOR_TOKEN_PREFIX, OperatorCredential,
    SessionOwner, SessionRecord, Settings, SettingsPatch, Usage, current_usage,
};
use crate::backend::Write;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The account a server's first start creates with the first key (`aurra serve`), whose lock
/// also serialises the issue of the operator credential.
pub const FIRST_ACCOUNT: &str = "default";

/// The longest account id accepted.
const MAX_ACCOUNT_CHARS: usize = 128;

impl Store {
    /// A counter that changes after every committed change to API keys or settings, whichever
    /// handle or server process made it (on PostgreSQL within the delay the backend
    /// documents). A caller that caches [`Store::authenticate`] or [`Store::settings`] results
    /// stays coherent by dropping its cache when this value changes.
    pub fn accounts_generation(&self) -> u64 {
        self.inner.backend.accounts_generation()
    }

    /// Creates an account. Account ids are 1–128 characters of letters, digits and `._:@-`.
    /// Fails with [`Error::Conflict`] if it exists.
    pub fn create_account(&self, id: &str) -> Result<Account> {
        validate_account_id(id)?;
        self.transact(&[], |w| {
            if w.account(id)?.is_some() {
                return Err(Error::Conflict(format!("account {id:?} already exists")));
            }
            let account = new_account(id, w.now()?);
            w.put_account(&account)?;
            Ok(account)
        })
    }

    /// The account with this id, if any.
    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        self.read(None)?.account(id)
    }

    /// Every account, by id.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.read(None)?.accounts()
    }

    /// Starts a dashboard session for `owner`, stored under `hash` (the SHA-256 of the
    /// cookie value, which the store never sees) with the CSRF token `csrf`, ending `ttl` from
    /// now on the store's clock. Expired sessions are removed first, and the oldest while
    /// more than [`StoreOptions::max_sessions`](crate::StoreOptions::max_sessions) would
    /// remain. On PostgreSQL every server sees it.
    pub fn start_session(
        &self,
        hash: [u8; 32],
        owner: SessionOwner,
        csrf: String,
        ttl: std::time::Duration,
    ) -> Result<SessionRecord> {
        let ttl = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
        let keep = self.inner.max_sessions - 1;
        self.transact(&[], |w| {
            let now = w.now()?;
            w.prune_sessions(now, keep)?;
            let record = SessionRecord {
                owner: owner.clone(),
                csrf: csrf.clone(),
                created_at: now,
                expires_at: now.saturating_add_micros(ttl),
            };
            w.put_session(&hash, &record)?;
            Ok(record)
        })
    }

    /// The live session stored under `hash`: `None` if there is none or it has expired.
    pub fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        let snapshot = self.read(None)?;
        let now = snapshot.now()?;
        Ok(snapshot.session(hash)?.filter(|s| s.expires_at > now))
    }

    /// Ends the session stored under `hash` (nothing if there is none).
    pub fn end_session(&self, hash: &[u8; 32]) -> Result<()> {
        self.transact(&[], |w| w.delete_session(hash))
    }

    /// Replaces the plan settings of an existing account (`None` in a field: the server's
    /// default). A tier is 1–64 characters, none a control character; a limit at most
    /// `i64::MAX`. Returns the
    /// account as stored, or `None` if there is no such account (nothing is created).
    pub fn set_account_plan(&self, id: &str, plan: AccountPlan) -> Result<Option<Account>> {
        if let Some(tier) = &plan.tier {
            let chars = tier.chars().count();
            if chars == 0
                || chars > AccountPlan::MAX_TIER_CHARS
                || tier.chars().any(char::is_control)
            {
                return Err(Error::InvalidArgument(format!(
                    "plan_tier must be 1-{} characters, none of them a control character",
                    AccountPlan::MAX_TIER_CHARS
                )));
            }
        }
        if plan.writes_limit.is_some_and(|n| i64::try_from(n).is_err()) {
            return Err(Error::InvalidArgument(format!(
                "writes_limit must be at most {}",
                i64::MAX
            )));
        }
        self.transact(&[], |w| {
            let Some(mut account) = w.account(id)? else {
                return Ok(None);
            };
            account.plan = plan.clone();
            w.put_account(&account)?;
            w.accounts_changed();
            Ok(Some(account))
        })
    }

    /// Issues a new API key for `account` (created if it does not exist yet) and returns its
    /// record and the secret. The secret is returned only here: the store keeps its hash.
    pub fn create_api_key(&self, account: &str, label: &str) -> Result<(ApiKey, String)> {
        validate_account_id(account)?;
        let secret = new_secret(API_KEY_PREFIX)?;
        let hash = hash_secret(&secret);
        let key = self.transact(&[], |w| put_new_key(w, account, label, &secret, &hash))?;
        Ok((key, secret))
    }

    /// Issues a first key for `account` when the store has no key at all (a server's first
    /// start): `None` when some key exists. Servers starting together on one database
    /// create one key between them, not one each.
    pub fn ensure_api_key(&self, account: &str, label: &str) -> Result<Option<(ApiKey, String)>> {
        validate_account_id(account)?;
        let secret = new_secret(API_KEY_PREFIX)?;
        let hash = hash_secret(&secret);
        // The account's lock serialises servers that start at once.
        let key = self.transact(&[account], |w| {
            if !w.api_keys()?.is_empty() {
                return Ok(None);
            }
            put_new_key(w, account, label, &secret, &hash).map(Some)
        })?;
        Ok(key.map(|key| (key, secret)))
    }

    /// Issues the operator credential (the token of the admin API) when the store has none —
    /// a server's first start, or the first start of a build that has it — and returns its
    /// secret, shown only here; `None` when one exists. Servers starting together on one
    /// database issue one between them: the transaction holds the lock of the account
    /// [`FIRST_ACCOUNT`], as the first key's does.
    pub fn ensure_operator_token(&self) -> Result<Option<String>> {
        let secret = new_secret(OPERATOR_TOKEN_PREFIX)?;
        let hash = hash_secret(&secret);
        let issued = self.transact(&[FIRST_ACCOUNT], |w| {
            if w.operator()?.is_some() {
                return Ok(false);
            }
            let created_at = w.now()?;
            w.put_operator(&OperatorCredential { hash, created_at })?;
            w.accounts_changed();
            Ok(true)
        })?;
        Ok(issued.then_some(secret))
    }

    /// Replaces the operator credential with a new one (a lost or leaked token) and returns
    /// the new secret; the old one stops working when this commits.
    pub fn reset_operator_token(&self) -> Result<String> {
        let secret = new_secret(OPERATOR_TOKEN_PREFIX)?;
        let hash = hash_secret(&secret);
        self.transact(&[FIRST_ACCOUNT], |w| {
            let created_at = w.now()?;
            w.put_operator(&OperatorCredential { hash, created_at })?;
            w.accounts_changed();
            Ok(())
        })?;
        Ok(secret)
    }

    /// Whether `secret` is the operator credential. An API key never is.
    pub fn authenticate_operator(&self, secret: &str) -> Result<bool> {
        if !secret.starts_with(OPERATOR_TOKEN_PREFIX) {
            return Ok(false);
        }
        let Some(stored) = self.read(None)?.operator()? else {
            return Ok(false);
        };
        // Hashes compared in constant time: no early exit on the first differing byte.
        let presented = hash_secret(secret);
        let differ = presented
            .iter()
            .zip(stored.hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        Ok(differ == 0)
    }

    /// When the operator credential was issued (`None`: never).
    pub fn operator_issued_at(&self) -> Result<Option<Timestamp>> {
        Ok(self.read(None)?.operator()?.map(|c| c.created_at))
    }

    /// The live key whose secret is `secret`, or `None` (unknown, malformed or revoked).
    pub fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>> {
        if !secret.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let found = self.read(None)?.api_key(&hash_secret(secret))?;
        Ok(found.filter(|key| key.revoked_at.is_none()))
    }

    /// Every key ever issued (revoked ones included), oldest first. Secrets are not stored,
    /// so none can be listed.
    pub fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let mut all: Vec<ApiKey> = self
            .read(None)?
            .api_keys()?
            .into_iter()
            .map(|(_, key)| key)
            .collect();
        all.sort_by_key(|k| k.id);
        Ok(all)
    }

    /// Revokes the key with this id; revoking twice keeps the first revocation time.
    pub fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey> {
        self.transact(&[], |w| {
            let (hash, mut key) = w
                .api_keys()?
                .into_iter()
                .find(|(_, key)| key.id == id)
                .ok_or_else(|| Error::InvalidArgument(format!("no API key with id {id}")))?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(w.now()?);
                w.put_api_key(&hash, &key)?;
            }
            w.accounts_changed();
            Ok(key)
        })
    }

    /// The settings of key `key` (the defaults if it never stored any).
    pub fn settings(&self, key: Uuid) -> Result<Settings> {
        Ok(self.read(None)?.settings(key)?.unwrap_or_default())
    }

    /// Applies `patch` to the settings of key `key` and returns the result. Refuses (with
    /// [`Error::InvalidArgument`], nothing stored) an empty patch, `min_confidence` outside
    /// 0.85–1.0, `freshness_half_life_days` outside 1–3650, or an empty `classifier_model`.
    pub fn update_settings(&self, key: Uuid, patch: SettingsPatch) -> Result<Settings> {
        validate_patch(&patch)?;
        self.transact(&[], |w| {
            let mut settings = w.settings(key)?.unwrap_or_default();
            let SettingsPatch {
                auto_supersede_default,
                excluded_categories,
                min_confidence,
                classifier_model,
                freshness_half_life_days,
            } = patch.clone();
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
            w.put_settings(key, &settings)?;
            w.accounts_changed();
            Ok(settings)
        })
    }

    /// The account's write usage in the current period (a UTC calendar month).
    pub fn usage(&self, account: &str) -> Result<Usage> {
        let snapshot = self.read(Some(account))?;
        let now = snapshot.now()?;
        Ok(current_usage(snapshot.usage(account)?, now))
    }

    /// Records that a write of `account` was refused for quota, starting its grace period if
    /// none has started in the current period. Returns the usage after the change.
    pub fn start_grace_period(&self, account: &str) -> Result<Usage> {
        self.transact(&[account], |w| {
            let now = w.now()?;
            let mut usage = current_usage(w.usage(account)?, now);
            if usage.grace_started_at.is_none() {
                usage.grace_started_at = Some(now);
                w.put_usage(account, &usage)?;
            }
            Ok(usage)
        })
    }
}

/// Counts one write request of `account` at `now`, inside the write's own transaction.
pub(crate) fn count_write(w: &mut dyn Write, account: &str, now: Timestamp) -> Result<()> {
    w.count_write(account, now)
}

fn new_account(id: &str, now: Timestamp) -> Account {
    Account {
        id: id.to_owned(),
        org_id: Uuid::now_v7(),
        created_at: now,
        plan: AccountPlan::default(),
    }
}

/// A new key's secret: the prefix and 192 random bits in hex.
fn new_secret(prefix: &str) -> Result<String> {
    let mut random = [0u8; API_KEY_RANDOM_BYTES];
    getrandom::fill(&mut random).map_err(|e| Error::Io(std::io::Error::from(e)))?;
    let mut secret = String::from(prefix);
    for byte in random {
        secret.push_str(&format!("{byte:02x}"));
    }
    Ok(secret)
}

/// Stores a new key (and its account, if new) in `w`.
fn put_new_key(
    w: &mut dyn Write,
    account: &str,
    label: &str,
    secret: &str,
    hash: &[u8; 32],
) -> Result<ApiKey> {
    let now = w.now()?;
    if w.account(account)?.is_none() {
        w.put_account(&new_account(account, now))?;
    }
    let key = ApiKey {
        id: Uuid::now_v7(),
        account: account.to_owned(),
        shown_prefix: secret[..API_KEY_SHOWN_CHARS].to_owned(),
        label: label.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    w.put_api_key(hash, &key)?;
    w.accounts_changed();
    Ok(key)
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(crate) fn validate_account_id(id: &str) -> Result<()> {
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
    super::write::no_nul("classifier_model", patch.classifier_model.as_deref())?;
    for category in patch.excluded_categories.iter().flatten() {
        super::write::no_nul("excluded_categories", Some(category))?;
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
