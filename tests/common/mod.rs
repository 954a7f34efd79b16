//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "manager")]
pub mod conformance;
pub mod fork;
pub mod redis;
#[cfg(feature = "manager")]
pub mod serve;
#[cfg(feature = "manager")]
pub mod values;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The CPython versions the interop tests run against.
pub const VERSIONS: [&str; 3] = ["3.11", "3.12", "3.13"];

/// Comma-separated versions that must be present (`.ci/run` sets `3.11,3.12,3.13`): a missing
/// one fails the test that wanted it instead of skipping.
pub const REQUIRE_ENV: &str = "MPSHARE_REQUIRE_PYTHONS";

/// `MPSHARE_PYTHON_3_12` and so on: an explicit interpreter for one version. When set, it is
/// the only candidate for that version (a wrong path is a missing interpreter, never a silent
/// fallback to another one).
pub fn explicit_env(version: &str) -> String {
    format!("MPSHARE_PYTHON_{}", version.replace('.', "_"))
}

/// The versions `MPSHARE_REQUIRE_PYTHONS` names.
pub fn required_versions() -> Vec<String> {
    std::env::var(REQUIRE_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// True if `version` must be present.
pub fn is_required(version: &str) -> bool {
    required_versions().iter().any(|v| v == version)
}

/// `major.minor` printed by the interpreter at `path`, if it runs (bounded: 30 s).
pub fn version_of(path: &Path) -> Option<String> {
    let mut child = Command::new(path)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The candidates for `version`, in order: the explicit path alone if `explicit` is given;
/// otherwise `pythonX.Y` on PATH, `python3`, then pyenv installs under `$PYENV_ROOT/versions`
/// (or `~/.pyenv/versions`).
pub fn candidates(version: &str, explicit: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p];
    }
    let mut out: Vec<PathBuf> = vec![
        PathBuf::from(format!("python{version}")),
        PathBuf::from("python3"),
    ];
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = root {
        if let Ok(rd) = std::fs::read_dir(root.join("versions")) {
            let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            dirs.sort();
            for d in dirs {
                let name = d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name == version || name.starts_with(&format!("{version}.")) {
                    out.push(d.join("bin").join(format!("python{version}")));
                }
            }
        }
    }
    out
}

/// The first candidate that runs and reports `version`.
pub fn find_python_with(version: &str, explicit: Option<PathBuf>) -> Option<PathBuf> {
    candidates(version, explicit)
        .into_iter()
        .find(|p| version_of(p).as_deref() == Some(version))
}

/// Finds a CPython interpreter for `version` ("3.11", "3.12", "3.13"), honouring
/// `MPSHARE_PYTHON_3_12`-style overrides. Does not record or enforce anything.
pub fn find_python(version: &str) -> Option<PathBuf> {
    find_python_with(
        version,
        std::env::var_os(explicit_env(version)).map(PathBuf::from),
    )
}

/// Where interop tests record which interpreters they used, one line each (`ran|skipped|missing
/// <version> <test>`): `$MPSHARE_PYTHON_LEDGER`, else `target/tmp/mpshare-pythons.log`.
/// `.ci/run` clears it before the suite and prints a summary after it.
pub fn ledger_path() -> PathBuf {
    std::env::var_os("MPSHARE_PYTHON_LEDGER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mpshare-pythons.log"))
}

/// The running test's name (the harness names each test thread after its test).
fn test_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let exe = exe
        .rsplit_once('-')
        .map(|(a, _)| a)
        .unwrap_or(&exe)
        .to_string();
    let thread = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    format!("{exe}::{thread}")
}

fn record(what: &str, version: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ledger_path())
    {
        let _ = writeln!(f, "{what} {version} {}", test_name());
    }
}

/// The interpreter for `version`, for a test that needs exactly that version. Missing: panics
/// with a clear message if the version is required (`MPSHARE_REQUIRE_PYTHONS`), else prints a
/// skip line, records the skip and returns `None`.
pub fn python(version: &str) -> Option<PathBuf> {
    let explicit = std::env::var_os(explicit_env(version)).map(PathBuf::from);
    match find_python_with(version, explicit.clone()) {
        Some(p) => {
            record("ran", version);
            Some(p)
        }
        None => {
            let looked = match &explicit {
                Some(p) => format!(
                    "{}={} (does not run as python {version})",
                    explicit_env(version),
                    p.display()
                ),
                None => format!(
                    "python{version} on PATH, python3, and pyenv installs (set {} to point at one)",
                    explicit_env(version)
                ),
            };
            if is_required(version) {
                record("missing", version);
                panic!(
                    "CPython {version} is required ({REQUIRE_ENV}={}) but was not found; looked at: {looked}",
                    std::env::var(REQUIRE_ENV).unwrap_or_default()
                );
            }
            record("skipped", version);
            eprintln!("skipping CPython {version}: not found; looked at: {looked}");
            None
        }
    }
}

/// Every CPython of 3.11, 3.12 and 3.13 that is present, with its version (see [`python`]: a
/// required one that is missing panics; others are skipped with a printed, recorded line).
pub fn pythons() -> Vec<(String, PathBuf)> {
    VERSIONS
        .iter()
        .filter_map(|v| python(v).map(|p| (v.to_string(), p)))
        .collect()
}

/// The first present CPython, for tests that need one interpreter of any version.
pub fn any_python() -> Option<(String, PathBuf)> {
    for v in VERSIONS {
        if let Some(p) = find_python(v) {
            record("ran", v);
            return Some((v.to_string(), p));
        }
    }
    for v in VERSIONS {
        if is_required(v) {
            python(v); // panics with the message
        }
    }
    eprintln!("skipping the CPython part: no CPython 3.11-3.13 found");
    record("skipped", "any");
    None
}

/// Runs `f` on its own thread and fails the test if it has not finished within `limit`
/// (a hang becomes a failure; the stuck thread is left behind and dies with the test binary).
/// A panic in `f` is re-raised.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = std::thread::current().name().map(str::to_string);
    let h = std::thread::Builder::new()
        .name(name.unwrap_or_else(|| "within".into()))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => {
            let _ = h.join();
            v
        }
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("did not finish within {limit:?} (hung?)"),
    }
}

/// Waits for `child` at most `limit`, killing it after; returns (success, stdout, stderr). The
/// pipes are drained on threads so a chatty child never blocks on a full pipe. Unlike
/// [`wait_output`], an overrun is an outcome (`false`, noted in stderr), not a panic.
pub fn wait_bounded(mut child: std::process::Child, limit: Duration) -> (bool, String, String) {
    use std::io::Read;
    // A pipe the caller already took (to read a first line, say) is simply not collected.
    let mut o = child.stdout.take();
    let mut e = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = o.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = e.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
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

/// Waits (bounded) for `child`, whose stdout and stderr are piped, and returns its status and
/// output; a child still running at `limit` is killed and the test fails.
pub fn wait_output(
    mut child: std::process::Child,
    limit: Duration,
) -> (std::process::ExitStatus, String, String) {
    use std::io::Read;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child process did not finish within {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    (status, to.join().unwrap(), te.join().unwrap())
}
