//! Condition between real processes: wait/notify(n)/notify_all/wait_for as in Python, over its
//! own RLock or a shared Lock, RLock levels restored after a wait, a SIGKILLed waiter that does
//! not swallow notifications, and a lock holder SIGKILLed while a waiter re-acquires
//! (owner_died reported like the lock reports it).

mod common;

use std::time::{Duration, Instant};

use common::fork::{wait_until, Forked, NameGuard, Outcome};
use mpshare::synchronize::fault;
use mpshare::{Condition, Error, Lock, RLock, RawValue, Value};

const KILLED: Outcome = Outcome::Signaled(libc::SIGKILL);

/// The process is asleep (state `S` in `/proc/<pid>/stat`).
fn sleeping(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            t.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('S'))
        })
        .unwrap_or(false)
}

/// Pin the calling thread (and so the children it forks) to the CPU it runs on: notify then
/// hands sleepers to the lock by requeueing them (it wakes waiters last seen on another CPU).
fn pin_here() {
    // SAFETY: sched_getcpu has no arguments; the set is a zeroed local with one CPU added.
    unsafe {
        let cpu = libc::sched_getcpu().max(0) as usize;
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// `n` child processes that each wait once (holding the lock while they register) and add 1
/// to `woken` if notified.
fn waiters(
    cond: &Condition,
    n: usize,
    ready: &RawValue<u32>,
    woken: &RawValue<u32>,
) -> Vec<Forked> {
    (0..n)
        .map(|_| {
            let (cond, ready, woken) = (cond.clone(), ready.clone(), woken.clone());
            Forked::spawn(move || {
                let _g = cond.lock().unwrap();
                ready.fetch_add(1);
                let w = cond.wait_timeout(Duration::from_secs(20)).unwrap();
                if w.notified() {
                    woken.fetch_add(1);
                    0
                } else {
                    1
                }
            })
        })
        .collect()
}

#[test]
fn notify_n_wakes_n_processes_and_notify_all_the_rest() {
    let cond = Condition::new().unwrap();
    let (ready, woken) = (RawValue::new(0u32).unwrap(), RawValue::new(0u32).unwrap());
    let mut kids = waiters(&cond, 3, &ready, &woken);
    assert!(wait_until(Duration::from_secs(10), || ready.get() == 3));
    // Taking the lock proves all three released it inside wait(); then wait until all three
    // sleep in the kernel (a waiter still on its way would see the notify too: POSIX allows
    // such extra wake-ups, and this test counts exactly).
    drop(cond.lock().unwrap());
    assert!(wait_until(Duration::from_secs(10), || kids
        .iter()
        .all(|k| sleeping(k.pid().as_raw()))));
    std::thread::sleep(Duration::from_millis(20));
    {
        let _g = cond.lock().unwrap();
        cond.notify(1).unwrap();
    }
    assert!(wait_until(Duration::from_secs(5), || woken.get() >= 1));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        woken.get(),
        1,
        "notify(1) woke exactly one sleeping process"
    );
    {
        let _g = cond.lock().unwrap();
        cond.notify(1).unwrap();
    }
    assert!(wait_until(Duration::from_secs(5), || woken.get() >= 2));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(woken.get(), 2);
    {
        let _g = cond.lock().unwrap();
        cond.notify_all().unwrap();
    }
    for k in &mut kids {
        assert_eq!(k.wait(Duration::from_secs(10)), Outcome::Exited(0));
    }
    assert_eq!(woken.get(), 3);
}

#[test]
fn python_semantics_single_process() {
    let cond = Condition::new().unwrap();
    assert!(matches!(cond.wait(), Err(Error::NotOwner)));
    assert!(matches!(
        cond.wait_timeout(Duration::from_millis(1)),
        Err(Error::NotOwner)
    ));
    // RLock held twice: wait releases both levels and restores both.
    assert!(!cond.acquire().unwrap().owner_died());
    assert!(!cond.acquire().unwrap().owner_died());
    let other = {
        let c = cond.clone();
        std::thread::spawn(move || c.get_lock().try_acquire().map(|a| a.is_some()))
    };
    // While we hold it, another thread cannot take it ...
    assert!(!other.join().unwrap().unwrap());
    let c2 = cond.clone();
    let t = std::thread::spawn(move || {
        // ... but during our wait it can.
        let ok = wait_until(Duration::from_secs(5), || {
            c2.get_lock().try_acquire().unwrap().is_some()
        });
        if ok {
            c2.notify(1).unwrap();
            c2.release().unwrap();
        }
        ok
    });
    let t0 = Instant::now();
    let w = cond.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(t.join().unwrap());
    assert!(w.notified() && !w.owner_died());
    assert!(t0.elapsed() < Duration::from_secs(5));
    cond.release().unwrap();
    cond.release().unwrap();
    assert!(matches!(cond.release(), Err(Error::NotOwner)));
    // wait_for with a predicate that never holds times out with its value.
    let _g = cond.lock().unwrap();
    let t0 = Instant::now();
    let w = cond
        .wait_for(|| false, Some(Duration::from_millis(30)))
        .unwrap();
    assert!(!w.notified());
    assert!(t0.elapsed() >= Duration::from_millis(30));
}

#[test]
fn over_a_shared_value_lock_between_processes() {
    let v = Value::new(0u64).unwrap();
    let cond = Condition::with_lock(v.get_lock().clone()).unwrap();
    // Ping-pong: the child makes the value odd, the parent even, 500 times each.
    let mut child = {
        let (v, cond) = (v.clone(), cond.clone());
        Forked::spawn(move || {
            for i in 0..500u64 {
                let _g = cond.lock().unwrap();
                let w = cond
                    .wait_for(|| v.get_obj().get() == 2 * i, Some(Duration::from_secs(10)))
                    .unwrap();
                if !w.notified() {
                    return 1;
                }
                v.get_obj().set(2 * i + 1);
                cond.notify(1).unwrap();
            }
            0
        })
    };
    for i in 0..500u64 {
        let _g = cond.lock().unwrap();
        let w = cond
            .wait_for(
                || v.get_obj().get() == 2 * i + 1,
                Some(Duration::from_secs(10)),
            )
            .unwrap();
        assert!(w.notified());
        v.get_obj().set(2 * i + 2);
        cond.notify(1).unwrap();
    }
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(v.get().unwrap(), 1000);
}

/// Four processes take turns (`turn % 4 == i`) under one Condition with `notify_all`: every
/// hand-off mixes requeued waiters and plain lockers on the lock's futex, and none is lost.
#[test]
fn four_processes_take_turns_with_notify_all() {
    const ROUNDS: u64 = 300;
    let v = Value::new(0u64).unwrap();
    let cond = Condition::with_lock(v.get_lock().clone()).unwrap();
    let mut kids: Vec<Forked> = (0..4u64)
        .map(|me| {
            let (v, cond) = (v.clone(), cond.clone());
            Forked::spawn(move || {
                for _ in 0..ROUNDS {
                    let _g = cond.lock().unwrap();
                    let w = cond
                        .wait_for(
                            || v.get_obj().get() % 4 == me,
                            Some(Duration::from_secs(20)),
                        )
                        .unwrap();
                    if !w.notified() {
                        return 1;
                    }
                    v.get_obj().set(v.get_obj().get() + 1);
                    cond.notify_all().unwrap();
                }
                0
            })
        })
        .collect();
    for k in &mut kids {
        assert_eq!(k.wait(Duration::from_secs(30)), Outcome::Exited(0));
    }
    assert_eq!(v.get().unwrap(), 4 * ROUNDS);
}

#[test]
fn a_killed_waiter_does_not_swallow_a_notification() {
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let (ready, woken) = (RawValue::new(0u32).unwrap(), RawValue::new(0u32).unwrap());
    // The victim freezes inside wait (registered, lock released) and is killed there.
    let mut victim = {
        let (cond, ready) = (cond.clone(), ready.clone());
        Forked::spawn(move || {
            fault::pause_at(fault::CONDITION_WAIT);
            let _g = cond.lock().unwrap();
            ready.fetch_add(1);
            let _ = cond.wait();
            1
        })
    };
    assert!(wait_until(Duration::from_secs(10), || ready.get() == 1));
    let mut live = waiters(&cond, 1, &ready, &woken);
    assert!(wait_until(Duration::from_secs(10), || ready.get() == 2));
    drop(cond.lock().unwrap());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(victim.kill(), KILLED);
    {
        let _g = cond.lock().unwrap();
        cond.notify(1).unwrap();
    }
    assert_eq!(live[0].wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(woken.get(), 1);
}

/// `n` children that wait (each registered and asleep before the next starts), all notified
/// by one `notify_all` under the lock: they are handed the lock one after another.
#[test]
fn notify_all_hands_the_lock_from_waiter_to_waiter() {
    pin_here();
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let (ready, woken) = (RawValue::new(0u32).unwrap(), RawValue::new(0u32).unwrap());
    let mut kids = Vec::new();
    for i in 0..4u32 {
        kids.extend(waiters(&cond, 1, &ready, &woken));
        assert!(wait_until(Duration::from_secs(10), || ready.get() == i + 1));
        drop(cond.lock().unwrap());
        assert!(wait_until(Duration::from_secs(10), || kids
            .iter()
            .all(|k| sleeping(k.pid().as_raw()))));
    }
    {
        let _g = cond.lock().unwrap();
        cond.notify_all().unwrap();
    }
    for k in &mut kids {
        assert_eq!(
            k.wait(Duration::from_secs(10)),
            Outcome::Exited(0),
            "every notified waiter got the lock in turn"
        );
    }
    assert_eq!(woken.get(), 4);
}

/// A notified waiter killed after its wake-up, before it re-acquires the lock, must not
/// keep the next waiter from being woken (the wake-up is passed on).
#[test]
fn a_waiter_killed_between_wake_up_and_reacquire_passes_the_wake_up_on() {
    pin_here();
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let (ready, woken) = (RawValue::new(0u32).unwrap(), RawValue::new(0u32).unwrap());
    // The victim sleeps first, so it is first in line for the lock after the notify.
    let mut victim = {
        let (cond, ready) = (cond.clone(), ready.clone());
        Forked::spawn(move || {
            fault::pause_at(fault::CONDITION_REACQUIRE);
            let _g = cond.lock().unwrap();
            ready.fetch_add(1);
            let _ = cond.wait_timeout(Duration::from_secs(30));
            1
        })
    };
    assert!(wait_until(Duration::from_secs(10), || ready.get() == 1));
    drop(cond.lock().unwrap());
    assert!(wait_until(Duration::from_secs(10), || sleeping(
        victim.pid().as_raw()
    )));
    let mut live = waiters(&cond, 1, &ready, &woken);
    assert!(wait_until(Duration::from_secs(10), || ready.get() == 2));
    drop(cond.lock().unwrap());
    assert!(wait_until(Duration::from_secs(10), || sleeping(
        live[0].pid().as_raw()
    )));
    std::thread::sleep(Duration::from_millis(20));
    {
        let _g = cond.lock().unwrap();
        cond.notify_all().unwrap();
    }
    // The victim is woken first and freezes before re-acquiring; kill it there.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(woken.get(), 0, "the victim was first in line");
    assert_eq!(victim.kill(), KILLED);
    assert_eq!(
        live[0].wait(Duration::from_secs(10)),
        Outcome::Exited(0),
        "the live waiter got the wake-up the killed one had"
    );
    assert_eq!(woken.get(), 1);
    assert!(!cond.lock().unwrap().owner_died());
}

#[test]
fn lock_holder_killed_while_a_waiter_reacquires_reports_owner_died() {
    let cond = Condition::with_lock(RLock::new().unwrap()).unwrap();
    let flag = RawValue::new(0u32).unwrap();
    let guard = cond.lock().unwrap();
    let holder = {
        let (cond, flag) = (cond.clone(), flag.clone());
        Forked::spawn(move || {
            let _g = cond.lock().unwrap(); // blocks until the parent waits
            flag.set(1);
            cond.notify(1).unwrap();
            std::thread::sleep(Duration::from_secs(60)); // dies holding the lock
            0
        })
    };
    let killer = {
        let flag = flag.clone();
        let mut holder = holder;
        std::thread::spawn(move || {
            let seen = wait_until(Duration::from_secs(10), || flag.get() == 1);
            std::thread::sleep(Duration::from_millis(50));
            (seen, holder.kill())
        })
    };
    let t = Instant::now();
    let w = cond
        .wait_for(|| flag.get() == 1, Some(Duration::from_secs(10)))
        .unwrap();
    let (seen, outcome) = killer.join().unwrap();
    assert!(seen);
    assert_eq!(outcome, KILLED);
    assert!(w.notified());
    assert!(w.owner_died(), "re-acquiring after the holder died says so");
    assert!(t.elapsed() < Duration::from_secs(5));
    // The lock is ours (one level, as before the wait) and usable.
    drop(guard);
    assert!(matches!(cond.release(), Err(Error::NotOwner)));
    let again = cond.lock().unwrap();
    assert!(!again.owner_died(), "made consistent: reported once");
}

#[test]
fn named_open_and_kind_checks() {
    let g = NameGuard::new("cond");
    let gl = NameGuard::new("cond-lock");
    let a = Condition::create(g.name()).unwrap();
    let b = Condition::open(g.name()).unwrap();
    assert!(b.get_lock().is_recursive());
    let mut child = {
        let name = g.name().to_string();
        Forked::spawn(move || {
            let c = Condition::open(&name).unwrap();
            let _g = c.lock().unwrap();
            c.notify_all().unwrap();
            0
        })
    };
    {
        let _g = a.lock().unwrap();
        let _ = a.wait_timeout(Duration::from_millis(200)).unwrap();
    }
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    let err = Condition::open_with_lock(g.name(), Lock::new().unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds Condition with its own RLock"),
        "{err}"
    );
    drop((a, b));

    let lock = Lock::create(gl.name()).unwrap();
    let c = Condition::create_with_lock(g.name(), &lock).unwrap();
    let d = Condition::open_with_lock(g.name(), Lock::open(gl.name()).unwrap()).unwrap();
    let _h = d.lock().unwrap();
    assert!(c.get_lock().try_acquire().unwrap().is_none(), "one lock");
    assert!(matches!(
        Condition::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        mpshare::Barrier::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
}
