"""BYO-LLM on `POST /agent/query` (spec §6.1 steps 4–5, §9.1) and on messages-mode
extraction (§9.2) through the SDK, against a fake OpenAI-compatible provider on 127.0.0.1. The server under test runs with
`--llm-allow-private-base-url` (a caller may point `llm.base_url` at loopback); the shared
server, without it, refuses such a `base_url`.
"""

import pytest

from aurra import AurraLLMProviderError

from aurra_helpers import unique
from fake_provider import FakeProvider

SECRET = "sk-caller-secret-123"


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def byo_server(launcher):
    srv = launcher.start("byo-llm", {"acme": ("acme", "main")},
                         flags=["--llm-allow-private-base-url"])
    yield srv
    launcher.stop(srv)


@pytest.fixture(scope="module")
def tenant(byo_server):
    acme = byo_server.client("acme")
    name = unique("byo")
    acme.memories.add(content="Alice works at Globex", tenant_id=name)
    acme.memories.add(content="The office is in Berlin", tenant_id=name)
    return name


def openai_llm(provider, **extra):
    return {"provider": "openai", "api_key": SECRET, "model": "gpt-fake",
            "base_url": provider.url + "/v1", **extra}


def test_a_byo_llm_writes_the_answer_and_only_real_markers_survive(byo_server, provider, tenant):
    acme = byo_server.client("acme")
    before = len(provider.requests)
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant,
                                 llm=openai_llm(provider))
    assert result.answer_with_citations == "Alice works at Globex [mem-1]."
    assert result.answer == "Alice works at Globex."
    cited = [c for c in result.citations if c.cited_by_llm]
    assert [c.decision for c in cited] == ["Alice works at Globex"]
    assert result.citations[0].decision == "Alice works at Globex"
    sent = provider.requests[before:]
    assert len(sent) == 1
    assert sent[0]["path"] == "/v1/chat/completions"
    assert sent[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert sent[0]["body"]["model"] == "gpt-fake"
    assert "[mem-1]" in sent[0]["body"]["messages"][-1]["content"]
    assert SECRET not in byo_server.log_text()


def test_legacy_key_and_extra_api_version_reach_an_azure_deployment(byo_server, provider, tenant):
    acme = byo_server.client("acme")
    llm = {"provider": "azure", "key": SECRET, "model": "my-deployment",
           "base_url": provider.url, "extra": {"api_version": "2024-08-01-preview"}}
    result = acme.memories.query("Where does Alice work?", tenant_id=tenant, llm=llm)
    assert result.answer_with_citations == "Alice works at Globex [mem-1]."
    last = provider.requests[-1]
    assert last["path"] == ("/openai/deployments/my-deployment/chat/completions"
                            "?api-version=2024-08-01-preview")
    assert last["headers"]["api-key"] == SECRET


@pytest.mark.parametrize("failure, status", [
    ("bad_key", 401), ("unknown_model", 422), ("rate_limited", 429), ("outage", 502),
])
def test_provider_failures_raise_aurra_llm_provider_error(byo_server, provider, tenant,
                                                          failure, status):
    acme = byo_server.client("acme")
    provider.next_failure = failure
    with pytest.raises(AurraLLMProviderError) as err:
        acme.memories.query("Where does Alice work?", tenant_id=tenant,
                            llm=openai_llm(provider))
    assert err.value.status_code == status
    assert err.value.provider == "openai"
    assert err.value.provider_message
    assert SECRET not in str(err.value.response_body)


def test_the_rate_limit_passes_retry_after_through(byo_server, provider, tenant):
    provider.next_failure = "rate_limited"
    resp = byo_server.post("/agent/query", json={
        "question": "Where does Alice work?", "tenant_id": tenant, "llm": openai_llm(provider)})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json()["detail"]["error"] == "llm_provider_error"


def test_unusable_model_output_is_502(byo_server, provider, tenant):
    acme = byo_server.client("acme")
    provider.answer = " "
    try:
        with pytest.raises(AurraLLMProviderError) as err:
            acme.memories.query("Where does Alice work?", tenant_id=tenant,
                                llm=openai_llm(provider))
    finally:
        provider.answer = None
    assert err.value.status_code == 502


def test_a_loopback_base_url_is_refused_by_a_default_server(server, provider):
    acme = server.client("acme")
    tenant = unique("byo")
    acme.memories.add(content="Alice works at Globex", tenant_id=tenant)
    before = len(provider.requests)
    with pytest.raises(AurraLLMProviderError) as err:
        acme.memories.query("Where does Alice work?", tenant_id=tenant,
                            llm=openai_llm(provider))
    assert err.value.status_code == 400
    assert "non-public" in err.value.provider_message
    assert len(provider.requests) == before, "nothing was sent"


def test_messages_mode_extracts_with_a_byo_llm(byo_server, provider):
    acme = byo_server.client("acme")
    tenant = unique("byo")
    before = len(provider.requests)
    result = acme.memories.add(
        messages=[{"role": "user", "content": "I keep bees in my garden."},
                  {"role": "assistant", "content": "How lovely!"}],
        tenant_id=tenant, session_id="s-1", llm=openai_llm(provider))
    assert result.status == "extracted"
    assert result.extracted_count == 1 and result.saved_count == 1
    assert result.extraction == {"provider": "openai", "model": "gpt-fake", "byo_llm": True}
    sent = provider.requests[before:]
    assert len(sent) == 1
    assert sent[0]["body"]["response_format"] == {"type": "json_object"}
    assert "User: I keep bees in my garden." in sent[0]["body"]["messages"][-1]["content"]
    rows = acme.memories.list(tenant_id=tenant)
    assert [r["decision"] for r in rows] == ["User said: I keep bees in my garden."]
    assert rows[0]["topic"] == "Chat" and rows[0]["importance_score"] == 6
    assert rows[0]["channel"] == "s-1"
    audit = byo_server.get(f"/memories/{rows[0]['id']}/audit")
    assert audit.status_code == 200
    assert SECRET not in audit.text
    assert audit.json()["extraction"]["model"] == "gpt-fake"


def test_unparseable_extraction_is_502_and_writes_nothing(byo_server, provider):
    acme = byo_server.client("acme")
    tenant = unique("byo")
    provider.answer = "Sure! Here are the facts: bees."
    try:
        with pytest.raises(AurraLLMProviderError) as err:
            acme.memories.add(messages=[{"role": "user", "content": "I keep bees."}],
                              tenant_id=tenant, llm=openai_llm(provider))
    finally:
        provider.answer = None
    assert err.value.status_code == 502
    assert acme.memories.list(tenant_id=tenant) == []


def test_messages_mode_provider_errors_raise_and_write_nothing(byo_server, provider):
    acme = byo_server.client("acme")
    tenant = unique("byo")
    provider.next_failure = "bad_key"
    with pytest.raises(AurraLLMProviderError) as err:
        acme.memories.add(messages=[{"role": "user", "content": "I keep bees."}],
                          tenant_id=tenant, llm=openai_llm(provider))
    assert err.value.status_code == 401
    assert acme.memories.list(tenant_id=tenant) == []


def test_messages_mode_without_an_llm_uses_the_offline_rules(server):
    acme = server.client("acme")
    tenant = unique("rules")
    result = acme.memories.add(
        messages=[{"role": "user", "content": "Hi! My name is Dana and I'm allergic to cats."},
                  {"role": "assistant", "content": "Nice to meet you, Dana."},
                  {"role": "user", "content": "What's the weather like?"}],
        tenant_id=tenant)
    assert result.extraction == {"provider": "builtin", "model": "rules-v2", "byo_llm": False}
    decisions = sorted(r["decision"] for r in acme.memories.list(tenant_id=tenant))
    assert decisions == ["User is allergic to cats.", "User's name is Dana."]
    greeting = acme.memories.add(messages=[{"role": "user", "content": "Hello there!"}],
                                 tenant_id=tenant)
    assert greeting.extracted_count == 0 and greeting.saved_count == 0
