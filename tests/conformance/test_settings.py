"""Per-key settings (spec §8.1, §8.2, §3.6).

Only the `settings_a` key is ever changed; `settings_b` (same account) must keep the defaults.
Each test sets every value it asserts, so test order does not matter.
"""

import pytest

from aurra import AurraError, AurraValidationError

from aurra_helpers import assert_json_error, by_id, unique

DEFAULT_CATEGORIES = ["health_medical", "legal_status"]
DEFAULT_MODEL = "claude-haiku-4-5-20251001"


@pytest.fixture(scope="module")
def sa(server):
    return server.client("settings_a")


@pytest.fixture(scope="module")
def sb(server):
    return server.client("settings_b")


def test_defaults_through_sdk(sb):
    s = sb.settings.get()
    assert s.auto_supersede_default is False
    assert s.excluded_categories == DEFAULT_CATEGORIES
    assert s.min_confidence == 0.85
    assert s.classifier_model == DEFAULT_MODEL


def test_defaults_raw(server):
    resp = server.get("/agent/settings", key="settings_b")
    assert resp.status_code == 200
    body = resp.json()
    assert body["auto_supersede_default"] is False
    assert body["excluded_categories"] == DEFAULT_CATEGORIES
    assert body["min_confidence"] == 0.85
    assert body["classifier_model"] == DEFAULT_MODEL
    assert body["freshness_half_life_days"] == 30.0
    assert isinstance(body["freshness_half_life_days"], float)


def test_update_returns_the_full_object(server, sa):
    s = sa.settings.update(min_confidence=0.9)
    assert s.min_confidence == 0.9
    assert isinstance(s.excluded_categories, list)
    assert s.classifier_model
    resp = server.patch("/agent/settings", key="settings_a", json={"min_confidence": 0.95})
    assert resp.status_code == 200
    body = resp.json()
    for k in ("auto_supersede_default", "excluded_categories", "min_confidence",
              "classifier_model", "freshness_half_life_days"):
        assert k in body, f"PATCH response lacks {k}"
    assert body["min_confidence"] == 0.95
    assert sa.settings.get().min_confidence == 0.95


def test_partial_update_keeps_other_fields(sa):
    sa.settings.update(excluded_categories=["finance"], classifier_model="claude-x-1",
                       auto_supersede_default=True, min_confidence=0.9)
    s = sa.settings.update(min_confidence=0.92)
    assert s.min_confidence == 0.92
    assert s.excluded_categories == ["finance"]
    assert s.classifier_model == "claude-x-1"
    assert s.auto_supersede_default is True
    s = sa.settings.update(auto_supersede_default=False)
    assert s.auto_supersede_default is False and s.min_confidence == 0.92


def test_excluded_categories_are_replaced_not_merged(sa):
    sa.settings.update(excluded_categories=["health_medical", "legal_status", "finance"])
    assert sa.settings.update(excluded_categories=["hr"]).excluded_categories == ["hr"]
    assert sa.settings.get().excluded_categories == ["hr"]
    assert sa.settings.update(excluded_categories=[]).excluded_categories == []
    assert sa.settings.get().excluded_categories == []


@pytest.mark.parametrize("value", [0.5, 0.84, 1.5, -1.0])
def test_min_confidence_out_of_range_is_rejected(sa, value):
    sa.settings.update(min_confidence=0.9)
    with pytest.raises(AurraValidationError):
        sa.settings.update(min_confidence=value)
    assert sa.settings.get().min_confidence == 0.9, "a refused update changes nothing"


@pytest.mark.parametrize("value", [0.85, 1.0])
def test_min_confidence_bounds_are_inclusive(sa, value):
    assert sa.settings.update(min_confidence=value).min_confidence == value


def test_settings_are_per_key_data_per_account(server, sa, sb):
    sa.settings.update(min_confidence=0.97, excluded_categories=["only-a"])
    other = sb.settings.get()
    assert other.min_confidence == 0.85
    assert other.excluded_categories == DEFAULT_CATEGORIES
    # ... while the data is shared between the keys of the account.
    tenant = unique("set")
    mid = sa.memories.add(content="written with key a", tenant_id=tenant).memory_id
    assert [m["id"] for m in sb.memories.list(tenant_id=tenant)] == [mid]
    assert [m["id"] for m in server.client("acme").memories.list(tenant_id=tenant)] == [mid]


@pytest.mark.parametrize("value", [0, 0.5, 3651, -7])
def test_half_life_out_of_range_has_the_flat_error_body(server, value):
    resp = server.patch("/agent/settings", key="settings_a",
                        json={"freshness_half_life_days": value})
    body = assert_json_error(resp, 400)
    assert body["status"] == "error"
    assert body["error"] == "validation failed"
    assert isinstance(body["hint"], str) and body["hint"]
    assert isinstance(body["detail"], str) and body["detail"]


def test_half_life_in_range_is_stored(server):
    for value in (1, 3650, 7.5):
        resp = server.patch("/agent/settings", key="settings_a",
                            json={"freshness_half_life_days": value})
        assert resp.status_code == 200, resp.text
        assert resp.json()["freshness_half_life_days"] == float(value)
        got = server.get("/agent/settings", key="settings_a").json()
        assert got["freshness_half_life_days"] == float(value)
    # The other key of the account keeps the default.
    assert server.get("/agent/settings", key="settings_b").json()["freshness_half_life_days"] == 30.0


def test_half_life_changes_freshness_of_the_calling_key_only(server, sa, sb):
    tenant = unique("fresh")
    mid = sa.memories.add(content="freshness probe", tenant_id=tenant).memory_id
    server.patch("/agent/settings", key="settings_a", json={"freshness_half_life_days": 30})
    under_default = by_id(sa.memories.list(tenant_id=tenant))[mid]["freshness"]
    resp = server.patch("/agent/settings", key="settings_a", json={"freshness_half_life_days": 1})
    assert resp.status_code == 200
    under_short = by_id(sa.memories.list(tenant_id=tenant))[mid]["freshness"]
    other_key = by_id(sb.memories.list(tenant_id=tenant))[mid]["freshness"]
    assert 0.0 <= under_short <= under_default <= 1.0
    assert under_short >= 0.99, "a row seconds old is still fresh with a one-day half-life"
    assert other_key >= 0.999


def test_empty_patch_is_400(server):
    resp = server.patch("/agent/settings", key="settings_a", json={})
    body = assert_json_error(resp, 400)
    assert isinstance(body["detail"], str)
    resp = server.patch("/agent/settings", key="settings_a", json={"no_such_setting": 1})
    assert_json_error(resp, 400)


def test_sdk_refuses_an_empty_update_client_side(sa):
    with pytest.raises(ValueError):
        sa.settings.update()


@pytest.mark.parametrize("body", [
    {"auto_supersede_default": "yes"},
    {"min_confidence": "high"},
    {"excluded_categories": "finance"},
    {"excluded_categories": [1, 2]},
    {"freshness_half_life_days": "thirty"},
])
def test_wrong_types_are_422(server, body):
    resp = server.patch("/agent/settings", key="settings_a", json=body)
    assert_json_error(resp, 422)


def test_unknown_fields_are_ignored_next_to_known_ones(server):
    resp = server.patch("/agent/settings", key="settings_a",
                        json={"min_confidence": 0.88, "future_knob": True})
    assert resp.status_code == 200
    assert resp.json()["min_confidence"] == 0.88
    assert "future_knob" not in resp.json()


def test_classifier_model_must_not_be_empty(server):
    resp = server.patch("/agent/settings", key="settings_a", json={"classifier_model": ""})
    assert resp.status_code in (400, 422), resp.text


def test_sdk_maps_422_to_base_error(sa):
    # The SDK has no typed class for 422: it raises the base AurraError.
    with pytest.raises(AurraError) as err:
        sa._http.request("PATCH", "/agent/settings", json={"min_confidence": "high"})
    assert type(err.value) is AurraError and err.value.status_code == 422


def test_auto_supersede_default_is_the_effective_flag(sa):
    """Effective Level-2 flag = the request's `auto_supersede`, else the key's default (§9.4)."""
    tenant = unique("l2")
    sa.settings.update(auto_supersede_default=True)
    try:
        on = sa.memories.add(content="Level 2 by default", tenant_id=tenant).auto_supersede
        assert on.skipped_reason != "auto_supersede disabled", \
            "the key's default turned Level 2 on"
        assert on.ran or (isinstance(on.skipped_reason, str) and on.skipped_reason)
        off = sa.memories.add(content="Level 2 refused per request", tenant_id=tenant,
                              auto_supersede=False).auto_supersede
        assert off.ran is False and off.skipped_reason == "auto_supersede disabled"
    finally:
        sa.settings.update(auto_supersede_default=False)
    plain = sa.memories.add(content="Level 2 off again", tenant_id=tenant).auto_supersede
    assert plain.ran is False and plain.skipped_reason == "auto_supersede disabled"
