"""Error handling with raw HTTP (spec §2.4, §2.5, §10 O-30): things the SDK never sends."""

import json
import socket

import pytest
import requests

from aurra_helpers import assert_json_error, assert_validation_detail, unique

JSON = {"Content-Type": "application/json"}


def post_bytes(server, path, data, headers=JSON):
    return server.post(path, data=data, headers=headers)


@pytest.mark.parametrize("data", [b'{"content": ', b"not json at all", b'{"content": "x",}',
                                  b"{'content': 'x'}"])
def test_malformed_json_is_400(server, data):
    body = assert_json_error(post_bytes(server, "/agent/memories", data), 400)
    assert "detail" in body


def test_malformed_json_on_other_endpoints_is_400(server):
    assert_json_error(post_bytes(server, "/agent/query", b'{"question": '), 400)
    resp = server.patch("/agent/settings", key="settings_b", data=b"{", headers=JSON)
    assert_json_error(resp, 400)


@pytest.mark.parametrize("data", [b"[1,2]", b'"content"', b"42", b"null", b"true"])
def test_body_that_is_not_an_object_is_422(server, data):
    assert_json_error(post_bytes(server, "/agent/memories", data), 422)


@pytest.mark.parametrize("body,field", [
    ({"content": 5}, "content"),
    ({"content": ["a"]}, "content"),
    ({"content": "x", "importance_score": "high"}, "importance_score"),
    ({"content": "x", "importance_score": 7.5}, "importance_score"),
    ({"content": "x", "tenant_id": 7}, "tenant_id"),
    ({"content": "x", "topic": 1}, "topic"),
    ({"content": "x", "source": False}, "source"),
    ({"content": "x", "auto_supersede": "sometimes"}, "auto_supersede"),
    ({"content": "x", "valid_from": "yesterday"}, "valid_from"),
    ({"content": "x", "recorded_at": "2024-13-45"}, "recorded_at"),
])
def test_wrong_types_are_422_with_pydantic_style_detail(server, body, field):
    body = dict(body, tenant_id=body.get("tenant_id", unique("err")))
    resp = server.post("/agent/memories", json=body)
    assert_validation_detail(assert_json_error(resp, 422), "body", field)


def test_invalid_utf8_is_rejected_not_crashed(server):
    resp = post_bytes(server, "/agent/memories", b'{"content": "caf\xe9 \xff\xfe"}')
    assert resp.status_code in (400, 422), resp.text
    assert "detail" in resp.json()


def announce_oversized_body(server, size):
    """Sends only the request head of a POST announcing `size` body bytes and returns
    (status, headers, body) of the response the server gives before any body byte.

    A raw socket keeps this deterministic: the body is never sent, so no unread bytes can
    make the server's close turn into a reset that destroys the response.
    """
    host, port = server.base_url.removeprefix("http://").split(":")
    head = (
        "POST /agent/memories HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {server.keys['acme']}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without a response: {data!r}"
            data += chunk
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed in the middle of the response body"
            rest += chunk
    return status, headers, rest


def test_body_over_one_mib_is_413(server):
    status, headers, body = announce_oversized_body(server, 1024 * 1024 + 1)
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    detail = json.loads(body)["detail"]
    assert isinstance(detail, str) and detail


def test_connection_after_an_early_413_is_closed_explicitly_or_reusable(server):
    """A server that answers 413 without reading the body and then closes the connection
    must say `Connection: close`; otherwise clients put the connection back in their pool
    and their next request on it fails (`RemoteDisconnected`)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    status, headers, _ = announce_oversized_body(server, 1024 * 1024 + 1)
    assert status == 413
    if headers.get("connection", "").lower() != "close":
        pytest.fail("413 sent without `Connection: close` although the request body was not "
                    "read; see test_oversized_body_through_the_sdk_stack_gets_413")


def test_oversized_body_through_the_sdk_stack_gets_413(server):
    """What an SDK user sees: requests sends the whole body on a keep-alive connection, then
    reuses the pool. Repeated because the failure modes are races: a 413 destroyed by the
    reset a close with unread bytes causes, and a pooled connection the server silently
    closed. Reading (draining) the body before answering makes every attempt deterministic.
    """
    tenant = unique("big")
    big = {"content": "x" * (1024 * 1024 + 10), "tenant_id": tenant}
    outcomes = []
    auth = {"Authorization": f"Bearer {server.keys['acme']}"}
    with requests.Session() as session:  # its own pool: a dead connection stays here
        for i in range(10):
            for body in ({"content": f"small write {i}", "tenant_id": tenant}, big):
                try:
                    resp = session.post(server.base_url + "/agent/memories", json=body,
                                        headers=auth, timeout=30)
                    outcomes.append(resp.status_code)
                except requests.ConnectionError as exc:
                    outcomes.append(f"{type(exc).__name__}: {exc}"[:100])
    assert outcomes == [200, 413] * 10, outcomes
    assert server.get("/agent/memories", params={"tenant_id": tenant}).json()["count"] == 10


def test_body_just_under_one_mib_is_accepted(server):
    tenant = unique("big")
    content = "y" * (1024 * 1024 - 200)
    resp = server.post("/agent/memories", json={"content": content, "tenant_id": tenant})
    assert resp.status_code == 200, resp.text[:300]
    row = server.get("/agent/memories", params={"tenant_id": tenant}).json()["memories"][0]
    assert row["decision"] == content, "no truncation other than original_message"
    assert len(row["original_message"]) == 500


@pytest.mark.parametrize("param", ["as_of", "transaction_as_of"])
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "1715000000", "2026-05-05 noon"])
def test_non_iso_timestamp_in_query_string_is_422(server, param, value):
    resp = server.get("/agent/memories", params={param: value})
    body = assert_json_error(resp, 422)
    assert_validation_detail(body, "query", param)
    assert any(item["loc"] == ["query", param] for item in body["detail"]), body


@pytest.mark.parametrize("value", ["maybe", "yes please", "2"])
def test_bad_boolean_is_422(server, value):
    resp = server.get("/agent/memories", params={"include_superseded": value})
    assert_validation_detail(assert_json_error(resp, 422), "query", "include_superseded")


@pytest.mark.parametrize("value,superseded_visible", [("true", True), ("false", False),
                                                      ("1", True), ("0", False)])
def test_boolean_spellings(server, acme, value, superseded_visible):
    """`true`/`false` are required; `1`/`0` are recommended by spec §2.4."""
    tenant = unique("bool")
    old = acme.memories.add(content="bool old", tenant_id=tenant).memory_id
    new = acme.memories.add(content="bool new", tenant_id=tenant).memory_id
    acme.memories.supersede(old, superseded_by=new)
    resp = server.get("/agent/memories", params={"tenant_id": tenant, "include_superseded": value})
    assert resp.status_code == 200, resp.text
    got = {m["id"] for m in resp.json()["memories"]}
    assert got == ({old, new} if superseded_visible else {new})


def test_timestamps_with_offsets_are_accepted_in_queries(server):
    for value in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00",
                  "2026-01-01T05:30:00+05:30", "2026-01-01T00:00:00.123456-08:00"):
        resp = server.get("/agent/memories", params={"as_of": value, "tenant_id": unique("ts")})
        assert resp.status_code == 200, f"{value}: {resp.text}"
        assert resp.json()["as_of"] == value


def test_unknown_json_fields_are_ignored(server):
    tenant = unique("fwd")
    resp = server.post("/agent/memories", json={
        "content": "forward compatible write", "tenant_id": tenant,
        "brand_new_field": {"nested": [1, 2, 3]}, "another": None})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "saved"
    resp = server.post("/agent/query", json={"question": "q", "tenant_id": unique("fwd"),
                                             "future_option": True})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("method,path", [
    ("GET", "/nope"), ("GET", "/agent"), ("GET", "/agent/memories/extra"),
    ("POST", "/v1/agent/memories"), ("GET", "/memories"),
])
def test_unknown_path_is_404(server, method, path):
    resp = server.request(method, path, json={} if method == "POST" else None)
    body = assert_json_error(resp, 404)
    assert "detail" in body


def test_error_bodies_are_json_objects_with_detail(server):
    for resp in (server.get("/agent/memories", key=None),
                 server.get("/agent/memories", params={"limit": 0}),
                 server.post("/agent/memories", json={})):
        assert resp.status_code >= 400
        assert resp.headers["content-type"].startswith("application/json")
        assert "detail" in resp.json()


def test_successful_responses_are_200_json_objects(server):
    resp = server.post("/agent/memories", json={"content": "status code check",
                                                "tenant_id": unique("ok")})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")


def test_server_survived_everything(server):
    resp = server.get("/health", key=None)
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    assert server.proc.poll() is None, "the server process is still running"
    # ... and still serves authenticated requests.
    assert server.get("/agent/settings", key="settings_b").status_code == 200
