//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `multiprocessing` semaphores in shared
//! memory, with an opt-in owner-tracked mode whose permits come back when a holder dies.
//!
//! Plain mode is a counter and a futex: acquire is one compare-and-swap, release one atomic
//! add (plus a wake only when somebody sleeps). Any process may release, as in Python.
//!
//! Tracked mode (`tracked` / `create_tracked`) records which process holds how many permits
//! (pid + start time, so a recycled pid is never mistaken for the holder) in slots after the
//! state, under the robust header lock. A waiter that finds no permit looks for dead holders
//! every 20 ms and takes their permits back; a process that
//! dies while updating the slots is repaired by the next locker (`owner_died`), which recounts
//! the permits from the live slots. Only a holder may release in this mode.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::futex::{
    self, fault, Deadline, Peers, ProcId, ProcSlot, Region, SharedState, Spinner, DEATH_POLL,
};
use super::raw::RawMutex;
use crate::shm::{LockKind, Options, SegKind};
use crate::{Error, Result};

/// Largest semaphore value (glibc's `SEM_VALUE_MAX`).
///
/// ```
/// assert_eq!(mpshare::synchronize::semaphore::SEM_VALUE_MAX, i32::MAX as u32);
/// ```
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// Most processes that may hold permits of one owner-tracked semaphore at once.
///
/// ```
/// assert_eq!(mpshare::synchronize::semaphore::MAX_HOLDERS, 256);
/// ```
pub const MAX_HOLDERS: usize = 256;

#[repr(C)]
#[derive(Default)]
pub(crate) struct SemState {
    /// The value; the futex word.
    count: AtomicU32,
    /// Processes sleeping (or about to) on `count`.
    waiters: AtomicU32,
    /// Largest value (`SEM_VALUE_MAX`, or the initial value of a bounded one).
    max: AtomicU32,
    /// 1 in owner-tracked mode.
    tracked: AtomicU32,
    /// Initial value (tracked mode recounts from it).
    initial: AtomicU32,
    peers: Peers,
}

// SAFETY: atomics only.
unsafe impl SharedState for SemState {}

/// The shared implementation of both semaphore kinds.
#[derive(Clone, Debug)]
struct Core {
    region: Region<SemState>,
    /// The header lock, present in tracked mode.
    lock: Option<RawMutex>,
    /// `max` of the state, read once (written by the creator before the segment is
    /// published, never changed): the release path compares against it without a load from
    /// shared memory.
    max: u32,
    spin: Spinner,
}

impl Semaphore {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.0.region.segment()
    }
}

impl BoundedSemaphore {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.0.region.segment()
    }
}

impl Core {
    fn build(
        name: Option<(&str, &Options)>,
        kind: SegKind,
        value: u32,
        tracked: bool,
    ) -> Result<Core> {
        if value > SEM_VALUE_MAX {
            return Err(Error::InvalidArgument {
                what: "value",
                expected: format!("at most {SEM_VALUE_MAX}"),
                found: value.to_string(),
            });
        }
        let (lock, slots) = if tracked {
            (LockKind::Lock, (value as usize).clamp(1, MAX_HOLDERS))
        } else {
            (LockKind::None, 0)
        };
        let bounded = kind == SegKind::BoundedSemaphore;
        let (region, lock) = Region::build(
            name,
            kind,
            lock,
            slots * std::mem::size_of::<ProcSlot>(),
            |s: &SemState| {
                s.count.store(value, Ordering::Relaxed);
                s.initial.store(value, Ordering::Relaxed);
                s.max.store(
                    if bounded { value } else { SEM_VALUE_MAX },
                    Ordering::Relaxed,
                );
                s.tracked.store(u32::from(tracked), Ordering::Relaxed);
            },
        )?;
        let max = region.state().max.load(Ordering::Relaxed);
        Ok(Core {
            region,
            lock,
            max,
            spin: Spinner::default(),
        })
    }

    fn open(name: &str, kind: SegKind) -> Result<Core> {
        let (region, lock) = Region::<SemState>::attach(name, kind, None)?;
        let tracked = region.state().tracked.load(Ordering::Relaxed) == 1;
        if tracked != lock.is_some() {
            return Err(Error::BadSegment {
                name: name.to_string(),
                reason: format!(
                    "{kind:?} tracked={tracked} but header lock present={}",
                    lock.is_some()
                ),
            });
        }
        let max = region.state().max.load(Ordering::Relaxed);
        Ok(Core {
            region,
            lock,
            max,
            spin: Spinner::default(),
        })
    }

    #[inline(always)]
    fn st(&self) -> &SemState {
        self.region.state()
    }

    #[inline(always)]
    fn try_take(&self) -> bool {
        let c = &self.st().count;
        let mut v = c.load(Ordering::Relaxed);
        while v > 0 {
            match c.compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    #[inline]
    fn acquire(&self, timeout: Option<Duration>) -> Result<bool> {
        if let Some(lock) = &self.lock {
            return self.acquire_tracked(lock, timeout);
        }
        if self.try_take() {
            return Ok(true);
        }
        self.acquire_slow(timeout)
    }

    #[cold]
    fn acquire_slow(&self, timeout: Option<Duration>) -> Result<bool> {
        let st = self.st();
        st.peers.note();
        let deadline = Deadline::after(timeout);
        if timeout != Some(Duration::ZERO)
            && self
                .spin
                .spin(&st.peers, || st.count.load(Ordering::Relaxed) > 0)
            && self.try_take()
        {
            return Ok(true);
        }
        loop {
            if self.try_take() {
                return Ok(true);
            }
            if deadline.passed() {
                return Ok(false);
            }
            st.waiters.fetch_add(1, Ordering::SeqCst);
            futex::wait(&st.count, 0, deadline.remaining());
            st.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[inline]
    fn release(&self) -> Result<()> {
        if let Some(lock) = &self.lock {
            return self.release_tracked(lock);
        }
        let st = self.st();
        let max = self.max;
        let mut v = st.count.load(Ordering::Relaxed);
        loop {
            if v >= max {
                return Err(Error::SemaphoreOverRelease { max });
            }
            match st
                .count
                .compare_exchange_weak(v, v + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if st.waiters.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
        Ok(())
    }

    #[cold]
    fn wake_one(&self) {
        self.st().peers.note();
        futex::wake(&self.st().count, 1);
    }

    // ---- tracked mode ----

    fn slots(&self) -> &[ProcSlot] {
        self.region.slots::<ProcSlot>()
    }

    /// Lock the header (waiting at most until `deadline`: `None` when it passed); after a
    /// holder died mid-update, recount from the live slots.
    fn lock_state<'a>(
        &'a self,
        lock: &'a RawMutex,
        deadline: Deadline,
    ) -> Result<Option<Unlock<'a>>> {
        let how = match deadline.remaining() {
            None => lock.lock()?,
            Some(left) => match lock.lock_timeout(left)? {
                Some(how) => how,
                None => return Ok(None),
            },
        };
        if how.owner_died() {
            self.reclaim(true);
        }
        Ok(Some(Unlock(lock)))
    }

    /// Free the slots of dead holders (lock held) and give their permits back. With `recount`,
    /// also rebuild the value from the live slots (after a locker died mid-update).
    fn reclaim(&self, recount: bool) -> bool {
        let st = self.st();
        let mut freed = false;
        let mut held: u64 = 0;
        for s in self.slots() {
            if let Some(id) = s.id() {
                if id.is_alive() {
                    held += u64::from(s.count.load(Ordering::Acquire));
                } else {
                    let n = s.count.load(Ordering::Acquire);
                    s.free();
                    if !recount && n > 0 {
                        st.count.fetch_add(n, Ordering::SeqCst);
                    }
                    freed |= n > 0;
                }
            }
        }
        if recount {
            let initial = u64::from(st.initial.load(Ordering::Relaxed));
            let v = initial.saturating_sub(held) as u32;
            freed |= v > st.count.swap(v, Ordering::SeqCst);
        }
        freed
    }

    fn acquire_tracked(&self, lock: &RawMutex, timeout: Option<Duration>) -> Result<bool> {
        let st = self.st();
        let deadline = Deadline::after(timeout);
        let me = ProcId::current();
        loop {
            {
                let Some(_g) = self.lock_state(lock, deadline)? else {
                    return Ok(false);
                };
                if st.count.load(Ordering::Acquire) == 0 && self.reclaim(false) {
                    futex::wake_all(&st.count);
                }
                if st.count.load(Ordering::Acquire) > 0 {
                    let slot = self.slot_for(me)?;
                    // Order: the slot first, then the value, so a death in between leaves a
                    // slot of a dead process, which the recount ignores.
                    slot.count.fetch_add(1, Ordering::SeqCst);
                    fault::hit(fault::SEM_TRACKED_ACQUIRE);
                    st.count.fetch_sub(1, Ordering::SeqCst);
                    return Ok(true);
                }
            }
            if deadline.passed() {
                return Ok(false);
            }
            st.waiters.fetch_add(1, Ordering::SeqCst);
            futex::wait(&st.count, 0, Some(deadline.slice(DEATH_POLL)));
            st.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn slot_for(&self, me: ProcId) -> Result<&ProcSlot> {
        let slots = self.slots();
        if let Some(s) = slots.iter().find(|s| s.id() == Some(me)) {
            return Ok(s);
        }
        let free = slots.iter().find(|s| s.id().is_none()).or_else(|| {
            // Full: take a dead holder's slot (its permits go back first).
            self.reclaim(false);
            slots.iter().find(|s| s.id().is_none())
        });
        let s = free.ok_or(Error::TooManyHolders { slots: slots.len() })?;
        s.count.store(0, Ordering::SeqCst);
        s.claim(me);
        Ok(s)
    }

    fn release_tracked(&self, lock: &RawMutex) -> Result<()> {
        let st = self.st();
        let me = ProcId::current();
        {
            let _g = self.lock_state(lock, Deadline::after(None))?;
            let slot = self
                .slots()
                .iter()
                .find(|s| s.id() == Some(me) && s.count.load(Ordering::Acquire) > 0)
                .ok_or(Error::NotPermitHolder)?;
            // Value first, then the slot: a death in between is repaired by the recount.
            st.count.fetch_add(1, Ordering::SeqCst);
            if slot.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                slot.free();
            }
        }
        if st.waiters.load(Ordering::SeqCst) > 0 {
            futex::wake(&st.count, 1);
        }
        Ok(())
    }

    fn held_by_me(&self) -> u32 {
        let me = ProcId::current();
        self.slots()
            .iter()
            .filter(|s| s.id() == Some(me))
            .map(|s| s.count.load(Ordering::Acquire))
            .sum()
    }
}

struct Unlock<'a>(&'a RawMutex);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`], released on drop (Python's
/// `with sem:`).
#[must_use = "the permit is released when dropped"]
#[derive(Debug)]
pub struct Permit<'a> {
    core: &'a Core,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let _ = self.core.release();
    }
}

macro_rules! semaphore {
    ($ty:ident, $kind:expr, $py:literal, $doc_new:literal) => {
        impl $ty {
            #[doc = concat!("A new anonymous ", $py, " with `value` permits, shared with `fork` children.")]
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(2)?;")]
            /// assert_eq!(s.get_value(), 2);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::InvalidArgument`] above [`SEM_VALUE_MAX`]; OS errors.
            pub fn new(value: u32) -> Result<Self> {
                Ok($ty(Core::build(None, $kind, value, false)?))
            }

            #[doc = concat!("A new anonymous owner-tracked ", $py, ": permits held by a process that dies come back.")]
            ///
            /// Only a process holding a permit may release one ([`Error::NotPermitHolder`]);
            /// at most `min(value, MAX_HOLDERS)` processes hold permits at once.
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::tracked(1)?;")]
            /// assert!(matches!(s.release(), Err(mpshare::Error::NotPermitHolder)));
            /// s.acquire()?;
            /// assert_eq!(s.held_by_me(), 1);
            /// s.release()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn tracked(value: u32) -> Result<Self> {
                Ok($ty(Core::build(None, $kind, value, true)?))
            }

            #[doc = concat!("Create the named ", $py, " `name` with `value` permits.")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-sem-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let a = mpshare::", stringify!($ty), "::create(&name, 1)?;")]
            #[doc = concat!("let b = mpshare::", stringify!($ty), "::open(&name)?;")]
            /// a.acquire()?;
            /// assert!(!b.try_acquire()?);
            /// b.release()?; // any process may release, as in Python
            /// assert_eq!(a.get_value(), 1);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create(name: &str, value: u32) -> Result<Self> {
                Self::create_with(name, value, &Options::default())
            }

            /// [`create`](Self::create) with [`Options`] (the permission bits).
            ///
            /// ```
            /// let name = format!("mpshare-doc-semmode-{}-{}", stringify!($ty), std::process::id());
            /// let opts = mpshare::shm::Options::default().mode(0o660);
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::create_with(&name, 2, &opts)?;")]
            /// assert_eq!(s.get_value(), 2);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create_with(name: &str, value: u32, opts: &Options) -> Result<Self> {
                Ok($ty(Core::build(Some((name, opts)), $kind, value, false)?))
            }

            #[doc = concat!("Create the named owner-tracked ", $py, " `name` (see [`tracked`](Self::tracked)).")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-semt-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let a = mpshare::", stringify!($ty), "::create_tracked(&name, 4)?;")]
            #[doc = concat!("assert!(mpshare::", stringify!($ty), "::open(&name)?.is_tracked());")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create_tracked(name: &str, value: u32) -> Result<Self> {
                Ok($ty(Core::build(
                    Some((name, &Options::default())),
                    $kind,
                    value,
                    true,
                )?))
            }

            #[doc = concat!("Open the named ", $py, " `name` (plain or tracked, as created).")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-semk-{}-{}", stringify!($ty), std::process::id());
            /// let _e = mpshare::Event::create(&name)?;
            #[doc = concat!("let err = mpshare::", stringify!($ty), "::open(&name).unwrap_err();")]
            #[doc = concat!("assert!(err.to_string().contains(\"holds Event; asked for ", stringify!($ty), "\"), \"{err}\");")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::NotFound`], [`Error::LayoutMismatch`] when it holds something else
            /// (including the other semaphore kind).
            pub fn open(name: &str) -> Result<Self> {
                Ok($ty(Core::open(name, $kind)?))
            }

            #[doc = concat!("Open the named ", $py, " `name`, creating it with `value` permits if it does not exist.")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-semo-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let a = mpshare::", stringify!($ty), "::open_or_create(&name, 3)?;")]
            #[doc = concat!("let b = mpshare::", stringify!($ty), "::open_or_create(&name, 9)?; // opens: value stays 3")]
            /// assert_eq!(b.get_value(), 3);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn open_or_create(name: &str, value: u32) -> Result<Self> {
                futex::open_or_create(|| Self::create(name, value), || Self::open(name))
            }

            /// Block until a permit is taken (Python's `acquire()`).
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(1)?;")]
            /// s.acquire()?;
            /// assert_eq!(s.get_value(), 0);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn acquire(&self) -> Result<()> {
                self.0.acquire(None).map(|_| ())
            }

            /// Take a permit if one is free now (Python's `acquire(False)`).
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(1)?;")]
            /// assert!(s.try_acquire()?);
            /// assert!(!s.try_acquire()?);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn try_acquire(&self) -> Result<bool> {
                self.0.acquire(Some(Duration::ZERO))
            }

            /// Take a permit, waiting at most `timeout`; false on timeout (Python's
            /// `acquire(timeout=t)`).
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(0)?;")]
            /// let t = Instant::now();
            /// assert!(!s.acquire_timeout(Duration::from_millis(20))?);
            /// assert!(t.elapsed() >= Duration::from_millis(20));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
                self.0.acquire(Some(timeout))
            }

            /// Take a permit and return a guard that releases it on drop.
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(1)?;")]
            /// {
            ///     let _p = s.permit()?;
            ///     assert_eq!(s.get_value(), 0);
            /// }
            /// assert_eq!(s.get_value(), 1);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn permit(&self) -> Result<Permit<'_>> {
                self.acquire()?;
                Ok(Permit { core: &self.0 })
            }

            /// Give a permit back and wake one waiter (Python's `release()`).
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::new(1)?;")]
            /// s.acquire()?;
            /// s.release()?;
            /// assert_eq!(s.get_value(), 1);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::SemaphoreOverRelease`] above the maximum (the initial value of a
            /// [`BoundedSemaphore`], [`SEM_VALUE_MAX`] otherwise); [`Error::NotPermitHolder`]
            /// in tracked mode when this process holds no permit.
            #[inline]
            pub fn release(&self) -> Result<()> {
                self.0.release()
            }

            /// The current value (Python's `get_value()`).
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new(5)?.get_value(), 5);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn get_value(&self) -> u32 {
                self.0.st().count.load(Ordering::Acquire)
            }

            /// True in owner-tracked mode.
            ///
            /// ```
            #[doc = concat!("assert!(!mpshare::", stringify!($ty), "::new(1)?.is_tracked());")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn is_tracked(&self) -> bool {
                self.0.lock.is_some()
            }

            /// Permits this process holds (tracked mode; 0 in plain mode, which does not record
            /// holders).
            ///
            /// ```
            #[doc = concat!("let s = mpshare::", stringify!($ty), "::tracked(2)?;")]
            /// s.acquire()?;
            /// s.acquire()?;
            /// assert_eq!(s.held_by_me(), 2);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn held_by_me(&self) -> u32 {
                if self.is_tracked() {
                    self.0.held_by_me()
                } else {
                    0
                }
            }
        }
    };
}

/// A counting semaphore in shared memory (Python's `multiprocessing.Semaphore`).
///
/// Any process may release, as in Python. It is also the tool for Python's idiom of a
/// `multiprocessing.Lock` released by another process (mpshare's robust [`Lock`](crate::Lock)
/// is owned and refuses that): use `Semaphore::new(1)`, or a [`BoundedSemaphore`] to catch a
/// double release.
///
/// ```
/// use mpshare::Semaphore;
/// let sem = Semaphore::new(2)?;            // Python: Semaphore(2)
/// sem.acquire()?;
/// assert!(sem.try_acquire()?);             // sem.acquire(False)
/// assert!(!sem.try_acquire()?);
/// sem.release()?;
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Semaphore(Core);

/// A semaphore whose value may not exceed its initial value (Python's
/// `multiprocessing.BoundedSemaphore`): an extra release is [`Error::SemaphoreOverRelease`].
///
/// ```
/// use mpshare::{BoundedSemaphore, Error};
/// let sem = BoundedSemaphore::new(1)?;
/// assert!(matches!(sem.release(), Err(Error::SemaphoreOverRelease { max: 1 })));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BoundedSemaphore(Core);

semaphore!(
    Semaphore,
    SegKind::Semaphore,
    "Semaphore",
    "mpshare::Semaphore::new(1)?"
);
semaphore!(
    BoundedSemaphore,
    SegKind::BoundedSemaphore,
    "BoundedSemaphore",
    "mpshare::BoundedSemaphore::new(1)?"
);

macro_rules! sem_named {
    ($ty:ident, $new:literal) => {
        impl $ty {
            /// The OS name (`/name`) of a named semaphore, `None` for an anonymous one.
            ///
            /// ```
            #[doc = concat!("assert_eq!(", $new, ".name(), None);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn name(&self) -> Option<&str> {
                self.0.region.segment().name()
            }

            /// Keep the name in `/dev/shm` when the creator's handles drop.
            ///
            /// ```
            #[doc = concat!($new, ".persist();")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn persist(&self) {
                self.0.region.segment().persist();
            }

            /// Remove the name now; processes that have it open keep using it.
            ///
            /// ```
            #[doc = concat!($new, ".unlink()?;")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn unlink(&self) -> Result<()> {
                self.0.region.segment().unlink()
            }
        }
    };
}
sem_named!(Semaphore, "mpshare::Semaphore::new(1)?");
sem_named!(BoundedSemaphore, "mpshare::BoundedSemaphore::new(1)?");
