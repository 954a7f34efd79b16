//! A front-end that dies (SIGKILL: it releases nothing) while its clients hold or wait: the
//! other front-ends clean up after it once its liveness key (`--lease-ms 1500`) runs out.
//!
//! Front-ends A and B serve `sem=BoundedSemaphore` and `cond=Condition` from one throwaway
//! redis-server. Through A, stock CPython clients hold `sem`, wait at a client-created
//! `Barrier(2)` and wait on `cond`; a client of B waits on `cond` too (after A's). A is killed;
//! then, through B, at once: `cond.notify()` (its notification goes to A's dead waiter first),
//! `sem.acquire(timeout=10)` and a poll of the barrier's `n_waiting`. Expected, each between
//! 0.5 s (nothing before the lease) and 5 s after the kill: B's acquire succeeds (A's unit went
//! back, exactly once); `n_waiting` drops to 0 (A's party left); B's waiter is notified (the
//! notification is passed on, not lost). Then two clients of B pass the barrier together.
//! On one redis-server and on a three-node Cluster (tests/common/redis.rs: skipped, printed,
//! without a redis-server unless `MPSHARE_REQUIRE_REDIS=1`). Every wait is bounded.

mod common;

use common::redis::{RedisCluster, RedisServer};
use common::serve::Serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "mpshare-death-key";
const LIMIT: Duration = Duration::from_secs(60);

fn frontend(store: &str, prefix: &str) -> (Serve, String) {
    common::serve::serve(
        KEY,
        &[
            "--store",
            store,
            "--key-prefix",
            prefix,
            "--lease-ms",
            "1500",
            "--object",
            "sem=BoundedSemaphore",
            "--object",
            "cond=Condition",
        ],
    )
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("py")
        .join("redis_frontend_death.py")
}

fn spawn(python: &Path, addr: &str, args: &[&str]) -> Child {
    Command::new(python)
        .arg(script())
        .args(args)
        .env("MPSHARE_ADDR", addr)
        .env("MPSHARE_KEY", KEY)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python")
}

/// Waits for a role (at most [`LIMIT`]); panics unless it printed OK last. Its stdout.
fn finish(version: &str, args: &[&str], child: Child) -> String {
    let (status, out, err) = common::wait_output(child, LIMIT);
    assert!(
        status.success() && out.lines().last() == Some("OK"),
        "CPython {version} redis_frontend_death.py {args:?} failed ({status})\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    out
}

fn run(version: &str, python: &Path, addr: &str, args: &[&str]) -> String {
    finish(version, args, spawn(python, addr, args))
}

/// A role that keeps running (until killed): its stdout lines as they come.
struct Background(Child, Receiver<String>);

impl Background {
    /// Starts `args` and waits (at most 30 s) for a line starting with `ready`; returns it.
    fn start(python: &Path, addr: &str, args: &[&str], ready: &str) -> (Background, String) {
        let mut child = spawn(python, addr, args);
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let bg = Background(child, rx);
        match bg.1.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l.starts_with(ready) => (bg, l),
            got => panic!("{args:?} via {addr}: expected {ready} within 30 s, got {got:?}"),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn value(out: &str, key: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The scenario with one CPython; `prefix`: a key prefix of its own (fresh named objects).
fn scenario(store: &str, prefix: &str, version: &str, python: &Path) {
    let (mut a, addr_a) = frontend(store, prefix);
    let (_b, addr_b) = frontend(store, prefix);

    // Through A: a unit of sem held, a party at a new Barrier(2), a waiter on cond.
    let _holder = Background::start(python, &addr_a, &["sem-hold"], "ACQUIRED");
    let (_party, created) = Background::start(python, &addr_a, &["bar-create"], "CREATED ");
    let bar = created["CREATED ".len()..].trim().to_string();
    let _waiter_a = Background::start(python, &addr_a, &["cond-wait", "600"], "WAITING");
    // Through B: all of that is visible; B's own waiter queues behind A's.
    run(version, python, &addr_b, &["sem-try"]);
    run(version, python, &addr_b, &["bar-waiting", &bar, "1", "10"]);
    run(version, python, &addr_b, &["cond-waiters", "1", "10"]);
    let waiter_b = spawn(python, &addr_b, &["cond-wait", "20"]);
    run(version, python, &addr_b, &["cond-waiters", "2", "10"]);

    a.0.kill().expect("SIGKILL front-end A");
    let killed = now();
    let notify = spawn(python, &addr_b, &["cond-notify"]);
    let take = spawn(python, &addr_b, &["sem-take", "10"]);
    let poll = spawn(python, &addr_b, &["bar-waiting", &bar, "0", "10"]);
    finish(version, &["cond-notify"], notify);
    let take = finish(version, &["sem-take", "10"], take);
    let poll = finish(version, &["bar-waiting", &bar, "0", "10"], poll);
    let waited = finish(version, &["cond-wait", "20"], waiter_b);

    assert!(
        waited.contains("result=True"),
        "B's Condition waiter was not notified (the notify went to A's dead waiter and was lost): {waited:?}"
    );
    let bounds = 0.5..=5.0;
    let report = [
        ("sem acquired", value(&take, "at=") - killed),
        ("barrier party gone", value(&poll, "at=") - killed),
        ("cond notified", value(&waited, "at=") - killed),
    ];
    eprintln!(
        "CPython {version}: after SIGKILL of A (lease 1.5 s): {}",
        report
            .iter()
            .map(|(w, t)| format!("{w} at +{t:.3} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (what, t) in report {
        assert!(
            bounds.contains(&t),
            "{what} {t:.3} s after A was killed: expected between 0.5 s (the lease) and 5 s"
        );
    }

    // The barrier works with live parties: two clients of B pass it together.
    let p1 = spawn(python, &addr_b, &["bar-wait", &bar, "10"]);
    let p2 = spawn(python, &addr_b, &["bar-wait", &bar, "10"]);
    let i1 = value(&finish(version, &["bar-wait"], p1), "index=");
    let i2 = value(&finish(version, &["bar-wait"], p2), "index=");
    assert_eq!(i1 + i2, 1.0, "indices {i1} and {i2}");
}

/// The scenario with every CPython present, one after the other, on `store`.
fn all_pythons(store: String) {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    }
    common::within(Duration::from_secs(300), move || {
        for (i, (version, python)) in pythons.iter().enumerate() {
            let t0 = Instant::now();
            scenario(&store, &format!("death{i}"), version, python);
            eprintln!("CPython {version}: scenario in {:.2?}", t0.elapsed());
        }
    });
}

#[test]
fn a_dead_frontends_holds_and_waiters_are_cleaned_up_after_its_lease() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    all_pythons(redis.url());
}

#[test]
fn the_same_on_a_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    all_pythons(cluster.urls());
}
