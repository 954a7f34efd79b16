//! Every way to increment one shared counter from N forked workers, side by side: what each
//! costs and which ones lose updates.
//!
//! ```text
//! cargo run --release --example lock_vs_lockless -- [--workers N] [--increments M] [--pin]
//! ```
//!
//! Defaults: 4 workers × 1 000 000 increments each. `--pin` pins worker `i` to CPU `i % ncpu`
//! (sched_setaffinity). Workers wait at a start gate until all are forked so they really
//! overlap; the time runs from opening the gate to the last worker finishing its loop.
//!
//! Modes:
//! * `locked get()+set()` — `v.set(v.get()? + 1)` on a `Value`: two lock round trips, and the
//!   lock is not held across the read-modify-write, so updates are lost (Python's `v.value += 1`);
//! * `guard *v.lock()+=1` — one lock round trip held across the increment: exact;
//! * `update(|x| x+1)` — the same as a closure: exact;
//! * `atomic fetch_add` — `RawValue::fetch_add(1)`: one hardware atomic, exact;
//! * `raw get()+set()` — lockless `RawValue` read then write: fast and loses updates;
//! * `Lock + raw get+set` — a separate `Lock` held around the lockless increment: exact.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mpshare::{process, Lock, RawArray, RawValue, Value};

struct Opts {
    workers: usize,
    increments: u64,
    pin: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: lock_vs_lockless [--workers N] [--increments M] [--pin]");
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut o = Opts {
        workers: 4,
        increments: 1_000_000,
        pin: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            let v = args
                .next()
                .unwrap_or_else(|| usage(&format!("{what} needs a number")));
            v.replace('_', "").parse().unwrap_or_else(|_| {
                usage(&format!("{what}: expected a positive integer, found {v:?}"))
            })
        };
        match a.as_str() {
            "--workers" | "-w" => o.workers = num("--workers") as usize,
            "--increments" | "-n" => o.increments = num("--increments"),
            "--pin" => o.pin = true,
            "--help" | "-h" => usage("lock_vs_lockless: forked counter increments in every mode"),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if o.workers == 0 || o.workers > 64 {
        usage(&format!("--workers: expected 1..=64, found {}", o.workers));
    }
    o
}

fn pin_to(cpu: usize) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu % n).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn now_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Fork `o.workers` children that each run `work` after a start gate; returns the time from
/// opening the gate to the last worker's end stamp.
fn in_workers(o: &Opts, work: impl Fn()) -> mpshare::Result<Duration> {
    // [0] = ready count, [1] = gate, [2..] = end stamps.
    let ctl = RawArray::<u64>::new(2 + o.workers)?;
    let started = process::scope(|s| {
        for i in 0..o.workers {
            let (ctl, work) = (&ctl, &work);
            s.fork(move || {
                if o.pin {
                    pin_to(i);
                }
                let _ = ctl.fetch_add(0, 1);
                while !matches!(ctl.get(1), Ok(1)) {
                    std::thread::yield_now();
                }
                work();
                let _ = ctl.set(2 + i, now_ns());
            })?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while ctl.get(0)? < o.workers as u64 {
            if Instant::now() > deadline {
                eprintln!("workers did not start within 60 s");
                break;
            }
            std::thread::yield_now();
        }
        let t0 = now_ns();
        ctl.set(1, 1)?;
        Ok::<u64, mpshare::Error>(t0)
    });
    // A failed worker is reported (the scope joined them all).
    let t0 = match started {
        Ok(t0) => t0?,
        Err(e) => {
            eprintln!("{e}");
            0
        }
    };
    let end = (0..o.workers)
        .filter_map(|i| ctl.get(2 + i).ok())
        .max()
        .unwrap_or(t0);
    Ok(Duration::from_nanos(end.saturating_sub(t0)))
}

struct Row {
    mode: &'static str,
    total: i64,
    time: Duration,
}

fn main() -> mpshare::Result<()> {
    let o = parse();
    let n = o.increments;
    let mut rows = Vec::new();

    let v = Value::new(0i64)?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            let x = v.get().expect("get");
            v.set(x + 1).expect("set");
        }
    })?;
    rows.push(Row {
        mode: "locked get()+set()",
        total: v.get()?,
        time: t,
    });

    let v = Value::new(0i64)?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            *v.lock().expect("lock") += 1;
        }
    })?;
    rows.push(Row {
        mode: "guard *v.lock()+=1",
        total: v.get()?,
        time: t,
    });

    let v = Value::new(0i64)?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            v.update(|x| x + 1).expect("update");
        }
    })?;
    rows.push(Row {
        mode: "update(|x| x+1)",
        total: v.get()?,
        time: t,
    });

    let r = RawValue::new(0i64)?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            r.fetch_add(1);
        }
    })?;
    rows.push(Row {
        mode: "atomic fetch_add",
        total: r.get(),
        time: t,
    });

    let r = RawValue::new(0i64)?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            // black_box: stop the compiler from merging successive relaxed load/store pairs.
            let r = black_box(&r);
            r.set(r.get() + 1);
        }
    })?;
    rows.push(Row {
        mode: "raw get()+set()",
        total: r.get(),
        time: t,
    });

    let r = RawValue::new(0i64)?;
    let lock = Lock::new()?;
    let t = in_workers(&o, || {
        for _ in 0..n {
            let _g = lock.lock().expect("lock");
            r.set(r.get() + 1);
        }
    })?;
    rows.push(Row {
        mode: "Lock + raw get+set",
        total: r.get(),
        time: t,
    });

    let expected = (o.workers as u64 * n) as i64;
    println!(
        "{} forked workers x {} increments{} ({} CPUs)",
        o.workers,
        n,
        if o.pin { ", pinned" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| {:<20} | {:>12} | {:>12} | {:>12} | {:>8} | {:>8} |",
        "mode", "final count", "expected", "lost", "ns/op", "Mops/s"
    );
    println!(
        "|{:-<22}|{:->14}|{:->14}|{:->14}|{:->10}|{:->10}|",
        "", ":", ":", ":", ":", ":"
    );
    for r in &rows {
        let ns = r.time.as_nanos() as f64 / expected.max(1) as f64;
        println!(
            "| {:<20} | {:>12} | {:>12} | {:>12} | {:>8.2} | {:>8.1} |",
            r.mode,
            r.total,
            expected,
            expected - r.total,
            ns,
            1e3 / ns
        );
    }
    println!(
        "\nns/op is wall time / total increments across all workers. Only the guard, update, \
         atomic and Lock-held rows are exact;\nget()+set() on a Value takes the lock twice but \
         not across the increment, like Python's `v.value += 1`."
    );
    Ok(())
}
