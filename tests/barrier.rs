//! Barrier between real processes: arrival indices, abort/reset/n_waiting/broken as in Python,
//! timeouts breaking the barrier, and a party SIGKILLed between phases breaking it for the
//! waiters within a bounded time (Python's waits forever).

mod common;

use std::time::{Duration, Instant};

use common::fork::{run_workers, Forked, NameGuard, Outcome};
use mpshare::{Barrier, Error, RawValue};

#[test]
fn phases_across_processes_with_distinct_indices() {
    let b = Barrier::new(4).unwrap();
    let seen = RawValue::new(0u64).unwrap(); // bit per (phase, index)
    let phase_sum = RawValue::new(0u64).unwrap();
    let outcomes = run_workers(4, Duration::from_secs(60), |_| {
        for phase in 0..50u64 {
            phase_sum.fetch_add(phase);
            let i = b.wait_timeout(Duration::from_secs(20)).unwrap();
            if i >= 4 {
                return 2;
            }
            if phase == 0 {
                seen.fetch_add(1 << (i * 8));
            }
            // Everybody added this phase before anybody passed the barrier.
            let want: u64 = (0..=phase).sum::<u64>() * 4;
            if phase_sum.get() < want {
                return 3;
            }
        }
        0
    });
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Exited(0)),
        "{outcomes:?}"
    );
    assert_eq!(seen.get(), 0x0101_0101, "indices 0..4 each once in phase 0");
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
}

#[test]
fn abort_reset_and_timeout_like_python() {
    let b = Barrier::new(2).unwrap();
    let t = Instant::now();
    let r = b.wait_timeout(Duration::from_millis(30));
    assert!(
        matches!(
            r,
            Err(Error::BrokenBarrier {
                reason: "timed out"
            })
        ),
        "{r:?}"
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(b.broken());
    assert!(
        b.wait_timeout(Duration::from_secs(1)).is_err(),
        "broken until reset"
    );
    b.reset();
    assert!(!b.broken());
    // A waiter blocked during abort() gets BrokenBarrier.
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || b.wait_timeout(Duration::from_secs(10)))
    };
    assert!(common::fork::wait_until(Duration::from_secs(5), || b
        .n_waiting()
        == 1));
    b.abort();
    assert!(matches!(
        waiter.join().unwrap(),
        Err(Error::BrokenBarrier { .. })
    ));
    // A waiter blocked during reset() gets BrokenBarrier, and the barrier works afterwards.
    b.reset();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || b.wait_timeout(Duration::from_secs(10)))
    };
    assert!(common::fork::wait_until(Duration::from_secs(5), || b
        .n_waiting()
        == 1));
    b.reset();
    assert!(matches!(
        waiter.join().unwrap(),
        Err(Error::BrokenBarrier {
            reason: "reset while waiting"
        })
    ));
    let other = {
        let b = b.clone();
        std::thread::spawn(move || b.wait_timeout(Duration::from_secs(10)))
    };
    let mine = b.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(mine + other.join().unwrap().unwrap(), 1);
    assert!(matches!(
        Barrier::new(0),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn a_party_killed_between_phases_breaks_the_barrier_for_the_waiters() {
    let b = Barrier::new(3).unwrap();
    let mut victim = {
        let b = b.clone();
        Forked::spawn(move || {
            b.wait().unwrap(); // phase 1
            std::thread::sleep(Duration::from_secs(60)); // never reaches phase 2
            0
        })
    };
    let mut survivor = {
        let b = b.clone();
        Forked::spawn(move || {
            b.wait().unwrap(); // phase 1
            match b.wait() {
                Err(Error::BrokenBarrier {
                    reason: "a party died",
                }) => 0,
                other => {
                    eprintln!("survivor: {other:?}");
                    1
                }
            }
        })
    };
    b.wait_timeout(Duration::from_secs(10)).unwrap(); // phase 1
    assert!(common::fork::wait_until(Duration::from_secs(5), || b
        .n_waiting()
        == 1));
    let t = Instant::now();
    assert_eq!(victim.kill(), Outcome::Signaled(libc::SIGKILL));
    // The parent waits too (no timeout): it must be released by the death detection.
    let r = b.wait();
    let took = t.elapsed();
    assert!(matches!(r, Err(Error::BrokenBarrier { .. })), "{r:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(survivor.wait(Duration::from_secs(10)), Outcome::Exited(0));
    // Reset forgets the dead party; the two survivors of a new 2-party barrier go on.
    b.reset();
    assert!(!b.broken());
}

#[test]
fn a_waiting_party_killed_breaks_the_barrier() {
    let b = Barrier::new(3).unwrap();
    let mut victim = {
        let b = b.clone();
        Forked::spawn(move || {
            let _ = b.wait();
            0
        })
    };
    assert!(common::fork::wait_until(Duration::from_secs(5), || b
        .n_waiting()
        == 1));
    assert_eq!(victim.kill(), Outcome::Signaled(libc::SIGKILL));
    let t = Instant::now();
    let r = b.wait_timeout(Duration::from_secs(10));
    assert!(
        matches!(
            r,
            Err(Error::BrokenBarrier {
                reason: "a party died"
            })
        ),
        "{r:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn named_open_and_kind_checks() {
    let g = NameGuard::new("barrier");
    let a = Barrier::create(g.name(), 2).unwrap();
    let b = Barrier::open(g.name()).unwrap();
    assert_eq!(b.parties(), 2);
    let mut child = {
        let name = g.name().to_string();
        Forked::spawn(move || {
            let b = Barrier::open(&name).unwrap();
            i32::from(b.wait_timeout(Duration::from_secs(10)).is_err())
        })
    };
    a.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert!(matches!(
        mpshare::Event::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert_eq!(Barrier::open_or_create(g.name(), 9).unwrap().parties(), 2);
    drop((a, b));
    assert!(!common::fork::shm_exists(g.name()));
}

#[test]
fn a_declared_party_killed_before_its_first_wait_breaks_the_barrier() {
    let b = Barrier::new(3).unwrap();
    let joined = RawValue::new(0u32).unwrap();
    let mut victim = {
        let (b, joined) = (b.clone(), joined.clone());
        Forked::spawn(move || {
            b.join_party();
            joined.set(1);
            std::thread::sleep(Duration::from_secs(60)); // killed before reaching the barrier
            0
        })
    };
    let mut survivor = {
        let b = b.clone();
        Forked::spawn(move || match b.wait() {
            Err(Error::BrokenBarrier {
                reason: "a party died",
            }) => 0,
            _ => 1,
        })
    };
    assert!(common::fork::wait_until(Duration::from_secs(10), || joined
        .get()
        == 1));
    assert!(common::fork::wait_until(Duration::from_secs(10), || b
        .n_waiting()
        == 1));
    assert_eq!(victim.kill(), Outcome::Signaled(libc::SIGKILL));
    let t = Instant::now();
    let r = b.wait(); // no timeout: only the death detection can end it
    assert!(
        matches!(
            r,
            Err(Error::BrokenBarrier {
                reason: "a party died"
            })
        ),
        "{r:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(survivor.wait(Duration::from_secs(10)), Outcome::Exited(0));
}
