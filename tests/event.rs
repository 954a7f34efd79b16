//! Event between real processes: set/clear/is_set/wait/wait_timeout as in Python, named
//! open/type checks, and a waiter killed mid-wait that leaves the event working.

mod common;

use std::time::{Duration, Instant};

use common::fork::{Forked, NameGuard, Outcome};
use mpshare::{Error, Event, RawValue, Semaphore};

#[test]
fn python_semantics() {
    let e = Event::new().unwrap();
    assert!(!e.is_set());
    let t = Instant::now();
    assert!(!e.wait_timeout(Duration::from_millis(30)));
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(30) && el < Duration::from_secs(2),
        "{el:?}"
    );
    e.set();
    assert!(e.is_set());
    assert!(e.wait_timeout(Duration::from_secs(1)));
    e.wait();
    e.clear();
    assert!(!e.is_set());
    e.clear();
    assert!(!e.is_set());
}

#[test]
fn set_wakes_every_waiting_process() {
    let e = Event::new().unwrap();
    let ready = RawValue::new(0u32).unwrap();
    let mut kids: Vec<Forked> = (0..4)
        .map(|_| {
            let (e, ready) = (e.clone(), ready.clone());
            Forked::spawn(move || {
                ready.fetch_add(1);
                if e.wait_timeout(Duration::from_secs(20)) {
                    0
                } else {
                    1
                }
            })
        })
        .collect();
    assert!(common::fork::wait_until(Duration::from_secs(10), || ready
        .get()
        == 4));
    std::thread::sleep(Duration::from_millis(30));
    let t = Instant::now();
    e.set();
    for k in &mut kids {
        assert_eq!(k.wait(Duration::from_secs(10)), Outcome::Exited(0));
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_killed_waiter_does_not_disturb_the_others() {
    let e = Event::new().unwrap();
    let mut victim = {
        let e = e.clone();
        Forked::spawn(move || {
            e.wait();
            0
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(victim.kill(), Outcome::Signaled(libc::SIGKILL));
    let mut waiter = {
        let e = e.clone();
        Forked::spawn(move || i32::from(!e.wait_timeout(Duration::from_secs(10))))
    };
    std::thread::sleep(Duration::from_millis(30));
    e.set();
    assert_eq!(waiter.wait(Duration::from_secs(10)), Outcome::Exited(0));
}

#[test]
fn ping_pong_between_processes() {
    let (a, b) = (Event::new().unwrap(), Event::new().unwrap());
    let mut child = {
        let (a, b) = (a.clone(), b.clone());
        Forked::spawn(move || {
            for _ in 0..2000 {
                if !a.wait_timeout(Duration::from_secs(10)) {
                    return 1;
                }
                a.clear();
                b.set();
            }
            0
        })
    };
    for _ in 0..2000 {
        a.set();
        assert!(b.wait_timeout(Duration::from_secs(10)));
        b.clear();
    }
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
}

#[test]
fn named_open_and_kind_checks() {
    let g = NameGuard::new("event");
    let a = Event::create(g.name()).unwrap();
    let b = Event::open(g.name()).unwrap();
    a.set();
    assert!(b.is_set());
    let c = Event::open_or_create(g.name()).unwrap();
    assert!(c.is_set());
    let err = Semaphore::open(g.name()).unwrap_err();
    assert!(
        err.to_string().contains("holds Event; asked for Semaphore"),
        "{err}"
    );
    assert!(matches!(
        Event::create(g.name()),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        Event::open("mpshare-test-no-such-event"),
        Err(Error::NotFound { .. })
    ));
    drop((a, b, c));
    assert!(!common::fork::shm_exists(g.name()));
}

#[test]
fn a_set_then_clear_pulse_still_wakes_every_waiter() {
    // Python: a waiter blocked in wait() returns True after set(), even if clear() follows at
    // once (before the waiter runs again).
    let e = Event::new().unwrap();
    let ready = RawValue::new(0u32).unwrap();
    let mut kids: Vec<Forked> = (0..3)
        .map(|_| {
            let (e, ready) = (e.clone(), ready.clone());
            Forked::spawn(move || {
                ready.fetch_add(1);
                i32::from(!e.wait_timeout(Duration::from_secs(20)))
            })
        })
        .collect();
    assert!(common::fork::wait_until(Duration::from_secs(10), || ready
        .get()
        == 3));
    std::thread::sleep(Duration::from_millis(50));
    e.set();
    e.clear();
    for k in &mut kids {
        assert_eq!(k.wait(Duration::from_secs(10)), Outcome::Exited(0));
    }
    assert!(!e.is_set());
}
