//! The mpshare side of `bench/compare_cpython.py`: the same operations the script times in
//! CPython's `multiprocessing`, timed here.
//!
//! ```text
//! python3 bench/compare_cpython.py                      # runs this and CPython, one table
//! cargo run --release --example compare_cpython         # this side alone, as a table
//! cargo run --release --example compare_cpython -- --json [--pin]
//! ```
//!
//! `--pin` pins the single-process measurements to CPU 0 and the two workers of the
//! two-process rows to CPUs 0 and 1 (the script passes it and pins CPython the same way).

use std::hint::black_box;
use std::time::{Duration, Instant};

use mpshare::{process, Array, RawArray, RawValue, Value};

fn pin_to(cpu: usize) {
    // Every CPU online, not `available_parallelism` (the affinity mask: 1 once pinned).
    let n = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .unwrap_or(1)
        .max(1) as usize;
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu % n).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn now_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Best of `repeat` runs of `f(n)`, in ns per operation.
fn per_op(n: u64, repeat: usize, mut f: impl FnMut(u64)) -> f64 {
    (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f(n);
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Two forked workers run `work` after a start gate; the time from opening the gate to the
/// later of their end stamps.
fn two_workers(pin: bool, work: impl Fn()) -> mpshare::Result<Duration> {
    let ctl = RawArray::<u64>::new(4)?; // ready, gate, end0, end1
    let started = process::scope(|s| {
        for i in 0..2 {
            let (ctl, work) = (&ctl, &work);
            s.fork(move || {
                if pin {
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
        while ctl.get(0)? < 2 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let t0 = now_ns();
        ctl.set(1, 1)?;
        Ok::<u64, mpshare::Error>(t0)
    });
    // A failed worker is reported; its end stamp stays 0.
    let t0 = match started {
        Ok(t0) => t0?,
        Err(e) => {
            eprintln!("{e}");
            0
        }
    };
    let end = ctl.get(2)?.max(ctl.get(3)?);
    Ok(Duration::from_nanos(end.saturating_sub(t0)))
}

struct Row {
    key: &'static str,
    what: &'static str,
    ns: f64,
    lost: Option<(i64, i64)>,
}

fn measure(pin: bool) -> mpshare::Result<Vec<Row>> {
    if pin {
        pin_to(0);
    }
    let mut rows = Vec::new();
    let n = 10_000_000;

    let r = RawValue::new(0i64)?;
    let ns = per_op(n, 5, |n| {
        for _ in 0..n {
            let r = black_box(&r);
            r.set(r.get() + 1);
        }
    });
    rows.push(Row {
        key: "raw_inc",
        what: "r.set(r.get() + 1)",
        ns,
        lost: None,
    });

    let v = Value::new(0i64)?;
    let ns = per_op(n, 5, |n| {
        for _ in 0..n {
            *black_box(&v).lock().expect("lock") += 1;
        }
    });
    rows.push(Row {
        key: "guard_inc",
        what: "*v.lock()? += 1",
        ns,
        lost: None,
    });

    let ns = per_op(n, 5, |n| {
        for _ in 0..n {
            let v = black_box(&v);
            v.set(v.get().expect("get") + 1).expect("set");
        }
    });
    rows.push(Row {
        key: "locked_get_set",
        what: "v.set(v.get()? + 1)",
        ns,
        lost: None,
    });

    let per = 5_000_000u64;
    let v = Value::new(0i64)?;
    let t = two_workers(pin, || {
        for _ in 0..per {
            *v.lock().expect("lock") += 1;
        }
    })?;
    rows.push(Row {
        key: "two_proc_locked",
        what: "2 procs: *v.lock()? += 1",
        ns: t.as_nanos() as f64 / (2 * per) as f64,
        lost: Some((2 * per as i64 - v.get()?, 2 * per as i64)),
    });

    let per = 20_000_000u64;
    let r = RawValue::new(0i64)?;
    let t = two_workers(pin, || {
        for _ in 0..per {
            let r = black_box(&r);
            r.set(r.get() + 1);
        }
    })?;
    rows.push(Row {
        key: "two_proc_lockless",
        what: "2 procs: r.set(r.get() + 1)",
        ns: t.as_nanos() as f64 / (2 * per) as f64,
        lost: Some((2 * per as i64 - r.get(), 2 * per as i64)),
    });

    let len = 1_000_000usize;
    let data: Vec<f64> = (0..len).map(|i| i as f64).collect();
    let a = Array::<f64>::new(len)?;
    let ns = per_op(1, 20, |_| a.write(0, black_box(&data)).expect("write"));
    rows.push(Row {
        key: "array_in",
        what: "a.write(0, &data)",
        ns,
        lost: None,
    });
    let ns = per_op(1, 20, |_| drop(black_box(a.read(0..len).expect("read"))));
    rows.push(Row {
        key: "array_out",
        what: "a.read(0..n) -> Vec",
        ns,
        lost: None,
    });
    Ok(rows)
}

fn main() -> mpshare::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let pin = args.iter().any(|a| a == "--pin");
    let rows = measure(pin)?;
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                let lost = match r.lost {
                    Some((l, t)) => format!(", \"lost\": {l}, \"total\": {t}"),
                    None => String::new(),
                };
                format!(
                    "\"{}\": {{\"what\": \"{}\", \"ns\": {:.3}{lost}}}",
                    r.key, r.what, r.ns
                )
            })
            .collect();
        println!("{{{}}}", items.join(", "));
        return Ok(());
    }
    println!("| mpshare operation | ns/op | lost updates |");
    println!("|---|---:|---:|");
    for r in &rows {
        let lost = r.lost.map_or(String::new(), |(l, t)| format!("{l} of {t}"));
        println!("| {} | {:.2} | {lost} |", r.what, r.ns);
    }
    let has_python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_python {
        println!("\nFor the CPython side: python3 bench/compare_cpython.py");
    } else {
        println!("\nCPython comparison skipped: python3 not found on PATH.");
    }
    Ok(())
}
