//! Messages-mode extraction (spec §9.2): turning a chat into atomic facts. One [`Extractor`]
//! interface with two implementations: the built-in offline [`RulesExtractor`] (`rules-v1`,
//! deterministic and conservative) and [`LlmExtractor`] (a language model with a versioned
//! prompt and a strict JSON contract).

mod dates;
mod lexicon;
mod llm;
mod rewrite;
mod rules;

pub use dates::{TimePhrase, render_day, resolve_time, time_phrases};
pub use llm::{EXTRACT_PROMPT_VERSION, LlmExtractor};
pub use rules::RulesExtractor;

use crate::error::Result;
use crate::time::Timestamp;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// The message text.
    pub content: String,
    /// Who spoke, when the message says (the OpenAI chat shape's optional `name`): facts
    /// name their subject by it. An assistant message with a name is a person's.
    pub name: Option<String>,
    /// When the message was said, when it says: its relative time is read against this
    /// instead of the request's day.
    pub at: Option<Timestamp>,
}

impl Turn {
    /// A message of `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Turn {
            role: role.into(),
            content: content.into(),
            name: None,
            at: None,
        }
    }

    /// The message with its speaker's name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The message with the instant it was said.
    pub fn said_at(mut self, at: Timestamp) -> Self {
        self.at = Some(at);
        self
    }
}

/// One extracted fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// A short, self-contained sentence ("User's name is Alice Chen.").
    pub decision: String,
    /// A short label ("Identity", "Employment", ...).
    pub topic: String,
    /// 1–10 on the anchor scale of spec §3.5.
    pub importance_score: i64,
}

/// Turns a conversation into facts.
pub trait Extractor: Send + Sync {
    /// Provider name for the `extraction` metadata (`builtin`, `openai`, ...).
    fn provider(&self) -> &str;
    /// Model or rule-set name (`rules-v1`, a model id).
    fn model(&self) -> &str;
    /// Version of the prompt or rule set.
    fn prompt_version(&self) -> &str;
    /// The facts of `turns`, in order; `today` is the date relative time is read against.
    /// No facts is a valid answer (small talk, questions).
    fn extract(&self, turns: &[Turn], today: Timestamp) -> Result<Vec<Fact>>;
}
