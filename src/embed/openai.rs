//! [`OpenAiEmbedder`]: a blocking client for the OpenAI-compatible `POST {base}/embeddings`
//! API (OpenAI, Azure OpenAI deployments, Ollama, vLLM, llama.cpp, gateways).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Embedder;
use crate::error::{Error, Result};

/// Texts sent per request.
const BATCH: usize = 128;
/// Characters of a text that are embedded (longer texts are cut: facts are short, and every
/// model has an input limit that would otherwise fail the whole write).
const MAX_INPUT_CHARS: usize = 8_000;
/// Attempts for a request that failed in a way a retry can fix (transport error, 429, 5xx).
/// Embedding is idempotent, so retrying is always safe.
const ATTEMPTS: u32 = 3;
/// Bytes of a response read at most (128 vectors of 3072 floats as JSON fit easily).
const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// A client for an OpenAI-compatible embeddings endpoint.
///
/// ```no_run
/// use aurra::{OpenAiEmbedder, Store, StoreOptions};
///
/// # fn main() -> aurra::Result<()> {
/// // A local Ollama: no key needed.
/// let embedder = OpenAiEmbedder::new("http://127.0.0.1:11434/v1", "nomic-embed-text");
/// let store = Store::open_with("memories.redb", StoreOptions::new().embedder(embedder))?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OpenAiEmbedder {
    endpoint: String,
    model: String,
    api_key: Option<String>,
    dimensions: Option<u32>,
    space: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiEmbedder {
    // The key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl OpenAiEmbedder {
    /// A client for `{base_url}/embeddings` (`base_url` as the OpenAI SDKs take it, e.g.
    /// `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`) and `model`, with a 30 s
    /// timeout and no key.
    pub fn new(base_url: &str, model: &str) -> Self {
        let endpoint = format!("{}/embeddings", base_url.trim_end_matches('/'));
        OpenAiEmbedder {
            endpoint,
            model: model.to_owned(),
            api_key: None,
            dimensions: None,
            space: model.to_owned(),
            agent: agent(Duration::from_secs(30)),
        }
    }

    /// Sends `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Asks for vectors of `dimensions` (models that support shortening, such as OpenAI's
    /// `text-embedding-3-*`). Part of the vector space's name.
    pub fn dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self.space = format!("{}@{dimensions}", self.model);
        self
    }

    /// Gives up on a request after `timeout` (connect, send and receive together).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }

    /// The service failed; its words are kept, but never the key it was sent (nor anything
    /// shaped like a key) — they reach responses and logs.
    fn unavailable(&self, what: impl std::fmt::Display) -> Error {
        let what = crate::secrets::scrub(&what.to_string(), self.api_key.as_deref().as_slice());
        Error::Unavailable(format!("embeddings service at {}: {what}", self.endpoint))
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let body = serde_json::to_vec(&EmbeddingsRequest {
            model: &self.model,
            input: texts,
            dimensions: self.dimensions,
        })
        .map_err(|e| Error::InvalidArgument(format!("embedding request: {e}")))?;
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << (2 * (attempt - 1))));
            }
            let mut request = self
                .agent
                .post(&self.endpoint)
                .header("Content-Type", "application/json");
            if let Some(key) = &self.api_key {
                request = request.header("Authorization", format!("Bearer {key}"));
            }
            let mut response = match request.send(body.as_slice()) {
                Ok(response) => response,
                Err(e) => {
                    last = Some(self.unavailable(e));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_string();
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    last = Some(self.unavailable(format!("reading the response: {e}")));
                    continue;
                }
            };
            if !(200..300).contains(&status) {
                // Scrubbed before `error_message` shortens it: a key cut in half would no
                // longer be recognised.
                let text = crate::secrets::scrub(&text, self.api_key.as_deref().as_slice());
                let error = self.unavailable(format!("HTTP {status}: {}", error_message(&text)));
                if status == 429 || status >= 500 {
                    last = Some(error);
                    continue;
                }
                return Err(error);
            }
            return self.parse(&text, texts.len());
        }
        Err(last.unwrap_or_else(|| self.unavailable("no attempt made")))
    }

    fn parse(&self, text: &str, expected: usize) -> Result<Vec<Vec<f32>>> {
        let response: EmbeddingsResponse = serde_json::from_str(text)
            .map_err(|e| self.unavailable(format!("unexpected response: {e}")))?;
        if response.data.len() != expected {
            return Err(self.unavailable(format!(
                "{} vectors for {expected} inputs",
                response.data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
        for (position, item) in response.data.into_iter().enumerate() {
            let i = item.index.unwrap_or(position);
            match slots.get_mut(i) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => return Err(self.unavailable(format!("bad or repeated index {i}"))),
            }
        }
        let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
        let dims = vectors.first().map_or(0, Vec::len);
        if dims == 0 || vectors.iter().any(|v| v.len() != dims) {
            return Err(self.unavailable("vectors are empty or of different lengths"));
        }
        Ok(vectors)
    }
}

impl Embedder for OpenAiEmbedder {
    fn space(&self) -> &str {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let cut: Vec<&str> = chunk
                .iter()
                .map(|t| cut_chars(t, MAX_INPUT_CHARS))
                .collect();
            out.extend(self.request(&cut)?);
        }
        Ok(out)
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn cut_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The service's own error message (`{"error": {"message": ...}}` or `{"error": "..."}`), or
/// the start of the body, on one line and short.
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message").or(Some(e)))
        .and_then(|m| m.as_str())
        .unwrap_or(body);
    let line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    cut_chars(&line, 200).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_taken_from_the_body_and_kept_short() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Invalid API key"}}"#),
            "Invalid API key"
        );
        assert_eq!(
            error_message(r#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message("plain\n text"), "plain text");
        assert_eq!(error_message(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let e = OpenAiEmbedder::new("http://127.0.0.1:1/v1/", "m").api_key("sk-secret");
        let shown = format!("{e:?}");
        assert!(!shown.contains("sk-secret"));
        assert!(shown.contains("http://127.0.0.1:1/v1/embeddings"));
    }

    #[test]
    fn a_service_quoting_the_key_never_passes_it_on() {
        let e = OpenAiEmbedder::new("http://127.0.0.1:1/v1/", "m").api_key("plain-secret-words");
        let error = e.unavailable(error_message(
            r#"{"error":{"message":"Incorrect API key provided: plain-secret-words (also sk-proj-Xy12Zz34Ab56Cd78)"}}"#,
        ));
        let shown = error.to_string();
        assert!(!shown.contains("plain-secret-words"), "{shown}");
        assert!(!shown.contains("sk-proj-Xy12Zz34Ab56Cd78"), "{shown}");
        assert!(
            shown.contains("Incorrect API key provided: [redacted]"),
            "{shown}"
        );
    }
}
