"""`POST /agent/query` (spec §6.1–6.3): validation, the fixed empty answer, and answers
whose `[mem-N]` markers agree with the citations, in time, filtered by source, with a proof
tree whose `answer_hash` this test recomputes from the evidence.
"""

import hashlib
import json
import re

import pytest

from aurra_helpers import assert_json_error, assert_validation_detail, unique

EMPTY_ANSWER = "No memories found for this company yet."


@pytest.fixture(scope="module")
def populated(server):
    """A tenant holding two current memories (sources agent and email) and a superseded one."""
    acme = server.client("acme")
    tenant = unique("q")
    old = acme.memories.add(content="Alice works at Initech", tenant_id=tenant).memory_id
    new = acme.memories.add(content="Alice works at Globex", tenant_id=tenant).memory_id
    acme.memories.add(content="The office is in Berlin", source="email", tenant_id=tenant)
    acme.memories.supersede(old, superseded_by=new)
    first_tx = acme.memories.list(tenant_id=tenant, include_superseded=True)[-1]["temporal"][
        "transaction_time_start"]
    return tenant, first_tx


def assert_empty_answer(result):
    assert result.answer == EMPTY_ANSWER
    assert result.answer_with_citations == EMPTY_ANSWER
    assert result.citations == []
    assert result.memories == []
    assert result.memories_searched == 0
    assert result.search_type == "keyword"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body,field", [
    ({}, "question"),
    ({"limit": 5}, "question"),
    ({"question": None}, "question"),
    ({"question": 42}, "question"),
])
def test_missing_or_mistyped_question_is_422(server, body, field):
    body = assert_json_error(server.post("/agent/query", json=body), 422)
    assert_validation_detail(body, "body", field)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_422(server, question):
    assert_json_error(server.post("/agent/query", json={"question": question}), 422)


@pytest.mark.parametrize("limit", [0, 101, -1, "ten", 2.5])
def test_limit_out_of_range_or_type_is_422(server, limit):
    resp = server.post("/agent/query", json={"question": "q", "limit": limit,
                                             "tenant_id": unique("q")})
    assert_json_error(resp, 422)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(server, limit):
    resp = server.post("/agent/query", json={"question": "q", "limit": limit,
                                             "tenant_id": unique("q")})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("field", ["as_of", "transaction_as_of"])
def test_bad_timestamps_are_422(server, field):
    resp = server.post("/agent/query", json={"question": "q", field: "last tuesday"})
    assert_validation_detail(assert_json_error(resp, 422), "body", field)


@pytest.mark.parametrize("sources", ["email", 5, {"a": 1}, [1, 2]])
def test_sources_must_be_a_list_of_strings(server, sources):
    resp = server.post("/agent/query", json={"question": "q", "sources": sources})
    assert_validation_detail(assert_json_error(resp, 422), "body", "sources")


@pytest.mark.parametrize("body", [{"question": "q", "tenant_id": 7},
                                  {"question": "q", "include_proof_tree": "yes"}])
def test_other_wrong_types_are_422(server, body):
    assert_json_error(server.post("/agent/query", json=body), 422)


# --------------------------------------------------------------------------- empty answer


def test_fresh_tenant_gets_the_fixed_empty_answer(acme):
    assert_empty_answer(acme.memories.query("Where does Alice work?", tenant_id=unique("none")))


def test_empty_answer_raw_envelope(server):
    tenant = unique("none")
    resp = server.post("/agent/query", json={"question": "Where does Alice work?",
                                             "tenant_id": tenant})
    assert resp.status_code == 200
    body = resp.json()
    assert body["question"] == "Where does Alice work?"
    assert body["answer"] == body["answer_with_citations"] == EMPTY_ANSWER
    assert body["citations"] == [] and body["memories"] == []
    assert body["memories_searched"] == 0
    assert body["search_type"] == "keyword"
    assert body["company_id"] == "acme"


def test_sources_filter_excluding_everything_gives_the_empty_answer(acme, populated):
    tenant, _ = populated
    assert_empty_answer(acme.memories.query("Where does Alice work?", tenant_id=tenant,
                                            sources=["nothing"]))
    # Exact match: a prefix or a different case is not a match.
    assert_empty_answer(acme.memories.query("office?", tenant_id=tenant, sources=["Email"]))
    assert_empty_answer(acme.memories.query("office?", tenant_id=tenant, sources=["emai"]))


def test_time_travel_before_any_memory_gives_the_empty_answer(acme, populated):
    tenant, _ = populated
    assert_empty_answer(acme.memories.query("Where?", tenant_id=tenant,
                                            as_of="2000-01-01T00:00:00Z"))
    assert_empty_answer(acme.memories.query("Where?", tenant_id=tenant,
                                            transaction_as_of="2000-01-01T00:00:00Z"))


def test_other_accounts_memories_are_not_in_scope(server, populated):
    tenant, _ = populated
    assert_empty_answer(server.client("globex").memories.query("Where does Alice work?",
                                                               tenant_id=tenant))


# --------------------------------------------------------------------------- answers

MARKER = re.compile(r"\[mem-(\d+)\]")


def assert_markers_agree(result):
    """Every marker names a citation (1-based), every cited citation has a marker."""
    marked = {int(n) for n in MARKER.findall(result.answer_with_citations)}
    assert marked, result.answer_with_citations
    assert all(1 <= n <= len(result.citations) for n in marked)
    assert {i + 1 for i, c in enumerate(result.citations) if c.cited_by_llm} == marked
    assert MARKER.search(result.answer) is None
    assert result.memories_searched == len(result.citations) == len(result.memories)
    sims = [c.similarity for c in result.citations]
    assert all(0.0 <= x <= 1.0 for x in sims) and sims == sorted(sims, reverse=True)


def test_current_truth_cites_the_replacement_never_the_superseded_fact(acme, populated):
    tenant, _ = populated
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant)
    assert_markers_agree(result)
    assert result.search_type == "keyword"
    decisions = [c.decision for c in result.citations]
    assert "Alice works at Globex" in decisions
    assert "Alice works at Initech" not in decisions
    assert all(not c.is_superseded for c in result.citations)
    assert "Globex" in result.answer


def test_sources_filter_applies_before_ranking(acme, populated):
    tenant, _ = populated
    result = acme.memories.query("Where is the office? Alice?", tenant_id=tenant,
                                 sources=["email"])
    assert [c.source for c in result.citations] == ["email"]
    assert_markers_agree(result)


def test_limit_bounds_the_candidates(acme, populated):
    tenant, _ = populated
    result = acme.memories.query("Alice office Berlin Globex", tenant_id=tenant, limit=1)
    assert len(result.citations) == 1


def test_transaction_time_replay_cites_what_was_believed_then(acme, populated):
    tenant, first_tx = populated
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant,
                                 transaction_as_of=first_tx)
    assert [c.decision for c in result.citations] == ["Alice works at Initech"]
    assert result.answer.startswith("As of "), result.answer
    assert_markers_agree(result)


def test_valid_time_travel_includes_facts_superseded_since(acme, populated):
    tenant, first_tx = populated
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant, as_of=first_tx)
    assert "Alice works at Initech" in [c.decision for c in result.citations]
    assert result.answer.startswith("As of ")


def test_the_proof_tree_hash_binds_answer_and_evidence(server, acme, populated):
    tenant, _ = populated
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant,
                                 include_proof_tree=True)
    tree = result.proof_tree
    assert tree is not None and tree.version == "2.0"
    assert tree.question == "Where does Alice work?"
    evidence = [{"memory_id": e["memory_id"], "decision": e["decision"],
                 "valid_from": e["bi_temporal"]["valid_from"],
                 "valid_to": e["bi_temporal"]["valid_to"], "cited": e["cited"]}
                for e in tree.evidence_chain]
    canonical = json.dumps({"answer": result.answer, "evidence": evidence}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    assert tree.answer_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert [e["memory_id"] for e in tree.evidence_chain] == [c.memory_id for c in result.citations]
    assert tree.retrieval["memories_evaluated"] == len(result.citations)
    # The replacement's chain reaches back to the superseded fact.
    chains = {c.starting_memory_id: c for c in tree.supersession_chains}
    globex = next(c.memory_id for c in result.citations if c.decision == "Alice works at Globex")
    chain = chains[globex]
    assert chain.current_truth_memory_id == globex
    assert [link.decision_at_time for link in chain.chain] == [
        "Alice works at Initech", "Alice works at Globex"]
