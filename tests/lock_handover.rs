//! Served `Lock`/`Semaphore`/`BoundedSemaphore` hand-over between connections: released by
//! another connection as in Python, while a vanished holder's hold is still given back (the
//! release it owes is then absorbed instead of over-releasing).

use mpshare::managers::objects::locks::{LockObject, SemaphoreObject};
use mpshare::managers::objects::{CallCtx, ServedObject};
use mpshare::managers::pickle::{PyDict, PyValue};

fn call(
    o: &dyn ServedObject,
    conn: u64,
    method: &str,
    args: &[PyValue],
) -> Result<PyValue, String> {
    o.call(&CallCtx::detached(conn), method, args, &PyDict::new())
        .map_err(|e| e.into_traceback())
}

fn try_acquire(o: &dyn ServedObject, conn: u64) -> bool {
    call(o, conn, "acquire", &[PyValue::Bool(false)]).unwrap() == PyValue::Bool(true)
}

#[test]
fn lock_released_by_another_connection_like_python() {
    let l = LockObject::default();
    assert!(try_acquire(&l, 1));
    call(&l, 2, "release", &[]).unwrap(); // any connection may release a Lock
    assert!(try_acquire(&l, 3));
    let e = call(&l, 3, "release", &[]).and_then(|_| call(&l, 3, "release", &[]));
    assert!(e
        .unwrap_err()
        .contains("RuntimeError: release unlocked lock"));
}

#[test]
fn vanished_holder_is_given_back_and_the_owed_release_absorbed() {
    let l = LockObject::default();
    // CPython's test_lock: a child acquires and exits, the parent releases, then releases again.
    assert!(try_acquire(&l, 1));
    l.on_disconnect(1);
    assert!(
        try_acquire(&l, 4),
        "the vanished holder's lock is given back"
    );
    call(&l, 4, "release", &[]).unwrap(); // the holder's own release clears the debt
    let e = call(&l, 2, "release", &[]).unwrap_err();
    assert!(e.contains("release unlocked lock"), "{e}");

    let l = LockObject::default();
    assert!(try_acquire(&l, 1));
    l.on_disconnect(1);
    call(&l, 2, "release", &[]).unwrap(); // pays the release the vanished holder owed
    let e = call(&l, 2, "release", &[]).unwrap_err();
    assert!(e.contains("release unlocked lock"), "{e}");

    // The owed release is paid even after someone else took the lock: their hold stays.
    let l = LockObject::default();
    assert!(try_acquire(&l, 1));
    l.on_disconnect(1);
    assert!(try_acquire(&l, 3));
    call(&l, 2, "release", &[]).unwrap();
    assert!(!try_acquire(&l, 5), "connection 3 still holds the lock");
    call(&l, 3, "release", &[]).unwrap();
    assert!(try_acquire(&l, 5));
}

#[test]
fn bounded_semaphore_child_acquires_parent_releases() {
    // CPython's test_bounded_semaphore: BoundedSemaphore(1), a child acquires and exits, the
    // parent releases.
    let s = SemaphoreObject::create(&[PyValue::Int(1)], &PyDict::new(), true).unwrap();
    assert!(try_acquire(&s, 1));
    s.on_disconnect(1);
    call(&s, 2, "release", &[]).unwrap();
    let e = call(&s, 2, "release", &[]).unwrap_err();
    assert!(
        e.contains("ValueError: Semaphore released too many times"),
        "{e}"
    );
    // One unit, as before: one acquire succeeds, the second does not.
    assert!(try_acquire(&s, 3));
    assert!(!try_acquire(&s, 4));
}

#[test]
fn plain_semaphore_keeps_its_count_through_a_vanished_holder() {
    let s = SemaphoreObject::create(&[PyValue::Int(2)], &PyDict::new(), false).unwrap();
    assert!(try_acquire(&s, 1));
    assert!(try_acquire(&s, 2));
    s.on_disconnect(1); // gives 1's unit back: one free
    call(&s, 3, "release", &[]).unwrap(); // pays 1's owed release: still one free
    assert!(try_acquire(&s, 4));
    assert!(!try_acquire(&s, 5), "two units in use (2 and 4), none free");
    call(&s, 2, "release", &[]).unwrap();
    assert!(try_acquire(&s, 5));
}
