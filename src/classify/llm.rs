//! [`LlmClassifier`]: Level 2 classification with a language model. The prompt (version
//! [`CLASSIFY_PROMPT_VERSION`]) carries the policy of spec §9.4 and asks for strict JSON
//! `{"verdict", "confidence", "reasoning"}`; any other output is `BadOutput`.

use serde::Deserialize;

use super::{Classifier, Verdict, VerdictKind};
use crate::error::{Error, Result};
use crate::llm::{Llm, LlmError, LlmErrorKind, Prompt};
use crate::model::Memory;

/// The version of the classification prompt.
pub const CLASSIFY_PROMPT_VERSION: &str = "classify-v1";

const SYSTEM: &str = "You decide whether a NEW fact about a user supersedes an OLD one in \
the user's long-term memory. Answer with one JSON object: {\"verdict\": \"supersedes\" | \
\"refines\" | \"independent\", \"confidence\": number between 0 and 1, \"reasoning\": \"one \
sentence\"}.\n\
- supersedes: the same single-valued attribute changed; the old fact is negated, cancelled \
or ended; a count on the same entity is updated; a broader truth subsumes a narrower one.\n\
- refines: the new fact adds detail without contradiction; reversions (\"tried X, went back \
to Y\"); an added responsibility alongside the original.\n\
- independent: different entities or periods, different attribute types, a one-off event \
versus a recurring pattern, merely overlapping topics.\n\
Tie-breaks: in doubt between supersedes and refines, answer refines; for the same entity in \
doubt between refines and independent, answer refines; hedged language (\"thinking about\", \
\"may\") never supersedes; the default is not to supersede.\n\
Calibration: 0.95 or more only with explicit markers (\"no longer\", \"now\", \"moved \
to\"); 0.85-0.94 when clear but implicit; below 0.85 nothing will be changed.";

/// Classifies with a language model.
#[derive(Debug)]
pub struct LlmClassifier<'a> {
    llm: &'a dyn Llm,
}

impl<'a> LlmClassifier<'a> {
    /// A classifier calling `llm`.
    pub fn new(llm: &'a dyn Llm) -> Self {
        LlmClassifier { llm }
    }

    /// The prompt for (old, new).
    pub fn prompt(old: &Memory, new: &Memory) -> Prompt {
        Prompt {
            system: SYSTEM.to_owned(),
            user: format!(
                "OLD (valid from {}): {}\nNEW (valid from {}): {}",
                old.valid_from.date(),
                old.decision.trim(),
                new.valid_from.date(),
                new.decision.trim()
            ),
            json: true,
            max_tokens: 300,
        }
    }

    /// The verdict in a model's answer, or `BadOutput`.
    pub fn parse(&self, text: &str) -> std::result::Result<Verdict, LlmError> {
        #[derive(Deserialize)]
        struct Output {
            verdict: String,
            confidence: f64,
            #[serde(default)]
            reasoning: String,
        }
        let bad = |what: String| LlmError::new(LlmErrorKind::BadOutput, self.llm.provider(), what);
        let json = crate::llm::json_text(text);
        let output: Output = serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "the classifier's answer is not the expected JSON: {e}"
            ))
        })?;
        let kind = VerdictKind::parse(&output.verdict)
            .ok_or_else(|| bad(format!("unknown verdict {:?}", output.verdict)))?;
        if !(0.0..=1.0).contains(&output.confidence) {
            return Err(bad(format!(
                "confidence {} is outside 0-1",
                output.confidence
            )));
        }
        Ok(Verdict {
            kind,
            confidence: output.confidence,
            reasoning: output.reasoning.trim().to_owned(),
        })
    }
}

impl Classifier for LlmClassifier<'_> {
    fn model(&self) -> &str {
        self.llm.model()
    }

    fn classify(&self, old: &Memory, new: &Memory) -> Result<Verdict> {
        let text = self
            .llm
            .complete(&Self::prompt(old, new))
            .map_err(Error::Llm)?;
        self.parse(&text).map_err(Error::Llm)
    }
}
