//! Issue #14: the objects live in Redis, not in a front-end.
//! (a) A CPython client writes `shared_dict` and `shared_queue` through front-end A; A is
//!     SIGKILLed; a new front-end on the same Redis serves the same data.
//! (b) With persistence (`--appendonly yes --appendfsync always`): written through A, Redis is
//!     SIGKILLed and restarted on the same port and directory; a fresh front-end reads the data
//!     back, and so does A once it has reconnected. During the outage a call fails (bounded)
//!     instead of hanging.

mod common;
mod redis_support;

use common::redis::RedisServer;
use redis_support::{frontend, role};

use std::time::{Duration, Instant};

#[test]
fn a_new_frontend_serves_what_a_killed_one_wrote() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    redis_support::frontend_restart_scenario(&redis.url());
}

#[test]
fn data_survives_a_redis_restart_with_persistence() {
    let Some(mut redis) = RedisServer::start(true) else {
        return;
    };
    let Some((version, python)) = common::pythons().into_iter().next() else {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    };
    let store = redis.url();
    let (_a, addr_a) = frontend(&store, &[]);
    role(&version, &python, &addr_a, &["write", "persist-1"]);
    role(&version, &python, &addr_a, &["write", "persist-2"]);
    redis.kill();
    redis.restart();

    let (_c, addr_c) = frontend(&store, &[]);
    role(&version, &python, &addr_c, &["read", "persist-1"]);

    // A (started before the restart) reconnects: within 20 s a client of A reads the rest.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let child = redis_support::spawn_role(&python, &addr_a, &["read", "persist-2"]);
        let (status, out, err) = common::wait_output(child, Duration::from_secs(30));
        if status.success() && out.lines().last() == Some("OK") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "front-end A did not serve the data within 20 s of the Redis restart\n--- stdout\n{out}\n--- stderr\n{err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// While Redis is down, a call through a front-end fails (a Python exception) within 30 s
/// instead of hanging, and the front-end serves again once Redis is back.
#[test]
fn a_call_during_a_redis_outage_fails_instead_of_hanging() {
    let Some(mut redis) = RedisServer::start(true) else {
        return;
    };
    let Some((version, python)) = common::pythons().into_iter().next() else {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    };
    let (_a, addr_a) = frontend(&redis.url(), &[]);
    role(&version, &python, &addr_a, &["write", "outage"]);
    redis.kill();
    let t0 = Instant::now();
    let child = redis_support::spawn_role(&python, &addr_a, &["check", "0"]);
    let (status, out, err) = common::wait_output(child, Duration::from_secs(30));
    eprintln!(
        "CPython {version}: a call during the outage ended after {:.2?} ({status})\n{}",
        t0.elapsed(),
        err.lines().rfind(|l| l.contains("Error")).unwrap_or("")
    );
    assert!(
        !status.success(),
        "a call through A succeeded while Redis was down\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    // It says why: the store, not a missing object.
    assert!(
        err.contains("the Redis store failed") && !err.contains("KeyError"),
        "expected the client to hear `the Redis store failed`\n--- stderr\n{err}"
    );
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let child = redis_support::spawn_role(&python, &addr_a, &["read", "outage"]);
        let (status, out, err) = common::wait_output(child, Duration::from_secs(30));
        if status.success() && out.lines().last() == Some("OK") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "front-end A did not serve again within 20 s of the Redis restart\n--- stdout\n{out}\n--- stderr\n{err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
