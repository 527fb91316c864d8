//! `Store::query`: retrieve candidates (lexical search within the temporal scope), hand them
//! to an answerer, verify its markers, and build the proof tree on request.

use std::rc::Rc;

use super::Store;
use super::chain::chains;
use crate::answer::{AnswerRequest, Answerer, Candidate, verify_markers};
use crate::error::Result;
use crate::model::{Memory, ReadMode};
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
        let (found, snapshot) = self.search_snapshot(account, &request.search, None)?;
        // The evidence's chains, from the snapshot the candidates were read in.
        let chains = if request.include_proof_tree {
            let ids: Vec<_> = found.hits.iter().map(|h| h.memory.id).collect();
            Some(chains(snapshot.as_ref(), account, &ids)?)
        } else {
            None
        };
        drop(snapshot);
        let now = found.now;
        let search_type = found.search_type;
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
        let proof_tree = chains.map(|chains| self.proof_tree(&answer, &citations, &chains));
        Ok(QueryAnswer {
            question: question.clone(),
            answer,
            answer_with_citations,
            citations,
            search_type,
            now,
            proof_tree,
        })
    }

    /// The proof tree of `answer`; `chains[i]` is the chain of `citations[i]`.
    fn proof_tree(
        &self,
        answer: &str,
        citations: &[Citation],
        chains: &[Rc<Vec<Memory>>],
    ) -> ProofTree {
        let mut supersession_chains = Vec::new();
        for (citation, chain) in citations.iter().zip(chains) {
            if chain.len() < 2 {
                continue;
            }
            supersession_chains.push(SupersessionChain {
                starting_memory_id: citation.memory.id,
                current_truth_memory_id: chain
                    .iter()
                    .rev()
                    .find(|m| m.superseded_by.is_none())
                    .map(|m| m.id),
                chain: chain
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
        ProofTree {
            version: "2.0",
            answer_hash: answer_hash(answer, citations),
            generated_at: self.clock_now(),
            supersession_chains,
        }
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
