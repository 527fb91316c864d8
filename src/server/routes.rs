//! Routing: method and path to handler, authentication first, one log line per request
//! (method, path, status, latency; never headers, bodies or keys).

use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::errors::ApiError;
use super::{AppState, Body, auth, handlers, response};
use crate::MemoryId;

/// The endpoints of spec §4, plus the unauthenticated health check.
enum Route {
    Health,
    OpenApi,
    WriteMemories,
    ListMemories,
    DeleteMemories,
    Query,
    Supersede(MemoryId),
    Timeline(MemoryId),
    Audit(MemoryId),
    GetSettings,
    PatchSettings,
    PlanStatus,
    AdminListAccounts,
    AdminCreateAccount,
    AdminAccount(String),
    AdminPatchAccount(String),
    AdminExport,
    AdminExportAccount(String),
    AdminListKeys,
    AdminCreateKey,
    AdminRevokeKey(uuid::Uuid),
}

impl Route {
    /// The `route` label of its metrics.
    fn name(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::OpenApi => "openapi",
            Route::WriteMemories => "write_memories",
            Route::ListMemories => "list_memories",
            Route::DeleteMemories => "delete_memories",
            Route::Query => "query",
            Route::Supersede(_) => "supersede",
            Route::Timeline(_) => "timeline",
            Route::Audit(_) => "audit",
            Route::GetSettings => "get_settings",
            Route::PatchSettings => "patch_settings",
            Route::PlanStatus => "plan_status",
            Route::AdminListAccounts => "admin_list_accounts",
            Route::AdminCreateAccount => "admin_create_account",
            Route::AdminAccount(_) => "admin_account",
            Route::AdminPatchAccount(_) => "admin_patch_account",
            Route::AdminExport => "admin_export",
            Route::AdminExportAccount(_) => "admin_export_account",
            Route::AdminListKeys => "admin_list_keys",
            Route::AdminCreateKey => "admin_create_key",
            Route::AdminRevokeKey(_) => "admin_revoke_key",
        }
    }

    /// Whether the endpoint takes the operator credential instead of an API key.
    fn is_admin(&self) -> bool {
        matches!(
            self,
            Route::AdminListAccounts
                | Route::AdminCreateAccount
                | Route::AdminAccount(_)
                | Route::AdminPatchAccount(_)
                | Route::AdminExport
                | Route::AdminExportAccount(_)
                | Route::AdminListKeys
                | Route::AdminCreateKey
                | Route::AdminRevokeKey(_)
        )
    }

    /// Whether the endpoint reads a request body.
    fn takes_body(&self) -> bool {
        matches!(
            self,
            Route::WriteMemories
                | Route::Query
                | Route::Supersede(_)
                | Route::PatchSettings
                | Route::AdminCreateAccount
                | Route::AdminPatchAccount(_)
                | Route::AdminCreateKey
        )
    }
}

/// Every route's name (for the OpenAPI document's test).
#[cfg(test)]
pub(crate) const ROUTE_NAMES: &[&str] = &[
    "health",
    "openapi",
    "write_memories",
    "list_memories",
    "delete_memories",
    "query",
    "supersede",
    "timeline",
    "audit",
    "get_settings",
    "patch_settings",
    "plan_status",
    "admin_list_accounts",
    "admin_create_account",
    "admin_account",
    "admin_patch_account",
    "admin_export",
    "admin_export_account",
    "admin_list_keys",
    "admin_create_key",
    "admin_revoke_key",
];

/// The name of the route `method` and `path` reach, if any.
#[cfg(test)]
pub(crate) fn route_name(method: &Method, path: &str) -> Option<&'static str> {
    route(method, path).ok().map(|r| r.name())
}

/// `GET /openapi.json`.
fn openapi() -> Response<Body> {
    super::json_response(StatusCode::OK, super::openapi::rendered().to_vec())
}

/// The `route` label of requests that name no endpoint (404, 405, a malformed id).
const UNMATCHED: &str = "unmatched";

fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let not_allowed = |allow: &'static str| ApiError {
        allow: Some(allow),
        ..ApiError::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let route = match segments.as_slice() {
        ["health"] => match *method {
            Method::GET => Route::Health,
            _ => return Err(not_allowed("GET")),
        },
        ["openapi.json"] => match *method {
            Method::GET => Route::OpenApi,
            _ => return Err(not_allowed("GET")),
        },
        ["agent", "memories"] => match *method {
            Method::POST => Route::WriteMemories,
            Method::GET => Route::ListMemories,
            Method::DELETE => Route::DeleteMemories,
            _ => return Err(not_allowed("GET, POST, DELETE")),
        },
        ["agent", "query"] => match *method {
            Method::POST => Route::Query,
            _ => return Err(not_allowed("POST")),
        },
        ["agent", "settings"] => match *method {
            Method::GET => Route::GetSettings,
            Method::PATCH => Route::PatchSettings,
            _ => return Err(not_allowed("GET, PATCH")),
        },
        ["plan", "status"] => match *method {
            Method::GET => Route::PlanStatus,
            _ => return Err(not_allowed("GET")),
        },
        [
            "memories",
            id,
            action @ ("supersede" | "timeline" | "audit"),
        ] => {
            let (expected, allow) = if *action == "supersede" {
                (Method::POST, "POST")
            } else {
                (Method::GET, "GET")
            };
            if *method != expected {
                return Err(not_allowed(allow));
            }
            let id = parse_path_id(id)?;
            match *action {
                "supersede" => Route::Supersede(id),
                "timeline" => Route::Timeline(id),
                _ => Route::Audit(id),
            }
        }
        ["admin", "accounts"] => match *method {
            Method::GET => Route::AdminListAccounts,
            Method::POST => Route::AdminCreateAccount,
            _ => return Err(not_allowed("GET, POST")),
        },
        ["admin", "accounts", id] if !id.is_empty() => match *method {
            Method::GET => Route::AdminAccount(path_text(id)),
            Method::PATCH => Route::AdminPatchAccount(path_text(id)),
            _ => return Err(not_allowed("GET, PATCH")),
        },
        ["admin", "accounts", id, "export"] if !id.is_empty() => match *method {
            Method::GET => Route::AdminExportAccount(path_text(id)),
            _ => return Err(not_allowed("GET")),
        },
        ["admin", "export"] => match *method {
            Method::GET => Route::AdminExport,
            _ => return Err(not_allowed("GET")),
        },
        ["admin", "keys"] => match *method {
            Method::GET => Route::AdminListKeys,
            Method::POST => Route::AdminCreateKey,
            _ => return Err(not_allowed("GET, POST")),
        },
        ["admin", "keys", id] => match *method {
            Method::DELETE => {
                let id = path_text(id)
                    .parse::<uuid::Uuid>()
                    .map_err(|_| ApiError::bad_path_uuid("key_id"))?;
                Route::AdminRevokeKey(id)
            }
            _ => return Err(not_allowed("DELETE")),
        },
        _ => return Err(ApiError::detail(StatusCode::NOT_FOUND, "Not Found")),
    };
    Ok(route)
}

/// A path segment, percent-decoded.
fn path_text(segment: &str) -> String {
    form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn parse_path_id(text: &str) -> Result<MemoryId, ApiError> {
    path_text(text)
        .parse::<uuid::Uuid>()
        .map(MemoryId::from_uuid)
        .map_err(|_| ApiError::bad_path_uuid("memory_id"))
}

/// Answers one request. Never fails: every error becomes its JSON response.
pub(crate) async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let mut name = UNMATCHED;
    let metrics = state.metrics.clone();
    let mut resp = match dispatch(state, &parts, &mut body, &mut name).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    if let Some(unread) = body {
        finish_unread(&parts.headers, unread, &mut resp).await;
    }
    if let Some(metrics) = metrics {
        metrics.observe_request(name, resp.status().as_u16(), started.elapsed());
    }
    tracing::debug!(
        method = %parts.method,
        path = %parts.uri.path(),
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

/// A request answered without reading its body (refused before the handler needed it, or an
/// endpoint that takes none) leaves the body's bytes on the connection, and hyper then
/// closes it after the response without saying so. A keep-alive client that reuses the
/// connection at that moment loses its next request ("connection closed without
/// response"). So a small body is read and discarded, keeping the connection usable; a large
/// one, or one the client waits to send (`Expect: 100-continue`), gets `Connection: close`,
/// which tells the client not to reuse the connection.
async fn finish_unread(headers: &hyper::HeaderMap, body: Incoming, resp: &mut Response<Body>) {
    use hyper::body::Body as _;
    if body.is_end_stream() {
        return;
    }
    let expects_continue = headers.contains_key(hyper::header::EXPECT);
    if expects_continue || !super::input::discard_small(body).await {
        resp.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
}

async fn dispatch(
    state: Arc<AppState>,
    parts: &hyper::http::request::Parts,
    body: &mut Option<Incoming>,
    name: &mut &'static str,
) -> Result<Response<Body>, ApiError> {
    // The dashboard's pages (`/`, `/ui/…`) have their own sessions and errors.
    if super::dashboard::is_dashboard(parts.uri.path()) {
        *name = "dashboard";
        let bytes = if parts.method == Method::POST {
            let max = super::dashboard::max_body();
            let timeout = state.config.body_read_timeout;
            let body = body.take().expect("the body is read once");
            super::input::read_body(&parts.headers, body, max, timeout).await?
        } else {
            bytes::Bytes::new()
        };
        return Ok(super::dashboard::handle(
            &state,
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            &bytes,
        )
        .await);
    }
    // Authentication comes before validation (as FastAPI's dependencies do), but a path
    // that names no endpoint is a 404 for everyone.
    let route = match route(&parts.method, parts.uri.path()) {
        Ok(route) => route,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            if parts.uri.path().starts_with("/admin/") {
                super::admin::authenticate_operator(&state, &parts.headers).await?;
            } else {
                auth::authenticate(&state, &parts.headers).await?;
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    *name = route.name();
    match route {
        Route::Health => return health(&state).await,
        Route::OpenApi => return Ok(openapi()),
        _ => {}
    }
    if route.is_admin() {
        super::admin::authenticate_operator(&state, &parts.headers).await?;
        let bytes = if route.takes_body() {
            let max = state.config.max_body_bytes;
            let timeout = state.config.body_read_timeout;
            let body = body.take().expect("the body is read once");
            super::input::read_body(&parts.headers, body, max, timeout).await?
        } else {
            bytes::Bytes::new()
        };
        return admin(&state, route, parts.uri.query(), &bytes).await;
    }
    let key = auth::authenticate(&state, &parts.headers).await?;
    if !matches!(route, Route::PlanStatus) {
        auth::check_not_blocked(&state, &key.account).await?;
    }
    let ctx = handlers::Ctx {
        state,
        key,
        query: parts.uri.query().map(str::to_owned),
    };
    let bytes = if route.takes_body() {
        let max = ctx.state.config.max_body_bytes;
        let timeout = ctx.state.config.body_read_timeout;
        let body = body.take().expect("the body is read once");
        super::input::read_body(&parts.headers, body, max, timeout).await?
    } else {
        bytes::Bytes::new()
    };
    routed(&ctx, route, &bytes).await
}

/// Answers an operator's request for an admin `route`.
async fn admin(
    state: &Arc<AppState>,
    route: Route,
    query: Option<&str>,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    use super::admin as a;
    match route {
        Route::AdminListAccounts => a::list_accounts(state).await,
        Route::AdminCreateAccount => a::create_account(state, bytes).await,
        Route::AdminAccount(id) => a::get_account(state, id).await,
        Route::AdminPatchAccount(id) => a::patch_account(state, id, bytes).await,
        Route::AdminExport => a::export(state, None, query).await,
        Route::AdminExportAccount(id) => a::export(state, Some(id), query).await,
        Route::AdminListKeys => a::list_keys(state, query).await,
        Route::AdminCreateKey => a::create_key(state, bytes).await,
        Route::AdminRevokeKey(id) => a::revoke_key(state, id).await,
        _ => Err(ApiError::detail(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// Answers an authenticated request for `route` with its body `bytes` (empty for routes
/// without one).
async fn routed(
    ctx: &handlers::Ctx,
    route: Route,
    bytes: &[u8],
) -> Result<Response<Body>, ApiError> {
    match route {
        Route::Health => health(&ctx.state).await,
        Route::OpenApi => Ok(openapi()),
        Route::WriteMemories => handlers::write_memories(ctx, bytes).await,
        Route::ListMemories => handlers::list_memories(ctx).await,
        Route::DeleteMemories => handlers::delete_memories(ctx).await,
        Route::Query => handlers::query(ctx, bytes).await,
        Route::Supersede(id) => handlers::supersede(ctx, id, bytes).await,
        Route::Timeline(id) => handlers::timeline(ctx, id).await,
        Route::Audit(id) => handlers::audit(ctx, id).await,
        Route::GetSettings => handlers::get_settings(ctx).await,
        Route::PatchSettings => handlers::patch_settings(ctx, bytes).await,
        Route::PlanStatus => handlers::plan_status(ctx).await,
        // Never reached with an API key: `dispatch` answers them with the operator's.
        _ => Err(ApiError::detail(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// One request answered in process, as `key` (already authenticated), exactly as the REST
/// endpoint answers it over HTTP: the same checks, handlers and errors (the MCP tools go
/// through here). `path` and `query` as in a URL; `body` as sent.
pub(crate) async fn call(
    state: Arc<AppState>,
    key: crate::ApiKey,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response<Body> {
    let answer = async {
        let route = route(method, path)?;
        if !matches!(route, Route::PlanStatus | Route::Health) {
            auth::check_not_blocked(&state, &key.account).await?;
        }
        if body.len() > state.config.max_body_bytes {
            return Err(super::input::too_large(state.config.max_body_bytes));
        }
        let ctx = handlers::Ctx {
            state,
            key,
            query: query.map(str::to_owned),
        };
        routed(&ctx, route, body).await
    };
    answer.await.unwrap_or_else(ApiError::into_response)
}

/// `{"status":"ok"}`, or `503` with the reason while a storage failure makes writes fail.
/// The store reopens its database by itself (at most once per recovery interval, which this
/// check also triggers), so `/health` turns 200 again when the disk has room. A recovery
/// attempt (a reopen and a probe commit) runs on the blocking pool, like writes.
async fn health(state: &AppState) -> Result<Response<Body>, ApiError> {
    let healthy = || response(StatusCode::OK, &serde_json::json!({ "status": "ok" }));
    if !state.store.is_degraded() {
        return Ok(healthy());
    }
    if let Err(degraded) = state.write(|store| Ok(store.health())).await? {
        tracing::warn!(reason = %degraded, "health: storage unavailable");
        return Ok(response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({
                "status": "unavailable",
                "detail": format!("Storage unavailable: {degraded}"),
            }),
        ));
    }
    Ok(healthy())
}
