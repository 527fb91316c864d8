//! Accounts, API keys, per-key settings and per-account write usage: the records a server
//! needs next to the memories, stored in the same redb file. Pure value types; the store
//! keeps them in `store/accounts.rs`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Timestamp;

/// The prefix of every API key (the Python SDK refuses keys without it).
pub const API_KEY_PREFIX: &str = "aurra_";

/// Random bytes in an API key: 192 bits, rendered as 48 hex digits after the prefix.
pub(crate) const API_KEY_RANDOM_BYTES: usize = 24;

/// How many characters of a key are kept (in clear) to recognise it in listings: the prefix
/// and 8 hex digits, 32 bits of the 192 — not enough to help guess the rest.
pub(crate) const API_KEY_SHOWN_CHARS: usize = API_KEY_PREFIX.len() + 8;

/// An account: the owner of memories (`company_id` on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account id (`company_id`), chosen by the operator.
    pub id: String,
    /// A stable UUID generated when the account was created (`org_id` in plan status).
    pub org_id: Uuid,
    /// When the account was created.
    pub created_at: Timestamp,
    /// The account's plan, where it differs from the server's defaults. Stored after the
    /// record's original fields (files written before it read as the defaults).
    #[serde(skip)]
    pub plan: AccountPlan,
}

/// Plan settings of one account; `None` is the server's default (`--plan-tier`,
/// `--writes-limit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPlan {
    /// The `plan_tier` plan status reports.
    pub tier: Option<String>,
    /// Writes per period (calendar month) before the grace period starts, when quotas are
    /// enforced.
    pub writes_limit: Option<u64>,
}

impl AccountPlan {
    /// The longest tier name accepted.
    pub const MAX_TIER_CHARS: usize = 64;
}

/// What the store knows about one API key. The secret itself is never stored: only its
/// SHA-256 hash (the key carries 192 random bits, so a fast hash cannot be brute-forced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The key's id (used to revoke it and to store its settings).
    pub id: Uuid,
    /// The account whose memories the key reads and writes.
    pub account: String,
    /// The first characters of the secret (`aurra_1a2b3c4d`), to recognise it in listings.
    pub shown_prefix: String,
    /// A free label ("ci", "laptop", ...).
    pub label: String,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key was revoked; a revoked key no longer authenticates.
    pub revoked_at: Option<Timestamp>,
}

/// The prefix of the operator credential: the token of the admin API and of the dashboard's
/// admin view. Distinct from API keys, which it never works as.
pub const OPERATOR_TOKEN_PREFIX: &str = "aurra_operator_";

/// The store's one operator credential, as stored: the SHA-256 of its secret, never the
/// secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OperatorCredential {
    pub hash: [u8; 32],
    pub created_at: Timestamp,
}

/// Per-key settings (spec §8). Defaults are the hosted service's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Run Level 2 auto-supersession on every write unless the request says otherwise.
    pub auto_supersede_default: bool,
    /// Categories that never reach the classifier.
    pub excluded_categories: Vec<String>,
    /// Classifier confidence floor, within [`MIN_CONFIDENCE_FLOOR`], 1.0.
    pub min_confidence: f64,
    /// Model for supersession classification.
    pub classifier_model: String,
    /// Half-life of `freshness`, in days, within 1–3650.
    pub freshness_half_life_days: f64,
    /// Whether the key ever stored settings (`false`: these are the defaults).
    pub stored: bool,
}

/// The lowest `min_confidence` a key may set.
pub const MIN_CONFIDENCE_FLOOR: f64 = 0.85;
/// The range of `freshness_half_life_days`.
pub const HALF_LIFE_RANGE_DAYS: std::ops::RangeInclusive<f64> = 1.0..=3650.0;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_supersede_default: false,
            excluded_categories: vec!["health_medical".into(), "legal_status".into()],
            min_confidence: MIN_CONFIDENCE_FLOOR,
            classifier_model: "claude-haiku-4-5-20251001".into(),
            freshness_half_life_days: 30.0,
            stored: false,
        }
    }
}

/// A partial settings update: only `Some` fields change; a list replaces the whole list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettingsPatch {
    /// New `auto_supersede_default`.
    pub auto_supersede_default: Option<bool>,
    /// New `excluded_categories` (replaces the list).
    pub excluded_categories: Option<Vec<String>>,
    /// New `min_confidence`.
    pub min_confidence: Option<f64>,
    /// New `classifier_model`.
    pub classifier_model: Option<String>,
    /// New `freshness_half_life_days`.
    pub freshness_half_life_days: Option<f64>,
}

impl SettingsPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == SettingsPatch::default()
    }
}

/// An account's write usage in one period (a UTC calendar month).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Start of the period.
    pub period_start: Timestamp,
    /// Write requests counted in the period (one per `write`/`write_batch` call that
    /// committed, whatever it saved).
    pub writes_used: u64,
    /// When a write was first refused for quota in this period (the grace period's start).
    pub grace_started_at: Option<Timestamp>,
    /// Write requests per UTC day of the period: index 0 is its first day. Days after the
    /// last one with writes are left out. Stored after the record's original fields (files
    /// written before it read as no days).
    #[serde(skip)]
    pub writes_by_day: Vec<u64>,
}

impl Usage {
    /// Counts one write request at `now`, which must be in this usage's period.
    pub(crate) fn count(&mut self, now: Timestamp) {
        self.writes_used += 1;
        let day = day_of_period(self.period_start, now);
        if self.writes_by_day.len() <= day {
            self.writes_by_day.resize(day + 1, 0);
        }
        self.writes_by_day[day] += 1;
    }
}

/// The 0-based UTC day of the period starting at `period_start` that `now` falls in (0..31).
pub(crate) fn day_of_period(period_start: Timestamp, now: Timestamp) -> usize {
    const DAY: i64 = 86_400_000_000;
    let days = now.as_micros().saturating_sub(period_start.as_micros()) / DAY;
    days.clamp(0, 30) as usize
}

/// The usage of the period containing `now`: the stored one, or a fresh one if the stored
/// record belongs to another period.
pub(crate) fn current_usage(stored: Option<Usage>, now: Timestamp) -> Usage {
    let period_start = month_start(now);
    match stored {
        Some(usage) if usage.period_start == period_start => usage,
        _ => Usage {
            period_start,
            writes_used: 0,
            grace_started_at: None,
            writes_by_day: Vec::new(),
        },
    }
}

/// The first instant of the UTC calendar month containing `t`.
pub fn month_start(t: Timestamp) -> Timestamp {
    use chrono::{Datelike, TimeZone, Utc};
    let Some(dt) = t.to_datetime() else {
        return t;
    };
    Utc.with_ymd_and_hms(dt.year(), dt.month(), 1, 0, 0, 0)
        .single()
        .map_or(t, |m| Timestamp::from_micros(m.timestamp_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_start_is_the_first_microsecond_of_the_utc_month() {
        let t = Timestamp::parse("2026-11-29T13:45:00.123456+05:00").unwrap();
        assert_eq!(
            month_start(t),
            Timestamp::parse("2026-11-01T00:00:00Z").unwrap()
        );
        let first = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(month_start(first), first);
    }

    #[test]
    fn an_empty_patch_is_empty() {
        assert!(SettingsPatch::default().is_empty());
        let patch = SettingsPatch {
            min_confidence: Some(0.9),
            ..SettingsPatch::default()
        };
        assert!(!patch.is_empty());
    }
}

/// A dashboard sign-in, kept by the store (under the SHA-256 of its cookie value) so that
/// every server of a PostgreSQL store knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Whom it signs in.
    pub owner: SessionOwner,
    /// The token its forms carry (hex).
    pub csrf: String,
    /// When it started (the store's clock).
    pub created_at: Timestamp,
    /// When it ends unless it is ended first.
    pub expires_at: Timestamp,
}

/// Whom a session signs in: an account through one key (its id, never its secret), or the
/// operator as of the credential issued at an instant (a reset ends the session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionOwner {
    /// An account, through the key with this id.
    Key(Uuid),
    /// The operator, through the credential issued at this instant.
    Operator(Timestamp),
}
