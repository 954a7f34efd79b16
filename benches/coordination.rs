//! The coordination primitives next to the C/kernel primitive beneath each, measured in the
//! same run: Semaphore vs POSIX `sem_t`; Event and Queue ping-pong vs a raw futex ping-pong;
//! Condition vs a process-shared pthread mutex + condvar; Barrier(2) vs `pthread_barrier_t`;
//! Queue throughput (64-byte messages) vs a plain SPSC ring with futex wake-ups. Two-process
//! groups run with both processes on CPU 0 (`same`) and on CPUs 0 and 1 (`cross`); each
//! criterion iteration is one operation, round trip or message.

#[path = "support/coord.rs"]
mod coord;

use std::time::Duration;

use coord::*;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

fn quick<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g
}

fn semaphore(c: &mut Criterion) {
    pin_to(0);
    let mut g = quick(c, "semaphore");
    g.bench_function("mpshare_acquire_release", |b| b.iter_custom(sem_mpshare));
    g.bench_function("sem_t_wait_post", |b| b.iter_custom(sem_posix));
    g.finish();
}

type Workload = fn(Pin, u64) -> Duration;

fn two_proc(c: &mut Criterion, group: &str, cases: &[(&str, Workload)]) {
    let mut g = quick(c, group);
    for pin in [Pin::Same, Pin::Cross] {
        let tag = if pin == Pin::Same { "same" } else { "cross" };
        for (name, f) in cases {
            g.bench_function(format!("{name}/{tag}"), |b| b.iter_custom(|n| f(pin, n)));
        }
    }
    g.finish();
}

fn event(c: &mut Criterion) {
    two_proc(
        c,
        "event_pingpong",
        &[
            ("mpshare_event", pingpong_event),
            ("raw_futex", pingpong_futex),
        ],
    );
}

fn condition(c: &mut Criterion) {
    two_proc(
        c,
        "condition_pingpong",
        &[
            ("mpshare_condition", pingpong_condition),
            ("pthread_mutex_cond", pingpong_pthread_cond),
        ],
    );
}

fn barrier(c: &mut Criterion) {
    two_proc(
        c,
        "barrier2",
        &[
            ("mpshare_barrier", barrier_mpshare),
            ("pthread_barrier", barrier_pthread),
        ],
    );
}

fn queue(c: &mut Criterion) {
    two_proc(
        c,
        "queue_throughput_64B",
        &[
            ("mpshare_queue", throughput_queue),
            ("spsc_futex_ring", throughput_ring),
        ],
    );
    two_proc(
        c,
        "queue_pingpong_64B",
        &[
            ("mpshare_queue", pingpong_queue),
            ("raw_futex", pingpong_futex),
        ],
    );
}

criterion_group!(benches, semaphore, event, condition, barrier, queue);
criterion_main!(benches);
