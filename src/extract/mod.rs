//! Messages-mode extraction (spec §9.2): turning a chat into atomic facts. One [`Extractor`]
//! interface with two implementations: the built-in offline [`RulesExtractor`] (`rules-v1`,
//! deterministic and conservative) and [`LlmExtractor`] (a language model with a versioned
//! prompt and a strict JSON contract).

mod llm;
mod rules;

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
}

impl Turn {
    /// A message of `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Turn {
            role: role.into(),
            content: content.into(),
        }
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
