//! Workloads of the coordination benches (criterion `benches/coordination.rs` and
//! `examples/coordination.rs --bench`): each mpshare primitive and the C/kernel primitive
//! beneath it, between two forked processes pinned to one CPU or to two.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mpshare::{Barrier, Condition, Event, Lock, Queue, RawValue, Semaphore};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

/// Where the two processes of a two-process workload run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Both on CPU 0.
    Same,
    /// CPU 0 and CPU 1.
    Cross,
}

impl Pin {
    pub fn label(self) -> &'static str {
        match self {
            Pin::Same => "same CPU",
            Pin::Cross => "across CPUs",
        }
    }
}

pub fn pin_to(cpu: usize) {
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

fn unpin() {
    // Every CPU online, not `available_parallelism` (the affinity mask: 1 once pinned).
    let n = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .unwrap_or(1)
        .max(1) as usize;
    let mut set = nix::sched::CpuSet::new();
    for c in 0..n {
        let _ = set.set(c);
    }
    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
}

/// A page of `MAP_SHARED | MAP_ANONYMOUS` memory for the C primitives.
pub struct Page(*mut u8);

impl Page {
    pub fn new() -> Page {
        // SAFETY: a fresh anonymous shared mapping of one page.
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
        Page(p.cast())
    }
    pub fn at<T>(&self, off: usize) -> *mut T {
        assert!(off + std::mem::size_of::<T>() <= 4096);
        // SAFETY: inside the page.
        unsafe { self.0.add(off).cast() }
    }
    pub fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: aligned u32 inside the page, atomic access only.
        unsafe { AtomicU32::from_ptr(self.at(off)) }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: mapped in new with this size.
        unsafe { libc::munmap(self.0.cast(), 4096) };
    }
}

pub fn futex_wait(w: &AtomicU32, v: u32) {
    // SAFETY: shared futex on a live aligned word; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            w.as_ptr(),
            libc::FUTEX_WAIT,
            v,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

pub fn futex_wake(w: &AtomicU32) {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAKE, 1) };
}

/// Run `child(iters)` in a forked process and time `parent(iters)` here, both pinned per
/// `pin`, started together through a gate. Returns the parent's time.
pub fn two(pin: Pin, iters: u64, parent: impl FnOnce(u64), child: impl FnOnce(u64)) -> Duration {
    let gate = Page::new();
    // SAFETY: the child runs `child` on inherited shared memory and leaves with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            pin_to(if pin == Pin::Same { 0 } else { 1 });
            gate.word(0).store(1, Ordering::Release);
            while gate.word(64).load(Ordering::Acquire) == 0 {
                std::thread::yield_now();
            }
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child(iters)));
            // SAFETY: leave at once, skipping the parent's destructors.
            unsafe { libc::_exit(if ok.is_ok() { 0 } else { 101 }) }
        }
        ForkResult::Parent { child: pid } => {
            pin_to(0);
            while gate.word(0).load(Ordering::Acquire) == 0 {
                std::thread::yield_now();
            }
            gate.word(64).store(1, Ordering::Release);
            let t = Instant::now();
            parent(iters);
            let took = t.elapsed();
            match waitpid(pid, None).expect("waitpid") {
                WaitStatus::Exited(_, 0) => {}
                other => panic!("bench child ended with {other:?}"),
            }
            unpin();
            took
        }
    }
}

// ---- Semaphore vs sem_t (one process) ----

pub fn sem_mpshare(iters: u64) -> Duration {
    let s = Semaphore::new(1).unwrap();
    let t = Instant::now();
    for _ in 0..iters {
        s.acquire().unwrap();
        s.release().unwrap();
    }
    t.elapsed()
}

pub fn sem_posix(iters: u64) -> Duration {
    let page = Page::new();
    let sem = page.at::<libc::sem_t>(0);
    // SAFETY: sem_t in shared memory, pshared = 1.
    unsafe { libc::sem_init(sem, 1, 1) };
    let t = Instant::now();
    for _ in 0..iters {
        // SAFETY: initialised above.
        unsafe {
            libc::sem_wait(sem);
            libc::sem_post(sem);
        }
    }
    let took = t.elapsed();
    // SAFETY: no waiter left.
    unsafe { libc::sem_destroy(sem) };
    took
}

// ---- ping-pong: raw futex, Event, Condition, pthread mutex+condvar, Queue ----

fn binary_ping(w: &AtomicU32) {
    w.store(1, Ordering::Release);
    futex_wake(w);
}

fn binary_wait(w: &AtomicU32) {
    while w.load(Ordering::Acquire) == 0 {
        futex_wait(w, 0);
    }
    w.store(0, Ordering::Relaxed);
}

/// Round trips through two futex words (the kernel floor: no spinning, always a wake call).
pub fn pingpong_futex(pin: Pin, iters: u64) -> Duration {
    let page = Page::new();
    two(
        pin,
        iters,
        |n| {
            for _ in 0..n {
                binary_ping(page.word(0));
                binary_wait(page.word(64));
            }
        },
        |n| {
            for _ in 0..n {
                binary_wait(page.word(0));
                binary_ping(page.word(64));
            }
        },
    )
}

pub fn pingpong_event(pin: Pin, iters: u64) -> Duration {
    let (a, b) = (Event::new().unwrap(), Event::new().unwrap());
    two(
        pin,
        iters,
        |n| {
            for _ in 0..n {
                a.set();
                b.wait();
                b.clear();
            }
        },
        |n| {
            for _ in 0..n {
                a.wait();
                a.clear();
                b.set();
            }
        },
    )
}

pub fn pingpong_condition(pin: Pin, iters: u64) -> Duration {
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let turn = RawValue::new(0u32).unwrap();
    two(
        pin,
        iters,
        |n| {
            let _g = cond.lock().unwrap();
            for _ in 0..n {
                turn.set(1);
                cond.notify(1).unwrap();
                while turn.get() == 1 {
                    let _ = cond.wait().unwrap();
                }
            }
        },
        |n| {
            let _g = cond.lock().unwrap();
            for _ in 0..n {
                while turn.get() == 0 {
                    let _ = cond.wait().unwrap();
                }
                turn.set(0);
                cond.notify(1).unwrap();
            }
        },
    )
}

pub fn pingpong_pthread_cond(pin: Pin, iters: u64) -> Duration {
    let page = Page::new();
    let m = page.at::<libc::pthread_mutex_t>(0);
    let c = page.at::<libc::pthread_cond_t>(128);
    // SAFETY: process-shared mutex and condvar initialised once in shared memory.
    unsafe {
        let mut ma = std::mem::zeroed::<libc::pthread_mutexattr_t>();
        libc::pthread_mutexattr_init(&mut ma);
        libc::pthread_mutexattr_setpshared(&mut ma, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_mutex_init(m, &ma);
        let mut ca = std::mem::zeroed::<libc::pthread_condattr_t>();
        libc::pthread_condattr_init(&mut ca);
        libc::pthread_condattr_setpshared(&mut ca, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_cond_init(c, &ca);
    }
    let turn = page.word(256);
    two(
        pin,
        iters,
        |n| {
            // SAFETY: initialised above; standard condvar protocol.
            unsafe {
                libc::pthread_mutex_lock(m);
                for _ in 0..n {
                    turn.store(1, Ordering::Relaxed);
                    libc::pthread_cond_signal(c);
                    while turn.load(Ordering::Relaxed) == 1 {
                        libc::pthread_cond_wait(c, m);
                    }
                }
                libc::pthread_mutex_unlock(m);
            }
        },
        |n| {
            // SAFETY: as above.
            unsafe {
                libc::pthread_mutex_lock(m);
                for _ in 0..n {
                    while turn.load(Ordering::Relaxed) == 0 {
                        libc::pthread_cond_wait(c, m);
                    }
                    turn.store(0, Ordering::Relaxed);
                    libc::pthread_cond_signal(c);
                }
                libc::pthread_mutex_unlock(m);
            }
        },
    )
}

pub const MSG: usize = 64;

pub fn pingpong_queue(pin: Pin, iters: u64) -> Duration {
    let (a, b) = (Queue::new(4096).unwrap(), Queue::new(4096).unwrap());
    two(
        pin,
        iters,
        |n| {
            let mut buf = Vec::with_capacity(MSG);
            let msg = [7u8; MSG];
            for _ in 0..n {
                a.put(&msg).unwrap();
                b.get_into(&mut buf).unwrap();
            }
        },
        |n| {
            let mut buf = Vec::with_capacity(MSG);
            for _ in 0..n {
                a.get_into(&mut buf).unwrap();
                b.put(&buf).unwrap();
            }
        },
    )
}

// ---- Barrier(2) vs pthread_barrier_t ----

pub fn barrier_mpshare(pin: Pin, iters: u64) -> Duration {
    let b = Barrier::new(2).unwrap();
    two(
        pin,
        iters,
        |n| {
            for _ in 0..n {
                b.wait().unwrap();
            }
        },
        |n| {
            for _ in 0..n {
                b.wait().unwrap();
            }
        },
    )
}

pub fn barrier_pthread(pin: Pin, iters: u64) -> Duration {
    let page = Page::new();
    let bar = page.at::<libc::pthread_barrier_t>(0);
    // SAFETY: a process-shared barrier for 2 in shared memory.
    unsafe {
        let mut a = std::mem::zeroed::<libc::pthread_barrierattr_t>();
        libc::pthread_barrierattr_init(&mut a);
        libc::pthread_barrierattr_setpshared(&mut a, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_barrier_init(bar, &a, 2);
    }
    two(
        pin,
        iters,
        |n| {
            for _ in 0..n {
                // SAFETY: initialised above.
                unsafe { libc::pthread_barrier_wait(bar) };
            }
        },
        |n| {
            for _ in 0..n {
                // SAFETY: as above.
                unsafe { libc::pthread_barrier_wait(bar) };
            }
        },
    )
}

// ---- Queue throughput vs a plain SPSC ring with futex wake-ups ----

pub fn throughput_queue(pin: Pin, iters: u64) -> Duration {
    let q = Queue::new(64 * 1024).unwrap();
    two(
        pin,
        iters,
        |n| {
            let mut buf = Vec::with_capacity(MSG);
            for _ in 0..n {
                q.get_into(&mut buf).unwrap();
            }
        },
        |n| {
            let msg = [7u8; MSG];
            for _ in 0..n {
                q.put(&msg).unwrap();
            }
        },
    )
}

const SLOTS: u32 = 1024;

/// A ring sleeper's announcement: the value of the word it saw, + 1 (0: nobody sleeps).
/// The counters of a run stay far below `u32::MAX`.
fn announce(seen: u32) -> u32 {
    seen + 1
}

/// After moving `word` to `now`: wake its sleeper if it announced a sleep on an older value.
/// A sleeper that already saw `now` waits for the next change, and its announcement must
/// outlive this one (clearing it here would lose that wake-up: the kernel's check passes and
/// no later waker sees the announcement).
fn wake_if_news(wait: &AtomicU32, word: &AtomicU32, now: u32) {
    let w = wait.load(Ordering::SeqCst);
    if w != 0
        && w != announce(now)
        && wait
            .compare_exchange(w, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        futex_wake(word);
    }
}

/// A single-producer single-consumer ring of 64-byte slots: head/tail counters, and a futex
/// wake only when the other side announced a sleep on an older value ([`wake_if_news`]).
pub fn throughput_ring(pin: Pin, iters: u64) -> Duration {
    let len = 256 + SLOTS as usize * MSG;
    // SAFETY: a fresh anonymous shared mapping.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    }
    .cast::<u8>();
    // SAFETY: aligned words in the mapping's first 256 bytes (own cache lines).
    let word = |off: usize| unsafe { AtomicU32::from_ptr(base.add(off).cast()) };
    let (head, tail, cwait, pwait) = (word(0), word(64), word(128), word(192));
    // SAFETY: slot i lies within the mapping.
    let slot = |i: u32| unsafe { base.add(256 + (i % SLOTS) as usize * MSG) };
    let took = two(
        pin,
        iters,
        |n| {
            let mut out = [0u8; MSG];
            for _ in 0..n {
                let h = head.load(Ordering::Relaxed);
                while tail.load(Ordering::Acquire) == h {
                    cwait.store(announce(h), Ordering::SeqCst);
                    if tail.load(Ordering::SeqCst) == h {
                        futex_wait(tail, h);
                    }
                    cwait.store(0, Ordering::Relaxed);
                }
                // SAFETY: the slot was published by the producer's release store of tail.
                unsafe { std::ptr::copy_nonoverlapping(slot(h), out.as_mut_ptr(), MSG) };
                head.store(h.wrapping_add(1), Ordering::SeqCst);
                wake_if_news(pwait, head, h.wrapping_add(1));
            }
            std::hint::black_box(out);
        },
        |n| {
            let msg = [7u8; MSG];
            for _ in 0..n {
                let t = tail.load(Ordering::Relaxed);
                loop {
                    let h = head.load(Ordering::Acquire);
                    if t.wrapping_sub(h) < SLOTS {
                        break;
                    }
                    pwait.store(announce(h), Ordering::SeqCst);
                    if head.load(Ordering::SeqCst) == h {
                        futex_wait(head, h);
                    }
                    pwait.store(0, Ordering::Relaxed);
                }
                // SAFETY: the slot is free (the consumer moved head past it).
                unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), slot(t), MSG) };
                tail.store(t.wrapping_add(1), Ordering::SeqCst);
                wake_if_news(cwait, tail, t.wrapping_add(1));
            }
        },
    );
    // SAFETY: mapped above with this length.
    unsafe { libc::munmap(base.cast(), len) };
    took
}
