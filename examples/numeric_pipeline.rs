//! A numeric pipeline on one shared array: forked workers each fill and reduce their own chunk
//! of a `RawArray<f64>` in place (no copies, through the `unsafe` `slice_mut`), put their
//! partial sums in a small `RawArray<f64>`, and the parent adds them up. The result is checked
//! against the same computation in one process.
//!
//! ```text
//! cargo run --release --example numeric_pipeline -- [--len N] [--workers W]
//! ```
//!
//! Defaults: 10^7 elements, one worker per CPU. Also timed: the same pipeline where each worker
//! computes into a private `Vec` and copies it in with `RawArray::write` (what you would do
//! without `slice_mut`).

use std::ops::Range;
use std::time::{Duration, Instant};

use mpshare::RawArray;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

fn f(i: usize) -> f64 {
    let x = i as f64 * 1e-6;
    x.sin() * x.sqrt()
}

fn chunk(len: usize, workers: usize, w: usize) -> Range<usize> {
    let per = len.div_ceil(workers);
    (w * per).min(len)..((w + 1) * per).min(len)
}

fn fill_and_sum(out: &mut [f64], start: usize) -> f64 {
    for (k, x) in out.iter_mut().enumerate() {
        *x = f(start + k);
    }
    out.iter().sum()
}

/// Run `work(w)` in `workers` forked children and wait for all of them.
fn forked(workers: usize, work: impl Fn(usize)) -> mpshare::Result<()> {
    let mut pids = Vec::new();
    for w in 0..workers {
        // SAFETY: the child only uses inherited mpshare handles and leaves with _exit.
        match unsafe { fork() }? {
            ForkResult::Child => {
                // A panic must not unwind into the copy of the parent's stack.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(w))).is_err() {
                    // SAFETY: async-signal-safe exit; nothing of the parent runs in the child.
                    unsafe { libc::_exit(101) };
                }
                // SAFETY: async-signal-safe exit that skips the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => pids.push(child),
        }
    }
    let mut ok = true;
    for pid in pids {
        if !matches!(waitpid(pid, None)?, WaitStatus::Exited(_, 0)) {
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(mpshare::Error::Io(std::io::Error::other("a worker failed")))
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => match args.get(i + 1).map(|v| v.replace('_', "").parse()) {
            Some(Ok(v)) if v > 0 => v,
            other => {
                eprintln!("{name}: expected a positive integer, found {other:?}");
                std::process::exit(2)
            }
        },
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> mpshare::Result<()> {
    let len = arg("--len", 10_000_000);
    let workers = arg(
        "--workers",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "{len} f64 elements ({} MB), {workers} worker(s)\n",
        (len * 8) >> 20
    );

    // Reference: one process, same chunking and summation order, so the result is bit-exact.
    let t = Instant::now();
    let mut local = vec![0.0f64; len];
    let single: f64 = (0..workers)
        .map(|w| {
            let r = chunk(len, workers, w);
            let start = r.start;
            fill_and_sum(&mut local[r], start)
        })
        .sum();
    let t_single = t.elapsed();

    let t = Instant::now();
    let data = RawArray::<f64>::new(len)?;
    let partial = RawArray::<f64>::new(workers)?;
    let t_alloc = t.elapsed();

    // Zero-copy: each worker fills and reduces its own chunk in place.
    let t = Instant::now();
    forked(workers, |w| {
        let r = chunk(len, workers, w);
        let start = r.start;
        // SAFETY: chunks are disjoint and each is touched by exactly one worker while the
        // parent waits; nothing else reads or writes them until the workers exit.
        let mine = unsafe { data.slice_mut(r) }.expect("chunk in range");
        let s = fill_and_sum(mine, start);
        partial.set(w, s).expect("partial slot");
    })?;
    let shared: f64 = partial.to_vec().iter().sum();
    let t_forked = t.elapsed();

    // Check the data itself, not only the sums.
    // SAFETY: all workers have exited; nobody writes `data` now.
    let view = unsafe { data.slice(0..len) }?;
    let same_data = view == &local[..];

    // With copies: each worker computes into a private Vec and writes it in.
    let copy_data = RawArray::<f64>::new(len)?;
    let t = Instant::now();
    forked(workers, |w| {
        let r = chunk(len, workers, w);
        let start = r.start;
        let mut buf = vec![0.0f64; r.len()];
        let s = fill_and_sum(&mut buf, start);
        copy_data.write(start, &buf).expect("write chunk");
        partial.set(w, s).expect("partial slot");
    })?;
    let copied: f64 = partial.to_vec().iter().sum();
    let t_copy = t.elapsed();

    // Reduce only (data already there): parent sums through the shared slice vs a Vec.
    let t = Instant::now();
    let parent_sum: f64 = view.iter().sum();
    let t_reduce_shared = t.elapsed();
    let t = Instant::now();
    let local_sum: f64 = local.iter().sum();
    let t_reduce_local = t.elapsed();

    println!("| step | time | result |");
    println!("|---|---:|---|");
    println!(
        "| single process, fill + reduce a Vec | {:.1} ms | {single:.9e} |",
        ms(t_single)
    );
    println!(
        "| allocate shared RawArray ({len}) + partials | {:.2} ms | |",
        ms(t_alloc)
    );
    println!(
        "| {workers} forked workers, in place (slice_mut) | {:.1} ms | {shared:.9e} |",
        ms(t_forked)
    );
    println!(
        "| {workers} forked workers, private Vec + write | {:.1} ms | {copied:.9e} |",
        ms(t_copy)
    );
    println!(
        "| reduce in parent: shared slice / Vec | {:.2} / {:.2} ms | {:.3e} |",
        ms(t_reduce_shared),
        ms(t_reduce_local),
        (parent_sum - local_sum).abs()
    );
    println!(
        "\nspeed-up of the forked in-place pipeline over one process: {:.2}x",
        t_single.as_secs_f64() / t_forked.as_secs_f64()
    );
    let ok =
        shared.to_bits() == single.to_bits() && copied.to_bits() == single.to_bits() && same_data;
    println!(
        "check: partial sums {} the single-process result, data {}",
        if shared.to_bits() == single.to_bits() {
            "equal"
        } else {
            "DIFFER from"
        },
        if same_data { "identical" } else { "DIFFERENT" }
    );
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
