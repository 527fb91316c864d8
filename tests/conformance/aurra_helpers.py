"""Shared assertions and small helpers for the conformance tests (not a test module)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List

# 2026-05-05T23:09:59.063114+00:00
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

MEMORY_FIELDS = {
    "id", "summary", "decision", "topic", "importance_score", "source", "created_at",
    "valid_from", "valid_to", "superseded_by", "tenant_id", "source_citation", "temporal",
    "freshness", "channel", "original_message", "session_id",
}
TEMPORAL_FIELDS = {
    "valid_from", "valid_to", "superseded_by", "is_current", "is_expired", "is_superseded",
    "transaction_time_start", "transaction_time_end", "is_known_current",
}
CITATION_FIELDS = {"type", "channel", "captured_at", "original_message"}
PLAN_FIELDS = {
    "org_id", "plan_tier", "plan_status", "writes_used", "writes_limit", "writes_remaining",
    "period_start", "in_grace_period", "blocked",
}
AUTO_SUPERSEDE_DISABLED = "auto_supersede disabled"


def unique(prefix: str) -> str:
    """A fresh name (tenant, session, text) so tests never see each other's rows."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def is_ts(value: Any) -> bool:
    return isinstance(value, str) and bool(TS_RE.match(value))


def assert_ts(value: Any, what: str = "timestamp") -> None:
    assert is_ts(value), f"{what} {value!r} is not rendered like 2026-05-05T23:09:59.063114+00:00"


def assert_uuid(value: Any, what: str = "id") -> None:
    assert isinstance(value, str) and UUID_RE.match(value), f"{what} {value!r} is not a UUID"


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def render(dt: datetime) -> str:
    """The contract's rendering: UTC, microseconds, `+00:00`."""
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def as_z(value: str) -> str:
    """The same instant written with a `Z` suffix."""
    return render(parse_ts(value)).replace("+00:00", "Z")


def as_offset(value: str, hours: int) -> str:
    """The same instant written in another UTC offset (e.g. `+02:00`)."""
    tz = timezone(timedelta(hours=hours))
    return parse_ts(value).astimezone(tz).isoformat(timespec="microseconds")


def ids(memories: Iterable[Dict[str, Any]]) -> List[str]:
    return [m["id"] for m in memories]


def by_id(memories: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {m["id"]: m for m in memories}


def assert_temporal_shape(t: Dict[str, Any]) -> None:
    assert isinstance(t, dict), f"temporal must be an object, got {t!r}"
    assert TEMPORAL_FIELDS <= set(t), f"temporal lacks {TEMPORAL_FIELDS - set(t)}"
    assert_ts(t["valid_from"], "temporal.valid_from")
    assert_ts(t["transaction_time_start"], "temporal.transaction_time_start")
    for k in ("valid_to", "transaction_time_end"):
        assert t[k] is None or is_ts(t[k]), f"temporal.{k} = {t[k]!r}"
    assert t["superseded_by"] is None or UUID_RE.match(t["superseded_by"])
    for k in ("is_current", "is_expired", "is_superseded", "is_known_current"):
        assert isinstance(t[k], bool), f"temporal.{k} must be a bool, got {t[k]!r}"
    assert [t["is_current"], t["is_expired"], t["is_superseded"]].count(True) == 1, (
        f"exactly one of is_current/is_expired/is_superseded must be true: {t}"
    )
    assert t["is_superseded"] == (t["superseded_by"] is not None)
    assert t["is_known_current"] == (t["transaction_time_end"] is None)


def assert_memory_shape(m: Dict[str, Any]) -> None:
    """Every field of spec §3.2 with its documented type."""
    assert isinstance(m, dict)
    missing = MEMORY_FIELDS - set(m)
    assert not missing, f"memory object lacks {sorted(missing)}: {m}"
    assert_uuid(m["id"])
    for k in ("summary", "decision", "topic", "source", "channel", "original_message"):
        assert isinstance(m[k], str), f"{k} must be a string, got {m[k]!r}"
    assert isinstance(m["importance_score"], int) and not isinstance(m["importance_score"], bool)
    assert 1 <= m["importance_score"] <= 10
    assert_ts(m["created_at"], "created_at")
    assert_ts(m["valid_from"], "valid_from")
    assert m["valid_to"] is None or is_ts(m["valid_to"])
    assert m["superseded_by"] is None or UUID_RE.match(m["superseded_by"])
    assert m["tenant_id"] is None or isinstance(m["tenant_id"], str)
    assert m["session_id"] is None or isinstance(m["session_id"], str)
    assert isinstance(m["freshness"], (int, float)) and not isinstance(m["freshness"], bool)
    assert 0.0 <= m["freshness"] <= 1.0
    assert len(m["original_message"]) <= 500
    sc = m["source_citation"]
    assert isinstance(sc, dict) and CITATION_FIELDS <= set(sc), f"source_citation: {sc!r}"
    assert sc["type"] == m["source"]
    assert sc["channel"] == m["channel"]
    assert_ts(sc["captured_at"], "source_citation.captured_at")
    assert sc["original_message"] == m["original_message"]
    t = m["temporal"]
    assert_temporal_shape(t)
    # The top-level copies agree with the temporal block.
    assert t["valid_from"] == m["valid_from"]
    assert t["valid_to"] == m["valid_to"]
    assert t["superseded_by"] == m["superseded_by"]


def assert_validation_detail(body: Any, loc_prefix: str, field: str | None = None) -> None:
    """A 422 body: `detail` is a list of {loc, msg, type}, loc starting with `loc_prefix`."""
    assert isinstance(body, dict), body
    detail = body.get("detail")
    assert isinstance(detail, list) and detail, f"detail must be a non-empty list: {body}"
    for item in detail:
        assert isinstance(item, dict) and {"loc", "msg", "type"} <= set(item), item
        assert isinstance(item["loc"], list) and item["loc"], item
        assert isinstance(item["msg"], str) and isinstance(item["type"], str), item
    assert any(item["loc"][0] == loc_prefix for item in detail), detail
    if field is not None:
        assert any(field in item["loc"] for item in detail), (
            f"no detail item names {field!r}: {detail}"
        )


def assert_json_error(resp, status: int) -> Dict[str, Any]:
    """The response has `status` and a JSON object body; returns the body."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
        f"(expected {status}): {resp.text[:500]}"
    )
    assert resp.headers.get("content-type", "").startswith("application/json"), (
        resp.headers.get("content-type")
    )
    body = resp.json()
    assert isinstance(body, dict), body
    return body
