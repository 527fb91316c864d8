"""Concurrent requests (the SDK is used from threaded agents): no lost or doubled writes."""

from concurrent.futures import ThreadPoolExecutor

import requests

import aurra

from aurra_helpers import parse_ts, unique

WORKERS = 8


def client(server, key="acme"):
    # One SDK client per call: a requests.Session is not meant to be shared across threads.
    return aurra.Aurra(api_key=server.keys[key], base_url=server.url_for(key))


def test_concurrent_distinct_writes_all_land(server):
    tenant = unique("conc")
    texts = [f"concurrent fact {i}" for i in range(40)]

    def write(text):
        return client(server).memories.add(content=text, tenant_id=tenant)

    def read(_):
        return client(server, "acme2").memories.list(tenant_id=tenant, limit=1000)

    with ThreadPoolExecutor(WORKERS) as pool:
        writes = [pool.submit(write, t) for t in texts]
        reads = [pool.submit(read, i) for i in range(8)]
        results = [f.result() for f in writes]
        for f in reads:
            f.result()  # no read fails while writes are in flight

    assert all(r.status == "saved" for r in results)
    written = {r.memory_id for r in results}
    assert len(written) == len(texts)
    rows = client(server).memories.list(tenant_id=tenant, limit=1000)
    assert {m["id"] for m in rows} == written
    assert sorted(m["decision"] for m in rows) == sorted(texts)
    # Concurrent writes may share one commit (and so one transaction time); the list stays
    # newest first.
    created = [parse_ts(m["created_at"]) for m in rows]
    assert created == sorted(created, reverse=True), "still newest first"
    for m in rows:
        assert m["created_at"] == m["temporal"]["transaction_time_start"]


def test_concurrent_identical_writes_save_once(server):
    tenant = unique("race")
    text = "Only one of these may be saved"

    def write(i):
        # Through every process serving the store, in turn.
        url = server.urls[i % len(server.urls)]
        return aurra.Aurra(api_key=server.keys["acme"], base_url=url).memories.add(
            content=text, tenant_id=tenant)

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(write, range(WORKERS * 2)))
    saved = [r for r in results if r.status == "saved"]
    dups = [r for r in results if r.status == "duplicate"]
    assert len(saved) == 1 and len(dups) == len(results) - 1, [r.status for r in results]
    rows = client(server).memories.list(tenant_id=tenant)
    assert [m["id"] for m in rows] == [saved[0].memory_id]
    raw = server.post("/agent/memories", json={"content": text, "tenant_id": tenant}).json()
    assert raw["duplicate_of"] == saved[0].memory_id


def test_concurrent_supersede_of_one_target_has_one_winner(server):
    tenant = unique("race")
    c = client(server)
    target = c.memories.add(content="race target", tenant_id=tenant).memory_id
    replacements = [c.memories.add(content=f"race replacement {i}", tenant_id=tenant).memory_id
                    for i in range(WORKERS)]

    def supersede(indexed):
        i, rid = indexed
        resp = requests.post(
            f"{server.urls[i % len(server.urls)]}/memories/{target}/supersede",
            json={"superseded_by": rid},
            headers={"Authorization": f"Bearer {server.keys['acme']}"}, timeout=30)
        return rid, resp.status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(supersede, enumerate(replacements)))
    winners = [rid for rid, status in outcomes if status == 200]
    assert len(winners) == 1, outcomes
    assert all(status == 400 for rid, status in outcomes if rid not in winners), outcomes
    audit = c.memories.get_audit(target)
    sup = [e for e in audit["history"] if e["event"] == "memory.superseded"]
    assert len(sup) == 1 and sup[0]["details"]["superseded_by"] == winners[0]
