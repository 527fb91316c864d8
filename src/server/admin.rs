//! The admin API: accounts and their API keys, managed while the server runs, with the
//! operator credential (`Authorization: Bearer aurra_operator_…`, issued on the first start
//! and stored only as a hash). An API key never reaches these endpoints, and the operator
//! credential never reaches the memory endpoints: each looks only in its own place.
//!
//! - `GET /admin/accounts`: every account with its usage and key counts.
//! - `POST /admin/accounts` `{"id": …}`: creates an account (`201`; `409` if it exists).
//! - `GET /admin/accounts/{account_id}`: one account, its usage and its keys.
//! - `GET /admin/keys` (`?account=` to narrow): keys, never secrets.
//! - `POST /admin/keys` `{"account": …, "label": …}`: issues a key (`201`); the secret is in
//!   this response only.
//! - `DELETE /admin/keys/{key_id}`: revokes a key (idempotent: the first revocation time
//!   stays); it stops authenticating at once, on every server of the database within the
//!   accounts poll.

use std::sync::Arc;

use hyper::{HeaderMap, Response, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::errors::ApiError;
use super::handlers::to_json;
use super::input::{Fields, Query, json_object};
use super::wire::ts;
use super::{AppState, Body, json_response};
use crate::account::{Account, ApiKey, current_usage};
use crate::error::Error;

/// An account as the admin API shows it.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AdminAccount {
    /// The account id (`company_id`).
    pub id: String,
    /// Its stable UUID (`org_id` of `/plan/status`).
    pub org_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// Write requests counted in the current period.
    pub writes_used: u64,
    /// Write requests per UTC day of the current period (index 0: its first day), up to
    /// the last day with writes.
    pub writes_by_day: Vec<u64>,
    /// The plan tier in force: the account's own, else the server's.
    pub plan_tier: String,
    /// The limit per period in force: the account's own, else the server's.
    pub writes_limit: u64,
    /// The account's own plan settings (`null`: the server's default).
    pub plan: AdminPlan,
    /// When the current period started (RFC 3339).
    pub period_start: String,
    /// Keys that authenticate.
    pub active_keys: usize,
    /// Keys revoked.
    pub revoked_keys: usize,
}

/// An account's own plan settings; `null` fields follow the server's defaults.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AdminPlan {
    pub plan_tier: Option<String>,
    pub writes_limit: Option<u64>,
}

/// `PATCH /admin/accounts/{id}`: a field left out is unchanged; `null` returns it to the
/// server's default.
#[derive(JsonSchema)]
#[allow(dead_code)] // the schema of the body; the handler reads it field by field
#[schemars(extend("anyOf" = [{"required": ["plan_tier"]}, {"required": ["writes_limit"]}]))]
pub(crate) struct PatchAccount {
    /// 1–64 characters, no control characters, or `null`.
    #[schemars(regex(pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,64}$"))]
    pub plan_tier: Option<String>,
    /// Writes per period (calendar month), or `null`.
    #[schemars(range(max = 9_223_372_036_854_775_807_u64))]
    pub writes_limit: Option<u64>,
}

/// One account with its keys.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AdminAccountDetail {
    #[serde(flatten)]
    pub account: AdminAccount,
    pub keys: Vec<AdminKey>,
}

/// A key as the admin API shows it: never its secret, which is not stored.
#[derive(Serialize, JsonSchema)]
pub(crate) struct AdminKey {
    pub id: String,
    pub account: String,
    /// The secret's first characters, to recognise it (`aurra_1a2b3c4d`).
    pub shown_prefix: String,
    pub label: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `null` while the key authenticates.
    pub revoked_at: Option<String>,
}

/// `POST /admin/keys`: the key and its secret, shown only in this response.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    pub key: AdminKey,
    /// The API key itself. Not stored (only its hash is): shown this once.
    pub secret: String,
}

/// `GET /admin/accounts`, `GET /admin/keys`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Listing<T> {
    pub items: Vec<T>,
}

/// `POST /admin/accounts`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(crate) struct CreateAccount {
    /// 1–128 letters, digits or `._:@-`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._:@-]{1,128}$"))]
    pub id: String,
}

/// `POST /admin/keys`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(crate) struct CreateKey {
    /// The account the key reads and writes (created if new).
    #[schemars(regex(pattern = r"^[A-Za-z0-9._:@-]{1,128}$"))]
    pub account: String,
    /// A free label.
    #[schemars(default)]
    pub label: Option<String>,
}

fn key_of(key: &ApiKey) -> AdminKey {
    AdminKey {
        id: key.id.to_string(),
        account: key.account.clone(),
        shown_prefix: key.shown_prefix.clone(),
        label: key.label.clone(),
        created_at: ts(key.created_at),
        revoked_at: key.revoked_at.map(ts),
    }
}

/// Refuses a request without the operator credential: `401` (`WWW-Authenticate`), whatever
/// else it carries (an API key included).
pub(crate) async fn authenticate_operator(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(secret) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::auth::bearer_token)
    else {
        return Err(ApiError::not_authenticated());
    };
    let secret = secret.to_owned();
    if state
        .read(move |store| store.authenticate_operator(&secret))
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::detail(
            StatusCode::UNAUTHORIZED,
            "Invalid operator credential",
        ))
    }
}

fn respond(status: StatusCode, body: &impl Serialize) -> Result<Response<Body>, ApiError> {
    Ok(json_response(status, to_json(body)?))
}

/// How many of `account`'s keys authenticate, and how many are revoked.
fn key_counts(keys: &[ApiKey], account: &str) -> (usize, usize) {
    keys.iter()
        .filter(|k| k.account == account)
        .fold((0, 0), |(active, revoked), k| match k.revoked_at {
            None => (active + 1, revoked),
            Some(_) => (active, revoked + 1),
        })
}

/// Every account's row (usage of the current period; keys counted).
fn rows(
    accounts: Vec<Account>,
    keys: &[ApiKey],
    usages: Vec<crate::Usage>,
    config: &super::Config,
) -> Vec<AdminAccount> {
    accounts
        .into_iter()
        .zip(usages)
        .map(|(account, usage)| {
            let (active, revoked) = key_counts(keys, &account.id);
            let plan = account.plan;
            AdminAccount {
                org_id: account.org_id.to_string(),
                created_at: ts(account.created_at),
                id: account.id,
                writes_used: usage.writes_used,
                writes_by_day: usage.writes_by_day,
                plan_tier: plan
                    .tier
                    .clone()
                    .unwrap_or_else(|| config.plan_tier.clone()),
                writes_limit: plan.writes_limit.unwrap_or(config.writes_limit),
                plan: AdminPlan {
                    plan_tier: plan.tier,
                    writes_limit: plan.writes_limit,
                },
                period_start: ts(usage.period_start),
                active_keys: active,
                revoked_keys: revoked,
            }
        })
        .collect()
}

/// The accounts (all, or the one named) with their usage in this period and every key.
async fn load(
    state: &Arc<AppState>,
    only: Option<String>,
) -> Result<(Vec<Account>, Vec<ApiKey>, Vec<crate::Usage>), ApiError> {
    state
        .read(move |store| {
            let accounts: Vec<Account> = match &only {
                Some(id) => store.account(id)?.into_iter().collect(),
                None => store.accounts()?,
            };
            let keys = store.api_keys()?;
            let usages = accounts
                .iter()
                .map(|a| store.usage(&a.id))
                .collect::<crate::Result<Vec<_>>>()?;
            Ok((accounts, keys, usages))
        })
        .await
}

/// Every account's row and every key, for this API and the dashboard's admin view.
pub(crate) async fn accounts_and_keys(
    state: &Arc<AppState>,
) -> Result<(Vec<AdminAccount>, Vec<ApiKey>), ApiError> {
    let (accounts, keys, usages) = load(state, None).await?;
    Ok((rows(accounts, &keys, usages, &state.config), keys))
}

pub(crate) async fn list_accounts(state: &Arc<AppState>) -> Result<Response<Body>, ApiError> {
    let (items, _) = accounts_and_keys(state).await?;
    respond(StatusCode::OK, &Listing { items })
}

pub(crate) async fn get_account(
    state: &Arc<AppState>,
    id: String,
) -> Result<Response<Body>, ApiError> {
    let (accounts, keys, usages) = load(state, Some(id)).await?;
    let Some(account) = rows(accounts, &keys, usages, &state.config).pop() else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Account not found"));
    };
    let keys = keys
        .iter()
        .filter(|k| k.account == account.id)
        .map(key_of)
        .collect();
    respond(StatusCode::OK, &AdminAccountDetail { account, keys })
}

pub(crate) async fn patch_account(
    state: &Arc<AppState>,
    id: String,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    let map: Map<String, Value> = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let tier = f.str("plan_tier");
    let limit = f.int("writes_limit");
    f.finish()?;
    if !map.contains_key("plan_tier") && !map.contains_key("writes_limit") {
        return Err(ApiError::bad_request(
            "no plan fields provided (plan_tier, writes_limit)",
        ));
    }
    // `Fields::int` reads an integer past i64 as i64::MAX; a limit must be stored exactly.
    let too_large = map
        .get("writes_limit")
        .is_some_and(|v| v.as_i64().is_none() && v.is_u64());
    let limit = match limit.map(u64::try_from) {
        Some(Err(_)) => return Err(ApiError::bad_request("writes_limit must not be negative")),
        _ if too_large => {
            return Err(ApiError::bad_request(format!(
                "writes_limit must be at most {}",
                i64::MAX
            )));
        }
        Some(Ok(n)) => Some(n),
        None => None,
    };
    let (set_tier, set_limit) = (
        map.contains_key("plan_tier"),
        map.contains_key("writes_limit"),
    );
    let updated = state
        .write(move |store| {
            let Some(account) = store.account(&id)? else {
                return Ok(None);
            };
            let mut plan = account.plan;
            if set_tier {
                plan.tier = tier;
            }
            if set_limit {
                plan.writes_limit = limit;
            }
            store.set_account_plan(&id, plan)
        })
        .await?;
    let Some(account) = updated else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Account not found"));
    };
    tracing::info!(account = %account.id, "admin: plan changed");
    get_account(state, account.id).await
}

pub(crate) async fn create_account(
    state: &Arc<AppState>,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    let map: Map<String, Value> = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let id = f.required_str("id");
    f.finish()?;
    let id = id.unwrap_or_default();
    // An existing account is `409` here (the memory endpoints answer the store's `Conflict`
    // as `400`).
    let created = state
        .write(move |store| match store.create_account(&id) {
            Ok(account) => Ok(Ok(account)),
            Err(Error::Conflict(msg)) => Ok(Err(msg)),
            Err(e) => Err(e),
        })
        .await?;
    let account = created.map_err(|msg| ApiError::detail(StatusCode::CONFLICT, msg))?;
    let usage = current_usage(None, account.created_at);
    let row = rows(vec![account], &[], vec![usage], &state.config)
        .pop()
        .expect("one account, one row");
    respond(StatusCode::CREATED, &row)
}

pub(crate) async fn list_keys(
    state: &Arc<AppState>,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let params = Query::parse(query);
    let account = params.str("account");
    params.finish()?;
    let keys = state.read(|store| store.api_keys()).await?;
    let items = keys
        .iter()
        .filter(|k| account.as_deref().is_none_or(|a| k.account == a))
        .map(key_of)
        .collect();
    respond(StatusCode::OK, &Listing { items })
}

pub(crate) async fn create_key(
    state: &Arc<AppState>,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    let map: Map<String, Value> = json_object(bytes)?;
    let mut f = Fields::body(&map);
    let account = f.required_str("account");
    let label = f.str("label");
    f.finish()?;
    let (account, label) = (account.unwrap_or_default(), label.unwrap_or_default());
    let (key, secret) = state
        .write(move |store| store.create_api_key(&account, &label))
        .await?;
    tracing::info!(key = %key.id, account = %key.account, "admin: key issued");
    respond(
        StatusCode::CREATED,
        &CreatedKey {
            key: key_of(&key),
            secret,
        },
    )
}

pub(crate) async fn revoke_key(
    state: &Arc<AppState>,
    id: Uuid,
) -> Result<Response<Body>, ApiError> {
    let Some(key) = revoke(state, id).await? else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "API key not found"));
    };
    tracing::info!(key = %key.id, account = %key.account, "admin: key revoked");
    respond(StatusCode::OK, &key_of(&key))
}

/// Revokes the key `id` (`None`: no key has it), for this API and the dashboard.
pub(crate) async fn revoke(state: &Arc<AppState>, id: Uuid) -> Result<Option<ApiKey>, ApiError> {
    state
        .write(move |store| {
            if !store.api_keys()?.iter().any(|k| k.id == id) {
                return Ok(None);
            }
            store.revoke_api_key(id).map(Some)
        })
        .await
}

/// Bytes of JSON Lines gathered before a chunk goes to the client.
const EXPORT_CHUNK: usize = 64 * 1024;

/// `GET /admin/export` (the whole store) and `GET /admin/accounts/{id}/export` (one account):
/// the export (`aurra export`) streamed as
/// JSON Lines while the server serves (one named tenant with `?tenant=`; `aurra export
/// --default-tenant` for the default one alone). Each account is read in one snapshot. A failure
/// mid-stream ends the connection before the `end` record, so a client can tell a cut export
/// from a whole one.
pub(crate) async fn export(
    state: &Arc<AppState>,
    account: Option<String>,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let params = Query::parse(query);
    let tenant = account
        .as_ref()
        .and_then(|_| params.str("tenant"))
        .map(Some);
    params.finish()?;
    // The admin API names accounts as it creates them (a library store's other account ids
    // are in the whole store's export).
    if let Some(id) = &account {
        crate::store::validate_account_id(id).map_err(ApiError::from)?;
    }
    if let Some(Some(t)) = &tenant {
        crate::store::validate_tenant(Some(t)).map_err(ApiError::from)?;
    }
    let scope = crate::ExportScope { account, tenant };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    let store = state.store.clone();
    tracing::info!(account = ?scope.account, "admin: export started");
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(EXPORT_CHUNK + 4096);
        let gone = || Error::InvalidArgument("the client closed the export".into());
        let result = store.export(&scope, &mut |record| {
            serde_json::to_writer(&mut chunk, &record)
                .map_err(|e| Error::InvalidArgument(format!("serialising the export: {e}")))?;
            chunk.push(b'\n');
            if chunk.len() >= EXPORT_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(EXPORT_CHUNK + 4096));
                tx.blocking_send(Ok(full.into())).map_err(|_| gone())?;
            }
            Ok(())
        });
        let last = match result {
            Ok(totals) => {
                tracing::info!(memories = totals.memories, "admin: export finished");
                Ok(chunk.into())
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin: export failed");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        let _ = tx.blocking_send(last);
    });
    use http_body_util::BodyExt;
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/jsonl"),
    );
    Ok(resp)
}

/// A body whose chunks come from a channel; an `Err` chunk fails the body.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(hyper::body::Frame::data)))
    }
}
