//! The dashboard: server-rendered pages at `/` (assets embedded, nothing fetched from
//! elsewhere), signed in with an API key (the account view) or the operator credential (the
//! admin view).
//!
//! Sessions: a random 256-bit id in a cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`,
//! `Secure` behind TLS), kept by this process (SHA-256 of the id → who and a CSRF token),
//! expiring 12 hours after sign-in; a revoked key or a reset operator credential ends its
//! sessions at their next request. Every state-changing request carries the session's CSRF
//! token and must not come from another site (`Sec-Fetch-Site`, `Origin`). No key is ever
//! put in a URL, a page or a log: the sign-in form posts it once, and the session keeps the
//! key's id, not its secret.
//!
//! Pages are rendered with `maud`, which escapes every interpolated value: a memory whose
//! text is markup renders as text.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{HeaderMap, Method, Response, StatusCode};
use maud::{DOCTYPE, Markup, html};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::errors::ApiError;
use super::{AppState, Body};
use crate::{ListQuery, Memory};

/// The cookie holding the session id.
const COOKIE: &str = "aurra_session";
/// How long a session lasts after sign-in.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Memories per page of the list.
const PAGE: usize = 50;
/// The largest form the dashboard reads.
const MAX_FORM_BYTES: usize = 16 * 1024;

const STYLE: &str = include_str!("app.css");

/// The stylesheet's address, versioned by a hash of its text: the browser may keep it for a
/// year, and a binary with another stylesheet names another address.
const STYLE_HREF: &str = style_href();

/// `/ui/app.css?v=` and the 64-bit FNV-1a hash of [`STYLE`] in 16 hex digits.
const fn style_href() -> &'static str {
    const PREFIX: &[u8] = b"/ui/app.css?v=";
    const LEN: usize = PREFIX.len() + 16;
    const BYTES: [u8; LEN] = {
        let text = STYLE.as_bytes();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < text.len() {
            hash ^= text[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        let mut out = [0u8; LEN];
        let mut j = 0;
        while j < PREFIX.len() {
            out[j] = PREFIX[j];
            j += 1;
        }
        let mut k = 0;
        while k < 16 {
            let nibble = ((hash >> (60 - 4 * k)) & 0xf) as u8;
            out[PREFIX.len() + k] = if nibble < 10 {
                b'0' + nibble
            } else {
                b'a' + nibble - 10
            };
            k += 1;
        }
        out
    };
    match std::str::from_utf8(&BYTES) {
        Ok(href) => href,
        Err(_) => panic!("the stylesheet's address is ASCII"),
    }
}

/// Who a session belongs to.
#[derive(Clone, Debug, PartialEq)]
enum Who {
    /// An account, through the key it signed in with (its record, never its secret;
    /// refreshed from the store on every request).
    Account(crate::ApiKey),
    /// The operator, as of the credential issued at this instant (a reset ends the session).
    Operator { issued_at: crate::Timestamp },
}

/// A signed-in request's session: who, and the token its forms must carry.
#[derive(Clone, Debug)]
struct Session {
    who: Who,
    csrf: String,
}

/// Starts a session for `who` in the store (so that every server of a shared store knows
/// it): its cookie value (the id, of which the store keeps only the SHA-256).
async fn start_session(state: &Arc<AppState>, who: &Who) -> Result<String, ApiError> {
    let id = random_hex().map_err(ApiError::from)?;
    let csrf = random_hex().map_err(ApiError::from)?;
    let owner = match who {
        Who::Account(key) => crate::SessionOwner::Key(key.id),
        Who::Operator { issued_at } => crate::SessionOwner::Operator(*issued_at),
    };
    let hashed = hash(&id);
    state
        .write(move |store| store.start_session(hashed, owner, csrf, SESSION_TTL))
        .await?;
    Ok(id)
}

async fn end_session(state: &Arc<AppState>, id: &str) -> Result<(), ApiError> {
    let hashed = hash(id);
    state.write(move |store| store.end_session(&hashed)).await
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn random_hex() -> crate::Result<String> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| crate::Error::Io(std::io::Error::from(e)))?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal, compared without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `method path` is the dashboard's.
pub(crate) fn is_dashboard(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/")
}

/// Answers a dashboard request. `body` is the form (already read, at most
/// [`MAX_FORM_BYTES`]) for POSTs.
pub(crate) async fn handle(
    state: &Arc<AppState>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    match route(state, method, path, query, headers, body).await {
        Ok(resp) => resp,
        Err(e) => {
            let message = match e.status {
                StatusCode::SERVICE_UNAVAILABLE => "The store is unavailable; try again.",
                StatusCode::FORBIDDEN => {
                    "Refused: this form was not sent from this dashboard's own pages."
                }
                _ => "Something went wrong.",
            };
            page(
                e.status,
                "Error",
                None,
                html! { p role="alert" { (message) } },
                headers,
            )
        }
    }
}

/// The largest body a dashboard request may send.
pub(crate) fn max_body() -> usize {
    MAX_FORM_BYTES
}

async fn route(
    state: &Arc<AppState>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    if method == Method::POST {
        check_origin(headers)?;
    }
    let session = current(state, headers).await?;
    match (method, path) {
        (&Method::GET, "/ui/app.css") => Ok(asset(STYLE, "text/css; charset=utf-8")),
        (&Method::GET, "/") => match &session {
            None => Ok(sign_in_page(StatusCode::OK, None, headers)),
            Some(s) => match &s.who {
                Who::Account(key) => memories_page(state, s, &key.account, query, headers).await,
                Who::Operator { .. } => admin_page(state, s, headers).await,
            },
        },
        (&Method::GET, p) if p.starts_with("/ui/memories/") => match &session {
            Some(
                s @ Session {
                    who: Who::Account(key),
                    ..
                },
            ) => {
                let id = p.trim_start_matches("/ui/memories/");
                memory_page(state, s, &key.account, id, headers).await
            }
            _ => Ok(redirect("/", None)),
        },
        (&Method::GET, "/ui/ask") => match &session {
            Some(
                s @ Session {
                    who: Who::Account(key),
                    ..
                },
            ) => ask_page(state, s, key, query, headers).await,
            _ => Ok(redirect("/", None)),
        },
        (&Method::POST, p) if p.starts_with("/ui/memories/") && p.ends_with("/supersede") => {
            match &session {
                Some(
                    s @ Session {
                        who: Who::Account(key),
                        ..
                    },
                ) => {
                    let id = p
                        .trim_start_matches("/ui/memories/")
                        .trim_end_matches("/supersede");
                    supersede(state, s, key, id, headers, body).await
                }
                _ => Ok(redirect("/", None)),
            }
        }
        (&Method::POST, p) if p.starts_with("/ui/admin/keys") => match &session {
            Some(
                s @ Session {
                    who: Who::Operator { .. },
                    ..
                },
            ) => admin_keys(state, s, p, headers, body).await,
            _ => Ok(redirect("/", None)),
        },
        (&Method::GET, "/ui/settings") => match &session {
            Some(
                s @ Session {
                    who: Who::Account(key),
                    ..
                },
            ) => settings_page(state, s, key, StatusCode::OK, None, headers).await,
            _ => Ok(redirect("/", None)),
        },
        (&Method::POST, "/ui/settings") => match &session {
            Some(
                s @ Session {
                    who: Who::Account(key),
                    ..
                },
            ) => update_settings(state, s, key, headers, body).await,
            _ => Ok(redirect("/", None)),
        },
        (&Method::POST, "/ui/sign-in") => sign_in(state, headers, body).await,
        (&Method::POST, "/ui/sign-out") => {
            let Some(s) = &session else {
                return Ok(redirect("/", None));
            };
            check_form(headers, body, Some(s))?;
            if let Some(id) = cookie(headers) {
                end_session(state, &id).await?;
            }
            Ok(redirect("/", Some(clear_cookie(headers))))
        }
        (_, "/" | "/ui/app.css" | "/ui/sign-in" | "/ui/sign-out") => Ok(page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed",
            None,
            html! { p { "This page does not take that method." } },
            headers,
        )),
        _ => Ok(page(
            StatusCode::NOT_FOUND,
            "Not found",
            session.as_ref(),
            html! { p { "No such page." } },
            headers,
        )),
    }
}

/// The request's session, if its cookie names a live one whose credential still works.
async fn current(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(id) = cookie(headers) else {
        return Ok(None);
    };
    let hashed = hash(&id);
    // The session and its credential as it stands now: the key's current record if it is
    // still live, the operator's if the credential was not reset since.
    let found = state
        .read(move |store| {
            let Some(record) = store.session(&hashed)? else {
                return Ok(None);
            };
            let who = match record.owner {
                crate::SessionOwner::Key(id) => store
                    .api_keys()?
                    .into_iter()
                    .find(|k| k.id == id && k.revoked_at.is_none())
                    .map(Who::Account),
                crate::SessionOwner::Operator(issued_at) => (store.operator_issued_at()?
                    == Some(issued_at))
                .then_some(Who::Operator { issued_at }),
            };
            Ok(Some((who, record.csrf)))
        })
        .await?;
    match found {
        None => Ok(None),
        Some((None, _)) => {
            // Its credential was revoked or reset: the session ends with it.
            end_session(state, &id).await?;
            Ok(None)
        }
        Some((Some(who), csrf)) => Ok(Some(Session { who, csrf })),
    }
}

/// The session id from the `Cookie` header.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the request came over TLS (to a proxy in front of this server).
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(id: &str, headers: &HeaderMap) -> String {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    )
}

fn clear_cookie(headers: &HeaderMap) -> String {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// Refuses a state-changing request from another site, and (with a session) one without
/// the session's CSRF token: `403`, nothing done.
fn check_form(
    headers: &HeaderMap,
    body: &[u8],
    session: Option<&Session>,
) -> Result<HashMap<String, String>, ApiError> {
    check_origin(headers)?;
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if let Some(session) = session {
        let sent = form.get("csrf").map(String::as_str).unwrap_or("");
        if !same(sent, &session.csrf) {
            return Err(cross_site());
        }
    }
    Ok(form)
}

fn cross_site() -> ApiError {
    ApiError::detail(StatusCode::FORBIDDEN, "Cross-site request refused")
}

/// Refuses a request another site's page sent: the browser says so in `Sec-Fetch-Site`, or
/// its `Origin` is not this server. Checked on every POST before anything else, signed in or
/// not (a cross-site POST carries no session cookie, `SameSite=Strict`).
fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let forbidden = cross_site;
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(forbidden());
    }
    if let Some(origin) = headers.get(hyper::header::ORIGIN) {
        let host = headers
            .get(hyper::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if host.is_empty() || bare != host {
            return Err(forbidden());
        }
    }
    Ok(())
}

async fn sign_in(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let form = check_form(headers, body, None)?;
    let secret = form
        .get("key")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    if secret.is_empty() {
        return Ok(sign_in_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter an API key or the operator credential."),
            headers,
        ));
    }
    let who = state
        .read(move |store| {
            if secret.starts_with(crate::OPERATOR_TOKEN_PREFIX) {
                if store.authenticate_operator(&secret)? {
                    return Ok(store
                        .operator_issued_at()?
                        .map(|issued_at| Who::Operator { issued_at }));
                }
                return Ok(None);
            }
            Ok(store.authenticate(&secret)?.map(Who::Account))
        })
        .await?;
    let Some(who) = who else {
        // The key is never echoed, in the page or a log.
        return Ok(sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("That key is not valid."),
            headers,
        ));
    };
    let id = start_session(state, &who).await?;
    Ok(redirect("/", Some(set_cookie(&id, headers))))
}

async fn memories_page(
    state: &Arc<AppState>,
    session: &Session,
    account: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let params: HashMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let text = |name: &str| {
        params
            .get(name)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && !t.contains('\0'))
    };
    let tenant = text("tenant");
    let (valid_text, believed_text) = (text("valid_at"), text("believed_at"));
    let before = text("before").map(|t| t.parse::<crate::ListCursor>());
    let (valid_at, believed_at, before) = match (
        instant(valid_text.as_deref()),
        instant(believed_text.as_deref()),
        before.transpose(),
    ) {
        (Ok(v), Ok(b), Ok(c)) => (v, b, c),
        (v, b, _) => {
            let why = if v.is_err() || b.is_err() {
                "A time is a date and time in UTC, such as 2026-03-27T14:30:00."
            } else {
                "This page link is not one the dashboard made; start from the newest memories."
            };
            let body = html! {
                (travel_form(tenant.as_deref(), valid_text.as_deref(), believed_text.as_deref()))
                p role="alert" class="error" { (why) }
            };
            return Ok(page(
                StatusCode::BAD_REQUEST,
                &format!("Memories of {account}"),
                Some(session),
                body,
                headers,
            ));
        }
    };
    // Travelling in transaction time shows the superseded facts of that state too, as such.
    let mode = crate::ReadMode::from_params(valid_at, believed_at, believed_at.is_some());
    let heading = match (valid_at, believed_at) {
        (None, None) => "What is true now".to_owned(),
        (Some(v), None) => format!("What was true at {}", super::wire::ts(v)),
        (None, Some(b)) => format!("What we believed at {}", super::wire::ts(b)),
        (Some(v), Some(b)) => format!(
            "What we believed at {} was true at {}",
            super::wire::ts(b),
            super::wire::ts(v)
        ),
    };
    let (owned_account, owned_tenant) = (account.to_owned(), tenant.clone());
    let listed = state
        .read(move |store| {
            let mut list = ListQuery::new().limit(PAGE).mode(mode);
            list.before = before;
            if let Some(t) = owned_tenant {
                list = list.tenant(t);
            }
            store.list(&owned_account, &list)
        })
        .await?;
    // The same view one page on: every parameter kept, the cursor replaced.
    let link = |cursor: Option<crate::ListCursor>| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("tenant", &tenant),
            ("valid_at", &valid_text),
            ("believed_at", &believed_text),
        ] {
            if let Some(value) = value {
                url.append_pair(name, value);
            }
        }
        if let Some(cursor) = cursor {
            url.append_pair("before", &cursor.to_string());
        }
        format!("/?{}", url.finish())
    };
    let body = html! {
        (travel_form(tenant.as_deref(), valid_text.as_deref(), believed_text.as_deref()))
        h2 { (heading) }
        @if listed.memories.is_empty() {
            p { "No memories here." }
        } @else {
            (memory_table(&listed.memories))
        }
        @if before.is_some() || listed.next.is_some() {
            nav class="pages" aria-label="pages" {
                @if before.is_some() { a href=(link(None)) { "Newest" } }
                @if let Some(next) = listed.next { a href=(link(Some(next))) rel="next" { "Older" } }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        &format!("Memories of {account}"),
        Some(session),
        body,
        headers,
    ))
}

/// A time from the travel form: `None` when blank.
fn instant(text: Option<&str>) -> crate::Result<Option<crate::Timestamp>> {
    let Some(text) = text else { return Ok(None) };
    crate::Timestamp::parse(&with_seconds(text)).map(Some)
}

/// A form's time: a `datetime-local` value without seconds (`2026-03-27T14:30`) gets them,
/// anything else is left as it is.
fn with_seconds(text: &str) -> String {
    if text.len() == 16 && text.as_bytes().get(10) == Some(&b'T') {
        format!("{text}:00")
    } else {
        text.to_owned()
    }
}

/// The tenant and the time-travel control: valid time ("what was true at"), transaction
/// time ("what did we believe at"), or both.
fn travel_form(tenant: Option<&str>, valid: Option<&str>, believed: Option<&str>) -> Markup {
    html! {
        form method="get" action="/" class="bar" {
            label for="tenant" { "Tenant" }
            input id="tenant" name="tenant" type="text" value=(tenant.unwrap_or(""))
                placeholder="(default tenant)";
            label for="valid_at" { "True at (UTC)" }
            input id="valid_at" name="valid_at" type="datetime-local" step="any" value=(valid.unwrap_or(""));
            label for="believed_at" { "Believed at (UTC)" }
            input id="believed_at" name="believed_at" type="datetime-local" step="any" value=(believed.unwrap_or(""));
            button type="submit" { "Show" }
        }
    }
}

/// A table's header row.
fn head(columns: &[&str]) -> Markup {
    html! { tr { @for c in columns { th scope="col" { (c) } } } }
}

fn memory_table(memories: &[Memory]) -> Markup {
    html! {
        table {
            thead { (head(&["Memory", "Source", "Topic", "Importance", "Valid", "Flags"])) }
            tbody {
                @for m in memories {
                    tr {
                        td class="text" { a href={ "/ui/memories/" (m.id) } { (m.decision) } }
                        td { (m.source) }
                        td { (m.topic) }
                        td { (m.importance_score) }
                        td {
                            (super::wire::ts(m.valid_from))
                            @if let Some(to) = m.valid_to { " – " (super::wire::ts(to)) }
                        }
                        td {
                            @if m.superseded_by.is_some() { span class="flag" { "superseded" } }
                            @if m.valid_to.is_some() { span class="flag" { "ended" } }
                        }
                    }
                }
            }
        }
    }
}

/// A memory's page: its fields and provenance, its supersession chain drawn on both time
/// axes, and its audit log. Another account's id, like an unknown one, shows nothing of it.
async fn memory_page(
    state: &Arc<AppState>,
    session: &Session,
    account: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let not_found = |session: &Session| {
        page(
            StatusCode::NOT_FOUND,
            "No such memory",
            Some(session),
            html! { p { "This account has no memory with that id." } },
            headers,
        )
    };
    let Ok(id) = id.parse::<Uuid>().map(crate::MemoryId::from_uuid) else {
        return Ok(not_found(session));
    };
    let owned = account.to_owned();
    let found = state
        .read(move |store| {
            let (memory, events) = match store.audit(&owned, id) {
                Ok(found) => found,
                Err(crate::Error::NotFound(_) | crate::Error::Forbidden(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            let timeline = store.timeline(&owned, id)?;
            Ok(Some((memory, events, timeline)))
        })
        .await?;
    let Some((memory, events, timeline)) = found else {
        return Ok(not_found(session));
    };
    let ts = super::wire::ts;
    let body = html! {
        p { a href="/" { "← All memories" } }
        section aria-labelledby="fact" {
            h2 id="fact" { "The fact" }
            p class="text fact" { (memory.decision) }
            dl {
                dt { "Tenant" } dd { (memory.tenant.as_deref().unwrap_or("(default)")) }
                dt { "Source" } dd { (memory.source) }
                dt { "Topic" } dd { (memory.topic) }
                dt { "Importance" } dd { (memory.importance_score) }
                dt { "Valid" } dd {
                    (ts(memory.valid_from)) " – "
                    @match memory.valid_to { Some(t) => (ts(t)), None => "(still)" }
                }
                dt { "Believed" } dd {
                    (ts(memory.transaction_time_start)) " – "
                    @match memory.transaction_time_end { Some(t) => (ts(t)), None => "(still)" }
                }
                @if let Some(next) = memory.superseded_by {
                    dt { "Superseded by" } dd { a href={ "/ui/memories/" (next) } { (next) } }
                }
                dt { "Id" } dd { code { (memory.id) } }
            }
            @if memory.superseded_by.is_none() && memory.valid_to.is_none() {
                form method="post" action={ "/ui/memories/" (memory.id) "/supersede" } class="bar" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="superseded_by" { "Superseded by (memory id)" }
                    input id="superseded_by" name="superseded_by" type="text";
                    label for="valid_to" { "True until (UTC)" }
                    input id="valid_to" name="valid_to" type="datetime-local" step="1";
                    button type="submit" { "Supersede or expire" }
                }
            }
        }
        section aria-labelledby="provenance" {
            h2 id="provenance" { "Provenance" }
            dl {
                dt { "Channel" } dd { (memory.channel) }
                @if let Some(session_id) = &memory.session_id { dt { "Session" } dd { (session_id) } }
                dt { "Captured" } dd { (ts(memory.captured_at)) }
                dt { "Original message" } dd class="text" { (memory.original_message) }
            }
        }
        section aria-labelledby="timeline" {
            h2 id="timeline" { "Its chain in time" }
            (chain_chart(&timeline, memory.id))
        }
        section aria-labelledby="audit" {
            h2 id="audit" { "Audit log" }
            table {
                thead { (head(&["Event", "At", "By", "Details"])) }
                tbody {
                    @for e in &events {
                        tr {
                            td { (e.kind.as_str()) }
                            td { (ts(e.at)) }
                            td { (e.by) }
                            td class="text" { (event_details(&e.details)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "Memory", Some(session), body, headers))
}

/// Ask a question: the answer from `POST /agent/query` (the same request, answered by the
/// same handler with the server's answerer), its `[mem-N]` markers linked to the memories,
/// every candidate with its similarity, and the proof tree's hash and chains.
async fn ask_page(
    state: &Arc<AppState>,
    session: &Session,
    key: &crate::ApiKey,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let params: HashMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let question = params
        .get("q")
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    let tenant = params
        .get("tenant")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let form = html! {
        form method="get" action="/ui/ask" class="bar" {
            label for="q" { "Question" }
            input id="q" name="q" type="text" value=(question) required;
            label for="ask-tenant" { "Tenant" }
            input id="ask-tenant" name="tenant" type="text" value=(tenant.as_deref().unwrap_or(""))
                placeholder="(default tenant)";
            button type="submit" { "Ask" }
        }
    };
    if question.is_empty() {
        return Ok(page(StatusCode::OK, "Ask", Some(session), form, headers));
    }
    let mut request = serde_json::json!({"question": question, "include_proof_tree": true});
    if let Some(t) = &tenant {
        request["tenant_id"] = serde_json::json!(t);
    }
    let (status, answer) = call_as(state, key, &Method::POST, "/agent/query", Some(&request)).await;
    if !status.is_success() {
        let detail = answer["detail"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "The question could not be answered.".to_owned());
        let body = html! { (form) p role="alert" class="error" { (detail) } };
        return Ok(page(status, "Ask", Some(session), body, headers));
    }
    let citations = answer["citations"].as_array().cloned().unwrap_or_default();
    let id_of = |n: usize| {
        citations
            .iter()
            .find(|c| c["index"].as_u64() == Some(n as u64))
            .and_then(|c| c["memory_id"].as_str())
            .map(str::to_owned)
    };
    let text = answer["answer_with_citations"].as_str().unwrap_or("");
    let proof = &answer["proof_tree"];
    let body = html! {
        (form)
        section aria-labelledby="answer" {
            h2 id="answer" { "Answer" }
            p class="text answer" {
                @for part in markers(text) {
                    @match part {
                        Part::Text(t) => (t),
                        Part::Marker(n) => @match id_of(n) {
                            Some(id) => a href={ "/ui/memories/" (id) } { "[mem-" (n) "]" },
                            None => { "[mem-" (n) "]" }
                        },
                    }
                }
            }
        }
        section aria-labelledby="candidates" {
            h2 id="candidates" { "Candidates" }
            table {
                thead { (head(&["#", "Memory", "Similarity", "Cited"])) }
                tbody {
                    @for c in &citations {
                        tr {
                            td { "[mem-" (c["index"]) "]" }
                            td class="text" {
                                a href={ "/ui/memories/" (c["memory_id"].as_str().unwrap_or("")) } {
                                    (c["decision"].as_str().unwrap_or(""))
                                }
                            }
                            td { (format!("{:.3}", c["similarity"].as_f64().unwrap_or(0.0))) }
                            td { @if c["cited_by_llm"].as_bool() == Some(true) { "yes" } @else { "no" } }
                        }
                    }
                }
            }
        }
        @if proof.is_object() {
            section aria-labelledby="proof" {
                h2 id="proof" { "Proof tree" }
                dl {
                    dt { "Answer hash" } dd { code class="hash" { (proof["answer_hash"].as_str().unwrap_or("")) } }
                    dt { "Generated" } dd { (proof["generated_at"].as_str().unwrap_or("")) }
                    dt { "Supersession chains" } dd { (proof["supersession_chains"].as_array().map_or(0, Vec::len)) }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "Ask", Some(session), body, headers))
}

/// The memory page's supersede/expire form, as `POST /memories/{id}/supersede` (the same
/// handler and rules), then back to the memory's page; a refusal shows its `detail`.
async fn supersede(
    state: &Arc<AppState>,
    session: &Session,
    key: &crate::ApiKey,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let form = check_form(headers, body, Some(session))?;
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(page(
            StatusCode::NOT_FOUND,
            "No such memory",
            Some(session),
            html! { p { "This account has no memory with that id." } },
            headers,
        ));
    };
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut request = serde_json::Map::new();
    if let Some(by) = field("superseded_by") {
        request.insert("superseded_by".into(), serde_json::json!(by));
    }
    if let Some(until) = field("valid_to") {
        request.insert("valid_to".into(), serde_json::json!(with_seconds(&until)));
    }
    let path = format!("/memories/{id}/supersede");
    let request = serde_json::Value::Object(request);
    let (status, answer) = call_as(state, key, &Method::POST, &path, Some(&request)).await;
    if status.is_success() {
        let mut back = redirect("/", None);
        if let Ok(location) = hyper::header::HeaderValue::from_str(&format!("/ui/memories/{id}")) {
            back.headers_mut().insert(hyper::header::LOCATION, location);
        }
        return Ok(back);
    }
    let body = html! {
        p role="alert" class="error" { (refusal(&answer)) }
        p { a href={ "/ui/memories/" (id) } { "Back to the memory" } }
    };
    Ok(page(status, "Not changed", Some(session), body, headers))
}

/// What a REST refusal says: its `detail`, or the messages of its validation errors.
fn refusal(answer: &serde_json::Value) -> String {
    match &answer["detail"] {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(errors) => errors
            .iter()
            .map(|e| {
                let field = e["loc"]
                    .as_array()
                    .and_then(|l| l.last())
                    .and_then(|f| f.as_str());
                let msg = e["msg"].as_str().unwrap_or("invalid");
                field.map_or_else(|| msg.to_owned(), |f| format!("{f}: {msg}"))
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => "The change was refused.".to_owned(),
    }
}

/// `method path` with the JSON `body` as the session's key, answered in process by the REST
/// handler (`routes::call`): its status and JSON body.
async fn call_as(
    state: &Arc<AppState>,
    key: &crate::ApiKey,
    method: &Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let resp = super::routes::call(
        state.clone(),
        key.clone(),
        method,
        path,
        None,
        body.as_bytes(),
    )
    .await;
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The key's settings (`GET /agent/settings`) as a form, and the account's plan and usage
/// this period (`GET /plan/status`) with its writes per day, as the REST API answers them.
async fn settings_page(
    state: &Arc<AppState>,
    session: &Session,
    key: &crate::ApiKey,
    status: StatusCode,
    error: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let (_, settings) = call_as(state, key, &Method::GET, "/agent/settings", None).await;
    let (_, plan) = call_as(state, key, &Method::GET, "/plan/status", None).await;
    let account = key.account.clone();
    let usage = state.read(move |store| store.usage(&account)).await?;
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let categories = settings["excluded_categories"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let used = plan["writes_used"].as_u64().unwrap_or(0);
    let limit = plan["writes_limit"].as_u64().unwrap_or(0).max(1);
    let body = html! {
        section aria-labelledby="key-settings" {
            h2 id="key-settings" { "This key's settings" }
            @if let Some(error) = error { p role="alert" class="error" { (error) } }
            form method="post" action="/ui/settings" class="settings" {
                input type="hidden" name="csrf" value=(session.csrf);
                label {
                    input type="checkbox" name="auto_supersede_default"
                        checked[settings["auto_supersede_default"] == true];
                    " Supersede automatically (Level 2) unless a write says otherwise"
                }
                label for="excluded_categories" { "Categories never superseded automatically (comma-separated)" }
                input id="excluded_categories" name="excluded_categories" type="text" value=(categories);
                label for="min_confidence" {
                    "Minimum confidence for automatic supersession (" (crate::MIN_CONFIDENCE_FLOOR) "–1)"
                }
                input id="min_confidence" name="min_confidence" type="text" inputmode="decimal"
                    value=(show(&settings["min_confidence"]));
                label for="classifier_model" { "Classifier model" }
                input id="classifier_model" name="classifier_model" type="text"
                    value=(show(&settings["classifier_model"]));
                label for="freshness_half_life_days" { "Freshness half-life (days, 1–3650)" }
                input id="freshness_half_life_days" name="freshness_half_life_days" type="text"
                    inputmode="decimal" value=(show(&settings["freshness_half_life_days"]));
                button type="submit" { "Save settings" }
            }
        }
        section aria-labelledby="plan" {
            h2 id="plan" { "Plan and usage" }
            dl {
                dt { "Plan" } dd { (show(&plan["plan_tier"])) }
                dt { "Writes this period" } dd { (used) " of " (limit) }
                dt { "Period started" } dd { (show(&plan["period_start"])) }
                dt { "Grace period" } dd { (show(&plan["in_grace_period"])) }
                dt { "Blocked" } dd { (show(&plan["blocked"])) }
            }
            meter min="0" max=(limit) value=(used) aria-label="writes used this period" { (used) " of " (limit) }
            h3 { "Writes per day" }
            (days_chart(&usage))
        }
    };
    Ok(page(
        status,
        "Settings and usage",
        Some(session),
        body,
        headers,
    ))
}

/// `POST /ui/settings`: the form as a `PATCH /agent/settings`; a refusal is shown on the page
/// with what REST said, and nothing changes.
async fn update_settings(
    state: &Arc<AppState>,
    session: &Session,
    key: &crate::ApiKey,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let form = check_form(headers, body, Some(session))?;
    let field = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    // A number that does not parse goes as the text it is: REST refuses it and says why.
    let number = |name: &str| {
        let text = field(name);
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map_or(serde_json::json!(text), |n| serde_json::json!(n))
    };
    let categories: Vec<String> = field("excluded_categories")
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let mut patch = serde_json::json!({
        "auto_supersede_default": form.contains_key("auto_supersede_default"),
        "excluded_categories": categories,
        "min_confidence": number("min_confidence"),
        "freshness_half_life_days": number("freshness_half_life_days"),
    });
    let model = field("classifier_model");
    if !model.is_empty() {
        patch["classifier_model"] = serde_json::json!(model);
    }
    let (status, answer) =
        call_as(state, key, &Method::PATCH, "/agent/settings", Some(&patch)).await;
    if status.is_success() {
        return Ok(redirect("/ui/settings", None));
    }
    let why = format!("Not saved: {}", refusal(&answer));
    settings_page(state, session, key, status, Some(&why), headers).await
}

/// The period's writes per day as bars, one per day of its month, with the figures as a
/// table for screen readers and keyboard users.
fn days_chart(usage: &crate::Usage) -> Markup {
    let days = days_in_month(usage.period_start);
    let count = |day: usize| usage.writes_by_day.get(day).copied().unwrap_or(0);
    let most = (0..days).map(count).max().unwrap_or(0).max(1);
    let (width, height) = (days as u64 * 12, 80u64);
    let total: u64 = usage.writes_by_day.iter().sum();
    let start = usage.period_start.to_datetime().map(|d| d.date_naive());
    let date = |day: usize| {
        start
            .and_then(|s| s.checked_add_days(chrono::Days::new(day as u64)))
            .map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
    };
    html! {
        figure class="days" {
            svg class="days" viewBox={ "0 0 " (width) " " (height + 14) } role="img"
                aria-label={ (total) " writes this period; the busiest day had " (most) } {
                @for day in 0..days {
                    @let n = count(day);
                    @let h = n * height / most;
                    rect x=(day as u64 * 12 + 1) y=(height - h) width="10" height=(h.max(1))
                        class=(if n == 0 { "none" } else { "some" }) {
                        title { (date(day)) ": " (n) }
                    }
                    @if day % 7 == 0 {
                        text x=(day as u64 * 12 + 1) y=(height + 12) { (day + 1) }
                    }
                }
            }
            figcaption { "Write requests per UTC day, " (date(0)) " to " (date(days - 1)) }
            details {
                summary { "As a table" }
                table {
                    thead { (head(&["Day", "Writes"])) }
                    tbody {
                        @for day in 0..days {
                            @if count(day) > 0 { tr { td { (date(day)) } td { (count(day)) } } }
                        }
                    }
                }
            }
        }
    }
}

/// The number of days of the calendar month starting at `start`.
fn days_in_month(start: crate::Timestamp) -> usize {
    let next = crate::month_start(start.saturating_add_micros(32 * 86_400_000_000));
    ((next.as_micros() - start.as_micros()) / 86_400_000_000).clamp(28, 31) as usize
}

/// A piece of an answer: text, or the N of a `[mem-N]` marker.
enum Part<'a> {
    Text(&'a str),
    Marker(usize),
}

/// Splits an answer into its text and its `[mem-N]` markers.
fn markers(text: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("[mem-") {
        let after = &rest[at + 5..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let closes = after.as_bytes().get(digits) == Some(&b']');
        match after[..digits].parse::<usize>() {
            Ok(n) if digits > 0 && closes => {
                parts.push(Part::Text(&rest[..at]));
                parts.push(Part::Marker(n));
                rest = &after[digits + 1..];
            }
            _ => {
                parts.push(Part::Text(&rest[..at + 5]));
                rest = after;
            }
        }
    }
    parts.push(Part::Text(rest));
    parts
}

fn event_details(details: &crate::EventDetails) -> String {
    use crate::EventDetails as D;
    let ts = super::wire::ts;
    match details {
        D::Created { topic, source, .. } => format!("topic {topic}, source {source}"),
        D::Superseded {
            superseded_by,
            valid_to,
            ..
        } => match superseded_by {
            Some(by) => format!("by {by}, valid until {}", ts(*valid_to)),
            None => format!("valid until {}", ts(*valid_to)),
        },
        D::Expired { valid_to, .. } => format!("valid until {}", ts(*valid_to)),
        D::Classified {
            verdict,
            confidence,
            reasoning,
            applied,
            ..
        } => format!(
            "{verdict} ({confidence:.2}){}: {reasoning}",
            if *applied { ", applied" } else { "" }
        ),
        _ => String::new(),
    }
}

/// The chain's versions, one row each, as two bars over the same span of time: when the
/// version was true (valid time) and when the store believed it (transaction time). Drawn
/// in SVG, whose geometry attributes the page's CSP allows (inline styles it does not).
fn chain_chart(timeline: &crate::Timeline, current: crate::MemoryId) -> Markup {
    let ts = super::wire::ts;
    let now = timeline.now.as_micros();
    let start = timeline
        .versions
        .iter()
        .map(|v| {
            v.valid_from
                .as_micros()
                .min(v.transaction_time_start.as_micros())
        })
        .min()
        .unwrap_or(now);
    let span = (now - start).max(1) as f64;
    let x = |t: i64| 100.0 * ((t.clamp(start, now) - start) as f64 / span);
    let bar = |from: i64, to: Option<i64>| {
        let (a, b) = (x(from), x(to.unwrap_or(now)));
        (format!("{a:.2}%"), format!("{:.2}%", (b - a).max(0.6)))
    };
    html! {
        p class="legend" { span class="key valid" { "true" } " " span class="key believed" { "believed" }
            " from " (ts(crate::Timestamp::from_micros(start))) " to now" }
        ol class="chain" {
            @for v in &timeline.versions {
                @let (vx, vw) = bar(v.valid_from.as_micros(), v.valid_to.map(|t| t.as_micros()));
                @let (tx, tw) = bar(v.transaction_time_start.as_micros(), v.transaction_time_end.map(|t| t.as_micros()));
                li class=@if v.id == current { "this" } @else { "" } {
                    a href={ "/ui/memories/" (v.id) } class="text" { (v.decision) }
                    span class="when" {
                        "true " (ts(v.valid_from)) " – " @match v.valid_to { Some(t) => (ts(t)), None => "now" }
                    }
                    svg class="bars" role="img" aria-label="valid and believed time" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="20" {
                        rect class="valid" x=(vx) y="0" width=(vw) height="4" {}
                        rect class="believed" x=(tx) y="6" width=(tw) height="4" {}
                    }
                }
            }
        }
    }
}

async fn admin_page(
    state: &Arc<AppState>,
    session: &Session,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let (accounts, keys) = super::admin::accounts_and_keys(state).await?;
    let ts = super::wire::ts;
    let body = html! {
        h2 { "Accounts" }
        table {
            thead {
                (head(&["Account", "Created", "Plan", "Writes this period", "Active keys", "Revoked keys"]))
            }
            tbody {
                @for a in &accounts {
                    tr {
                        td { (a.id) }
                        td { (a.created_at) }
                        td { (a.plan_tier) }
                        td {
                            (a.writes_used) " of " (a.writes_limit)
                            meter min="0" max=(a.writes_limit.max(1)) value=(a.writes_used)
                                aria-label={ "writes of " (a.id) " this period" } {}
                        }
                        td { (a.active_keys) }
                        td { (a.revoked_keys) }
                    }
                }
            }
        }
        h2 { "Issue a key" }
        form method="post" action="/ui/admin/keys" class="bar" {
            input type="hidden" name="csrf" value=(session.csrf);
            label for="key-account" { "Account" }
            input id="key-account" name="account" type="text" required;
            label for="key-label" { "Label" }
            input id="key-label" name="label" type="text";
            button type="submit" { "Issue" }
        }
        h2 { "Keys" }
        table {
            thead { (head(&["Account", "Key", "Label", "Created", "Status"])) }
            tbody {
                @for k in &keys {
                    tr {
                        td { (k.account) }
                        td { code { (k.shown_prefix) "…" } }
                        td { (k.label) }
                        td { (ts(k.created_at)) }
                        td {
                            @match k.revoked_at {
                                Some(at) => { "revoked " (ts(at)) }
                                None => {
                                    form method="post" action={ "/ui/admin/keys/" (k.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" aria-label={ "Revoke " (k.shown_prefix) "…" } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        "Administration",
        Some(session),
        body,
        headers,
    ))
}

/// The admin view's forms: issue a key (its secret on this one page, once) or revoke one.
async fn admin_keys(
    state: &Arc<AppState>,
    session: &Session,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let form = check_form(headers, body, Some(session))?;
    if path == "/ui/admin/keys" {
        let account = form
            .get("account")
            .map(|a| a.trim().to_owned())
            .unwrap_or_default();
        let label = form
            .get("label")
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        let issued = state
            .write(move |store| match store.create_api_key(&account, &label) {
                Ok(issued) => Ok(Ok(issued)),
                Err(crate::Error::InvalidArgument(msg)) => Ok(Err(msg)),
                Err(e) => Err(e),
            })
            .await?;
        let body = match issued {
            Ok((key, secret)) => {
                tracing::info!(key = %key.id, account = %key.account, "dashboard: key issued");
                html! {
                    p { "A key for " strong { (key.account) } ". It is shown on this page only: copy it now." }
                    p { code class="secret" { (secret) } }
                    p { a href="/" { "Back to administration" } }
                }
            }
            Err(msg) => html! {
                p role="alert" class="error" { (msg) }
                p { a href="/" { "Back to administration" } }
            },
        };
        return Ok(page(
            StatusCode::OK,
            "Key issued",
            Some(session),
            body,
            headers,
        ));
    }
    let id = path
        .strip_prefix("/ui/admin/keys/")
        .and_then(|rest| rest.strip_suffix("/revoke"))
        .and_then(|id| id.parse::<Uuid>().ok());
    let Some(id) = id else {
        return Ok(page(
            StatusCode::NOT_FOUND,
            "No such key",
            Some(session),
            html! { p { "No key has that id." } },
            headers,
        ));
    };
    match super::admin::revoke(state, id).await? {
        Some(key) => {
            tracing::info!(key = %key.id, account = %key.account, "dashboard: key revoked");
            Ok(redirect("/", None))
        }
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "No such key",
            Some(session),
            html! { p { "No key has that id." } },
            headers,
        )),
    }
}

fn sign_in_page(status: StatusCode, error: Option<&str>, headers: &HeaderMap) -> Response<Body> {
    let body = html! {
        form method="post" action="/ui/sign-in" class="sign-in" {
            @if let Some(error) = error { p role="alert" class="error" { (error) } }
            label for="key" { "API key or operator credential" }
            input id="key" name="key" type="password" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
    };
    page(status, "Sign in", None, body, headers)
}

/// A whole page: the layout, the sign-out form when signed in, and the security headers.
fn page(
    status: StatusCode,
    title: &str,
    session: Option<&Session>,
    body: Markup,
    _headers: &HeaderMap,
) -> Response<Body> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · aurra" }
                link rel="stylesheet" href=(STYLE_HREF);
            }
            body {
                header {
                    h1 { a href="/" { "aurra" } }
                    @if let Some(Session { who: Who::Account(_), .. }) = session {
                        nav {
                            a href="/" { "Memories" } " "
                            a href="/ui/ask" { "Ask" } " "
                            a href="/ui/settings" { "Settings" }
                        }
                    }
                    @if let Some(s) = session {
                        span class="who" {
                            @match &s.who {
                                Who::Account(key) => { "Account " strong { (key.account) } }
                                Who::Operator { .. } => { "Operator" }
                            }
                        }
                        form method="post" action="/ui/sign-out" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h2 class="title" { (title) } (body) }
            }
        }
    };
    html_response(status, markup.into_string())
}

fn with_security_headers(resp: &mut Response<Body>) {
    use hyper::header::HeaderValue;
    let h = resp.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Not `no-referrer`: with it, a browser sends `Origin: null` on the pages' own form posts.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
}

fn html_response(status: StatusCode, text: String) -> Response<Body> {
    let mut resp = Response::new(super::full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_security_headers(&mut resp);
    resp
}

/// A file built into the binary. Its pages link it at an address that changes with its text
/// ([`STYLE_HREF`]), so a browser may keep it: a page then lays out with it at once instead of
/// fetching it again on every navigation.
fn asset(text: &'static str, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(super::full(text.as_bytes()));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    with_security_headers(&mut resp);
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}

/// `303 See Other` to `to`, setting `cookie` if given.
fn redirect(to: &'static str, cookie: Option<String>) -> Response<Body> {
    let mut resp = Response::new(super::full(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    resp.headers_mut().insert(
        hyper::header::LOCATION,
        hyper::header::HeaderValue::from_static(to),
    );
    if let Some(cookie) = cookie
        && let Ok(value) = hyper::header::HeaderValue::from_str(&cookie)
    {
        resp.headers_mut().insert(hyper::header::SET_COOKIE, value);
    }
    with_security_headers(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        markers(text)
            .into_iter()
            .map(|p| match p {
                Part::Text(t) => t.to_owned(),
                Part::Marker(n) => format!("<{n}>"),
            })
            .collect()
    }

    #[test]
    fn markers_are_split_out_and_everything_else_stays_text() {
        assert_eq!(render("A [mem-1] and [mem-12]."), "A <1> and <12>.");
        assert_eq!(render("[mem-3]"), "<3>");
        for literal in ["[mem-]", "[mem-x]", "[mem-4", "[mem-", "mem-1]", ""] {
            assert_eq!(render(literal), literal);
        }
        assert_eq!(render("[mem-[mem-2]"), "[mem-<2>");
    }

    #[test]
    fn cookies_are_read_only_when_well_formed() {
        let mut headers = HeaderMap::new();
        let id = "ab".repeat(32);
        headers.insert(
            hyper::header::COOKIE,
            format!("other=1; {COOKIE}={id}").parse().unwrap(),
        );
        assert_eq!(cookie(&headers), Some(id));
        headers.insert(
            hyper::header::COOKIE,
            format!("{COOKIE}=short").parse().unwrap(),
        );
        assert_eq!(cookie(&headers), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
