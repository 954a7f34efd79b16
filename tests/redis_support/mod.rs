//! Scenarios shared by the Redis-store tests: `mpshare serve --store URL` front-ends (the real
//! binary) and stock CPython clients running `tests/py/redis_store.py` roles against them.
//! Every wait is bounded; a failing client's stdout and stderr are in the panic message.
#![allow(dead_code)]

use crate::common;
use crate::common::serve::Serve;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

pub const KEY: &str = "mpshare-redis-key";

/// The well-known objects every front-end of these tests serves.
pub const OBJECTS: [&str; 10] = [
    "--object",
    "shared_dict=dict",
    "--object",
    "shared_queue=Queue",
    "--object",
    "shared_lock=Lock",
    "--object",
    "counter=dict",
    "--object",
    "lock=Lock",
];

/// How long one client role may take (the counter role does 500 locked increments).
pub const ROLE_LIMIT: Duration = Duration::from_secs(240);

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("py")
        .join(name)
}

/// A front-end on a free port: `mpshare serve --store STORE` with [`OBJECTS`] and `extra`.
pub fn frontend(store: &str, extra: &[&str]) -> (Serve, String) {
    frontend_at(store, "127.0.0.1:0", extra)
}

/// A front-end at a given address (to restart one on the same port).
pub fn frontend_at(store: &str, address: &str, extra: &[&str]) -> (Serve, String) {
    let mut args = vec!["--store", store];
    args.extend(OBJECTS);
    args.extend(extra);
    common::serve::serve_at(KEY, address, &args)
}

fn command(python: &Path, addr: &str, args: &[&str]) -> Command {
    let mut c = Command::new(python);
    c.arg(script("redis_store.py"))
        .args(args)
        .env("MPSHARE_ADDR", addr)
        .env("MPSHARE_KEY", KEY)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs one role to the end (at most [`ROLE_LIMIT`]); panics unless it printed OK last.
/// Returns its stdout.
pub fn role(version: &str, python: &Path, addr: &str, args: &[&str]) -> String {
    let t0 = Instant::now();
    let child = spawn_role(python, addr, args);
    let out = finish_role(version, addr, args, child);
    eprintln!(
        "CPython {version} {args:?} via {addr}: OK in {:.2?}",
        t0.elapsed()
    );
    out
}

pub fn spawn_role(python: &Path, addr: &str, args: &[&str]) -> Child {
    command(python, addr, args).spawn().expect("start python")
}

/// [`role`] with `MPSHARE_ADDR_A=addr_a` too (a role that also connects to front-end A).
pub fn role_with_a(version: &str, python: &Path, addr: &str, addr_a: &str, args: &[&str]) {
    let t0 = Instant::now();
    let child = command(python, addr, args)
        .env("MPSHARE_ADDR_A", addr_a)
        .spawn()
        .expect("start python");
    finish_role(version, addr, args, child);
    eprintln!(
        "CPython {version} {args:?} via {addr} (and {addr_a}): OK in {:.2?}",
        t0.elapsed()
    );
}

/// Waits for a role started with [`spawn_role`]; panics unless it printed OK last.
pub fn finish_role(version: &str, addr: &str, args: &[&str], child: Child) -> String {
    let (status, out, err) = common::wait_output(child, ROLE_LIMIT);
    assert!(
        status.success() && out.lines().last() == Some("OK"),
        "CPython {version} redis_store.py {args:?} against {addr} failed ({status})\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    out
}

/// A client holding `shared_lock` (role `hold`), waiting for [`Holder::release`].
pub struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Holder {
    /// Starts `hold` and waits (at most 30 s) for it to print ACQUIRED.
    pub fn acquire(version: &str, python: &Path, addr: &str) -> Holder {
        let mut child = command(python, addr, &["hold"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start python");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut h = Holder {
            child,
            stdin,
            lines,
            stderr: Some(stderr),
        };
        match h.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l == "ACQUIRED" => h,
            got => {
                let _ = h.child.kill();
                let _ = h.child.wait();
                let err = h
                    .stderr
                    .take()
                    .and_then(|t| t.join().ok())
                    .unwrap_or_default();
                panic!(
                    "CPython {version} hold via {addr}: expected ACQUIRED within 30 s, got {got:?}\n--- stderr\n{err}"
                );
            }
        }
    }

    /// Tells it to release the lock and waits (at most 30 s) for its OK.
    pub fn release(mut self, version: &str) {
        let mut stdin = self.stdin.take().expect("stdin");
        writeln!(stdin, "release").expect("write to the holder");
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l == "OK" => break,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("CPython {version} hold: no OK after release; stdout {seen:?}");
                }
            }
        }
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "CPython {version} hold exited {status}");
    }

    /// The client process (to kill it).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two front-ends A and B on one store. For every CPython present: a client of A writes
/// `shared_dict` and puts on `shared_queue`, a client of B (the next version, so versions mix)
/// reads the same values and gets the item; a client of A holds `shared_lock`, so a client of
/// B's `acquire(timeout=0.2)` is False; after A's client releases it, B's client acquires it.
pub fn frontends_scenario(store: &str) {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    }
    let (_a, addr_a) = frontend(store, &[]);
    let (_b, addr_b) = frontend(store, &[]);
    for (i, (version, python)) in pythons.iter().enumerate() {
        let (rv, reader) = &pythons[(i + 1) % pythons.len()];
        let tag = format!("py{version}");
        role(version, python, &addr_a, &["write", &tag]);
        role(rv, reader, &addr_b, &["read", &tag]);

        let holder = Holder::acquire(version, python, &addr_a);
        role(rv, reader, &addr_b, &["try-lock"]);
        holder.release(version);
        role(rv, reader, &addr_b, &["lock", "10"]);
    }
}

/// 4 processes x 500 increments of `counter['n']`, each under the named `lock`, two processes
/// on front-end A and two on front-end B (CPython versions mixed): exactly 2000.
pub fn counter_scenario(store: &str) {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    }
    let (_a, addr_a) = frontend(store, &[]);
    let (_b, addr_b) = frontend(store, &[]);
    let t0 = Instant::now();
    let runs: Vec<(String, &str, Child)> = (0..4)
        .map(|i| {
            let (version, python) = &pythons[i % pythons.len()];
            let addr = if i % 2 == 0 { &addr_a } else { &addr_b };
            (
                version.clone(),
                addr.as_str(),
                spawn_role(python, addr, &["count", "500"]),
            )
        })
        .collect();
    for (version, addr, child) in runs {
        finish_role(&version, addr, &["count", "500"], child);
    }
    eprintln!(
        "4 x 500 locked increments via two front-ends: {:.2?}",
        t0.elapsed()
    );
    let (version, python) = &pythons[0];
    role(version, python, &addr_a, &["check", "2000"]);
    role(version, python, &addr_b, &["check", "2000"]);
}

/// A lock held through a front-end that dies (SIGKILL) is released once its lease (1.5 s) runs
/// out: a client of B acquires with `timeout=10`, not at once (≥ 0.5 s) and within 10 s.
pub fn lease_scenario(store: &str) {
    let Some((version, python)) = crate::common::pythons().into_iter().last() else {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    };
    let (mut a, addr_a) = frontend(store, &["--lease-ms", "1500", "--frontend-id", "lease-a"]);
    let (_b, addr_b) = frontend(store, &["--lease-ms", "1500", "--frontend-id", "lease-b"]);

    let holder = Holder::acquire(&version, &python, &addr_a);
    // Held: B cannot take it while A lives.
    role(&version, &python, &addr_b, &["try-lock"]);

    a.kill();
    let killed = std::time::Instant::now();
    let out = role(&version, &python, &addr_b, &["lock", "10"]);
    let since_kill = killed.elapsed();
    holder.kill();

    let took: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("took="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no took= in {out:?}"));
    eprintln!(
        "CPython {version}: B acquired the lock {took:.3} s into its acquire, {since_kill:.2?} after A was killed"
    );
    assert!(
        (0.5..=10.0).contains(&took),
        "B's acquire took {took:.3} s: expected the lease (1.5 s) to hold it for at least 0.5 s and \
         release it within 10 s"
    );
}

/// A CPython client writes `shared_dict` and `shared_queue` through front-end A; A is
/// SIGKILLed; a new front-end on A's very port, on the same store, serves the same data.
pub fn frontend_restart_scenario(store: &str) {
    let Some((version, python)) = crate::common::pythons().into_iter().next() else {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    };
    let (mut a, addr_a) = frontend(store, &[]);
    role(&version, &python, &addr_a, &["write", "restart-a"]);
    a.kill();
    // The new front-end even takes A's port: nothing of A's state survives but the store.
    let (_c, addr_c) = frontend_at(store, &addr_a, &[]);
    assert_eq!(addr_c, addr_a);
    role(&version, &python, &addr_c, &["read", "restart-a"]);
}
