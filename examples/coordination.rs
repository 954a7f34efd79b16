//! Coordination without a server: forked producers and consumers over a shared-memory queue,
//! a Barrier between phases, an Event to stop, and a Semaphore limiting how many consumers
//! use a "scarce resource" at once. Prints what happened, then runs the same program in
//! CPython's multiprocessing (if `python3` is on PATH) and prints both times.
//!
//!     cargo run --release --example coordination
//!     cargo run --release --example coordination -- --bench [--json]   # the benchmark table
//!     cargo run --release --example coordination -- --bench --only condition,pthread_cond
//!
//! `--bench` measures every primitive next to the C/kernel primitive beneath it, with the two
//! processes pinned to one CPU and to two (medians of 5 runs), the rows BENCHMARKS.md and
//! bench/compare_cpython.py use.

#[path = "../benches/support/coord.rs"]
mod coord;

use std::time::{Duration, Instant};

use mpshare::{Barrier, Event, PodQueue, Process, RawValue, Semaphore};

const PRODUCERS: u64 = 2;
const CONSUMERS: u64 = 2;
const ITEMS: u64 = 50_000;

/// Start a forked worker running `f` (a panic becomes exit code 101, reported at join).
fn spawn(f: impl FnOnce() + 'static) -> Process {
    let mut p = Process::new(f);
    p.start().expect("fork");
    p
}

fn demo() -> mpshare::Result<Duration> {
    let jobs = PodQueue::<u64>::new(4096)?;
    let phase_end = Barrier::new(PRODUCERS as u32 + 1)?;
    let stop = Event::new()?;
    let scarce = Semaphore::new(1)?;
    let (sum, got, inside, peak, checkpoints) = (
        RawValue::new(0u64)?,
        RawValue::new(0u64)?,
        RawValue::new(0u32)?,
        RawValue::new(0u32)?,
        RawValue::new(0u64)?,
    );
    let t = Instant::now();
    let mut pids = Vec::new();
    for p in 0..PRODUCERS {
        let (jobs, phase_end) = (jobs.clone(), phase_end.clone());
        pids.push(spawn(move || {
            for i in 0..ITEMS {
                jobs.put(&(p * ITEMS + i)).unwrap();
            }
            phase_end.wait().unwrap(); // phase 1 done
        }));
    }
    for _ in 0..CONSUMERS {
        let (jobs, stop, scarce) = (jobs.clone(), stop.clone(), scarce.clone());
        let (sum, got, inside, peak, checkpoints) = (
            sum.clone(),
            got.clone(),
            inside.clone(),
            peak.clone(),
            checkpoints.clone(),
        );
        pids.push(spawn(move || {
            let (mut local, mut n) = (0u64, 0u64);
            loop {
                match jobs.get_timeout(Duration::from_millis(5)) {
                    Ok(x) => {
                        local += x;
                        n += 1;
                        if n % 10_000 == 0 {
                            // The scarce resource: one consumer at a time.
                            let _permit = scarce.permit().unwrap();
                            let now = inside.fetch_add(1) + 1;
                            if now > peak.get() {
                                peak.set(now);
                            }
                            checkpoints.fetch_add(1);
                            inside.fetch_sub(1);
                        }
                    }
                    Err(mpshare::Error::QueueEmpty) if stop.is_set() => break,
                    Err(mpshare::Error::QueueEmpty) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            sum.fetch_add(local);
            got.fetch_add(n);
        }));
    }
    phase_end.wait()?; // every producer finished phase 1
    let produced = t.elapsed();
    stop.set(); // phase 2: consumers drain and leave
    for mut p in pids {
        p.join_checked().expect("worker");
    }
    let took = t.elapsed();
    let n = PRODUCERS * ITEMS;
    println!(
        "{PRODUCERS} producers x {ITEMS} items -> {CONSUMERS} consumers through a PodQueue<u64>:"
    );
    println!(
        "  received {} items (expected {n}), sum {} (expected {}), {} checkpoints under a \
         Semaphore(1) (peak inside: {})",
        got.get(),
        sum.get(),
        n * (n - 1) / 2,
        checkpoints.get(),
        peak.get()
    );
    println!(
        "  producers passed the Barrier after {produced:.2?}; Event stop set; all done in \
         {took:.2?} ({:.2} M items/s)",
        n as f64 / took.as_secs_f64() / 1e6
    );
    assert_eq!(got.get(), n);
    assert_eq!(sum.get(), n * (n - 1) / 2);
    assert_eq!(peak.get(), 1);
    Ok(took)
}

const PYTHON: &str = r#"
import multiprocessing as mp, queue, sys, time
P, C, N = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = mp.get_context("fork")
def producer(p, jobs, end):
    for i in range(N):
        jobs.put(p * N + i)
    end.wait()
def consumer(jobs, stop, scarce, total):
    s = n = 0
    while True:
        try:
            x = jobs.get(timeout=0.005)
        except queue.Empty:
            if stop.is_set():
                break
            continue
        s += x; n += 1
        if n % 10000 == 0:
            with scarce:
                pass
    with total.get_lock():
        total.value += n
if __name__ == "__main__":
    jobs, end, stop, scarce = ctx.Queue(), ctx.Barrier(P + 1), ctx.Event(), ctx.Semaphore(1)
    total = ctx.Value("q", 0)
    t = time.perf_counter()
    ps = [ctx.Process(target=producer, args=(p, jobs, end)) for p in range(P)]
    ps += [ctx.Process(target=consumer, args=(jobs, stop, scarce, total)) for _ in range(C)]
    for p in ps: p.start()
    end.wait(); stop.set()
    for p in ps: p.join()
    assert total.value == P * N, total.value
    print(time.perf_counter() - t)
"#;

fn python_equivalent() -> Option<Duration> {
    let out = std::process::Command::new("python3")
        .args(["-c", PYTHON])
        .args([PRODUCERS, CONSUMERS, ITEMS].map(|x| x.to_string()))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

fn median(mut f: impl FnMut() -> Duration, runs: usize) -> Duration {
    let mut v: Vec<Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    v[runs / 2]
}

/// (key, what, per-op ns) rows of the benchmark.
fn bench(only: &[String]) -> Vec<(String, String, f64)> {
    use coord::*;
    let mut rows = Vec::new();
    let mut row = |key: &str, what: &str, iters: u64, f: &dyn Fn(u64) -> Duration| {
        if !only.is_empty() && !only.iter().any(|o| key.contains(o.as_str())) {
            return;
        }
        let d = median(|| f(iters), 5);
        let ns = d.as_nanos() as f64 / iters as f64;
        eprintln!("{key:32} {what:48} {ns:12.1} ns");
        rows.push((key.to_string(), what.to_string(), ns));
    };
    pin_to(0);
    row(
        "sem_mpshare",
        "Semaphore acquire+release",
        2_000_000,
        &sem_mpshare,
    );
    row(
        "sem_posix",
        "sem_t sem_wait+sem_post",
        2_000_000,
        &sem_posix,
    );
    for (pin, tag, n) in [
        (Pin::Same, "same", 20_000u64),
        (Pin::Cross, "cross", 20_000),
    ] {
        let l = pin.label();
        let off = |f: fn(Pin, u64) -> Duration| {
            move |i| {
                mpshare::synchronize::fault::set_spinning(false);
                let d = f(pin, i);
                mpshare::synchronize::fault::set_spinning(true);
                d
            }
        };
        row(
            &format!("event_pingpong_{tag}_nospin"),
            &format!("Event ping-pong, {l}, spin off"),
            n,
            &off(pingpong_event),
        );
        row(
            &format!("condition_pingpong_{tag}_nospin"),
            &format!("Condition ping-pong, {l}, spin off"),
            n,
            &off(pingpong_condition),
        );
        row(
            &format!("queue_pingpong_{tag}_nospin"),
            &format!("Queue 64 B ping-pong, {l}, spin off"),
            n,
            &off(pingpong_queue),
        );
        row(
            &format!("barrier_{tag}_nospin"),
            &format!("Barrier(2) round, {l}, spin off"),
            n,
            &off(barrier_mpshare),
        );
        row(
            &format!("queue_throughput_{tag}_nospin"),
            &format!("Queue put->get, 64 B msg, {l}, spin off"),
            2_000_000,
            &off(throughput_queue),
        );
        row(
            &format!("futex_pingpong_{tag}"),
            &format!("raw futex ping-pong, {l}"),
            n,
            &|i| pingpong_futex(pin, i),
        );
        row(
            &format!("event_pingpong_{tag}"),
            &format!("Event ping-pong, {l}"),
            n,
            &|i| pingpong_event(pin, i),
        );
        row(
            &format!("pthread_cond_pingpong_{tag}"),
            &format!("pthread mutex+condvar ping-pong, {l}"),
            n,
            &|i| pingpong_pthread_cond(pin, i),
        );
        row(
            &format!("condition_pingpong_{tag}"),
            &format!("Condition ping-pong, {l}"),
            n,
            &|i| pingpong_condition(pin, i),
        );
        row(
            &format!("queue_pingpong_{tag}"),
            &format!("Queue 64 B ping-pong, {l}"),
            n,
            &|i| pingpong_queue(pin, i),
        );
        row(
            &format!("pthread_barrier_{tag}"),
            &format!("pthread_barrier_t(2) round, {l}"),
            n,
            &|i| barrier_pthread(pin, i),
        );
        row(
            &format!("barrier_{tag}"),
            &format!("Barrier(2) round, {l}"),
            n,
            &|i| barrier_mpshare(pin, i),
        );
        row(
            &format!("ring_throughput_{tag}"),
            &format!("SPSC futex ring, 64 B msg, {l}"),
            2_000_000,
            &|i| throughput_ring(pin, i),
        );
        row(
            &format!("queue_throughput_{tag}"),
            &format!("Queue put->get, 64 B msg, {l}"),
            2_000_000,
            &|i| throughput_queue(pin, i),
        );
    }
    rows
}

fn main() -> mpshare::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") {
        // `--only a,b`: just the rows whose key contains one of the words.
        let only: Vec<String> = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let rows = bench(&only);
        if args.iter().any(|a| a == "--json") {
            let body: Vec<String> = rows
                .iter()
                .map(|(k, w, ns)| format!("\"{k}\": {{\"what\": \"{w}\", \"ns\": {ns:.3}}}"))
                .collect();
            println!("{{{}}}", body.join(", "));
        } else {
            println!("| case | per op |");
            println!("|---|---:|");
            for (_, w, ns) in rows {
                println!("| {w} | {ns:.1} ns |");
            }
        }
        return Ok(());
    }
    let ours = demo()?;
    match python_equivalent() {
        Some(py) => println!(
            "CPython multiprocessing (Queue, Barrier, Event, Semaphore), same program: {py:.2?} \
             -> mpshare {:.1}x faster",
            py.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!("CPython equivalent: python3 not available"),
    }
    Ok(())
}
