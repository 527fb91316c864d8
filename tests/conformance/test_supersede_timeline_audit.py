"""Per-memory endpoints: supersede (§7.1), timeline (§7.2), audit (§7.3, §9.5)."""

import uuid

import pytest

from aurra import AurraError, AurraNotFoundError, AurraValidationError

from aurra_helpers import (
    as_z,
    assert_json_error,
    assert_memory_shape,
    assert_temporal_shape,
    assert_ts,
    by_id,
    ids,
    parse_ts,
    unique,
)


def add(client, text, tenant, **kw):
    return client.memories.add(content=text, tenant_id=tenant, **kw).memory_id


def history_row(client, tenant, mid):
    return by_id(client.memories.list(tenant_id=tenant, include_superseded=True, limit=100))[mid]


def events(audit, name):
    return [e for e in audit["history"] if e["event"] == name]


# --------------------------------------------------------------------------- supersede


def test_supersede_by_replacement(acme):
    tenant = unique("sup")
    old, new = add(acme, "Hal drives a Saab", tenant), add(acme, "Hal drives a Volvo", tenant)
    res = acme.memories.supersede(old, superseded_by=new)
    assert res.status == "superseded"
    assert res.memory_id == old and res.superseded_by == new
    assert_ts(res.valid_to, "valid_to")
    row = history_row(acme, tenant, old)
    assert row["valid_to"] == res.valid_to
    assert row["temporal"]["transaction_time_end"] is not None
    assert parse_ts(row["valid_to"]) >= parse_ts(row["valid_from"])
    # The replacement row is not modified.
    repl = history_row(acme, tenant, new)
    assert repl["valid_to"] is None and repl["superseded_by"] is None
    assert repl["temporal"]["is_current"] is True
    assert ids(acme.memories.list(tenant_id=tenant)) == [new]


def test_expiry_in_the_past_with_valid_to_only(acme):
    tenant = unique("exp")
    target = add(acme, "Ivy is on call this week", tenant)
    later = add(acme, "an unrelated later fact", tenant)
    end = history_row(acme, tenant, later)["created_at"]  # after target's valid_from, in the past
    res = acme.memories.supersede(target, valid_to=as_z(end))
    assert res.status == "superseded"
    assert res.memory_id == target
    assert res.superseded_by is None
    assert res.valid_to == end, "valid_to echoes the stored (normalised) value"
    row = history_row(acme, tenant, target)
    t = row["temporal"]
    assert row["valid_to"] == end and row["superseded_by"] is None
    assert t["is_expired"] is True and t["is_current"] is False and t["is_superseded"] is False
    assert t["transaction_time_end"] is None, "an expiry leaves transaction time open"
    assert t["is_known_current"] is True
    assert row["freshness"] == 0.0
    assert ids(acme.memories.list(tenant_id=tenant)) == [later]


def test_an_end_before_the_start_is_an_empty_interval(acme):
    """A fact learnt to have ended before it was recorded as starting (spec: `valid_to` "may
    be in the past"): stored as `valid_to = valid_from`, echoed as stored, and the requested
    end kept in the audit event."""
    tenant = unique("empty")
    target = add(acme, "Nia chaired the 2019 board", tenant)
    valid_from = history_row(acme, tenant, target)["valid_from"]
    res = acme.memories.supersede(target, valid_to="2001-02-03T04:05:06Z")
    assert res.status == "superseded" and res.superseded_by is None
    assert res.valid_to == valid_from, "valid_to is the value actually stored"
    row = history_row(acme, tenant, target)
    assert row["valid_to"] == valid_from
    assert row["temporal"]["is_expired"] is True and row["temporal"]["is_current"] is False
    assert acme.memories.list(tenant_id=tenant) == []
    assert acme.memories.list(tenant_id=tenant, as_of=as_z(valid_from)) == []
    (expired,) = events(acme.memories.get_audit(target), "memory.expired")
    assert expired["details"] == {
        "valid_to": valid_from,
        "requested_valid_to": "2001-02-03T04:05:06.000000+00:00",
    }
    # Idempotent when repeated.
    again = acme.memories.supersede(target, valid_to="2001-02-03T04:05:06Z")
    assert again.valid_to == valid_from
    assert len(events(acme.memories.get_audit(target), "memory.expired")) == 1

    # With a replacement too.
    old, new = add(acme, "Nia lived in Oslo", tenant), add(acme, "Nia lives in Bergen", tenant)
    old_from = history_row(acme, tenant, old)["valid_from"]
    res = acme.memories.supersede(old, superseded_by=new, valid_to="2001-02-03T04:05:06Z")
    assert (res.superseded_by, res.valid_to) == (new, old_from)
    (superseded,) = events(acme.memories.get_audit(old), "memory.superseded")
    assert superseded["details"]["requested_valid_to"] == "2001-02-03T04:05:06.000000+00:00"
    assert superseded["details"]["valid_to"] == old_from


def test_expiry_in_the_future_keeps_the_row_current(acme):
    tenant = unique("exp")
    target = add(acme, "Jon is on PTO until 2999", tenant)
    res = acme.memories.supersede(target, valid_to="2999-05-15T00:00:00Z")
    assert res.valid_to == "2999-05-15T00:00:00.000000+00:00"
    assert res.superseded_by is None
    rows = acme.memories.list(tenant_id=tenant)
    assert ids(rows) == [target]
    t = rows[0]["temporal"]
    assert t["is_current"] is True and t["is_expired"] is False
    assert t["valid_to"] == "2999-05-15T00:00:00.000000+00:00"
    assert ids(acme.memories.list(tenant_id=tenant, as_of="2999-06-01T00:00:00Z")) == []


def test_supersede_with_both_fields(acme):
    tenant = unique("both")
    old = add(acme, "Kim leads team Red", tenant)
    new = add(acme, "Kim leads team Blue", tenant)
    end = history_row(acme, tenant, new)["valid_from"]
    res = acme.memories.supersede(old, superseded_by=new, valid_to=end)
    assert res.superseded_by == new and res.valid_to == end
    row = history_row(acme, tenant, old)
    assert row["superseded_by"] == new and row["valid_to"] == end
    assert row["temporal"]["is_superseded"] is True
    assert row["temporal"]["transaction_time_end"] is not None


def test_identical_repeat_is_idempotent(acme):
    tenant = unique("idem")
    old, new = add(acme, "Lea uses Linux", tenant), add(acme, "Lea uses BSD", tenant)
    first = acme.memories.supersede(old, superseded_by=new)
    second = acme.memories.supersede(old, superseded_by=new)
    assert second.status == "superseded"
    assert (second.superseded_by, second.valid_to) == (first.superseded_by, first.valid_to)
    assert len(events(acme.memories.get_audit(old), "memory.superseded")) == 1


def test_cross_tenant_replacement_within_the_account_is_allowed(acme):
    t1, t2 = unique("x1"), unique("x2")
    old, new = add(acme, "Max is in tenant one", t1), add(acme, "Max moved to tenant two", t2)
    assert acme.memories.supersede(old, superseded_by=new).superseded_by == new
    assert acme.memories.list(tenant_id=t1) == []


def test_unknown_target_is_not_found(acme):
    with pytest.raises(AurraNotFoundError):
        acme.memories.supersede(str(uuid.uuid4()), valid_to="2030-01-01T00:00:00Z")


def test_unknown_replacement_is_not_found(acme):
    tenant = unique("nf")
    target = add(acme, "Nia plays oboe", tenant)
    with pytest.raises(AurraNotFoundError):
        acme.memories.supersede(target, superseded_by=str(uuid.uuid4()))
    assert history_row(acme, tenant, target)["temporal"]["is_current"] is True


def test_another_accounts_memory_is_forbidden(acme, globex):
    tenant = unique("own")
    mine = add(acme, "Owen's secret project", tenant)
    theirs = add(globex, "Globex row", tenant)
    with pytest.raises(AurraError) as err:
        globex.memories.supersede(mine, valid_to="2030-01-01T00:00:00Z")
    assert err.value.status_code == 403 and type(err.value) is AurraError
    # A replacement from another account is refused too.
    with pytest.raises(AurraError) as err:
        acme.memories.supersede(mine, superseded_by=theirs)
    assert err.value.status_code == 403
    assert history_row(acme, tenant, mine)["temporal"]["is_current"] is True


def test_self_reference_is_rejected(acme):
    tenant = unique("self")
    mid = add(acme, "Pia is her own replacement", tenant)
    with pytest.raises(AurraValidationError):
        acme.memories.supersede(mid, superseded_by=mid)


def test_cycle_is_rejected(acme):
    tenant = unique("cyc")
    a, b, c = (add(acme, f"cycle member {x}", tenant) for x in "abc")
    acme.memories.supersede(a, superseded_by=b)
    acme.memories.supersede(b, superseded_by=c)
    with pytest.raises(AurraValidationError):
        acme.memories.supersede(c, superseded_by=a)
    assert history_row(acme, tenant, c)["temporal"]["is_current"] is True


def test_already_superseded_by_another_is_rejected(acme):
    tenant = unique("twice")
    a, b, c = (add(acme, f"re-supersede {x}", tenant) for x in "abc")
    acme.memories.supersede(a, superseded_by=b)
    with pytest.raises(AurraValidationError):
        acme.memories.supersede(a, superseded_by=c)
    assert history_row(acme, tenant, a)["superseded_by"] == b


def test_neither_field_is_400_with_documented_detail(server, acme):
    mid = add(acme, "Quinn needs a body", unique("empty"))
    resp = server.post(f"/memories/{mid}/supersede", json={})
    body = assert_json_error(resp, 400)
    assert body["detail"] == "Must provide superseded_by or valid_to"
    resp = server.post(f"/memories/{mid}/supersede",
                       json={"superseded_by": None, "valid_to": None})
    assert assert_json_error(resp, 400)["detail"] == "Must provide superseded_by or valid_to"


@pytest.mark.parametrize("path", ["/memories/{}/supersede", "/memories/{}/timeline",
                                  "/memories/{}/audit"])
@pytest.mark.parametrize("bad", ["not-a-uuid", "12345", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
def test_malformed_uuid_in_path_is_422(server, path, bad):
    method = "POST" if path.endswith("supersede") else "GET"
    resp = server.request(method, path.format(bad), json={"valid_to": "2030-01-01T00:00:00Z"})
    assert_json_error(resp, 422)


def test_malformed_body_values_are_422(server, acme):
    mid = add(acme, "Rae checks bodies", unique("bad"))
    for body in ({"superseded_by": "not-a-uuid"}, {"valid_to": "next tuesday"},
                 {"valid_to": 12345}):
        resp = server.post(f"/memories/{mid}/supersede", json=body)
        assert_json_error(resp, 422)


# --------------------------------------------------------------------------- timeline


@pytest.fixture(scope="module")
def chain(server):
    acme = server.client("acme")
    tenant = unique("chain")
    a, b, c = (add(acme, f"Sam's title is v{i}", tenant) for i in (1, 2, 3))
    acme.memories.supersede(a, superseded_by=b)
    acme.memories.supersede(b, superseded_by=c)
    return tenant, [a, b, c]


@pytest.mark.parametrize("start", [0, 1, 2])
def test_timeline_from_any_member(acme, chain, start):
    _, members = chain
    entries = acme.memories.timeline(members[start])
    assert [e.id for e in entries] == members, "oldest -> newest"
    assert [e.is_current for e in entries] == [False, False, True]
    assert [e.is_superseded for e in entries] == [True, True, False]
    assert entries[0].superseded_by == members[1] and entries[1].superseded_by == members[2]
    assert entries[0].valid_to and entries[1].valid_to and entries[2].valid_to is None
    assert entries[2].superseded_by is None


def test_timeline_raw_envelope(server, chain):
    _, members = chain
    resp = server.get(f"/memories/{members[1]}/timeline")
    assert resp.status_code == 200
    body = resp.json()
    assert body["memory_id"] == members[1]
    assert body["company_id"] == "acme"
    assert body["chain_length"] == 3 == len(body["timeline"])
    for m in body["timeline"]:
        assert_memory_shape(m)
    assert sum(m["temporal"]["is_current"] for m in body["timeline"]) == 1
    froms = [parse_ts(m["valid_from"]) for m in body["timeline"]]
    assert froms == sorted(froms)


def test_timeline_from_another_key_of_the_account(acme2, chain):
    _, members = chain
    assert [e.id for e in acme2.memories.timeline(members[0])] == members


def test_timeline_of_a_lone_memory(server, acme):
    mid = add(acme, "Tia has no history", unique("lone"))
    entries = acme.memories.timeline(mid)
    assert [e.id for e in entries] == [mid] and entries[0].is_current
    assert server.get(f"/memories/{mid}/timeline").json()["chain_length"] == 1


def test_timeline_with_two_predecessors(server, acme):
    tenant = unique("merge")
    a, b, c = (add(acme, f"merge {x}", tenant) for x in "abc")
    acme.memories.supersede(a, superseded_by=c)
    acme.memories.supersede(b, superseded_by=c)
    body = server.get(f"/memories/{a}/timeline").json()
    assert body["chain_length"] == 3
    assert set(ids(body["timeline"])) == {a, b, c}
    assert body["timeline"][-1]["id"] == c


def test_timeline_unknown_is_not_found(acme):
    with pytest.raises(AurraNotFoundError):
        acme.memories.timeline(str(uuid.uuid4()))


def test_timeline_and_audit_of_another_account_are_forbidden(server, chain):
    _, members = chain
    for path in (f"/memories/{members[0]}/timeline", f"/memories/{members[0]}/audit"):
        assert_json_error(server.get(path, key="globex"), 403)


# --------------------------------------------------------------------------- audit


def test_audit_of_a_fresh_content_write(acme):
    tenant = unique("aud")
    text = "Uma's badge number is 4471"
    mid = acme.memories.add(content=text, topic="security", source="crm",
                            tenant_id=tenant).memory_id
    audit = acme.memories.get_audit(mid)
    assert audit["memory_id"] == mid
    assert audit["memory"]["decision"] == text and audit["memory"]["topic"] == "security"
    assert audit["memory"]["summary"] == text
    prov = audit["provenance"]
    assert prov["original_input"] == text
    assert prov["source_type"] == "crm"
    assert prov["channel"] == "crm"
    assert prov["tenant_id"] == tenant
    assert prov["external_id"] is None
    assert_ts(prov["captured_at"])
    assert isinstance(audit["extraction"], dict)
    for k in ("model", "prompt_version", "extracted_at"):
        assert k in audit["extraction"], f"extraction lacks {k}"
    assert_temporal_shape(audit["temporal"])
    assert audit["temporal"]["is_current"] is True
    history = audit["history"]
    assert [e["event"] for e in history][:2] == ["created", "memory.created"]
    for e in history:
        assert {"event", "at", "by", "details"} <= set(e)
        assert_ts(e["at"])
    assert history[0]["by"] == "aurra-extractor"
    assert history[0]["details"] is None
    created = history[1]
    assert created["by"] == "acme"
    assert created["details"]["shape"] == "legacy_content"
    assert created["details"]["topic"] == "security"
    assert created["details"]["source"] == "crm"
    assert created["details"]["tenant_id"] == tenant


def test_audit_after_supersession_and_expiry(acme):
    tenant = unique("aud")
    old, new = add(acme, "Vic lives in Rome", tenant), add(acme, "Vic lives in Milan", tenant)
    expiring = add(acme, "Vic is visiting Paris", tenant)
    res = acme.memories.supersede(old, superseded_by=new)
    exp = acme.memories.supersede(expiring, valid_to="2999-01-01T00:00:00Z")

    audit = acme.memories.get_audit(old)
    names = [e["event"] for e in audit["history"]]
    assert names[:2] == ["created", "memory.created"]
    assert names[-1] == "memory.superseded"
    sup = audit["history"][-1]
    assert sup["details"]["superseded_by"] == new
    assert sup["details"]["valid_to"] == res.valid_to
    assert sup["by"] == "acme"
    ats = [parse_ts(e["at"]) for e in audit["history"]]
    assert ats == sorted(ats), "history is oldest first"
    assert audit["temporal"]["is_superseded"] is True
    assert audit["temporal"]["superseded_by"] == new

    audit = acme.memories.get_audit(expiring)
    assert [e["event"] for e in audit["history"]][-1] == "memory.expired"
    assert audit["history"][-1]["details"]["valid_to"] == exp.valid_to
    assert not events(audit, "memory.superseded")

    # The replacement's own log is untouched by the supersession.
    audit = acme.memories.get_audit(new)
    assert [e["event"] for e in audit["history"]] == ["created", "memory.created"]


def test_audit_from_another_key_of_the_account(acme, acme2):
    mid = add(acme, "Wes is audited by key two", unique("aud"))
    assert acme2.memories.get_audit(mid)["memory_id"] == mid


def test_audit_unknown_is_not_found(acme):
    with pytest.raises(AurraNotFoundError):
        acme.memories.get_audit(str(uuid.uuid4()))


def test_api_keys_never_appear_in_responses(server, acme):
    tenant = unique("secret")
    texts = []
    resp = server.post("/agent/memories", json={"content": "Xena's key test", "tenant_id": tenant})
    texts.append(resp.text)
    mid = resp.json()["memory_id"]
    resp2 = server.post("/agent/memories", json={"content": "Xena's key test 2", "tenant_id": tenant})
    texts.append(resp2.text)
    texts.append(server.post(f"/memories/{mid}/supersede",
                             json={"superseded_by": resp2.json()["memory_id"]}).text)
    for path in (f"/memories/{mid}/audit", f"/memories/{mid}/timeline", "/agent/settings",
                 "/plan/status"):
        resp = server.get(path)
        assert resp.status_code == 200
        texts.append(resp.text)
    texts.append(server.get("/agent/memories", params={"tenant_id": tenant,
                                                       "include_superseded": "true"}).text)
    texts.append(server.post("/agent/query", json={"question": "q", "tenant_id": unique("e")}).text)
    for secret in server.keys.values():
        for text in texts:
            assert secret not in text
            assert secret[len("aurra_"):] not in text


def test_api_keys_never_appear_in_the_server_log(server):
    log = server.log_text()
    for secret in server.keys.values():
        assert secret not in log, "the server log contains an API key"
