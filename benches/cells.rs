//! One process, one thread, no contention: the cost of each way to increment a shared cell.
//!
//! * `raw_get_set` — `RawValue::set(get() + 1)`: two relaxed atomics, racy across processes;
//! * `atomic_fetch_add` — `RawValue::fetch_add(1)`: one `lock xadd`, exact;
//! * `locked_get_set` — `Value::set(Value::get()? + 1)`: two lock round trips, still racy;
//! * `guard` — `*v.lock()? += 1`: one lock round trip, exact;
//! * `update` — `v.update(|x| x + 1)`: the same as a closure;
//! * `ref_*` — the same load/store under a hand-made process-shared pthread mutex (plain and
//!   robust recursive), the floor the guard is measured against.
//!
//! Group `get` compares a locked `Value::get` with a lockless `RawValue::get`.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::{RawValue, Value};
use support::RefMutex;

fn increment(c: &mut Criterion) {
    let mut g = c.benchmark_group("cell_increment");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));

    let raw = RawValue::new(0i64).unwrap();
    g.bench_function("raw_get_set", |b| {
        b.iter(|| {
            let r = black_box(&raw);
            r.set(r.get() + 1)
        })
    });
    g.bench_function("atomic_fetch_add", |b| {
        b.iter(|| black_box(&raw).fetch_add(1))
    });

    let v = Value::new(0i64).unwrap();
    g.bench_function("locked_get_set", |b| {
        b.iter(|| {
            let v = black_box(&v);
            v.set(v.get().unwrap() + 1).unwrap()
        })
    });
    g.bench_function("guard", |b| b.iter(|| *black_box(&v).lock().unwrap() += 1));
    g.bench_function("update", |b| {
        b.iter(|| black_box(&v).update(|x| x + 1).unwrap())
    });

    let plain = RefMutex::new(false, false);
    g.bench_function("ref_pthread_plain", |b| {
        b.iter(|| black_box(&plain).locked_increment())
    });
    let robust = RefMutex::new(true, true);
    g.bench_function("ref_pthread_robust_recursive", |b| {
        b.iter(|| black_box(&robust).locked_increment())
    });
    g.finish();
}

fn get(c: &mut Criterion) {
    let mut g = c.benchmark_group("cell_get");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1000));
    let v = Value::new(7i64).unwrap();
    let raw = RawValue::new(7i64).unwrap();
    g.bench_function("value_get_locked", |b| {
        b.iter(|| black_box(&v).get().unwrap())
    });
    g.bench_function("rawvalue_get", |b| b.iter(|| black_box(&raw).get()));
    g.bench_function("value_get_obj_get", |b| {
        b.iter(|| black_box(&v).get_obj().get())
    });
    g.finish();
}

criterion_group!(benches, increment, get);
criterion_main!(benches);
