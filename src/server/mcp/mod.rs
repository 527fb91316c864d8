//! The MCP server (Model Context Protocol, on the official Rust SDK `rmcp`): the tools of
//! [`tools`] and the memories as resources (`aurra://memories/{id}`), over stdio (`aurra mcp`)
//! or Streamable HTTP (`/mcp` on `aurra serve`).
//!
//! Every tool call is the REST request it stands for ([`tools::RestCall`]), answered by
//! [`Access`]: in process through the same router as HTTP (`/mcp`, and `aurra mcp` on an
//! embedded store), or by a running server (`aurra mcp --server URL`). So a tool succeeds
//! exactly when the endpoint would, and fails with the endpoint's `detail`.

pub(crate) mod tools;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::AppState;
use crate::ApiKey;

/// The URI prefix of a memory resource.
const MEMORY_URI: &str = "aurra://memories/";

/// Who answers the tools' REST calls, as which key.
#[derive(Clone)]
pub struct Access(Via);

#[derive(Clone)]
enum Via {
    /// In process, as `key` (`aurra mcp` on an embedded store).
    Local { state: Arc<AppState>, key: ApiKey },
    /// In process, as the key that authenticated the HTTP request carrying the call (`/mcp`).
    PerRequest { state: Arc<AppState> },
    /// A running server at `url` (`http://host:port`), with the API key `key`.
    Remote {
        url: String,
        key: String,
        agent: ureq::Agent,
    },
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Via::Local { key, .. } => write!(f, "Local({})", key.account),
            Via::PerRequest { .. } => f.write_str("PerRequest"),
            // Never the key.
            Via::Remote { url, .. } => write!(f, "Remote({url})"),
        }
    }
}

impl Access {
    /// In process over `state`, as `key` (an embedded store: `aurra mcp --data-dir`).
    pub fn local(state: Arc<AppState>, key: ApiKey) -> Access {
        Access(Via::Local { state, key })
    }

    /// A client of the server at `url` with the API key `key`.
    pub fn remote(url: &str, key: String) -> Access {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        Access(Via::Remote {
            url: url.trim_end_matches('/').to_owned(),
            key,
            agent,
        })
    }

    /// Answers `call`: its status and JSON body (`{"detail": …}` for a failure that has no
    /// body of its own).
    async fn answer(
        &self,
        call: tools::RestCall,
        ctx: &RequestContext<RoleServer>,
    ) -> (u16, Value) {
        let body = call
            .body
            .as_ref()
            .map(|b| b.to_string().into_bytes())
            .unwrap_or_default();
        let (state, key) = match &self.0 {
            Via::Local { state, key } => (state.clone(), key.clone()),
            Via::PerRequest { state } => {
                let key = ctx
                    .extensions
                    .get::<hyper::http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<ApiKey>())
                    .cloned();
                let Some(key) = key else {
                    return (401, json!({"detail": "Not authenticated"}));
                };
                (state.clone(), key)
            }
            Via::Remote { url, key, agent } => {
                let (url, key, agent) = (url.clone(), key.clone(), agent.clone());
                let remote =
                    tokio::task::spawn_blocking(move || remote(&agent, &url, &key, &call, body));
                return remote.await.unwrap_or_else(|_| {
                    (
                        500,
                        json!({"detail": "the call to the aurra server failed"}),
                    )
                });
            }
        };
        let resp = super::routes::call(
            state,
            key,
            &call.method,
            &call.path,
            call.query.as_deref(),
            &body,
        )
        .await;
        let status = resp.status().as_u16();
        let bytes = match resp.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            // A whole body (the routes answer MCP's calls with whole ones) cannot fail.
            Err(_) => bytes::Bytes::new(),
        };
        (status, parse(&bytes))
    }
}

/// One call to a running server (blocking).
fn remote(
    agent: &ureq::Agent,
    url: &str,
    key: &str,
    call: &tools::RestCall,
    body: Vec<u8>,
) -> (u16, Value) {
    let target = match &call.query {
        Some(q) => format!("{url}{}?{q}", call.path),
        None => format!("{url}{}", call.path),
    };
    let request = ureq::http::Request::builder()
        .method(call.method.as_str())
        .uri(&target)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json");
    let sent = match call.body {
        Some(_) => request.body(body).map(|r| agent.run(r)),
        None => request.body(()).map(|r| agent.run(r)),
    };
    match sent {
        Ok(Ok(mut resp)) => {
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_vec().unwrap_or_default();
            (status, parse(&text))
        }
        // The transport's message names the URL, never the key (sent only as a header).
        Ok(Err(e)) => (
            502,
            json!({"detail": format!("cannot reach the aurra server at {url}: {e}")}),
        ),
        Err(e) => (400, json!({"detail": format!("invalid request: {e}")})),
    }
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(
        |_| json!({"detail": String::from_utf8_lossy(bytes).chars().take(500).collect::<String>()}),
    )
}

/// A failure's `detail` as one line of text (a `422` list becomes `field: message; …`).
fn detail_text(status: u16, body: &Value) -> String {
    let detail = match &body["detail"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let loc: Vec<String> = item["loc"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter(|p| p.as_str() != Some("body") && p.as_str() != Some("query"))
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                format!("{}: {}", loc.join("."), item["msg"].as_str().unwrap_or(""))
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_owned(),
        other => other.to_string(),
    };
    format!("{status}: {detail}")
}

/// The short text a model reads next to a tool's structured result.
fn summary(tool: &str, body: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    match tool {
        "remember" => match body["status"].as_str() {
            Some("saved") => format!("Saved memory {}.", s(&body["memory_id"])),
            Some("duplicate") => "Already remembered (duplicate); nothing new was stored.".into(),
            Some("extracted") => format!(
                "Extracted {} facts, saved {}.",
                body["extracted_count"], body["saved_count"]
            ),
            _ => body.to_string(),
        },
        "recall" => s(&body["answer_with_citations"]),
        "list_memories" => {
            let rows = body["memories"].as_array().cloned().unwrap_or_default();
            let mut out = format!("{} memories", rows.len());
            for m in rows.iter().take(50) {
                let state = if m["temporal"]["is_superseded"] == true {
                    " (superseded)"
                } else if m["temporal"]["is_expired"] == true {
                    " (expired)"
                } else {
                    ""
                };
                out.push_str(&format!("\n- {} {}{state}", s(&m["id"]), s(&m["decision"])));
            }
            out
        }
        "supersede" | "expire" => match body["superseded_by"].as_str() {
            Some(by) => format!(
                "Memory {} superseded by {by}; valid until {}.",
                s(&body["memory_id"]),
                s(&body["valid_to"])
            ),
            None => format!(
                "Memory {} valid until {}.",
                s(&body["memory_id"]),
                s(&body["valid_to"])
            ),
        },
        "timeline" => {
            let versions = body["timeline"].as_array().cloned().unwrap_or_default();
            let lines: Vec<String> = versions
                .iter()
                .map(|m| format!("- {} {}", s(&m["id"]), s(&m["decision"])))
                .collect();
            format!(
                "{} versions, oldest first:\n{}",
                versions.len(),
                lines.join("\n")
            )
        }
        "audit" => {
            let events = body["history"].as_array().cloned().unwrap_or_default();
            let lines: Vec<String> = events
                .iter()
                .map(|e| format!("- {} {} by {}", s(&e["at"]), s(&e["event"]), s(&e["by"])))
                .collect();
            format!("{} events:\n{}", events.len(), lines.join("\n"))
        }
        "forget_tenant" => format!("Deleted {} memories.", body["deleted_count"]),
        _ => body.to_string(),
    }
}

/// The MCP server: one per stdio session, or per HTTP request (stateless).
#[derive(Clone, Debug)]
pub struct AurraMcp {
    access: Access,
}

impl AurraMcp {
    /// The server, answering through `access`.
    pub fn new(access: Access) -> Self {
        AurraMcp { access }
    }

    /// Serves MCP over stdin/stdout until stdin closes (`aurra mcp`). Log to stderr only:
    /// stdout carries the protocol.
    pub async fn serve_stdio(self) -> std::io::Result<()> {
        use rmcp::ServiceExt;
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    }

    async fn run(
        &self,
        tool: &tools::Tool,
        args: Value,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let call = match (tool.call)(args) {
            Ok(call) => call,
            Err(msg) => return CallToolResult::error(vec![ContentBlock::text(msg)]),
        };
        let (status, body) = self.access.answer(call, ctx).await;
        if (200..300).contains(&status) {
            let mut result =
                CallToolResult::success(vec![ContentBlock::text(summary(tool.name, &body))]);
            result.structured_content = Some(body);
            result
        } else {
            let mut result =
                CallToolResult::error(vec![ContentBlock::text(detail_text(status, &body))]);
            result.structured_content = Some(json!({"status": status, "detail": body["detail"]}));
            result
        }
    }
}

fn tool_model(tool: &tools::Tool) -> rmcp::model::Tool {
    let annotations = ToolAnnotations::with_title(tool.title)
        .read_only(tool.read_only)
        .destructive(tool.destructive)
        .idempotent(tool.idempotent)
        .open_world(false);
    rmcp::model::Tool::new(tool.name, tool.description, Arc::new((tool.schema)()))
        .with_title(tool.title)
        .with_annotations(annotations)
}

impl ServerHandler for AurraMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("aurra", env!("CARGO_PKG_VERSION"))
                .with_title(format!("aurra memory (tools v{})", tools::TOOLS_VERSION)),
        )
        .with_instructions(
            "aurra is a temporal memory store. `recall` before answering questions about \
                 the user or past work; `remember` durable facts as they come up (one atomic \
                 fact each); when a fact changes, remember the new one and `supersede` the old. \
                 History is never lost: `list_memories` with `as_of`, `timeline` and `audit` \
                 show what was true and when. Memories are also resources at \
                 aurra://memories/{id}.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            tools::TOOLS.iter().map(tool_model).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(tool) = tools::tool(&request.name) else {
            return Err(McpError::invalid_params(
                format!("unknown tool {:?}", request.name),
                None,
            ));
        };
        let args = Value::Object(request.arguments.unwrap_or_default());
        Ok(self.run(tool, args, &context).await.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let call = tools::RestCall {
            method: Method::GET,
            path: "/agent/memories".into(),
            query: Some("limit=100".into()),
            body: None,
        };
        let (status, body) = self.access.answer(call, &context).await;
        if status != 200 {
            return Err(McpError::internal_error(detail_text(status, &body), None));
        }
        let resources = body["memories"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                let id = m["id"].as_str()?;
                Some(
                    Resource::new(format!("{MEMORY_URI}{id}"), id)
                        .with_description(m["decision"].as_str().unwrap_or_default())
                        .with_mime_type("application/json"),
                )
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{MEMORY_URI}{{id}}"), "memory")
                .with_title("A memory by id")
                .with_description("One memory of the key's account as JSON, in any state (current, expired or superseded)")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let Some(id) = uri.strip_prefix(MEMORY_URI) else {
            return Err(McpError::resource_not_found(
                format!("no resource {uri}"),
                None,
            ));
        };
        // The memory's timeline holds it, whatever its state.
        let timeline = tools::tool("timeline").expect("the timeline tool");
        let call = (timeline.call)(json!({"memory_id": id}))
            .map_err(|e| McpError::invalid_params(e, None))?;
        let (status, body) = self.access.answer(call, &context).await;
        if status != 200 {
            return Err(McpError::resource_not_found(
                detail_text(status, &body),
                None,
            ));
        }
        let memory = body["timeline"]
            .as_array()
            .and_then(|versions| versions.iter().find(|m| m["id"] == id))
            .cloned()
            .ok_or_else(|| McpError::resource_not_found(format!("no memory {id}"), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(memory.to_string(), uri).with_mime_type("application/json"),
        ])
        .into())
    }
}

/// `/mcp` on `aurra serve`: Streamable HTTP, stateless (every request stands alone, so any
/// server of a pool answers it), JSON responses. The bearer key is checked before the MCP
/// layer sees the request, as on every REST endpoint.
pub(crate) type HttpService = rmcp::transport::StreamableHttpService<
    AurraMcp,
    rmcp::transport::streamable_http_server::session::never::NeverSessionManager,
>;

/// The `/mcp` service over `state`.
pub(crate) fn http_service(state: Arc<AppState>) -> HttpService {
    let max = state.config.max_body_bytes;
    let config = rmcp::transport::StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(max)
        // A bearer key is required, so a page that rebinds a name to this address gains
        // nothing; checking Host would refuse every name but localhost.
        .disable_allowed_hosts();
    rmcp::transport::StreamableHttpService::new(
        move || {
            Ok(AurraMcp::new(Access(Via::PerRequest {
                state: state.clone(),
            })))
        },
        Arc::new(Default::default()),
        config,
    )
}

/// Answers a request to `/mcp`: `401` without a valid key (before the MCP layer), else the
/// MCP exchange with the key in the request's extensions.
pub(crate) async fn serve_http(
    state: &Arc<AppState>,
    service: &HttpService,
    req: hyper::Request<hyper::body::Incoming>,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let (mut parts, body) = req.into_parts();
    let resp = match super::auth::authenticate(state, &parts.headers).await {
        Ok(key) => {
            parts.extensions.insert(key);
            service
                .handle(hyper::Request::from_parts(parts, body))
                .await
        }
        Err(e) => e.into_whole_response().map(|b| b.boxed()),
    };
    if let Some(metrics) = &state.metrics {
        metrics.observe_request("mcp", resp.status().as_u16(), started.elapsed());
    }
    resp
}

/// The body of an `/mcp` response.
pub(crate) type HttpBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// An `/mcp` response.
pub(crate) type HttpResponse = hyper::Response<HttpBody>;
