//! Uncontended lock round trips (acquire + release, one thread) for mpshare's robust locks and
//! for two hand-made process-shared glibc mutexes as references:
//!
//! * `ref_pthread_plain` — `PTHREAD_PROCESS_SHARED`, default type, not robust: the floor;
//! * `ref_pthread_robust_recursive` — process-shared, robust, recursive: what an mpshare
//!   `RLock` is underneath, called directly.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::{Lock, RLock};
use support::RefMutex;

fn locks(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_round_trip");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1000));

    let lock = Lock::new().unwrap();
    g.bench_function("lock_guard", |b| {
        b.iter(|| drop(black_box(&lock).lock().unwrap()))
    });
    g.bench_function("lock_acquire_release", |b| {
        b.iter(|| {
            let l = black_box(&lock);
            let _ = l.acquire().unwrap();
            l.release().unwrap()
        })
    });
    g.bench_function("lock_try_acquire_release", |b| {
        b.iter(|| {
            let l = black_box(&lock);
            let _ = l.try_acquire().unwrap().unwrap();
            l.release().unwrap()
        })
    });

    let rlock = RLock::new().unwrap();
    g.bench_function("rlock_guard", |b| {
        b.iter(|| drop(black_box(&rlock).lock().unwrap()))
    });
    g.bench_function("rlock_acquire_release", |b| {
        b.iter(|| {
            let l = black_box(&rlock);
            let _ = l.acquire().unwrap();
            l.release().unwrap()
        })
    });
    {
        // Second level: the lock is already held once by this thread.
        let _outer = rlock.lock().unwrap();
        g.bench_function("rlock_recursive_acquire_release", |b| {
            b.iter(|| {
                let l = black_box(&rlock);
                let _ = l.acquire().unwrap();
                l.release().unwrap()
            })
        });
    }
    g.bench_function("rlock_try_acquire_release", |b| {
        b.iter(|| {
            let l = black_box(&rlock);
            let _ = l.try_acquire().unwrap().unwrap();
            l.release().unwrap()
        })
    });

    let plain = RefMutex::new(false, false);
    g.bench_function("ref_pthread_plain", |b| {
        b.iter(|| {
            let m = black_box(&plain);
            m.lock();
            m.unlock()
        })
    });
    g.bench_function("ref_pthread_plain_trylock", |b| {
        b.iter(|| {
            let m = black_box(&plain);
            assert!(m.try_lock());
            m.unlock()
        })
    });
    let robust = RefMutex::new(true, true);
    g.bench_function("ref_pthread_robust_recursive", |b| {
        b.iter(|| {
            let m = black_box(&robust);
            m.lock();
            m.unlock()
        })
    });
    robust.lock();
    g.bench_function("ref_pthread_robust_recursive_second_level", |b| {
        b.iter(|| {
            let m = black_box(&robust);
            m.lock();
            m.unlock()
        })
    });
    robust.unlock();
    g.finish();
}

criterion_group!(benches, locks);
criterion_main!(benches);
