//! Bulk loads of plain facts (`aurra import --facts`): one JSON object per line, a
//! content-mode `POST /agent/memories` body read by the very code that reads the request's
//! body ([`WriteBody::read`]), so a line is refused exactly when the request would be, with
//! the same message; or a memory as Mem0 exports it, mapped onto such a body first.
//!
//! # The Mem0 mapping
//!
//! A line with `memory` and no `content` is a Mem0 memory (one item of `get_all`'s
//! `results`; `jq -c '.results[]'` turns a saved response into lines):
//!
//! | Mem0 | aurra write body |
//! |---|---|
//! | `memory` | `content` |
//! | `user_id`, else `agent_id` | `tenant_id` (neither: the default tenant) |
//! | `created_at` | `recorded_at` (the fact's `valid_from` and `captured_at`) |
//! | `updated_at`, when later than `created_at` | `valid_from` (the current text holds since then) |
//! | `id` | `external_id` (a rerun, or the same memory loaded twice, is a duplicate) |
//! | `run_id` | `session_id` |
//! | `metadata.topic`, else `categories[0]`, else `metadata.category`, else `metadata.categories[0]` | `topic` |
//! | `metadata.importance_score`, else `metadata.importance` (a number: the score; a string: the legacy level) | `importance_score` / `importance` |
//! | — | `source`: `"mem0"` |
//!
//! Mem0's `hash` and the rest of `metadata` are not kept. Errors name Mem0's field.

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::handlers::WriteBody;
use super::input::json_object;
use crate::NewMemory;

/// The source of memories loaded from a Mem0 export.
pub const MEM0_SOURCE: &str = "mem0";

/// One line of a facts file, read.
#[derive(Debug)]
pub struct Fact {
    /// The memory to write, defaults applied as `POST /agent/memories` applies them.
    pub memory: NewMemory,
    /// The line was a Mem0 memory (mapped, see the module's documentation).
    pub mem0: bool,
}

/// Reads one line of a facts file: a content-mode write body or a Mem0 memory. The error is
/// the `detail` the server would answer with (a `422`'s list rendered as `field: message`).
pub fn parse_fact(line: &str) -> Result<Fact, String> {
    let map = json_object(line.as_bytes()).map_err(|e| render(&e, &[]))?;
    let mem0 = map.contains_key("memory") && !map.contains_key("content");
    let (map, renamed) = if mem0 {
        from_mem0(&map)
    } else {
        (map, Vec::new())
    };
    if map.get("messages").is_some_and(|v| !v.is_null()) {
        return Err(
            "a messages-mode body: --facts loads facts (`content`); send a \
                    conversation to POST /agent/memories to extract its facts"
                .into(),
        );
    }
    let body = WriteBody::read(&map).map_err(|e| render(&e, &renamed))?;
    let memory = body
        .content
        .ok_or_else(|| "Must provide content or messages".to_owned())?;
    // What the store itself refuses (as the request's 400) is refused here, per line, rather
    // than failing the batch the line is written in.
    crate::store::validate_new(&memory).map_err(|e| match e {
        crate::Error::InvalidArgument(message) => message,
        other => other.to_string(),
    })?;
    Ok(Fact { memory, mem0 })
}

/// A Mem0 memory as a content-mode write body, and which body field came from which of Mem0's.
fn from_mem0(m: &Map<String, Value>) -> (Map<String, Value>, Vec<(&'static str, String)>) {
    let mut body = Map::new();
    let mut renamed: Vec<(&'static str, String)> = Vec::new();
    let mut take = |ours: &'static str, theirs: String, value: &Value| {
        body.insert(ours.to_owned(), value.clone());
        renamed.push((ours, theirs));
    };
    let present = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    if let Some(v) = present(m.get("memory")) {
        take("content", "memory".into(), &v);
    }
    if let Some(v) = present(m.get("user_id")) {
        take("tenant_id", "user_id".into(), &v);
    } else if let Some(v) = present(m.get("agent_id")) {
        take("tenant_id", "agent_id".into(), &v);
    }
    let created = present(m.get("created_at"));
    if let Some(v) = &created {
        take("recorded_at", "created_at".into(), v);
    }
    if let Some(updated) = present(m.get("updated_at")) {
        let instant = |v: &Value| v.as_str().and_then(|s| crate::Timestamp::parse(s).ok());
        let later = match (instant(&updated), created.as_ref().and_then(instant)) {
            (Some(u), Some(c)) => u > c,
            // Unreadable: validated (and refused) as `valid_from`, naming `updated_at`.
            (None, _) => true,
            (Some(_), None) => created.is_none(),
        };
        if later {
            take("valid_from", "updated_at".into(), &updated);
        }
    }
    if let Some(v) = present(m.get("id")) {
        // Mem0's ids are UUID strings; a number would be just as unique.
        let v = match v {
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        };
        take("external_id", "id".into(), &v);
    }
    if let Some(v) = present(m.get("run_id")) {
        take("session_id", "run_id".into(), &v);
    }
    let metadata = m.get("metadata").and_then(Value::as_object);
    let meta = |key: &str| metadata.and_then(|md| present(md.get(key)));
    let first = |v: Option<Value>| match v {
        Some(Value::Array(items)) => items.into_iter().find(|i| !i.is_null()),
        _ => None,
    };
    if let Some(v) = meta("topic") {
        take("topic", "metadata.topic".into(), &v);
    } else if let Some(v) = first(present(m.get("categories"))) {
        take("topic", "categories[0]".into(), &v);
    } else if let Some(v) = meta("category") {
        take("topic", "metadata.category".into(), &v);
    } else if let Some(v) = first(meta("categories")) {
        take("topic", "metadata.categories[0]".into(), &v);
    }
    let importance = meta("importance_score")
        .map(|v| (v, "metadata.importance_score"))
        .or_else(|| meta("importance").map(|v| (v, "metadata.importance")));
    match importance {
        Some((v @ Value::String(_), theirs)) => take("importance", theirs.into(), &v),
        Some((v, theirs)) => take("importance_score", theirs.into(), &v),
        None => {}
    }
    body.insert("source".into(), Value::String(MEM0_SOURCE.into()));
    (body, renamed)
}

/// The `detail` of `e` as one line; a field a Mem0 line's was mapped to is named as Mem0's.
fn render(e: &ApiError, renamed: &[(&'static str, String)]) -> String {
    match &e.body["detail"] {
        Value::String(s) => s.clone(),
        Value::Array(errors) => errors
            .iter()
            .map(|err| {
                let loc: Vec<String> = err["loc"]
                    .as_array()
                    .map(|parts| {
                        parts
                            .iter()
                            .skip(1)
                            .map(|p| match p {
                                Value::String(s) => renamed
                                    .iter()
                                    .find(|(ours, _)| ours == s)
                                    .map_or_else(|| s.clone(), |(_, theirs)| theirs.clone()),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let msg = err["msg"].as_str().unwrap_or("invalid");
                if loc.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{}: {msg}", loc.join("."))
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_body_reads_as_the_request_would() {
        let fact = parse_fact(
            r#"{"content":" Alice moved to Lisbon ","tenant_id":"alice","topic":"home",
                "importance_score":8,"recorded_at":"2024-03-01T10:00:00Z"}"#,
        )
        .expect("a valid body");
        assert!(!fact.mem0);
        assert_eq!(fact.memory.decision, "Alice moved to Lisbon");
        assert_eq!(fact.memory.tenant.as_deref(), Some("alice"));
        assert_eq!(fact.memory.topic, "home");
        assert_eq!(fact.memory.importance_score, 8);
        assert_eq!(fact.memory.source, "agent");
        assert_eq!(
            fact.memory.recorded_at,
            Some(crate::Timestamp::parse("2024-03-01T10:00:00Z").unwrap())
        );
    }

    #[test]
    fn bad_bodies_get_the_servers_message() {
        let err = |line: &str| parse_fact(line).expect_err(line);
        assert!(err("{").starts_with("Malformed JSON body"));
        assert_eq!(err("[1]"), "value is not a valid dict");
        assert_eq!(err(r#"{"content":"  "}"#), "content must not be empty");
        assert_eq!(err(r#"{"topic":"x"}"#), "Must provide content or messages");
        assert_eq!(
            err(r#"{"content":"x","importance_score":"high"}"#),
            "importance_score: value is not a valid integer"
        );
        assert!(err(r#"{"messages":[{"role":"user","content":"hi"}]}"#).contains("messages"));
    }

    #[test]
    fn a_mem0_memory_maps_onto_a_write_body() {
        let fact = parse_fact(
            r#"{"id":"0b6c6a2e-3f57-4b8e-9d0c-5f0f6b3c1a11","memory":"Prefers window seats",
                "hash":"abc","user_id":"alice","agent_id":"travel-bot","run_id":"trip-7",
                "metadata":{"category":"travel","importance":7,"mood":"happy"},
                "created_at":"2024-07-20T01:23:45.123456-07:00",
                "updated_at":"2024-08-01T09:00:00-07:00"}"#,
        )
        .expect("a valid Mem0 memory");
        let m = fact.memory;
        assert!(fact.mem0);
        assert_eq!(m.decision, "Prefers window seats");
        assert_eq!(m.tenant.as_deref(), Some("alice"));
        assert_eq!(m.source, MEM0_SOURCE);
        assert_eq!(m.session_id.as_deref(), Some("trip-7"));
        assert_eq!(m.topic, "travel");
        assert_eq!(m.importance_score, 7);
        assert_eq!(
            m.external_id.as_deref(),
            Some("0b6c6a2e-3f57-4b8e-9d0c-5f0f6b3c1a11")
        );
        let at = |s| Some(crate::Timestamp::parse(s).unwrap());
        assert_eq!(m.recorded_at, at("2024-07-20T08:23:45.123456Z"));
        assert_eq!(m.valid_from, at("2024-08-01T16:00:00Z"));
    }

    #[test]
    fn a_mem0_memory_never_updated_holds_from_its_creation() {
        let m = parse_fact(
            r#"{"memory":"Is vegetarian","agent_id":"chef","categories":["food"],
                "metadata":{"importance":"high"},
                "created_at":"2024-07-20T00:00:00Z","updated_at":"2024-07-20T00:00:00Z"}"#,
        )
        .expect("valid")
        .memory;
        assert_eq!(m.tenant.as_deref(), Some("chef"));
        assert_eq!(m.topic, "food");
        assert_eq!(
            m.importance_score,
            super::super::wire::importance_from_legacy("high")
        );
        assert_eq!(m.valid_from, None);
    }

    #[test]
    fn a_bad_mem0_field_is_named_as_mem0_names_it() {
        let err = parse_fact(r#"{"memory":"x","user_id":7,"created_at":"yesterday"}"#)
            .expect_err("bad types");
        assert!(err.contains("user_id: str type expected"), "{err}");
        assert!(err.contains("created_at:"), "{err}");
        assert_eq!(
            parse_fact(r#"{"memory":""}"#).expect_err("empty"),
            "content must not be empty"
        );
    }
}
