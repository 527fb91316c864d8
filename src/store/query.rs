//! `Store::query`: retrieve candidates (lexical search within the temporal scope), hand them
//! to an answerer, verify its markers, and build the proof tree on request.

use super::Store;
use crate::answer::{AnswerRequest, Answerer, Candidate, verify_markers};
use crate::error::Result;
use crate::model::ReadMode;
use crate::query::{
    ChainLink, Citation, EMPTY_ANSWER, ProofTree, QueryAnswer, QueryRequest, SupersessionChain,
    answer_hash,
};

impl Store {
    /// Answers `request.question` from the memories of `account` with `answerer`, citing the
    /// candidates it used (spec §6). With no candidate in scope the answer is the fixed
    /// [`EMPTY_ANSWER`] and the answerer is not called.
    pub fn query(
        &self,
        account: &str,
        request: &QueryRequest,
        answerer: &dyn Answerer,
    ) -> Result<QueryAnswer> {
        let found = self.search(account, &request.search)?;
        let now = found.now;
        let question = &request.search.text;
        let (answer, answer_with_citations, citations) = if found.hits.is_empty() {
            (EMPTY_ANSWER.to_owned(), EMPTY_ANSWER.to_owned(), Vec::new())
        } else {
            let candidates: Vec<Candidate<'_>> = found
                .hits
                .iter()
                .enumerate()
                .map(|(i, hit)| Candidate {
                    index: i + 1,
                    memory: &hit.memory,
                    similarity: hit.similarity,
                })
                .collect();
            let raw = answerer.answer(&AnswerRequest {
                question,
                candidates: &candidates,
                as_of: historical_instant(&request.search.mode),
                reference_date: request.reference_date.unwrap_or(now),
            })?;
            let marked = verify_markers(&raw, candidates.len());
            let citations = found
                .hits
                .into_iter()
                .enumerate()
                .map(|(i, hit)| Citation {
                    index: i + 1,
                    cited: marked.cited.contains(&(i + 1)),
                    memory: hit.memory,
                    similarity: hit.similarity,
                })
                .collect();
            (marked.plain, marked.with_citations, citations)
        };
        let proof_tree = if request.include_proof_tree {
            Some(self.proof_tree(account, &answer, &citations)?)
        } else {
            None
        };
        Ok(QueryAnswer {
            question: question.clone(),
            answer,
            answer_with_citations,
            citations,
            search_type: "keyword",
            now,
            proof_tree,
        })
    }

    fn proof_tree(&self, account: &str, answer: &str, citations: &[Citation]) -> Result<ProofTree> {
        let mut supersession_chains = Vec::new();
        for citation in citations {
            let timeline = self.timeline(account, citation.memory.id)?;
            if timeline.versions.len() < 2 {
                continue;
            }
            supersession_chains.push(SupersessionChain {
                starting_memory_id: citation.memory.id,
                current_truth_memory_id: timeline
                    .versions
                    .iter()
                    .rev()
                    .find(|m| m.superseded_by.is_none())
                    .map(|m| m.id),
                chain: timeline
                    .versions
                    .iter()
                    .map(|m| ChainLink {
                        memory_id: m.id,
                        superseded_by: m.superseded_by,
                        superseded_at: m.valid_to,
                        decision_at_time: m.decision.clone(),
                    })
                    .collect(),
            });
        }
        Ok(ProofTree {
            version: "2.0",
            answer_hash: answer_hash(answer, citations),
            generated_at: self.clock_now(),
            supersession_chains,
        })
    }
}

/// The instant a time-travel answer describes: the valid-time instant when there is one,
/// else the replayed transaction time.
fn historical_instant(mode: &ReadMode) -> Option<crate::time::Timestamp> {
    match *mode {
        ReadMode::Current | ReadMode::History => None,
        ReadMode::AsOf(at) => Some(at),
        ReadMode::TransactionAsOf { at, .. } => Some(at),
        ReadMode::Bitemporal { valid_at, .. } => Some(valid_at),
    }
}
