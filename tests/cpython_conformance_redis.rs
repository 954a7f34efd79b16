//! CPython's own manager tests (tests/py/cpython_conformance.py, as in
//! tests/cpython_conformance.rs) against `mpshare serve --store redis://…`: every CPython
//! present (3.11, 3.12, 3.13, and 3.14 when installed) gets a front-end of its own, all on one
//! throwaway redis-server with one key prefix (so the runs also share the store the way
//! front-ends do), the interpreters in parallel. Nothing may fail. The script's own exclusions
//! apply, plus [`REDIS_EXCLUDED`]; both are printed with their reasons. The newest interpreter
//! runs them against a three-node Redis Cluster too.

mod common;

use common::redis::{RedisCluster, RedisServer};

use std::time::Duration;

const KEY: &str = "mpshare-conformance-redis-key";

/// Tests that cannot pass against the Redis store, with the reason (`Class` or
/// `Class.test_method`, as the script's EXCLUDED). Empty: every test that runs against the
/// memory store runs here too.
const REDIS_EXCLUDED: &[(&str, &str)] = &[];

/// Each interpreter's run takes 10-20 s against the memory store; Redis round trips add to it.
const RUN_LIMIT: Duration = Duration::from_secs(420);

#[test]
fn cpython_manager_tests_pass_against_the_redis_store() {
    // A missing redis-server is a printed skip (or, under MPSHARE_REQUIRE_REDIS=1, a failure)
    // before any interpreter starts.
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let pythons = common::conformance::interpreters();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.14 found");
        return;
    }
    let exclude = exclusions();
    let runs: Vec<_> = pythons
        .into_iter()
        .map(|(v, p)| {
            let (url, exclude) = (redis.url(), exclude.clone());
            std::thread::spawn(move || {
                let (_server, addr) =
                    common::serve::serve_at(KEY, "127.0.0.1:0", &["--store", &url, "--quiet"]);
                common::conformance::run(v, p, &addr, KEY, &exclude, RUN_LIMIT)
            })
        })
        .collect();
    let outcomes: Vec<_> = runs.into_iter().map(|h| h.join().unwrap()).collect();
    common::conformance::judge(&outcomes, "mpshare serve --store redis");
}

/// The same tests, one interpreter (the newest of 3.11-3.13 present), against a three-node
/// Redis Cluster (skipped, printed, when the cluster cannot be formed).
#[test]
fn cpython_manager_tests_pass_against_a_redis_cluster() {
    let Some(cluster) = RedisCluster::start(3) else {
        return;
    };
    let Some((version, python)) = common::pythons().into_iter().last() else {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    };
    let (_server, addr) =
        common::serve::serve_at(KEY, "127.0.0.1:0", &["--store", &cluster.urls(), "--quiet"]);
    let outcome = common::conformance::run(version, python, &addr, KEY, &exclusions(), RUN_LIMIT);
    common::conformance::judge(&[outcome], "mpshare serve --store <redis cluster>");
}

/// [`REDIS_EXCLUDED`] as the script reads it: one `NAME: reason` a line.
fn exclusions() -> String {
    REDIS_EXCLUDED
        .iter()
        .map(|(name, why)| format!("{name}: {why}\n"))
        .collect()
}
