//! [`LlmAnswerer`]: answers with a language model (spec §6.1 step 4). The prompt lists the
//! candidates as `[mem-N]` in rank order with their validity, asks for an answer drawn only
//! from them with every claim tagged, passes the reference date, and asks for historical
//! phrasing when the query travels in time. Its markers are verified like any answerer's.

use std::fmt::Write as _;

use super::{AnswerRequest, Answerer};
use crate::error::{Error, Result};
use crate::llm::{Llm, Prompt};

/// The version of the answer prompt (recorded so that answers can be traced to it).
pub const ANSWER_PROMPT_VERSION: &str = "answer-v1";

const SYSTEM: &str = "You answer questions about a user or an organisation strictly from \
the numbered memories you are given. Rules:\n\
1. Use only facts stated in the memories. If they do not answer the question, say briefly \
that the memories do not contain the answer.\n\
2. Tag every claim with the marker of the memory it relies on, written exactly as [mem-N] \
right after the claim, e.g. \"Alice works at Acme [mem-2].\" Cite several markers when a \
claim relies on several memories. Never invent a marker.\n\
3. Resolve relative dates (\"yesterday\", \"last Friday\") against the memory's own date, \
and treat the given reference date as today.\n\
4. Be concise: one to three sentences, no preamble, no list of sources.";

/// Answers with `llm`.
#[derive(Debug)]
pub struct LlmAnswerer<'a> {
    llm: &'a dyn Llm,
}

impl<'a> LlmAnswerer<'a> {
    /// An answerer calling `llm`.
    pub fn new(llm: &'a dyn Llm) -> Self {
        LlmAnswerer { llm }
    }

    /// The prompt for `request`.
    pub fn prompt(request: &AnswerRequest<'_>) -> Prompt {
        let mut user = String::new();
        let _ = writeln!(
            user,
            "Reference date (today): {}",
            request.reference_date.date()
        );
        if let Some(at) = request.as_of {
            let _ = writeln!(
                user,
                "This question is about the past: answer with the state as of {}, and begin \
                 the answer with \"As of {},\".",
                at.date(),
                at.date()
            );
        }
        user.push_str("\nMemories:\n");
        for c in request.candidates {
            let m = c.memory;
            let _ = write!(
                user,
                "[mem-{}] (valid from {}",
                c.index,
                m.valid_from.date()
            );
            if let Some(end) = m.valid_to {
                let _ = write!(user, " until {}", end.date());
            }
            let _ = writeln!(user, ") {}", m.decision.trim());
        }
        let _ = write!(user, "\nQuestion: {}", request.question.trim());
        Prompt {
            system: SYSTEM.to_owned(),
            user,
            json: false,
            max_tokens: 1024,
        }
    }
}

impl Answerer for LlmAnswerer<'_> {
    fn provider(&self) -> &str {
        self.llm.provider()
    }

    fn model(&self) -> &str {
        self.llm.model()
    }

    fn answer(&self, request: &AnswerRequest<'_>) -> Result<String> {
        self.llm
            .complete(&Self::prompt(request))
            .map_err(Error::Llm)
    }
}
