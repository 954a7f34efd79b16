//! Manager parity with CPython, with real interpreters (3.11, 3.12, 3.13 when present) against
//! the real `mpshare serve` binary:
//!
//! * Python's documented remote-manager example (producer and consumer in separate processes)
//!   and a two-process dict + RLock program, verbatim, against `--object` and `--config`;
//! * shared objects survive clients that come and go.

mod common;

use common::serve::Serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const KEY: &str = "mpshare-parity-key";

fn serve(args: &[&str]) -> (Serve, String) {
    common::serve::serve(KEY, args)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("py")
        .join(name)
}

fn python_cmd(python: &Path, addr: &str, args: &[&str]) -> Command {
    let mut c = Command::new(python);
    c.args(args)
        .env("MPSHARE_ADDR", addr)
        .env("MPSHARE_KEY", KEY)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `remote_manager.py ARGS` and requires its last line to be OK.
fn role(version: &str, python: &Path, addr: &str, args: &[&str]) {
    let mut all = vec![script("remote_manager.py").to_string_lossy().into_owned()];
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let child = python_cmd(python, addr, &all)
        .spawn()
        .expect("start python");
    let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(60));
    assert!(
        ok && out.lines().last() == Some("OK"),
        "CPython {version} remote_manager.py {args:?} failed\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}

/// The documented producer/consumer pair, then two processes counting under the shared lock.
fn remote_manager_program(version: &str, python: &Path, addr: &str) {
    role(version, python, addr, &["producer"]);
    role(version, python, addr, &["consumer"]);
    let mut all = vec![script("remote_manager.py").to_string_lossy().into_owned()];
    all.extend(["counter".to_string(), "150".to_string()]);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let a = python_cmd(python, addr, &all)
        .spawn()
        .expect("start python");
    let b = python_cmd(python, addr, &all)
        .spawn()
        .expect("start python");
    for (ok, out, err) in [
        common::wait_bounded(a, Duration::from_secs(60)),
        common::wait_bounded(b, Duration::from_secs(60)),
    ] {
        assert!(
            ok && out.lines().last() == Some("OK"),
            "CPython {version} counter failed\n--- stdout\n{out}\n--- stderr\n{err}"
        );
    }
    // 300 increments, none lost: the two processes used the same dict and the same lock.
    role(version, python, addr, &["check", "300"]);
}

#[test]
fn documented_remote_manager_example_runs_against_object_flags() {
    for (version, python) in common::pythons() {
        let (_server, addr) = serve(&[
            "--object",
            "get_queue=Queue",
            "--object",
            "shared_dict=dict",
            "--object",
            "login_lock=RLock",
        ]);
        remote_manager_program(&version, &python, &addr);
    }
}

#[test]
fn documented_remote_manager_example_runs_against_a_config_file() {
    let Some((version, python)) = common::pythons().into_iter().last() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mpshare-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("serve.toml");
    std::fs::write(
        &file,
        "quiet = true\n[objects]\nget_queue = \"Queue\"\nshared_dict = \"dict\"\nlogin_lock = \"RLock\"\n",
    )
    .unwrap();
    let (_server, addr) = serve(&["--config", file.to_str().unwrap()]);
    remote_manager_program(&version, &python, &addr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_object_flags_and_config_files_are_refused_with_the_reason() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mpshare"))
            .args(["serve", "--address", "127.0.0.1:0"])
            .args(args)
            .env("MPSHARE_AUTHKEY", KEY)
            .stdin(Stdio::null())
            .output()
            .expect("run mpshare");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} must fail with status 2"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["--object", "get_queue"]);
    assert!(e.contains("expected NAME=TYPEID"), "{e}");
    let e = run(&["--object", "q=NoSuchType"]);
    assert!(e.contains("unknown typeid") && e.contains("Queue"), "{e}");
    let dir = std::env::temp_dir().join(format!("mpshare-parity-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("serve.toml");
    std::fs::write(&file, "adress = \"127.0.0.1:1\"\n").unwrap();
    let e = run(&["--config", file.to_str().unwrap()]);
    assert!(e.contains("serve.toml") && e.contains("adress"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `values_roundtrip.py` against `addr` (or, with `addr == None`, against CPython's own
/// manager server); returns its lines.
fn roundtrip_lines(version: &str, python: &Path, addr: Option<&str>) -> Vec<String> {
    let script = script("values_roundtrip.py").to_string_lossy().into_owned();
    let mut args = vec![script.as_str()];
    if addr.is_none() {
        args.push("--cpython");
    }
    let child = python_cmd(python, addr.unwrap_or(""), &args)
        .spawn()
        .expect("start python");
    let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(120));
    let who = addr.map_or("CPython's server", |_| "mpshare serve");
    assert!(
        ok && out.lines().last() == Some("OK"),
        "CPython {version} values_roundtrip.py against {who} failed\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn every_value_kind_round_trips_exactly_as_through_cpythons_own_server() {
    for (version, python) in common::pythons() {
        let (_server, addr) = serve(&[]);
        let ours = roundtrip_lines(&version, &python, Some(&addr));
        let theirs = roundtrip_lines(&version, &python, None);
        // About 100 lines: 20 value kinds × 5 paths, plus interpreted arguments.
        assert!(ours.len() > 100, "{ours:?}");
        let diff: Vec<String> = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  mpshare: {a}\n  CPython: {b}"))
            .collect();
        assert!(
            diff.is_empty() && ours.len() == theirs.len(),
            "CPython {version}: mpshare serve and CPython's server differ:\n{}",
            diff.join("\n")
        );
        for must in [
            "OrderedDict via dict: same",
            "cycle (list) via queue: same",
            "shared refs via dict.copy: same",
            "nested 200 via namespace: same",
            "Namespace str: Namespace(a=1, b=2, c=3)",
            "list(range): [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
            // kept (shared + OrderedDict), and the proxied dict stays pinned by it
            "shared proxy in a stored value: (True, 1, 1, 'OrderedDict')",
        ] {
            assert!(
                ours.iter().any(|l| l == must),
                "CPython {version}: no {must:?}"
            );
        }
        // Deeper than the decoder's max_depth (200): kept as sent, as deep as the client pickles.
        let mut deep = vec!["nested 450 via dict.copy: same"];
        if !matches!(version.as_str(), "3.11" | "3.12") {
            // Older clients' picklers refuse 2000 levels themselves (RecursionError).
            deep.push("nested 2000 via dict.copy: same");
        }
        for must in deep {
            assert!(
                ours.iter().any(|l| l == must),
                "CPython {version}: no {must:?}"
            );
        }
        eprintln!(
            "CPython {version}: {} value checks identical to CPython's server",
            ours.len()
        );
    }
}

/// Runs a comparison script against `mpshare serve` and against CPython's own server
/// (`--cpython`) under every CPython present; the outputs must be identical.
fn same_as_cpython(name: &str, min_lines: usize) {
    for (version, python) in common::pythons() {
        let (_server, addr) = serve(&[]);
        let run = |addr: Option<&str>| -> Vec<String> {
            let script = script(name).to_string_lossy().into_owned();
            let mut args = vec![script.as_str()];
            if addr.is_none() {
                args.push("--cpython");
            }
            let child = python_cmd(&python, addr.unwrap_or(""), &args)
                .spawn()
                .expect("start python");
            let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(120));
            assert!(
                ok && out.lines().last() == Some("OK"),
                "CPython {version} {name} (against {addr:?}) failed\n--- stdout\n{out}\n--- stderr\n{err}"
            );
            out.lines().map(str::to_string).collect()
        };
        let ours = run(Some(&addr));
        let theirs = run(None);
        assert!(ours.len() >= min_lines, "{ours:?}");
        assert_eq!(
            ours, theirs,
            "CPython {version} {name}: mpshare vs CPython's server"
        );
    }
}

/// The calls a CPython 3.14 client sends (the `set` typeid, `|`/`|=` on dict proxies, list
/// `clear`/`copy`, with 3.14's exposed lists) give what CPython's server gives.
#[test]
fn python_314_proxies_get_what_cpythons_server_gives() {
    same_as_cpython("py314_client.py", 24);
}

/// `m.Condition(m.Lock())` / `m.Condition(m.RLock())`: the condition uses that lock — a child
/// process waits (releasing the lock), the parent takes the lock, notifies, the child wakes.
/// (CPython's own server gets this program wrong: its condition holds a proxy of the lock and
/// refuses `notify` with "cannot notify on un-acquired lock", so there is no reference run.)
#[test]
fn condition_with_a_lock_proxy_uses_that_lock() {
    let expected: Vec<String> = [
        "child waiting: True",
        "lock free while waiting: True",
        "lock held via condition: False",
        "child woke: 0",
        "wait without lock: raises RuntimeError",
        "notify without lock: raises RuntimeError",
        "timed wait: False",
    ]
    .iter()
    .flat_map(|l| {
        ["Lock", "RLock"].map(|k| {
            let l = if k == "RLock" && l.starts_with("lock held") {
                "lock held via condition: n/a"
            } else {
                l
            };
            format!("{k}: {l}")
        })
    })
    .collect();
    for (version, python) in common::pythons() {
        let (_server, addr) = serve(&[]);
        let script = script("condition_lock.py").to_string_lossy().into_owned();
        let child = python_cmd(&python, &addr, &[script.as_str()])
            .spawn()
            .expect("start python");
        let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(120));
        assert!(
            ok && out.lines().last() == Some("OK"),
            "CPython {version} condition_lock.py failed\n--- stdout\n{out}\n--- stderr\n{err}"
        );
        for l in &expected {
            assert!(
                out.lines().any(|x| x == l),
                "CPython {version}: no {l:?} in\n{out}"
            );
        }
        assert!(out.contains("Condition(1): raises RemoteError"), "{out}");
    }
}

/// One client stores values the server cannot interpret (a cycle, 300-deep nesting, an instance
/// of a class only that process has) and sends hostile frames; another process then uses the
/// same dict and new objects normally.
#[test]
fn a_bad_object_leaves_other_clients_and_objects_unaffected() {
    let Some((version, python)) = common::pythons().into_iter().next() else {
        return;
    };
    let (_server, addr) = serve(&["--object", "shared_dict=dict", "--quiet"]);
    let script = script("bad_objects.py").to_string_lossy().into_owned();
    for role in ["store", "use"] {
        let child = python_cmd(&python, &addr, &[script.as_str(), role])
            .spawn()
            .expect("start python");
        let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(60));
        assert!(
            ok && out.lines().last() == Some("OK"),
            "CPython {version} bad_objects.py {role} failed\n--- stdout\n{out}\n--- stderr\n{err}"
        );
    }
}

/// The binary operators know: `--version`, `--help` per command, log lines on stderr filtered
/// by `RUST_LOG`.
#[test]
fn the_binary_has_a_version_and_logs_through_rust_log() {
    let out = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .arg("--version")
        .output()
        .expect("run mpshare");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("mpshare {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args(["serve", "--help"])
        .output()
        .expect("run mpshare");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && help.contains("--object <NAME=TYPEID>"),
        "{help}"
    );
    // info (the default) shows the start line on stderr; error hides it.
    for (level, shown) in [("info", true), ("error", false)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
            .args(["serve", "--address", "127.0.0.1:0", "--object", "q=Queue"])
            .env("MPSHARE_AUTHKEY", KEY)
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mpshare serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("serving on "), "{line:?}");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let (ok, _, err) = common::wait_bounded(child, Duration::from_secs(20));
        assert!(ok, "SIGTERM must shut down cleanly: {err}");
        assert_eq!(
            err.contains("mpshare: INFO serving on") && err.contains("shared objects: q"),
            shown,
            "RUST_LOG={level}: {err}"
        );
    }
}

/// What needs the server to run client code (`Pool`, `Barrier(action=)`) fails with an error
/// saying so, and the connection keeps working.
#[test]
fn pool_and_barrier_action_say_why_they_are_not_served() {
    let Some((version, python)) = common::pythons().into_iter().next() else {
        return;
    };
    let (_server, addr) = serve(&[]);
    let code = r#"
import os
from multiprocessing.managers import SyncManager
h, _, p = os.environ["MPSHARE_ADDR"].rpartition(":")
m = SyncManager(address=(h, int(p)), authkey=os.environ["MPSHARE_KEY"].encode()); m.connect()
for make in (lambda: m.Pool(2), lambda: m.Barrier(2, action=print)):
    try:
        make()
    except Exception as e:
        print(type(e).__name__, "never runs client code" in str(e))
print(m.Barrier(2).parties)
print("OK")
"#;
    let child = python_cmd(&python, &addr, &["-c", code])
        .spawn()
        .expect("start python");
    let (ok, out, err) = common::wait_bounded(child, Duration::from_secs(60));
    assert!(
        ok && out == "RemoteError True\nRemoteError True\n2\nOK\n",
        "CPython {version}\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}
