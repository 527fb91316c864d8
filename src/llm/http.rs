//! [`HttpLlm`]: the blocking client for the hosted providers' chat APIs. One struct, one
//! request builder and one response reader per provider shape:
//!
//! | provider | endpoint | auth |
//! | --- | --- | --- |
//! | anthropic | `{base=https://api.anthropic.com}/v1/messages` | `x-api-key`, `anthropic-version: 2023-06-01` |
//! | openai | `{base=https://api.openai.com/v1}/chat/completions` | `Authorization: Bearer` |
//! | grok | `{base=https://api.x.ai/v1}/chat/completions` | `Authorization: Bearer` |
//! | azure | `{base}/openai/deployments/{model}/chat/completions?api-version=…` | `api-key` |
//! | gemini | `{base=https://generativelanguage.googleapis.com}/v1beta/models/{model}:generateContent` | `x-goog-api-key` |
//!
//! Redirects are never followed (a public URL must not bounce the server to a private one). A
//! request is retried once only when the connection could not be made (nothing was sent).

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    AZURE_API_VERSION, BaseUrlPolicy, Llm, LlmConfig, LlmError, LlmErrorKind, Prompt, Provider,
};

/// Bytes of a provider response read at most.
const MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// A provider client for one [`LlmConfig`].
#[derive(Clone)]
pub struct HttpLlm {
    config: LlmConfig,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLlm")
            .field("config", &self.config)
            .finish()
    }
}

impl HttpLlm {
    /// A client for `config` that gives up on a call after `timeout`. The operator's own
    /// configuration is trusted: no address check (see [`HttpLlm::checked`]).
    pub fn new(config: LlmConfig, timeout: Duration) -> Result<HttpLlm, LlmError> {
        if config.provider == Provider::Azure && config.base_url.is_none() {
            return Err(LlmError::new(
                LlmErrorKind::Refused,
                "azure",
                "azure needs base_url (the resource endpoint)",
            ));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(HttpLlm { config, agent })
    }

    /// [`HttpLlm::new`] for a caller-supplied configuration: its `base_url`, if any, must pass
    /// `policy`.
    pub fn checked(
        config: LlmConfig,
        timeout: Duration,
        policy: BaseUrlPolicy,
    ) -> Result<HttpLlm, LlmError> {
        if let Some(url) = &config.base_url {
            policy.check(url).map_err(|message| {
                LlmError::new(LlmErrorKind::Refused, config.provider.as_str(), message)
            })?;
        }
        Self::new(config, timeout)
    }

    /// An error of this client; the key it sends is removed from `message` wherever the
    /// provider quoted it (and [`LlmError::new`] removes anything else shaped like a key).
    fn error(&self, kind: LlmErrorKind, message: impl Into<String>) -> LlmError {
        let message = crate::secrets::scrub(&message.into(), &[&self.config.api_key]);
        LlmError::new(kind, self.config.provider.as_str(), message)
    }

    fn base(&self, default: &str) -> String {
        self.config
            .base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_owned()
    }

    /// The URL, headers and JSON body of a call.
    fn request(&self, prompt: &Prompt) -> (String, Vec<(&'static str, String)>, Value) {
        let c = &self.config;
        match c.provider {
            Provider::Anthropic => {
                let mut system = prompt.system.clone();
                if prompt.json {
                    system.push_str("\n\nRespond with a single JSON object and nothing else.");
                }
                (
                    format!("{}/v1/messages", self.base("https://api.anthropic.com")),
                    vec![
                        ("x-api-key", c.api_key.clone()),
                        ("anthropic-version", "2023-06-01".to_owned()),
                    ],
                    json!({
                        "model": c.model,
                        "max_tokens": prompt.max_tokens,
                        "temperature": 0,
                        "system": system,
                        "messages": [{"role": "user", "content": prompt.user}],
                    }),
                )
            }
            Provider::OpenAi | Provider::Grok | Provider::Azure => {
                let mut body = json!({
                    "messages": [
                        {"role": "system", "content": prompt.system},
                        {"role": "user", "content": prompt.user},
                    ],
                    "temperature": 0,
                    "max_tokens": prompt.max_tokens,
                });
                if prompt.json {
                    body["response_format"] = json!({"type": "json_object"});
                }
                match c.provider {
                    Provider::Azure => (
                        format!(
                            "{}/openai/deployments/{}/chat/completions?api-version={}",
                            self.base(""),
                            c.model,
                            c.api_version.as_deref().unwrap_or(AZURE_API_VERSION)
                        ),
                        vec![("api-key", c.api_key.clone())],
                        body,
                    ),
                    _ => {
                        body["model"] = json!(c.model);
                        let default = if c.provider == Provider::Grok {
                            "https://api.x.ai/v1"
                        } else {
                            "https://api.openai.com/v1"
                        };
                        (
                            format!("{}/chat/completions", self.base(default)),
                            vec![("Authorization", format!("Bearer {}", c.api_key))],
                            body,
                        )
                    }
                }
            }
            Provider::Gemini => {
                let mut config = json!({"temperature": 0, "maxOutputTokens": prompt.max_tokens});
                if prompt.json {
                    config["responseMimeType"] = json!("application/json");
                }
                (
                    format!(
                        "{}/v1beta/models/{}:generateContent",
                        self.base("https://generativelanguage.googleapis.com"),
                        c.model
                    ),
                    vec![("x-goog-api-key", c.api_key.clone())],
                    json!({
                        "systemInstruction": {"parts": [{"text": prompt.system}]},
                        "contents": [{"role": "user", "parts": [{"text": prompt.user}]}],
                        "generationConfig": config,
                    }),
                )
            }
        }
    }

    /// The answer's text from a successful response body.
    fn text(&self, body: &Value) -> Option<String> {
        match self.config.provider {
            Provider::Anthropic => {
                let blocks = body["content"].as_array()?;
                let text: String = blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                Some(text)
            }
            Provider::OpenAi | Provider::Grok | Provider::Azure => {
                body["choices"][0]["message"]["content"]
                    .as_str()
                    .map(str::to_owned)
            }
            Provider::Gemini => {
                let parts = body["candidates"][0]["content"]["parts"].as_array()?;
                Some(parts.iter().filter_map(|p| p["text"].as_str()).collect())
            }
        }
    }

    /// The error a non-2xx response means.
    fn classify(&self, status: u16, body: &str, retry_after: Option<u64>) -> LlmError {
        // Scrubbed before the message is cut to length: half a key is not recognised.
        let body = &crate::secrets::scrub(body, &[&self.config.api_key]);
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let error = &parsed["error"];
        let message = error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .or_else(|| parsed["message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
                if line.is_empty() {
                    format!("HTTP {status}")
                } else {
                    line.chars().take(300).collect()
                }
            });
        let code = [&error["code"], &error["type"], &error["status"]]
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let mentions_key = code.contains("api_key") || message.to_lowercase().contains("api key");
        let mentions_model = code.contains("model") || message.to_lowercase().contains("model");
        let kind = match status {
            401 | 403 => LlmErrorKind::Unauthorized,
            429 => LlmErrorKind::RateLimited { retry_after },
            400 if mentions_key => LlmErrorKind::Unauthorized,
            404 => LlmErrorKind::InvalidModel,
            400 | 422 if mentions_model => LlmErrorKind::InvalidModel,
            _ => LlmErrorKind::Unavailable,
        };
        self.error(kind, message)
    }
}

impl Llm for HttpLlm {
    fn provider(&self) -> &str {
        self.config.provider.as_str()
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    fn complete(&self, prompt: &Prompt) -> Result<String, LlmError> {
        let (url, headers, body) = self.request(prompt);
        let body = serde_json::to_vec(&body)
            .map_err(|e| self.error(LlmErrorKind::Refused, e.to_string()))?;
        let mut attempt = 0;
        let mut response = loop {
            let mut request = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json");
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            match request.send(body.as_slice()) {
                Ok(response) => break response,
                // Nothing reached the provider: one more try is safe.
                Err(ureq::Error::ConnectionFailed) if attempt == 0 => attempt += 1,
                Err(e) => {
                    return Err(self.error(
                        LlmErrorKind::Unavailable,
                        format!("cannot reach the provider: {e}"),
                    ));
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .map_err(|e| {
                self.error(
                    LlmErrorKind::Unavailable,
                    format!("reading the provider's response: {e}"),
                )
            })?;
        if !(200..300).contains(&status) {
            return Err(self.classify(status, &text, retry_after));
        }
        let parsed: Value = serde_json::from_str(&text).map_err(|_| {
            self.error(
                LlmErrorKind::BadOutput,
                "the provider's response is not JSON",
            )
        })?;
        self.text(&parsed)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| self.error(LlmErrorKind::BadOutput, "the provider returned no text"))
    }
}
