"""The MCP server against the official MCP Python SDK (`mcp`): `aurra mcp` over stdio on an
embedded store and as a client of a running server, and `/mcp` on `aurra serve` over
Streamable HTTP. Every tool end to end (remember -> recall cites it -> supersede -> current
recall no longer cites the old fact, time travel still shows it -> timeline -> audit ->
resource -> forget), the error paths, authentication, and another account's ids."""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid

import anyio
import pytest
import requests

from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import aurra_bin, child_env, store_flags
from aurra_helpers import unique

TOOLS = {"remember", "recall", "list_memories", "supersede", "expire", "timeline", "audit",
         "forget_tenant"}


async def handshake(session, modern):
    """`initialize` (the newest revision with a handshake, 2025-11-25 with mcp 2.3), or
    `server/discover` (the current revision, 2026-07-28: no handshake, no session)."""
    if modern:
        await session.discover()
    else:
        await session.initialize()


@contextlib.asynccontextmanager
async def stdio_session(args, env=None, modern=False):
    params = StdioServerParameters(command=str(aurra_bin()), args=["mcp", *args],
                                   env={**child_env(), "AURRA_LOG": "warn", **(env or {})})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await handshake(session, modern)
            yield session


@contextlib.asynccontextmanager
async def http_session(url, key, modern=False):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url + "/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await handshake(session, modern)
                yield session


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


async def call(session, tool, args):
    result = await session.call_tool(tool, args)
    return result, result.structured_content or {}


def text(result):
    return result.content[0].text


async def exercise(session):
    """Every tool, end to end, in one tenant of its own."""
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["forget_tenant"].annotations.destructive_hint is True
    assert tools["recall"].annotations.read_only_hint is True
    assert tools["remember"].annotations.read_only_hint is False
    for tool in tools.values():
        assert tool.input_schema["type"] == "object", tool.name
        assert len(tool.description) > 80, tool.name
    assert "memory_id" in tools["supersede"].input_schema["required"]

    tenant = unique("mcp")
    r, old = await call(session, "remember",
                        {"content": "Priya works at Umbrella Corp as a chemist", "tenant_id": tenant})
    assert not r.is_error, text(r)
    assert old["status"] == "saved" and old["memory_id"]
    assert old["memory_id"] in text(r)
    old_id = old["memory_id"]

    r, answer = await call(session, "recall", {"question": "Where does Priya work?", "tenant_id": tenant})
    assert not r.is_error, text(r)
    assert old_id in [c["memory_id"] for c in answer["citations"]]
    assert "[mem-" in text(r)

    r, new = await call(session, "remember",
                        {"content": "Priya works at Stark Industries as a chemist", "tenant_id": tenant})
    new_id = new["memory_id"]
    r, superseded = await call(session, "supersede", {"memory_id": old_id, "superseded_by": new_id})
    assert not r.is_error, text(r)
    assert superseded["superseded_by"] == new_id

    r, answer = await call(session, "recall", {"question": "Where does Priya work?", "tenant_id": tenant})
    cited = [c["memory_id"] for c in answer["citations"]]
    assert new_id in cited and old_id not in cited

    # Time travel: what the store believed when the old fact was written still has it.
    r, current = await call(session, "list_memories", {"tenant_id": tenant})
    assert [m["id"] for m in current["memories"]] == [new_id]
    r, history = await call(session, "list_memories", {"tenant_id": tenant, "include_superseded": True})
    assert {m["id"] for m in history["memories"]} == {old_id, new_id}
    assert "superseded" in text(r)
    written = next(m for m in history["memories"] if m["id"] == old_id)["created_at"]
    r, then = await call(session, "list_memories", {"tenant_id": tenant, "transaction_as_of": written})
    assert [m["id"] for m in then["memories"]] == [old_id], text(r)

    r, timeline = await call(session, "timeline", {"memory_id": new_id})
    assert [m["id"] for m in timeline["timeline"]] == [old_id, new_id]
    r, audit = await call(session, "audit", {"memory_id": old_id})
    assert "memory.superseded" in [e["event"] for e in audit["history"]]
    assert "memory.superseded" in text(r)

    later = await call(session, "remember", {"content": "Priya is on leave this week", "tenant_id": tenant})
    r, expired = await call(session, "expire",
                            {"memory_id": later[1]["memory_id"], "valid_to": "2001-01-01T00:00:00Z"})
    assert not r.is_error and expired["superseded_by"] is None, text(r)

    # Memories are resources.
    templates = (await session.list_resource_templates()).resource_templates
    assert templates[0].uri_template == "aurra://memories/{id}"
    content = (await session.read_resource(f"aurra://memories/{old_id}")).contents[0]
    assert json.loads(content.text)["id"] == old_id
    assert content.mime_type == "application/json"

    r, gone = await call(session, "forget_tenant", {"tenant_id": tenant})
    assert not r.is_error and gone["deleted_count"] == 3, text(r)
    r, empty = await call(session, "list_memories", {"tenant_id": tenant, "include_superseded": True})
    assert empty["memories"] == []
    return old_id


async def error_paths(session):
    """Bad arguments, unknown ids, unknown tools: tool errors with the REST `detail`."""
    r, body = await call(session, "remember", {})
    assert r.is_error and body["status"] == 400 and "content or messages" in text(r), text(r)
    r, _ = await call(session, "remember", {"content": "x", "colour": "red"})
    assert r.is_error and "colour" in text(r)
    r, body = await call(session, "timeline", {"memory_id": "not-a-uuid"})
    assert r.is_error and body["status"] == 422, text(r)
    r, body = await call(session, "audit", {"memory_id": str(uuid.uuid4())})
    assert r.is_error and body["status"] == 404 and "Memory not found" in text(r)
    r, body = await call(session, "supersede", {"memory_id": str(uuid.uuid4())})
    assert r.is_error and "superseded_by" in text(r)
    r, body = await call(session, "recall", {"question": "x", "limit": 500})
    assert r.is_error and body["status"] == 422 and "less than or equal to 100" in text(r)
    r, body = await call(session, "forget_tenant", {"tenant_id": ""})
    assert r.is_error
    r, body = await call(session, "list_memories", {"limit": 5000})
    assert r.is_error and body["status"] == 422 and "less than or equal to 1000" in text(r)
    r, body = await call(session, "list_memories", {"as_of": "yesterday"})
    assert r.is_error and body["status"] == 422, text(r)
    r, body = await call(session, "expire", {"memory_id": str(uuid.uuid4()), "valid_to": "2030-01-01T00:00:00Z"})
    assert r.is_error and body["status"] == 404, text(r)
    r, body = await call(session, "expire", {"memory_id": str(uuid.uuid4())})
    assert r.is_error and "valid_to" in text(r)
    r, body = await call(session, "supersede",
                         {"memory_id": str(uuid.uuid4()), "superseded_by": str(uuid.uuid4())})
    assert r.is_error and body["status"] == 404, text(r)
    r, body = await call(session, "recall", {"question": ""})
    assert r.is_error and body["status"] == 422, text(r)
    with pytest.raises(MCPError):
        await session.call_tool("no_such_tool", {})
    with pytest.raises(MCPError):
        await session.read_resource(f"aurra://memories/{uuid.uuid4()}")


def test_stdio_on_an_embedded_store(tmp_path):
    (tmp_path / "mcps").mkdir()

    async def go():
        # A short directory name: on PostgreSQL it names the schema (63 characters at most).
        async with stdio_session([*store_flags(tmp_path / "mcps" / "data"), "--account", "mcp-stdio"]) as s:
            await exercise(s)
            await error_paths(s)
    run(go)


def test_stdio_as_a_client_of_a_running_server(server):
    async def go():
        async with stdio_session(["--server", server.base_url],
                                 env={"AURRA_API_KEY": server.keys["acme"]}) as s:
            await exercise(s)
            await error_paths(s)
    run(go)


def test_stdio_client_without_a_key_refuses_to_start(server):
    env = {**child_env(), "AURRA_API_KEY": ""}
    done = subprocess.run([str(aurra_bin()), "mcp", "--server", server.base_url], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "AURRA_API_KEY" in done.stderr
    assert done.stdout == ""


def test_streamable_http_on_the_server(server):
    async def go():
        async with http_session(server.base_url, server.keys["acme"]) as s:
            await exercise(s)
            await error_paths(s)
    run(go)


def test_the_current_protocol_revision_on_both_transports(server, tmp_path):
    (tmp_path / "mcpr").mkdir()

    async def go():
        async with http_session(server.base_url, server.keys["acme"], modern=True) as s:
            assert s.protocol_version == "2026-07-28"
            await exercise(s)
        async with stdio_session([*store_flags(tmp_path / "mcpr" / "data")], modern=True) as s:
            assert s.protocol_version == "2026-07-28"
            await exercise(s)
    run(go)


def test_http_needs_a_valid_key(server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth, detail in ((None, "Not authenticated"), ("Bearer aurra_not_a_key", "Invalid API key")):
        h = dict(headers, **({"Authorization": auth} if auth else {}))
        resp = requests.post(server.base_url + "/mcp", json=body, headers=h, timeout=30)
        assert resp.status_code == 401, resp.text
        # Exactly what the REST endpoints answer.
        assert resp.json() == {"detail": detail}
        rest = requests.get(server.base_url + "/agent/memories", headers=h, timeout=30)
        assert (rest.status_code, rest.json()) == (401, {"detail": detail})


def test_http_is_scoped_to_the_keys_account(server):
    async def go():
        async with http_session(server.base_url, server.keys["acme"]) as acme:
            tenant = unique("mcp-scope")
            _, saved = await call(acme, "remember", {"content": "Acme's secret plan", "tenant_id": tenant})
            mine = saved["memory_id"]
        async with http_session(server.base_url, server.keys["globex"]) as globex:
            for tool in ("timeline", "audit"):
                r, body = await call(globex, tool, {"memory_id": mine})
                assert r.is_error and body["status"] == 403, text(r)
            r, body = await call(globex, "expire", {"memory_id": mine, "valid_to": "2030-01-01T00:00:00Z"})
            assert r.is_error and body["status"] == 403
            _, theirs = await call(globex, "remember", {"content": "Globex's own fact", "tenant_id": tenant})
            r, body = await call(globex, "supersede", {"memory_id": mine, "superseded_by": theirs["memory_id"]})
            assert r.is_error and body["status"] == 403, text(r)
            r, body = await call(globex, "supersede", {"memory_id": theirs["memory_id"], "superseded_by": mine})
            assert r.is_error and body["status"] == 403, text(r)
            r, answer = await call(globex, "recall", {"question": "secret plan", "tenant_id": tenant})
            assert mine not in [c["memory_id"] for c in answer["citations"]]
            with pytest.raises(MCPError):
                await globex.read_resource(f"aurra://memories/{mine}")
            r, listed = await call(globex, "list_memories", {"tenant_id": tenant})
            assert [m["id"] for m in listed["memories"]] == [theirs["memory_id"]]
            r, gone = await call(globex, "forget_tenant", {"tenant_id": tenant})
            assert gone["deleted_count"] == 1
        async with http_session(server.base_url, server.keys["acme"]) as acme:
            r, listed = await call(acme, "list_memories", {"tenant_id": tenant})
            assert [m["id"] for m in listed["memories"]] == [mine]
    run(go)
