//! Encode/decode of typical manager messages.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::managers::pickle::{dumps, loads, PyValue};
use mpshare::managers::wire::{Reply, Request};

fn bench(c: &mut Criterion) {
    let req = Request::call(
        "7fe7c53b7dc0",
        "__setitem__",
        vec![PyValue::str("key"), PyValue::Int(42)],
    );
    let req_bytes = req.encode().unwrap();
    let none = Reply::Return(PyValue::None);
    let none_bytes = none.encode().unwrap();
    let ret42 = Reply::Return(PyValue::Int(42));
    let ret42_bytes = ret42.encode().unwrap();

    let mut g = c.benchmark_group("pickle");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("encode request __setitem__", |b| {
        b.iter(|| req.encode().unwrap())
    });
    g.bench_function("decode request __setitem__", |b| {
        b.iter(|| Request::decode(&req_bytes).unwrap())
    });
    g.bench_function("loads request __setitem__", |b| {
        b.iter(|| loads(&req_bytes).unwrap())
    });
    g.bench_function("encode reply #RETURN None", |b| {
        b.iter(|| none.encode().unwrap())
    });
    g.bench_function("decode reply #RETURN None", |b| {
        b.iter(|| Reply::decode(&none_bytes).unwrap())
    });
    g.bench_function("encode reply #RETURN 42", |b| {
        b.iter(|| ret42.encode().unwrap())
    });
    g.bench_function("decode reply #RETURN 42", |b| {
        b.iter(|| Reply::decode(&ret42_bytes).unwrap())
    });
    let v = req.to_value();
    g.bench_function("dumps request value", |b| b.iter(|| dumps(&v).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
