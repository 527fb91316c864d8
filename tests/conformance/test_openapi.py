"""`GET /openapi.json`, and Schemathesis against a live server from it: no 5xx, every
response matches its schema, schema-valid requests are accepted and invalid ones refused,
and the server still serves afterwards. Schemathesis and the server run in a network
namespace of their own with loopback only (`unshare -n`), bounded by an example count."""

import json
import subprocess
import sys
from pathlib import Path

import requests

HERE = Path(__file__).parent
MAX_EXAMPLES = "25"


def test_the_document_is_served_without_a_key(server):
    resp = requests.get(server.base_url + "/openapi.json", timeout=30)
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.1")
    assert {"/agent/memories", "/agent/query", "/memories/{memory_id}/supersede",
            "/memories/{memory_id}/timeline", "/memories/{memory_id}/audit",
            "/agent/settings", "/plan/status", "/health", "/admin/accounts",
            "/admin/accounts/{account_id}", "/admin/keys", "/admin/keys/{key_id}"} <= set(doc["paths"])
    # The admin API takes the operator credential, not an API key.
    assert doc["paths"]["/admin/keys"]["post"]["security"] == [{"operator": []}]
    assert doc["paths"]["/agent/memories"]["post"]["security"] == [{"bearer": []}]
    assert set(doc["paths"]["/agent/memories"]) == {"get", "post", "delete"}
    # A method a path does not take says which it does.
    wrong = requests.put(server.base_url + "/agent/memories", timeout=30)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, POST, DELETE"


def test_schemathesis_finds_nothing(tmp_path):
    (tmp_path / "oapi").mkdir()
    command = ["unshare", "-n", "sh", "-c",
               'ip link set lo up && exec "$0" "$@"',
               # A short directory name: on PostgreSQL it names the schema (63 characters at most).
               sys.executable, str(HERE / "openapi_run.py"), str(tmp_path / "oapi" / "data"),
               MAX_EXAMPLES]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    report = done.stdout[-8000:]
    assert summary["alive"] and summary["health"] == 200, report
    assert summary["returncode"] == 0, report
    assert "generated" in report, report
