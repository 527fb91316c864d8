"""Hybrid retrieval through the SDK: a server started with `--embed-base-url` pointing at a
fake OpenAI-compatible embeddings API on 127.0.0.1 reports `search_type: "hybrid"`, finds
memories by meaning, and answers 503 (nothing written) when the embedding model fails.
"""

import pytest

from aurra import AurraServerError

from aurra_helpers import unique
from fake_embeddings import FakeEmbeddings


@pytest.fixture(scope="module")
def embeddings():
    fake = FakeEmbeddings()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def hybrid(launcher, embeddings):
    srv = launcher.start("hybrid", {"acme": ("acme", "main")},
                         flags=["--embed-base-url", embeddings.url, "--embed-model", "fake"])
    yield srv
    launcher.stop(srv)


def test_queries_are_hybrid_and_match_by_meaning(hybrid):
    c = hybrid.client("acme")
    tenant = unique("emb")
    c.memories.add(content="Alice bought an automobile", tenant_id=tenant)
    c.memories.add(content="Bob plays chess on Sundays", tenant_id=tenant)
    result = c.memories.query("Which car is hers?", tenant_id=tenant, include_proof_tree=True)
    assert result.search_type == "hybrid"
    assert result.citations[0].decision == "Alice bought an automobile"
    assert result.citations[0].cited_by_llm is True
    sims = [c.similarity for c in result.citations]
    assert sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
    assert result.proof_tree.retrieval["method"] == "hybrid"


def test_a_failing_embedding_model_is_503_and_writes_nothing(hybrid, embeddings):
    c = hybrid.client("acme")
    tenant = unique("emb")
    embeddings.failures_left = 3  # the client's three attempts
    with pytest.raises(AurraServerError) as err:
        c.memories.add(content="Alice likes tea", tenant_id=tenant)
    assert err.value.status_code == 503
    assert embeddings.failures_left == 0
    assert c.memories.list(tenant_id=tenant) == []
