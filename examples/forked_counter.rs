//! The main job: forked workers share one counter. The workers are started with
//! `mpshare::process::scope` (no `unsafe`). Prints, side by side, what each way of incrementing
//! gives:
//!
//! * `get()+set()` — each access takes the lock, but the read-modify-write does not hold it, so
//!   updates are lost, exactly as with Python's `v.value += 1`;
//! * guard — `*v.lock()? += 1` holds the lock across the increment: exact;
//! * atomic — `fetch_add(1)` on a `RawValue`: exact and lock-free;
//! * raw — lockless `get()+set()` on a `RawValue`: loses updates.
//!
//! Run: `cargo run --release --example forked_counter [-- WORKERS INCREMENTS]`
//! With no arguments it runs the seed case (10 workers × 10) and a larger one (4 × 200 000).

use std::sync::atomic::Ordering;
use std::time::Instant;

use mpshare::{process, RawValue, Value};

/// Run `work` in `n` forked workers at once and wait for all of them (a worker that fails is an
/// error). The workers wait at a start gate until all are forked, so they really run
/// concurrently.
fn in_workers(n: usize, work: impl Fn()) -> mpshare::Result<()> {
    let gate = RawValue::new(0u32)?;
    process::scope(|s| {
        for _ in 0..n {
            s.fork(|| {
                while gate.load(Ordering::Acquire) == 0 {
                    std::hint::spin_loop();
                }
                work();
            })?;
        }
        gate.store(1, Ordering::Release);
        Ok(())
    })?
}

struct Row {
    mode: &'static str,
    total: i64,
    secs: f64,
}

fn run(workers: usize, increments: usize) -> mpshare::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut time = |mode, f: &dyn Fn() -> mpshare::Result<i64>| -> mpshare::Result<()> {
        let t = Instant::now();
        let total = f()?;
        rows.push(Row {
            mode,
            total,
            secs: t.elapsed().as_secs_f64(),
        });
        Ok(())
    };

    time("locked get()+set()", &|| {
        let v = Value::new(0i64)?;
        in_workers(workers, || {
            for _ in 0..increments {
                let x = v.get().expect("get");
                v.set(x + 1).expect("set");
            }
        })?;
        v.get()
    })?;
    time("guard  *v.lock() += 1", &|| {
        let v = Value::new(0i64)?;
        in_workers(workers, || {
            for _ in 0..increments {
                *v.lock().expect("lock") += 1;
            }
        })?;
        v.get()
    })?;
    time("atomic fetch_add(1)", &|| {
        let v = RawValue::new(0i64)?;
        in_workers(workers, || {
            for _ in 0..increments {
                v.fetch_add(1);
            }
        })?;
        Ok(v.get())
    })?;
    time("raw    get()+set()", &|| {
        let v = RawValue::new(0i64)?;
        in_workers(workers, || {
            for _ in 0..increments {
                // black_box: without it the compiler may fold the loop into one load and store.
                let v = std::hint::black_box(&v);
                v.set(v.get() + 1);
            }
        })?;
        Ok(v.get())
    })?;
    Ok(rows)
}

fn print(workers: usize, increments: usize, rows: &[Row]) {
    let expected = (workers * increments) as i64;
    println!("\n{workers} forked workers x {increments} increments (expected total {expected})");
    println!(
        "{:<24} {:>12} {:>12} {:>8} {:>10}",
        "mode", "total", "lost", "exact", "time"
    );
    for r in rows {
        println!(
            "{:<24} {:>12} {:>12} {:>8} {:>9.1}ms",
            r.mode,
            r.total,
            expected - r.total,
            if r.total == expected { "yes" } else { "NO" },
            r.secs * 1e3
        );
    }
}

fn main() -> mpshare::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cases = match args.as_slice() {
        [w, m, ..] => vec![(*w, *m)],
        _ => vec![(10, 10), (4, 200_000)],
    };
    for (w, m) in cases {
        let rows = run(w, m)?;
        print(w, m, &rows);
    }
    println!(
        "\nget()+set() takes the lock twice per increment but never across it, so it loses \
         updates like Python's `v.value += 1`;\nhold the guard (or use update(), or fetch_add) to \
         be exact. With only 10 increments per worker races are rare; the larger run shows them."
    );
    Ok(())
}
