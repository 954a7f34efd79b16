//! Robust locks: a holder killed by SIGKILL never deadlocks the others. The next acquirer gets
//! the lock within the bound (1 s; measured and printed) with `owner_died()` true, and
//! the lock then works normally. Covers Value's lock, standalone Lock and RLock, an RLock held
//! recursively, a named Lock held by an unrelated (exec'd) process, and a waiter already
//! blocked in `acquire` when the holder dies.

mod common;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fork::{role, wait_until, Exec, Forked, NameGuard, Outcome};
use mpshare::{Acquired, AnyLock, Error, Lock, RLock, RawValue, Result, Value};

const KILLED: Outcome = Outcome::Signaled(libc::SIGKILL);
/// The bound for the parent to get a lock whose holder was killed.
const RECOVERY_BOUND: Duration = Duration::from_secs(1);

/// The lock API shared by Lock, RLock and AnyLock (they have the same inherent methods).
trait TestLock: Sync {
    fn acq(&self) -> Result<Acquired>;
    fn acq_t(&self, t: Duration) -> Result<Option<Acquired>>;
    fn try_acq(&self) -> Result<Option<Acquired>>;
    fn rel(&self) -> Result<()>;
}

macro_rules! test_lock {
    ($($t:ty),*) => {$(
        impl TestLock for $t {
            fn acq(&self) -> Result<Acquired> { self.acquire() }
            fn acq_t(&self, t: Duration) -> Result<Option<Acquired>> { self.acquire_timeout(t) }
            fn try_acq(&self) -> Result<Option<Acquired>> { self.try_acquire() }
            fn rel(&self) -> Result<()> { self.release() }
        }
    )*};
}
test_lock!(Lock, RLock, AnyLock);

/// Child side: sleep (up to a minute) until killed.
fn sleep_until_killed() -> i32 {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    3
}

/// Fork a child that takes `lock` `depth` times, says so through shared memory and sleeps;
/// kill it, then check that the parent recovers the lock in time and that it works afterwards.
fn kill_holder_and_recover(what: &str, lock: &dyn TestLock, depth: usize) {
    let held = RawValue::new(0u32).unwrap();
    let mut child = Forked::spawn(|| {
        for _ in 0..depth {
            if lock.acq().is_err() {
                return 2;
            }
        }
        held.store(1, Ordering::Release);
        sleep_until_killed()
    });
    assert!(
        wait_until(Duration::from_secs(10), || held.load(Ordering::Acquire)
            == 1),
        "{what}: child never reported holding the lock ({:?})",
        child.try_wait()
    );
    // The child really holds it.
    assert!(
        lock.try_acq().unwrap().is_none(),
        "{what}: lock not held by child"
    );

    let t0 = Instant::now();
    assert_eq!(child.kill(), KILLED);
    let reaped = t0.elapsed();
    let how = lock
        .acq_t(Duration::from_secs(5))
        .unwrap()
        .unwrap_or_else(|| panic!("{what}: lock of a killed holder not acquired within 5 s"));
    let recovery = t0.elapsed();
    println!(
        "{what}: holder SIGKILLed (depth {depth}); reaped after {reaped:?}, parent acquired after {recovery:?}"
    );
    assert!(how.owner_died(), "{what}: owner_died() should be true");
    assert!(
        recovery < RECOVERY_BOUND,
        "{what}: recovery took {recovery:?}"
    );
    check_works_after_recovery(what, lock);
}

/// After recovery (the caller holds `lock` once): release, then the lock behaves normally,
/// here and in a new forked child.
fn check_works_after_recovery(what: &str, lock: &dyn TestLock) {
    lock.rel().unwrap();
    // Recovery leaves a count of one, even for an RLock the dead holder had taken 3 times.
    assert!(
        matches!(lock.rel(), Err(Error::NotOwner)),
        "{what}: lock still held after one release"
    );
    let again = lock.acq_t(Duration::from_secs(5)).unwrap().unwrap();
    assert!(!again.owner_died(), "{what}: owner_died reported twice");
    lock.rel().unwrap();

    let mut child = Forked::spawn(|| match lock.acq_t(Duration::from_secs(5)) {
        Ok(Some(how)) if !how.owner_died() => match lock.rel() {
            Ok(()) => 0,
            Err(_) => 4,
        },
        Ok(Some(_)) => 5,
        Ok(None) => 6,
        Err(_) => 7,
    });
    assert_eq!(
        child.wait(Duration::from_secs(20)),
        Outcome::Exited(0),
        "{what}: a new child could not take the recovered lock"
    );
    // Released cleanly by a live process: no owner_died now.
    let last = lock.acq_t(Duration::from_secs(5)).unwrap().unwrap();
    assert!(!last.owner_died());
    lock.rel().unwrap();
}

#[test]
fn standalone_lock_holder_killed() {
    kill_holder_and_recover("Lock", &Lock::new().unwrap(), 1);
}

#[test]
fn standalone_rlock_holder_killed() {
    kill_holder_and_recover("RLock", &RLock::new().unwrap(), 1);
}

#[test]
fn rlock_held_recursively_three_times_holder_killed() {
    kill_holder_and_recover("RLock x3", &RLock::new().unwrap(), 3);
}

#[test]
fn value_lock_holder_killed() {
    let v = Value::new(0i32).unwrap();
    kill_holder_and_recover("Value's lock", v.get_lock(), 1);
    assert_eq!(v.get().unwrap(), 0);
}

#[test]
fn named_lock_holder_killed() {
    let g = NameGuard::new("robust-lock");
    let created = Lock::create(g.name()).unwrap();
    let opened = Lock::open(g.name()).unwrap();
    // The child takes it through `created`, the parent recovers it through `opened`.
    let held = RawValue::new(0u32).unwrap();
    let mut child = Forked::spawn(|| {
        if created.acquire().is_err() {
            return 2;
        }
        held.store(1, Ordering::Release);
        sleep_until_killed()
    });
    assert!(wait_until(Duration::from_secs(10), || held.get() == 1));
    let t0 = Instant::now();
    assert_eq!(child.kill(), KILLED);
    let how = opened
        .acquire_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    let recovery = t0.elapsed();
    println!("named Lock (forked holder): parent acquired after {recovery:?}");
    assert!(how.owner_died());
    assert!(recovery < RECOVERY_BOUND, "recovery took {recovery:?}");
    check_works_after_recovery("named Lock", &opened);
}

#[test]
fn value_guard_holder_killed_parent_guard_reports_owner_died() {
    let v = Value::new(5i64).unwrap();
    let held = RawValue::new(0u32).unwrap();
    let mut child = Forked::spawn(|| {
        let mut g = match v.lock() {
            Ok(g) => g,
            Err(_) => return 2,
        };
        *g = 999; // never written back: the child dies before the guard drops
        held.store(1, Ordering::Release);
        sleep_until_killed()
    });
    assert!(wait_until(Duration::from_secs(10), || held.get() == 1));
    assert!(v.get_lock().try_acquire().unwrap().is_none());
    let t0 = Instant::now();
    assert_eq!(child.kill(), KILLED);

    // `v.lock()` has no timeout: run it on a thread and bound the wait for its answer.
    let (tx, rx) = mpsc::channel();
    let v2 = v.clone();
    std::thread::spawn(move || {
        let r = v2.lock().map(|g| (g.owner_died(), *g));
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    let (died, seen) = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("v.lock() did not return within 5 s of the holder's death")
        .unwrap();
    let recovery = t0.elapsed();
    println!("Value guard holder killed: parent's v.lock() returned after {recovery:?}");
    assert!(died, "the guard should report owner_died");
    assert_eq!(seen, 5, "a dead guard's copy is never written back");
    assert!(recovery < RECOVERY_BOUND, "recovery took {recovery:?}");
    let g = v.lock().unwrap();
    assert!(!g.owner_died());
}

#[test]
fn waiter_blocked_in_acquire_is_woken_when_holder_is_killed() {
    let lock = Lock::new().unwrap();
    let held = RawValue::new(0u32).unwrap();
    let mut child = Forked::spawn(|| {
        if lock.acquire().is_err() {
            return 2;
        }
        held.store(1, Ordering::Release);
        sleep_until_killed()
    });
    assert!(wait_until(Duration::from_secs(10), || held.get() == 1));
    let (tx, rx) = mpsc::channel();
    let waiter_lock = lock.clone();
    let waiter = std::thread::spawn(move || {
        let r = waiter_lock.acquire_timeout(Duration::from_secs(10));
        let at = Instant::now();
        let died = matches!(r, Ok(Some(how)) if how.owner_died());
        if matches!(r, Ok(Some(_))) {
            waiter_lock.release().unwrap();
        }
        let _ = tx.send((r.map(|o| o.is_some()).map_err(|e| e.to_string()), died, at));
    });
    // Let the waiter block in the kernel first.
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    assert_eq!(child.kill(), KILLED);
    let (got, died, at) = rx.recv_timeout(Duration::from_secs(15)).unwrap();
    waiter.join().unwrap();
    println!(
        "blocked waiter woken {:?} after the holder was SIGKILLed",
        at.saturating_duration_since(t0)
    );
    assert_eq!(got, Ok(true), "the waiter should get the lock");
    assert!(died, "the woken waiter should see owner_died");
    assert!(at.saturating_duration_since(t0) < RECOVERY_BOUND);
}

const NAMED_EXEC_TEST: &str = "named_lock_held_by_killed_unrelated_process";

/// Child roles, run in a re-exec'd test binary:
/// * `hold:<lock>:<marker>` opens the named Lock, acquires it, sets the named marker to 1, sleeps;
/// * `take:<lock>` acquires the named Lock (5 s bound); 0 if it got it without owner_died.
fn play_role(role: &str) -> i32 {
    let parts: Vec<&str> = role.split(':').collect();
    match parts.as_slice() {
        ["hold", lock, marker] => {
            let Ok(lock) = Lock::open(lock) else {
                return 10;
            };
            let Ok(marker) = RawValue::<u32>::open(marker) else {
                return 11;
            };
            match lock.acquire() {
                Ok(_) => {}
                Err(_) => return 12,
            }
            marker.store(1, Ordering::Release);
            sleep_until_killed()
        }
        ["take", lock] => {
            let Ok(lock) = Lock::open(lock) else {
                return 10;
            };
            match lock.acquire_timeout(Duration::from_secs(5)) {
                Ok(Some(how)) if !how.owner_died() => match lock.release() {
                    Ok(()) => 0,
                    Err(_) => 13,
                },
                Ok(Some(_)) => 14,
                Ok(None) => 15,
                Err(_) => 16,
            }
        }
        _ => 99,
    }
}

#[test]
fn named_lock_held_by_killed_unrelated_process() {
    if let Some(r) = role() {
        std::process::exit(play_role(&r));
    }
    let lock_name = NameGuard::new("exec-lock");
    let marker_name = NameGuard::new("exec-marker");
    let lock = Lock::create(lock_name.name()).unwrap();
    let marker = RawValue::<u32>::create(marker_name.name(), 0).unwrap();

    let mut holder = Exec::spawn(
        NAMED_EXEC_TEST,
        &format!("hold:{}:{}", lock_name.name(), marker_name.name()),
    );
    let ready = wait_until(Duration::from_secs(30), || {
        marker.load(Ordering::Acquire) == 1
    });
    assert!(
        ready,
        "exec'd holder never marked the lock held ({:?})",
        holder.try_wait()
    );
    assert!(
        lock.try_acquire().unwrap().is_none(),
        "lock not held by the exec'd process"
    );

    let t0 = Instant::now();
    assert_eq!(holder.kill(), KILLED);
    let how = lock
        .acquire_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("named lock of a killed unrelated holder not acquired within 5 s");
    let recovery = t0.elapsed();
    println!(
        "named Lock held by a killed exec'd process (pid {}): parent acquired after {recovery:?}",
        holder.id()
    );
    assert!(how.owner_died());
    assert!(recovery < RECOVERY_BOUND, "recovery took {recovery:?}");
    lock.release().unwrap();

    // Works normally afterwards, for this process and for another unrelated one.
    let again = lock.acquire().unwrap();
    assert!(!again.owner_died());
    lock.release().unwrap();
    let mut taker = Exec::spawn(NAMED_EXEC_TEST, &format!("take:{}", lock_name.name()));
    assert_eq!(taker.wait(Duration::from_secs(30)), Outcome::Exited(0));
    check_works_after_recovery_named(&lock);
}

fn check_works_after_recovery_named(lock: &Lock) {
    let g = lock.lock().unwrap();
    assert!(!g.owner_died());
}

#[test]
fn thread_that_exits_holding_several_locks_hands_each_on_with_owner_died() {
    // A thread (not a process) ends while holding a Lock, an RLock twice and a Value's lock,
    // all taken on the uncontended path: the kernel walks the dead thread's robust list and
    // marks every one of them, so this thread gets each with `owner_died()`.
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let value = Value::new(7u32).unwrap();
    let (l2, r2, v2) = (lock.clone(), rlock.clone(), value.clone());
    std::thread::spawn(move || {
        let _ = l2.acquire().unwrap();
        let _ = r2.acquire().unwrap();
        let _ = r2.acquire().unwrap();
        let _ = v2.acquire().unwrap();
        // Ends without releasing anything.
    })
    .join()
    .unwrap();
    for (what, l) in [
        ("Lock", &lock as &dyn TestLock),
        ("RLock", &rlock as &dyn TestLock),
        ("Value's lock", value.get_lock() as &dyn TestLock),
    ] {
        let how = l
            .acq_t(Duration::from_secs(5))
            .unwrap()
            .unwrap_or_else(|| panic!("{what} of a finished thread not acquired within 5 s"));
        assert!(how.owner_died(), "{what}: owner_died not reported");
        check_works_after_recovery(what, l); // releases it, then re-checks in a child
    }
    assert_eq!(value.get().unwrap(), 7);
}
