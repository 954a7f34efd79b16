//! A numeric pipeline on a shared 2-D array, without `unsafe`: a [`Pool`] of forked workers
//! fills the grid (compute-bound: each cell iterates a short chain of `sin`/`sqrt`), and after
//! a barrier a 5-point stencil smooths it into a second grid and reduces it to a sum. Every
//! worker writes its own rows through a `&mut [f64]` it got from the pool or the scope (safe
//! code: the parent holds the arrays' locks and cannot touch the rows until the workers are
//! joined). The result is checked, bit for bit, against the same computation in one process.
//!
//! ```text
//! cargo run --release --example numeric_pipeline -- [--rows R] [--cols C] [--iters K] [--workers W] [--rounds N]
//! ```
//!
//! Defaults: 1024 x 1024 cells, 24 iterations per cell, one worker per CPU, best of 3 rounds.
//! Timed, side by side (the variants interleave round by round, so a busy machine slows all of
//! them alike):
//!
//! * one process: fill + stencil + sum in a loop;
//! * pool: `Pool::map_chunks` fills row blocks, a second `map_chunks` runs the stencil (the end
//!   of the first map is the barrier);
//! * workers + barrier: `process::scope` forks one worker per row block, each fills its rows,
//!   publishes its edge rows in a small shared halo array, waits at an `mpshare::Barrier`,
//!   then runs the stencil on its rows;
//! * rayon: the same two phases on rayon threads in one process (the in-process reference).

use std::ops::Range;
use std::time::{Duration, Instant};

use mpshare::process::{self, chunk_range, Pool, Process};
use mpshare::{Array, Barrier, RawArray, RawValue};
use rayon::prelude::*;

/// The compute-bound cell function.
fn cell(r: usize, c: usize, cols: usize, iters: usize) -> f64 {
    let mut x = (r * cols + c) as f64 * 1e-6;
    for _ in 0..iters {
        x = (x.sin() + 1.5).sqrt();
    }
    x
}

/// Fill rows `rows` of the grid (`out` holds exactly those rows).
fn fill(out: &mut [f64], rows: Range<usize>, cols: usize, iters: usize) {
    for (k, row) in rows.enumerate() {
        for (c, x) in out[k * cols..(k + 1) * cols].iter_mut().enumerate() {
            *x = cell(row, c, cols, iters);
        }
    }
}

/// Row `r` of the 5-point stencil of a grid read through `get(row, col)` (`out` holds the
/// row's `cols` cells); the grid's edge cells are copied.
fn stencil_row(
    r: usize,
    rows: usize,
    cols: usize,
    get: &impl Fn(usize, usize) -> f64,
    out: &mut [f64],
) {
    for (c, o) in out.iter_mut().enumerate().take(cols) {
        *o = if r == 0 || r == rows - 1 || c == 0 || c == cols - 1 {
            get(r, c)
        } else {
            0.5 * get(r, c)
                + 0.125 * (get(r - 1, c) + get(r + 1, c) + get(r, c - 1) + get(r, c + 1))
        };
    }
}

/// Stencil rows `rows` of `input` (the whole grid) into `out` (exactly those rows); returns
/// their sum.
fn stencil(input: &[f64], out: &mut [f64], rows: Range<usize>, nrows: usize, cols: usize) -> f64 {
    let get = |r: usize, c: usize| input[r * cols + c];
    for (k, r) in rows.enumerate() {
        stencil_row(r, nrows, cols, &get, &mut out[k * cols..(k + 1) * cols]);
    }
    out.iter().sum()
}

struct Args {
    rows: usize,
    cols: usize,
    iters: usize,
    workers: usize,
    rounds: usize,
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

/// Pool: two `map_chunks`, row blocks of equal size (the last may be shorter).
fn pool(
    a: &Args,
    pool: &Pool,
    grid: &Array<f64>,
    out: &Array<f64>,
    rows_per: usize,
) -> mpshare::Result<f64> {
    let chunk = rows_per * a.cols;
    let mut g = grid.lock()?;
    pool.map_chunks(&mut g, chunk, |i, rows| {
        let start = i * rows_per;
        fill(rows, start..start + rows.len() / a.cols, a.cols, a.iters)
    })?
    .into_iter()
    .collect::<mpshare::Result<Vec<()>>>()?;
    // All fill tasks are done: the grid is read-only from here on.
    let input: &[f64] = &g;
    let mut o = out.lock()?;
    let sums = pool.map_chunks(&mut o, chunk, |i, rows| {
        let start = i * rows_per;
        stencil(
            input,
            rows,
            start..start + rows.len() / a.cols,
            a.rows,
            a.cols,
        )
    })?;
    sums.into_iter().sum::<mpshare::Result<f64>>()
}

/// Workers + barrier: one forked worker per row block: fill its rows, publish its first and last
/// row in a small shared halo array, wait at the barrier, then run the stencil on its rows with
/// its neighbours' edge rows from the halo array.
fn workers_barrier(
    a: &Args,
    grid: &Array<f64>,
    out: &Array<f64>,
    halo: &RawArray<f64>,
    partial: &RawArray<f64>,
) -> mpshare::Result<f64> {
    let barrier = Barrier::new(a.workers as u32)?;
    let ranges: Vec<Range<usize>> = (0..a.workers)
        .map(|w| chunk_range(a.rows, a.workers, w))
        .collect();
    let mut g = grid.lock()?;
    let mut o = out.lock()?;
    let cols = a.cols;
    process::scope(|s| {
        let mut g_rest: &mut [f64] = &mut g;
        let mut o_rest: &mut [f64] = &mut o;
        for (w, r) in ranges.iter().cloned().enumerate() {
            let n = r.len() * cols;
            let (mine, rest) = std::mem::take(&mut g_rest).split_at_mut(n);
            let (mine_out, rest_out) = std::mem::take(&mut o_rest).split_at_mut(n);
            g_rest = rest;
            o_rest = rest_out;
            let barrier = &barrier;
            s.fork(move || -> mpshare::Result<()> {
                fill(mine, r.clone(), cols, a.iters);
                if !r.is_empty() {
                    halo.write(2 * w * cols, &mine[..cols])?;
                    halo.write((2 * w + 1) * cols, &mine[n - cols..])?;
                }
                barrier.wait()?;
                let above = if r.start > 0 {
                    halo.read((2 * w - 1) * cols..2 * w * cols)?
                } else {
                    Vec::new()
                };
                let below = if r.end < a.rows {
                    halo.read((2 * w + 2) * cols..(2 * w + 3) * cols)?
                } else {
                    Vec::new()
                };
                let mine = &*mine;
                let get = |row: usize, c: usize| {
                    if row < r.start {
                        above[c]
                    } else if row >= r.end {
                        below[c]
                    } else {
                        mine[(row - r.start) * cols + c]
                    }
                };
                for (k, row) in r.clone().enumerate() {
                    stencil_row(
                        row,
                        a.rows,
                        cols,
                        &get,
                        &mut mine_out[k * cols..(k + 1) * cols],
                    );
                }
                partial.set(w, mine_out.iter().sum())
            })?;
        }
        Ok::<(), mpshare::Error>(())
    })??;
    Ok(partial.to_vec().iter().sum())
}

/// rayon threads in one process: the same two phases over the same row blocks.
fn rayon_run(a: &Args, threads: usize, rows_per: usize) -> (f64, Duration) {
    let tp = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    let mut grid = vec![0.0; a.rows * a.cols];
    let mut out = vec![0.0; a.rows * a.cols];
    let chunk = rows_per * a.cols;
    let t = Instant::now();
    let sum = tp.install(|| {
        grid.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, rows)| {
                let start = i * rows_per;
                fill(rows, start..start + rows.len() / a.cols, a.cols, a.iters)
            });
        let input = &grid;
        let sums: Vec<f64> = out
            .par_chunks_mut(chunk)
            .enumerate()
            .map(|(i, rows)| {
                let start = i * rows_per;
                stencil(
                    input,
                    rows,
                    start..start + rows.len() / a.cols,
                    a.rows,
                    a.cols,
                )
            })
            .collect();
        sums.into_iter().sum::<f64>()
    });
    (sum, t.elapsed())
}

/// CPU time used so far by this process and its reaped children (workers, the rayon child):
/// fields 14-17 of `/proc/self/stat`. On a busy machine the wall time of the parallel variants
/// says little; the CPU time says what they cost compared with one process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    // After ')', field 3 comes first: fields 14..=17 are the 12th..=15th.
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / hz)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> mpshare::Result<()> {
    let a = Args {
        rows: arg("--rows", 1024),
        cols: arg("--cols", 1024),
        iters: arg("--iters", 24),
        workers: arg(
            "--workers",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
        rounds: arg("--rounds", 3),
    };
    let cells = a.rows * a.cols;
    println!(
        "{} x {} f64 grid ({} MB), {} iterations per cell, {} worker(s), best of {} rounds\n",
        a.rows,
        a.cols,
        (cells * 8) >> 20,
        a.iters,
        a.workers,
        a.rounds
    );
    // Four row blocks per worker for the pool (dynamic balance); the reference and rayon use
    // the same blocks so that the sums are bit-identical.
    let tasks = (a.workers * 4).min(a.rows);
    let rows_per = a.rows.div_ceil(tasks);
    let nblocks = a.rows.div_ceil(rows_per);

    // 2-D arrays: the shape is recorded in the segment header (C order, row-major).
    let grid = Array::<f64>::new_nd(&[a.rows, a.cols])?;
    let out = Array::<f64>::new_nd(&[a.rows, a.cols])?;
    assert_eq!(grid.shape(), [a.rows, a.cols]);
    let partial = RawArray::<f64>::new(a.workers)?;
    let halo = RawArray::<f64>::new(2 * a.workers * a.cols)?;
    let workers = Pool::new(a.workers)?;
    let rayon_time = RawValue::new(0.0f64)?;
    let rayon_sum = RawValue::new(0.0f64)?;

    let (mut t_single, mut t_pool, mut t_barrier, mut t_rayon) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut s_single, mut s_pool, mut s_barrier) = (0.0, 0.0, 0.0);
    // CPU time per variant (best round): one process, pool, barrier, rayon.
    let mut cpu = [Duration::MAX; 4];
    let mut same_grid = true;
    for _ in 0..a.rounds {
        // One process, with the pool's row blocks (so that the sums are bit-identical).
        let c = cpu_time();
        let t = Instant::now();
        let (s, grid_ref) = {
            let mut g = vec![0.0; cells];
            let mut o = vec![0.0; cells];
            let mut sum = 0.0;
            for b in 0..nblocks {
                let r = b * rows_per..((b + 1) * rows_per).min(a.rows);
                fill(&mut g[r.start * a.cols..r.end * a.cols], r, a.cols, a.iters);
            }
            for b in 0..nblocks {
                let r = b * rows_per..((b + 1) * rows_per).min(a.rows);
                sum += stencil(
                    &g,
                    &mut o[r.start * a.cols..r.end * a.cols],
                    r,
                    a.rows,
                    a.cols,
                );
            }
            (sum, o)
        };
        t_single = t_single.min(t.elapsed());
        cpu[0] = cpu[0].min(cpu_time().saturating_sub(c));
        s_single = s;
        let reference = grid_ref;

        let c = cpu_time();
        let t = Instant::now();
        s_pool = pool(&a, &workers, &grid, &out, rows_per)?;
        t_pool = t_pool.min(t.elapsed());
        cpu[1] = cpu[1].min(cpu_time().saturating_sub(c));
        same_grid &= *out.lock()? == reference[..];

        out.lock()?.fill(0.0);
        let c = cpu_time();
        let t = Instant::now();
        s_barrier = workers_barrier(&a, &grid, &out, &halo, &partial)?;
        t_barrier = t_barrier.min(t.elapsed());
        cpu[2] = cpu[2].min(cpu_time().saturating_sub(c));
        same_grid &= *out.lock()? == reference[..];

        // rayon in a forked child: its threads must not make this process multi-threaded
        // (which would refuse the next round's forks).
        let mut p = Process::new({
            let (time, sum) = (rayon_time.clone(), rayon_sum.clone());
            let (rows, cols, iters, workers) = (a.rows, a.cols, a.iters, a.workers);
            move || {
                let a = Args {
                    rows,
                    cols,
                    iters,
                    workers,
                    rounds: 1,
                };
                let (s, d) = rayon_run(&a, workers, rows_per);
                sum.set(s);
                time.set(d.as_secs_f64());
            }
        });
        let c = cpu_time();
        p.start()?;
        p.join_checked()?;
        cpu[3] = cpu[3].min(cpu_time().saturating_sub(c));
        t_rayon = t_rayon.min(Duration::from_secs_f64(rayon_time.get()));
    }

    let x = |t: Duration| t_single.as_secs_f64() / t.as_secs_f64();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the table: {}\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| variant | wall time | speed-up vs one process | CPU time | CPU vs one process | sum |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    let rows = [
        ("one process".to_string(), t_single, cpu[0], s_single),
        (
            format!("pool, {} workers (map_chunks x2)", a.workers),
            t_pool,
            cpu[1],
            s_pool,
        ),
        (
            format!("{} workers + barrier (scope)", a.workers),
            t_barrier,
            cpu[2],
            s_barrier,
        ),
        (
            format!("rayon, {} threads, one process", a.workers),
            t_rayon,
            cpu[3],
            rayon_sum.get(),
        ),
    ];
    for (label, t, c, sum) in &rows {
        println!(
            "| {label} | {:.1} ms | {:.2}x | {:.0} ms | {:.2} | {sum:.12e} |",
            ms(*t),
            x(*t),
            ms(*c),
            c.as_secs_f64() / cpu[0].as_secs_f64().max(1e-9)
        );
    }
    println!(
        "\npool / rayon time: {:.3} (1.00 = as fast as threads); workers+barrier / rayon: {:.3}",
        t_pool.as_secs_f64() / t_rayon.as_secs_f64(),
        t_barrier.as_secs_f64() / t_rayon.as_secs_f64()
    );
    let pool_ok = s_pool.to_bits() == s_single.to_bits();
    let rayon_ok = rayon_sum.get().to_bits() == s_single.to_bits();
    // The barrier variant sums per worker block, so its order differs: compare closely.
    let barrier_ok = ((s_barrier - s_single) / s_single).abs() < 1e-9;
    println!(
        "check: pool sum {}, rayon sum {}, barrier sum {}, smoothed grids {}",
        if pool_ok { "bit-identical" } else { "DIFFERS" },
        if rayon_ok { "bit-identical" } else { "DIFFERS" },
        if barrier_ok {
            "equal (other summation order)"
        } else {
            "DIFFERS"
        },
        if same_grid { "identical" } else { "DIFFERENT" },
    );
    if !(pool_ok && rayon_ok && barrier_ok && same_grid) {
        std::process::exit(1);
    }
    Ok(())
}
