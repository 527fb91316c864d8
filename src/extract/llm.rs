//! [`LlmExtractor`]: extraction with a language model. The prompt (version
//! [`EXTRACT_PROMPT_VERSION`]) asks for strict JSON, `{"facts": [{"decision", "topic",
//! "importance_score"}]}`; output that does not parse to that shape is an error
//! (`LlmErrorKind::BadOutput`, a 502 on the server) and nothing is written.

use std::fmt::Write as _;

use serde::Deserialize;

use super::{Extractor, Fact, Turn};
use crate::error::{Error, Result};
use crate::llm::{Llm, LlmError, LlmErrorKind, Prompt};
use crate::time::Timestamp;

/// The version of the extraction prompt (`extraction.prompt_version`).
pub const EXTRACT_PROMPT_VERSION: &str = "extract-v2";

const SYSTEM: &str = "You extract durable facts from a conversation for an AI agent's \
long-term memory. Return a JSON object {\"facts\": [...]} where each fact is \
{\"decision\": string, \"topic\": string, \"importance_score\": integer 1-10}.\n\
Rules:\n\
- Each decision is one short, self-contained sentence that names its subject: the \
speaker's name when the line gives one (\"Caroline works at Acme\"), else \"User\" \
(\"User's name is Alice Chen\"); \"you\" is the person spoken to, \"we\" the speaker and \
whoever they name with them. A line with a name is a person's, whichever its role: keep \
their facts too.\n\
- Extract explicit \"remember ...\" instructions, facts about the user, preferences, plans \
and dated events. Also extract specific, recallable things the assistant recommended or \
confirmed (\"Assistant recommended X\").\n\
- Skip greetings, small talk, questions, filler and vague references. Returning no facts \
is correct when nothing durable was said.\n\
- Resolve relative time against the day the line was said (its [said ...] date, else \
Today): \"last week\" said on 2023-03-27 is \"the week of 20 March 2023\", \"yesterday\" \
is \"on 26 March 2023\". Never invent a date: a phrase that names none (\"recently\", \
\"the other day\") stays as said, followed by \"(as of <that day>)\".\n\
- topic: a short label such as Identity, Employment, Location, Family, Health, \
Preferences, Schedule, Education, Hobbies.\n\
- importance_score: 1-2 trivial, 3-4 minor preference, 5 normal, 6-7 useful role or \
commitment, 8 key identity (name, employer, home), 9-10 critical or time-sensitive \
(allergies, deadlines).\n\
Answer with the JSON object only.";

/// Extracts with a language model.
#[derive(Debug)]
pub struct LlmExtractor<'a> {
    llm: &'a dyn Llm,
}

impl<'a> LlmExtractor<'a> {
    /// An extractor calling `llm`.
    pub fn new(llm: &'a dyn Llm) -> Self {
        LlmExtractor { llm }
    }

    /// The prompt for `turns` with `today`.
    pub fn prompt(turns: &[Turn], today: Timestamp) -> Prompt {
        let mut user = String::new();
        let _ = writeln!(user, "Today: {}", today.date());
        user.push_str("Conversation:\n");
        for turn in turns {
            let role = match turn.role.to_ascii_lowercase().as_str() {
                "assistant" => "Assistant",
                "system" => "System",
                _ => "User",
            };
            let who = match &turn.name {
                Some(name) => format!("{} ({role})", name.trim()),
                None => role.to_owned(),
            };
            let said = turn
                .at
                .map(|at| format!(" [said {}]", at.date()))
                .unwrap_or_default();
            let _ = writeln!(user, "{who}{said}: {}", turn.content.trim());
        }
        Prompt {
            system: SYSTEM.to_owned(),
            user,
            json: true,
            max_tokens: 2048,
        }
    }

    /// The facts of a model's answer, or `BadOutput`.
    pub fn parse(&self, text: &str) -> std::result::Result<Vec<Fact>, LlmError> {
        #[derive(Deserialize)]
        struct Output {
            facts: Vec<RawFact>,
        }
        #[derive(Deserialize)]
        struct RawFact {
            decision: String,
            #[serde(default)]
            topic: Option<String>,
            #[serde(default)]
            importance_score: Option<f64>,
        }
        let json = crate::llm::json_text(text);
        let bad = |what: String| LlmError::new(LlmErrorKind::BadOutput, self.llm.provider(), what);
        let output: Output = serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "the model's extraction is not the expected JSON: {e}"
            ))
        })?;
        let mut facts = Vec::with_capacity(output.facts.len());
        for raw in output.facts {
            let decision = raw.decision.trim();
            if decision.is_empty() {
                return Err(bad("the model returned an empty fact".into()));
            }
            facts.push(Fact {
                decision: decision.to_owned(),
                topic: raw
                    .topic
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| crate::DEFAULT_TOPIC.to_owned()),
                importance_score: raw
                    .importance_score
                    .map_or(i64::from(crate::DEFAULT_IMPORTANCE), |s| {
                        s.round().clamp(1.0, 10.0) as i64
                    }),
            });
        }
        Ok(facts)
    }
}

impl Extractor for LlmExtractor<'_> {
    fn provider(&self) -> &str {
        self.llm.provider()
    }

    fn model(&self) -> &str {
        self.llm.model()
    }

    fn prompt_version(&self) -> &str {
        EXTRACT_PROMPT_VERSION
    }

    fn extract(&self, turns: &[Turn], today: Timestamp) -> Result<Vec<Fact>> {
        let text = self
            .llm
            .complete(&Self::prompt(turns, today))
            .map_err(Error::Llm)?;
        self.parse(&text).map_err(Error::Llm)
    }
}
