//! `shared_memory`: the cost of one ShareableList item read/write and of bulk block copies.
//!
//! * group `shareable_list`: Rust `get`/`set` of items of a list **created by CPython** (when a
//!   python3.11–3.13 is found; else by Rust, byte-identical) — compare with
//!   `bench/shared_memory_python.py`, which times Python's own `l[i]` / `l[i] = v` on the same
//!   layout;
//! * group `copy_8mb`: `SharedMemory::read` / `write` of an 8 MiB block (relaxed atomic 8-byte
//!   units) against `memcpy` between two private buffers and `memcpy` out of the mapping
//!   through the unsafe `as_slice` view.

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mpshare::shared_memory::{Item, ShareableList, SharedMemory};

fn items() -> Vec<Item> {
    vec![
        Item::Int(12345),
        Item::Float(2.5),
        Item::Str("hello world".into()),
        Item::Bool(true),
        Item::Bytes(b"abcdefgh".to_vec()),
        Item::None,
    ]
}

/// A list made by CPython (and left to us to unlink), or by Rust when no CPython is found.
fn python_made_list(name: &str) -> (ShareableList, &'static str) {
    let script = format!(
        "from multiprocessing import shared_memory, resource_tracker\n\
         l = shared_memory.ShareableList([12345, 2.5, 'hello world', True, b'abcdefgh', None], name={name:?})\n\
         resource_tracker.unregister(l.shm._name, 'shared_memory')\n\
         l.shm.close()\n"
    );
    for py in ["python3.13", "python3.12", "python3.11", "python3"] {
        let ok = Command::new(py)
            .args(["-c", &script])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            let l = ShareableList::open(name).expect("open the list Python made");
            return (l, "python-made");
        }
    }
    (
        ShareableList::create(name, &items()).expect("create"),
        "rust-made",
    )
}

fn shareable_list(c: &mut Criterion) {
    let name = format!("mpshare-bench-sl-{}", std::process::id());
    let (l, origin) = python_made_list(&name);
    eprintln!("shareable_list: list is {origin}");
    let mut g = c.benchmark_group("shareable_list");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("get_int", |b| {
        b.iter(|| black_box(&l).get(black_box(0)).unwrap())
    });
    g.bench_function("get_float", |b| {
        b.iter(|| black_box(&l).get(black_box(1)).unwrap())
    });
    g.bench_function("get_str", |b| {
        b.iter(|| black_box(&l).get(black_box(2)).unwrap())
    });
    g.bench_function("set_int", |b| {
        b.iter(|| black_box(&l).set(black_box(0), Item::Int(7)).unwrap())
    });
    let s = Item::Str("howdy".into());
    g.bench_function("set_str", |b| {
        b.iter(|| {
            black_box(&l)
                .set(black_box(2), black_box(&s).clone())
                .unwrap()
        })
    });
    g.finish();
    let _ = l.shm().unlink();
}

fn copies(c: &mut Criterion) {
    const N: usize = 8 << 20;
    let shm = SharedMemory::anonymous(N).expect("block");
    let src: Vec<u8> = (0..N).map(|i| i as u8).collect();
    shm.write(0, &src).expect("fill");
    let mut dst = vec![0u8; N];
    let mut g = c.benchmark_group("copy_8mb");
    g.throughput(Throughput::Bytes(N as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("memcpy_private", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });
    g.bench_function("memcpy_from_mapping", |b| {
        // SAFETY: nothing writes `shm` while this runs.
        let view: &[u8] = unsafe { shm.as_slice(0, N) }.expect("view");
        b.iter(|| dst.copy_from_slice(black_box(view)))
    });
    g.bench_function("read", |b| {
        b.iter(|| black_box(&shm).read(0, &mut dst).unwrap())
    });
    g.bench_function("write", |b| {
        b.iter(|| black_box(&shm).write(0, black_box(&src)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, shareable_list, copies);
criterion_main!(benches);
