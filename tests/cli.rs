//! The `aurra` binary: first start creates and prints one key, later starts never print a key;
//! `keys create|list|revoke`; SIGTERM stops the server cleanly.

mod fakes;
mod process;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn aurra() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurra"));
    cmd.env_remove("AURRA_DATA_DIR")
        .env_remove("AURRA_BIND")
        .env_remove("AURRA_EMBED_BASE_URL")
        .env_remove("AURRA_EMBED_MODEL")
        .env_remove("AURRA_EMBED_API_KEY")
        .env_remove("AURRA_EMBED_API_KEY_FILE")
        .env_remove("AURRA_LLM_PROVIDER")
        .env_remove("AURRA_LLM_API_KEY")
        .env_remove("AURRA_LLM_API_KEY_FILE")
        .env("AURRA_LOG", "warn");
    cmd
}

/// Starts `aurra serve` and returns the child and the stdout lines up to the listening line.
fn serve(data_dir: &std::path::Path) -> (Child, Vec<String>) {
    serve_with(data_dir, aurra())
}

fn serve_with(data_dir: &std::path::Path, mut cmd: Command) -> (Child, Vec<String>) {
    let started = process::start(
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir),
    );
    (started.child, started.lines)
}

/// POSTs the JSON `body` to `url` with `key` as the bearer token; any status comes back as a
/// response, not an error.
fn post_json(url: &str, key: &str, body: &str) -> ureq::http::Response<ureq::Body> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(body)
        .expect("POST")
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "server exit status {exit:?}");
}

/// The first start's key, from the owner-only file the server writes when its stdout is
/// not a terminal (as here, piped).
fn first_key(data_dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("first-api-key")).expect("first-api-key");
    text.trim().to_owned()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_first_start_writes_one_key_to_an_owner_only_file_and_later_starts_none() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("new").join("data");
    let (child, first) = serve(&dir);
    stop(child);
    let text = first.join("\n");
    // stdout is a pipe (a service manager's log, say): the key is not on it.
    assert!(!text.contains("aurra_"), "{text}");
    let secret = first_key(&dir);
    assert!(secret.starts_with("aurra_"), "{secret}");
    let file = dir.join("first-api-key");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("curl") && text.contains("/agent/memories"));
    assert!(text.contains("base_url="));
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.join("aurra.redb")), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(dir.parent().unwrap()), 0o700);
    }

    // The operator credential likewise, in a file of its own.
    let token_file = dir.join("operator-token");
    let token = std::fs::read_to_string(&token_file).expect("operator-token");
    assert!(token.trim().starts_with("aurra_operator_"), "{token}");
    assert!(text.contains(&token_file.display().to_string()), "{text}");
    #[cfg(unix)]
    assert_eq!(mode(&token_file), 0o600);

    std::fs::remove_file(&file).expect("remove the key file");
    std::fs::remove_file(&token_file).expect("remove the token file");
    let (child, second) = serve(&dir);
    stop(child);
    assert!(!second.join("\n").contains("aurra_"), "{second:?}");
    assert!(!file.exists(), "a later start writes no key");
    assert!(
        !token_file.exists(),
        "a later start writes no operator credential"
    );

    let list = aurra()
        .args(["keys", "list", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("keys list");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(
        text.contains("default") && text.contains(&secret[..14]),
        "{text}"
    );
    assert!(
        !text.contains(&secret),
        "a listing must never show a secret: {text}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`) the banner shows the key, as a
/// person starting the server expects, and no key file is written.
#[cfg(unix)]
#[test]
fn on_a_terminal_the_first_start_shows_the_key_and_writes_no_file() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "{} serve --bind 127.0.0.1:0 --data-dir {}",
        env!("CARGO_BIN_EXE_aurra"),
        dir.path().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("AURRA_LOG", "warn")
        .env_remove("AURRA_DATA_DIR")
        .env_remove("AURRA_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn script (util-linux)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line").trim_end().to_owned();
        let done = line.starts_with("aurra listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status()
        .expect("kill");
    assert!(status.success());
    child.wait().expect("wait");
    let text = lines.join("\n");
    assert!(
        text.contains("aurra listening on"),
        "the server never listened: {text}"
    );
    let shown: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("aurra_"))
        .collect();
    // The first key and the operator credential, once each.
    assert_eq!(shown.len(), 2, "{text}");
    assert_eq!(
        shown
            .iter()
            .filter(|l| l.starts_with("aurra_operator_"))
            .count(),
        1,
        "{text}"
    );
    assert!(!dir.path().join("first-api-key").exists());
    assert!(!dir.path().join("operator-token").exists());
}

#[test]
fn keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = aurra()
        .args([
            "keys",
            "create",
            "--account",
            "acme",
            "--label",
            "ci",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("keys create");
    assert!(created.status.success());
    let stdout = String::from_utf8(created.stdout).expect("utf-8");
    let secret = stdout.lines().next().expect("secret line").to_owned();
    assert!(
        secret.starts_with("aurra_") && secret.len() >= 6 + 32,
        "{secret}"
    );

    let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
    let key = store
        .authenticate(&secret)
        .expect("auth")
        .expect("a live key");
    assert_eq!((key.account.as_str(), key.label.as_str()), ("acme", "ci"));
    drop(store);

    // While the store is closed, revoke it by id.
    let revoked = aurra()
        .args(["keys", "revoke", "--data-dir"])
        .arg(dir.path())
        .arg(key.id.to_string())
        .output()
        .expect("keys revoke");
    assert!(revoked.status.success(), "{revoked:?}");
    let list = aurra()
        .args(["keys", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("keys list");
    assert!(String::from_utf8_lossy(&list.stdout).contains("revoked"));
    let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
    assert_eq!(store.authenticate(&secret).expect("auth"), None);
    drop(store);

    let unknown = aurra()
        .args(["keys", "revoke", "--data-dir"])
        .arg(dir.path())
        .arg("00000000-0000-7000-8000-000000000000")
        .output()
        .expect("keys revoke");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no API key"));
}

/// `aurra keys … --server URL` manages keys while the server holds the file, through its
/// admin API with the operator credential from the environment; `aurra operator reset`
/// (server stopped) replaces a lost credential.
#[test]
fn keys_are_managed_through_a_running_server_with_the_operator_credential() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, lines) = serve(dir.path());
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("aurra listening on "))
        .expect("the listening line")
        .to_owned();
    let token = std::fs::read_to_string(dir.path().join("operator-token")).expect("token");
    let token = token.trim();
    let keys = |args: &[&str], token: Option<&str>| {
        let mut cmd = aurra();
        cmd.arg("keys").args(args).args(["--server", &url]);
        match token {
            Some(t) => cmd.env("AURRA_OPERATOR_TOKEN", t),
            None => cmd.env_remove("AURRA_OPERATOR_TOKEN"),
        };
        cmd.output().expect("aurra keys")
    };
    let created = keys(
        &["create", "--account", "acme", "--label", "live"],
        Some(token),
    );
    assert!(created.status.success(), "{created:?}");
    let secret = String::from_utf8(created.stdout).expect("utf-8");
    let secret = secret.lines().next().expect("the secret").to_owned();
    assert!(secret.starts_with("aurra_"), "{secret}");
    // Usable at once, on the server that issued it.
    let write = post_json(
        &format!("{url}/agent/memories"),
        &secret,
        r#"{"content": "issued while serving"}"#,
    );
    assert_eq!(write.status(), 200);

    let listed = keys(&["list"], Some(token));
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        text.contains("live") && text.contains(&secret[..14]),
        "{text}"
    );
    assert!(!text.contains(&secret), "{text}");
    let id = text
        .lines()
        .find(|l| l.contains("live"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the key's row")
        .to_owned();
    let revoked = keys(&["revoke", &id], Some(token));
    assert!(revoked.status.success(), "{revoked:?}");
    let refused = post_json(
        &format!("{url}/agent/memories"),
        &secret,
        r#"{"content": "after revocation"}"#,
    );
    assert_eq!(refused.status(), 401);

    // Without the credential, or with a wrong one: a clear error, nothing done.
    let missing = keys(&["list"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("AURRA_OPERATOR_TOKEN"));
    let wrong = keys(&["list"], Some("aurra_operator_0000"));
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("401") && err.contains("Invalid operator credential"),
        "{err}"
    );
    assert!(
        !err.contains("aurra_operator_0000"),
        "the token is never echoed: {err}"
    );
    stop(child);

    // A lost credential: reset with the server stopped; the old one no longer works.
    let reset = aurra()
        .args(["operator", "reset", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("operator reset");
    assert!(reset.status.success(), "{reset:?}");
    let fresh = String::from_utf8(reset.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(
        fresh.starts_with("aurra_operator_") && fresh != token,
        "{fresh}"
    );
    let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
    assert!(store.authenticate_operator(&fresh).expect("check"));
    assert!(!store.authenticate_operator(token).expect("check"));
}

#[test]
fn a_running_server_keeps_key_management_out_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, _) = serve(dir.path());
    let blocked = aurra()
        .args(["keys", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("keys list");
    stop(child);
    assert!(!blocked.status.success());
    let err = String::from_utf8_lossy(&blocked.stderr);
    assert!(err.contains("stop it first"), "{err}");
}

#[test]
fn embeddings_flags_make_queries_hybrid_and_the_key_stays_secret() {
    let fake = fakes::embeddings::FakeEmbeddings::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // Configured through the environment (`serve_with` adds the subcommand and its flags).
    let mut cmd = aurra();
    cmd.env("AURRA_EMBED_API_KEY", "sk-embed-secret")
        .env("AURRA_EMBED_BASE_URL", fake.base_url())
        .env("AURRA_EMBED_MODEL", "fake-embed");
    let (child, lines) = serve_with(dir.path(), cmd);
    let key = first_key(dir.path());
    let addr = lines
        .last()
        .and_then(|l| l.strip_prefix("aurra listening on "))
        .expect("listening line")
        .to_owned();
    let write = post_json(
        &format!("{addr}/agent/memories"),
        &key,
        r#"{"content": "Alice bought an automobile"}"#,
    );
    assert_eq!(write.status(), 200);
    let mut query = post_json(
        &format!("{addr}/agent/query"),
        &key,
        r#"{"question": "which car?"}"#,
    );
    let body: serde_json::Value =
        serde_json::from_str(&query.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(body["search_type"], "hybrid");
    assert_eq!(
        body["citations"][0]["content"],
        "Alice bought an automobile"
    );
    let seen = fake.seen();
    assert_eq!(
        seen.len(),
        2,
        "one call for the write, one for the question"
    );
    assert!(seen.iter().all(|s| s.body["model"] == "fake-embed"));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer sk-embed-secret"))
    );
    stop(child);

    // --help never shows the key's value, and a base URL without a model is refused.
    let help = aurra()
        .env("AURRA_EMBED_API_KEY", "sk-embed-secret")
        .args(["serve", "--help"])
        .output()
        .expect("help");
    assert!(help.status.success());
    assert!(!String::from_utf8_lossy(&help.stdout).contains("sk-embed-secret"));
    let refused = aurra()
        .args(["serve", "--embed-base-url", "http://127.0.0.1:1/v1"])
        .output()
        .expect("refused");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--embed-model"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn aurra_embed_backfills_vectors_for_memories_written_without_them() {
    let fake = fakes::embeddings::FakeEmbeddings::start();
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("store");
        store
            .write("acme", aurra::NewMemory::new("Alice bought an automobile"))
            .expect("write");
    }
    let run = |with_flags: bool| {
        let mut cmd = aurra();
        cmd.arg("embed").arg("--data-dir").arg(dir.path());
        if with_flags {
            cmd.args([
                "--embed-base-url",
                &fake.base_url(),
                "--embed-model",
                "fake",
            ]);
        }
        cmd.output().expect("aurra embed")
    };
    let refused = run(false);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--embed-base-url"));
    let first = run(true);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "embedded 1 memories\n"
    );
    let again = run(true);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "embedded 0 memories\n"
    );
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn stats_shows_every_table_and_refuses_a_missing_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = aurra()
        .args(["stats", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra stats");
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no store at"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(
        !dir.path().join("aurra.redb").exists(),
        "stats must not create a store"
    );

    {
        let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
        for text in ["Alice works at Acme", "Bob works at Initech"] {
            store
                .write("acme", aurra::NewMemory::new(text))
                .expect("write");
        }
    }
    let table = aurra()
        .args(["stats", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra stats");
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    let rows: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("rows "))
        .unwrap_or_else(|| panic!("no rows line in:\n{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(rows[1], "2", "{text}");

    let json = aurra()
        .args(["stats", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra stats --json");
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["backend"], "redb");
    let rows = value["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == "rows")
        .expect("the rows table");
    assert_eq!(rows["entries"], 2);
    assert!(value["total_bytes"].as_u64().expect("file length") > 0);
}

#[test]
fn compact_shrinks_a_file_after_a_hard_delete_and_refuses_a_missing_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = aurra()
        .args(["compact", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra compact");
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no store at"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(!dir.path().join("aurra.redb").exists());

    let file = dir.path().join("aurra.redb");
    {
        let store = aurra::Store::open(&file).expect("open");
        let long = "with a long explanation attached ".repeat(20);
        let facts = (0..500)
            .map(|i| aurra::NewMemory::new(format!("Fact {i} {long}")).with_tenant("old"))
            .collect();
        store.write_batch("acme", facts).expect("write");
        store
            .write("acme", aurra::NewMemory::new("Alice works at Acme"))
            .expect("write");
        assert_eq!(
            store.delete_tenant("acme", Some("old")).expect("delete"),
            500
        );
    }
    let before = std::fs::metadata(&file).expect("file").len();
    let out = aurra()
        .args(["compact", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra compact");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" MiB -> "), "{text}");
    let after = std::fs::metadata(&file).expect("file").len();
    assert!(after < before, "{before} -> {after} bytes");
    let store = aurra::Store::open(&file).expect("reopen");
    let listed = store.list("acme", &aurra::ListQuery::new()).expect("list");
    assert_eq!(listed.memories.len(), 1);
    assert_eq!(listed.memories[0].decision, "Alice works at Acme");
}

#[test]
fn the_page_cache_size_is_checked_and_read_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
        store
            .write("acme", aurra::NewMemory::new("Alice works at Acme"))
            .expect("write");
    }
    let zero = aurra()
        .args(["stats", "--cache-size-mib", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra stats");
    assert!(!zero.status.success());
    let stderr = String::from_utf8_lossy(&zero.stderr);
    assert!(stderr.contains("--cache-size-mib"), "{stderr}");
    let small = aurra()
        .args(["stats", "--json", "--data-dir"])
        .arg(dir.path())
        .env("AURRA_CACHE_SIZE_MIB", "1")
        .output()
        .expect("run aurra stats");
    assert!(
        small.status.success(),
        "{}",
        String::from_utf8_lossy(&small.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&small.stdout).expect("JSON");
    assert_eq!(value["backend"], "redb");
}

/// Keys from files (`--llm-api-key-file`, `--embed-api-key-file`) keep them out of `ps`: the
/// providers receive the file's key, `--help` says why the flag form is worse, and a missing
/// or empty file is refused with its path named and nothing of its contents.
#[test]
fn provider_keys_are_read_from_files() {
    let llm = fakes::llm::FakeLlm::start();
    let embeddings = fakes::embeddings::FakeEmbeddings::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let llm_key = dir.path().join("llm.key");
    let embed_key = dir.path().join("embed.key");
    std::fs::write(&llm_key, "sk-from-a-file-0001\n").unwrap();
    std::fs::write(&embed_key, "  sk-embed-from-a-file\n\n").unwrap();
    let data = dir.path().join("data");
    let started = process::start(
        aurra()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(["--llm-provider", "openai", "--llm-model", "gpt-fake"])
            .arg("--llm-base-url")
            .arg(format!("{}/v1", llm.url()))
            .arg("--llm-api-key-file")
            .arg(&llm_key)
            .arg("--embed-base-url")
            .arg(embeddings.base_url())
            .args(["--embed-model", "fake-embed", "--embed-api-key-file"])
            .arg(&embed_key),
    );
    let (child, addr) = (started.child, started.url);
    let key = first_key(&data);
    let write = post_json(
        &format!("{addr}/agent/memories"),
        &key,
        r#"{"content": "Alice works at Acme"}"#,
    );
    assert_eq!(write.status(), 200);
    let query = post_json(
        &format!("{addr}/agent/query"),
        &key,
        r#"{"question": "Where does Alice work?"}"#,
    );
    assert_eq!(query.status(), 200);
    stop(child);
    let seen = llm.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk-from-a-file-0001")
    );
    assert!(!embeddings.seen().is_empty());
    assert!(
        embeddings
            .seen()
            .iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer sk-embed-from-a-file"))
    );

    let help = aurra().args(["serve", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--llm-api-key-file") && help.contains("--embed-api-key-file"));
    assert!(help.contains("visible to every local user"), "{help}");

    std::fs::write(&llm_key, "\n").unwrap();
    let missing = dir.path().join("no-such.key");
    for (file, says) in [(&llm_key, "is empty"), (&missing, "cannot read")] {
        let out = aurra()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(["--llm-provider", "openai", "--llm-model", "m"])
            .arg("--llm-api-key-file")
            .arg(file)
            .output()
            .expect("refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(says) && stderr.contains(&file.display().to_string()),
            "{stderr}"
        );
    }
    let both = aurra()
        .args(["serve", "--llm-provider", "openai", "--llm-model", "m"])
        .args(["--llm-api-key", "sk-x", "--llm-api-key-file"])
        .arg(&embed_key)
        .output()
        .expect("refused");
    assert!(!both.status.success());
    assert!(!String::from_utf8_lossy(&both.stderr).contains("sk-embed-from-a-file"));
}

/// `aurra export`: JSON Lines on stdout or into a file (renamed into place when complete),
/// the totals on stderr, a progress line only on a terminal; a missing store is refused.
#[test]
fn export_writes_json_lines_with_progress_only_on_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = aurra::Store::open(dir.path().join("aurra.redb")).expect("open");
        for i in 0..30 {
            store
                .write(
                    "acme",
                    aurra::NewMemory::new(format!("fact {i} about item{}", i * 7919)),
                )
                .expect("write");
        }
    }
    let out = aurra()
        .args(["export", "--account", "acme", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run aurra export");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 32, "header, 30 memories, totals");
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[31]["type"], "end");
    assert_eq!(lines[31]["memories"], 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exported 30 memories"), "{stderr}");
    assert!(
        !stderr.contains("memories exported ("),
        "no progress when piped: {stderr}"
    );

    let file = dir.path().join("acme.jsonl");
    let to_file = aurra()
        .args(["export", "--account", "acme", "-o"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run aurra export -o");
    assert!(to_file.status.success(), "{to_file:?}");
    assert!(to_file.stdout.is_empty());
    let written = std::fs::read_to_string(&file).expect("the file");
    assert_eq!(written.lines().count(), 32);
    assert!(!dir.path().join("acme.jsonl.partial").exists());

    // On a terminal: the progress line.
    let command = format!(
        "{} export --account acme -o {} --data-dir {}",
        env!("CARGO_BIN_EXE_aurra"),
        dir.path().join("tty.jsonl").display(),
        dir.path().display()
    );
    let shown = on_a_terminal(&command);
    assert!(shown.contains("memories exported ("), "{shown}");
    assert!(shown.contains("exported 30 memories"), "{shown}");

    let missing = aurra()
        .args(["export", "--data-dir"])
        .arg(dir.path().join("nowhere"))
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store at"));
}

/// Whether `text` shows the import's progress bar ("812 B/4.5 KiB", "1.2 KiB/4.5 KiB"):
/// bytes read of the file's size. The paths under `dir` are left out first: a temporary
/// directory's random name can hold "B/" too (".tmpwGBvdB/").
fn shows_byte_progress(text: &str, dir: &std::path::Path) -> bool {
    let text = text.replace(&dir.display().to_string(), "");
    text.contains(" B/") || text.contains("iB/")
}

/// Runs the shell `command` on a pseudo-terminal (util-linux `script`), which it must leave
/// with success; what the terminal showed.
fn on_a_terminal(command: &str) -> String {
    let tty = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env("AURRA_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("spawn script (util-linux)");
    assert!(tty.status.success(), "{tty:?}");
    String::from_utf8_lossy(&tty.stdout).into_owned()
}

/// Runs `aurra` with `args` and `stdin` (a file), returning the output.
fn run_with_stdin(args: &[&str], stdin: &std::path::Path) -> std::process::Output {
    aurra()
        .args(args)
        .stdin(std::fs::File::open(stdin).expect("the input file"))
        .output()
        .expect("run aurra")
}

/// `aurra import`: an export (from a file or stdin) loads into another store and exports
/// back the same; a rerun writes nothing twice; the totals on stderr, a progress bar only
/// on a terminal.
#[test]
fn import_loads_an_export_with_progress_only_on_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    {
        let store = aurra::Store::open({
            std::fs::create_dir(&source).expect("mkdir");
            source.join("aurra.redb")
        })
        .expect("open");
        for i in 0..30 {
            store
                .write(
                    "acme",
                    aurra::NewMemory::new(format!("fact {i} about item{}", i * 7919))
                        .with_tenant(if i % 2 == 0 { "even" } else { "odd" }),
                )
                .expect("write");
        }
        let id = |text: &str| {
            store
                .write("acme", aurra::NewMemory::new(text))
                .expect("write")
                .saved_id()
                .expect("saved")
        };
        let (lyon, paris) = (id("Alice lives in Lyon"), id("Alice lives in Paris"));
        store
            .supersede(
                "acme",
                lyon,
                aurra::Supersede {
                    superseded_by: Some(paris),
                    valid_to: None,
                },
                "test",
            )
            .expect("supersede");
    }
    let file = dir.path().join("acme.jsonl");
    let exported = aurra()
        .args(["export", "--account", "acme", "-o"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&source)
        .output()
        .expect("run aurra export");
    assert!(exported.status.success(), "{exported:?}");
    let export_of = |data: &std::path::Path| -> Vec<String> {
        let out = aurra()
            .args(["export", "--account", "acme", "--data-dir"])
            .arg(data)
            .output()
            .expect("run aurra export");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        // Without the header (its time is the export's).
        text.lines().skip(1).map(str::to_owned).collect()
    };

    let target = dir.path().join("target");
    let out = aurra()
        .args(["import", "-i"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&target)
        .output()
        .expect("run aurra import");
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("imported 32 memories"), "{stderr}");
    assert!(
        !shows_byte_progress(&stderr, dir.path()),
        "no progress when piped: {stderr}"
    );
    assert_eq!(export_of(&target), export_of(&source));

    // A rerun finds everything there.
    let again = run_with_stdin(
        &["import", "--data-dir", target.to_str().expect("utf-8")],
        &file,
    );
    assert!(again.status.success(), "{again:?}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("imported 0 memories") && stderr.contains("32 here already"),
        "{stderr}"
    );

    // From stdin into a third store.
    let third = dir.path().join("third");
    let piped = run_with_stdin(
        &[
            "import",
            "-i",
            "-",
            "--data-dir",
            third.to_str().expect("utf-8"),
        ],
        &file,
    );
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(export_of(&third), export_of(&source));

    // On a terminal: the progress bar (bytes read of the file's size).
    let command = format!(
        "{} import -i {} --data-dir {}",
        env!("CARGO_BIN_EXE_aurra"),
        file.display(),
        dir.path().join("tty").display()
    );
    let shown = on_a_terminal(&command);
    assert!(shows_byte_progress(&shown, dir.path()), "{shown}");
    assert!(shown.contains("imported 32 memories"), "{shown}");

    // A facts file given as an export is refused, naming the line, writing nothing.
    let facts = dir.path().join("facts.jsonl");
    std::fs::write(&facts, "{\"content\":\"a fact\"}\n").expect("write");
    let wrong = aurra()
        .args(["import", "-i"])
        .arg(&facts)
        .arg("--data-dir")
        .arg(dir.path().join("wrong"))
        .output()
        .expect("run");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("line 1") && stderr.contains("--facts"),
        "{stderr}"
    );
}

/// `aurra import --facts`: content-mode write bodies and Mem0 memories (a sample written
/// here, in the shape Mem0's `get_all` returns its items), through the write's validation
/// and duplicate rule; bad lines named by number, and either nothing written (abort, the
/// default) or the rest loaded (skip).
#[test]
fn facts_load_with_the_write_rules_and_the_mem0_mapping() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let good = [
        r#"{"content":"Alice moved to Lisbon","tenant_id":"alice","topic":"home","importance_score":8,"recorded_at":"2024-03-01T10:00:00Z"}"#,
        r#"{"content":"The office closes at six"}"#,
        r#"{"id":"0b6c6a2e-3f57-4b8e-9d0c-5f0f6b3c1a11","memory":"Prefers window seats","hash":"9f2c","metadata":{"category":"travel","importance":7},"categories":null,"created_at":"2024-07-20T01:23:45.123456-07:00","updated_at":"2024-08-01T09:00:00-07:00","user_id":"alice","agent_id":null,"run_id":"trip-7"}"#,
        r#"{"id":"5e1d9f3a-0c2b-4a7e-8f61-2d3c4b5a6978","memory":"Is allergic to peanuts","hash":"77aa","metadata":null,"categories":["health"],"created_at":"2024-05-02T08:00:00+00:00","updated_at":null,"user_id":"bob"}"#,
    ];
    let bad = [
        r#"{"content":"   ","tenant_id":"alice"}"#,
        r#"{"memory":"Likes jazz","user_id":42}"#,
        "not json",
    ];
    let mut lines: Vec<&str> = good.to_vec();
    lines.insert(1, "");
    lines.insert(3, bad[0]);
    lines.push(bad[1]);
    lines.push(bad[2]);
    // Lines: 1 good, 2 blank, 3 good, 4 bad, 5 good, 6 good, 7 bad, 8 bad.
    let file = dir.path().join("facts.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let data_arg = data.to_str().expect("utf-8");
    let file_arg = file.to_str().expect("utf-8");

    let count = |data: &std::path::Path| -> usize {
        let store = aurra::Store::open(data.join("aurra.redb")).expect("open");
        store
            .list(
                aurra::FIRST_ACCOUNT,
                &aurra::ListQuery::new()
                    .all_tenants()
                    .mode(aurra::ReadMode::History),
            )
            .expect("list")
            .memories
            .len()
    };

    // Abort (the default): every bad line named, nothing written.
    let aborted = aurra()
        .args(["import", "--facts", file_arg, "--data-dir", data_arg])
        .output()
        .expect("run");
    assert!(!aborted.status.success());
    let stderr = String::from_utf8_lossy(&aborted.stderr);
    assert!(
        stderr.contains("line 4: content must not be empty"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 7: user_id: str type expected"),
        "{stderr}"
    );
    assert!(stderr.contains("line 8: Malformed JSON body"), "{stderr}");
    assert!(
        stderr.contains("3 bad lines") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!data.join("aurra.redb").exists() || count(&data) == 0);
    // The same from stdin (kept aside while checked).
    let aborted = run_with_stdin(&["import", "--facts", "-", "--data-dir", data_arg], &file);
    assert!(!aborted.status.success());
    assert!(String::from_utf8_lossy(&aborted.stderr).contains("stdin: line 7:"));
    assert!(!data.join("aurra.redb").exists() || count(&data) == 0);

    // Skip: the good lines load, the bad ones are named.
    let skipped = aurra()
        .args([
            "import",
            "--facts",
            file_arg,
            "--on-error",
            "skip",
            "--data-dir",
            data_arg,
        ])
        .output()
        .expect("run");
    assert!(skipped.status.success(), "{skipped:?}");
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(
        stderr.contains("line 4: content must not be empty (skipped)"),
        "{stderr}"
    );
    assert!(stderr.contains("loaded 4 facts"), "{stderr}");
    assert!(
        stderr.contains("Mem0 memories: 2") && stderr.contains("bad lines skipped: 3"),
        "{stderr}"
    );
    {
        let store = aurra::Store::open(data.join("aurra.redb")).expect("open");
        let alice = store
            .list(
                aurra::FIRST_ACCOUNT,
                &aurra::ListQuery::new().tenant("alice"),
            )
            .expect("list")
            .memories;
        assert_eq!(alice.len(), 2);
        let lisbon = alice
            .iter()
            .find(|m| m.decision == "Alice moved to Lisbon")
            .expect("Lisbon");
        assert_eq!(
            (
                lisbon.topic.as_str(),
                lisbon.importance_score,
                lisbon.source.as_str()
            ),
            ("home", 8, "agent")
        );
        assert_eq!(
            lisbon.valid_from,
            aurra::Timestamp::parse("2024-03-01T10:00:00Z").expect("ts")
        );
        let seats = alice
            .iter()
            .find(|m| m.decision == "Prefers window seats")
            .expect("Mem0 line");
        assert_eq!(seats.source, "mem0");
        assert_eq!(seats.topic, "travel");
        assert_eq!(seats.importance_score, 7);
        assert_eq!(seats.session_id.as_deref(), Some("trip-7"));
        assert_eq!(
            seats.valid_from,
            aurra::Timestamp::parse("2024-08-01T16:00:00Z").expect("ts")
        );
        assert_eq!(
            seats.captured_at,
            aurra::Timestamp::parse("2024-07-20T08:23:45.123456Z").expect("ts")
        );
        let bob = store
            .list(aurra::FIRST_ACCOUNT, &aurra::ListQuery::new().tenant("bob"))
            .expect("list")
            .memories;
        assert_eq!(bob.len(), 1);
        assert_eq!(
            (bob[0].topic.as_str(), bob[0].valid_from),
            (
                "health",
                aurra::Timestamp::parse("2024-05-02T08:00:00Z").expect("ts")
            )
        );
        assert_eq!(
            store
                .usage(aurra::FIRST_ACCOUNT)
                .expect("usage")
                .writes_used,
            0
        );
    }

    // A rerun (from stdin) writes nothing twice: each fact is a duplicate of itself.
    let rerun = run_with_stdin(
        &[
            "import",
            "--facts",
            "-",
            "--on-error",
            "skip",
            "--data-dir",
            data_arg,
        ],
        &file,
    );
    assert!(rerun.status.success(), "{rerun:?}");
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        stderr.contains("loaded 0 facts") && stderr.contains("4 duplicates"),
        "{stderr}"
    );
    assert_eq!(count(&data), 4);

    // An account that does not exist is refused.
    let unknown = aurra()
        .args([
            "import",
            "--facts",
            file_arg,
            "--on-error",
            "skip",
            "--account",
            "nobody",
            "--data-dir",
            data_arg,
        ])
        .output()
        .expect("run");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account \"nobody\""));
}

/// `aurra eval extraction --locomo` with an embedder searches both the raw turns and the
/// facts hybrid: every turn and every fact is sent to the embeddings API. Without --locomo
/// the flag is refused (a labelled set is measured without a store).
#[test]
fn the_locomo_extraction_measure_can_search_hybrid() {
    let fake = fakes::embeddings::FakeEmbeddings::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("locomo.json");
    let locomo = serde_json::json!([{
        "sample_id": "conv-t",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1",
                 "text": "I went to a pottery class yesterday and made a bowl."},
                {"speaker": "Melanie", "dia_id": "D1:2",
                 "text": "I adopted a puppy named Luna last week."}
            ]
        },
        "qa": [{"question": "What did Melanie adopt?", "answer": "a puppy",
                "evidence": ["D1:2"], "category": 4}]
    }]);
    std::fs::write(&file, locomo.to_string()).unwrap();
    let eval = |locomo: bool| {
        let mut cmd = aurra();
        cmd.args(["eval", "extraction"]);
        if locomo {
            cmd.arg("--locomo");
        }
        cmd.arg(&file)
            .arg("--embed-base-url")
            .arg(fake.base_url())
            .args(["--embed-model", "fake-embed"])
            .output()
            .expect("eval")
    };
    let out = eval(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 questions"), "{stdout}");
    let sent: String = fake
        .seen()
        .iter()
        .map(|s| s.body["input"].to_string())
        .collect();
    // The raw turn and the fact made of it were both embedded.
    assert!(
        sent.contains("Melanie: I adopted a puppy named Luna"),
        "{sent}"
    );
    assert!(
        sent.contains("Melanie adopted a puppy named Luna"),
        "{sent}"
    );

    let refused = eval(false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("apply to --locomo"), "{stderr}");
}
