//! Semaphore and BoundedSemaphore between real processes: Python's semantics (release by any
//! process, bounded over-release, timeouts), named open/type checks, and the owner-tracked mode
//! where a SIGKILLed holder's permits come back to the survivors.

mod common;

use std::time::{Duration, Instant};

use common::fork::{run_workers, wait_until, Forked, NameGuard, Outcome};
use mpshare::synchronize::fault;
use mpshare::{BoundedSemaphore, Error, Event, RawValue, Semaphore};

const KILLED: Outcome = Outcome::Signaled(libc::SIGKILL);

#[test]
fn python_semantics_plain() {
    let s = Semaphore::new(2).unwrap();
    assert!(s.try_acquire().unwrap());
    assert!(s.try_acquire().unwrap());
    assert!(!s.try_acquire().unwrap());
    assert_eq!(s.get_value(), 0);
    // Unbounded: releases beyond the initial value are fine, as in Python.
    for _ in 0..5 {
        s.release().unwrap();
    }
    assert_eq!(s.get_value(), 5);
    let t = Instant::now();
    let z = Semaphore::new(0).unwrap();
    assert!(!z.acquire_timeout(Duration::from_millis(30)).unwrap());
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(30) && e < Duration::from_secs(2),
        "{e:?}"
    );
}

#[test]
fn bounded_over_release_is_an_error() {
    let b = BoundedSemaphore::new(2).unwrap();
    assert!(matches!(
        b.release(),
        Err(Error::SemaphoreOverRelease { max: 2 })
    ));
    b.acquire().unwrap();
    b.release().unwrap();
    assert!(b.release().is_err());
    assert_eq!(b.get_value(), 2);
}

#[test]
fn released_by_another_process_wakes_the_waiter() {
    // Python's idiom: Lock acquired by one process and released by another -> Semaphore(1).
    let s = Semaphore::new(0).unwrap();
    let started = Event::new().unwrap();
    let mut child = {
        let (s, started) = (s.clone(), started.clone());
        Forked::spawn(move || {
            started.set();
            match s.acquire_timeout(Duration::from_secs(10)) {
                Ok(true) => 0,
                _ => 1,
            }
        })
    };
    assert!(started.wait_timeout(Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(20)); // let it sleep in the kernel
    s.release().unwrap();
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(s.get_value(), 0);
}

#[test]
fn concurrency_limit_is_respected_across_processes() {
    let s = BoundedSemaphore::new(2).unwrap();
    let inside = RawValue::new(0u32).unwrap();
    let peak = RawValue::new(0u32).unwrap();
    let outcomes = run_workers(5, Duration::from_secs(60), |_| {
        for _ in 0..50 {
            let _p = s.permit().unwrap();
            let now = inside.fetch_add(1) + 1;
            let mut p = peak.get();
            while now > p {
                match peak.compare_exchange(p, now) {
                    Ok(_) => break,
                    Err(x) => p = x,
                }
            }
            std::thread::yield_now();
            inside.fetch_sub(1);
        }
        0
    });
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Exited(0)),
        "{outcomes:?}"
    );
    assert_eq!(
        peak.get(),
        2,
        "two permits: at most and (with 5 workers) at least 2 inside"
    );
    assert_eq!(s.get_value(), 2);
}

#[test]
fn named_open_and_kind_checks() {
    let g = NameGuard::new("sem");
    let a = Semaphore::create(g.name(), 3).unwrap();
    let b = Semaphore::open(g.name()).unwrap();
    a.acquire().unwrap();
    assert_eq!(b.get_value(), 2);
    assert!(matches!(
        Semaphore::create(g.name(), 1),
        Err(Error::AlreadyExists { .. })
    ));
    let err = BoundedSemaphore::open(g.name()).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds Semaphore; asked for BoundedSemaphore"),
        "{err}"
    );
    assert!(matches!(
        Event::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    let c = Semaphore::open_or_create(g.name(), 100).unwrap();
    assert_eq!(c.get_value(), 2);
    drop((a, b, c));
    assert!(
        !common::fork::shm_exists(g.name()),
        "the creator unlinks on drop"
    );
}

#[test]
fn tracked_permits_of_a_killed_holder_come_back() {
    let s = Semaphore::tracked(2).unwrap();
    let held = Event::new().unwrap();
    let mut holder = {
        let (s, held) = (s.clone(), held.clone());
        Forked::spawn(move || {
            s.acquire().unwrap();
            s.acquire().unwrap();
            held.set();
            std::thread::sleep(Duration::from_secs(60));
            0
        })
    };
    assert!(held.wait_timeout(Duration::from_secs(10)));
    assert_eq!(s.get_value(), 0);
    assert!(!s.try_acquire().unwrap());
    // A waiter already blocked when the holder dies gets a permit within a bounded time.
    let waiter = {
        let s = s.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            (
                s.acquire_timeout(Duration::from_secs(10)).unwrap(),
                t.elapsed(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(holder.kill(), KILLED);
    let (ok, took) = waiter.join().unwrap();
    assert!(ok, "waiter got no permit");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(s.held_by_me(), 1);
    assert_eq!(
        s.get_value(),
        1,
        "both dead permits back, one taken by the waiter"
    );
    s.release().unwrap();
    assert!(matches!(s.release(), Err(Error::NotPermitHolder)));
    assert_eq!(s.get_value(), 2);
}

#[test]
fn tracked_holder_killed_while_updating_the_slots() {
    // The holder freezes with its slot recorded and the value not yet decremented, holding
    // the header lock; after SIGKILL the next locker (owner_died) recounts from live slots.
    let s = BoundedSemaphore::tracked(3).unwrap();
    s.acquire().unwrap(); // the parent holds one
    let mut child = {
        let s = s.clone();
        Forked::spawn(move || {
            fault::pause_at(fault::SEM_TRACKED_ACQUIRE);
            let _ = s.acquire();
            1
        })
    };
    // The child is frozen in the middle (lock held): wait until a try_acquire times out.
    assert!(wait_until(Duration::from_secs(10), || s
        .acquire_timeout(Duration::from_millis(1))
        .map(|got| {
            if got {
                s.release().unwrap();
            }
            !got
        })
        .unwrap_or(false)));
    assert_eq!(child.kill(), KILLED);
    let t = Instant::now();
    assert!(s.acquire_timeout(Duration::from_secs(5)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(s.held_by_me(), 2);
    assert_eq!(s.get_value(), 1, "recounted: 3 - 2 held by the live parent");
    s.release().unwrap();
    s.release().unwrap();
    assert_eq!(s.get_value(), 3);
}

#[test]
fn plain_mode_keeps_python_semantics_when_a_holder_dies() {
    // Python's semaphore does not know holders: a dead holder's permit stays taken.
    let s = Semaphore::new(1).unwrap();
    let mut child = {
        let s = s.clone();
        Forked::spawn(move || {
            s.acquire().unwrap();
            0
        })
    };
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(s.get_value(), 0);
    assert!(!s.acquire_timeout(Duration::from_millis(30)).unwrap());
}

#[test]
fn many_processes_acquire_release_exactly() {
    let s = Semaphore::new(3).unwrap();
    let counter = RawValue::new(0u64).unwrap();
    let outcomes = run_workers(4, Duration::from_secs(60), |_| {
        for _ in 0..2000 {
            s.acquire().unwrap();
            counter.fetch_add(1);
            s.release().unwrap();
        }
        0
    });
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Exited(0)),
        "{outcomes:?}"
    );
    assert_eq!(counter.get(), 8000);
    assert_eq!(s.get_value(), 3);
}
