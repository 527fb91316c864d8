//! The hot paths' cost in instructions, not times: `examples/hot_paths.rs` (release build)
//! runs one case per process under `valgrind --tool=callgrind`, counting only the call that
//! performs the case's operations, and each count per operation is compared with the
//! committed baseline below. A change that costs more than the tolerance fails with the
//! figures; one that costs clearly less fails too, asking for the baseline to be lowered, so
//! that a gain is locked in. Changing [`BASELINE`] is a deliberate, reviewed commit: say in
//! its message what moved and why (a new rustc moves every figure a little: say so too).
//!
//! Instruction counts do not depend on the machine's load. They depend on the code, the
//! compiler and the random bits of the ids (the order of equal scores, the trees' layout):
//! most runs of a case agree within 0.6%, but the search case at one commit gave +0.65%,
//! +0.76%, +0.98% and +2.23% over the baseline in four runs. So a figure outside the
//! tolerance is measured twice more and the median of the three is what is compared.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// How far a figure may move either way before the gate fails.
const TOLERANCE: f64 = 0.02;

/// Instructions per operation at the commit that last changed them (rustc 1.95.0,
/// valgrind 3.19): `(case, operations in the counted call, instructions per operation)`.
/// The fixture is 2 000 facts in two tenants with a history of supersessions (see the
/// example); lists return 20 rows of one tenant. `list_page_deep` is the page after a cursor
/// three quarters down the tenant's list: it costs what a first page of that part of the
/// history costs (a fifth of those rows are superseded, so more are read and skipped than
/// at the top), not the rows above the cursor.
const BASELINE: &[(&str, u64, f64)] = &[
    ("write", 20, 664_109.0),
    ("batch_100", 1, 25_518_314.0),
    ("supersede", 20, 590_313.0),
    ("get", 20, 17_955.0),
    ("list_current", 20, 216_839.0),
    ("list_page_deep", 20, 265_174.0),
    ("list_as_of", 20, 249_125.0),
    ("list_tx_as_of", 20, 228_523.0),
    ("list_bitemporal", 20, 268_760.0),
    ("search", 20, 2_216_585.0),
    ("timeline", 20, 163_138.0),
];

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the example in release mode and returns its path.
fn build_example() -> PathBuf {
    let output = cargo()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--release",
            "--no-default-features",
            "--example",
            "hot_paths",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "building the hot_paths example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "hot_paths")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the hot_paths executable")
}

/// The instructions callgrind counted inside `measured` for one case.
fn count(example: &PathBuf, case: &str, out_dir: &std::path::Path) -> u64 {
    let out = out_dir.join(format!("callgrind.{case}.out"));
    let run = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=*hot_paths::measured*",
        ])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(example)
        .arg(case)
        .output()
        .expect("run valgrind");
    assert!(
        run.status.success(),
        "case {case} failed under valgrind:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let profile = std::fs::read_to_string(&out).expect("read the callgrind output");
    let total = profile
        .lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("callgrind writes a totals line");
    assert!(
        total > 0,
        "case {case}: nothing was counted (does `measured` still exist, not inlined?)"
    );
    total
}

#[test]
fn hot_paths_cost_what_the_baseline_says() {
    let version = Command::new("valgrind").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|v| v.status.success()),
        "valgrind is required (scripts/test installs it): {version:?}"
    );
    let example = build_example();

    // The example and the gate agree on the cases.
    let listed = Command::new(&example)
        .arg("--list")
        .output()
        .expect("list the cases");
    let listed = String::from_utf8_lossy(&listed.stdout);
    let cases: Vec<&str> = BASELINE.iter().map(|(case, _, _)| *case).collect();
    assert_eq!(listed.lines().collect::<Vec<_>>(), cases);

    let out_dir = tempfile::tempdir().expect("a directory for callgrind's output");
    // Two cases at a time (the machine has two cores); each is one process.
    let queue = Mutex::new(BASELINE.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some(&(case, ops, expected)) = queue.lock().unwrap().next() else {
                        break;
                    };
                    let measure = || count(&example, case, out_dir.path()) as f64 / ops as f64;
                    let mut per_op = measure();
                    // A figure outside the tolerance is measured twice more and the median
                    // of the three compared: the ids' random bits move a run now and then,
                    // a change in the code moves all three.
                    if (per_op / expected - 1.0).abs() > TOLERANCE {
                        let mut three = [per_op, measure(), measure()];
                        three.sort_by(f64::total_cmp);
                        per_op = three[1];
                    }
                    results.lock().unwrap().push((case, ops, expected, per_op));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(case, ..)| cases.iter().position(|c| c == case));

    let mut report = String::new();
    let mut failed = false;
    for &(case, _, expected, measured) in &results {
        let ratio = measured / expected;
        let verdict = if ratio > 1.0 + TOLERANCE {
            failed = true;
            "costs more than the baseline"
        } else if ratio < 1.0 - TOLERANCE {
            failed = true;
            "costs less: lower the baseline"
        } else {
            "ok"
        };
        report.push_str(&format!(
            "{case:>16}: {measured:>12.0} instructions/op, baseline {expected:>12.0} \
             ({:+.2}%)  {verdict}\n",
            (ratio - 1.0) * 100.0
        ));
    }
    println!("{report}");
    assert!(
        !failed,
        "instruction counts moved more than {:.0}% from the baseline:\n{report}\n\
         new baseline, if the change is intended:\n{}",
        TOLERANCE * 100.0,
        results
            .iter()
            .map(|(case, ops, _, m)| format!("    (\"{case}\", {ops}, {m:.0}.0),"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
