//! Issue #14, `--lease-ms`: a lock held through a front-end that dies (SIGKILL, so it releases
//! nothing) is released once its lease runs out. A CPython client of A (`--lease-ms 1500`)
//! holds `shared_lock`; A is killed; a client of B acquires it with `timeout=10`: it succeeds,
//! and not at once (the lease has to run out first: at least 0.5 s, at most 10 s). While A
//! lives, its lease is renewed: the lock stays held past it.

mod common;
mod redis_support;

use common::redis::RedisServer;
use redis_support::{frontend, role, Holder};

#[test]
fn a_lock_held_through_a_killed_frontend_is_released_after_the_lease() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    redis_support::lease_scenario(&redis.url());
}

/// The lease is renewed while the front-end lives: a lock held through A for three times the
/// lease is still refused through B, and B gets it as soon as A's client releases it.
#[test]
fn a_lock_held_through_a_live_frontend_outlasts_the_lease() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let Some((version, python)) = common::pythons().into_iter().next() else {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    };
    let store = redis.url();
    let (_a, addr_a) = frontend(&store, &["--lease-ms", "1000"]);
    let (_b, addr_b) = frontend(&store, &["--lease-ms", "1000"]);
    let holder = Holder::acquire(&version, &python, &addr_a);
    std::thread::sleep(std::time::Duration::from_millis(3000));
    role(&version, &python, &addr_b, &["try-lock"]);
    holder.release(&version);
    let out = role(&version, &python, &addr_b, &["lock", "10"]);
    let took: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("took="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no took= in {out:?}"));
    assert!(
        took < 2.0,
        "a released lock is acquired at once through B, not after {took:.3} s"
    );
}
