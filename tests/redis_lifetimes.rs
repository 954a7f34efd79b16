//! Issue #14, object lifetimes across front-ends: reference counts live in Redis, per front-end
//! process. An object dies with its last proxy; a front-end that shuts down cleanly drops the
//! references its clients held at once; one that is SIGKILLed stops announcing itself, and
//! after the orphan grace another front-end's sweep deletes what only it referenced. Named
//! objects are never deleted.

mod common;

use common::redis::RedisServer;
use common::serve::serve_at;

use std::time::{Duration, Instant};

use mpshare::managers::{AuthKey, Manager};

const KEY: &str = "mpshare-redis-lifetimes";

fn connect(addr: &str) -> Manager {
    let cfg = mpshare::managers::client::ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    Manager::connect_with(&addr.parse().expect("address"), AuthKey::from(KEY), cfg)
        .expect("connect")
}

fn frontend(url: &str, extra: &[&str]) -> (common::serve::Serve, String) {
    let mut args = vec!["--store", url, "--quiet"];
    args.extend_from_slice(extra);
    serve_at(KEY, "127.0.0.1:0", &args)
}

/// Waits (at most `limit`) until `m.number_of_objects()` is `want`; returns how long it took.
fn until_count(m: &Manager, want: usize, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let n = m.number_of_objects().expect("number_of_objects");
        if n == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "the store still holds {n} objects after {limit:?}, expected {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_object_dies_with_its_last_proxy_whichever_front_end_counts_it() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let (_a, addr_a) = frontend(&redis.url(), &[]);
    let (_b, addr_b) = frontend(&redis.url(), &["--object", "shared=dict"]);
    let (ma, mb) = (connect(&addr_a), connect(&addr_b));
    assert_eq!(mb.number_of_objects().unwrap(), 0);
    let d = ma.dict().unwrap();
    d.set("k", 1).unwrap();
    let l = ma.list().unwrap();
    // Counted in the store, so B sees them; a named object is not counted (it never dies).
    let named = mb.create("shared", vec![], vec![]).unwrap();
    assert_eq!(mb.number_of_objects().unwrap(), 2);
    drop(d);
    until_count(&mb, 1, Duration::from_secs(5));
    drop(l);
    until_count(&mb, 0, Duration::from_secs(5));
    drop(named);
    assert_eq!(mb.number_of_objects().unwrap(), 0);
}

#[test]
fn a_front_end_that_stops_cleanly_drops_its_clients_references() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let (mut a, addr_a) = frontend(&redis.url(), &[]);
    let (_b, addr_b) = frontend(&redis.url(), &[]);
    let (ma, mb) = (connect(&addr_a), connect(&addr_b));
    let d = ma.dict().unwrap();
    let q = ma.queue(0).unwrap();
    until_count(&mb, 2, Duration::from_secs(5));
    // SIGTERM: a clean shutdown.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(a.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let took = until_count(&mb, 0, Duration::from_secs(10));
    eprintln!("objects of a stopped front-end gone {took:?} after SIGTERM");
    let _ = a.0.wait();
    // The proxies' own decrefs now find no server: they must not hang or panic.
    drop((d, q));
}

#[test]
fn the_sweep_deletes_what_only_a_killed_front_end_referenced() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let grace = ["--orphan-grace-ms", "1500", "--lease-ms", "900"];
    let (mut a, addr_a) = frontend(&redis.url(), &grace);
    let (_b, addr_b) = frontend(&redis.url(), &grace);
    let (ma, mb) = (connect(&addr_a), connect(&addr_b));
    let d = ma.dict().unwrap();
    d.set("k", 1).unwrap();
    let kept = mb.dict().unwrap();
    until_count(&mb, 2, Duration::from_secs(5));
    a.kill();
    let killed = Instant::now();
    // Not before the grace: the front-end might only be slow.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        mb.number_of_objects().unwrap(),
        2,
        "swept before the grace ran out"
    );
    until_count(&mb, 1, Duration::from_secs(15));
    eprintln!(
        "a killed front-end's object swept {:?} after the kill (grace 1.5 s)",
        killed.elapsed()
    );
    // B's own object is untouched.
    kept.set("still", "here").unwrap();
    drop(d);
}
