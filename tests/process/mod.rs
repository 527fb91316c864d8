//! `aurra serve` as a child process: started with stdout piped (stderr discarded), read up to
//! the line that says it listens, and drained from then on so that it never blocks on it.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A started server: the child, what it printed up to and including its listening line, and
/// its base URL (`http://127.0.0.1:PORT`).
pub struct Started {
    pub child: Child,
    pub lines: Vec<String>,
    pub url: String,
}

/// `aurra serve` on `data_dir`, on a free loopback port, logging warnings only, with the
/// environment's `AURRA_DATA_DIR`, `AURRA_BIND` and `AURRA_METRICS_BIND` removed. Add flags,
/// then [`start`] it.
pub fn serve(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurra"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("AURRA_DATA_DIR")
        .env_remove("AURRA_BIND")
        .env_remove("AURRA_METRICS_BIND")
        .env("AURRA_LOG", "warn");
    cmd
}

/// Spawns `cmd` (an `aurra serve …` command) and waits for it to listen. Panics with its exit
/// status and output when it exits first.
pub fn start(cmd: &mut Command) -> Started {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aurra serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.expect("stdout line");
        let url = line
            .strip_prefix("aurra listening on ")
            .map(|u| u.trim().to_owned());
        lines.push(line);
        if let Some(url) = url {
            std::thread::spawn(move || stdout.count());
            return Started { child, lines, url };
        }
    }
    let status = child.wait().expect("wait");
    panic!("server exited ({status:?}) before listening: {lines:?}");
}

/// A client that returns every status as a response, with a 30 s bound on each call.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// The metrics URL a server printed (`--metrics-bind`), if it did.
pub fn metrics_url(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        line.strip_prefix("aurra metrics on ")
            .map(|u| u.trim().to_owned())
    })
}

/// One scrape of `url`: every sample, keyed by its name and labels as printed
/// (`aurra_commits_total{outcome="committed"}`). Panics unless it is a 200 in the
/// OpenMetrics text format, ending with `# EOF`.
pub fn scrape(url: &str) -> std::collections::HashMap<String, f64> {
    let mut resp = ureq::get(url).call().expect("scrape");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.body_mut().read_to_string().expect("body");
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("sample line");
            (name.to_owned(), value.parse().expect("sample value"))
        })
        .collect()
}
