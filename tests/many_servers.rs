//! Several `aurra serve --database …` processes on one PostgreSQL schema serve the same data:
//! a write acknowledged by one is read by all, usage counts every write of every process,
//! and keys created or revoked and settings changed while they run (through `aurra keys` or
//! another server) take effect in all of them within a second.

#![cfg(feature = "postgres")]

mod backends;
mod process;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backends::{Kind, TestBackend};
use serde_json::{Value, json};

/// The bound the README states for keys and settings to reach every process.
const PROPAGATION: Duration = Duration::from_secs(1);

fn aurra(backend: &TestBackend) -> Command {
    let config = backend.postgres().expect("a PostgreSQL backend");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurra"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AURRA_LOG", "warn")
        .env("AURRA_DATABASE_URL", backends::database_url())
        .env("AURRA_DATABASE_SCHEMA", config.schema_name());
    cmd
}

/// A running server process.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(backend: &TestBackend, flags: &[&str]) -> Server {
        let started = process::start(
            aurra(backend)
                .args(["serve", "--bind", "127.0.0.1:0"])
                .args(flags),
        );
        Server {
            child: started.child,
            url: started.url,
        }
    }

    fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {key}");
        let json = body.map(|b| b.to_string());
        let response = match (method, json) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("PATCH", Some(body)) => agent
                .patch(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body),
            (_, Some(body)) => agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body),
            (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
        };
        let mut response = response.expect("HTTP");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let exit = self.child.wait().expect("wait");
        if !std::thread::panicking() {
            assert!(exit.success(), "server exit status {exit:?}");
        }
    }
}

/// `aurra keys create` while the servers run; the secret.
fn create_key(backend: &TestBackend, account: &str) -> String {
    let out = aurra(backend)
        .args(["keys", "create", "--account", account])
        .output()
        .expect("keys create");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .next()
        .expect("the secret")
        .to_owned()
}

/// Polls `done` until it holds; the time that took (failing after twice the bound).
fn within(bound: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < 2 * bound,
            "not in effect after {:?}",
            start.elapsed()
        );
        std::thread::yield_now();
    }
    start.elapsed()
}

#[test]
fn a_write_acknowledged_by_one_server_is_read_by_every_other() {
    let backend = TestBackend::new(Kind::Postgres);
    let key = create_key(&backend, "acme");
    let servers: Vec<Server> = (0..3).map(|_| Server::start(&backend, &[])).collect();
    let (status, saved) = servers[0].call(
        "POST",
        "/agent/memories",
        &key,
        Some(json!({"content": "Alice works at Acme", "tenant_id": "t"})),
    );
    assert_eq!(status, 200, "{saved}");
    let old = saved["memory_id"].as_str().expect("id").to_owned();
    for server in &servers[1..] {
        let (_, list) = server.call("GET", "/agent/memories?tenant_id=t", &key, None);
        assert_eq!(list["memories"][0]["id"], json!(old), "{list}");
    }
    // Superseded through another server; the chain is whole on the third.
    let (_, newer) = servers[1].call(
        "POST",
        "/agent/memories",
        &key,
        Some(json!({"content": "Alice works at Globex", "tenant_id": "t"})),
    );
    let new = newer["memory_id"].as_str().expect("id").to_owned();
    let (status, _) = servers[1].call(
        "POST",
        &format!("/memories/{old}/supersede"),
        &key,
        Some(json!({"superseded_by": new})),
    );
    assert_eq!(status, 200);
    let (_, timeline) = servers[2].call("GET", &format!("/memories/{new}/timeline"), &key, None);
    assert_eq!(timeline["chain_length"], json!(2), "{timeline}");
    // A duplicate of a live fact is refused whichever server it reaches.
    let (_, dup) = servers[2].call(
        "POST",
        "/agent/memories",
        &key,
        Some(json!({"content": "Alice works at Globex", "tenant_id": "t"})),
    );
    assert_eq!(dup["status"], json!("duplicate"), "{dup}");
    assert_eq!(dup["duplicate_of"], json!(new));
}

#[test]
fn usage_counts_every_write_of_every_server() {
    let backend = TestBackend::new(Kind::Postgres);
    let key = create_key(&backend, "acme");
    let servers: Vec<Server> = (0..2).map(|_| Server::start(&backend, &[])).collect();
    const WRITES: usize = 40;
    let count = servers.len();
    std::thread::scope(|scope| {
        for (i, server) in servers.iter().enumerate() {
            let key = &key;
            scope.spawn(move || {
                for n in (i..WRITES).step_by(count) {
                    let (status, _) = server.call(
                        "POST",
                        "/agent/memories",
                        key,
                        Some(json!({"content": format!("fact {n}")})),
                    );
                    assert_eq!(status, 200);
                }
            });
        }
    });
    for server in &servers {
        let (_, plan) = server.call("GET", "/plan/status", &key, None);
        assert_eq!(plan["writes_used"].as_u64(), Some(WRITES as u64), "{plan}");
    }
}

#[test]
fn keys_created_and_revoked_while_servers_run_take_effect_everywhere_within_a_second() {
    let backend = TestBackend::new(Kind::Postgres);
    let servers: Vec<Server> = (0..2).map(|_| Server::start(&backend, &[])).collect();
    // Created while they run: every server accepts it (unknown keys are never cached).
    let key = create_key(&backend, "acme");
    for server in &servers {
        let (status, _) = server.call("GET", "/agent/memories", &key, None);
        assert_eq!(status, 200);
    }
    let listed = aurra(&backend)
        .args(["keys", "list"])
        .output()
        .expect("keys list");
    let listing = String::from_utf8_lossy(&listed.stdout);
    let id = listing
        .lines()
        .find(|l| l.contains(&key[..14]))
        .and_then(|l| l.split_whitespace().next())
        .expect("the key's listing")
        .to_owned();
    let revoked = aurra(&backend)
        .args(["keys", "revoke", &id])
        .output()
        .expect("keys revoke");
    assert!(revoked.status.success(), "{revoked:?}");
    for server in &servers {
        let took = within(PROPAGATION, || {
            server.call("GET", "/agent/memories", &key, None).0 == 401
        });
        assert!(took < PROPAGATION, "revocation took {took:?}");
    }
}

/// A form post to a server's dashboard with an optional session cookie: the status, the
/// `Set-Cookie` pair and the page.
fn form(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (u16, Option<String>, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let mut req = agent
        .post(format!("{}{path}", server.url))
        .header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let mut resp = req.send(body).expect("HTTP");
    let set = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (
        resp.status().as_u16(),
        set,
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn page(server: &Server, cookie: &str) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .get(format!("{}/", server.url))
        .header("Cookie", cookie)
        .call()
        .expect("HTTP")
        .body_mut()
        .read_to_string()
        .unwrap_or_default()
}

/// Dashboard sessions are the store's: signed in through one server, a browser is signed in
/// on every other (behind a load balancer), and signing out on one ends it on all.
#[test]
fn a_dashboard_session_started_on_one_server_works_on_every_other() {
    let backend = TestBackend::new(Kind::Postgres);
    let key = create_key(&backend, "acme");
    let servers: Vec<Server> = (0..2).map(|_| Server::start(&backend, &[])).collect();
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let (status, cookie, _) = form(&servers[0], "/ui/sign-in", None, &format!("key={encoded}"));
    assert_eq!(status, 303);
    let cookie = cookie.expect("a session cookie");
    let on_other = page(&servers[1], &cookie);
    assert!(
        on_other.contains("Sign out") && on_other.contains("acme"),
        "{on_other}"
    );
    let marker = "name=\"csrf\" value=\"";
    let at = on_other.find(marker).expect("a CSRF token") + marker.len();
    let csrf = &on_other[at..at + 64];
    let (status, _, _) = form(
        &servers[1],
        "/ui/sign-out",
        Some(&cookie),
        &format!("csrf={csrf}"),
    );
    assert_eq!(status, 303);
    for server in &servers {
        let signed_out = page(server, &cookie);
        assert!(
            signed_out.contains("action=\"/ui/sign-in\""),
            "{signed_out}"
        );
    }
}

#[test]
fn settings_changed_on_one_server_reach_every_other_within_a_second() {
    let backend = TestBackend::new(Kind::Postgres);
    let key = create_key(&backend, "acme");
    let servers: Vec<Server> = (0..2).map(|_| Server::start(&backend, &[])).collect();
    // Both cache the defaults first.
    for server in &servers {
        let (_, settings) = server.call("GET", "/agent/settings", &key, None);
        assert_eq!(
            settings["freshness_half_life_days"].as_f64(),
            Some(30.0),
            "{settings}"
        );
    }
    let (status, _) = servers[0].call(
        "PATCH",
        "/agent/settings",
        &key,
        Some(json!({"freshness_half_life_days": 7})),
    );
    assert_eq!(status, 200);
    let took = within(PROPAGATION, || {
        servers[1].call("GET", "/agent/settings", &key, None).1["freshness_half_life_days"].as_f64()
            == Some(7.0)
    });
    assert!(took < PROPAGATION, "the change took {took:?}");
}

#[test]
fn the_database_url_and_its_password_are_never_echoed() {
    // Refused: nothing listens on port 1 of loopback.
    let out = Command::new(env!("CARGO_BIN_EXE_aurra"))
        .env_clear()
        .env("AURRA_LOG", "debug")
        .args([
            "keys",
            "list",
            "--database",
            "postgres://aurra:hunter2-secret@127.0.0.1:1/aurra",
        ])
        .output()
        .expect("keys list");
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("cannot open the store"), "{text}");
    assert!(!text.contains("hunter2"), "the password was echoed: {text}");

    // Served, with every log on: the URL (with a password the test cluster ignores) is in no
    // line of the log.
    let backend = TestBackend::new(Kind::Postgres);
    let config = backend.postgres().expect("a PostgreSQL backend");
    let url = format!("{} password=hunter2-secret", backends::database_url());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aurra"))
        .env_clear()
        .env("AURRA_LOG", "debug")
        .env("AURRA_DATABASE_URL", &url)
        .args(["serve", "--bind", "127.0.0.1:0", "--database-schema"])
        .arg(config.schema_name())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aurra serve");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("a line");
        let done = line.starts_with("aurra listening on ");
        printed.push(line);
        if done {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("aurra serving"), "{log}");
    for text in [log.as_ref(), printed.join("\n").as_str()] {
        assert!(!text.contains("hunter2"), "the password was echoed: {text}");
    }
}

#[test]
fn aurra_database_migrate_prepares_the_schema_and_citus_sql_distributes_every_table() {
    let backend = TestBackend::new(Kind::Postgres);
    let out = aurra(&backend)
        .args(["database", "migrate"])
        .output()
        .expect("aurra database migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema is there, and holds no data: no account, no key.
    let store = backend.open(aurra::StoreOptions::new());
    assert!(store.accounts().expect("accounts").is_empty());
    assert!(store.api_keys().expect("keys").is_empty());

    let schema = backend
        .postgres()
        .expect("a PostgreSQL backend")
        .schema_name()
        .to_owned();
    let out = aurra(&backend)
        .args(["database", "citus-sql"])
        .output()
        .expect("aurra database citus-sql");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let statements: Vec<&str> = text.lines().collect();
    let distributed: Vec<&&str> = statements
        .iter()
        .filter(|s| s.contains("create_distributed_table"))
        .collect();
    let reference = statements
        .iter()
        .filter(|s| s.contains("create_reference_table"))
        .count();
    assert_eq!(distributed.len(), 8, "{text}");
    assert_eq!(reference, 7, "{text}");
    assert!(statements.iter().all(|s| s.contains(&schema)), "{text}");
    assert!(
        distributed.iter().all(|s| s.contains("'account_id'")),
        "{text}"
    );
    // Every account table but the first is colocated with it.
    assert_eq!(
        distributed
            .iter()
            .filter(|s| s.contains("colocate_with"))
            .count(),
        7,
        "{text}"
    );
}
