//! Citation-grounded query: the request, the answer with its citations, and the proof tree
//! whose `answer_hash` binds the answer to its evidence (spec §6).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Memory, MemoryId, SearchQuery, SearchType};
use crate::time::Timestamp;

/// The fixed answer when nothing is in scope (no answerer is called).
pub const EMPTY_ANSWER: &str = "No memories found for this company yet.";

/// A question to answer from the memories of one scope.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    /// The question and how candidates are retrieved: its text, tenant, temporal mode,
    /// sources, and how many candidates the answerer gets (`limit`).
    pub search: SearchQuery,
    /// The date the answerer treats as "today" (default: the read time).
    pub reference_date: Option<Timestamp>,
    /// Build the proof tree.
    pub include_proof_tree: bool,
}

impl QueryRequest {
    /// A current-truth question over the default tenant with 30 candidates.
    pub fn new(question: impl Into<String>) -> Self {
        QueryRequest {
            search: SearchQuery::new(question),
            reference_date: None,
            include_proof_tree: false,
        }
    }
}

/// One candidate of an answer, in rank order.
#[derive(Clone, Debug, PartialEq)]
pub struct Citation {
    /// 1-based rank: the N of `[mem-N]`.
    pub index: usize,
    /// The memory, as the query's mode reads it.
    pub memory: Memory,
    /// Retrieval similarity in [0, 1], monotone with rank.
    pub similarity: f64,
    /// Whether the answer cites it (its marker survived verification).
    pub cited: bool,
}

/// An answer with its citations.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryAnswer {
    /// The question.
    pub question: String,
    /// Plain prose, markers removed.
    pub answer: String,
    /// The same answer with its verified `[mem-N]` markers.
    pub answer_with_citations: String,
    /// Every candidate in rank order.
    pub citations: Vec<Citation>,
    /// How candidates were retrieved.
    pub search_type: SearchType,
    /// "Now" of the candidates' flags (the replayed instant for transaction-time travel).
    pub now: Timestamp,
    /// The proof tree, when requested.
    pub proof_tree: Option<ProofTree>,
}

/// The audit-grade record of a query (spec §6.3). Evidence is the citation list.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofTree {
    /// `2.0`: the hash binds the answer and the evidence.
    pub version: &'static str,
    /// Lower-case hex SHA-256 of the canonical JSON of the answer and its evidence.
    pub answer_hash: String,
    /// When the tree was built.
    pub generated_at: Timestamp,
    /// Chains of the evidence memories that have more than one member.
    pub supersession_chains: Vec<SupersessionChain>,
}

/// One supersession chain reached from an evidence memory.
#[derive(Clone, Debug, PartialEq)]
pub struct SupersessionChain {
    /// The evidence memory the walk started from.
    pub starting_memory_id: MemoryId,
    /// The member that is not superseded (`None` if the walk found none).
    pub current_truth_memory_id: Option<MemoryId>,
    /// Every member, oldest `valid_from` first.
    pub chain: Vec<ChainLink>,
}

/// One member of a supersession chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainLink {
    /// The member.
    pub memory_id: MemoryId,
    /// What replaced it.
    pub superseded_by: Option<MemoryId>,
    /// When its validity ended (`valid_to`).
    pub superseded_at: Option<Timestamp>,
    /// Its fact.
    pub decision_at_time: String,
}

/// The spec §6.3 recipe: SHA-256 of the UTF-8 canonical JSON (keys sorted, `,`/`:`
/// separators, non-ASCII kept) of `{"answer", "evidence": [{memory_id, decision, valid_from,
/// valid_to, cited}]}`, timestamps as rendered.
pub fn answer_hash(answer: &str, citations: &[Citation]) -> String {
    // Field order is alphabetical: serde writes struct fields in declaration order.
    #[derive(Serialize)]
    struct Input<'a> {
        answer: &'a str,
        evidence: Vec<Evidence<'a>>,
    }
    #[derive(Serialize)]
    struct Evidence<'a> {
        cited: bool,
        decision: &'a str,
        memory_id: String,
        valid_from: String,
        valid_to: Option<String>,
    }
    let input = Input {
        answer,
        evidence: citations
            .iter()
            .map(|c| Evidence {
                cited: c.cited,
                decision: &c.memory.decision,
                memory_id: c.memory.id.to_string(),
                valid_from: c.memory.valid_from.to_string(),
                valid_to: c.memory.valid_to.map(|t| t.to_string()),
            })
            .collect(),
    };
    // Serialising plain structs of strings and bools cannot fail.
    let canonical = serde_json::to_string(&input).unwrap_or_default();
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_input_is_canonical_json() {
        // The empty evidence case, checked against Python's
        // json.dumps({"answer": a, "evidence": []}, sort_keys=True, separators=(",", ":"),
        // ensure_ascii=False).
        let expected = {
            let text = "{\"answer\":\"Café [mem-1] \\\"quoted\\\"\\n\",\"evidence\":[]}";
            Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(answer_hash("Café [mem-1] \"quoted\"\n", &[]), expected);
    }
}
