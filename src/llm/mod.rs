//! Language models: one [`Llm`] trait for every provider, the provider configuration
//! ([`LlmConfig`]) and the error every provider failure maps to ([`LlmError`]).
//!
//! [`HttpLlm`] (feature `http`) is the client for the hosted providers (Anthropic Messages,
//! OpenAI Chat Completions and any OpenAI-compatible server, Azure OpenAI, Gemini, xAI Grok).
//! The built-in offline implementations of each LLM feature (the extractive answerer, ...)
//! live with their feature and need none of this.

use std::fmt;

#[cfg(feature = "http")]
mod guard;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
pub use guard::BaseUrlPolicy;
#[cfg(feature = "http")]
pub use http::HttpLlm;

/// A provider of chat completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions, or any OpenAI-compatible server through `base_url`.
    OpenAi,
    /// Azure OpenAI: `base_url` is the resource endpoint, `model` the deployment.
    Azure,
    /// Google Gemini `generateContent`.
    Gemini,
    /// xAI Grok (OpenAI-compatible API at `https://api.x.ai/v1`).
    Grok,
}

impl Provider {
    /// Every provider, in the order the docs list them.
    pub const ALL: [Provider; 5] = [
        Provider::Anthropic,
        Provider::OpenAi,
        Provider::Azure,
        Provider::Gemini,
        Provider::Grok,
    ];

    /// The wire name (`anthropic`, `openai`, `azure`, `gemini`, `grok`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Azure => "azure",
            Provider::Gemini => "gemini",
            Provider::Grok => "grok",
        }
    }

    /// The provider with this wire name.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which provider, model and key to call. The key is never printed (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The provider.
    pub provider: Provider,
    /// The provider's model id (Azure: the deployment name).
    pub model: String,
    /// The provider key.
    pub api_key: String,
    /// Another endpoint: an OpenAI-compatible server, the Azure resource, a proxy.
    pub base_url: Option<String>,
    /// Azure's `api-version` (default [`AZURE_API_VERSION`]).
    pub api_version: Option<String>,
}

/// The Azure OpenAI `api-version` used when none is given.
pub const AZURE_API_VERSION: &str = "2024-10-21";

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// One completion: a system prompt and a user message, answered at temperature 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// Instructions.
    pub system: String,
    /// The input.
    pub user: String,
    /// Ask for a JSON object (the provider's JSON mode, where it has one).
    pub json: bool,
    /// Upper bound on the answer's tokens.
    pub max_tokens: u32,
}

/// The JSON in a model's answer: the text itself, or the inside of a Markdown code fence
/// (models often wrap JSON in one even when asked not to).
pub(crate) fn json_text(text: &str) -> &str {
    let trimmed = text.trim();
    trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim()
}

/// A chat model.
pub trait Llm: Send + Sync + fmt::Debug {
    /// The provider's wire name, for metadata and errors.
    fn provider(&self) -> &str;
    /// The model id, for metadata.
    fn model(&self) -> &str;
    /// The model's text answer to `prompt`.
    fn complete(&self, prompt: &Prompt) -> Result<String, LlmError>;
}

/// What went wrong with a provider call. Maps to the spec's `llm_provider_error` (§9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// The provider refused the key (401/403).
    Unauthorized,
    /// The model id is not valid for the provider.
    InvalidModel,
    /// The provider's rate limit; retry after the given seconds, if it said.
    RateLimited {
        /// Seconds to wait, from the provider's `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Unreachable, timed out, or answered with an error.
    Unavailable,
    /// Answered, but with output that cannot be used (not the expected JSON, no text).
    BadOutput,
    /// The request is not allowed (a `base_url` to a private address, a bad URL).
    Refused,
}

/// A provider failure: its kind, the provider, and a message safe to show the caller (the
/// provider's own message when it gave one; never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmError {
    /// What went wrong.
    pub kind: LlmErrorKind,
    /// The provider's wire name.
    pub provider: String,
    /// A human-readable message.
    pub message: String,
}

impl LlmError {
    /// An error of `kind` from `provider`. Anything in `message` shaped like a key is
    /// replaced by `[redacted]`: a provider's words may quote one, and the message travels
    /// on into responses, logs and audit events.
    pub fn new(kind: LlmErrorKind, provider: &str, message: impl Into<String>) -> Self {
        LlmError {
            kind,
            provider: provider.to_owned(),
            message: crate::secrets::scrub(&message.into(), &[]),
        }
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}): {}", self.provider, self.kind, self.message)
    }
}

impl std::error::Error for LlmError {}
