//! CPython's `SharedMemoryManager` against `mpshare serve` (3.11, 3.12, 3.13): the server tracks
//! the blocks the manager creates (`track_segment`), lists them (`list_segments`), unlinks one on
//! `release_segment`, and unlinks the rest when it shuts down — by a client's `shutdown` request
//! or by SIGTERM.
#![cfg(feature = "manager")]

mod common;
mod shared_memory_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mpshare::shared_memory::SharedMemory;
use shared_memory_support::{unique, Unlinker};

const KEY: &str = "smm-test-key";

fn exists(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

/// `mpshare serve` on a free port; (child, "127.0.0.1:PORT").
fn serve() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args(["serve", "--address", "127.0.0.1:0", "--quiet"])
        .env("MPSHARE_AUTHKEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mpshare serve");
    let out = child.stdout.take().expect("stdout");
    let line = common::within(Duration::from_secs(30), move || {
        let mut l = String::new();
        BufReader::new(out).read_line(&mut l).map(|_| l)
    })
    .expect("read serve's address");
    let addr = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Runs the client script; returns its stdout lines.
fn client(python: &Path, addr: &str, extra: &str, mode: &str) -> Vec<String> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/shared_memory_manager_client.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args([addr, extra, mode])
        .env("MPSHARE_AUTHKEY", KEY);
    let out = common::within(Duration::from_secs(60), move || cmd.output()).expect("run client");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

fn field<'a>(lines: &'a [String], key: &str) -> Vec<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key).map(|r| r.split_whitespace().collect()))
        .unwrap_or_else(|| panic!("no {key:?} line in {lines:?}"))
}

fn run(version: &str, python: &Path, mode: &str) {
    let mut guard = Unlinker::default();
    let extra = guard.add(&unique("smm-extra"));
    let rust_block = SharedMemory::create(&extra, 64).expect("create");
    rust_block.persist(); // only the server may unlink it now
    let (mut server, addr) = serve();
    let lines = client(python, &addr, &extra, mode);
    let names = field(&lines, "names ");
    let (block, list) = (guard.add(names[0]), guard.add(names[1]));
    assert_eq!(
        field(&lines, "listed "),
        [&block, &list, &extra],
        "python {version}"
    );
    assert_eq!(field(&lines, "after "), [&list, &extra], "python {version}");
    assert_eq!(field(&lines, "release-unknown "), ["RemoteError", "True"]);
    assert!(
        !exists(&block),
        "python {version}: released block still in /dev/shm"
    );
    if mode == "stay" {
        assert!(
            exists(&list) && exists(&extra),
            "tracked blocks vanished early"
        );
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM");
    }
    assert!(
        wait_exit(&mut server, Duration::from_secs(20)),
        "python {version}: server did not stop ({mode})"
    );
    assert!(
        !exists(&list) && !exists(&extra),
        "python {version}: tracked blocks left after shutdown ({mode})"
    );
}

#[test]
fn shared_memory_manager_client_shutdown_unlinks_tracked_blocks() {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
    }
    for (v, p) in pythons {
        run(&v, &p, "shutdown");
    }
}

#[test]
fn sigterm_of_mpshare_serve_unlinks_tracked_blocks() {
    match common::any_python() {
        Some((v, p)) => run(&v, &p, "stay"),
        None => eprintln!("skipping: no CPython 3.11-3.13 found"),
    }
}
