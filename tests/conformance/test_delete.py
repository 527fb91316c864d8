"""Bulk hard delete, `DELETE /agent/memories` (spec §5.3). Not wrapped by the SDK.

The whole-account delete runs on the `initech` account, which no other module uses.
"""

import pytest

from aurra import AurraNotFoundError

from aurra_helpers import assert_json_error, ids, unique


def write(server, key, text, tenant=None, **extra):
    body = {"content": text, **extra}
    if tenant is not None:
        body["tenant_id"] = tenant
    resp = server.post("/agent/memories", json=body, key=key)
    assert resp.status_code == 200 and resp.json()["status"] == "saved", resp.text
    return resp.json()["memory_id"]


def full_history(server, key, tenant=None):
    params = {"include_superseded": "true", "limit": 1000}
    if tenant is not None:
        params["tenant_id"] = tenant
    resp = server.get("/agent/memories", params=params, key=key)
    assert resp.status_code == 200
    return ids(resp.json()["memories"])


def test_delete_one_tenant(server, acme):
    tenant, other = unique("del"), unique("del")
    a = write(server, "acme", "Yan's phone is 555-0101", tenant)
    b = write(server, "acme", "Yan's phone is 555-0202", tenant)
    acme.memories.supersede(a, superseded_by=b)
    kept = write(server, "acme", "Kept in the other tenant", other)
    kept_default = write(server, "acme", unique("kept in the default tenant"))
    foreign = write(server, "globex", "Globex row in the same tenant name", tenant)
    tx_b = acme.memories.list(tenant_id=tenant)[0]["temporal"]["transaction_time_start"]

    resp = server.delete("/agent/memories", params={"tenant_id": tenant})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "deleted"
    assert body["company_id"] == "acme"
    assert body["tenant_id"] == tenant
    assert body["deleted_count"] == 2

    assert full_history(server, "acme", tenant) == []
    assert acme.memories.list(tenant_id=tenant, transaction_as_of=tx_b) == [], \
        "erased rows disappear from past states too"
    assert acme.memories.list(tenant_id=tenant, as_of=tx_b) == []
    for mid in (a, b):
        with pytest.raises(AurraNotFoundError):
            acme.memories.get_audit(mid)
        with pytest.raises(AurraNotFoundError):
            acme.memories.timeline(mid)
        with pytest.raises(AurraNotFoundError):
            acme.memories.supersede(mid, valid_to="2999-01-01T00:00:00Z")
    assert full_history(server, "acme", other) == [kept]
    assert kept_default in full_history(server, "acme")
    assert full_history(server, "globex", tenant) == [foreign]


def test_delete_of_an_empty_tenant_counts_zero(server):
    tenant = unique("del-empty")
    resp = server.delete("/agent/memories", params={"tenant_id": tenant})
    assert resp.status_code == 200
    assert resp.json()["deleted_count"] == 0 and resp.json()["tenant_id"] == tenant


def test_deleted_text_can_be_written_again(server):
    tenant = unique("del")
    first = write(server, "acme", "Zed likes jazz", tenant)
    server.delete("/agent/memories", params={"tenant_id": tenant})
    again = write(server, "acme", "Zed likes jazz", tenant)
    assert again != first


def test_dangling_pointer_after_delete_is_kept(server, acme):
    keep_tenant, gone_tenant = unique("keep"), unique("gone")
    old = write(server, "acme", "Old fact kept", keep_tenant)
    new = write(server, "acme", "New fact erased", gone_tenant)
    acme.memories.supersede(old, superseded_by=new)
    server.delete("/agent/memories", params={"tenant_id": gone_tenant})
    rows = acme.memories.list(tenant_id=keep_tenant, include_superseded=True)
    assert ids(rows) == [old] and rows[0]["superseded_by"] == new
    assert [e.id for e in acme.memories.timeline(old)] == [old], "walks stop at missing rows"


def test_delete_without_tenant_erases_the_whole_account_only(server):
    t1, t2 = unique("init"), unique("init")
    mine = [write(server, "initech", "Initech default-tenant row"),
            write(server, "initech", "Initech row one", t1),
            write(server, "initech", "Initech row two", t2)]
    shared = unique("shared-tenant")
    mine.append(write(server, "initech", "Initech row in a shared tenant name", shared))
    theirs = write(server, "globex", "Globex survives the Initech wipe", shared)
    acme_row = write(server, "acme", "Acme survives the Initech wipe", shared)

    resp = server.delete("/agent/memories", key="initech")
    body = assert_json_error(resp, 200)
    assert body["status"] == "deleted"
    assert body["company_id"] == "initech"
    assert body["tenant_id"] is None
    assert body["deleted_count"] == len(mine)

    for tenant in (None, t1, t2, shared):
        assert full_history(server, "initech", tenant) == []
    assert full_history(server, "globex", shared) == [theirs]
    assert full_history(server, "acme", shared) == [acme_row]
    assert server.get(f"/memories/{mine[0]}/audit", key="initech").status_code == 404
    assert server.get(f"/memories/{theirs}/audit", key="globex").status_code == 200
    # Settings and plan keep answering for the wiped account.
    assert server.get("/plan/status", key="initech").status_code == 200
    assert server.get("/agent/settings", key="initech").status_code == 200
