//! Interpreter lookup for the CPython interop tests: which CPython 3.11/3.12/3.13 this run uses
//! (printed, one line each), an explicit `MPSHARE_PYTHON_3_X` path is the only candidate for its
//! version, and `MPSHARE_REQUIRE_PYTHONS` turns a missing interpreter into a failure.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::wait_output;

#[test]
fn required_interpreters_are_present() {
    let mut line = Vec::new();
    for v in common::VERSIONS {
        match common::python(v) {
            Some(p) => line.push(format!("{v} = {}", p.display())),
            None => line.push(format!("{v} = (not found, skipped)")),
        }
    }
    println!(
        "CPython interpreters for this run: {} (required: {:?})",
        line.join(", "),
        common::required_versions()
    );
}

#[test]
fn an_explicit_path_that_does_not_run_is_missing() {
    let bogus = PathBuf::from("/nonexistent/mpshare-test/python3.12");
    assert_eq!(common::find_python_with("3.12", Some(bogus.clone())), None);
    // The explicit path is the only candidate: no fallback to PATH or pyenv.
    assert_eq!(common::candidates("3.12", Some(bogus.clone())), vec![bogus]);
}

#[test]
fn an_explicit_path_of_another_version_is_missing() {
    let Some(p311) = common::find_python("3.11") else {
        assert!(!common::is_required("3.11"), "3.11 required but missing");
        eprintln!("skipping: no CPython 3.11 to point at");
        return;
    };
    assert_eq!(common::version_of(&p311).as_deref(), Some("3.11"));
    assert_eq!(
        common::find_python_with("3.11", Some(p311.clone())),
        Some(p311.clone())
    );
    assert_eq!(common::find_python_with("3.12", Some(p311)), None);
}

/// The switch itself: this test binary, re-run with 3.12 required and pointed at a path that
/// does not exist, fails `required_interpreters_are_present` with a message naming the version
/// and the variable.
#[test]
fn a_required_interpreter_that_is_missing_fails_the_run() {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "required_interpreters_are_present",
            "--exact",
            "--nocapture",
        ])
        .env(common::REQUIRE_ENV, "3.11,3.12,3.13")
        .env(
            common::explicit_env("3.12"),
            "/nonexistent/mpshare-test/python3.12",
        )
        .env("MPSHARE_PYTHON_LEDGER", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, out, err) = wait_output(child, Duration::from_secs(120));
    assert!(!status.success(), "passed without 3.12:\n{out}\n{err}");
    let all = format!("{out}\n{err}");
    assert!(
        all.contains("CPython 3.12 is required")
            && all.contains("MPSHARE_PYTHON_3_12=/nonexistent/mpshare-test/python3.12"),
        "{all}"
    );
    // Not required: the same lookup skips (and says so) instead of failing.
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "required_interpreters_are_present",
            "--exact",
            "--nocapture",
        ])
        .env_remove(common::REQUIRE_ENV)
        .env(
            common::explicit_env("3.12"),
            "/nonexistent/mpshare-test/python3.12",
        )
        .env("MPSHARE_PYTHON_LEDGER", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, out, err) = wait_output(child, Duration::from_secs(120));
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("3.12 = (not found, skipped)"), "{out}");
    assert!(err.contains("skipping CPython 3.12"), "{err}");
}
