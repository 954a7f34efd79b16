//! Issue 10, defects 1-3: no safe call may crash or alias shared memory.
//!
//! * Dropping the last handle of a lock this thread holds, then locking anything, must not
//!   fault (the mapping stays while a thread of this process holds its mutex), and the
//!   robust list stays intact (a thread that ends holding such a lock hands it on with
//!   `owner_died`). The crashing cases run in re-exec'd children, so a regression shows as
//!   `Signaled(11)` here instead of taking the test binary down.
//! * A second guard on the same array in one thread is refused, whatever handle reaches the
//!   segment (clones, re-opens by name, `DynArray`).
//! * Lockless handles on a locked array are refused on the safe API.
//!
//! Only APIs that existed before the fix are used, so this file also runs against the old
//! code (where the child cases die with SIGSEGV and the alias cases grant a second guard).

mod common;

use std::time::Duration;

use common::fork::{role, Exec, NameGuard, Outcome};
use mpshare::{Array, DynArray, Error, Lock, RLock, RawArray, Scalar, Value};

const CHILD_TEST: &str = "held_lock_child";

/// Lock several fresh locks (so new segments may land where the dropped one was) and `other`.
fn lock_everything_else(other: &Lock) -> i32 {
    for _ in 0..64 {
        let x = Lock::new().unwrap();
        drop(x.lock().unwrap());
        let v = Value::new(1u64).unwrap();
        v.update(|n| n + 1).unwrap();
    }
    drop(other.lock().unwrap());
    0
}

/// A case of defect 1, run in the re-exec'd child; exit code 0 = no fault, nothing wrong.
fn held_drop_case(case: &str) -> i32 {
    let other = Lock::new().unwrap();
    match case {
        "lock" => {
            let l = Lock::new().unwrap();
            let _a = l.acquire().unwrap();
            drop(l);
        }
        "rlock-nested" => {
            let l = RLock::new().unwrap();
            let _a = l.acquire().unwrap();
            let _b = l.acquire().unwrap();
            drop(l);
        }
        "value" => {
            let v = Value::new(5i32).unwrap();
            let _a = v.acquire().unwrap();
            drop(v);
        }
        "array" => {
            let a = Array::<f64>::new(64).unwrap();
            let _a = a.acquire().unwrap();
            drop(a);
        }
        "two-held-dropped-in-order" => {
            let l1 = Lock::new().unwrap();
            let l2 = RLock::new().unwrap();
            let _a = l1.acquire().unwrap();
            let _b = l2.acquire().unwrap();
            drop(l1); // the older one first: it sits behind l2 in the robust list
            drop(l2);
        }
        "clone-and-get-lock" => {
            let v = Value::new(0u8).unwrap();
            let lock = v.get_lock().clone();
            let _a = lock.acquire().unwrap();
            drop(v);
            drop(lock);
        }
        "named-reopen" => {
            let g = NameGuard::new("held-named");
            let a = Lock::create(g.name()).unwrap();
            let b = Lock::open(g.name()).unwrap(); // a second mapping of the same lock
            let _h = b.acquire().unwrap();
            drop(b); // the mapping the robust list points into
            let code = lock_everything_else(&other);
            // `a` is another mapping: the lock is held (by us), not free.
            return if a.try_acquire().unwrap().is_none() {
                code
            } else {
                7
            };
        }
        "thread-exit" => {
            // A thread ends holding a lock whose handles it dropped: the kernel walks its
            // robust list into that mapping and marks the mutex owner-died, so the next
            // acquirer through another mapping gets it with owner_died instead of a hang.
            let g = NameGuard::new("held-thread");
            let keep = Lock::create(g.name()).unwrap();
            let name = g.name().to_string();
            std::thread::spawn(move || {
                let l = Lock::open(&name).unwrap();
                let _h = l.acquire().unwrap();
                drop(l);
            })
            .join()
            .unwrap();
            let code = lock_everything_else(&other);
            return match keep.acquire_timeout(Duration::from_secs(3)) {
                Ok(Some(how)) if how.owner_died() => code,
                Ok(Some(_)) => 4,
                Ok(None) => 5, // the kernel never marked it: the robust list was broken
                Err(_) => 6,
            };
        }
        other => panic!("unknown case {other}"),
    }
    lock_everything_else(&other)
}

/// Child entry point: does nothing in a normal run.
#[test]
fn held_lock_child() {
    if let Some(case) = role() {
        std::process::exit(held_drop_case(&case));
    }
}

#[test]
fn dropping_the_last_handle_of_a_held_lock_then_locking_does_not_fault() {
    let cases = [
        "lock",
        "rlock-nested",
        "value",
        "array",
        "two-held-dropped-in-order",
        "clone-and-get-lock",
        "named-reopen",
        "thread-exit",
    ];
    let mut failed = Vec::new();
    for case in cases {
        let mut child = Exec::spawn(CHILD_TEST, case);
        let o = child.wait(Duration::from_secs(30));
        if o != Outcome::Exited(0) {
            failed.push((case, o));
        }
    }
    assert!(
        failed.is_empty(),
        "cases that faulted or failed (Signaled(11) = SIGSEGV): {failed:?}"
    );
}

#[test]
fn a_reopened_array_cannot_be_guarded_twice_by_one_thread() {
    let g = NameGuard::new("alias");
    let a = Array::<u32>::create(g.name(), 16).unwrap();
    let b = Array::<u32>::open(g.name()).unwrap();
    let mut ga = a.lock().unwrap();
    // Every other handle of the same segment is refused on this thread.
    assert!(matches!(b.lock(), Err(Error::GuardAlreadyHeld)));
    assert!(matches!(a.clone().lock(), Err(Error::GuardAlreadyHeld)));
    assert!(matches!(b.get(0), Err(Error::GuardAlreadyHeld)));
    assert!(matches!(b.set(0, 1), Err(Error::GuardAlreadyHeld)));
    assert!(matches!(b.write(0, &[1, 2]), Err(Error::GuardAlreadyHeld)));
    let d = DynArray::open(g.name()).unwrap();
    assert!(matches!(d.get(0), Err(Error::GuardAlreadyHeld)));
    assert!(matches!(
        d.set(0, Scalar::Int(9)),
        Err(Error::GuardAlreadyHeld)
    ));
    ga[0] = 42;
    // Another thread waits for the lock instead (bounded: it only tries).
    std::thread::scope(|s| {
        s.spawn(|| assert!(b.get_lock().try_acquire().unwrap().is_none()));
    });
    drop(ga);
    assert_eq!(b.get(0).unwrap(), 42);
    assert_eq!(d.get(0).unwrap(), Scalar::Int(42));
    let gb = b.lock().unwrap();
    assert!(matches!(a.lock(), Err(Error::GuardAlreadyHeld)));
    drop(gb);
}

#[test]
fn guards_on_different_arrays_sharing_one_lock_are_fine() {
    let lock = RLock::new().unwrap();
    let a = Array::<u8>::with_lock(4, &lock).unwrap();
    let b = Array::<u8>::with_lock(4, &lock).unwrap();
    let mut ga = a.lock().unwrap();
    let mut gb = b.lock().unwrap(); // different memory: no alias
    ga[0] = 1;
    gb[0] = 2;
    drop((ga, gb));
    assert_eq!((a.get(0).unwrap(), b.get(0).unwrap()), (1, 2));
}

#[test]
fn a_lockless_handle_on_a_locked_array_is_refused() {
    let g = NameGuard::new("lockless");
    let a = Array::<f64>::create(g.name(), 8).unwrap();
    let _guard = a.lock().unwrap();
    // A safe RawArray over these elements could write while `_guard` hands out &mut [f64].
    let e = RawArray::<f64>::open(g.name()).unwrap_err();
    assert!(matches!(e, Error::LayoutMismatch { .. }), "{e:?}");
    assert!(
        e.to_string().contains("with RLock") && e.to_string().contains("without a lock"),
        "{e}"
    );
}

/// An explicit `release` must not free the lock a live guard relies on: another thread
/// would then get a second `&mut [T]` over the same elements.
#[test]
fn an_explicit_release_cannot_free_the_lock_under_a_live_guard() {
    let a = Array::<u32>::new(8).unwrap();
    let g = a.lock().unwrap();
    assert!(matches!(a.release(), Err(Error::ReleaseUnderGuard)));
    assert!(matches!(
        a.get_lock().release(),
        Err(Error::ReleaseUnderGuard)
    ));
    // Still held: another thread cannot get in.
    std::thread::scope(|s| {
        s.spawn(|| assert!(a.get_lock().try_acquire().unwrap().is_none()));
    });
    // A level of our own on top of the guard's may be released, but not the guard's.
    let _ = a.acquire().unwrap();
    a.release().unwrap();
    assert!(matches!(a.release(), Err(Error::ReleaseUnderGuard)));
    drop(g);
    assert!(matches!(a.release(), Err(Error::NotOwner)));
    // An array guarded by a shared non-recursive Lock: the lock's own handle is refused too.
    let lock = Lock::new().unwrap();
    let b = Array::<u8>::with_lock(2, &lock).unwrap();
    let gb = b.lock().unwrap();
    assert!(matches!(lock.release(), Err(Error::ReleaseUnderGuard)));
    drop(gb);
    let _ = lock.try_acquire().unwrap().expect("free after the guard");
    lock.release().unwrap();
}
