//! Forked workers share counters: locked increments (guard, `update`), `Array` guard
//! increments and atomic `fetch_add` are exact; lockless and per-access-locked `get()+set()`
//! lose updates (asserted to happen within a few bounded rounds, and printed).

mod common;

use std::time::Duration;

use common::fork::{run_workers, Outcome};
use mpshare::{Array, RawValue, Value};

const WORKERS: usize = 4;
const INCREMENTS: usize = 20_000;
const TOTAL: i64 = (WORKERS * INCREMENTS) as i64;
const TIMEOUT: Duration = Duration::from_secs(120);

fn all_ok(outcomes: &[Outcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(*o, Outcome::Exited(0), "worker {i} ended with {o:?}");
    }
}

#[test]
fn guard_increments_are_exact() {
    let v = Value::new(0i64).unwrap();
    let outcomes = run_workers(WORKERS, TIMEOUT, |_| {
        for _ in 0..INCREMENTS {
            match v.lock() {
                Ok(mut g) => *g += 1,
                Err(_) => return 2,
            }
        }
        0
    });
    all_ok(&outcomes);
    assert_eq!(v.get().unwrap(), TOTAL);
}

#[test]
fn update_increments_are_exact() {
    let v = Value::new(0u64).unwrap();
    let outcomes = run_workers(WORKERS, TIMEOUT, |_| {
        for _ in 0..INCREMENTS {
            if v.update(|x| x + 1).is_err() {
                return 2;
            }
        }
        0
    });
    all_ok(&outcomes);
    assert_eq!(v.get().unwrap(), TOTAL as u64);
}

#[test]
fn array_guard_increments_of_several_elements_are_exact() {
    // Every worker adds 1 to element 0, k to element k, and its own id+1 to the last element.
    let a = Array::<i64>::new(5).unwrap();
    let outcomes = run_workers(WORKERS, TIMEOUT, |w| {
        for _ in 0..INCREMENTS / 4 {
            let mut g = match a.lock() {
                Ok(g) => g,
                Err(_) => return 2,
            };
            for (k, x) in g.iter_mut().enumerate().take(4) {
                *x += k.max(1) as i64;
            }
            g[4] += w as i64 + 1;
        }
        0
    });
    all_ok(&outcomes);
    let n = (WORKERS * INCREMENTS / 4) as i64;
    let per_worker = (INCREMENTS / 4) as i64;
    let last: i64 = (1..=WORKERS as i64).map(|id| id * per_worker).sum();
    assert_eq!(a.to_vec().unwrap(), vec![n, n, 2 * n, 3 * n, last]);
}

#[test]
fn raw_value_fetch_add_is_exact() {
    let v = RawValue::new(0i64).unwrap();
    let outcomes = run_workers(WORKERS, TIMEOUT, |_| {
        for _ in 0..INCREMENTS {
            v.fetch_add(1);
        }
        0
    });
    all_ok(&outcomes);
    assert_eq!(v.get(), TOTAL);
}

#[test]
fn mixed_get_obj_fetch_add_and_locked_update_printed() {
    // The atomic path through a locked Value's raw cell, mixed with locked updates.
    let v = Value::new(0u32).unwrap();
    let outcomes = run_workers(WORKERS, TIMEOUT, |w| {
        for _ in 0..INCREMENTS {
            if w % 2 == 0 {
                v.get_obj().fetch_add(1);
            } else if v.update(|x| x + 1).is_err() {
                return 2;
            }
        }
        0
    });
    all_ok(&outcomes);
    // A locked read-modify-write can overwrite an atomic add that lands between its read and
    // its write, so atomic adds may be lost. A locked update is never lost: other locked
    // updates wait for the lock, and an atomic add adds to whatever is there. So the total is
    // at least the number of locked updates.
    let got = v.get().unwrap() as i64;
    let locked = (WORKERS / 2 * INCREMENTS) as i64;
    println!(
        "mixed fetch_add + locked update: total {got} of {TOTAL} (lost {})",
        TOTAL - got
    );
    assert!(
        (locked..=TOTAL).contains(&got),
        "total {got}: expected {locked}..={TOTAL} (the {locked} locked updates are never lost)"
    );
}

/// Runs `round(increments)` (4 workers, each adding 1 `increments` times with a racy
/// read-then-write) until it reports a total below the number of increments, with more
/// increments each round (bounded: 5 rounds). Returns (increments, total) of every round.
fn rounds_until_an_update_is_lost(mut round: impl FnMut(usize) -> i64) -> Vec<(usize, i64)> {
    let mut seen = Vec::new();
    let mut n = INCREMENTS;
    for _ in 0..5 {
        let got = round(n);
        seen.push((n, got));
        if got < (WORKERS * n) as i64 {
            break;
        }
        n *= 4;
    }
    seen
}

fn assert_lost(what: &str, seen: &[(usize, i64)]) {
    for (n, got) in seen {
        let total = (WORKERS * n) as i64;
        println!(
            "{what}: {WORKERS} workers x {n}: total {got} of {total}, lost updates {}",
            total - got
        );
        // Whatever is lost, something was stored and nothing was invented.
        assert!(*got > 0 && *got <= total, "total {got} of {total}");
    }
    let (n, got) = seen.last().unwrap();
    assert!(
        *got < (WORKERS * n) as i64,
        "{what}: no update was lost in {} rounds (up to {n} increments each): the race the test \
         shows did not happen",
        seen.len()
    );
}

#[test]
fn lockless_get_set_loses_updates_printed() {
    let seen = rounds_until_an_update_is_lost(|n| {
        let v = RawValue::new(0i64).unwrap();
        let outcomes = run_workers(WORKERS, TIMEOUT, |_| {
            for _ in 0..n {
                v.set(v.get() + 1);
            }
            0
        });
        all_ok(&outcomes);
        v.get()
    });
    assert_lost("RawValue get()+set()", &seen);
}

#[test]
fn locked_get_set_loses_updates_printed() {
    let seen = rounds_until_an_update_is_lost(|n| {
        let v = Value::new(0i64).unwrap();
        let outcomes = run_workers(WORKERS, TIMEOUT, |_| {
            for _ in 0..n {
                let x = match v.get() {
                    Ok(x) => x,
                    Err(_) => return 2,
                };
                if v.set(x + 1).is_err() {
                    return 3;
                }
            }
            0
        });
        all_ok(&outcomes);
        v.get().unwrap()
    });
    assert_lost("Value get()+set() (lock per access)", &seen);
}
