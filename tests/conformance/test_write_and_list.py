"""Content-mode writes (spec §5.1, §3.5, §9.3) and the list endpoint (spec §5.2, §3.2)."""

from datetime import datetime, timedelta, timezone

import pytest

from aurra import AurraError

from aurra_helpers import (
    AUTO_SUPERSEDE_DISABLED,
    assert_json_error,
    assert_memory_shape,
    assert_ts,
    assert_uuid,
    by_id,
    ids,
    parse_ts,
    unique,
)


def raw_write(server, body, key="acme"):
    resp = server.post("/agent/memories", json=body, key=key)
    assert resp.status_code == 200, f"{body} -> {resp.status_code} {resp.text}"
    return resp.json()


def listed(server, memory_id, tenant_id=None, key="acme"):
    """The row `memory_id` as the list endpoint renders it (full history of its tenant)."""
    params = {"limit": 1000, "include_superseded": "true"}
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    resp = server.get("/agent/memories", params=params, key=key)
    assert resp.status_code == 200, resp.text
    rows = by_id(resp.json()["memories"])
    assert memory_id in rows, f"{memory_id} not listed in tenant {tenant_id!r}"
    return rows[memory_id]


# --------------------------------------------------------------------------- writes


def test_content_write_response_through_sdk(acme):
    tenant = unique("w")
    result = acme.memories.add(content="Alice is a senior engineer at Acme Corp.",
                               topic="people", importance_score=8, source="crm",
                               tenant_id=tenant)
    assert result.status == "saved"
    assert_uuid(result.memory_id, "memory_id")
    auto = result.auto_supersede
    assert auto is not None and not isinstance(auto, list), "content mode returns one object"
    assert auto.ran is False
    assert auto.skipped_reason == AUTO_SUPERSEDE_DISABLED
    assert auto.candidates_examined == 0
    assert auto.supersession is None


def test_content_write_raw_response(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "Raw write fact", "tenant_id": tenant})
    assert body["status"] == "saved"
    assert_uuid(body["memory_id"])
    assert body["company_id"] == "acme"
    assert body["tenant_id"] == tenant
    auto = body["auto_supersede"]
    assert isinstance(auto, dict)
    assert auto["ran"] is False
    assert auto["skipped_reason"] == AUTO_SUPERSEDE_DISABLED
    assert auto["candidates_examined"] == 0
    assert auto["supersession"] is None


def test_content_write_in_default_tenant_echoes_null_tenant(server):
    body = raw_write(server, {"content": unique("default tenant fact")})
    assert body["status"] == "saved"
    assert body["tenant_id"] is None


def test_written_row_is_listed_with_every_field(server, acme):
    tenant = unique("w")
    text = "Bob prefers tea over coffee"
    result = acme.memories.add(content=text, topic="preferences", importance_score=3,
                               source="email", tenant_id=tenant)
    rows = acme.memories.list(tenant_id=tenant)
    assert ids(rows) == [result.memory_id]
    m = rows[0]
    assert_memory_shape(m)
    assert m["decision"] == text
    assert m["summary"] == text
    assert m["original_message"] == text
    assert m["topic"] == "preferences"
    assert m["importance_score"] == 3
    assert m["source"] == "email"
    assert m["channel"] == "email", "content mode: channel equals source"
    assert m["session_id"] is None
    assert m["tenant_id"] == tenant
    assert m["valid_to"] is None and m["superseded_by"] is None
    assert m["freshness"] >= 0.999, "a brand-new row is fresh (0.5^(age/30 d))"
    t = m["temporal"]
    assert t["is_current"] is True and t["is_expired"] is False and t["is_superseded"] is False
    assert t["transaction_time_end"] is None and t["is_known_current"] is True
    assert_ts(t["transaction_time_start"])
    assert m["source_citation"]["captured_at"] == m["created_at"]
    assert parse_ts(m["valid_from"]) <= parse_ts(m["created_at"]) + timedelta(seconds=1)


def test_write_defaults(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "Defaults only", "tenant_id": tenant})
    m = listed(server, body["memory_id"], tenant)
    assert m["topic"] == "General"
    assert m["source"] == "agent"
    assert m["channel"] == "agent"
    assert m["importance_score"] == 5


def test_unicode_content_round_trips(acme):
    tenant = unique("w")
    text = "Zoë moved from Kraków to 東京 — she ❤️ ramen"
    result = acme.memories.add(content=text, tenant_id=tenant, topic="Wohnort ✓")
    m = acme.memories.list(tenant_id=tenant)[0]
    assert m["id"] == result.memory_id
    assert m["decision"] == text and m["topic"] == "Wohnort ✓"


def test_legacy_importance_through_sdk_maps_high_to_8(acme):
    tenant = unique("w")
    with pytest.warns(DeprecationWarning):
        result = acme.memories.add(content="Legacy high importance", importance="high",
                                   tenant_id=tenant)
    assert acme.memories.list(tenant_id=tenant)[0]["importance_score"] == 8
    assert result.status == "saved"


@pytest.mark.parametrize("legacy,expected", [
    ("low", 2), ("medium", 5), ("high", 8), ("HIGH", 8), ("Low", 2), ("whatever", 5),
])
def test_raw_legacy_importance_string(server, legacy, expected):
    tenant = unique("w")
    body = raw_write(server, {"content": f"legacy {legacy}", "importance": legacy,
                              "tenant_id": tenant})
    assert listed(server, body["memory_id"], tenant)["importance_score"] == expected


def test_importance_score_wins_over_legacy_importance(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "both importances", "importance": "low",
                              "importance_score": 9, "tenant_id": tenant})
    assert listed(server, body["memory_id"], tenant)["importance_score"] == 9


@pytest.mark.parametrize("given,stored", [(42, 10), (11, 10), (0, 1), (-3, 1), (1, 1), (10, 10)])
def test_importance_score_is_clamped(acme, given, stored):
    tenant = unique("w")
    acme.memories.add(content=f"clamp {given}", importance_score=given, tenant_id=tenant)
    assert acme.memories.list(tenant_id=tenant)[0]["importance_score"] == stored


def test_blank_content_is_rejected(server):
    resp = server.post("/agent/memories", json={"content": "   ", "tenant_id": unique("w")})
    assert resp.status_code in (400, 422), resp.text
    assert "detail" in resp.json()


def test_original_message_is_truncated_to_500_chars_but_decision_is_not(server, acme):
    tenant = unique("w")
    text = ("The quarterly roadmap says " + "x" * 700)[:720]
    result = acme.memories.add(content=text, tenant_id=tenant)
    m = acme.memories.list(tenant_id=tenant)[0]
    assert m["decision"] == text
    assert m["original_message"] == text[:500]
    assert m["source_citation"]["original_message"] == text[:500]
    audit = acme.memories.get_audit(result.memory_id)
    assert audit["provenance"]["original_input"] == text


def test_optional_valid_from_back_dates_validity(server, acme):
    tenant = unique("w")
    body = raw_write(server, {"content": "Carol joined in 2020", "tenant_id": tenant,
                              "valid_from": "2020-01-01T00:00:00Z"})
    m = listed(server, body["memory_id"], tenant)
    assert m["valid_from"] == "2020-01-01T00:00:00.000000+00:00"
    assert m["temporal"]["valid_from"] == m["valid_from"]
    # Transaction time and created_at are never back-dated.
    assert parse_ts(m["created_at"]) > datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert parse_ts(m["temporal"]["transaction_time_start"]) > datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert m["temporal"]["is_current"] is True
    assert ids(acme.memories.list(tenant_id=tenant, as_of="2021-06-01T00:00:00Z")) == [m["id"]]
    assert acme.memories.list(tenant_id=tenant, as_of="2019-06-01T00:00:00Z") == []


def test_explicit_valid_from_wins_over_recorded_at(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "both instants", "tenant_id": tenant,
                              "recorded_at": "2024-02-03T00:00:00Z",
                              "valid_from": "2023-01-01T00:00:00Z"})
    m = listed(server, body["memory_id"], tenant)
    assert m["valid_from"] == "2023-01-01T00:00:00.000000+00:00"
    assert m["source_citation"]["captured_at"] == "2024-02-03T00:00:00.000000+00:00"


def test_valid_from_with_another_offset_is_normalised(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "offset fact", "tenant_id": tenant,
                              "valid_from": "2021-03-04T10:00:00+02:00"})
    assert listed(server, body["memory_id"], tenant)["valid_from"] == \
        "2021-03-04T08:00:00.000000+00:00"


def test_optional_recorded_at_sets_valid_from_and_captured_at_only(server):
    tenant = unique("w")
    body = raw_write(server, {"content": "recorded earlier", "tenant_id": tenant,
                              "recorded_at": "2024-02-03T04:05:06.123456Z"})
    assert body["status"] == "saved"
    m = listed(server, body["memory_id"], tenant)
    assert m["valid_from"] == "2024-02-03T04:05:06.123456+00:00"
    assert m["source_citation"]["captured_at"] == "2024-02-03T04:05:06.123456+00:00"
    # ... and never changes created_at / transaction_time_start (spec §5.1).
    assert parse_ts(m["created_at"]) > datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert parse_ts(m["temporal"]["transaction_time_start"]) > datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_optional_external_id_is_accepted_and_kept_in_provenance(server, acme):
    tenant = unique("w")
    body = raw_write(server, {"content": "from ticket", "source": "ticket",
                              "external_id": "TICKET-4711", "tenant_id": tenant})
    assert body["status"] == "saved"
    audit = acme.memories.get_audit(body["memory_id"])
    assert audit["provenance"]["external_id"] == "TICKET-4711"


# --------------------------------------------------------------------------- duplicates


def test_duplicate_content_is_suppressed_in_the_same_tenant_and_source(server):
    tenant = unique("dup")
    first = raw_write(server, {"content": "Dana uses Vim", "tenant_id": tenant})
    again = raw_write(server, {"content": "Dana uses Vim", "tenant_id": tenant})
    assert again["status"] == "duplicate"
    assert again["memory_id"] is None
    assert again["duplicate_of"] == first["memory_id"]
    resp = server.get("/agent/memories", params={"tenant_id": tenant, "include_superseded": "true"})
    assert ids(resp.json()["memories"]) == [first["memory_id"]], "no second row was stored"


def test_duplicate_through_sdk_has_no_memory_id(acme):
    tenant = unique("dup")
    acme.memories.add(content="Eve likes chess", tenant_id=tenant)
    again = acme.memories.add(content="Eve likes chess", tenant_id=tenant)
    assert again.status == "duplicate"
    assert again.memory_id is None


def test_same_content_saves_in_another_tenant_source_or_case(server):
    tenant, other = unique("dup"), unique("dup")
    first = raw_write(server, {"content": "Frank is vegan", "tenant_id": tenant})
    cases = [
        {"content": "Frank is vegan", "tenant_id": other},
        {"content": "Frank is vegan"},  # default tenant
        {"content": "Frank is vegan", "tenant_id": tenant, "source": "email"},
        {"content": "FRANK IS VEGAN", "tenant_id": tenant},
    ]
    seen = {first["memory_id"]}
    for body in cases:
        out = raw_write(server, body)
        assert out["status"] == "saved", f"{body} was treated as a duplicate: {out}"
        assert out["memory_id"] not in seen
        seen.add(out["memory_id"])


def test_same_content_saves_in_another_account(server):
    text = unique("cross-account fact")
    tenant = unique("dup")
    a = raw_write(server, {"content": text, "tenant_id": tenant}, key="acme")
    g = raw_write(server, {"content": text, "tenant_id": tenant}, key="globex")
    assert a["status"] == g["status"] == "saved"
    assert a["memory_id"] != g["memory_id"]


def test_superseded_row_no_longer_blocks_its_text(server, acme):
    tenant = unique("dup")
    old = acme.memories.add(content="Gina lives in Oslo", tenant_id=tenant).memory_id
    new = acme.memories.add(content="Gina lives in Bergen", tenant_id=tenant).memory_id
    acme.memories.supersede(old, superseded_by=new)
    again = raw_write(server, {"content": "Gina lives in Oslo", "tenant_id": tenant})
    assert again["status"] == "saved", "duplicate suppression compares live rows only"


# --------------------------------------------------------------------------- list


def test_list_is_newest_first(acme):
    tenant = unique("l")
    written = [acme.memories.add(content=f"ordered fact {i}", tenant_id=tenant).memory_id
               for i in range(4)]
    rows = acme.memories.list(tenant_id=tenant)
    assert ids(rows) == list(reversed(written))
    created = [parse_ts(m["created_at"]) for m in rows]
    assert created == sorted(created, reverse=True)
    for m in rows:
        assert_memory_shape(m)


def test_list_limit(acme):
    tenant = unique("l")
    written = [acme.memories.add(content=f"limited fact {i}", tenant_id=tenant).memory_id
               for i in range(3)]
    assert ids(acme.memories.list(tenant_id=tenant, limit=2)) == written[:0:-1]
    assert ids(acme.memories.list(tenant_id=tenant, limit=1)) == [written[-1]]
    assert len(acme.memories.list(tenant_id=tenant, limit=1000)) == 3


def test_list_without_limit_defaults_to_at_least_100(server, acme):
    # Raw request without `limit`: the server default is 100 (spec §5.2); 25 rows all come back.
    tenant = unique("l")
    for i in range(25):
        acme.memories.add(content=f"bulk fact {i}", tenant_id=tenant)
    resp = server.get("/agent/memories", params={"tenant_id": tenant})
    assert resp.status_code == 200
    assert resp.json()["count"] == 25
    # The SDK's own default is 20.
    assert len(acme.memories.list(tenant_id=tenant)) == 20


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_list_limit_out_of_range_is_422(server, acme, limit):
    with pytest.raises(AurraError) as err:
        acme.memories.list(limit=limit)
    assert type(err.value) is AurraError, f"422 maps to the base class, got {type(err.value)}"
    assert err.value.status_code == 422
    resp = server.get("/agent/memories", params={"limit": limit})
    assert_json_error(resp, 422)


def test_list_limit_not_an_integer_is_422(server):
    body = assert_json_error(server.get("/agent/memories", params={"limit": "ten"}), 422)
    assert "detail" in body


def test_tenant_scoping(acme):
    tenant = unique("t")
    default_text = unique("default-tenant row")
    in_default = acme.memories.add(content=default_text).memory_id
    in_tenant = acme.memories.add(content=default_text, tenant_id=tenant).memory_id
    default_ids = ids(acme.memories.list(limit=1000))
    tenant_rows = acme.memories.list(tenant_id=tenant)
    assert in_default in default_ids
    assert in_tenant not in default_ids, "the default tenant excludes tenant rows"
    assert ids(tenant_rows) == [in_tenant], "a tenant excludes default-tenant rows"
    assert tenant_rows[0]["tenant_id"] == tenant
    assert by_id(acme.memories.list(limit=1000))[in_default]["tenant_id"] is None
    assert acme.memories.list(tenant_id=unique("empty")) == []


def test_source_filter_is_exact(acme):
    tenant = unique("s")
    agent = acme.memories.add(content="from the agent", tenant_id=tenant).memory_id
    email = acme.memories.add(content="from an email", source="email", tenant_id=tenant).memory_id
    sess = acme.memories.add(content="from a session", source="agent_session",
                             tenant_id=tenant).memory_id
    assert ids(acme.memories.list(tenant_id=tenant, source="agent")) == [agent]
    assert ids(acme.memories.list(tenant_id=tenant, source="email")) == [email]
    assert ids(acme.memories.list(tenant_id=tenant, source="agent_session")) == [sess]
    assert acme.memories.list(tenant_id=tenant, source="Agent") == []
    assert acme.memories.list(tenant_id=tenant, source="agen") == []
    assert len(acme.memories.list(tenant_id=tenant)) == 3


def test_raw_list_envelope_and_echoes(server, acme):
    tenant = unique("e")
    keep = acme.memories.add(content="envelope kept", tenant_id=tenant).memory_id
    old = acme.memories.add(content="envelope old", tenant_id=tenant).memory_id
    acme.memories.supersede(old, superseded_by=keep)
    resp = server.get("/agent/memories", params={"tenant_id": tenant, "source": "agent"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["company_id"] == "acme"
    assert body["tenant_id"] == tenant
    assert body["source"] == "agent"
    assert body["as_of"] is None and body["transaction_as_of"] is None
    assert body["include_superseded"] is False
    assert body["count"] == len(body["memories"]) == 1
    assert body["superseded_count"] == 0

    resp = server.get("/agent/memories", params={"tenant_id": tenant, "include_superseded": "true"})
    body = resp.json()
    assert body["include_superseded"] is True
    assert body["source"] is None
    assert body["count"] == 2 and body["superseded_count"] == 1

    resp = server.get("/agent/memories", params={"tenant_id": tenant, "include_superseded": "false"})
    assert resp.json()["count"] == 1 and resp.json()["include_superseded"] is False

    resp = server.get("/agent/memories")
    assert resp.status_code == 200 and resp.json()["tenant_id"] is None
