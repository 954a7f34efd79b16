//! Stock CPython `SyncManager` clients (3.11, 3.12, 3.13 when present) against our manager
//! server, in-process (`Server::spawn`) and as the `mpshare serve` binary: every typeid, errors,
//! iteration, blocking calls across client threads, multi-process counters, producer/consumer,
//! nested proxies.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mpshare::manager::auth::AuthKey;
use mpshare::manager::connection::Address;
use mpshare::manager::server::Server;

const KEY: &str = "mpshare-test-key";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("py")
        .join(name)
}

/// Waits for `child` at most `limit`, killing it after; returns (success, stdout, stderr).
fn wait_output(mut child: Child, limit: Duration) -> (bool, String, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if status.is_none() {
        err.push_str(&format!("\n[killed after {limit:?}]"));
    }
    (status.is_some_and(|s| s.success()), out, err)
}

fn addr_env(addr: &Address) -> String {
    match addr {
        Address::Tcp(sa) => sa.to_string(),
        Address::Unix(p) => p.to_string_lossy().into_owned(),
        Address::Abstract(n) => format!("@{}", String::from_utf8_lossy(n)),
    }
}

/// Runs one scenario script under `python` against `addr`; panics with its stderr on failure.
fn run_scenario(version: &str, python: &Path, name: &str, addr: &Address) -> String {
    let t0 = Instant::now();
    let child = Command::new(python)
        .arg(script(name))
        .env("MPSHARE_ADDR", addr_env(addr))
        .env("MPSHARE_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let (ok, out, err) = wait_output(child, Duration::from_secs(90));
    let last = out.lines().last().unwrap_or("");
    assert!(
        ok && last == "OK",
        "CPython {version} {name} against {addr} failed\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    eprintln!(
        "CPython {version} {name} against {addr}: OK in {:?}",
        t0.elapsed()
    );
    out
}

fn spawn_server() -> mpshare::manager::server::ServerHandle {
    Server::bind(&"127.0.0.1:0".parse().unwrap(), AuthKey::from(KEY))
        .unwrap()
        .spawn()
        .unwrap()
}

/// Runs `f` under every present CPython; returns how many ran (a missing version is skipped
/// with a printed line, or fails the test under `MPSHARE_REQUIRE_PYTHONS`).
fn each_python(f: impl Fn(&str, &Path)) -> usize {
    let pys = common::pythons();
    for (v, p) in &pys {
        f(v, p);
    }
    pys.len()
}

#[test]
fn every_typeid_values_and_errors() {
    let h = spawn_server();
    each_python(|v, p| {
        run_scenario(v, p, "typeids.py", h.address());
    });
}

#[test]
fn blocking_calls_across_client_threads() {
    let h = spawn_server();
    each_python(|v, p| {
        run_scenario(v, p, "blocking.py", h.address());
    });
}

#[test]
fn four_processes_increment_under_a_manager_lock() {
    let h = spawn_server();
    each_python(|v, p| {
        run_scenario(v, p, "lock_counter.py", h.address());
    });
}

#[test]
fn producer_consumer_processes() {
    let h = spawn_server();
    each_python(|v, p| {
        run_scenario(v, p, "producer_consumer.py", h.address());
    });
}

#[test]
fn queue_shutdown_from_python_3_13() {
    // queue.ShutDown and Queue.shutdown are new in 3.13: this needs that version exactly.
    let Some(p) = common::python("3.13") else {
        return;
    };
    let h = spawn_server();
    run_scenario("3.13", &p, "queue_shutdown.py", h.address());
}

#[test]
fn unix_socket_server() {
    let dir = std::env::temp_dir().join(format!("mpshare-srv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mgr.sock");
    let h = Server::bind(&Address::Unix(path.clone()), AuthKey::from(KEY))
        .unwrap()
        .spawn()
        .unwrap();
    each_python(|v, p| {
        run_scenario(v, p, "typeids.py", h.address());
    });
    drop(h);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn abstract_unix_socket_server() {
    let name = format!("mpshare-test-{}", std::process::id()).into_bytes();
    let h = Server::bind(&Address::Abstract(name), AuthKey::from(KEY))
        .unwrap()
        .spawn()
        .unwrap();
    each_python(|v, p| {
        run_scenario(v, p, "typeids.py", h.address());
        run_scenario(v, p, "blocking.py", h.address());
    });
}

#[test]
fn objects_are_freed_after_clients_finish() {
    let h = spawn_server();
    let ran = each_python(|v, p| {
        run_scenario(v, p, "typeids.py", h.address());
    });
    if ran == 0 {
        return; // skipped (recorded); nothing was created, so nothing to check
    }
    // Every proxy was dropped at interpreter exit (decref); give the last decrefs a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.number_of_objects() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(h.number_of_objects(), 0, "objects leaked on the server");
}

#[test]
fn dict_cycle_timing_vs_cpython_server() {
    // Informational: prints the per-cycle time of our server and of a stock CPython server.
    let h = spawn_server();
    each_python(|v, p| {
        let out = run_scenario(v, p, "dict_timing.py", h.address());
        for line in out.lines().filter(|l| l.starts_with("dict")) {
            eprintln!("CPython {v}: {line}");
        }
    });
}

#[test]
fn mpshare_serve_binary() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args(["serve", "--address", "127.0.0.1:0"])
        .env("MPSHARE_AUTHKEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mpshare serve");
    let mut line = String::new();
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = server.kill();
            panic!("mpshare serve printed no address");
        }
    };
    let addr: Address = line
        .trim()
        .strip_prefix("serving on ")
        .expect("'serving on ADDR'")
        .parse()
        .unwrap();
    let pys = common::pythons();
    for (v, p) in &pys {
        run_scenario(v, p, "typeids.py", &addr);
        run_scenario(v, p, "blocking.py", &addr);
    }
    // SIGTERM: clean shutdown and exit 0.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (ok, _out, err) = wait_output(server, Duration::from_secs(20));
    assert!(ok, "mpshare serve did not exit cleanly on SIGTERM: {err}");
    assert!(err.contains("shutting down"), "{err}");
}

#[test]
fn mpshare_serve_requires_an_authkey() {
    let child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args([
            "serve",
            "--address",
            "127.0.0.1:0",
            "--authkey-env",
            "MPSHARE_TEST_UNSET_VAR",
        ])
        .env_remove("MPSHARE_TEST_UNSET_VAR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, _out, err) = wait_output(child, Duration::from_secs(20));
    assert!(!ok);
    assert!(err.contains("authkey is required"), "{err}");
    let child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .arg("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, out, _) = wait_output(child, Duration::from_secs(20));
    assert!(ok && out.contains("mpshare serve"));
}
