//! Error responses: every non-2xx answer is a JSON object with `detail` (spec §2.5).

use hyper::header::{CONNECTION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::Body;
use crate::Error;

/// One entry of a FastAPI-style validation error list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    /// Where: `["body", "content"]`, `["query", "limit"]`, `["path", "memory_id"]`, ...
    pub loc: Vec<Value>,
    /// What is wrong, in pydantic's words.
    pub msg: String,
    /// pydantic's error type (`value_error.missing`, `type_error.str`, ...).
    pub kind: &'static str,
}

/// An error response: status, JSON body, and `Retry-After` when the status needs one.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
    /// Answer with `Connection: close` (the request body was not read to its end).
    pub close: bool,
    /// A language model could not be reached or failed (`LlmErrorKind::Unavailable`): 502
    /// for a caller's own model, 503 when it was the server's default (spec §4.2), which
    /// [`ApiError::for_model`] decides.
    pub llm_unavailable: bool,
    /// The methods a `405`'s path takes (its `Allow` header).
    pub allow: Option<&'static str>,
}

impl ApiError {
    /// `{"detail": message}` with `status`.
    pub fn detail(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "detail": message.into() }),
            retry_after: None,
            close: false,
            llm_unavailable: false,
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, message)
    }

    /// 429 with `Retry-After` (at least one second).
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::detail(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    /// 422 with the list of field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail: Vec<Value> = errors
            .into_iter()
            .map(|e| json!({ "loc": e.loc, "msg": e.msg, "type": e.kind }))
            .collect();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "detail": detail }),
            retry_after: None,
            close: false,
            llm_unavailable: false,
            allow: None,
        }
    }

    /// 422 for one malformed path parameter.
    pub fn bad_path_uuid(name: &str) -> Self {
        Self::validation(vec![FieldError {
            loc: vec![json!("path"), json!(name)],
            msg: "value is not a valid uuid".into(),
            kind: "type_error.uuid",
        }])
    }

    /// `{"detail": {"error": "llm_provider_error", "provider", "message"}}` with the status of
    /// spec §9.1 (the SDK raises `AurraLLMProviderError` on the object, whatever the status).
    pub fn llm_provider(e: &crate::llm::LlmError) -> Self {
        use crate::llm::LlmErrorKind;
        let (status, retry_after) = match e.kind {
            LlmErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, None),
            LlmErrorKind::InvalidModel => (StatusCode::UNPROCESSABLE_ENTITY, None),
            LlmErrorKind::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(retry_after.unwrap_or(1).max(1)),
            ),
            LlmErrorKind::Refused => (StatusCode::BAD_REQUEST, None),
            LlmErrorKind::Unavailable | LlmErrorKind::BadOutput => (StatusCode::BAD_GATEWAY, None),
        };
        // Provider and kind only: the message may quote the caller's input, never a key.
        tracing::warn!(provider = %e.provider, kind = ?e.kind, "llm provider error");
        ApiError {
            status,
            body: json!({"detail": {
                "error": "llm_provider_error",
                "provider": e.provider,
                "message": e.message,
            }}),
            retry_after,
            close: false,
            llm_unavailable: e.kind == LlmErrorKind::Unavailable,
            allow: None,
        }
    }

    /// This error as the answer to a request whose model was the caller's own (`byo`) or the
    /// server's default: a default model that cannot be reached or is failing is a
    /// dependency temporarily unavailable, 503; a caller's own stays 502 (spec §4.2, §9.1).
    pub fn for_model(mut self, byo: bool) -> Self {
        if self.llm_unavailable && !byo {
            self.status = StatusCode::SERVICE_UNAVAILABLE;
        }
        self
    }

    pub fn not_authenticated() -> Self {
        Self::detail(StatusCode::UNAUTHORIZED, "Not authenticated")
    }

    pub fn into_response(self) -> Response<Body> {
        use http_body_util::BodyExt;
        self.into_whole_response()
            .map(|b| b.map_err(|never| match never {}).boxed())
    }

    /// [`ApiError::into_response`] with its body as the whole bytes it is.
    pub(crate) fn into_whole_response(self) -> Response<http_body_util::Full<bytes::Bytes>> {
        let mut resp = Response::new(http_body_util::Full::new(bytes::Bytes::from(
            self.body.to_string(),
        )));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(methods) = self.allow {
            resp.headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static(methods));
        }
        // Our own authentication failure (a provider's 401 is the provider's, not ours).
        if self.status == StatusCode::UNAUTHORIZED && self.body["detail"].is_string() {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<Error> for ApiError {
    /// Every variant, by name: a new one does not compile until it has a status.
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(msg) | Error::Conflict(msg) => ApiError::bad_request(msg),
            Error::NotFound(_) => ApiError::detail(StatusCode::NOT_FOUND, "Memory not found"),
            Error::Forbidden(_) => {
                ApiError::detail(StatusCode::FORBIDDEN, "Memory belongs to another account")
            }
            Error::Poisoned | Error::Storage(_) | Error::Io(_) => {
                tracing::error!(error = %e, "store unavailable");
                ApiError::detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Storage temporarily unavailable; retry later",
                )
            }
            Error::Contention(_) => {
                tracing::warn!(error = %e, "transaction given up after conflicts");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::detail(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Too many concurrent changes to this account; retry",
                    )
                }
            }
            Error::Llm(e) => ApiError::llm_provider(&e),
            Error::Unavailable(msg) => {
                // The message names the operator's endpoint: logged, not sent to clients.
                tracing::warn!(error = %msg, "embedding model unavailable");
                ApiError::detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Embedding model temporarily unavailable; retry later",
                )
            }
            Error::IncompatibleFormat { .. } | Error::Corrupted(_) => {
                tracing::error!(error = %e, "store failure");
                ApiError::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}
