//! Two forked processes hammering one shared counter. Each criterion iteration is one
//! increment: `iter_custom` forks 2 workers (pinned to CPUs 0 and 1) that each do `iters / 2`
//! increments after a start gate; the time is from opening the gate to the last worker's end.
//!
//! Modes: `atomic` (`RawValue::fetch_add`), `guard` (`*Value::lock()? += 1`), `update`,
//! `ref_pthread_plain` (the same load/store under a process-shared, default-type, non-robust
//! pthread mutex), `ref_pthread_robust_recursive`, and `racy` (`RawValue` get+set, which loses
//! updates; the loss is printed to stderr once).

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::{RawValue, Value};
use support::{forked, RefMutex};

const WORKERS: u64 = 2;

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended_2proc");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    g.bench_function("atomic", |b| {
        b.iter_custom(|iters| {
            let v = RawValue::new(0i64).unwrap();
            let per = iters / WORKERS;
            let t = forked(WORKERS as usize, true, |_| {
                for _ in 0..per {
                    v.fetch_add(1);
                }
            });
            assert_eq!(v.get() as u64, per * WORKERS);
            t
        })
    });

    g.bench_function("guard", |b| {
        b.iter_custom(|iters| {
            let v = Value::new(0i64).unwrap();
            let per = iters / WORKERS;
            let t = forked(WORKERS as usize, true, |_| {
                for _ in 0..per {
                    *v.lock().unwrap() += 1;
                }
            });
            assert_eq!(v.get().unwrap() as u64, per * WORKERS);
            t
        })
    });

    g.bench_function("update", |b| {
        b.iter_custom(|iters| {
            let v = Value::new(0i64).unwrap();
            let per = iters / WORKERS;
            let t = forked(WORKERS as usize, true, |_| {
                for _ in 0..per {
                    v.update(|x| x + 1).unwrap();
                }
            });
            assert_eq!(v.get().unwrap() as u64, per * WORKERS);
            t
        })
    });

    for (name, robust, recursive) in [
        ("ref_pthread_plain", false, false),
        ("ref_pthread_robust_recursive", true, true),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let m = RefMutex::new(robust, recursive);
                let per = iters / WORKERS;
                let t = forked(WORKERS as usize, true, |_| {
                    for _ in 0..per {
                        m.locked_increment();
                    }
                });
                assert_eq!(m.counter().load(Ordering::Relaxed), per * WORKERS);
                t
            })
        });
    }

    let lost = AtomicU64::new(0);
    let total = AtomicU64::new(0);
    g.bench_function("racy", |b| {
        b.iter_custom(|iters| {
            let v = RawValue::new(0i64).unwrap();
            let per = iters / WORKERS;
            let t = forked(WORKERS as usize, true, |_| {
                for _ in 0..per {
                    // black_box keeps the compiler from merging the relaxed load/store pairs
                    // of successive iterations into one (which the memory model allows).
                    let v = std::hint::black_box(&v);
                    v.set(v.get() + 1);
                }
            });
            total.fetch_add(per * WORKERS, Ordering::Relaxed);
            lost.fetch_add(per * WORKERS - v.get() as u64, Ordering::Relaxed);
            t
        })
    });
    let (l, t) = (lost.into_inner(), total.into_inner());
    eprintln!(
        "contended_2proc/racy: lost {l} of {t} increments ({:.1}%)",
        100.0 * l as f64 / t.max(1) as f64
    );
    g.finish();
}

criterion_group!(benches, contended);
criterion_main!(benches);
