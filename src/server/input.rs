//! Request input: reading the body, and typed field extraction that collects FastAPI-style
//! validation errors (`detail: [{loc, msg, type}]`) instead of stopping at the first one.

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::errors::{ApiError, FieldError};
use crate::{MemoryId, Timestamp};

/// How much of an oversized body is read and discarded before answering `413`. Closing a
/// connection with unread bytes makes the kernel reset it, which can destroy the `413` before
/// the client reads it; draining a moderately oversized body lets the answer arrive intact.
/// Beyond this, the server answers at once and closes.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// `413` for a body over `max` bytes.
pub(crate) fn too_large(max: usize) -> ApiError {
    ApiError::detail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body too large (limit {max} bytes)"),
    )
}

/// Reads the whole body, refusing more than `max` bytes with `413`.
pub(crate) async fn read_body(
    headers: &hyper::HeaderMap,
    body: Incoming,
    max: usize,
    timeout: std::time::Duration,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError {
        close: true,
        ..too_large(max)
    };
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > DRAIN_LIMIT as u64 => return Err(too_large()),
        Some(n) if n > max as u64 => {
            drain(body).await;
            return Err(too_large());
        }
        _ => {}
    }
    let mut body = body;
    let read = async {
        let mut collected = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(ApiError::bad_request("Could not read the request body"));
            };
            if let Ok(data) = frame.into_data() {
                if collected.len() + data.len() > max {
                    return Err(too_large());
                }
                collected.extend_from_slice(&data);
            }
        }
        Ok(bytes::Bytes::from(collected))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Err(e)) if e.status == StatusCode::PAYLOAD_TOO_LARGE => {
            drain(body).await;
            Err(e)
        }
        Ok(result) => result,
        // The rest of the body never came: the connection closes after the answer (what is
        // left of the body would be read as the next request).
        Err(_) => Err(ApiError {
            close: true,
            ..ApiError::detail(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} s",
                    timeout.as_secs_f64()
                ),
            )
        }),
    }
}

/// How long an oversized body is drained before the server answers anyway (a client that
/// announced a body and never sends it still gets its `413`).
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of the rest of a body, for at most
/// [`DRAIN_TIME`].
async fn drain(body: Incoming) {
    discard(body, DRAIN_LIMIT).await;
}

/// Reads and discards the rest of a body, at most `limit` bytes and for at most
/// [`DRAIN_TIME`]: true when the body ended within both, so the connection can serve
/// another request.
async fn discard(mut body: Incoming, limit: usize) -> bool {
    let read = async {
        let mut seen = 0usize;
        loop {
            match body.frame().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(frame)) => {
                    seen += frame.data_ref().map_or(0, |d| d.len());
                    if seen > limit {
                        return false;
                    }
                }
            }
        }
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

/// How much of a body the server reads and discards when it answers without needing it
/// (a refused request), to keep the connection usable.
const UNREAD_LIMIT: usize = 64 * 1024;

/// Reads and discards a body the answer did not need (see [`discard`]): false at once when
/// it announced more than [`UNREAD_LIMIT`] bytes.
pub(crate) async fn discard_small(body: Incoming) -> bool {
    use hyper::body::Body as _;
    if body.size_hint().lower() > UNREAD_LIMIT as u64 {
        return false;
    }
    discard(body, UNREAD_LIMIT).await
}

/// Parses a JSON body that must be an object. Malformed JSON (including invalid UTF-8 and an
/// empty body) is `400`; valid JSON that is not an object is `422`.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::validation(vec![FieldError {
            loc: vec![json!("body")],
            msg: "value is not a valid dict".into(),
            kind: "type_error.dict",
        }])),
    }
}

/// The message of a string holding U+0000.
pub(crate) const NUL_MESSAGE: &str = "string must not contain NUL (\\u0000) characters";

/// The `type` of that `422`.
pub(crate) const NUL_KIND: &str = "value_error.str.nul";

/// `422` for a string with U+0000 at `loc` (a field the endpoint reads; unknown fields are
/// ignored): no client means one, and PostgreSQL cannot store it, so both backends refuse
/// it alike.
pub(crate) fn nul_error(loc: Vec<Value>) -> FieldError {
    FieldError {
        loc,
        msg: NUL_MESSAGE.into(),
        kind: NUL_KIND,
    }
}

fn missing(loc: Vec<Value>) -> FieldError {
    FieldError {
        loc,
        msg: "field required".into(),
        kind: "value_error.missing",
    }
}

/// Typed access to a JSON object's fields. Absent and `null` fields read as `None`; a field
/// of the wrong type records an error and reads as `None`.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: Vec<Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn body(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            prefix: vec![json!("body")],
            errors: Vec::new(),
        }
    }

    fn loc(&self, name: &str) -> Vec<Value> {
        let mut loc = self.prefix.clone();
        loc.push(json!(name));
        loc
    }

    fn error(&mut self, name: &str, msg: &str, kind: &'static str) {
        let loc = self.loc(name);
        self.errors.push(FieldError {
            loc,
            msg: msg.into(),
            kind,
        });
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Whether the field is present and not `null`.
    pub fn present(&self, name: &str) -> bool {
        self.value(name).is_some()
    }

    pub fn str(&mut self, name: &str) -> Option<String> {
        match self.value(name)? {
            Value::String(s) if s.contains('\0') => {
                let loc = self.loc(name);
                self.errors.push(nul_error(loc));
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.error(name, "str type expected", "type_error.str");
                None
            }
        }
    }

    pub fn required_str(&mut self, name: &str) -> Option<String> {
        if !self.present(name) {
            let loc = self.loc(name);
            self.errors.push(missing(loc));
            return None;
        }
        self.str(name)
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.value(name)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.error(
                    name,
                    "value could not be parsed to a boolean",
                    "type_error.bool",
                );
                None
            }
        }
    }

    /// An integer, by the rule every integer field follows (body and query string): a number
    /// whose value is integral, however written (`5`, `5.0`, `5e0`, `1e308`), is that
    /// integer, saturated to `i64`; anything else — a fraction, a string, a boolean — is a
    /// `422` `type_error.integer`. The field then applies its documented range: clamped
    /// (`importance_score`, spec §3.5) or refused with `422` (`limit`).
    pub fn int(&mut self, name: &str) -> Option<i64> {
        let value = self.value(name)?;
        if let Some(i) = value.as_i64() {
            return Some(i);
        }
        if value.is_u64() {
            return Some(i64::MAX);
        }
        match value.as_f64().and_then(integral) {
            Some(i) => Some(i),
            None => {
                self.error(name, "value is not a valid integer", "type_error.integer");
                None
            }
        }
    }

    pub fn number(&mut self, name: &str) -> Option<f64> {
        match self.value(name)?.as_f64() {
            Some(f) if f.is_finite() => Some(f),
            _ => {
                self.error(name, "value is not a valid float", "type_error.float");
                None
            }
        }
    }

    pub fn timestamp(&mut self, name: &str) -> Option<Timestamp> {
        let text = self.str(name)?;
        match Timestamp::parse(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(name, datetime_error(&e), "value_error.datetime");
                None
            }
        }
    }

    pub fn uuid(&mut self, name: &str) -> Option<MemoryId> {
        let text = self.str(name)?;
        match text.parse::<uuid::Uuid>() {
            Ok(u) => Some(MemoryId::from_uuid(u)),
            Err(_) => {
                self.error(name, "value is not a valid uuid", "type_error.uuid");
                None
            }
        }
    }

    pub fn str_list(&mut self, name: &str) -> Option<Vec<String>> {
        let Value::Array(items) = self.value(name)? else {
            self.error(name, "value is not a valid list", "type_error.list");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if s.contains('\0') => {
                    let mut loc = self.loc(name);
                    loc.push(json!(i));
                    self.errors.push(nul_error(loc));
                    ok = false;
                }
                Value::String(s) => out.push(s.clone()),
                _ => {
                    let mut loc = self.loc(name);
                    loc.push(json!(i));
                    self.errors.push(FieldError {
                        loc,
                        msg: "str type expected".into(),
                        kind: "type_error.str",
                    });
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    pub fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        match self.value(name)? {
            Value::Object(map) => Some(map),
            _ => {
                self.error(name, "value is not a valid dict", "type_error.dict");
                None
            }
        }
    }

    pub fn array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        match self.value(name)? {
            Value::Array(items) => Some(items),
            _ => {
                self.error(name, "value is not a valid list", "type_error.list");
                None
            }
        }
    }

    /// Records an error for a nested location (`["body", "messages", 0, "role"]`).
    pub fn push(&mut self, loc: Vec<Value>, msg: &str, kind: &'static str) {
        let mut full = self.prefix.clone();
        full.extend(loc);
        self.errors.push(FieldError {
            loc: full,
            msg: msg.into(),
            kind,
        });
    }

    /// Records a range error for an integer field.
    pub fn range_error(&mut self, name: &str, below: bool, limit: i64) {
        let (msg, kind) = if below {
            (
                format!("ensure this value is greater than or equal to {limit}"),
                "value_error.number.not_ge",
            )
        } else {
            (
                format!("ensure this value is less than or equal to {limit}"),
                "value_error.number.not_le",
            )
        };
        let loc = self.loc(name);
        self.errors.push(FieldError { loc, msg, kind });
    }

    /// `Ok` if every field read so far was well-typed, else the `422`.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// The integer a finite, integral number is (saturated to `i64`); `None` for a fraction or
/// a non-finite value.
fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0).then_some(f as i64)
}

/// Typed access to query-string parameters, with the same error collection.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let errors = pairs
            .iter()
            .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, _)| nul_error(vec![json!("query"), json!(k)]))
            .collect();
        Query { pairs, errors }
    }

    fn error(&mut self, name: &str, msg: String, kind: &'static str) {
        self.errors.push(FieldError {
            loc: vec![json!("query"), json!(name)],
            msg,
            kind,
        });
    }

    /// The last value given for `name` (as FastAPI does for scalar parameters).
    pub fn str(&self, name: &str) -> Option<String> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        let text = self.str(name)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => {
                self.error(
                    name,
                    "value could not be parsed to a boolean".into(),
                    "type_error.bool",
                );
                None
            }
        }
    }

    /// An integer within `range` (`422` outside it), read by the rule of [`Fields::int`].
    pub fn int_in(&mut self, name: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let text = self.str(name)?;
        let text = text.trim();
        let parsed = text
            .parse::<i64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().and_then(integral));
        let Some(value) = parsed else {
            self.error(
                name,
                "value is not a valid integer".into(),
                "type_error.integer",
            );
            return None;
        };
        if value < *range.start() {
            self.error(
                name,
                format!(
                    "ensure this value is greater than or equal to {}",
                    range.start()
                ),
                "value_error.number.not_ge",
            );
            return None;
        }
        if value > *range.end() {
            self.error(
                name,
                format!("ensure this value is less than or equal to {}", range.end()),
                "value_error.number.not_le",
            );
            return None;
        }
        Some(value)
    }

    pub fn timestamp(&mut self, name: &str) -> Option<(Timestamp, String)> {
        let text = self.str(name)?;
        match Timestamp::parse(&text) {
            Ok(t) => Some((t, text)),
            Err(e) => {
                self.error(name, datetime_error(&e).into(), "value_error.datetime");
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// The 422 `msg` for a timestamp [`Timestamp::parse`] refused.
pub(crate) fn datetime_error(e: &crate::Error) -> &'static str {
    match e {
        crate::Error::InvalidArgument(m) if m.ends_with(crate::time::OUTSIDE_YEARS) => {
            "datetime must be within the years 0001-9999 (UTC)"
        }
        _ => "invalid datetime format",
    }
}
