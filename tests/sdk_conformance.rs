//! Runs the Python conformance suite (`tests/conformance/`, pytest) against the real `aurra`
//! binary: the official SDK `aurra==0.8.1` and `aurra-langchain==0.1.0`, unchanged, pointed
//! at a server with `base_url`.
//!
//! Needs Python 3 with `tests/conformance/requirements.txt` installed; `.ci/run` installs
//! them into a virtualenv and sets `AURRA_PYTHON`. Without them this test fails and says how
//! to install them: the suite is part of the test command, never silently skipped.

use std::path::Path;
use std::process::Command;

#[test]
fn the_official_python_sdk_works_against_the_server() {
    let python = std::env::var("AURRA_PYTHON").unwrap_or_else(|_| "python3".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = root.join("tests/conformance");
    let probe = Command::new(&python)
        .args([
            "-c",
            "import aurra, aurra_langchain, langchain_core, pytest",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the conformance suite needs its Python packages; install them with\n    \
             {python} -m pip install -r {}\n(or set AURRA_PYTHON to a Python that has them)\n{}",
            suite.join("requirements.txt").display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run {python:?} ({e}); set AURRA_PYTHON to a Python 3"),
    }
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no"])
        .arg(&suite)
        .env("AURRA_BIN", env!("CARGO_BIN_EXE_aurra"))
        .env("AURRA_LOG", "warn")
        .current_dir(root)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the SDK conformance suite failed:\n{stdout}"
    );
    assert!(stdout.contains("passed"), "pytest ran no test:\n{stdout}");
}
