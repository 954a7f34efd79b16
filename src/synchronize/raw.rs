//! The raw process-shared robust mutex (glibc `pthread_mutex_t`).
//!
//! The mutex lives in shared memory and is initialised once by the segment's creator with
//! `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST` and either `PTHREAD_MUTEX_RECURSIVE`
//! (RLock) or `PTHREAD_MUTEX_ERRORCHECK` (Lock). Robustness comes from the kernel: each thread
//! registers its held robust mutexes in a list that the kernel walks when the thread dies,
//! marking them `FUTEX_OWNER_DIED`, so the next `pthread_mutex_lock` returns `EOWNERDEAD`. We then
//! call `pthread_mutex_consistent` at once, so the lock stays usable, and tell the caller.
//! The uncontended lock and unlock run inline in [`super::fast`], on glibc's own mutex and
//! robust-list data; every other case goes through the pthread calls below.

use std::sync::Arc;
use std::time::Duration;

use super::fast;
pub(crate) use super::fast::clear_pending;
use crate::shm::{HeaderLock, Segment};
use crate::{Error, Result};

/// The kernel's "sleepers may wait on this futex" bit of a robust mutex's word.
pub(crate) const FUTEX_WAITERS: u32 = 0x8000_0000;

/// How an acquisition went.
///
/// ```
/// let lock = mpshare::Lock::new()?;
/// let how = lock.acquire()?;
/// assert!(!how.owner_died());
/// lock.release()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a previous owner may have died: check owner_died() to repair shared state"]
pub struct Acquired {
    owner_died: bool,
}

impl Acquired {
    /// True when the previous holder died while holding the lock. The lock is now held by the
    /// caller and usable again, but the data it protects may be half-updated.
    ///
    /// ```
    /// let lock = mpshare::RLock::new()?;
    /// assert!(!lock.acquire()?.owner_died());
    /// lock.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn owner_died(self) -> bool {
        self.owner_died
    }
}

// glibc >= 2.30; waits on CLOCK_MONOTONIC so a wall-clock jump does not stretch a timeout.
unsafe extern "C" {
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// A process-shared robust mutex at a fixed address inside a [`Segment`].
#[derive(Clone)]
pub(crate) struct RawMutex {
    ptr: *mut libc::pthread_mutex_t,
    recursive: bool,
    _seg: Arc<Segment>,
}

// SAFETY: the mutex is designed for concurrent use from many threads and processes; the
// pointer stays valid while `_seg` keeps the mapping alive.
unsafe impl Send for RawMutex {}
// SAFETY: as above; every operation goes through pthread calls that are thread-safe.
unsafe impl Sync for RawMutex {}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex")
            .field("recursive", &self.recursive)
            .field("addr", &self.ptr)
            .finish()
    }
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::os(rc, what))
    }
}

impl RawMutex {
    /// Initialise a mutex in place.
    ///
    /// # Safety
    /// `ptr` is aligned, points to `size_of::<pthread_mutex_t>()` writable bytes inside `seg`,
    /// and no other thread or process uses that memory until initialisation returns.
    pub(crate) unsafe fn init(
        seg: Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Result<RawMutex> {
        // SAFETY: the caller's contract is init_at's.
        unsafe { Self::init_at(ptr, recursive)? };
        Ok(RawMutex {
            ptr,
            recursive,
            _seg: seg,
        })
    }

    /// Initialise a mutex in place without a handle (a second mutex in a primitive's data
    /// area, initialised while its segment is being built; handles come from
    /// [`attach`](Self::attach) once the segment exists).
    ///
    /// # Safety
    /// As [`init`](Self::init): `ptr` is aligned, points to `size_of::<pthread_mutex_t>()`
    /// writable bytes of a mapping, and nobody else uses them until this returns.
    pub(crate) unsafe fn init_at(ptr: *mut libc::pthread_mutex_t, recursive: bool) -> Result<()> {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: attr is a local out-parameter; the pthread calls initialise and then read it;
        // `ptr` is exclusively ours per the contract.
        unsafe {
            check(
                libc::pthread_mutexattr_init(attr.as_mut_ptr()),
                "pthread_mutexattr_init",
            )?;
            let a = attr.as_mut_ptr();
            let kind = if recursive {
                libc::PTHREAD_MUTEX_RECURSIVE
            } else {
                libc::PTHREAD_MUTEX_ERRORCHECK
            };
            let r = check(
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
                "setpshared",
            )
            .and_then(|_| check(libc::pthread_mutexattr_settype(a, kind), "settype"))
            .and_then(|_| {
                check(
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                    "setrobust",
                )
            })
            .and_then(|_| check(libc::pthread_mutex_init(ptr, a), "pthread_mutex_init"));
            libc::pthread_mutexattr_destroy(a);
            r
        }
    }

    /// Attach to a mutex that another process initialised.
    ///
    /// # Safety
    /// `ptr` points to a mutex initialised by [`RawMutex::init`] inside `seg` (the segment
    /// header was published after the init).
    pub(crate) unsafe fn attach(
        seg: Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> RawMutex {
        RawMutex {
            ptr,
            recursive,
            _seg: seg,
        }
    }

    pub(crate) fn segment(&self) -> &Segment {
        &self._seg
    }

    pub(crate) fn is_recursive(&self) -> bool {
        self.recursive
    }

    fn acquired(&self, rc: libc::c_int, what: &str) -> Result<Option<Acquired>> {
        match rc {
            0 => Ok(Some(Acquired { owner_died: false })),
            libc::EOWNERDEAD => {
                // SAFETY: we hold the mutex (EOWNERDEAD means acquired); consistent is the
                // documented way to make it usable again.
                let rc = unsafe { libc::pthread_mutex_consistent(self.ptr) };
                check(rc, "pthread_mutex_consistent")?;
                Ok(Some(Acquired { owner_died: true }))
            }
            libc::EBUSY | libc::ETIMEDOUT => Ok(None),
            libc::EDEADLK => Err(Error::WouldDeadlock),
            libc::ENOTRECOVERABLE => Err(Error::LockNotRecoverable),
            libc::EAGAIN => Err(Error::RecursionLimit),
            rc => Err(Error::os(rc, what)),
        }
    }

    /// Block until acquired.
    ///
    /// The uncontended case runs inline in the caller ([`fast::lock`]); waiting and the
    /// uncommon outcomes go through glibc and out-of-line functions.
    #[inline(always)]
    pub(crate) fn lock(&self) -> Result<Acquired> {
        if self.fast_lock() {
            return Ok(Acquired { owner_died: false });
        }
        // SAFETY: `ptr` is a valid initialised mutex kept mapped by `_seg`.
        let rc = unsafe { libc::pthread_mutex_lock(self.ptr) };
        if rc == 0 {
            return Ok(Acquired { owner_died: false });
        }
        self.lock_slow(rc)
    }

    /// [`lock`](Self::lock) for short critical sections that two processes on different CPUs
    /// hammer (a queue's lock): when the mutex is held and `spin()` says the holder may be
    /// running on another CPU, spin a bounded number of turns for it to be released before
    /// sleeping in glibc. A sleep there costs the holder a `FUTEX_WAKE` and the waiter a
    /// wake-up, far longer than the critical section it waits for.
    #[inline(always)]
    pub(crate) fn lock_adaptive(&self, spin: impl FnOnce() -> bool) -> Result<Acquired> {
        if self.fast_lock() {
            return Ok(Acquired { owner_died: false });
        }
        self.lock_contended(spin())
    }

    #[inline(never)]
    fn lock_contended(&self, spin: bool) -> Result<Acquired> {
        /// Turns of the spin (each one `spin_loop` hint and a load): a few µs at most.
        const SPINS: u32 = 200;
        if let Some(word) = self.word().filter(|_| spin) {
            for _ in 0..SPINS {
                std::hint::spin_loop();
                if word.load(std::sync::atomic::Ordering::Relaxed) == 0 && self.fast_lock() {
                    return Ok(Acquired { owner_died: false });
                }
            }
        }
        self.lock()
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, rc: libc::c_int) -> Result<Acquired> {
        self.acquired(rc, "pthread_mutex_lock")?
            .ok_or_else(|| Error::os(rc, "pthread_mutex_lock"))
    }

    /// [`lock`](Self::lock) for a thread that may have been woken from this mutex's futex
    /// queue while other sleepers may remain there (a [`Condition`](crate::Condition) waiter
    /// requeued onto the mutex by `notify`): the mutex is taken with `FUTEX_WAITERS` set, so
    /// the next unlock wakes the next sleeper, as glibc's own robust lock does after a futex
    /// wait. Costs one `FUTEX_WAKE` at the next unlock.
    pub(crate) fn lock_after_wake(&self) -> Result<Acquired> {
        // SAFETY: as in `fast_lock`.
        if unsafe { fast::lock_after_wake(self.ptr, self.recursive) } {
            return Ok(Acquired { owner_died: false });
        }
        let how = self.lock()?;
        // glibc keeps `FUTEX_WAITERS` when it slept for the mutex; when it took a free one at
        // its first try it did not: set it now (we hold the mutex, so no unlock is missed).
        if let Some(w) = self.word() {
            w.fetch_or(FUTEX_WAITERS, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(how)
    }

    /// Tell the kernel that this thread is about to acquire the mutex, so its death before it
    /// holds it passes a futex wake-up on ([`fast::announce_acquire`]); `false` where the fast
    /// path (and so the robust-list head) is unavailable.
    pub(crate) fn announce_acquire(&self) -> bool {
        // SAFETY: `ptr` is a valid robust mutex of our kind kept mapped by `_seg`; callers
        // acquire it (or clear the announcement) next.
        unsafe { fast::announce_acquire(self.ptr, self.recursive) }
    }

    /// The futex word of the mutex (glibc's `__lock`: owner TID, `FUTEX_WAITERS`,
    /// `FUTEX_OWNER_DIED`), the target a condition's waiters are requeued onto; `None` where
    /// that layout is not known (only glibc is relied on).
    pub(crate) fn word(&self) -> Option<&std::sync::atomic::AtomicU32> {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: `__lock` is the first field (an aligned int) of glibc's
            // `pthread_mutex_t`; the mutex stays mapped while `_seg` lives, and the word is
            // only ever accessed atomically (by glibc, `fast.rs`, the kernel and us).
            Some(unsafe { std::sync::atomic::AtomicU32::from_ptr(self.ptr.cast()) })
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            None
        }
    }

    /// The inline uncontended acquisition; `false` means "ask glibc".
    #[inline(always)]
    fn fast_lock(&self) -> bool {
        // SAFETY: `ptr` is a valid initialised robust mutex of our kind, kept mapped by `_seg`
        // (and this handle outlives any hold taken through it: guards borrow it).
        unsafe { fast::lock(self.ptr, self.recursive) }
    }

    /// Acquire if free.
    #[inline]
    pub(crate) fn try_lock(&self) -> Result<Option<Acquired>> {
        if self.fast_lock() {
            return Ok(Some(Acquired { owner_died: false }));
        }
        // SAFETY: as in `lock`.
        let rc = unsafe { libc::pthread_mutex_trylock(self.ptr) };
        if rc == 0 {
            return Ok(Some(Acquired { owner_died: false }));
        }
        self.try_lock_slow(rc)
    }

    #[cold]
    #[inline(never)]
    fn try_lock_slow(&self, rc: libc::c_int) -> Result<Option<Acquired>> {
        if rc == libc::EDEADLK {
            // A Lock held by this very thread is simply busy, as Python's acquire(False) says.
            return Ok(None);
        }
        self.acquired(rc, "pthread_mutex_trylock")
    }

    /// Acquire, waiting at most `timeout`.
    pub(crate) fn lock_timeout(&self, timeout: Duration) -> Result<Option<Acquired>> {
        if timeout.is_zero() {
            return self.try_lock();
        }
        if self.fast_lock() {
            return Ok(Some(Acquired { owner_died: false }));
        }
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid out-parameter.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let total_ns = now.tv_nsec as u128 + timeout.subsec_nanos() as u128;
        let secs = (now.tv_sec as u128)
            .saturating_add(timeout.as_secs() as u128)
            .saturating_add(total_ns / 1_000_000_000)
            .min(libc::time_t::MAX as u128);
        let deadline = libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: (total_ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: as in `lock`; `deadline` is a valid timespec.
        let rc = unsafe { pthread_mutex_clocklock(self.ptr, libc::CLOCK_MONOTONIC, &deadline) };
        self.acquired(rc, "pthread_mutex_clocklock")
    }

    /// How many levels of this mutex the calling thread holds, where that can be read
    /// (`None` off the fast-path platforms).
    pub(crate) fn levels_held_here(&self) -> Option<u32> {
        // SAFETY: `ptr` is a valid initialised mutex of our kind kept mapped by `_seg`.
        unsafe { fast::levels_held(self.ptr, self.recursive) }
    }

    /// Release one level of ownership.
    #[inline(always)]
    pub(crate) fn unlock(&self) -> Result<()> {
        // SAFETY: as in `lock`.
        if unsafe { fast::unlock(self.ptr, self.recursive) } {
            return Ok(());
        }
        // SAFETY: as in `lock`; glibc checks ownership for robust/errorcheck/recursive mutexes.
        let rc = unsafe { libc::pthread_mutex_unlock(self.ptr) };
        if rc == 0 {
            return Ok(());
        }
        Self::unlock_failed(rc)
    }

    #[cold]
    #[inline(never)]
    fn unlock_failed(rc: libc::c_int) -> Result<()> {
        match rc {
            libc::EPERM => Err(Error::NotOwner),
            rc => Err(Error::os(rc, "pthread_mutex_unlock")),
        }
    }
}

impl HeaderLock for RawMutex {
    unsafe fn init_in(
        seg: &Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Result<Self> {
        // SAFETY: HeaderLock::init_in has the same contract as RawMutex::init.
        unsafe { RawMutex::init(seg.clone(), ptr, recursive) }
    }

    unsafe fn attach_in(
        seg: &Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Self {
        // SAFETY: HeaderLock::attach_in has the same contract as RawMutex::attach.
        unsafe { RawMutex::attach(seg.clone(), ptr, recursive) }
    }
}
