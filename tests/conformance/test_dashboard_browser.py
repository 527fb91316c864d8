"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Every path a person takes is walked with the keyboard and the labelled controls: sign in;
see a memory written through the REST API; travel back in transaction time and see a
superseded fact as it was believed; open its timeline and audit log; ask a question and
follow a citation; as the operator, issue a key, use it over REST, revoke it and see it
refused; sign out. Markup in a memory renders as text and runs nothing; a form posted from
another site is refused and changes nothing; another account's memory id shows nothing.

The browser is `AURRA_CHROMIUM` (default `/usr/bin/chromium`, which scripts/test installs
from Debian); without it these tests fail and say so. On the redb run they also take the
README's screenshots (desktop and phone widths) into `AURRA_SCREENSHOTS` (default
`target/screenshots`).
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from aurra_helpers import unique
from conftest import BACKEND, REPO_ROOT, Server

CHROMIUM = os.environ.get("AURRA_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("AURRA_SCREENSHOTS", REPO_ROOT / "target" / "screenshots"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000

KEYS = {"acme": ("acme", "browser"), "globex": ("globex", "browser")}


@pytest.fixture(scope="module")
def dash(launcher) -> Iterator[Server]:
    """A server of its own, with the operator credential."""
    srv = launcher.start("dashboard", KEYS, operator=True)
    yield srv
    launcher.stop(srv)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium; "
                    "scripts/test does) or set AURRA_CHROMIUM", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    # Nothing in a memory may ever open a dialog.
    dialogs: List[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    yield pg
    assert dialogs == [], f"a page opened a dialog: {dialogs}"
    context.close()


def shot(pg: Page, name: str) -> None:
    """A screenshot for the README, taken once (on the redb run)."""
    if BACKEND == "redb":
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(pg: Page, dash: Server, secret: str) -> None:
    """Signs in with the keyboard only: the labelled field, then Enter."""
    pg.goto(dash.base_url + "/")
    field = pg.get_by_label("API key or operator credential")
    field.focus()
    pg.keyboard.type(secret)
    pg.keyboard.press("Enter")
    expect(pg.get_by_role("button", name="Sign out")).to_be_visible()


def write(dash: Server, key: str, body: dict) -> str:
    resp = dash.post("/agent/memories", key=key, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["memory_id"]


def memory(dash: Server, key: str, tenant: str, memory_id: str) -> dict:
    resp = dash.get("/agent/memories", key=key,
                    params={"tenant_id": tenant, "include_superseded": "true"})
    assert resp.status_code == 200, resp.text
    return next(m for m in resp.json()["memories"] if m["id"] == memory_id)


def local(ts: str) -> str:
    """A `datetime-local` value (UTC, milliseconds) for an RFC 3339 instant."""
    dt = datetime.fromisoformat(ts).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def test_an_account_walks_its_memories_in_both_times_and_asks(dash, page):
    tenant = unique("browser")
    paris = write(dash, "acme", {"content": "Alice lives in Paris", "tenant_id": tenant,
                                 "topic": "home", "source": "chat"})
    created = memory(dash, "acme", tenant, paris)["created_at"]
    # An instant after Paris was written and before it is superseded (the store's
    # transaction clock is the wall clock; this waits at most a millisecond for it).
    believed = datetime.fromisoformat(created).astimezone(timezone.utc)
    believed = believed.replace(microsecond=believed.microsecond // 1000 * 1000)
    believed += timedelta(milliseconds=1)
    deadline = time.monotonic() + 1.0
    while datetime.now(timezone.utc) <= believed and time.monotonic() < deadline:
        pass
    lyon = write(dash, "acme", {"content": "Alice lives in Lyon", "tenant_id": tenant,
                                "topic": "home", "source": "chat"})
    sup = dash.post(f"/memories/{paris}/supersede", key="acme", json={"superseded_by": lyon})
    assert sup.status_code == 200, sup.text
    assert memory(dash, "acme", tenant, lyon)["created_at"] > believed.isoformat()

    page.goto(dash.base_url + "/")
    shot(page, "sign-in-desktop")
    sign_in(page, dash, dash.keys["acme"])
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="What is true now")).to_be_visible()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alice lives in Lyon")
    shot(page, "memories-desktop")

    # What we believed just after Paris was written: Paris, current then.
    page.get_by_label("Believed at (UTC)").fill(local(believed.isoformat()))
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="What we believed at")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alice lives in Paris")
    expect(rows.first.locator(".flag")).to_have_count(0)
    # And what we believe now about all times: Paris is there, marked superseded.
    page.get_by_label("Believed at (UTC)").fill(local(datetime.now(timezone.utc).isoformat()))
    page.get_by_role("button", name="Show").click()
    paris_row = rows.filter(has_text="Alice lives in Paris")
    expect(paris_row.locator(".flag", has_text="superseded")).to_be_visible()
    shot(page, "time-travel-desktop")

    # Its page: provenance, the chain on both axes, the audit log.
    paris_row.get_by_role("link", name="Alice lives in Paris").click()
    expect(page.get_by_role("heading", name="Its chain in time")).to_be_visible()
    expect(page.locator("ol.chain li")).to_have_count(2)
    expect(page.locator("ol.chain li.this")).to_contain_text("Alice lives in Paris")
    audit = page.get_by_role("region", name="Audit log")
    expect(audit.locator("tbody tr").first).to_contain_text("created")
    expect(audit.locator("tbody tr", has_text="superseded")).to_have_count(1)
    expect(page.get_by_role("link", name=lyon)).to_be_visible()
    shot(page, "memory-desktop")

    # Ask, then follow a citation to its memory.
    page.get_by_role("link", name="Ask").click()
    page.get_by_label("Question").fill("Where does Alice live?")
    page.get_by_label("Tenant").fill(tenant)
    page.keyboard.press("Enter")
    answer = page.get_by_role("region", name="Answer")
    expect(answer).to_be_visible()
    # The proof's hash is the one REST gives for the same question: the same evidence.
    rest = dash.post("/agent/query", key="acme", json={
        "question": "Where does Alice live?", "tenant_id": tenant, "include_proof_tree": True})
    assert rest.status_code == 200, rest.text
    expect(page.get_by_role("region", name="Proof tree").locator("code")).to_have_text(
        rest.json()["proof_tree"]["answer_hash"])
    citation = answer.get_by_role("link").first
    expect(citation).to_have_text("[mem-1]")
    shot(page, "ask-desktop")
    citation.click()
    expect(page.locator("p.fact")).to_have_text("Alice lives in Lyon")

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Writes per day")).to_be_visible()
    # One bar per day of this month, today's (at least these writes) drawn.
    now = datetime.now(timezone.utc)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = ((first + timedelta(days=32)).replace(day=1) - first).days
    expect(page.locator("svg.days rect")).to_have_count(days)
    expect(page.locator(f"svg.days rect:nth-of-type({now.day})")).to_have_class("some")
    shot(page, "settings-desktop")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key or operator credential")).to_be_visible()
    # Signed out means signed out: the memories are not shown any more.
    page.goto(dash.base_url + f"/ui/memories/{lyon}")
    expect(page.get_by_label("API key or operator credential")).to_be_visible()


def test_markup_in_a_memory_is_text_and_runs_nothing(dash, page):
    tenant = unique("markup")
    script = "<script>alert('x')</script> Alice leads the team"
    img = "<img src=x onerror=alert(1)> Bob joined the team"
    write(dash, "acme", {"content": script, "tenant_id": tenant})
    write(dash, "acme", {"content": img, "tenant_id": tenant})
    sign_in(page, dash, dash.keys["acme"])
    page.goto(dash.base_url + f"/?tenant={tenant}")
    table = page.locator("main table")
    expect(table.get_by_text(script)).to_be_visible()
    expect(table.get_by_text(img)).to_be_visible()
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    table.get_by_text(img).click()
    expect(page.locator("p.fact")).to_have_text(img)
    assert page.locator("main img").count() == 0
    # The fixture asserts no dialog opened.


def test_another_accounts_memory_shows_nothing(dash, page):
    secret = write(dash, "globex", {"content": "Globex secret roadmap: ship Hypnotoad"})
    sign_in(page, dash, dash.keys["acme"])
    resp = page.goto(dash.base_url + f"/ui/memories/{secret}")
    assert resp is not None and resp.status == 404
    expect(page.get_by_role("heading", name="No such memory")).to_be_visible()
    assert "Hypnotoad" not in page.content()


def test_the_operator_issues_a_key_that_works_until_revoked(dash, page):
    account = unique("initech").replace("-", "")
    sign_in(page, dash, dash.operator)
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.get_by_label("Account").fill(account)
    page.get_by_label("Label").fill("browser")
    page.get_by_role("button", name="Issue").click()
    secret = page.locator(".secret").inner_text().strip()
    assert secret.startswith("aurra_"), secret

    headers = {"Authorization": f"Bearer {secret}"}
    used = dash.request("POST", "/agent/memories", key=None, headers=headers,
                        json={"content": "written with the new key"})
    assert used.status_code == 200, used.text

    page.goto(dash.base_url + "/")
    assert secret not in page.content(), "the secret is shown on the issuing page only"
    shot(page, "admin-desktop")
    prefix = secret[:len("aurra_") + 8]
    page.get_by_role("button", name=f"Revoke {prefix}…").click()
    expect(page.locator("tbody tr", has_text=prefix)).to_contain_text("revoked")
    refused = dash.request("GET", "/agent/memories", key=None, headers=headers)
    assert refused.status_code == 401, refused.text
    # The revoked key cannot sign in either.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key or operator credential").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert secret not in page.content(), "a key is never echoed"


class _Evil(http.server.BaseHTTPRequestHandler):
    """Another site: a page whose form posts to the dashboard."""
    target = ""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = (f'<form method="post" action="{self.target}/ui/admin/keys">'
                '<input name="account" value="mallory"><input name="label" value="evil">'
                '<button type="submit">Win a prize</button></form>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_form_posted_from_another_site_is_refused(dash, page):
    sign_in(page, dash, dash.operator)
    before = dash.request("GET", "/admin/keys", key=None,
                          headers={"Authorization": f"Bearer {dash.operator}"}).json()
    handler = type("Evil", (_Evil,), {"target": dash.base_url})
    # `localhost` is another site than `127.0.0.1`, where the dashboard is.
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{evil.server_address[1]}/")
        with page.expect_response(lambda r: r.url.endswith("/ui/admin/keys")) as posted:
            page.get_by_role("button", name="Win a prize").click()
        assert posted.value.status == 403
        expect(page.get_by_role("alert")).to_contain_text("Refused")
    finally:
        evil.shutdown()
        evil.server_close()
    after = dash.request("GET", "/admin/keys", key=None,
                         headers={"Authorization": f"Bearer {dash.operator}"}).json()
    assert after == before, "the refused form issued nothing"
    assert not any(k["account"] == "mallory" for k in after["items"])


def test_the_pages_fit_a_phone(dash, browser):
    tenant = unique("phone")
    write(dash, "acme", {"content": "Alice prefers window seats on long flights",
                         "tenant_id": tenant, "topic": "travel", "source": "chat"})
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    try:
        pg.goto(dash.base_url + "/")
        shot(pg, "sign-in-phone")
        sign_in(pg, dash, dash.keys["acme"])
        for path, name in [(f"/?tenant={tenant}", "memories-phone"),
                           (f"/ui/ask?q=Where+does+Alice+sit&tenant={tenant}", "ask-phone"),
                           ("/ui/settings", "settings-phone")]:
            pg.goto(dash.base_url + path)
            expect(pg.locator("main")).to_be_visible()
            # Readable without sideways scrolling.
            overflow = pg.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
            shot(pg, name)
        pg.goto(dash.base_url + f"/?tenant={tenant}")
        pg.get_by_text("Alice prefers window seats on long flights").click()
        expect(pg.get_by_role("heading", name="Its chain in time")).to_be_visible()
        # Measured once the page has loaded: the heading shows before the stylesheet may
        # have arrived, and a page laid out without it is wider than a phone.
        pg.wait_for_load_state("load")
        overflow = pg.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the memory page is {overflow}px wider than a phone"
        shot(pg, "memory-phone")
    finally:
        context.close()
