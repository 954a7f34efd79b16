//! The Redis test harness itself (tests/common/redis.rs), independent of the store: a
//! throwaway `redis-server` answers PING, keeps an append-only write across SIGKILL and restart
//! on the same port and directory, cleans up after itself, and three nodes form a Redis
//! Cluster. Skips (printed) without a `redis-server`, unless `MPSHARE_REQUIRE_REDIS=1`.

mod common;

use common::redis::{RedisCluster, RedisServer};

#[test]
fn a_server_answers_survives_sigkill_and_restarts_on_the_same_port() {
    let Some(mut r) = RedisServer::start(true) else {
        return;
    };
    assert!(r.ping(), "PING after start");
    assert_eq!(r.url(), format!("redis://127.0.0.1:{}/0", r.port()));
    assert_eq!(r.command(&["SET", "k", "v1"]).as_deref(), Ok("OK"));
    let (port, dir, pid) = (r.port(), r.dir().to_path_buf(), r.pid().unwrap());
    assert!(dir.is_dir());

    r.kill();
    assert!(!r.ping(), "PING after SIGKILL");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the killed server was reaped"
    );

    r.restart();
    assert_eq!(r.port(), port);
    assert_eq!(r.dir(), dir);
    assert!(r.ping(), "PING after restart");
    // appendfsync always: the write acknowledged before SIGKILL is there after the restart.
    assert_eq!(r.command(&["GET", "k"]).as_deref(), Ok("v1"));

    let pid = r.pid().unwrap();
    drop(r);
    assert!(!dir.exists(), "the directory is removed on drop");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server is killed and reaped on drop"
    );
}

#[test]
fn a_server_without_persistence_comes_back_empty() {
    let Some(mut r) = RedisServer::start(false) else {
        return;
    };
    assert_eq!(r.command(&["SET", "k", "v"]).as_deref(), Ok("OK"));
    assert_eq!(r.command(&["GET", "k"]).as_deref(), Ok("v"));
    r.kill();
    r.restart();
    assert_eq!(r.command(&["GET", "k"]).as_deref(), Ok(""));
    assert!(
        r.command(&["NOSUCHCOMMAND"]).is_err(),
        "an error reply is an Err"
    );
}

#[test]
fn two_servers_get_two_ports_and_two_directories() {
    let (Some(a), Some(b)) = (RedisServer::start(false), RedisServer::start(false)) else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    a.command(&["SET", "only", "a"]).unwrap();
    assert_eq!(b.command(&["GET", "only"]).as_deref(), Ok(""));
}

#[test]
fn a_panicking_test_still_kills_its_server() {
    let pid = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&pid);
    let r = std::thread::spawn(move || {
        let Some(r) = RedisServer::start(false) else {
            return;
        };
        *seen.lock().unwrap() = Some((r.pid().unwrap(), r.dir().to_path_buf()));
        panic!("deliberate panic with a running redis-server");
    })
    .join();
    assert!(r.is_err() || pid.lock().unwrap().is_none());
    if let Some((pid, dir)) = pid.lock().unwrap().take() {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(!dir.exists());
    }
}

#[test]
fn three_nodes_form_a_cluster() {
    let Some(c) = RedisCluster::start(3) else {
        return;
    };
    assert_eq!(c.nodes().len(), 3);
    let urls = c.urls();
    assert_eq!(urls.split(',').count(), 3, "{urls}");
    assert!(urls.split(',').all(|u| u.starts_with("redis://127.0.0.1:")));
    for n in c.nodes() {
        let info = n.command(&["CLUSTER", "INFO"]).unwrap();
        assert!(info.contains("cluster_state:ok"), "{info}");
        assert!(info.contains("cluster_known_nodes:3"), "{info}");
    }
    // A key lives on one node; the others redirect with MOVED.
    let replies: Vec<Result<String, String>> = c
        .nodes()
        .iter()
        .map(|n| n.command(&["SET", "k", "v"]))
        .collect();
    assert_eq!(
        replies.iter().filter(|r| r.as_deref() == Ok("OK")).count(),
        1,
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| e.starts_with("-MOVED")),
        "{replies:?}"
    );
}
