//! The dashboard over HTTP: sign-in with an API key or the operator credential, the session
//! cookie's flags, CSRF and cross-site refusal, sign-out, revocation ending a session, the
//! account view showing only the account's memories with their markup as text.

mod http;

use http::TestServer;
use serde_json::json;

struct Page {
    status: u16,
    text: String,
    set_cookie: Option<String>,
    location: Option<String>,
    csp: Option<String>,
    cache_control: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> Page {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (set_cookie, location, csp, cache_control) = (
        header("set-cookie"),
        header("location"),
        header("content-security-policy"),
        header("cache-control"),
    );
    Page {
        status: resp.status().as_u16(),
        text: resp.body_mut().read_to_string().unwrap_or_default(),
        set_cookie,
        location,
        csp,
        cache_control,
    }
}

fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> Page {
    let mut req = agent().get(format!("http://{}{path}", server.addr));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    read(req.call().expect("GET"))
}

fn post_form(
    server: &TestServer,
    path: &str,
    cookie: Option<&str>,
    form: &str,
    extra: &[(&str, &str)],
) -> Page {
    let mut req = agent()
        .post(format!("http://{}{path}", server.addr))
        .header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    read(req.send(form).expect("POST"))
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Signs in with `key` and returns the cookie pair (`aurra_session=…`).
fn sign_in(server: &TestServer, key: &str) -> String {
    let page = post_form(
        server,
        "/ui/sign-in",
        None,
        &format!("key={}", encode(key)),
        &[],
    );
    assert_eq!(page.status, 303, "{}", page.text);
    assert_eq!(page.location.as_deref(), Some("/"));
    let cookie = page.set_cookie.expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

/// The session's CSRF token, from the sign-out form of a page.
fn csrf(page: &Page) -> String {
    let at = page
        .text
        .find("name=\"csrf\" value=\"")
        .expect("a csrf field")
        + 19;
    page.text[at..at + 64].to_owned()
}

#[test]
fn an_account_signs_in_sees_its_memories_as_text_and_signs_out() {
    let server = TestServer::start();
    let script = "<script>alert('x')</script> Alice leads the team";
    server.write(&server.acme, json!({"content": script}));
    server.write(
        &server.acme,
        json!({"content": "<img src=x onerror=alert(1)> Bob joined", "tenant_id": "t"}),
    );
    server.write(&server.globex, json!({"content": "Globex secret roadmap"}));

    // Signed out: the sign-in page, with the security headers.
    let first = get(&server, "/", None);
    assert_eq!(first.status, 200);
    assert!(
        first.text.contains("action=\"/ui/sign-in\""),
        "{}",
        first.text
    );
    let csp = first.csp.expect("a CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));

    // A wrong key: refused, and never echoed.
    let wrong = post_form(
        &server,
        "/ui/sign-in",
        None,
        "key=aurra_wrongwrongwrong",
        &[],
    );
    assert_eq!(wrong.status, 401);
    assert!(!wrong.text.contains("aurra_wrongwrongwrong"));
    assert!(wrong.set_cookie.is_none());

    let page = post_form(
        &server,
        "/ui/sign-in",
        None,
        &format!("key={}", encode(&server.acme)),
        &[],
    );
    assert_eq!(page.status, 303);
    let set = page.set_cookie.clone().expect("cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    assert!(!set.contains(&server.acme));
    let cookie = set.split(';').next().unwrap().to_owned();

    let list = get(&server, "/", Some(&cookie));
    assert_eq!(list.status, 200);
    assert!(list.text.contains("Alice leads the team"), "{}", list.text);
    assert!(
        list.text.contains("&lt;script&gt;"),
        "markup is escaped: {}",
        list.text
    );
    assert!(!list.text.contains("<script>"));
    assert!(!list.text.contains("Globex"), "another account's memory");
    assert!(
        !list.text.contains(&server.acme),
        "the key is never in a page"
    );
    // The other tenant only when asked for.
    assert!(!list.text.contains("Bob joined"));
    let tenant = get(&server, "/?tenant=t", Some(&cookie));
    assert!(tenant.text.contains("Bob joined"));
    assert!(
        tenant.text.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        tenant.text
    );
    assert!(!tenant.text.contains("<img"));

    // Sign-out needs the session's CSRF token.
    let token = csrf(&list);
    let forged = post_form(&server, "/ui/sign-out", Some(&cookie), "csrf=0", &[]);
    assert_eq!(forged.status, 403);
    assert_eq!(get(&server, "/", Some(&cookie)).status, 200);
    assert!(get(&server, "/", Some(&cookie)).text.contains("Alice"));
    let out = post_form(
        &server,
        "/ui/sign-out",
        Some(&cookie),
        &format!("csrf={token}"),
        &[],
    );
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.expect("cleared").contains("Max-Age=0"));
    let after = get(&server, "/", Some(&cookie));
    assert!(after.text.contains("action=\"/ui/sign-in\""), "signed out");
    assert!(!after.text.contains("Alice"));
}

#[test]
fn cross_site_posts_are_refused_and_tls_makes_the_cookie_secure() {
    let server = TestServer::start();
    let form = format!("key={}", encode(&server.acme));
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
    ] {
        let page = post_form(&server, "/ui/sign-in", None, &form, &headers);
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(page.set_cookie.is_none());
    }
    let same = format!("http://{}", server.addr);
    let ok = post_form(
        &server,
        "/ui/sign-in",
        None,
        &form,
        &[("Origin", &same), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(ok.status, 303);
    let tls = post_form(
        &server,
        "/ui/sign-in",
        None,
        &form,
        &[("X-Forwarded-Proto", "https")],
    );
    assert!(tls.set_cookie.expect("cookie").contains("; Secure"));

    // A signed-in session's form posted from another site is refused too.
    let cookie = sign_in(&server, &server.acme);
    let token = csrf(&get(&server, "/", Some(&cookie)));
    let refused = post_form(
        &server,
        "/ui/sign-out",
        Some(&cookie),
        &format!("csrf={token}"),
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(refused.status, 403);
    assert!(
        get(&server, "/", Some(&cookie)).text.contains("Sign out"),
        "still signed in"
    );
}

#[test]
fn revoking_the_key_or_resetting_the_operator_ends_their_sessions() {
    let server = TestServer::start();
    let (key, secret) = server.store.create_api_key("initech", "dash").unwrap();
    let cookie = sign_in(&server, &secret);
    assert!(get(&server, "/", Some(&cookie)).text.contains("initech"));
    server.store.revoke_api_key(key.id).unwrap();
    let after = get(&server, "/", Some(&cookie));
    assert!(
        after.text.contains("action=\"/ui/sign-in\""),
        "{}",
        after.text
    );

    // The operator's view lists the accounts; a reset ends it.
    let token = server.store.ensure_operator_token().unwrap().unwrap();
    let cookie = sign_in(&server, &token);
    let admin = get(&server, "/", Some(&cookie));
    assert_eq!(admin.status, 200);
    assert!(
        admin.text.contains("Operator") && admin.text.contains("globex"),
        "{}",
        admin.text
    );
    assert!(!admin.text.contains(&token));
    server.store.reset_operator_token().unwrap();
    assert!(
        get(&server, "/", Some(&cookie))
            .text
            .contains("action=\"/ui/sign-in\"")
    );

    // A made-up cookie is no session; the stylesheet is served from the binary.
    let fake = format!("aurra_session={}", "ab".repeat(32));
    assert!(
        get(&server, "/", Some(&fake))
            .text
            .contains("action=\"/ui/sign-in\"")
    );
    // A page is never kept; the stylesheet it links is, at an address naming its version.
    let signed_out = get(&server, "/", Some(&fake));
    assert_eq!(signed_out.cache_control.as_deref(), Some("no-store"));
    let href = signed_out
        .text
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page links its stylesheet")
        .to_owned();
    assert!(href.starts_with("/ui/app.css?v="), "{href}");
    let css = get(&server, &href, None);
    assert_eq!(css.status, 200);
    assert!(css.text.contains("body"));
    assert!(
        css.cache_control
            .as_deref()
            .is_some_and(|c| c.contains("max-age=31536000")),
        "{:?}",
        css.cache_control
    );
    assert_eq!(get(&server, "/ui/nothing-here", None).status, 404);
}

/// The time-travel control: "what was true at" (valid time), "what did we believe at"
/// (transaction time), and both; a superseded fact shows as such, and a fact learnt later
/// is absent from what was believed before it.
#[test]
fn the_account_view_travels_in_both_times() {
    let clock = aurra::ManualClock::new(aurra::Timestamp::parse("2026-03-01T00:00:00Z").unwrap());
    let server = TestServer::start_with_clock(clock.clone());
    let old = server.write(&server.acme, json!({"content": "Alice lives in Paris"}));
    clock.set(aurra::Timestamp::parse("2026-03-10T00:00:00Z").unwrap());
    let new = server.write(&server.acme, json!({"content": "Alice lives in Lyon"}));
    let superseded = server.post(
        &format!("/memories/{old}/supersede"),
        &server.acme,
        &json!({"superseded_by": new}),
    );
    assert_eq!(superseded.status, 200, "{}", superseded.text);
    clock.set(aurra::Timestamp::parse("2026-03-20T00:00:00Z").unwrap());
    let cookie = sign_in(&server, &server.acme);

    let now = get(&server, "/", Some(&cookie));
    assert!(now.text.contains("What is true now"));
    assert!(
        now.text.contains("Lyon") && !now.text.contains("Paris"),
        "{}",
        now.text
    );

    // Believed on 5 March: only Paris, not (yet) superseded. A datetime-local value.
    let before = get(&server, "/?believed_at=2026-03-05T00:00", Some(&cookie));
    assert_eq!(before.status, 200, "{}", before.text);
    assert!(
        before.text.contains("What we believed at 2026-03-05"),
        "{}",
        before.text
    );
    assert!(
        before.text.contains("Paris") && !before.text.contains("Lyon"),
        "{}",
        before.text
    );
    assert!(
        !before.text.contains("class=\"flag\">superseded"),
        "{}",
        before.text
    );

    // Believed on 15 March: both, Paris shown as superseded.
    let after = get(&server, "/?believed_at=2026-03-15T00:00:00", Some(&cookie));
    assert!(after.text.contains("Paris") && after.text.contains("Lyon"));
    assert!(
        after.text.contains("class=\"flag\">superseded"),
        "{}",
        after.text
    );

    // True on 5 March, as known now: Paris (valid then, superseded since).
    let valid = get(&server, "/?valid_at=2026-03-05T00:00:00", Some(&cookie));
    assert!(
        valid.text.contains("What was true at 2026-03-05"),
        "{}",
        valid.text
    );
    assert!(
        valid.text.contains("Paris") && !valid.text.contains("Lyon"),
        "{}",
        valid.text
    );

    // Both axes at once, and a time that is not one.
    let both = get(
        &server,
        "/?valid_at=2026-03-05T00:00:00&believed_at=2026-03-15T00:00:00",
        Some(&cookie),
    );
    assert!(
        both.text.contains("What we believed at 2026-03-15"),
        "{}",
        both.text
    );
    assert!(both.text.contains("Paris"));
    let bad = get(&server, "/?valid_at=yesterday", Some(&cookie));
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("role=\"alert\""));
}

/// A memory's page: the fact, its provenance, its chain on both time axes and its audit
/// log, linked from the list; another account's id in the URL shows nothing of it.
#[test]
fn a_memory_page_shows_its_chain_and_audit_and_nothing_of_another_account() {
    let server = TestServer::start();
    let old = server.write(
        &server.acme,
        json!({"content": "Alice lives in Paris", "source": "crm"}),
    );
    let new = server.write(
        &server.acme,
        json!({"content": "Alice lives in <b>Lyon</b>"}),
    );
    let done = server.post(
        &format!("/memories/{old}/supersede"),
        &server.acme,
        &json!({"superseded_by": new}),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    let foreign = server.write(&server.globex, json!({"content": "Globex merger plan"}));
    let cookie = sign_in(&server, &server.acme);

    let list = get(&server, "/", Some(&cookie));
    assert!(
        list.text.contains(&format!("href=\"/ui/memories/{new}\"")),
        "{}",
        list.text
    );

    let page = get(&server, &format!("/ui/memories/{old}"), Some(&cookie));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Alice lives in Paris"));
    assert!(page.text.contains("crm"), "provenance: {}", page.text);
    // The chain: both versions, each with its two bars; the replacement's markup as text.
    assert!(
        page.text.contains("&lt;b&gt;Lyon&lt;/b&gt;"),
        "{}",
        page.text
    );
    assert_eq!(
        page.text.matches("<rect class=\"valid\"").count(),
        2,
        "{}",
        page.text
    );
    assert_eq!(page.text.matches("<rect class=\"believed\"").count(), 2);
    // The audit log: created, then superseded by the new memory.
    assert!(page.text.contains("memory.created"), "{}", page.text);
    assert!(page.text.contains("memory.superseded"), "{}", page.text);
    assert!(page.text.contains(&format!("by {new}")), "{}", page.text);
    assert!(page.text.contains(&format!("href=\"/ui/memories/{new}\"")));

    for path in [
        format!("/ui/memories/{foreign}"),
        "/ui/memories/0195f1c2-1111-7000-8000-000000000000".to_owned(),
        "/ui/memories/not-an-id".to_owned(),
    ] {
        let page = get(&server, &path, Some(&cookie));
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.text.contains("Globex"), "{}", page.text);
        assert!(!page.text.contains("merger"));
    }
    // Signed out, a memory's page sends to sign-in.
    let anonymous = get(&server, &format!("/ui/memories/{old}"), None);
    assert_eq!(anonymous.status, 303);
}

/// Asking a question: the answer's `[mem-N]` markers link to the memories, the candidates
/// carry their similarity, the proof tree its hash; only the account's memories answer.
#[test]
fn a_question_is_answered_with_linked_citations_and_a_proof_hash() {
    let server = TestServer::start();
    let id = server.write(
        &server.acme,
        json!({"content": "Alice is a senior engineer at Acme Corp."}),
    );
    server.write(
        &server.globex,
        json!({"content": "Alice is a senior engineer at Globex"}),
    );
    let cookie = sign_in(&server, &server.acme);

    let empty = get(&server, "/ui/ask", Some(&cookie));
    assert_eq!(empty.status, 200);
    assert!(empty.text.contains("name=\"q\""));

    let page = get(&server, "/ui/ask?q=Where+does+Alice+work%3F", Some(&cookie));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains(&format!("<a href=\"/ui/memories/{id}\">[mem-1]</a>")),
        "{}",
        page.text
    );
    assert!(page.text.contains("Acme Corp"));
    assert!(
        !page.text.contains("Globex"),
        "another account's memory: {}",
        page.text
    );
    let hash_at = page.text.find("class=\"hash\">").expect("the proof hash") + 13;
    let hash = &page.text[hash_at..hash_at + 64];
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    // The same question over REST gives the same hash: one handler answers both.
    let rest = server.post(
        "/agent/query",
        &server.acme,
        &json!({"question": "Where does Alice work?", "include_proof_tree": true}),
    );
    assert_eq!(rest.body["proof_tree"]["answer_hash"], hash);

    assert_eq!(get(&server, "/ui/ask?q=x", None).status, 303, "signed out");
}

/// Supersede and expire from a memory's page: the session's CSRF token required, the REST
/// rules applied (a refusal shows its reason), another account's memory untouched.
#[test]
fn a_memory_is_superseded_and_expired_from_its_page() {
    let server = TestServer::start();
    let old = server.write(&server.acme, json!({"content": "Alice lives in Paris"}));
    let new = server.write(&server.acme, json!({"content": "Alice lives in Lyon"}));
    let other = server.write(&server.acme, json!({"content": "Bob likes tea"}));
    let foreign = server.write(&server.globex, json!({"content": "Globex fact"}));
    let cookie = sign_in(&server, &server.acme);
    let token = csrf(&get(&server, &format!("/ui/memories/{old}"), Some(&cookie)));
    let path = format!("/ui/memories/{old}/supersede");

    // Without the token, or from another site: refused, nothing changed.
    let forged = post_form(
        &server,
        &path,
        Some(&cookie),
        &format!("superseded_by={new}"),
        &[],
    );
    assert_eq!(forged.status, 403);
    let cross = post_form(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={token}&superseded_by={new}"),
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(cross.status, 403);
    let timeline = server.get(&format!("/memories/{old}/timeline"), &server.acme);
    assert_eq!(
        timeline.body["chain_length"].as_u64().unwrap(),
        1,
        "{}",
        timeline.text
    );

    // A refusal shows the REST API's reason.
    let wrong = post_form(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={token}&superseded_by=nope"),
        &[],
    );
    assert!(
        wrong.status >= 400 && wrong.status < 500,
        "{}",
        wrong.status
    );
    assert!(wrong.text.contains("role=\"alert\""), "{}", wrong.text);

    let done = post_form(
        &server,
        &path,
        Some(&cookie),
        &format!("csrf={token}&superseded_by={new}"),
        &[],
    );
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/ui/memories/{old}").as_str())
    );
    let timeline = server.get(&format!("/memories/{old}/timeline"), &server.acme);
    assert_eq!(
        timeline.body["chain_length"].as_u64().unwrap(),
        2,
        "{}",
        timeline.text
    );
    // A superseded memory's page offers no form any more.
    assert!(
        !get(&server, &format!("/ui/memories/{old}"), Some(&cookie))
            .text
            .contains("/supersede\"")
    );

    // Expire with a datetime-local value.
    let expire = post_form(
        &server,
        &format!("/ui/memories/{other}/supersede"),
        Some(&cookie),
        &format!("csrf={token}&valid_to=2030-01-01T00:00"),
        &[],
    );
    assert_eq!(expire.status, 303, "{}", expire.text);
    let audit = server.get(&format!("/memories/{other}/audit"), &server.acme);
    assert!(audit.text.contains("memory.expired"), "{}", audit.text);

    // Another account's memory: refused, untouched.
    let theirs = post_form(
        &server,
        &format!("/ui/memories/{foreign}/supersede"),
        Some(&cookie),
        &format!("csrf={token}&valid_to=2030-01-01T00:00"),
        &[],
    );
    assert!(
        theirs.status == 403 || theirs.status == 404,
        "{}",
        theirs.status
    );
    assert!(!theirs.text.contains("Globex fact"));
    let untouched = server.get(&format!("/memories/{foreign}/audit"), &server.globex);
    assert!(
        !untouched.text.contains("memory.expired"),
        "{}",
        untouched.text
    );
}

/// The admin view issues a key (its secret shown on that page only), which works over REST
/// at once, and revokes it, after which REST refuses it; an account's session cannot.
#[test]
fn the_admin_view_issues_and_revokes_keys() {
    let server = TestServer::start();
    server.write(&server.acme, json!({"content": "counted"}));
    server.write(&server.acme, json!({"content": "counted too"}));
    let token = server.store.ensure_operator_token().unwrap().unwrap();
    let cookie = sign_in(&server, &token);
    let admin = get(&server, "/", Some(&cookie));
    let csrf_token = csrf(&admin);
    assert!(!admin.text.contains(&server.acme), "no secret in a listing");
    // Each account's usage: acme's two writes of the server's 50 000, globex's none.
    assert!(admin.text.contains("<td>acme</td>"), "{}", admin.text);
    assert!(
        admin.text.contains("<td>2 of 50000<meter"),
        "{}",
        admin.text
    );
    assert!(
        admin.text.contains("<td>0 of 50000<meter"),
        "{}",
        admin.text
    );

    let forged = post_form(
        &server,
        "/ui/admin/keys",
        Some(&cookie),
        "account=initech&label=x",
        &[],
    );
    assert_eq!(forged.status, 403);
    let issued = post_form(
        &server,
        "/ui/admin/keys",
        Some(&cookie),
        &format!("csrf={csrf_token}&account=initech&label=dash"),
        &[],
    );
    assert_eq!(issued.status, 200, "{}", issued.text);
    let at = issued
        .text
        .find("class=\"secret\">")
        .expect("the secret, once")
        + 15;
    let secret = issued.text[at..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("aurra_"), "{secret}");
    let write = server.post(
        "/agent/memories",
        &secret,
        &json!({"content": "from the dashboard key"}),
    );
    assert_eq!(write.status, 200, "{}", write.text);
    // Listed afterwards by its prefix only.
    let listed = get(&server, "/", Some(&cookie));
    assert!(listed.text.contains(&secret[..14]) && !listed.text.contains(&secret));
    let bad = post_form(
        &server,
        "/ui/admin/keys",
        Some(&cookie),
        &format!("csrf={csrf_token}&account=no+spaces"),
        &[],
    );
    assert!(bad.text.contains("role=\"alert\""), "{}", bad.text);

    let id = server
        .store
        .api_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.label == "dash")
        .unwrap()
        .id;
    let revoke = format!("/ui/admin/keys/{id}/revoke");
    // An account's session is no operator's.
    let account = sign_in(&server, &server.acme);
    let account_csrf = csrf(&get(&server, "/", Some(&account)));
    let refused = post_form(
        &server,
        &revoke,
        Some(&account),
        &format!("csrf={account_csrf}"),
        &[],
    );
    assert_eq!(refused.status, 303);
    assert_eq!(
        server
            .post(
                "/agent/memories",
                &secret,
                &json!({"content": "still works"})
            )
            .status,
        200
    );
    let done = post_form(
        &server,
        &revoke,
        Some(&cookie),
        &format!("csrf={csrf_token}"),
        &[],
    );
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        server
            .post("/agent/memories", &secret, &json!({"content": "refused"}))
            .status,
        401
    );
    assert!(get(&server, "/", Some(&cookie)).text.contains("revoked "));
}

/// The key's settings and the account's usage, as the REST API reports them.
#[test]
fn the_settings_page_shows_the_keys_settings_and_the_usage() {
    let clock = aurra::ManualClock::new(aurra::Timestamp::parse("2026-03-02T10:00:00Z").unwrap());
    let server = TestServer::start_with_clock(clock.clone());
    server.write(&server.acme, json!({"content": "one"}));
    clock.set(aurra::Timestamp::parse("2026-03-04T10:00:00Z").unwrap());
    server.write(&server.acme, json!({"content": "two"}));
    server.write(&server.acme, json!({"content": "three"}));
    let patched = server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"freshness_half_life_days": 12}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let cookie = sign_in(&server, &server.acme);
    let page = get(&server, "/ui/settings", Some(&cookie));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(
            "name=\"freshness_half_life_days\" type=\"text\" inputmode=\"decimal\" value=\"12.0\""
        ),
        "{}",
        page.text
    );
    assert!(page.text.contains("3 of "), "{}", page.text);
    // The chart: one bar per day of March, the writes on the 2nd and the 4th.
    assert_eq!(page.text.matches("<rect ").count(), 31, "{}", page.text);
    assert!(
        page.text.contains("<title>2026-03-02: 1</title>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<title>2026-03-04: 2</title>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<td>2026-03-04</td><td>2</td>"),
        "{}",
        page.text
    );

    // Saved from the form, as PATCH /agent/settings saves it.
    let form = format!(
        "csrf={}&auto_supersede_default=on&excluded_categories=health%2C+finance&min_confidence=0.9\
         &classifier_model=&freshness_half_life_days=30",
        csrf(&page)
    );
    let saved = post_form(&server, "/ui/settings", Some(&cookie), &form, &[]);
    assert_eq!(saved.status, 303, "{}", saved.text);
    let rest = server.get("/agent/settings", &server.acme);
    assert_eq!(rest.body["auto_supersede_default"], true);
    assert_eq!(
        rest.body["excluded_categories"],
        json!(["health", "finance"])
    );
    assert_eq!(rest.body["min_confidence"], 0.9);
    assert_eq!(rest.body["freshness_half_life_days"], 30.0);

    // Refused as REST refuses it, said on the page; nothing changes.
    let bad = format!(
        "csrf={}&excluded_categories=&min_confidence=0.9&freshness_half_life_days=99999",
        csrf(&page)
    );
    let refused = post_form(&server, "/ui/settings", Some(&cookie), &bad, &[]);
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("role=\"alert\""), "{}", refused.text);
    assert!(refused.text.contains("3650"), "{}", refused.text);
    let unchanged = server.get("/agent/settings", &server.acme);
    assert_eq!(unchanged.body, rest.body);
    let not_a_number = format!(
        "csrf={}&min_confidence=lots&freshness_half_life_days=3",
        csrf(&page)
    );
    let refused = post_form(&server, "/ui/settings", Some(&cookie), &not_a_number, &[]);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("min_confidence"), "{}", refused.text);
    assert_eq!(server.get("/agent/settings", &server.acme).body, rest.body);
    // Without the CSRF token: refused.
    let forged = post_form(
        &server,
        "/ui/settings",
        Some(&cookie),
        "min_confidence=0.1",
        &[],
    );
    assert_eq!(forged.status, 403, "{}", forged.text);

    // The other key of the account keeps its own settings.
    let second = sign_in(&server, &server.acme_second);
    assert!(
        !get(&server, "/ui/settings", Some(&second))
            .text
            .contains("value=\"30\"")
    );
    assert_eq!(get(&server, "/ui/settings", None).status, 303);
}

/// The memory list pages by cursor: following "Older" from the newest page visits every
/// memory once, newest first, whatever is written meanwhile; a made-up cursor is refused.
#[test]
fn the_memory_list_pages_through_every_memory_once() {
    let server = TestServer::start();
    let mut written = Vec::new();
    for i in 0..120u64 {
        // Words unlike each other's, so no write is a near duplicate of another.
        let a = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let content = format!("{a:016x} {:016x} {i}", a.rotate_left(29));
        written.push(server.write(&server.acme, json!({"content": content, "tenant_id": "t"})));
    }
    let cookie = sign_in(&server, &server.acme);
    let ids_on = |text: &str| -> Vec<String> {
        text.match_indices("href=\"/ui/memories/")
            .map(|(at, m)| text[at + m.len()..at + m.len() + 36].to_owned())
            .collect()
    };
    let mut seen = Vec::new();
    let mut path = "/?tenant=t".to_owned();
    let mut pages = 0;
    loop {
        let page = get(&server, &path, Some(&cookie));
        assert_eq!(page.status, 200, "{}", page.text);
        pages += 1;
        seen.extend(ids_on(&page.text));
        if pages == 1 {
            assert!(
                !page.text.contains(">Newest<"),
                "the first page links no newer one"
            );
            // A write after the first page does not shift the next ones.
            server.write(
                &server.acme,
                json!({"content": "written while paging", "tenant_id": "t"}),
            );
        } else {
            assert!(
                page.text.contains("href=\"/?tenant=t\">Newest<"),
                "{}",
                page.text
            );
        }
        let Some(at) = page.text.find("\" rel=\"next\">Older<") else {
            break;
        };
        let start = page.text[..at].rfind("href=\"").expect("a link") + 6;
        path = page.text[start..at].replace("&amp;", "&");
        assert!(path.starts_with("/?tenant=t&before="), "{path}");
        assert!(pages < 10, "more pages than rows");
    }
    assert_eq!(pages, 3, "120 memories in pages of 50");
    written.reverse();
    assert_eq!(seen, written, "every memory once, newest first");

    let forged = get(&server, "/?tenant=t&before=12.zz", Some(&cookie));
    assert_eq!(forged.status, 400);
    assert!(forged.text.contains("role=\"alert\""), "{}", forged.text);
}
