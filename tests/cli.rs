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
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("AURRA_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("spawn script (util-linux)");
    assert!(tty.status.success(), "{tty:?}");
    let shown = String::from_utf8_lossy(&tty.stdout);
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
