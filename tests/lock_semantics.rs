//! Lock and RLock semantics: recursion counting, ownership (threads and processes), deadlock
//! detection, timeouts, non-blocking acquires, array guard re-entry, and shared locks.

mod common;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fork::{wait_until, Forked, Outcome};
use mpshare::{Array, Error, Lock, RLock, RawValue, Value};

#[test]
fn rlock_recursion_counts_and_extra_release_is_not_owner() {
    let l = RLock::new().unwrap();
    for _ in 0..3 {
        assert!(!l.acquire().unwrap().owner_died());
    }
    // Another thread cannot take it while any level is held.
    for _ in 0..3 {
        let l2 = l.clone();
        let free = std::thread::spawn(move || l2.try_acquire().unwrap().is_some())
            .join()
            .unwrap();
        assert!(!free, "RLock free while still held");
        l.release().unwrap();
    }
    assert!(matches!(l.release(), Err(Error::NotOwner)));
    // Now free for others.
    let l2 = l.clone();
    let got = std::thread::spawn(move || {
        let ok = l2.try_acquire().unwrap().is_some();
        if ok {
            l2.release().unwrap();
        }
        ok
    })
    .join()
    .unwrap();
    assert!(got);
}

#[test]
fn lock_reacquire_by_holder_would_deadlock_and_try_acquire_is_none() {
    let l = Lock::new().unwrap();
    let _ = l.acquire().unwrap();
    assert!(matches!(l.acquire(), Err(Error::WouldDeadlock)));
    assert!(matches!(l.lock(), Err(Error::WouldDeadlock)));
    assert!(l.try_acquire().unwrap().is_none());
    assert!(l.try_lock().unwrap().is_none());
    // acquire_timeout by the holder: no hang, either None or WouldDeadlock.
    let t0 = Instant::now();
    match l.acquire_timeout(Duration::from_millis(50)) {
        Ok(None) | Err(Error::WouldDeadlock) => {}
        other => panic!("acquire_timeout by holder gave {other:?}"),
    }
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "50 ms acquire_timeout took {took:?}"
    );
    // Still held exactly once.
    l.release().unwrap();
    assert!(matches!(l.release(), Err(Error::NotOwner)));
}

#[test]
fn release_unheld_is_not_owner() {
    assert!(matches!(
        Lock::new().unwrap().release(),
        Err(Error::NotOwner)
    ));
    assert!(matches!(
        RLock::new().unwrap().release(),
        Err(Error::NotOwner)
    ));
    let v = Value::new(0u8).unwrap();
    assert!(matches!(v.release(), Err(Error::NotOwner)));
    let a = Array::<u8>::new(1).unwrap();
    assert!(matches!(a.release(), Err(Error::NotOwner)));
}

#[test]
fn release_by_non_owner_thread_is_not_owner() {
    for recursive in [false, true] {
        let lock: mpshare::AnyLock = if recursive {
            RLock::new().unwrap().into()
        } else {
            Lock::new().unwrap().into()
        };
        let _ = lock.acquire().unwrap();
        let other = lock.clone();
        let r = std::thread::spawn(move || other.release().map_err(|e| e.to_string()))
            .join()
            .unwrap();
        assert!(
            r.as_ref().is_err_and(|e| e.contains("does not hold")),
            "recursive={recursive}: {r:?}"
        );
        // Still ours.
        lock.release().unwrap();
    }
}

/// Exit codes of a child that tries to release the parent's lock.
fn release_code(r: mpshare::Result<()>) -> i32 {
    match r {
        Err(Error::NotOwner) => 0,
        Ok(()) => 1,
        Err(_) => 2,
    }
}

#[test]
fn release_by_non_owner_process_is_not_owner() {
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let v = Value::new(1u32).unwrap();
    let _ = lock.acquire().unwrap();
    let _ = rlock.acquire().unwrap();
    let _ = v.acquire().unwrap();
    let mut child = Forked::spawn(|| {
        let a = release_code(lock.release());
        let b = release_code(rlock.release());
        let c = release_code(v.release());
        a * 100 + b * 10 + c // 0 when every release said NotOwner
    });
    assert_eq!(
        child.wait(Duration::from_secs(20)),
        Outcome::Exited(0),
        "child's releases: code = Lock*100 + RLock*10 + Value (0 NotOwner, 1 released!, 2 other error)"
    );
    lock.release().unwrap();
    rlock.release().unwrap();
    v.release().unwrap();
}

#[test]
fn acquire_timeout_on_lock_held_by_thread_returns_none() {
    let l = Lock::new().unwrap();
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let l2 = l.clone();
    let holder = std::thread::spawn(move || {
        let g = l2.lock().unwrap();
        held_tx.send(()).unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(30));
        drop(g);
    });
    held_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let timeout = Duration::from_millis(200);
    let t0 = Instant::now();
    let r = l.acquire_timeout(timeout).unwrap();
    let waited = t0.elapsed();
    println!("acquire_timeout({timeout:?}) on a thread-held Lock returned None after {waited:?}");
    assert!(r.is_none());
    assert!(waited >= timeout, "returned before the timeout: {waited:?}");
    assert!(
        waited < Duration::from_secs(2),
        "a {timeout:?} timeout returned after {waited:?}"
    );
    assert!(l.lock_timeout(timeout).unwrap().is_none());
    assert!(l.acquire_with(true, Some(timeout)).unwrap().is_none());
    assert!(l.try_acquire().unwrap().is_none());
    assert!(l.acquire_with(false, None).unwrap().is_none());
    assert!(l
        .acquire_with(false, Some(Duration::from_secs(3600)))
        .unwrap()
        .is_none());
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    // Free now: every form succeeds.
    assert!(l.acquire_with(false, None).unwrap().is_some());
    l.release().unwrap();
    assert!(l.acquire_with(true, None).unwrap().is_some());
    l.release().unwrap();
    assert!(l.acquire_with(true, Some(timeout)).unwrap().is_some());
    l.release().unwrap();
    assert!(l.acquire_timeout(Duration::ZERO).unwrap().is_some());
    l.release().unwrap();
}

#[test]
fn acquire_timeout_on_lock_held_by_process_returns_none() {
    let l = RLock::new().unwrap();
    let held = RawValue::new(0u32).unwrap();
    let release = RawValue::new(0u32).unwrap();
    let mut child = Forked::spawn(|| {
        if l.acquire().is_err() {
            return 2;
        }
        held.store(1, Ordering::Release);
        let end = Instant::now() + Duration::from_secs(30);
        while release.load(Ordering::Acquire) == 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        match l.release() {
            Ok(()) => 0,
            Err(_) => 3,
        }
    });
    assert!(wait_until(Duration::from_secs(10), || held.get() == 1));
    let timeout = Duration::from_millis(200);
    let t0 = Instant::now();
    let r = l.acquire_timeout(timeout).unwrap();
    let waited = t0.elapsed();
    println!("acquire_timeout({timeout:?}) on a process-held RLock returned None after {waited:?}");
    assert!(r.is_none());
    assert!(waited >= timeout, "returned before the timeout: {waited:?}");
    assert!(
        waited < Duration::from_secs(2),
        "a {timeout:?} timeout returned after {waited:?}"
    );
    assert!(l.try_acquire().unwrap().is_none());
    assert!(l.acquire_with(false, None).unwrap().is_none());
    release.set(1);
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    // Released normally by the child: acquirable, and nobody died holding it.
    let how = l.acquire_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert!(!how.owner_died());
    l.release().unwrap();
}

#[test]
fn acquire_with_false_on_free_lock_acquires() {
    let l = RLock::new().unwrap();
    let how = l.acquire_with(false, None).unwrap().unwrap();
    assert!(!how.owner_died());
    // RLock: the holder re-enters even without blocking.
    assert!(l.acquire_with(false, None).unwrap().is_some());
    l.release().unwrap();
    l.release().unwrap();
    assert!(matches!(l.release(), Err(Error::NotOwner)));
}

#[test]
fn array_guard_taken_twice_in_one_thread_is_guard_already_held() {
    let a = Array::<i32>::from_slice(&[1, 2, 3]).unwrap();
    let g = a.lock().unwrap();
    assert!(matches!(a.lock(), Err(Error::GuardAlreadyHeld)));
    // Through a clone (same memory) too.
    let b = a.clone();
    assert!(matches!(b.lock(), Err(Error::GuardAlreadyHeld)));
    // Methods that take a guard internally fail the same way instead of aliasing.
    assert!(matches!(a.get(0), Err(Error::GuardAlreadyHeld)));
    assert_eq!(g.iter().sum::<i32>(), 6);
    drop(g);
    // The failed attempts did not leave extra lock levels behind: another thread can lock it.
    let a2 = a.clone();
    let free = std::thread::spawn(move || a2.get_lock().try_lock().unwrap().is_some())
        .join()
        .unwrap();
    assert!(free, "failed guard attempts leaked lock levels");
    let mut g = a.lock().unwrap();
    g[0] = 10;
    drop(g);
    assert_eq!(a.to_vec().unwrap(), vec![10, 2, 3]);
}

#[test]
fn guards_on_two_different_arrays_in_one_thread_are_fine() {
    let a = Array::<u8>::new(2).unwrap();
    let b = Array::<u8>::new(2).unwrap();
    let mut ga = a.lock().unwrap();
    let mut gb = b.lock().unwrap();
    ga[0] = 1;
    gb[1] = 2;
    drop((ga, gb));
    assert_eq!(
        (a.to_vec().unwrap(), b.to_vec().unwrap()),
        (vec![1, 0], vec![0, 2])
    );
}

#[test]
fn values_sharing_one_lock_via_with_lock() {
    // A shared non-recursive Lock: holding it through `a` blocks `b` for everyone, and for the
    // holder too (WouldDeadlock instead of a hang).
    let lock = Lock::new().unwrap();
    let a = Value::with_lock(1i32, &lock).unwrap();
    let b = Value::with_lock(2i32, &lock).unwrap();
    assert!(!a.get_lock().is_recursive());
    let g = a.lock().unwrap();
    assert!(b.get_lock().try_acquire().unwrap().is_none());
    assert!(lock.try_acquire().unwrap().is_none());
    assert!(matches!(b.set(3), Err(Error::WouldDeadlock)));
    let b2 = b.clone();
    let other = std::thread::spawn(move || {
        b2.get_lock()
            .acquire_timeout(Duration::from_millis(100))
            .unwrap()
            .is_none()
    })
    .join()
    .unwrap();
    assert!(
        other,
        "another thread got b's lock while a's guard held the shared lock"
    );
    drop(g);
    b.set(3).unwrap();
    assert_eq!((a.get().unwrap(), b.get().unwrap()), (1, 3));

    // A shared RLock: the holder re-enters through the other value.
    let rlock = RLock::new().unwrap();
    let c = Value::with_lock(0u64, &rlock).unwrap();
    let d = Array::<u64>::with_lock(2, &rlock).unwrap();
    {
        let mut gc = c.lock().unwrap();
        *gc = 7;
        d.set(1, 8).unwrap(); // re-enters the shared RLock
        let d2 = d.clone();
        let blocked = std::thread::spawn(move || d2.get_lock().try_acquire().unwrap().is_none())
            .join()
            .unwrap();
        assert!(blocked);
    }
    assert_eq!(c.get().unwrap(), 7);
    assert_eq!(d.to_vec().unwrap(), vec![0, 8]);
    assert!(matches!(rlock.release(), Err(Error::NotOwner)));
}

#[test]
fn shared_lock_across_processes_serialises_two_values() {
    // Two values under one lock, updated together by forked workers: an observer process
    // holding the lock always sees them equal, however often it looks while they run.
    let lock = Lock::new().unwrap();
    let a = Value::with_lock(0i64, &lock).unwrap();
    let b = Value::with_lock(0i64, &lock).unwrap();
    let writers_done = RawValue::new(0u32).unwrap();
    let looks = RawValue::new(0u64).unwrap();
    let torn = RawValue::new(0u64).unwrap();
    let mid_run = RawValue::new(0u64).unwrap();
    const WRITERS: usize = 3;
    let outcomes = common::fork::run_workers(WRITERS + 1, Duration::from_secs(60), |w| {
        if w == WRITERS {
            // The observer: looks under the lock until every writer is done.
            let end = Instant::now() + Duration::from_secs(50);
            while writers_done.load(Ordering::Acquire) < WRITERS as u32 && Instant::now() < end {
                let Ok(g) = lock.lock() else { return 2 };
                let (x, y) = (a.get_obj().get(), b.get_obj().get());
                drop(g);
                looks.fetch_add(1);
                if x != y {
                    torn.fetch_add(1);
                }
                if x > 0 && x < (WRITERS * 2_000) as i64 {
                    mid_run.fetch_add(1);
                }
                std::thread::yield_now();
            }
            return 0;
        }
        for _ in 0..2_000 {
            let Ok(g) = lock.lock() else { return 2 };
            a.get_obj().set(a.get_obj().get() + 1);
            // Widen the window between the two writes: only the lock keeps it closed.
            std::thread::yield_now();
            b.get_obj().set(b.get_obj().get() + 1);
            drop(g);
        }
        writers_done.fetch_add(1);
        0
    });
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Exited(0)),
        "{outcomes:?}"
    );
    println!(
        "observer looked {} times ({} while the writers were part-way), saw a != b {} times",
        looks.get(),
        mid_run.get(),
        torn.get()
    );
    assert!(
        mid_run.get() > 0,
        "the observer never looked while the writers ran"
    );
    assert_eq!(torn.get(), 0, "the observer saw the two values differ");
    let g = lock.lock().unwrap();
    assert_eq!(a.get_obj().get(), 6_000);
    assert_eq!(b.get_obj().get(), 6_000);
    drop(g);
}

#[test]
fn value_lock_is_recursive_by_default() {
    let v = Value::new(1i32).unwrap();
    assert!(v.get_lock().is_recursive());
    let g = v.lock().unwrap();
    // The same thread may read through the RLock while holding the guard (old value).
    assert_eq!(v.get().unwrap(), 1);
    drop(g);
    let _ = v.acquire().unwrap();
    let _ = v.acquire().unwrap();
    v.release().unwrap();
    v.release().unwrap();
    assert!(matches!(v.release(), Err(Error::NotOwner)));
}
