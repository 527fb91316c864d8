//! A fake of the providers' chat APIs: Anthropic Messages (`/v1/messages`), OpenAI-style
//! Chat Completions (`…/chat/completions`, also Azure's deployment path and Grok), and Gemini
//! (`…:generateContent`). It answers in each provider's response shape, fails in each
//! provider's error shape when scripted to, and records every request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::http::{self, Reply, Request};

/// The API shape a request was addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Anthropic,
    OpenAi,
    Gemini,
}

/// What the fake does with the next request.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answers from the prompt: the first candidate's text with `[mem-1]`, plus an invalid
    /// marker `[mem-99]` that verification must drop.
    Cite,
    /// Answers with this text.
    Text(String),
    /// The provider refuses the key.
    BadKey,
    /// The provider refuses the key and quotes it in its message, as OpenAI does ("Incorrect
    /// API key provided: sk-…"), next to another key-shaped token of its own.
    QuoteKey,
    /// The model does not exist.
    UnknownModel,
    /// Rate limited, with `Retry-After` seconds.
    RateLimited(u64),
    /// The provider is failing (5xx).
    Outage,
    /// A 200 without any text.
    NoText,
}

#[derive(Default)]
struct State {
    script: VecDeque<Script>,
    seen: Vec<Request>,
}

/// A running fake provider.
#[derive(Clone)]
pub struct FakeLlm {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeLlm {
    pub fn start() -> FakeLlm {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let addr = http::serve(move |request| handle(request, &shared));
        FakeLlm { addr, state }
    }

    /// `http://127.0.0.1:PORT` (append `/v1` for OpenAI-style clients).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.state.lock().unwrap().script.extend(steps);
    }

    pub fn seen(&self) -> Vec<Request> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn shape(path: &str) -> Option<Shape> {
    if path.ends_with("/v1/messages") {
        Some(Shape::Anthropic)
    } else if path.split('?').next()?.ends_with("/chat/completions") {
        Some(Shape::OpenAi)
    } else if path.ends_with(":generateContent") {
        Some(Shape::Gemini)
    } else {
        None
    }
}

/// The user's text of a request, whatever its shape.
pub fn user_text(shape: Shape, body: &Value) -> String {
    let text = match shape {
        Shape::Anthropic => &body["messages"][0]["content"],
        Shape::OpenAi => &body["messages"][1]["content"],
        Shape::Gemini => &body["contents"][0]["parts"][0]["text"],
    };
    text.as_str().unwrap_or("").to_owned()
}

fn cite(user: &str) -> String {
    let first = user
        .lines()
        .find_map(|l| l.strip_prefix("[mem-1] "))
        .and_then(|l| l.split_once(") "))
        .map_or("nothing", |(_, text)| text);
    format!("{first} [mem-1] [mem-99].")
}

fn answer(shape: Shape, text: &str) -> Value {
    match shape {
        Shape::Anthropic => json!({
            "id": "msg_fake", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
        }),
        Shape::OpenAi => json!({
            "id": "chatcmpl-fake", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }),
        Shape::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
        }),
    }
}

/// `(status, body)` of a failure in the provider's own error shape.
fn failure(shape: Shape, script: &Script) -> (u16, Value) {
    let (status, kind, message) = match script {
        Script::BadKey => (401, "auth", "Incorrect API key provided"),
        Script::UnknownModel => (404, "model", "The model `nope` does not exist"),
        Script::RateLimited(_) => (429, "rate", "Rate limit reached"),
        _ => (500, "server", "The server had an error"),
    };
    let body = match (shape, kind) {
        (Shape::Anthropic, _) => {
            let t = match kind {
                "auth" => "authentication_error",
                "model" => "not_found_error",
                "rate" => "rate_limit_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": t, "message": message}})
        }
        (Shape::OpenAi, _) => {
            let code = match kind {
                "auth" => "invalid_api_key",
                "model" => "model_not_found",
                "rate" => "rate_limit_exceeded",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": "invalid_request_error", "code": code}})
        }
        (Shape::Gemini, "auth") => {
            // Gemini reports a bad key as a 400.
            let body = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}});
            return (400, body);
        }
        (Shape::Gemini, _) => {
            let status_name = match kind {
                "model" => "NOT_FOUND",
                "rate" => "RESOURCE_EXHAUSTED",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": status_name}})
        }
    };
    (status, body)
}

fn handle(request: Request, state: &Mutex<State>) -> Reply {
    let step = {
        let mut state = state.lock().unwrap();
        state.seen.push(request.clone());
        state.script.pop_front().unwrap_or(Script::Cite)
    };
    let Some(shape) = shape(&request.path) else {
        return Reply::json(404, &json!({"error": {"message": "no such route"}}));
    };
    match &step {
        Script::Cite => Reply::json(200, &answer(shape, &cite(&user_text(shape, &request.body)))),
        Script::Text(text) => Reply::json(200, &answer(shape, text)),
        Script::NoText => Reply::json(
            200,
            &json!({"choices": [], "content": [], "candidates": []}),
        ),
        Script::QuoteKey => {
            let key = ["authorization", "x-api-key", "api-key", "x-goog-api-key"]
                .iter()
                .find_map(|name| request.header(name))
                .map(|v| v.trim_start_matches("Bearer ").to_owned())
                .unwrap_or_default();
            let message = format!(
                "Incorrect API key provided: {key}. Your other key sk-proj-Ab12Cd34Ef56Gh78 \
                 still works. Find your API keys at https://platform.example/account/api-keys."
            );
            let body = match shape {
                Shape::Anthropic => {
                    json!({"type": "error", "error": {"type": "authentication_error", "message": message}})
                }
                _ => {
                    json!({"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}})
                }
            };
            Reply::json(401, &body)
        }
        Script::RateLimited(secs) => {
            let (status, body) = failure(shape, &step);
            let mut reply = Reply::json(status, &body);
            reply.headers.push(("retry-after", secs.to_string()));
            reply
        }
        _ => {
            let (status, body) = failure(shape, &step);
            Reply::json(status, &body)
        }
    }
}
