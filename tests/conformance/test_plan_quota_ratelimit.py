"""Plan status (spec §8.3), write quota and grace period (§2.7), request rate limiting (§2.6).

Quota and rate-limit behaviour each run on their own server instance, so the shared server
never throttles anything.
"""

import re
import uuid

import pytest

from aurra import AurraRateLimitError

from aurra_helpers import PLAN_FIELDS, UUID_RE, assert_json_error, assert_ts, unique


def plan(server, key="acme"):
    resp = server.get("/plan/status", key=key)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    missing = PLAN_FIELDS - set(body)
    assert not missing, f"plan status lacks {sorted(missing)}"
    return body


def assert_retry_after(resp, minimum=0):
    value = resp.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {resp.headers}"
    assert re.fullmatch(r"\d+", value.strip()), f"Retry-After {value!r} is not whole seconds"
    assert int(value) >= minimum
    return int(value)


# --------------------------------------------------------------------------- plan status


def test_plan_status_shape_and_defaults(server):
    body = plan(server)
    assert isinstance(body["org_id"], str) and UUID_RE.match(body["org_id"])
    assert body["plan_tier"] == "starter"
    assert body["plan_status"] == "active"
    assert body["writes_limit"] == 50000
    for k in ("writes_used", "writes_limit", "writes_remaining"):
        assert isinstance(body[k], int) and not isinstance(body[k], bool)
    assert body["writes_remaining"] == body["writes_limit"] - body["writes_used"]
    assert_ts(body["period_start"], "period_start")
    assert re.match(r"^\d{4}-\d{2}-01T00:00:00\.000000\+00:00$", body["period_start"]), \
        "the default period starts on the first day of the UTC month"
    assert body["in_grace_period"] is False and body["blocked"] is False


def test_org_id_is_stable_per_account(server):
    assert plan(server)["org_id"] == plan(server)["org_id"] == plan(server, "acme2")["org_id"]
    assert plan(server, "globex")["org_id"] != plan(server)["org_id"]


def test_writes_used_counts_successful_writes_per_account(server, acme):
    before, other_before = plan(server), plan(server, "globex")
    tenant = unique("plan")
    acme.memories.add(content="counted write 1", tenant_id=tenant)
    server.client("acme2").memories.add(content="counted write 2", tenant_id=tenant)
    # Refused requests are not writes.
    assert server.post("/agent/memories", json={"tenant_id": tenant}).status_code == 400
    assert server.post("/agent/memories", json={"content": 5}).status_code == 422
    # Reads, supersessions and deletes are free.
    acme.memories.list(tenant_id=tenant)
    mid = acme.memories.list(tenant_id=tenant)[0]["id"]
    acme.memories.supersede(mid, valid_to="2999-01-01T00:00:00Z")
    server.delete("/agent/memories", params={"tenant_id": unique("nothing")})
    after = plan(server)
    assert after["writes_used"] == before["writes_used"] + 2
    assert after["writes_remaining"] == after["writes_limit"] - after["writes_used"]
    assert plan(server, "globex")["writes_used"] == other_before["writes_used"]


# --------------------------------------------------------------------------- quota with grace


@pytest.fixture(scope="module")
def grace_server(launcher):
    srv = launcher.start("quota-grace", {"q": ("quotaco", "main"), "other": ("otherco", "main")},
                         ["--enforce-quota", "--writes-limit", "2", "--grace-days", "7",
                          "--plan-tier", "pro"])
    yield srv
    launcher.stop(srv)


def test_quota_grace_period(grace_server):
    srv = grace_server
    client = srv.client("q")
    start = plan(srv, "q")
    assert start["plan_tier"] == "pro"
    assert start["writes_limit"] == 2 and start["writes_used"] == 0
    assert start["writes_remaining"] == 2
    assert start["in_grace_period"] is False and start["blocked"] is False

    first = client.memories.add(content="quota write 1").memory_id
    client.memories.add(content="quota write 2")
    full = plan(srv, "q")
    assert full["writes_used"] == 2 and full["writes_remaining"] == 0

    with pytest.raises(AurraRateLimitError) as err:
        client.memories.add(content="quota write 3")
    assert err.value.status_code == 429
    resp = srv.post("/agent/memories", key="q", json={"content": "quota write 4"})
    body = assert_json_error(resp, 429)
    assert isinstance(body["detail"], str) and body["detail"]
    assert_retry_after(resp)

    # Reads keep working during the grace period.
    rows = client.memories.list()
    assert len(rows) == 2 and first in [m["id"] for m in rows]
    assert [e.id for e in client.memories.timeline(first)] == [first]
    assert client.memories.get_audit(first)["memory_id"] == first
    assert client.settings.get().min_confidence == 0.85
    empty = client.memories.query("anything?", tenant_id=unique("nobody"))
    assert empty.memories_searched == 0

    grace = plan(srv, "q")
    assert grace["in_grace_period"] is True
    assert grace["blocked"] is False
    assert grace["writes_used"] == 2, "refused writes are not counted"
    assert grace["writes_remaining"] == 0

    # The quota is per account.
    assert srv.client("other").memories.add(content="another account writes").status == "saved"
    assert plan(srv, "other")["in_grace_period"] is False


# --------------------------------------------------------------------------- blocked


@pytest.fixture(scope="module")
def blocked_server(launcher):
    srv = launcher.start("quota-blocked", {"q": ("blockco", "main")},
                         ["--enforce-quota", "--writes-limit", "1", "--grace-days", "0"])
    yield srv
    launcher.stop(srv)


def test_blocked_account_refuses_reads_but_answers_plan_status(blocked_server):
    srv = blocked_server
    client = srv.client("q")
    mid = client.memories.add(content="the only allowed write").memory_id
    assert client.memories.list()[0]["id"] == mid

    with pytest.raises(AurraRateLimitError):
        client.memories.add(content="one too many")

    with pytest.raises(AurraRateLimitError):
        client.memories.list()
    resp = srv.get("/agent/memories", key="q")
    body = assert_json_error(resp, 429)
    assert isinstance(body["detail"], str) and body["detail"]
    assert_retry_after(resp)
    for method, path in (("GET", f"/memories/{mid}/audit"), ("GET", f"/memories/{mid}/timeline"),
                         ("GET", "/agent/settings")):
        r = srv.request(method, path, key="q")
        assert_json_error(r, 429)
        assert_retry_after(r)
    assert_json_error(srv.post("/agent/query", key="q", json={"question": "?"}), 429)
    assert_json_error(srv.post("/agent/memories", key="q", json={"content": "x"}), 429)

    status = plan(srv, "q")
    assert status["blocked"] is True
    assert status["writes_used"] == 1 and status["writes_remaining"] == 0
    assert srv.get("/health", key=None).json() == {"status": "ok"}


# --------------------------------------------------------------------------- rate limit


@pytest.fixture(scope="module")
def limited_server(launcher):
    srv = launcher.start("ratelimit", {"a": ("rateco", "a"), "b": ("rateco", "b")},
                         ["--rate-limit-per-minute", "3"])
    yield srv
    launcher.stop(srv)


def test_rate_limit_per_key(limited_server):
    srv = limited_server
    a = srv.client("a")
    for _ in range(3):
        a.settings.get()
    with pytest.raises(AurraRateLimitError) as err:
        a.memories.list()
    assert err.value.status_code == 429
    resp = srv.get("/plan/status", key="a")
    body = assert_json_error(resp, 429)
    assert isinstance(body["detail"], str) and body["detail"]
    assert assert_retry_after(resp, minimum=1) <= 60

    # Another key (even of the same account) has its own budget.
    b = srv.client("b")
    b.settings.get()
    assert isinstance(b.memories.list(), list)
    # Unauthenticated requests are refused as such, not throttled on behalf of a key.
    assert srv.get("/agent/settings", key=None).json() == {"detail": "Not authenticated"}
    bogus = srv.get("/agent/settings", key=None,
                    headers={"Authorization": f"Bearer aurra_{uuid.uuid4().hex}"})
    assert bogus.status_code == 401
