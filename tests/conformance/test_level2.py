"""Level 2 auto-supersession (spec §9.4) through the SDK, with the server's offline classifier
(`builtin-rules-v2`): the request flag and the key default, the category gate, candidate
search (same tenant, current truth, same-request siblings excluded), `min_confidence`, at most
one supersession per new row, the result objects in both modes, and the audit events.
"""

import pytest

from aurra_helpers import AUTO_SUPERSEDE_DISABLED, unique

RULES = "builtin-rules-v2"


@pytest.fixture(scope="module")
def l2(launcher):
    srv = launcher.start("level2", {"a": ("acme", "level2-a"), "b": ("acme", "level2-b")})
    yield srv
    launcher.stop(srv)


def test_an_explicit_change_supersedes_the_old_fact(l2):
    c = l2.client("a")
    tenant = unique("l2")
    old = c.memories.add(content="User works at Initech", tenant_id=tenant).memory_id
    c.memories.add(content="User likes green tea", tenant_id=tenant)
    result = c.memories.add(content="User now works at Globex", tenant_id=tenant,
                            auto_supersede=True)
    auto = result.auto_supersede
    assert auto.ran is True and auto.skipped_reason is None
    assert auto.candidates_examined >= 1
    assert auto.supersession is not None
    assert auto.supersession.old_memory_id == old
    assert auto.supersession.reasoning
    raw = auto.supersession
    assert raw.confidence >= 0.85
    current = [m["decision"] for m in c.memories.list(tenant_id=tenant)]
    assert "User works at Initech" not in current
    assert "User now works at Globex" in current
    history = l2.get(f"/memories/{old}/audit", key="a").json()["history"]
    events = [(h["event"], h["by"]) for h in history]
    assert ("memory.classified", "aurra-classifier") in events
    assert events[-1] == ("memory.superseded", "aurra-classifier")
    classified = next(h for h in history if h["event"] == "memory.classified")
    assert classified["details"]["verdict"] == "supersedes"
    assert classified["details"]["applied"] is True
    assert classified["details"]["model"] == RULES
    assert classified["details"]["new_memory_id"] == result.memory_id


def test_the_raw_result_carries_both_spellings(l2):
    tenant = unique("l2")
    l2.post("/agent/memories", key="a", json={"content": "User lives in Berlin", "tenant_id": tenant})
    resp = l2.post("/agent/memories", key="a", json={
        "content": "User moved to Lisbon", "tenant_id": tenant, "auto_supersede": True})
    sup = resp.json()["auto_supersede"]["supersession"]
    assert sup["old_memory_id"] == sup["superseded_id"]
    assert sup["reasoning"] == sup["reason"]
    assert sup["verdict"] == "supersedes" and sup["model"] == RULES


def test_related_facts_are_classified_but_kept(l2):
    c = l2.client("a")
    tenant = unique("l2")
    old = c.memories.add(content="User likes sushi", tenant_id=tenant).memory_id
    result = c.memories.add(content="User likes ramen", tenant_id=tenant, auto_supersede=True)
    assert result.auto_supersede.ran is True
    assert result.auto_supersede.candidates_examined == 1
    assert result.auto_supersede.supersession is None
    assert len(c.memories.list(tenant_id=tenant)) == 2
    history = l2.get(f"/memories/{old}/audit", key="a").json()["history"]
    classified = [h for h in history if h["event"] == "memory.classified"]
    assert len(classified) == 1 and classified[0]["details"]["applied"] is False
    assert classified[0]["details"]["verdict"] != "supersedes"


def test_disabled_by_default_and_no_candidates(l2):
    c = l2.client("a")
    tenant = unique("l2")
    first = c.memories.add(content="User works at Initech", tenant_id=tenant)
    assert first.auto_supersede.ran is False
    assert first.auto_supersede.skipped_reason == AUTO_SUPERSEDE_DISABLED
    lonely = c.memories.add(content="User plays the cello", tenant_id=unique("l2"),
                            auto_supersede=True)
    assert lonely.auto_supersede.ran is False
    assert lonely.auto_supersede.skipped_reason == "no candidates"


def test_candidates_never_cross_tenants(l2):
    c = l2.client("a")
    t1, t2 = unique("l2"), unique("l2")
    c.memories.add(content="User works at Initech", tenant_id=t1)
    result = c.memories.add(content="User now works at Globex", tenant_id=t2,
                            auto_supersede=True)
    assert result.auto_supersede.skipped_reason == "no candidates"
    assert len(c.memories.list(tenant_id=t1)) == 1


def test_excluded_categories_are_never_classified(l2):
    c = l2.client("a")
    tenant = unique("l2")
    c.memories.add(content="User takes ibuprofen daily", tenant_id=tenant)
    result = c.memories.add(content="User no longer takes ibuprofen daily", topic="Medical",
                            tenant_id=tenant, auto_supersede=True)
    assert result.auto_supersede.ran is False
    assert result.auto_supersede.skipped_reason == "excluded category: health_medical"
    # A candidate in an excluded category is never superseded either.
    c.memories.add(content="User is allergic to penicillin", topic="Health", tenant_id=tenant)
    other = c.memories.add(content="User is no longer allergic to penicillin",
                           tenant_id=tenant, auto_supersede=True)
    assert other.auto_supersede.supersession is None
    assert "User is allergic to penicillin" in [
        m["decision"] for m in c.memories.list(tenant_id=tenant)]


def test_settings_default_and_min_confidence(l2):
    c = l2.client("b")
    tenant = unique("l2")
    c.settings.update(auto_supersede_default=True, min_confidence=0.95)
    try:
        c.memories.add(content="User's manager is Dana", tenant_id=tenant)
        # A marked change scores 0.92 with the offline rules: under a 0.95 floor, kept.
        changed = c.memories.add(content="User's manager is now Priya", tenant_id=tenant)
        assert changed.auto_supersede.ran is True
        assert changed.auto_supersede.supersession is None
        # An explicit end scores 0.95: applied, without the request flag (key default).
        c.memories.add(content="User is a member of the chess club", tenant_id=tenant)
        ended = c.memories.add(content="User left the chess club", tenant_id=tenant)
        assert ended.auto_supersede.supersession is not None
        # The request flag overrides the key default.
        off = c.memories.add(content="User no longer works at Initech", tenant_id=tenant,
                             auto_supersede=False)
        assert off.auto_supersede.skipped_reason == AUTO_SUPERSEDE_DISABLED
    finally:
        c.settings.update(auto_supersede_default=False, min_confidence=0.85)


def test_messages_mode_gives_one_result_per_row_and_skips_siblings(l2):
    c = l2.client("a")
    tenant = unique("l2")
    old = c.memories.add(content="User lives in Denver", tenant_id=tenant).memory_id
    result = c.memories.add(
        messages=[{"role": "user",
                   "content": "I moved to Austin last month. I also adopted a dog named Rex."}],
        tenant_id=tenant, auto_supersede=True)
    assert result.saved_count == 2
    assert [r.memory_id for r in result.auto_supersede] == result.memory_ids
    applied = [r.supersession.old_memory_id for r in result.auto_supersede if r.supersession]
    assert applied == [old], "one supersession, of the pre-existing row only"
