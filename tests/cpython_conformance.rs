//! CPython's own manager tests against `mpshare serve`: for every CPython present (3.11, 3.12,
//! 3.13, and 3.14 when installed), `tests/py/cpython_conformance.py` loads the interpreter's
//! `test._test_multiprocessing`, builds the `WithManagerTest*` classes and
//! `TestSyncManagerTypes` exactly as CPython's `test_multiprocessing_fork` does, and points
//! their manager at a fresh `mpshare serve` (the real binary, one server per interpreter, the
//! interpreters in parallel). Nothing may fail; the tests it excludes, and why, are listed in the
//! script and printed here.

mod common;

use common::serve::Serve;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "mpshare-conformance-key";

fn serve() -> (Serve, String) {
    common::serve::serve(KEY, &[])
}
/// Each interpreter's run takes 10-20 s on an idle machine.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Waits for `child` at most `limit`, killing it after; returns (success, stdout, stderr). The
/// pipes are drained on threads so a chatty child never blocks on a full pipe.
fn wait_bounded(mut child: Child, limit: Duration) -> (bool, String, String) {
    use std::io::Read;
    let mut o = child.stdout.take().expect("stdout");
    let mut e = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = o.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = e.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = out.join().unwrap_or_default();
    let mut err = err.join().unwrap_or_default();
    if status.is_none() {
        err.push_str(&format!("\n[killed after {limit:?}]"));
    }
    (status.is_some_and(|s| s.success()), out, err)
}

struct Outcome {
    version: String,
    summary: Option<String>,
    ok: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn run(version: String, python: PathBuf) -> Outcome {
    let (_server, addr) = serve();
    let t0 = Instant::now();
    let child = Command::new(&python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("py")
                .join("cpython_conformance.py"),
        )
        .env("MPSHARE_ADDR", &addr)
        .env("MPSHARE_KEY", KEY)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let (ok, stdout, stderr) = wait_bounded(child, RUN_LIMIT);
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

#[test]
fn cpython_manager_tests_pass_against_mpshare_serve() {
    let mut pythons = common::pythons();
    if let Some(p) = common::find_python("3.14") {
        pythons.push(("3.14".to_string(), p));
    }
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.14 found");
        return;
    }
    let runs: Vec<_> = pythons
        .into_iter()
        .map(|(v, p)| std::thread::spawn(move || run(v, p)))
        .collect();
    let outcomes: Vec<Outcome> = runs.into_iter().map(|h| h.join().unwrap()).collect();
    let mut failures = Vec::new();
    let mut exclusions_printed = false;
    for o in &outcomes {
        match &o.summary {
            Some(s) if s.starts_with("CONFORMANCE-UNAVAILABLE") => {
                eprintln!("CPython {}: {s} (skipped)", o.version);
                continue;
            }
            Some(s) => {
                eprintln!("CPython {}: {s} ({:.1?})", o.version, o.elapsed);
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
        eprintln!(
            "--- CPython {} failed\n{}\n--- stderr (tail)\n{}",
            o.version,
            bad.join("\n"),
            o.stderr
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        failures.is_empty(),
        "CPython's manager tests failed against mpshare serve under {:?}",
        failures.iter().map(|o| &o.version).collect::<Vec<_>>()
    );
}
