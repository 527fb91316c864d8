"""A graceful stop and a restart on the same data directory lose nothing (memories, their
versions and audit logs, duplicate fingerprints, settings, plan usage, keys)."""

import uuid

import pytest

from aurra import AurraNotFoundError

from aurra_helpers import parse_ts, unique


def without_freshness(body):
    """A list body with `freshness` (computed per read) taken out."""
    for m in body["memories"]:
        m.pop("freshness")
    return body


@pytest.fixture(scope="module")
def restarted(launcher):
    srv = launcher.start("persist", {"acme": ("persistco", "main"), "k2": ("persistco", "second")})
    c = srv.client("acme")
    tenant = unique("p")
    a = c.memories.add(content="Persisted fact v1", tenant_id=tenant).memory_id
    b = c.memories.add(content="Persisted fact v2", tenant_id=tenant).memory_id
    e = c.memories.add(content="Persisted expiring fact", tenant_id=tenant).memory_id
    c.memories.supersede(a, superseded_by=b)
    c.memories.supersede(e, valid_to="2999-01-01T00:00:00Z")
    s = c.memories.add(messages=[{"role": "user", "content": "I keep a bonsai on my desk."},
                                 {"role": "assistant", "content": "How lovely."}],
                       session_id="persist-session", tenant_id=tenant)
    c.settings.update(min_confidence=0.93, excluded_categories=["persisted"])
    assert srv.patch("/agent/settings", key="acme",
                     json={"freshness_half_life_days": 12}).status_code == 200
    params = {"tenant_id": tenant, "include_superseded": "true"}
    before = {
        "list": without_freshness(srv.get("/agent/memories", params=params).json()),
        "tx_list": without_freshness(srv.get("/agent/memories", params={
            "tenant_id": tenant,
            "transaction_as_of": srv.get("/agent/memories", params=params).json()
            ["memories"][-1]["temporal"]["transaction_time_start"]}).json()),
        "audit": {m: srv.get(f"/memories/{m}/audit").json() for m in (a, b, e)},
        "timeline": srv.get(f"/memories/{b}/timeline").json(),
        "settings": srv.get("/agent/settings", key="acme").json(),
        "settings2": srv.get("/agent/settings", key="k2").json(),
        "plan": srv.get("/plan/status", key="acme").json(),
    }
    launcher.stop(srv)  # asserts a graceful exit 0
    srv2 = launcher.restart(srv)
    yield srv2, tenant, (a, b, e), s, before
    launcher.stop(srv2)


def test_memories_versions_and_replay_survive(restarted):
    srv, tenant, _, _, before = restarted
    params = {"tenant_id": tenant, "include_superseded": "true"}
    assert without_freshness(srv.get("/agent/memories", params=params).json()) == before["list"]
    tx = before["tx_list"]["transaction_as_of"]
    got = srv.get("/agent/memories", params={"tenant_id": tenant, "transaction_as_of": tx})
    assert without_freshness(got.json()) == before["tx_list"]


def test_audit_and_timeline_survive(restarted):
    srv, _, (a, b, e), _, before = restarted
    for mid in (a, b, e):
        assert srv.get(f"/memories/{mid}/audit").json() == before["audit"][mid]
    timeline = srv.get(f"/memories/{b}/timeline").json()
    for m in timeline["timeline"]:
        m.pop("freshness")
    for m in before["timeline"]["timeline"]:
        m.pop("freshness", None)
    assert timeline == before["timeline"]


def test_settings_and_plan_survive(restarted):
    srv, _, _, _, before = restarted
    assert srv.get("/agent/settings", key="acme").json() == before["settings"]
    assert srv.get("/agent/settings", key="k2").json() == before["settings2"]
    assert srv.get("/agent/settings", key="acme").json()["freshness_half_life_days"] == 12.0
    plan = srv.get("/plan/status", key="acme").json()
    assert plan["org_id"] == before["plan"]["org_id"]
    assert plan["writes_used"] == before["plan"]["writes_used"] == 4


def test_duplicate_fingerprints_survive(restarted):
    srv, tenant, _, _, _ = restarted
    resp = srv.post("/agent/memories", key="acme", json={"content": "Persisted fact v2",
                                                      "tenant_id": tenant})
    assert resp.json()["status"] == "duplicate"
    # The superseded text is free again.
    resp = srv.post("/agent/memories", key="acme", json={"content": "Persisted fact v1",
                                                      "tenant_id": tenant})
    assert resp.json()["status"] == "saved"


def test_new_writes_after_restart_come_later_in_transaction_time(restarted):
    srv, tenant, _, _, before = restarted
    c = srv.client("k2")
    mid = c.memories.add(content=unique("after restart"), tenant_id=tenant).memory_id
    rows = c.memories.list(tenant_id=tenant, include_superseded=True, limit=100)
    assert rows[0]["id"] == mid, "newest first"
    latest_before = max(parse_ts(m["temporal"]["transaction_time_start"])
                        for m in before["list"]["memories"])
    assert parse_ts(rows[0]["temporal"]["transaction_time_start"]) > latest_before
    with pytest.raises(AurraNotFoundError):
        c.memories.get_audit(str(uuid.uuid4()))
