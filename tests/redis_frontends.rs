//! Issue #14: two `mpshare serve --store redis://…` front-ends on one Redis serve the same
//! well-known objects. Stock CPython clients (3.11, 3.12, 3.13 when present, versions mixed):
//! what a client of A writes to `shared_dict` / puts on `shared_queue`, a client of B reads /
//! gets; while a client of A holds `shared_lock`, B's `acquire(timeout=0.2)` is False, and B
//! acquires it once A's client released it.

mod common;
mod redis_support;

use common::redis::RedisServer;

#[test]
fn two_frontends_on_one_redis_share_dict_queue_and_lock() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    redis_support::frontends_scenario(&redis.url());
}
