//! CPython's own manager tests (tests/py/cpython_conformance.py, as in
//! tests/cpython_conformance.rs) against `mpshare serve --store redis://…`: for every CPython
//! present (3.11, 3.12, 3.13, and 3.14 when installed), one throwaway redis-server and one
//! front-end on it, the interpreters in parallel. Nothing may fail. The script's own exclusions
//! apply, plus [`REDIS_EXCLUDED`] (passed in `MPSHARE_CONFORMANCE_EXCLUDE`); both are printed
//! with their reasons. The newest interpreter runs them against a three-node Redis Cluster too.

mod common;

use common::redis::{RedisCluster, RedisServer};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "mpshare-conformance-redis-key";

/// Tests that cannot pass against the Redis store, with the reason (`Class` or
/// `Class.test_method`, as the script's EXCLUDED). Empty: every test that runs against the
/// memory store runs here too.
const REDIS_EXCLUDED: &[(&str, &str)] = &[];

/// Each interpreter's run takes 10-20 s against the memory store; Redis round trips add to it.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// A test still running after this fails (MPSHARE_CONFORMANCE_TEST_TIMEOUT) and the run goes on,
/// so a hang names its test instead of killing the whole run.
const TEST_TIMEOUT_SECS: u32 = 30;

struct Outcome {
    version: String,
    summary: Option<String>,
    ok: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn exclusions() -> String {
    REDIS_EXCLUDED
        .iter()
        .map(|(name, why)| format!("{name}: {why}\n"))
        .collect()
}

fn run(version: String, python: PathBuf) -> Outcome {
    let Some(redis) = RedisServer::start(false) else {
        unreachable!("checked by the caller");
    };
    run_on(version, python, &redis.url())
}

fn run_on(version: String, python: PathBuf, store: &str) -> Outcome {
    let (_server, addr) =
        common::serve::serve_at(KEY, "127.0.0.1:0", &["--store", store, "--quiet"]);
    let t0 = Instant::now();
    let child = Command::new(&python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("py")
                .join("cpython_conformance.py"),
        )
        .arg("-v") // test names on stderr as they run: a killed run shows where it hung
        .env("MPSHARE_ADDR", &addr)
        .env("MPSHARE_KEY", KEY)
        .env("MPSHARE_CONFORMANCE_EXCLUDE", exclusions())
        .env(
            "MPSHARE_CONFORMANCE_TEST_TIMEOUT",
            TEST_TIMEOUT_SECS.to_string(),
        )
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let (status, stdout, mut stderr) = wait_bounded(child, RUN_LIMIT);
    if status.is_none() {
        stderr.push_str(&format!("\n[killed after {RUN_LIMIT:?}]"));
    }
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("CONFORMANCE"))
        .map(str::to_string);
    Outcome {
        version,
        summary,
        ok: status == Some(true),
        stdout,
        stderr,
        elapsed: t0.elapsed(),
    }
}

/// Waits for `child` at most `limit` (killing it after; `None` then), draining its pipes on
/// threads; returns (exited successfully, stdout, stderr).
fn wait_bounded(mut child: std::process::Child, limit: Duration) -> (Option<bool>, String, String) {
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
            Ok(Some(s)) => break Some(s.success()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    (
        status,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

fn field(summary: &str, name: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {summary:?}"))
}

#[test]
fn cpython_manager_tests_pass_against_the_redis_store() {
    // Probe once on this thread: a missing redis-server is a printed skip (or, under
    // MPSHARE_REQUIRE_REDIS=1, a failure) before any interpreter starts.
    if RedisServer::start(false).is_none() {
        return;
    }
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
    check(&outcomes, "the redis store");
}

/// The same tests, one interpreter (the newest present), against a three-node Redis Cluster.
#[test]
fn cpython_manager_tests_pass_against_a_redis_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    let Some((version, python)) = common::pythons().into_iter().last() else {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    };
    let outcome = run_on(version, python, &cluster.urls());
    check(&[outcome], "a redis cluster");
}

/// Prints every outcome and fails the test if any run failed.
fn check(outcomes: &[Outcome], store: &str) {
    let mut failures = Vec::new();
    let mut exclusions_printed = false;
    for o in outcomes {
        match &o.summary {
            Some(s) if s.starts_with("CONFORMANCE-UNAVAILABLE") => {
                eprintln!("CPython {}: {s} (skipped)", o.version);
                continue;
            }
            Some(s) => {
                eprintln!("CPython {} ({store}): {s} ({:.1?})", o.version, o.elapsed);
                let (failed, errors, passed) =
                    (field(s, "failed"), field(s, "errors"), field(s, "passed"));
                // About 60 runnable tests; far fewer means the classes were not found.
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
            "--- CPython {} failed against {store}\n{}\n--- stderr (tail)\n{}",
            o.version,
            bad.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(
        failures.is_empty(),
        "CPython's manager tests failed against mpshare serve --store ({store}) under {:?}",
        failures.iter().map(|o| &o.version).collect::<Vec<_>>()
    );
}
