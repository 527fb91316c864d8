"""Messages-mode writes (spec §5.1, §9.2, §3.4) and aurra-langchain (spec §11.3).

These tests check the contract, not the wording of the built-in extractor: the user
messages below state plain facts any conservative extractor keeps, and assertions are about
shapes, counts, provenance and the rendering of `original_message`.
"""

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from aurra import AurraValidationError
from aurra_langchain import AurraChatMessageHistory

from aurra_helpers import (
    AUTO_SUPERSEDE_DISABLED,
    assert_json_error,
    assert_memory_shape,
    assert_uuid,
    by_id,
    unique,
)

USER_FACT = "My name is Priya Raman and I work as a data engineer at Initech in Lisbon."
ASSISTANT_REPLY = "Nice to meet you, Priya! I will remember that you work at Initech."


def conversation(user=USER_FACT, assistant=ASSISTANT_REPLY):
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def rows_by_id(client, tenant):
    return by_id(client.memories.list(tenant_id=tenant, limit=1000, include_superseded=True))


def assert_rendered_conversation(original, user=USER_FACT, assistant=ASSISTANT_REPLY):
    lines = original.split("\n")
    assert all(l.startswith("User: ") or l.startswith("Assistant: ") for l in lines), original
    assert lines[0] == f"User: {user}"
    assert f"Assistant: {assistant}" in lines


@pytest.fixture(scope="module")
def session_write(server):
    acme = server.client("acme")
    tenant, session = unique("msg"), unique("session")
    result = acme.memories.add(messages=conversation(), session_id=session, tenant_id=tenant)
    return acme, tenant, session, result


def test_messages_write_response(session_write):
    _, _, _, result = session_write
    assert result.status == "extracted"
    assert isinstance(result.extracted_count, int) and isinstance(result.saved_count, int)
    assert result.saved_count >= 1, "a plain statement of fact yields at least one memory"
    assert result.extracted_count >= result.saved_count
    assert len(result.memory_ids) == result.saved_count
    assert len(set(result.memory_ids)) == len(result.memory_ids)
    for mid in result.memory_ids:
        assert_uuid(mid)
    ex = result.extraction
    assert isinstance(ex.get("provider"), str) and ex["provider"]
    assert isinstance(ex.get("model"), str) and ex["model"]
    assert ex.get("byo_llm") is False
    assert isinstance(result.auto_supersede, list)
    assert [r.memory_id for r in result.auto_supersede] == result.memory_ids
    for r in result.auto_supersede:
        assert r.ran is False and r.skipped_reason == AUTO_SUPERSEDE_DISABLED


def test_messages_write_raw_response(server):
    tenant, session = unique("msg"), unique("session")
    resp = server.post("/agent/memories", json={
        "messages": conversation(), "session_id": session, "tenant_id": tenant,
        "topic": "General", "source": "agent"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "extracted"
    assert body["company_id"] == "acme" and body["tenant_id"] == tenant
    assert body["saved_count"] == len(body["memory_ids"])
    assert isinstance(body["extraction"]["byo_llm"], bool)
    assert len(body["auto_supersede"]) == body["saved_count"]
    for item, mid in zip(body["auto_supersede"], body["memory_ids"]):
        assert item["memory_id"] == mid
        assert {"ran", "skipped_reason", "candidates_examined", "supersession"} <= set(item)


def test_extracted_rows_carry_session_provenance(session_write):
    acme, tenant, session, result = session_write
    rows = rows_by_id(acme, tenant)
    assert set(rows) == set(result.memory_ids)
    for mid in result.memory_ids:
        m = rows[mid]
        assert_memory_shape(m)
        assert m["source"] == "agent_session", "the SDK's source 'agent' maps to agent_session"
        assert m["channel"] == session
        assert m["session_id"] == session
        assert m["source_citation"]["channel"] == session
        assert m["source_citation"]["session_id"] == session
        assert m["tenant_id"] == tenant
        assert m["decision"].strip()
        assert_rendered_conversation(m["original_message"])
        assert m["temporal"]["is_current"] is True


def test_extracted_rows_audit(session_write):
    acme, _, session, result = session_write
    audit = acme.memories.get_audit(result.memory_ids[0])
    assert USER_FACT in audit["provenance"]["original_input"]
    assert audit["provenance"]["source_type"] == "agent_session"
    assert audit["provenance"]["channel"] == session
    assert audit["extraction"]["model"] == result.extraction["model"]
    names = [e["event"] for e in audit["history"]]
    assert names[:2] == ["created", "memory.created"]
    assert audit["history"][1]["details"]["shape"] == "messages"


def test_source_list_filter_sees_agent_session(session_write):
    acme, tenant, _, result = session_write
    got = [m["id"] for m in acme.memories.list(tenant_id=tenant, source="agent_session")]
    assert sorted(got) == sorted(result.memory_ids)
    assert acme.memories.list(tenant_id=tenant, source="agent") == []


def test_messages_without_session_use_the_agent_session_channel(acme):
    tenant = unique("msg")
    result = acme.memories.add(messages=conversation(), tenant_id=tenant)
    assert result.saved_count >= 1
    rows = rows_by_id(acme, tenant)
    for mid in result.memory_ids:
        assert rows[mid]["channel"] == "agent_session"
        assert rows[mid]["session_id"] is None
        assert rows[mid]["source"] == "agent_session"


def test_messages_with_a_custom_source_keep_it(server):
    tenant, session = unique("msg"), unique("session")
    resp = server.post("/agent/memories", json={"messages": conversation(), "source": "transcript",
                                                "session_id": session, "tenant_id": tenant})
    assert resp.status_code == 200, resp.text
    ids_ = resp.json()["memory_ids"]
    assert ids_
    rows = server.get("/agent/memories", params={"tenant_id": tenant}).json()["memories"]
    assert {m["id"] for m in rows} == set(ids_)
    assert all(m["source"] == "transcript" and m["channel"] == session for m in rows)


def test_recorded_at_dates_the_extracted_facts(server):
    tenant = unique("msg")
    resp = server.post("/agent/memories", json={
        "messages": conversation(), "session_id": unique("s"), "tenant_id": tenant,
        "recorded_at": "2025-03-01T12:00:00+01:00"})
    assert resp.status_code == 200, resp.text
    rows = server.get("/agent/memories", params={"tenant_id": tenant}).json()["memories"]
    assert rows and {m["id"] for m in rows} == set(resp.json()["memory_ids"])
    for m in rows:
        assert m["valid_from"] == "2025-03-01T11:00:00.000000+00:00"
        assert m["source_citation"]["captured_at"] == "2025-03-01T11:00:00.000000+00:00"
        assert m["created_at"] > "2026", "transaction time is never back-dated"


def test_nothing_to_extract_is_a_success(server):
    tenant = unique("msg")
    resp = server.post("/agent/memories", json={
        "messages": [{"role": "user", "content": "   "}], "tenant_id": tenant})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "extracted"
    assert body["saved_count"] == 0 and body["memory_ids"] == [] and body["auto_supersede"] == []
    assert server.get("/agent/memories", params={"tenant_id": tenant}).json()["count"] == 0


def test_repeated_conversation_does_not_duplicate_live_facts(acme):
    tenant, session = unique("msg"), unique("s")
    first = acme.memories.add(messages=conversation(), session_id=session, tenant_id=tenant)
    again = acme.memories.add(messages=conversation(), session_id=session, tenant_id=tenant)
    assert again.status == "extracted"
    assert again.saved_count <= again.extracted_count
    assert len(again.memory_ids) == again.saved_count
    assert not set(again.memory_ids) & set(first.memory_ids)
    live = acme.memories.list(tenant_id=tenant, limit=1000)
    decisions = [m["decision"][:100] for m in live]
    assert len(decisions) == len(set(decisions)), "a live fact is stored once per channel"


def test_system_messages_are_tolerated(acme):
    tenant = unique("msg")
    msgs = [{"role": "system", "content": "You are a helpful assistant."}] + conversation()
    result = acme.memories.add(messages=msgs, session_id=unique("s"), tenant_id=tenant)
    assert result.status == "extracted" and result.saved_count >= 1


def test_both_content_and_messages_is_400(server):
    resp = server.post("/agent/memories", json={"content": "x", "messages": conversation(),
                                                "tenant_id": unique("msg")})
    assert isinstance(assert_json_error(resp, 400)["detail"], str)


def test_neither_content_nor_messages_is_400_through_the_sdk(acme):
    # The SDK does not refuse this client-side: it sends {"topic": ..., "source": ...}.
    with pytest.raises(AurraValidationError):
        acme.memories.add(tenant_id=unique("msg"))


@pytest.mark.parametrize("messages", ["hello", [{"role": "user"}], [{"content": "hi"}],
                                      [{"role": "user", "content": 5}], ["hello"]])
def test_malformed_messages_are_422(server, messages):
    resp = server.post("/agent/memories", json={"messages": messages})
    assert_json_error(resp, 422)


@pytest.mark.parametrize("llm", [
    {"provider": "no-such-provider", "api_key": "k", "model": "m"},
    {"provider": "openai", "api_key": "sk-test"},
    {"provider": "anthropic", "model": "claude-x"},
    {"api_key": "k", "model": "m"},
])
def test_invalid_llm_object_is_400(acme, llm):
    with pytest.raises(AurraValidationError) as err:
        acme.memories.add(messages=conversation(), session_id=unique("s"),
                          tenant_id=unique("msg"), llm=llm)
    assert err.value.status_code == 400
    body_text = str(err.value.response_body)
    assert "sk-test" not in body_text, "provider keys are never echoed"


def test_invalid_llm_writes_nothing(server, acme):
    tenant = unique("msg")
    with pytest.raises(AurraValidationError):
        acme.memories.add(messages=conversation(), tenant_id=tenant,
                          llm={"provider": "nope", "api_key": "k", "model": "m"})
    assert acme.memories.list(tenant_id=tenant, include_superseded=True) == []


# --------------------------------------------------------------------------- langchain


def history(server, session, **kw):
    return AurraChatMessageHistory(api_key=server.keys["acme"], session_id=session,
                                   base_url=server.base_url, **kw)


def test_langchain_round_trip(server):
    session = unique("lc")
    h = history(server, session)
    h.add_user_message("My favourite colour is teal and I live in Porto.")
    h.add_ai_message("Noted: teal, and you live in Porto.")
    msgs = h.messages
    assert msgs, "the history must read back what was written"
    assert isinstance(msgs[0], HumanMessage)
    assert "My favourite colour is teal and I live in Porto." in msgs[0].content
    assert all(isinstance(m, (HumanMessage, AIMessage)) for m in msgs)


def test_langchain_sessions_are_separate(server):
    s1, s2 = unique("lc"), unique("lc")
    h1, h2 = history(server, s1), history(server, s2)
    h1.add_user_message("I own a golden retriever named Biscuit.")
    h1.add_ai_message("Biscuit sounds lovely.")
    h2.add_user_message("I am allergic to peanuts.")
    h2.add_ai_message("I will keep peanuts out of suggestions.")
    text1 = " ".join(m.content for m in h1.messages)
    text2 = " ".join(m.content for m in h2.messages)
    assert "Biscuit" in text1 and "peanuts" not in text1
    assert "peanuts" in text2 and "Biscuit" not in text2


def test_langchain_user_turns_in_a_row(server):
    session = unique("lc")
    h = history(server, session)
    h.add_user_message("I play the cello in an orchestra.")
    h.add_user_message("I also practise every Sunday morning.")  # flushes the first alone
    h.add_ai_message("Great routine!")
    msgs = h.messages
    assert isinstance(msgs[0], HumanMessage)
    assert "cello" in msgs[0].content, "oldest first: the lone user turn comes first"
    assert any("Sunday" in m.content for m in msgs)


def test_langchain_tenant_variant(server):
    session, tenant = unique("lc"), unique("lct")
    h = history(server, session, tenant_id=tenant)
    h.add_user_message("Remember that our fiscal year starts in April.")
    h.add_ai_message("Understood, April it is.")
    msgs = h.messages
    assert msgs and isinstance(msgs[0], HumanMessage)
    assert "fiscal year starts in April" in msgs[0].content
    # The same session id without the tenant reads the default tenant: nothing there.
    assert history(server, session).messages == []
    rows = server.client("acme").memories.list(tenant_id=tenant)
    assert rows and all(m["channel"] == session and m["tenant_id"] == tenant for m in rows)
