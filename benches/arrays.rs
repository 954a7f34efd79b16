//! Bulk copies in and out of shared arrays against `memcpy` of the same size, per-element
//! access, and in-place iteration under the guard.
//!
//! * `copy_in/*`: `Array::write` (lock + `memcpy`), guard `copy_from_slice`, `RawArray::write`
//!   (element-wise relaxed atomics), and `memcpy` (`copy_from_slice` between two `Vec<f64>`);
//! * `copy_out/*`: `Array::read` / `Array::to_vec` (lock + allocate + `memcpy`), guard
//!   `copy_to_slice` into an existing buffer, `RawArray::read`, and `memcpy`;
//! * `element/*`: `Array::get`/`set` (one lock each) vs `RawArray::get`/`set` (one atomic);
//! * `sum/*`: summing 1 M doubles through the guard slice vs a private `Vec`.
//!
//! Sizes are 8 MB and 80 MB (1 M and 10 M doubles); throughput is printed in bytes/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mpshare::{Array, RawArray};

const SIZES: [(usize, &str); 2] = [(1 << 20, "8MB"), (10 << 20, "80MB")];

fn data(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 * 0.5).collect()
}

fn copy_in(c: &mut Criterion) {
    let mut g = c.benchmark_group("copy_in");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    for (n, label) in SIZES {
        g.throughput(Throughput::Bytes((n * 8) as u64));
        let src = data(n);
        let a = Array::<f64>::new(n).unwrap();
        let r = RawArray::<f64>::new(n).unwrap();
        let mut dst = vec![0.0f64; n];
        g.bench_with_input(BenchmarkId::new("memcpy", label), &src, |b, s| {
            b.iter(|| dst.copy_from_slice(black_box(s)))
        });
        g.bench_with_input(BenchmarkId::new("array_write", label), &src, |b, s| {
            b.iter(|| a.write(0, black_box(s)).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("guard_copy_from_slice", label),
            &src,
            |b, s| b.iter(|| a.lock().unwrap().copy_from_slice(black_box(s))),
        );
        g.bench_with_input(BenchmarkId::new("rawarray_write", label), &src, |b, s| {
            b.iter(|| r.write(0, black_box(s)).unwrap())
        });
    }
    g.finish();
}

fn copy_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("copy_out");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    for (n, label) in SIZES {
        g.throughput(Throughput::Bytes((n * 8) as u64));
        let src = data(n);
        let a = Array::from_slice(&src).unwrap();
        let r = RawArray::from_slice(&src).unwrap();
        let mut dst = vec![0.0f64; n];
        g.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| dst.copy_from_slice(black_box(&src)))
        });
        g.bench_function(BenchmarkId::new("memcpy_alloc_to_vec", label), |b| {
            b.iter(|| black_box(&src).to_vec())
        });
        g.bench_function(BenchmarkId::new("array_to_vec", label), |b| {
            b.iter(|| a.to_vec().unwrap())
        });
        g.bench_function(BenchmarkId::new("array_read", label), |b| {
            b.iter(|| a.read(0..n).unwrap())
        });
        g.bench_function(BenchmarkId::new("guard_copy_to_slice", label), |b| {
            b.iter(|| dst.copy_from_slice(&a.lock().unwrap()))
        });
        g.bench_function(BenchmarkId::new("rawarray_read", label), |b| {
            b.iter(|| r.read(0..n).unwrap())
        });
    }
    g.finish();
}

fn element(c: &mut Criterion) {
    let mut g = c.benchmark_group("element");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1000));
    let n = 1024;
    let a = Array::<f64>::new(n).unwrap();
    let r = RawArray::<f64>::new(n).unwrap();
    let mut i = 0usize;
    g.bench_function("array_get", |b| {
        b.iter(|| {
            i = (i + 7) & (n - 1);
            a.get(black_box(i)).unwrap()
        })
    });
    g.bench_function("array_set", |b| {
        b.iter(|| {
            i = (i + 7) & (n - 1);
            a.set(black_box(i), 1.0).unwrap()
        })
    });
    g.bench_function("rawarray_get", |b| {
        b.iter(|| {
            i = (i + 7) & (n - 1);
            r.get(black_box(i)).unwrap()
        })
    });
    g.bench_function("rawarray_set", |b| {
        b.iter(|| {
            i = (i + 7) & (n - 1);
            r.set(black_box(i), 1.0).unwrap()
        })
    });
    g.finish();
}

fn sum(c: &mut Criterion) {
    let mut g = c.benchmark_group("sum_1M_f64");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1000));
    let n = 1 << 20;
    g.throughput(Throughput::Bytes((n * 8) as u64));
    let src = data(n);
    let a = Array::from_slice(&src).unwrap();
    let r = RawArray::from_slice(&src).unwrap();
    g.bench_function("vec", |b| b.iter(|| black_box(&src).iter().sum::<f64>()));
    g.bench_function("array_guard", |b| {
        b.iter(|| a.lock().unwrap().iter().sum::<f64>())
    });
    g.bench_function("rawarray_unsafe_slice", |b| {
        // SAFETY: nothing writes `r` while the bench runs.
        b.iter(|| unsafe { r.slice(0..n) }.unwrap().iter().sum::<f64>())
    });
    g.bench_function("rawarray_get_each", |b| {
        b.iter(|| (0..n).map(|i| r.get(i).unwrap()).sum::<f64>())
    });
    g.finish();
}

criterion_group!(benches, copy_in, copy_out, element, sum);
criterion_main!(benches);
