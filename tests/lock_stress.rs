//! Mutual exclusion under real contention: threads in three processes (this one and two
//! unrelated re-exec'd ones) hammer one named `RLock` with every way of taking it — blocking,
//! `try_acquire` spins, `acquire_timeout` retries, nested re-entry — and nest a second `Lock`
//! inside it, released out of order. A non-atomic read-modify-write with a deliberate window is
//! exact only if no two holders ever overlap; the locks' inline fast paths and glibc's slow
//! paths (futex waits and wake-ups) are mixed on the same mutexes all the time.

mod common;

use std::hint::spin_loop;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::fork::{role, Exec, NameGuard, Outcome};
use mpshare::{Lock, RLock, RawValue};

const TEST: &str = "threads_in_three_processes_mixing_every_acquire_mode_are_exclusive";
const THREADS: usize = 2;
const ITERS: u64 = 15_000;

/// One non-atomic increment with a window in which an overlapping holder would lose it.
fn racy_increment(v: &RawValue<u64>) {
    let x = v.load(Ordering::Relaxed);
    for _ in 0..16 {
        spin_loop();
    }
    v.store(x + 1, Ordering::Relaxed);
}

/// Acquire `rl` in mode `i % 4`; returns how many levels were taken.
fn take(rl: &RLock, i: u64) -> mpshare::Result<u32> {
    match i % 4 {
        0 => rl.acquire().map(|_| 1),
        1 => loop {
            if rl.try_acquire()?.is_some() {
                break Ok(1);
            }
            std::thread::yield_now();
        },
        2 => loop {
            if rl.acquire_timeout(Duration::from_millis(2))?.is_some() {
                break Ok(1);
            }
        },
        _ => {
            let _ = rl.acquire()?;
            let _ = rl.acquire()?; // re-entry
            Ok(2)
        }
    }
}

/// The work of one thread: `ITERS` increments of `count`, every 8th also of `nested` under
/// `inner` taken inside `rl` and released after it.
fn hammer(rl: &RLock, inner: &Lock, count: &RawValue<u64>, nested: &RawValue<u64>) -> i32 {
    for i in 0..ITERS {
        let levels = match take(rl, i) {
            Ok(n) => n,
            Err(_) => return 10,
        };
        racy_increment(count);
        if i % 8 == 0 {
            if !matches!(inner.acquire(), Ok(how) if !how.owner_died()) {
                return 11;
            }
            racy_increment(nested);
            for _ in 0..levels {
                if rl.release().is_err() {
                    return 12;
                }
            }
            // Out of order: the outer lock is already released.
            if inner.release().is_err() {
                return 13;
            }
        } else {
            for _ in 0..levels {
                if rl.release().is_err() {
                    return 12;
                }
            }
        }
    }
    0
}

/// Every thread of every process checks in at `gate`, then all start together (bounded wait).
fn run_threads(
    gate: &RawValue<u64>,
    rl: &RLock,
    inner: &Lock,
    count: &RawValue<u64>,
    nested: &RawValue<u64>,
) -> i32 {
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    gate.fetch_add(1);
                    let all = (3 * THREADS) as u64;
                    if !common::fork::wait_until(Duration::from_secs(60), || {
                        gate.load(Ordering::Acquire) >= all
                    }) {
                        return 20;
                    }
                    hammer(rl, inner, count, nested)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or(99))
            .find(|&c| c != 0)
            .unwrap_or(0)
    })
}

fn play(role: &str) -> i32 {
    let names: Vec<&str> = role.split(':').collect();
    let [gate, rl, inner, count, nested] = names[..] else {
        return 98;
    };
    let (Ok(gate), Ok(rl), Ok(inner), Ok(count), Ok(nested)) = (
        RawValue::<u64>::open(gate),
        RLock::open(rl),
        Lock::open(inner),
        RawValue::<u64>::open(count),
        RawValue::<u64>::open(nested),
    ) else {
        return 97;
    };
    run_threads(&gate, &rl, &inner, &count, &nested)
}

#[test]
fn threads_in_three_processes_mixing_every_acquire_mode_are_exclusive() {
    if let Some(r) = role() {
        std::process::exit(play(&r));
    }
    let names = [
        NameGuard::new("stress-gate"),
        NameGuard::new("stress-rlock"),
        NameGuard::new("stress-inner"),
        NameGuard::new("stress-count"),
        NameGuard::new("stress-nested"),
    ];
    let gate = RawValue::<u64>::create(names[0].name(), 0).unwrap();
    let rl = RLock::create(names[1].name()).unwrap();
    let inner = Lock::create(names[2].name()).unwrap();
    let count = RawValue::<u64>::create(names[3].name(), 0).unwrap();
    let nested = RawValue::<u64>::create(names[4].name(), 0).unwrap();
    let role = names.iter().map(|n| n.name()).collect::<Vec<_>>().join(":");

    let mut others: Vec<Exec> = (0..2).map(|_| Exec::spawn(TEST, &role)).collect();
    let mine = run_threads(&gate, &rl, &inner, &count, &nested);
    for o in others.iter_mut() {
        assert_eq!(o.wait(Duration::from_secs(120)), Outcome::Exited(0));
    }
    assert_eq!(mine, 0);

    let holders = 3 * THREADS as u64;
    let total = count.load(Ordering::Relaxed);
    let inner_total = nested.load(Ordering::Relaxed);
    println!(
        "{holders} threads in 3 processes: {total} increments under the RLock, {inner_total} under the nested Lock"
    );
    assert_eq!(
        total,
        holders * ITERS,
        "an increment was lost: holders overlapped"
    );
    assert_eq!(inner_total, holders * ITERS.div_ceil(8));
    // Both locks are free and clean afterwards.
    assert!(!rl.acquire().unwrap().owner_died());
    rl.release().unwrap();
    assert!(!inner.acquire().unwrap().owner_died());
    inner.release().unwrap();
}
