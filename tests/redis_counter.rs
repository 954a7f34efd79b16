//! Issue #14: 4 CPython processes x 500 increments of one `counter` dict entry, each under the
//! named `lock`, two processes on front-end A and two on front-end B of one Redis: exactly 2000
//! (no increment lost, the lock excludes across front-ends).

mod common;
mod redis_support;

use common::redis::RedisServer;

#[test]
fn locked_increments_through_two_frontends_are_never_lost() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    redis_support::counter_scenario(&redis.url());
}
