//! Two processes (fork), 64-byte messages: ipc-channel (the bytes channel and a typed
//! `IpcSender<Vec<u8>>`) next to mpshare's `Queue` and `PodQueue` of a 64-byte `Pod` struct, measured in one
//! run with both processes pinned to one CPU and to two.
//!
//!     cargo run --release --manifest-path bench/ipc-channel-compare/Cargo.toml [-- --quick]
//!
//! Throughput: the child sends N messages, the parent receives them (time from the start gate
//! to the last message). Ping-pong: one message each way per round trip. Medians of 5 runs
//! (`--quick`: 3 runs of fewer messages). `IPC_COMPARE_DEBUG=1` prints the CPU each child
//! runs on (to check the pinning).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcReceiver, IpcSender};
use mpshare::{PodQueue, Queue};

const MSG: usize = 64;

/// A 64-byte message as a `PodQueue` element.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Msg([u8; MSG]);

impl mpshare::Element for Msg {}

#[derive(Clone, Copy, PartialEq)]
enum Pin {
    Same,
    Cross,
}

fn pin_to(cpu: usize) {
    // Every CPU online, not `available_parallelism` (the affinity mask: 1 once pinned).
    // SAFETY: sysconf has no preconditions.
    let n = (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as usize;
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity on this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % n, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn unpin() {
    // Every CPU online, not `available_parallelism` (the affinity mask: 1 once pinned).
    // SAFETY: sysconf has no preconditions.
    let n = (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as usize;
    // SAFETY: as in `pin_to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in 0..n {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Two words in a shared anonymous page: the start gate.
struct Gate(*mut AtomicU32);

impl Gate {
    fn new() -> Gate {
        // SAFETY: a fresh shared anonymous page, only used through atomics.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        Gate(p.cast())
    }
    fn word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: two words inside the page, mapped until drop.
        unsafe { &*self.0.add(i * 16) }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this size.
        unsafe { libc::munmap(self.0.cast(), 4096) };
    }
}

/// Fork; run `child` there (pinned per `pin`) and `parent` here (CPU 0), started together;
/// the parent's time.
fn two(pin: Pin, parent: impl FnOnce(), child: impl FnOnce()) -> Duration {
    let gate = Gate::new();
    // SAFETY: single-threaded here; the child runs `child` and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        pin_to(if pin == Pin::Same { 0 } else { 1 });
        gate.word(0).store(1, Ordering::Release);
        while gate.word(1).load(Ordering::Acquire) == 0 {
            std::thread::yield_now();
        }
        if std::env::var_os("IPC_COMPARE_DEBUG").is_some() {
            // SAFETY: no arguments.
            eprintln!("child on CPU {}", unsafe { libc::sched_getcpu() });
        }
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).is_ok();
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 101 }) }
    }
    pin_to(0);
    while gate.word(0).load(Ordering::Acquire) == 0 {
        std::thread::yield_now();
    }
    gate.word(1).store(1, Ordering::Release);
    let t = Instant::now();
    parent();
    let took = t.elapsed();
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status:#x}"
    );
    unpin();
    took
}

// ---- throughput: N messages child -> parent ----

fn tp_ipc_bytes(pin: Pin, n: u64) -> Duration {
    let (tx, rx): (IpcBytesSender, IpcBytesReceiver) = ipc::bytes_channel().unwrap();
    two(
        pin,
        || {
            for _ in 0..n {
                assert_eq!(rx.recv().unwrap().len(), MSG);
            }
        },
        || {
            let msg = [7u8; MSG];
            for _ in 0..n {
                tx.send(&msg).unwrap();
            }
        },
    )
}

fn tp_ipc_typed(pin: Pin, n: u64) -> Duration {
    let (tx, rx): (IpcSender<Vec<u8>>, IpcReceiver<Vec<u8>>) = ipc::channel().unwrap();
    two(
        pin,
        || {
            for _ in 0..n {
                assert_eq!(rx.recv().unwrap().len(), MSG);
            }
        },
        || {
            for _ in 0..n {
                tx.send(vec![7u8; MSG]).unwrap();
            }
        },
    )
}

fn tp_queue(pin: Pin, n: u64) -> Duration {
    let q = Queue::new(64 * 1024).unwrap();
    two(
        pin,
        || {
            let mut buf = Vec::with_capacity(MSG);
            for _ in 0..n {
                q.get_into(&mut buf).unwrap();
                assert_eq!(buf.len(), MSG);
            }
        },
        || {
            let msg = [7u8; MSG];
            for _ in 0..n {
                q.put(&msg).unwrap();
            }
        },
    )
}

fn tp_pod(pin: Pin, n: u64) -> Duration {
    let q = PodQueue::<Msg>::new(1024).unwrap();
    two(
        pin,
        || {
            for _ in 0..n {
                assert_eq!(q.get().unwrap().0[0], 7);
            }
        },
        || {
            let msg = Msg([7u8; MSG]);
            for _ in 0..n {
                q.put(&msg).unwrap();
            }
        },
    )
}

// ---- ping-pong: one message each way per round trip ----

fn pp_ipc_bytes(pin: Pin, n: u64) -> Duration {
    let (atx, arx) = ipc::bytes_channel().unwrap();
    let (btx, brx) = ipc::bytes_channel().unwrap();
    two(
        pin,
        || {
            let msg = [7u8; MSG];
            for _ in 0..n {
                atx.send(&msg).unwrap();
                assert_eq!(brx.recv().unwrap().len(), MSG);
            }
        },
        || {
            for _ in 0..n {
                let m = arx.recv().unwrap();
                btx.send(&m).unwrap();
            }
        },
    )
}

fn pp_ipc_typed(pin: Pin, n: u64) -> Duration {
    let (atx, arx) = ipc::channel::<Vec<u8>>().unwrap();
    let (btx, brx) = ipc::channel::<Vec<u8>>().unwrap();
    two(
        pin,
        || {
            for _ in 0..n {
                atx.send(vec![7u8; MSG]).unwrap();
                assert_eq!(brx.recv().unwrap().len(), MSG);
            }
        },
        || {
            for _ in 0..n {
                let m = arx.recv().unwrap();
                btx.send(m).unwrap();
            }
        },
    )
}

fn pp_queue(pin: Pin, n: u64) -> Duration {
    let (a, b) = (Queue::new(4096).unwrap(), Queue::new(4096).unwrap());
    two(
        pin,
        || {
            let msg = [7u8; MSG];
            let mut buf = Vec::with_capacity(MSG);
            for _ in 0..n {
                a.put(&msg).unwrap();
                b.get_into(&mut buf).unwrap();
            }
        },
        || {
            let mut buf = Vec::with_capacity(MSG);
            for _ in 0..n {
                a.get_into(&mut buf).unwrap();
                b.put(&buf).unwrap();
            }
        },
    )
}

fn pp_pod(pin: Pin, n: u64) -> Duration {
    let (a, b) = (
        PodQueue::<Msg>::new(64).unwrap(),
        PodQueue::<Msg>::new(64).unwrap(),
    );
    two(
        pin,
        || {
            let msg = Msg([7u8; MSG]);
            for _ in 0..n {
                a.put(&msg).unwrap();
                assert_eq!(b.get().unwrap().0[0], 7);
            }
        },
        || {
            for _ in 0..n {
                let m = a.get().unwrap();
                b.put(&m).unwrap();
            }
        },
    )
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    v[runs / 2]
}

type Case = fn(Pin, u64) -> Duration;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, tp_n, pp_n) = if quick {
        (3, 20_000u64, 2_000u64)
    } else {
        (5, 200_000, 20_000)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "64-byte messages between two forked processes; medians of {runs} runs; load average {}",
        load.split_whitespace().next().unwrap_or("?")
    );
    println!();
    println!(
        "| case | ipc-channel bytes | ipc-channel typed | mpshare Queue | mpshare PodQueue | Queue / ipc bytes | PodQueue / ipc bytes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let tp: [Case; 4] = [tp_ipc_bytes, tp_ipc_typed, tp_queue, tp_pod];
    let pp: [Case; 4] = [pp_ipc_bytes, pp_ipc_typed, pp_queue, pp_pod];
    for (pin, label) in [(Pin::Same, "same CPU"), (Pin::Cross, "across CPUs")] {
        // Throughput in M msgs/s: higher is better.
        let r: Vec<f64> = tp
            .iter()
            .map(|f| tp_n as f64 / median(runs, || f(pin, tp_n)).as_secs_f64() / 1e6)
            .collect();
        println!(
            "| throughput, {label} | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.1}x | {:.1}x |",
            r[0],
            r[1],
            r[2],
            r[3],
            r[2] / r[0],
            r[3] / r[0]
        );
        // Ping-pong in µs per round trip: lower is better; the ratio is ipc / mpshare.
        let r: Vec<f64> = pp
            .iter()
            .map(|f| median(runs, || f(pin, pp_n)).as_secs_f64() * 1e6 / pp_n as f64)
            .collect();
        println!(
            "| ping-pong, {label} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.1}x | {:.1}x |",
            r[0],
            r[1],
            r[2],
            r[3],
            r[0] / r[2],
            r[0] / r[3]
        );
    }
    println!();
    println!("Ratios > 1: mpshare faster (throughput: mpshare / ipc-channel; ping-pong: ipc-channel time / mpshare time).");
}
