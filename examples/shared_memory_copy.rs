//! Bulk copies of an 8 MiB `SharedMemory` block against `memcpy`, interleaved round by round
//! (in a rotating order) so a busy machine slows every method alike; prints the best and median round of each as a
//! Markdown table, and the ratio to `memcpy`.
//!
//!     cargo run --release --example shared_memory_copy [ROUNDS]

use std::hint::black_box;
use std::time::{Duration, Instant};

use mpshare::shared_memory::SharedMemory;

const N: usize = 8 << 20;

fn main() -> mpshare::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(60);
    let shm = SharedMemory::anonymous(N)?;
    let src: Vec<u8> = (0..N).map(|i| i as u8).collect();
    shm.write(0, &src)?;
    let mut dst = vec![0u8; N];
    let mut private = vec![1u8; N];
    let names = [
        "memcpy private -> private",
        "memcpy out of the mapping (unsafe as_slice)",
        "SharedMemory::read (atomic words)",
        "memcpy into the mapping (unsafe as_mut_slice)",
        "SharedMemory::write (atomic words)",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        // Rotate the order so no method always follows the same one (cache state).
        for j in 0..names.len() {
            let k = (round + j) % names.len();
            let t = &mut times[k];
            let start = Instant::now();
            match k {
                0 => black_box(&mut private).copy_from_slice(black_box(&src)),
                1 => {
                    // SAFETY: nothing else writes the block during this copy.
                    let v: &[u8] = unsafe { shm.as_slice(0, N) }?;
                    dst.copy_from_slice(black_box(v));
                }
                2 => shm.read(0, black_box(&mut dst))?,
                3 => {
                    // SAFETY: nothing else reads or writes the block during this copy.
                    let v: &mut [u8] = unsafe { shm.as_mut_slice(0, N) }?;
                    v.copy_from_slice(black_box(&src));
                }
                _ => shm.write(0, black_box(&src))?,
            }
            t.push(start.elapsed());
            black_box((&dst, &private));
        }
    }
    let stat = |v: &mut Vec<Duration>| {
        v.sort();
        (v[0], v[v.len() / 2])
    };
    let (base_best, base_med) = stat(&mut times[0].clone());
    println!("8 MiB copies, {rounds} interleaved rounds");
    println!();
    println!("| method | best | median | GiB/s (best) | vs memcpy (best / median) |");
    println!("|---|---:|---:|---:|---:|");
    for (k, name) in names.iter().enumerate() {
        let (best, med) = stat(&mut times[k]);
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.1} | {:.0}% / {:.0}% |",
            best.as_secs_f64() * 1e6,
            med.as_secs_f64() * 1e6,
            N as f64 / best.as_secs_f64() / (1u64 << 30) as f64,
            base_best.as_secs_f64() / best.as_secs_f64() * 100.0,
            base_med.as_secs_f64() / med.as_secs_f64() * 100.0,
        );
    }
    Ok(())
}
