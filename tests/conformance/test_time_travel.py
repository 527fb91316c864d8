"""Valid-time and transaction-time travel on the list endpoint (spec §3.3, §3.7).

One story per module, in its own tenant:

    A  "Alice works at Initech"   written
    B  "Alice works at Globex"    written
    A  superseded by B
    C  "Bob works at Hooli"       written (an anchor after the supersession)

Every instant used below comes from the rows themselves (their `valid_from`,
`transaction_time_start`, `valid_to`), never from the local clock.
"""

from types import SimpleNamespace

import pytest

from aurra_helpers import (
    as_offset,
    as_z,
    assert_memory_shape,
    by_id,
    ids,
    parse_ts,
    unique,
)


@pytest.fixture(scope="module")
def story(server):
    acme = server.client("acme")
    tenant = unique("tt")
    a = acme.memories.add(content="Alice works at Initech", tenant_id=tenant).memory_id
    b = acme.memories.add(content="Alice works at Globex", tenant_id=tenant).memory_id
    before_supersession = by_id(acme.memories.list(tenant_id=tenant, include_superseded=True))
    sup = acme.memories.supersede(a, superseded_by=b)
    c = acme.memories.add(content="Bob works at Hooli", tenant_id=tenant).memory_id
    rows = by_id(acme.memories.list(tenant_id=tenant, include_superseded=True))
    assert set(rows) == {a, b, c}
    s = SimpleNamespace(
        acme=acme, tenant=tenant, a=a, b=b, c=c, sup=sup, rows=rows,
        before=before_supersession,
        vf_a=rows[a]["valid_from"], vf_b=rows[b]["valid_from"], vf_c=rows[c]["valid_from"],
        tx_a=rows[a]["temporal"]["transaction_time_start"],
        tx_b=rows[b]["temporal"]["transaction_time_start"],
        tx_c=rows[c]["temporal"]["transaction_time_start"],
        end_a=rows[a]["valid_to"],
        tte_a=rows[a]["temporal"]["transaction_time_end"],
    )
    # The story's own ordering, as the contract describes it.
    assert parse_ts(s.tx_a) < parse_ts(s.tx_b) < parse_ts(s.tx_c)
    assert parse_ts(s.vf_a) < parse_ts(s.vf_b) < parse_ts(s.vf_c)
    assert s.end_a is not None and parse_ts(s.vf_b) < parse_ts(s.end_a) <= parse_ts(s.vf_c)
    assert s.tte_a is not None and parse_ts(s.tx_b) < parse_ts(s.tte_a) <= parse_ts(s.tx_c)
    return s


def listing(s, **params):
    return ids(s.acme.memories.list(tenant_id=s.tenant, limit=100, **params))


def test_supersede_response(story):
    assert story.sup.status == "superseded"
    assert story.sup.memory_id == story.a
    assert story.sup.superseded_by == story.b
    assert story.sup.valid_to == story.end_a, "valid_to echoes the stored value"


def test_rows_before_supersession_were_both_current(story):
    for mid in (story.a, story.b):
        t = story.before[mid]["temporal"]
        assert t["is_current"] and t["is_known_current"] and t["valid_to"] is None


def test_current_truth_hides_the_superseded_row(story):
    assert listing(story) == [story.c, story.b]


def test_include_superseded_shows_the_full_history(story):
    rows = story.acme.memories.list(tenant_id=story.tenant, include_superseded=True)
    assert ids(rows) == [story.c, story.b, story.a]
    for m in rows:
        assert_memory_shape(m)
    a = by_id(rows)[story.a]
    t = a["temporal"]
    assert t["is_superseded"] is True and t["is_current"] is False and t["is_expired"] is False
    assert t["superseded_by"] == story.b and a["superseded_by"] == story.b
    assert t["valid_to"] is not None
    assert t["transaction_time_end"] is not None and t["is_known_current"] is False
    assert a["freshness"] == 0.0, "superseded rows have freshness 0.0"
    b = by_id(rows)[story.b]
    assert b["temporal"]["is_current"] is True and b["superseded_by"] is None


def test_as_of_before_b_shows_a(story):
    assert listing(story, as_of=story.vf_a) == [story.a]


def test_as_of_rows_render_their_latest_state(story):
    a = story.acme.memories.list(tenant_id=story.tenant, as_of=story.vf_a)[0]
    assert a["superseded_by"] == story.b and a["temporal"]["is_superseded"] is True


def test_as_of_between_b_and_the_supersession_shows_both(story):
    assert listing(story, as_of=story.vf_b) == [story.b, story.a]


def test_as_of_at_the_end_of_a_excludes_a(story):
    # valid_at(m, T) needs valid_to > T: A's validity ends exactly at its valid_to.
    assert listing(story, as_of=story.end_a) == [story.b]


def test_as_of_ignores_include_superseded(story):
    assert listing(story, as_of=story.vf_a, include_superseded=True) == [story.a]


def test_as_of_accepts_z_and_other_offsets(story):
    assert listing(story, as_of=as_z(story.vf_a)) == [story.a]
    assert listing(story, as_of=as_offset(story.vf_a, 2)) == [story.a]
    assert listing(story, as_of=as_offset(story.vf_b, -5)) == [story.b, story.a]


def test_as_of_before_everything_is_empty(story):
    assert listing(story, as_of="2000-01-01T00:00:00Z") == []


def test_transaction_as_of_first_write_replays_a_alone(story):
    rows = story.acme.memories.list(tenant_id=story.tenant, transaction_as_of=story.tx_a)
    assert ids(rows) == [story.a]
    a = rows[0]
    assert_memory_shape(a)
    assert a["superseded_by"] is None and a["valid_to"] is None
    assert a["temporal"]["transaction_time_end"] is None
    assert a["temporal"]["is_current"] is True and a["temporal"]["is_known_current"] is True


def test_transaction_as_of_before_the_supersession_shows_a_as_it_stood(story):
    rows = story.acme.memories.list(tenant_id=story.tenant, transaction_as_of=story.tx_b)
    assert ids(rows) == [story.b, story.a]
    a = by_id(rows)[story.a]
    assert a["superseded_by"] is None
    assert a["valid_to"] is None
    t = a["temporal"]
    assert t["superseded_by"] is None and t["transaction_time_end"] is None
    assert t["is_current"] is True and t["is_superseded"] is False and t["is_known_current"] is True
    assert a["freshness"] > 0.99, "freshness is computed with now = T1, when A was current"


def test_transaction_as_of_after_the_supersession(story):
    assert listing(story, transaction_as_of=story.tx_c) == [story.c, story.b]
    rows = story.acme.memories.list(tenant_id=story.tenant, transaction_as_of=story.tx_c,
                                    include_superseded=True)
    assert ids(rows) == [story.c, story.b, story.a]
    a = by_id(rows)[story.a]
    assert a["superseded_by"] == story.b
    assert a["temporal"]["transaction_time_end"] == story.tte_a


def test_transaction_as_of_with_include_superseded_before_the_supersession(story):
    assert listing(story, transaction_as_of=story.tx_b, include_superseded=True) == \
        [story.b, story.a]


def test_transaction_as_of_before_everything_is_empty(story):
    assert listing(story, transaction_as_of="2000-01-01T00:00:00Z") == []
    assert listing(story, transaction_as_of="2000-01-01T00:00:00Z", include_superseded=True) == []


def test_transaction_as_of_accepts_z(story):
    assert listing(story, transaction_as_of=as_z(story.tx_b)) == [story.b, story.a]


@pytest.mark.parametrize("valid_at,tx_at,expected", [
    # "As of T1 (system), what did we think was true at T2 (world)?"
    ("vf_a", "tx_a", ["a"]),
    ("vf_a", "tx_b", ["a"]),
    ("vf_b", "tx_b", ["b", "a"]),
    # Superseded before T1 but valid at T2: at T1 we knew it had been true then.
    ("vf_a", "tx_c", ["a"]),
    ("vf_b", "tx_c", ["b", "a"]),
    # At tx_b nobody knew A would end, so A still counts as valid at vf_c...
    ("vf_c", "tx_b", ["b", "a"]),
    # ... while at tx_c we know it ended before vf_c.
    ("vf_c", "tx_c", ["c", "b"]),
    ("end_a", "tx_c", ["b"]),
])
def test_bitemporal_combination(story, valid_at, tx_at, expected):
    got = listing(story, as_of=getattr(story, valid_at), transaction_as_of=getattr(story, tx_at))
    assert got == [getattr(story, x) for x in expected]


def test_bitemporal_rows_render_as_they_stood_at_t1(story):
    rows = story.acme.memories.list(tenant_id=story.tenant, as_of=story.vf_c,
                                    transaction_as_of=story.tx_b)
    a = by_id(rows)[story.a]
    assert a["superseded_by"] is None and a["valid_to"] is None
    assert a["temporal"]["transaction_time_end"] is None


def test_live_as_of_contrasts_with_the_replay(story):
    # Without transaction_as_of, A's (today's) valid_to ends it before vf_c.
    assert listing(story, as_of=story.vf_c) == [story.c, story.b]


def test_raw_echoes_of_temporal_parameters(server, story):
    params = {"tenant_id": story.tenant, "as_of": as_z(story.vf_b),
              "transaction_as_of": story.tx_c}
    resp = server.get("/agent/memories", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["as_of"] == params["as_of"], "as_of is echoed as sent"
    assert body["transaction_as_of"] == params["transaction_as_of"]
    assert body["count"] == 2
    assert body["superseded_count"] == 1, "A (rendered superseded as of tx_c) is in the set"


def test_other_tenants_and_accounts_do_not_leak_into_travel(server, story):
    other = server.client("globex")
    assert other.memories.list(tenant_id=story.tenant, include_superseded=True) == []
    assert other.memories.list(tenant_id=story.tenant, transaction_as_of=story.tx_c) == []
    assert story.acme.memories.list(as_of=story.vf_b, tenant_id=unique("none")) == []
