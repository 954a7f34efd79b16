//! Processes: what starting one costs, and what a compute-bound pipeline gains.
//!
//! * `process_start/fork` — `Process::new(|| ())`, `start`, `join` (fork + `_exit` + reap);
//! * `process_start/spawn` — `Process::spawn(entry!(noop))`, `start`, `join`: re-executing
//!   this bench binary up to its `spawn_main`, with an empty handover;
//! * `process_start/spawn_handover` — the same with four anonymous handles handed over
//!   (inherited memfds, reopened and checked by the child);
//! * `pool_map/64_tiny_tasks` — `Pool::new(2)?.map(64, ..)`: fork two workers, 64 round trips;
//! * `pipeline/*` — the compute-bound fill of `examples/numeric_pipeline.rs` (256 x 256 cells,
//!   24 iterations each): one process, a 2-worker `Pool::map_chunks` on a shared `Array`, and
//!   rayon with 2 threads in one process. The rayon group runs last: its threads make this
//!   process multi-threaded, after which the safe fork API refuses to fork.
//!
//! CPython's `multiprocessing.Process` start cost under fork and spawn, for the side-by-side
//! table, is measured by `bench/compare_cpython.py`.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use mpshare::process::{entry, spawn_main, Handover, Pool, Process};
use mpshare::{Array, Lock, RawArray, RawValue, Value};
use rayon::prelude::*;

fn noop(_h: Handover) {}

fn check_handles(h: Handover) -> mpshare::Result<()> {
    h.get::<RawValue<u64>>("a")?;
    h.get::<Value<i32>>("b")?;
    h.get::<RawArray<f64>>("c")?;
    h.get::<Lock>("d")?;
    Ok(())
}

const ROWS: usize = 256;
const COLS: usize = 256;
const ITERS: usize = 24;

fn cell(r: usize, c: usize) -> f64 {
    let mut x = (r * COLS + c) as f64 * 1e-6;
    for _ in 0..ITERS {
        x = (x.sin() + 1.5).sqrt();
    }
    x
}

fn fill(rows: &mut [f64], first_row: usize) {
    for (k, x) in rows.iter_mut().enumerate() {
        *x = cell(first_row + k / COLS, k % COLS);
    }
}

fn start(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_start");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("fork", |b| {
        b.iter(|| {
            let mut p = Process::new(|| ());
            p.start().unwrap();
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        })
    });
    g.bench_function("spawn", |b| {
        b.iter(|| {
            let mut p = Process::spawn(entry!(noop), Handover::new());
            p.start().unwrap();
            p.join().unwrap();
            assert_eq!(p.exitcode(), Some(0));
        })
    });
    let handles = Handover::new()
        .with("a", &RawValue::new(1u64).unwrap())
        .unwrap()
        .with("b", &Value::new(2i32).unwrap())
        .unwrap()
        .with("c", &RawArray::<f64>::new(1000).unwrap())
        .unwrap()
        .with("d", &Lock::new().unwrap())
        .unwrap();
    g.bench_function("spawn_handover", |b| {
        b.iter(|| {
            let mut p = Process::spawn(entry!(check_handles), handles.clone());
            p.start().unwrap();
            p.join_checked().unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pool_map");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let pool = Pool::new(2).unwrap();
    g.bench_function("64_tiny_tasks", |b| {
        b.iter(|| {
            let r = pool.map(64, |i| black_box(i as u64) * 2).unwrap();
            assert_eq!(r.len(), 64);
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let rows_per = ROWS / 8;
    g.bench_function("one_process", |b| {
        let mut grid = vec![0.0; ROWS * COLS];
        b.iter(|| {
            for (i, rows) in grid.chunks_mut(rows_per * COLS).enumerate() {
                fill(rows, i * rows_per);
            }
            black_box(&grid);
        })
    });
    let shared = Array::<f64>::new(ROWS * COLS).unwrap();
    let pool = Pool::new(2).unwrap();
    g.bench_function("pool_2_workers", |b| {
        b.iter(|| {
            let mut guard = shared.lock().unwrap();
            let r = pool
                .map_chunks(&mut guard, rows_per * COLS, |i, rows| {
                    fill(rows, i * rows_per)
                })
                .unwrap();
            assert!(r.iter().all(|x| x.is_ok()));
        })
    });
    g.finish();
}

fn rayon_reference(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let rows_per = ROWS / 8;
    let tp = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.bench_function("rayon_2_threads", |b| {
        let mut grid = vec![0.0; ROWS * COLS];
        b.iter(|| {
            tp.install(|| {
                grid.par_chunks_mut(rows_per * COLS)
                    .enumerate()
                    .for_each(|(i, rows)| fill(rows, i * rows_per))
            });
            black_box(&grid);
        })
    });
    g.finish();
}

fn main() {
    // A spawned child of this bench runs its entry here and exits.
    spawn_main(&[entry!(noop), entry!(check_handles)]);
    let mut c = Criterion::default().configure_from_args();
    start(&mut c);
    pipeline(&mut c);
    rayon_reference(&mut c);
    c.final_summary();
}
