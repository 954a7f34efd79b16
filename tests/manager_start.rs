//! `Manager::start()`: a server on a background thread, used by this process, by its threads
//! and by forked children (the Rust client against the mpshare server).

mod common;

use std::time::Duration;

use common::fork::{Forked, Outcome};
use mpshare::manager::client::{ClientConfig, Manager};
use mpshare::manager::LocalManager;

/// A client of the started server with every call bounded: a lost reply fails the test with
/// `Error::Timeout` instead of hanging the suite.
fn timed(m: &LocalManager) -> Manager {
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        server_call_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    };
    Manager::connect_with(m.address(), m.authkey().clone(), cfg).expect("connect")
}

#[test]
fn rust_client_against_started_server_all_basic_typeids() {
    let started = Manager::start().expect("start");
    let m = timed(&started);
    let d = m.dict().expect("dict");
    d.set("a", 1).unwrap();
    let a: i64 = d.get_item("a").unwrap();
    assert_eq!(a, 1);
    assert!(d.get_item::<_, i64>("missing").unwrap_err().is_key_error());
    let l = m.list().unwrap();
    l.append("x").unwrap();
    assert_eq!(l.len().unwrap(), 1);
    let q = m.queue(1).unwrap();
    q.put(5).unwrap();
    assert!(q.put_nowait(6).unwrap_err().is_full_error());
    let five: i64 = q.get().unwrap();
    assert_eq!(five, 5);
    let t0 = std::time::Instant::now();
    assert!(q
        .get_timeout::<i64>(Duration::from_millis(50))
        .unwrap_err()
        .is_empty_error());
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(45) && waited < Duration::from_secs(2),
        "get(timeout=0.05) raised Empty after {waited:?}"
    );
    let lock = m.lock().unwrap();
    lock.acquire().unwrap();
    assert!(!lock.try_acquire().unwrap());
    lock.release().unwrap();
    let e = lock.release().unwrap_err();
    assert!(e.is_remote("RuntimeError"), "{e}");
    let e = m.event().unwrap();
    e.set().unwrap();
    assert!(e.is_set().unwrap());
    let before = m.number_of_objects().unwrap();
    drop((d, l, q, lock, e));
    assert!(m.number_of_objects().unwrap() < before);
}

#[test]
fn forked_children_share_a_counter_under_a_manager_lock() {
    let started = Manager::start().expect("start");
    let m = timed(&started);
    let d = m.dict().unwrap();
    d.set("n", 0).unwrap();
    let lock = m.lock().unwrap();
    // Warm this thread's proxy connection so the children inherit it (they must not use it).
    lock.acquire().unwrap();
    lock.release().unwrap();
    let children: Vec<Forked> = (0..4)
        .map(|_| {
            Forked::spawn(|| {
                let run = || -> Result<(), i32> {
                    for _ in 0..50 {
                        let g = lock.guard().map_err(|_| 2)?;
                        let n: i64 = d.get_item("n").map_err(|_| 3)?;
                        d.set("n", n + 1).map_err(|_| 4)?;
                        drop(g);
                    }
                    Ok(())
                };
                // The child leaves with _exit: the parent's proxies are not dropped (no decref).
                run().err().unwrap_or(0)
            })
        })
        .collect();
    for mut c in children {
        assert_eq!(
            c.wait(Duration::from_secs(60)),
            Outcome::Exited(0),
            "child failed"
        );
    }
    let n: i64 = d.get_item("n").unwrap();
    assert_eq!(n, 200);
}
