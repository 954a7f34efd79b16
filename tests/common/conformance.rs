//! Running CPython's own manager tests (`tests/py/cpython_conformance.py`) against a running
//! `mpshare serve`, one interpreter per call, and judging the outcomes; shared by
//! tests/cpython_conformance.rs (memory store) and tests/cpython_conformance_redis.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One interpreter's run.
pub struct Outcome {
    pub version: String,
    pub summary: Option<String>,
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs the script under `python` against the server at `addr` (authkey `key`), in a working
/// directory of its own (some tests make fixed names such as `tempcwd` in it), with `exclude`
/// (lines `NAME: reason`) added to the script's exclusions; killed after `limit`.
pub fn run(
    version: String,
    python: PathBuf,
    addr: &str,
    key: &str,
    exclude: &str,
    limit: Duration,
) -> Outcome {
    let cwd = std::env::temp_dir().join(format!(
        "mpshare-conformance-{}-{}-{version}",
        std::process::id(),
        addr.replace([':', '/', '.'], "_")
    ));
    let _ = std::fs::create_dir_all(&cwd);
    let t0 = Instant::now();
    let child = Command::new(&python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("py")
                .join("cpython_conformance.py"),
        )
        .env("MPSHARE_ADDR", addr)
        .env("MPSHARE_KEY", key)
        // Test names on stderr as they run, so a killed run shows where it stood.
        .arg("-v")
        .env("MPSHARE_CONFORMANCE_EXCLUDE", exclude)
        // A test (or class teardown) still running after this many seconds fails and the run
        // goes on, so a hang names its test; an inherited value wins.
        .env(
            "MPSHARE_CONFORMANCE_TEST_TIMEOUT",
            std::env::var("MPSHARE_CONFORMANCE_TEST_TIMEOUT").unwrap_or_else(|_| "60".into()),
        )
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let (ok, stdout, stderr) = super::wait_bounded(child, limit);
    let _ = std::fs::remove_dir_all(&cwd);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("CONFORMANCE"))
        .map(str::to_string);
    Outcome {
        version,
        summary,
        ok,
        stdout,
        stderr,
        elapsed: t0.elapsed(),
    }
}

fn field(summary: &str, name: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {summary:?}"))
}

/// The interpreters to run: 3.11-3.13 as found (ledger recorded) and 3.14 where installed.
pub fn interpreters() -> Vec<(String, PathBuf)> {
    let mut pythons = super::pythons();
    if let Some(p) = super::find_python("3.14") {
        pythons.push(("3.14".to_string(), p));
    }
    pythons
}

/// Prints every outcome (and the exclusions once) and fails unless every run passed with no
/// failure or error. `against` names the server in the messages.
pub fn judge(outcomes: &[Outcome], against: &str) {
    let mut failures = Vec::new();
    let mut exclusions_printed = false;
    for o in outcomes {
        match &o.summary {
            Some(s) if s.starts_with("CONFORMANCE-UNAVAILABLE") => {
                eprintln!("CPython {}: {s} (skipped)", o.version);
                continue;
            }
            Some(s) => {
                eprintln!("CPython {} ({against}): {s} ({:.1?})", o.version, o.elapsed);
                let (failed, errors, passed) =
                    (field(s, "failed"), field(s, "errors"), field(s, "passed"));
                // The manager classes hold about 60 runnable tests; far fewer means the
                // classes were not found, not that they passed.
                if !o.ok || failed != 0 || errors != 0 || passed < 40 {
                    failures.push(o);
                }
            }
            None => failures.push(o),
        }
        if !exclusions_printed {
            for l in o.stdout.lines().filter(|l| l.starts_with("EXCLUDED")) {
                eprintln!("  {l}");
            }
            exclusions_printed = true;
        }
    }
    for o in &failures {
        let bad: Vec<&str> = o
            .stdout
            .lines()
            .filter(|l| !l.starts_with("PASS") && !l.starts_with("EXCLUDED"))
            .collect();
        let tail: Vec<&str> = o.stderr.lines().rev().take(40).collect();
        eprintln!(
            "--- CPython {} failed against {against}\n{}\n--- stderr (tail)\n{}",
            o.version,
            bad.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(
        failures.is_empty(),
        "CPython's manager tests failed against {against} under {:?}",
        failures.iter().map(|o| &o.version).collect::<Vec<_>>()
    );
}
