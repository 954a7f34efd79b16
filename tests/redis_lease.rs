//! Issue #14, `--lease-ms`: a lock held through a front-end that dies (SIGKILL, so it releases
//! nothing) is released once its lease runs out. A CPython client of A (`--lease-ms 1500`)
//! holds `shared_lock`; A is killed; a client of B acquires it with `timeout=10`: it succeeds,
//! and not at once (the lease has to run out first: at least 0.5 s, at most 10 s).

mod common;
mod redis_support;

use common::redis::RedisServer;

#[test]
fn a_lock_held_through_a_killed_frontend_is_released_after_the_lease() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    redis_support::lease_scenario(&redis.url());
}
