//! Who is calling: bearer-key authentication, per-key request rate limiting, and the plan
//! gate (grace period and blocked accounts, spec §2.6–2.7).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use hyper::HeaderMap;
use uuid::Uuid;

use super::AppState;
use super::errors::ApiError;
use crate::{ApiKey, Timestamp, Usage};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Per-key token buckets: `n` requests per minute, refilled continuously.
pub(crate) struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
}

impl RateLimiter {
    pub fn new(per_minute: NonZeroU32) -> Self {
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the key is over its rate.
    fn check(&self, key: Uuid) -> Result<(), u64> {
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The caller's key, from `Authorization: Bearer <key>`.
pub(crate) async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<ApiKey, ApiError> {
    let Some(value) = headers.get(hyper::header::AUTHORIZATION) else {
        return Err(ApiError::not_authenticated());
    };
    let Some(secret) = value.to_str().ok().and_then(bearer_token) else {
        return Err(ApiError::not_authenticated());
    };
    let key = match state.caches.key(&state.store, secret) {
        Ok(key) => key,
        Err(miss) => {
            let secret = secret.to_owned();
            let key = state
                .read(move |store| store.authenticate(&secret))
                .await?
                .ok_or_else(|| {
                    ApiError::detail(hyper::StatusCode::UNAUTHORIZED, "Invalid API key")
                })?;
            state.caches.fill_key(miss, &key);
            key
        }
    };
    if let Some(limiter) = &state.limiter
        && let Err(wait) = limiter.check(key.id)
    {
        return Err(ApiError::too_many_requests(
            "Rate limit exceeded; retry after the time in Retry-After",
            wait,
        ));
    }
    Ok(key)
}

/// The token of a `Bearer` authorization value (scheme case-insensitive).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Where an account stands against its quota.
pub(crate) struct PlanState {
    pub usage: Usage,
    /// The account's plan tier and limit (its own, else the server's).
    pub tier: String,
    pub writes_limit: u64,
    /// The account's `org_id` (nil when the account has no record yet).
    pub org_id: uuid::Uuid,
    pub in_grace_period: bool,
    pub blocked: bool,
    /// Seconds until the next period starts (the `Retry-After` of quota refusals).
    pub secs_to_next_period: u64,
}

pub(crate) async fn plan_state(
    state: &Arc<AppState>,
    account: &str,
) -> Result<PlanState, ApiError> {
    let owned = account.to_owned();
    let (usage, account, now) = state
        .read(move |store| {
            Ok((
                store.usage(&owned)?,
                store.account(&owned)?,
                store.clock_now(),
            ))
        })
        .await?;
    Ok(evaluate(state, usage, account, now))
}

fn evaluate(
    state: &AppState,
    usage: Usage,
    account: Option<crate::Account>,
    now: Timestamp,
) -> PlanState {
    let config = &state.config;
    let plan = account.as_ref().map(|a| a.plan.clone()).unwrap_or_default();
    let writes_limit = plan.writes_limit.unwrap_or(config.writes_limit);
    let tier = plan.tier.unwrap_or_else(|| config.plan_tier.clone());
    let over = usage.writes_used >= writes_limit;
    let in_grace_period = config.enforce_quota && (over || usage.grace_started_at.is_some());
    let blocked = config.enforce_quota
        && usage.grace_started_at.is_some_and(|start| {
            now.as_micros()
                >= start
                    .as_micros()
                    .saturating_add(i64::from(config.grace_days) * MICROS_PER_DAY)
        });
    let next = next_period(usage.period_start);
    let secs_to_next_period =
        (next.as_micros().saturating_sub(now.as_micros()).max(0) / 1_000_000) as u64;
    PlanState {
        usage,
        tier,
        writes_limit,
        org_id: account.map(|a| a.org_id).unwrap_or_default(),
        in_grace_period,
        blocked,
        secs_to_next_period,
    }
}

fn next_period(start: Timestamp) -> Timestamp {
    // A period is a calendar month; 32 days after its first instant is inside the next one.
    crate::month_start(start.saturating_add_micros(32 * MICROS_PER_DAY))
}

/// Refuses every request except plan status once the account is blocked.
pub(crate) async fn check_not_blocked(
    state: &Arc<AppState>,
    account: &str,
) -> Result<(), ApiError> {
    if !state.config.enforce_quota {
        return Ok(());
    }
    let plan = plan_state(state, account).await?;
    if plan.blocked {
        return Err(ApiError::too_many_requests(
            "Account blocked: plan quota exceeded",
            plan.secs_to_next_period,
        ));
    }
    Ok(())
}

/// Refuses a write when the quota is spent, starting the grace period.
pub(crate) async fn check_write_quota(
    state: &Arc<AppState>,
    account: &str,
) -> Result<(), ApiError> {
    if !state.config.enforce_quota {
        return Ok(());
    }
    let plan = plan_state(state, account).await?;
    if plan.usage.writes_used < plan.writes_limit && !plan.in_grace_period {
        return Ok(());
    }
    if plan.usage.grace_started_at.is_none() {
        let owned = account.to_owned();
        state
            .write(move |store| store.start_grace_period(&owned))
            .await?;
    }
    Err(ApiError::too_many_requests(
        format!(
            "Write quota exhausted: {} of {} writes used this period",
            plan.usage.writes_used, plan.writes_limit
        ),
        plan.secs_to_next_period,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(bearer_token("Bearer aurra_x"), Some("aurra_x"));
        assert_eq!(bearer_token("bearer  aurra_x "), Some("aurra_x"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("aurra_x"), None);
    }

    #[test]
    fn the_next_period_starts_on_the_first_of_the_next_month() {
        let start = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(
            next_period(start),
            Timestamp::parse("2026-02-01T00:00:00Z").unwrap()
        );
        let dec = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(
            next_period(dec),
            Timestamp::parse("2027-01-01T00:00:00Z").unwrap()
        );
    }
}
