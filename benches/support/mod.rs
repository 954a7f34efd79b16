//! Helpers shared by the benches: reference pthread mutexes set up by hand in a `MAP_SHARED`
//! region, and a fork-based runner for multi-process measurements.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

/// A page of `MAP_SHARED | MAP_ANONYMOUS` memory (inherited by `fork` children) holding a
/// `pthread_mutex_t` at offset 64 and a `u64` counter at offset 128, the same layout as an
/// mpshare `Value` segment, so the reference differs only in the mutex kind.
pub struct RefMutex {
    base: *mut u8,
}

const PAGE: usize = 4096;

impl RefMutex {
    /// `robust` adds `PTHREAD_MUTEX_ROBUST`; `recursive` uses `PTHREAD_MUTEX_RECURSIVE`
    /// instead of the default type. Always `PTHREAD_PROCESS_SHARED`.
    pub fn new(robust: bool, recursive: bool) -> RefMutex {
        // SAFETY: a fresh anonymous shared mapping; the mutex is initialised before any use and
        // the attribute object lives only in this function.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED, "mmap failed");
            let base = base.cast::<u8>();
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            assert_eq!(libc::pthread_mutexattr_init(attr.as_mut_ptr()), 0);
            let a = attr.as_mut_ptr();
            assert_eq!(
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
                0
            );
            if recursive {
                assert_eq!(
                    libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_RECURSIVE),
                    0
                );
            }
            if robust {
                assert_eq!(
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                    0
                );
            }
            let m = base.add(64).cast::<libc::pthread_mutex_t>();
            assert_eq!(libc::pthread_mutex_init(m, a), 0);
            libc::pthread_mutexattr_destroy(a);
            RefMutex { base }
        }
    }

    fn m(&self) -> *mut libc::pthread_mutex_t {
        // SAFETY: offset 64 is inside the page.
        unsafe { self.base.add(64).cast() }
    }

    /// `pthread_mutex_lock` (panics on an error: a bench has no dead owners).
    #[inline]
    pub fn lock(&self) {
        // SAFETY: initialised in `new`, mapped while self lives.
        let rc = unsafe { libc::pthread_mutex_lock(self.m()) };
        debug_assert_eq!(rc, 0);
    }

    /// `pthread_mutex_trylock`: true when acquired.
    #[inline]
    pub fn try_lock(&self) -> bool {
        // SAFETY: as in lock.
        unsafe { libc::pthread_mutex_trylock(self.m()) == 0 }
    }

    /// `pthread_mutex_unlock`.
    #[inline]
    pub fn unlock(&self) {
        // SAFETY: as in lock; the caller holds it.
        let rc = unsafe { libc::pthread_mutex_unlock(self.m()) };
        debug_assert_eq!(rc, 0);
    }

    /// The counter next to the mutex (offset 128), accessed with relaxed atomics.
    pub fn counter(&self) -> &AtomicU64 {
        // SAFETY: offset 128 is 8-aligned and inside the page; all access is atomic.
        unsafe { AtomicU64::from_ptr(self.base.add(128).cast()) }
    }

    /// Locked increment: lock, load + store (not an RMW), unlock.
    #[inline]
    pub fn locked_increment(&self) {
        self.lock();
        let c = self.counter();
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.unlock();
    }
}

impl Drop for RefMutex {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this size.
        unsafe { libc::munmap(self.base.cast(), PAGE) };
    }
}

/// A start gate and per-worker end timestamps in shared memory.
struct Gate {
    base: *mut u8,
}

impl Gate {
    fn new() -> Gate {
        // SAFETY: fresh anonymous shared mapping, zero-filled.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap failed");
        Gate { base: base.cast() }
    }
    fn ready(&self) -> &AtomicU32 {
        // SAFETY: inside the page, aligned, atomic access only.
        unsafe { AtomicU32::from_ptr(self.base.cast()) }
    }
    fn open(&self) -> &AtomicU32 {
        // SAFETY: as above (own cache line).
        unsafe { AtomicU32::from_ptr(self.base.add(64).cast()) }
    }
    fn end(&self, i: usize) -> &AtomicU64 {
        // SAFETY: as above; i < 32.
        unsafe { AtomicU64::from_ptr(self.base.add(128 + 64 * i).cast()) }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this size.
        unsafe { libc::munmap(self.base.cast(), PAGE) };
    }
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Pin the calling process to `cpu` (modulo the CPUs present); ignores failure.
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

/// Fork `workers` children, each pinned to its own CPU (`i % ncpu`), that wait at a start gate
/// and then run `work(i)`. Returns the wall time from opening the gate to the last worker
/// finishing its loop (each worker stamps CLOCK_MONOTONIC when done; exit and `waitpid` costs
/// are not counted).
pub fn forked(workers: usize, pin: bool, work: impl Fn(usize)) -> Duration {
    assert!(workers <= 32);
    let gate = Gate::new();
    let mut pids = Vec::new();
    for i in 0..workers {
        // SAFETY: the child only touches shared memory through handles it inherited, then
        // leaves with _exit, never returning into the parent's state.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                if pin {
                    pin_to(i);
                }
                gate.ready().fetch_add(1, Ordering::AcqRel);
                while gate.open().load(Ordering::Acquire) == 0 {
                    // Yield so the parent (and the other worker) get the CPU at once.
                    std::thread::yield_now();
                }
                // A panic must not unwind into the copy of the parent's stack.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i))).is_err() {
                    // SAFETY: async-signal-safe exit; nothing of the parent runs in the child.
                    unsafe { libc::_exit(101) };
                }
                gate.end(i).store(now_ns(), Ordering::Release);
                // SAFETY: async-signal-safe exit that skips the parent's atexit handlers.
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => pids.push(child),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while gate.ready().load(Ordering::Acquire) < workers as u32 {
        assert!(Instant::now() < deadline, "workers never got ready");
        std::thread::yield_now();
    }
    let t0 = now_ns();
    gate.open().store(1, Ordering::Release);
    for pid in pids {
        match waitpid(pid, None).expect("waitpid") {
            WaitStatus::Exited(_, 0) => {}
            other => panic!("worker {pid} ended with {other:?}"),
        }
    }
    let end = (0..workers)
        .map(|i| gate.end(i).load(Ordering::Acquire))
        .max()
        .unwrap_or(t0);
    Duration::from_nanos(end.saturating_sub(t0))
}
