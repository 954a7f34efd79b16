//! Issue #14: the other no-argument typeids as well-known objects of two front-ends on one
//! Redis (list, Namespace, Event, Semaphore, BoundedSemaphore, RLock, JoinableQueue,
//! Condition): what a CPython client does through A, a client of B sees and continues, and A
//! sees B's changes; a Semaphore, BoundedSemaphore or RLock held through B is refused through A
//! until released. A Condition wait through B is woken by a notify through A.
//! (Value, Array and Barrier need constructor arguments, so `--object` cannot serve them; the
//! conformance run covers them through one front-end.)

mod common;
mod redis_support;

use common::redis::RedisServer;
use redis_support::{frontend, role, spawn_role};

use std::time::Duration;

const MORE: [&str; 16] = [
    "--object",
    "shared_list=list",
    "--object",
    "ns=Namespace",
    "--object",
    "event=Event",
    "--object",
    "sem=Semaphore",
    "--object",
    "bsem=BoundedSemaphore",
    "--object",
    "rlock=RLock",
    "--object",
    "cond=Condition",
    "--object",
    "jq=JoinableQueue",
];

#[test]
fn every_named_typeid_is_shared_by_two_frontends() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    }
    for (i, (version, python)) in pythons.iter().enumerate() {
        // A fresh pair of front-ends and a flushed database per interpreter: phase 1 expects
        // the objects as --object creates them.
        redis.command(&["FLUSHDB"]).expect("FLUSHDB");
        let (_a, addr_a) = frontend(&redis.url(), &MORE);
        let (_b, addr_b) = frontend(&redis.url(), &MORE);
        let (rv, reader) = &pythons[(i + 1) % pythons.len()];
        role(version, python, &addr_a, &["typeids", "1"]);
        redis_support::role_with_a(rv, reader, &addr_b, &addr_a, &["typeids", "2"]);
        role(version, python, &addr_a, &["typeids", "3"]);

        let waiter = spawn_role(reader, &addr_b, &["cond-wait"]);
        std::thread::sleep(Duration::from_millis(1000));
        role(version, python, &addr_a, &["cond-notify"]);
        let out = redis_support::finish_role(rv, &addr_b, &["cond-wait"], waiter);
        eprintln!(
            "CPython {rv} cond-wait via B: {}",
            out.lines().next().unwrap_or("")
        );
    }
}
