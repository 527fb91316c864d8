"""Authentication (spec §2.2): Bearer keys, the exact 401 body, the unauthenticated health check."""

import uuid

import pytest

import aurra
from aurra import AurraAuthError

from aurra_helpers import assert_json_error, unique

ENDPOINTS = [
    ("POST", "/agent/memories", {"content": "x"}),
    ("GET", "/agent/memories", None),
    ("DELETE", "/agent/memories", None),
    ("POST", "/agent/query", {"question": "x"}),
    ("POST", "/memories/{id}/supersede", {"valid_to": "2030-01-01T00:00:00Z"}),
    ("GET", "/memories/{id}/timeline", None),
    ("GET", "/memories/{id}/audit", None),
    ("GET", "/agent/settings", None),
    ("PATCH", "/agent/settings", {"min_confidence": 0.9}),
    ("GET", "/plan/status", None),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_missing_header_is_401_not_authenticated(server, method, path, body):
    path = path.replace("{id}", str(uuid.uuid4()))
    resp = server.request(method, path, key=None, json=body)
    assert assert_json_error(resp, 401) == {"detail": "Not authenticated"}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token aurra_x", ""])
def test_non_bearer_header_is_401_not_authenticated(server, header):
    resp = server.get("/agent/memories", key=None, headers={"Authorization": header})
    assert assert_json_error(resp, 401) == {"detail": "Not authenticated"}


def test_unknown_key_raises_auth_error(server):
    bogus = aurra.Aurra(api_key="aurra_bogus" + uuid.uuid4().hex, base_url=server.base_url)
    with pytest.raises(AurraAuthError) as err:
        bogus.memories.list()
    assert err.value.status_code == 401
    assert isinstance(err.value.message, str) and err.value.message


@pytest.mark.parametrize("header", [
    "Bearer aurra_bogus" + uuid.uuid4().hex,
    "Bearer not-even-prefixed-" + uuid.uuid4().hex,
    "Bearer aurra_",
    "Bearer",
])
def test_unknown_or_malformed_key_is_401_with_string_detail(server, header):
    resp = server.get("/agent/settings", key=None, headers={"Authorization": header})
    body = assert_json_error(resp, 401)
    assert isinstance(body.get("detail"), str) and body["detail"], body
    token = header.partition(" ")[2]
    if len(token) > 10:
        assert token not in resp.text, "the presented key must not be echoed"


def test_a_near_miss_of_a_real_key_is_refused(server):
    real = server.keys["acme"]
    near = real[:-1] + ("0" if real[-1] != "0" else "1")
    resp = server.get("/agent/settings", key=None, headers={"Authorization": f"Bearer {near}"})
    assert_json_error(resp, 401)


def test_valid_key_is_accepted(acme):
    # The SDK raises on any status >= 400, so a plain list proves the key works.
    assert isinstance(acme.memories.list(tenant_id=unique("auth")), list)


def test_health_needs_no_auth(server):
    resp = server.get("/health", key=None)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_keys_of_one_account_share_data(server, acme, acme2):
    tenant = unique("shared")
    written = acme.memories.add(content="Shared between keys of one account", tenant_id=tenant)
    assert written.memory_id in [m["id"] for m in acme2.memories.list(tenant_id=tenant)]
    # ... and another account does not see it.
    assert server.client("globex").memories.list(tenant_id=tenant) == []


def test_a_server_that_is_not_there_is_a_connection_error(server):
    """The SDK's last mapping: no server at base_url raises AurraConnectionError."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = aurra.Aurra(api_key=server.keys["acme"], base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(aurra.AurraConnectionError):
        client.memories.list()
