//! The MCP tools: each one's arguments (their JSON Schema derives from the structs below, doc
//! comments included) and the REST request it stands for. A tool *is* that request: the
//! server answers it with the same handler, checks and errors as over HTTP (in process on
//! `aurra serve` and on an embedded store, over HTTP with `aurra mcp --server`), so a tool
//! reports success exactly when the endpoint does, with the endpoint's `detail` otherwise.

use hyper::Method;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The version of the tool list (names, arguments, results). Bumped when a tool changes
/// shape; a tool is added or removed only with a new version.
pub(crate) const TOOLS_VERSION: &str = "2";

/// A REST request: what a tool call stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct RestCall {
    pub method: Method,
    /// The path, with any id already in it (`/memories/{id}/timeline`).
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The JSON body, for the endpoints that take one.
    pub body: Option<Value>,
}

/// One turn of a conversation given to `remember`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Turn {
    /// Who spoke: `user` or `assistant` (`system` turns are read but yield no facts).
    pub role: String,
    /// What they said.
    pub content: String,
    /// The speaker's name, when known: facts name their subject by it ("Caroline went
    /// hiking"), and an `assistant` turn with a name is a person's, whose facts are kept too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When this turn was said (ISO 8601): its relative time ("last week") is resolved
    /// against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// `remember`: store one fact, or a conversation to extract facts from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Remember {
    /// One atomic fact, stated plainly ("Alice is a senior engineer at Acme"). Give this or
    /// `messages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A conversation; aurra extracts the facts worth keeping from it. Give this or `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Turn>>,
    /// The tenant (a user, a project) the memory belongs to; omit for the default tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// A short topic ("people", "preferences"); content mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// 1 (trivial) to 10 (critical); default 5; content mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance_score: Option<i64>,
    /// Where the fact came from (default `agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Links the facts of one conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// When the fact became true (ISO 8601), if not now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Whether a new fact that contradicts an older one replaces it (default: the key's
    /// setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_supersede: Option<bool>,
}

/// `recall`: answer a question from memory.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    /// The question, in plain language.
    pub question: String,
    /// Only this tenant's memories (omit for the default tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Only memories from these sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// Answer as things were true at this instant (ISO 8601), not now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Answer from what the store believed at this instant (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_as_of: Option<String>,
    /// Include the proof tree binding the answer to its evidence (`answer_hash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_proof_tree: Option<bool>,
    /// How many candidate memories to consider, 1–100 (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// `list_memories`: the memories of a tenant, now or at another time.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMemories {
    /// The tenant (omit for the default tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Only memories from this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Also superseded and expired memories (the full history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_superseded: Option<bool>,
    /// The memories true at this instant (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The memories the store believed at this instant (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_as_of: Option<String>,
    /// At most this many, 1–1000 (default 100), newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// `supersede`: a newer memory replaces an older one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Supersede {
    /// The memory that is no longer true.
    pub memory_id: String,
    /// The memory that replaces it (remember the new fact first).
    pub superseded_by: String,
    /// When the old fact stopped being true (ISO 8601), if not now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

/// `expire`: a memory stopped (or will stop) being true, with no replacement.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expire {
    /// The memory.
    pub memory_id: String,
    /// When it stops being true (ISO 8601); past or future.
    pub valid_to: String,
}

/// `timeline` and `audit`: one memory's history.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryRef {
    /// The memory.
    pub memory_id: String,
}

/// `forget_tenant`: delete every memory of one tenant, for good.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgetTenant {
    /// The tenant whose memories are deleted (required: this tool never deletes a whole
    /// account).
    pub tenant_id: String,
}

/// A tool: its name, its description for a model, its arguments' type, and how a call
/// becomes a REST request.
pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The JSON Schema of its arguments.
    pub schema: fn() -> Map<String, Value>,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    /// The REST request for `args` (an error names what is wrong with them).
    pub call: fn(Value) -> Result<RestCall, String>,
}

fn schema<T: JsonSchema>() -> Map<String, Value> {
    match serde_json::to_value(schemars::schema_for!(T)) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn args<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("invalid arguments: {e}"))
}

/// A query string from `(name, value)` pairs (absent values left out).
fn query(pairs: &[(&str, Option<String>)]) -> Option<String> {
    let mut out = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        if let Some(value) = value {
            out.append_pair(name, value);
            any = true;
        }
    }
    any.then(|| out.finish())
}

/// A memory id as a path segment (percent-encoded: the REST route refuses a malformed id
/// with its own `422`).
fn id_segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn body(value: &impl Serialize) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// Every tool, in the order `tools/list` gives them.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "remember",
        title: "Remember a fact or a conversation",
        description: "Store something worth remembering across sessions. Give `content` for one \
            atomic fact stated plainly, or `messages` for a conversation, from which aurra \
            extracts the facts itself. Facts are never overwritten: when one changes, remember \
            the new one and `supersede` the old (or set `auto_supersede`). Returns the new \
            memory's id (`memory_id`), or `status: duplicate` when the same fact is already \
            stored; the write is durable when this returns.",
        schema: schema::<Remember>,
        read_only: false,
        destructive: false,
        idempotent: false,
        call: |value| {
            let a: Remember = args(value)?;
            Ok(RestCall {
                method: Method::POST,
                path: "/agent/memories".into(),
                query: None,
                body: body(&a),
            })
        },
    },
    Tool {
        name: "recall",
        title: "Answer a question from memory",
        description: "Answer a question from stored memories, with `[mem-N]` citations that \
            point at the memories used (`citations`, and the memories themselves in \
            `memories`). Use it before answering anything about the user, their work or past \
            conversations. `as_of` answers as things were at another time; \
            `transaction_as_of` as the store knew them then. Superseded facts are not cited \
            unless the time asked about is when they were true.",
        schema: schema::<Recall>,
        read_only: true,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: Recall = args(value)?;
            Ok(RestCall {
                method: Method::POST,
                path: "/agent/query".into(),
                query: None,
                body: body(&a),
            })
        },
    },
    Tool {
        name: "list_memories",
        title: "List memories",
        description: "List the memories of a tenant, newest first: what is true now by \
            default, what was true at `as_of`, what the store believed at \
            `transaction_as_of`, or the whole history with `include_superseded`. Each memory \
            carries its id, text, validity and whether it is current, expired or superseded.",
        schema: schema::<ListMemories>,
        read_only: true,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: ListMemories = args(value)?;
            Ok(RestCall {
                method: Method::GET,
                path: "/agent/memories".into(),
                query: query(&[
                    ("tenant_id", a.tenant_id),
                    ("source", a.source),
                    (
                        "include_superseded",
                        a.include_superseded.map(|b| b.to_string()),
                    ),
                    ("as_of", a.as_of),
                    ("transaction_as_of", a.transaction_as_of),
                    ("limit", a.limit.map(|n| n.to_string())),
                ]),
                body: None,
            })
        },
    },
    Tool {
        name: "supersede",
        title: "Replace an old memory with a newer one",
        description: "Mark a memory as replaced by a newer one (remember the new fact first, \
            then pass both ids). The old memory stops being current but stays in the history: \
            `list_memories` with `as_of` and `timeline` still show it. Repeating the same call \
            changes nothing.",
        schema: schema::<Supersede>,
        read_only: false,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: Supersede = args(value)?;
            Ok(RestCall {
                method: Method::POST,
                path: format!("/memories/{}/supersede", id_segment(&a.memory_id)),
                query: None,
                body: Some(json!({"superseded_by": a.superseded_by, "valid_to": a.valid_to})),
            })
        },
    },
    Tool {
        name: "expire",
        title: "End a memory's validity",
        description: "Say that a memory stopped (or will stop) being true at `valid_to`, with \
            no replacement (\"on leave until Friday\"). It stays in the history. Use \
            `supersede` instead when a newer fact replaces it.",
        schema: schema::<Expire>,
        read_only: false,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: Expire = args(value)?;
            Ok(RestCall {
                method: Method::POST,
                path: format!("/memories/{}/supersede", id_segment(&a.memory_id)),
                query: None,
                body: Some(json!({"valid_to": a.valid_to})),
            })
        },
    },
    Tool {
        name: "timeline",
        title: "A memory's chain of versions",
        description: "The chain of versions a memory belongs to, oldest first: what it \
            replaced and what replaced it, with each version's validity.",
        schema: schema::<MemoryRef>,
        read_only: true,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: MemoryRef = args(value)?;
            Ok(RestCall {
                method: Method::GET,
                path: format!("/memories/{}/timeline", id_segment(&a.memory_id)),
                query: None,
                body: None,
            })
        },
    },
    Tool {
        name: "audit",
        title: "A memory's audit log",
        description: "Every event of one memory, in order: created, superseded, expired, \
            classified, with when and by whom. Use it to explain why a fact is or is not \
            current.",
        schema: schema::<MemoryRef>,
        read_only: true,
        destructive: false,
        idempotent: true,
        call: |value| {
            let a: MemoryRef = args(value)?;
            Ok(RestCall {
                method: Method::GET,
                path: format!("/memories/{}/audit", id_segment(&a.memory_id)),
                query: None,
                body: None,
            })
        },
    },
    Tool {
        name: "forget_tenant",
        title: "Delete every memory of a tenant",
        description: "Permanently delete every memory of one tenant, with its history. This \
            cannot be undone; use it only when the user asks for their data to be erased. \
            Returns how many memories were deleted.",
        schema: schema::<ForgetTenant>,
        read_only: false,
        destructive: true,
        idempotent: true,
        call: |value| {
            let a: ForgetTenant = args(value)?;
            if a.tenant_id.trim().is_empty() {
                return Err("tenant_id must not be empty".into());
            }
            Ok(RestCall {
                method: Method::DELETE,
                path: "/agent/memories".into(),
                query: query(&[("tenant_id", Some(a.tenant_id))]),
                body: None,
            })
        },
    },
];

/// The tool named `name`.
pub fn tool(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tool list promises, per tool: its name, its arguments' schema and its
    /// annotations (descriptions may be reworded within a version).
    fn contract() -> Value {
        Value::Array(
            TOOLS
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "input_schema": (t.schema)(),
                        "read_only": t.read_only,
                        "destructive": t.destructive,
                        "idempotent": t.idempotent,
                    })
                })
                .collect(),
        )
    }

    /// The tool list of this version, as committed. Any change to a tool's name, arguments
    /// (their descriptions included) or annotations fails here: when a name, an argument or
    /// an annotation changed, bump [`TOOLS_VERSION`]; then commit the list
    /// (`AURRA_REGENERATE_FIXTURES=1 cargo test --lib the_tool_list` writes it).
    #[test]
    fn the_tool_list_is_the_committed_one_of_its_version() {
        let path = format!(
            "{}/tests/fixtures/mcp/tools-v{TOOLS_VERSION}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let current = serde_json::to_string_pretty(&contract()).unwrap() + "\n";
        if std::env::var_os("AURRA_REGENERATE_FIXTURES").is_some() {
            std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
            std::fs::write(&path, &current).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e} (a new TOOLS_VERSION needs its list committed)")
        });
        assert!(
            committed == current,
            "the MCP tool list changed: bump TOOLS_VERSION if a name, argument or annotation \
             changed, then regenerate and commit {path}"
        );
    }

    #[test]
    fn every_tool_has_an_object_schema_and_a_distinct_name() {
        let mut names = std::collections::HashSet::new();
        for tool in TOOLS {
            assert!(names.insert(tool.name), "{}", tool.name);
            let schema = (tool.schema)();
            assert_eq!(schema.get("type"), Some(&json!("object")), "{}", tool.name);
            assert!(tool.description.len() > 80, "{}", tool.name);
        }
    }

    #[test]
    fn calls_map_to_their_endpoints() {
        let list = (tool("list_memories").unwrap().call)(json!({
            "tenant_id": "a b", "as_of": "2026-01-01T00:00:00Z", "limit": 5
        }))
        .unwrap();
        assert_eq!(list.method, Method::GET);
        assert_eq!(
            list.query.as_deref(),
            Some("tenant_id=a+b&as_of=2026-01-01T00%3A00%3A00Z&limit=5")
        );
        let expire = (tool("expire").unwrap().call)(json!({
            "memory_id": "../x", "valid_to": "2030-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(expire.path, "/memories/..%2Fx/supersede");
        assert_eq!(
            expire.body,
            Some(json!({"valid_to": "2030-01-01T00:00:00Z"}))
        );
        let refused = (tool("remember").unwrap().call)(json!({"content": "x", "colour": 1}));
        assert!(refused.unwrap_err().contains("colour"));
        assert!((tool("forget_tenant").unwrap().call)(json!({"tenant_id": " "})).is_err());
        assert!((tool("forget_tenant").unwrap().call)(json!({})).is_err());
    }
}
