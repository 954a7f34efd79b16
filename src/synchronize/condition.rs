//! [`Condition`]: Python's `multiprocessing.Condition` over any mpshare lock.
//!
//! The state is a futex sequence word and a waiter count. `wait` reads the sequence while
//! holding the lock, releases the lock (every level of an [`RLock`](crate::RLock)), sleeps
//! until the sequence moves, and re-acquires; `notify(n)` moves the sequence and wakes `n`
//! sleepers. Nothing about a waiter is recorded beyond the count, so a waiter killed while
//! sleeping never swallows a notification meant for a live one (the kernel drops dead
//! sleepers from the futex queue); a lock holder that dies is reported on re-acquisition as
//! the lock reports it ([`Woken::owner_died`]).
//!
//! **Wait morphing.** `notify` runs under the lock, so a waiter woken there would only find
//! the lock held and sleep again on the lock (two extra context switches per hand-off on one
//! CPU). Instead `notify` sets `FUTEX_WAITERS` in the lock's futex word and *requeues* the
//! sleepers from the sequence word onto it (`FUTEX_CMP_REQUEUE`): the notifier's unlock wakes
//! one, which takes the lock with `FUTEX_WAITERS` kept (so its own unlock wakes the next), as
//! glibc's robust lock does after a futex wait. Before it sleeps, a waiter announces the
//! re-acquisition in its thread's robust-list `list_op_pending` (what glibc does before it
//! sleeps on a robust mutex), so if it is killed after a wake-up and before it holds the lock,
//! the kernel passes the wake-up on to the next sleeper. A lock holder killed with requeued
//! waiters is handled by the kernel as for any robust mutex (`FUTEX_OWNER_DIED`, one sleeper
//! woken, `owner_died` reported on re-acquisition). Where the lock layout is unknown (not
//! 64-bit glibc) `notify` wakes instead.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::futex::{self, fault, Deadline, Peers, Region, SharedState, Spinner};
use super::lock::{AnyLock, LockGuard};
use super::raw::{clear_pending, Acquired, FUTEX_WAITERS};
use crate::shm::{LockKind, Options, SegKind};
use crate::{Error, Result};

#[repr(C)]
#[derive(Default)]
pub(crate) struct CondState {
    seq: AtomicU32,
    /// Threads between reading `seq` and re-acquiring the lock (a notify moves `seq` then).
    waiters: AtomicU32,
    /// Of those, the ones in (or about to enter) the futex sleep (a notify wakes them then).
    sleepers: AtomicU32,
    /// Of the waiters, the ones that cannot be requeued onto the lock (their thread cannot
    /// announce the re-acquisition to the kernel): while any sleeps, notify wakes instead.
    unready: AtomicU32,
    peers: Peers,
}

// SAFETY: atomics only.
unsafe impl SharedState for CondState {}

/// How a [`Condition`] wait ended.
///
/// ```
/// let cond = mpshare::Condition::new()?;
/// let _g = cond.lock()?;
/// let w = cond.wait_timeout(std::time::Duration::from_millis(1))?;
/// assert!(!w.notified() && !w.owner_died());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "check notified() (false on timeout) and owner_died()"]
pub struct Woken {
    notified: bool,
    owner_died: bool,
}

impl Woken {
    /// False when the wait timed out (Python's `wait()` returning `False`); for
    /// [`Condition::wait_for`], the predicate's last value.
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// let _g = cond.lock()?;
    /// assert!(cond.wait_for(|| true, None)?.notified());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn notified(self) -> bool {
        self.notified
    }

    /// True when the lock's previous holder died holding it: the lock is held again by the
    /// caller, but the state it protects may be half-updated.
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// let _g = cond.lock()?;
    /// assert!(!cond.wait_for(|| true, None)?.owner_died());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn owner_died(self) -> bool {
        self.owner_died
    }
}

/// A condition variable in shared memory (Python's `multiprocessing.Condition`).
///
/// Waits release and re-acquire the condition's lock: its own [`RLock`](crate::RLock) (Python's
/// default) or any mpshare [`Lock`](crate::Lock)/[`RLock`](crate::RLock) given to
/// [`with_lock`](Self::with_lock). As with POSIX condition variables a wait may occasionally
/// return without a notification (Python's does not): wait in a loop on the state, or use
/// [`wait_for`](Self::wait_for).
///
/// ```
/// use mpshare::{Condition, RawValue};
/// use std::time::Duration;
/// let cond = Condition::new()?;
/// let ready = RawValue::new(0u32)?;
/// let (c, r) = (cond.clone(), ready.clone());
/// let t = std::thread::spawn(move || -> mpshare::Result<()> {
///     let _g = c.lock()?;
///     r.set(1);
///     c.notify(1)?;
///     Ok(())
/// });
/// let _g = cond.lock()?;
/// let w = cond.wait_for(|| ready.get() == 1, Some(Duration::from_secs(10)))?;
/// assert!(w.notified());
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Condition {
    region: Region<CondState>,
    lock: AnyLock,
    spin: Spinner,
}

impl Condition {
    /// The segment behind this handle and its lock's (handover, `crate::process`).
    pub(crate) fn segments(&self) -> (&crate::shm::Segment, &crate::shm::Segment) {
        (self.region.segment(), self.lock.raw().segment())
    }

    /// A new anonymous condition with its own [`RLock`](crate::RLock) (Python's `Condition()`).
    ///
    /// ```
    /// assert!(mpshare::Condition::new()?.get_lock().is_recursive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new() -> Result<Condition> {
        Self::build(None, None)
    }

    /// A new anonymous condition over `lock` (Python's `Condition(lock)`), e.g. the lock of a
    /// [`Value`](crate::Value).
    ///
    /// ```
    /// let v = mpshare::Value::new(0i32)?;
    /// let cond = mpshare::Condition::with_lock(v.get_lock().clone())?;
    /// let _g = cond.lock()?;
    /// assert!(v.get_lock().try_acquire()?.is_some()); // one RLock: we re-enter it
    /// v.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn with_lock(lock: impl Into<AnyLock>) -> Result<Condition> {
        Self::build(None, Some(lock.into()))
    }

    /// Create the named condition `name` with its own [`RLock`](crate::RLock).
    ///
    /// ```
    /// let name = format!("mpshare-doc-cond-{}", std::process::id());
    /// let a = mpshare::Condition::create(&name)?;
    /// let b = mpshare::Condition::open(&name)?;
    /// let _g = a.lock()?;
    /// assert!(b.get_lock().is_recursive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str) -> Result<Condition> {
        Self::create_with(name, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// let name = format!("mpshare-doc-cond-mode-{}", std::process::id());
    /// let c = mpshare::Condition::create_with(&name, &mpshare::shm::Options::default().mode(0o660))?;
    /// assert!(c.get_lock().is_recursive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, opts: &Options) -> Result<Condition> {
        Self::build(Some((name, opts)), None)
    }

    /// Create the named condition `name` over a lock of the caller's (say, a named
    /// [`Lock`](crate::Lock)); openers pass their own handle of that lock to
    /// [`open_with_lock`](Self::open_with_lock).
    ///
    /// ```
    /// let name = format!("mpshare-doc-condl-{}", std::process::id());
    /// let lock = mpshare::Lock::create(&format!("{name}-lock"))?;
    /// let a = mpshare::Condition::create_with_lock(&name, &lock)?;
    /// let other = mpshare::Lock::open(&format!("{name}-lock"))?;
    /// let b = mpshare::Condition::open_with_lock(&name, other)?;
    /// assert!(matches!(mpshare::Condition::open(&name), Err(mpshare::Error::LayoutMismatch { .. })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with_lock(name: &str, lock: impl Into<AnyLock>) -> Result<Condition> {
        Self::build(Some((name, &Options::default())), Some(lock.into()))
    }

    /// Open the named condition `name` made by [`create`](Self::create).
    ///
    /// ```
    /// let r = mpshare::Condition::open("mpshare-doc-no-such-cond");
    /// assert!(matches!(r, Err(mpshare::Error::NotFound { .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::LayoutMismatch`] when it holds something else or was
    /// created over an outside lock.
    pub fn open(name: &str) -> Result<Condition> {
        let (region, lock) = Region::attach(name, SegKind::Condition, None)?;
        let lock = lock.ok_or_else(|| Error::LayoutMismatch {
            name: region.segment().name().unwrap_or(name).to_string(),
            holds: "Condition over an outside lock (open it with open_with_lock)".into(),
            asked: "Condition with its own RLock".into(),
        })?;
        Ok(Condition {
            region,
            lock: AnyLock::from_raw(lock),
            spin: Spinner::default(),
        })
    }

    /// Open the named condition `name` made by [`create_with_lock`](Self::create_with_lock),
    /// over this process's handle of the same lock.
    ///
    /// ```
    /// let name = format!("mpshare-doc-condo-{}", std::process::id());
    /// let _a = mpshare::Condition::create(&name)?;
    /// let r = mpshare::Condition::open_with_lock(&name, mpshare::Lock::new()?);
    /// assert!(matches!(r, Err(mpshare::Error::LayoutMismatch { .. }))); // it has its own lock
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_with_lock(name: &str, lock: impl Into<AnyLock>) -> Result<Condition> {
        let (region, own) = Region::attach(name, SegKind::Condition, None)?;
        if own.is_some() {
            return Err(Error::LayoutMismatch {
                name: region.segment().name().unwrap_or(name).to_string(),
                holds: "Condition with its own RLock (open it with open)".into(),
                asked: "Condition over an outside lock".into(),
            });
        }
        Ok(Condition {
            region,
            lock: lock.into(),
            spin: Spinner::default(),
        })
    }

    /// Open the named condition `name` (own lock), creating it if it does not exist.
    ///
    /// ```
    /// let name = format!("mpshare-doc-condooc-{}", std::process::id());
    /// let a = mpshare::Condition::open_or_create(&name)?;
    /// let b = mpshare::Condition::open_or_create(&name)?;
    /// let _g = a.lock()?;
    /// assert!(b.get_lock().try_acquire()?.is_some()); // same RLock, same thread: re-enters
    /// b.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str) -> Result<Condition> {
        futex::open_or_create(|| Self::create(name), || Self::open(name))
    }

    fn build(name: Option<(&str, &Options)>, lock: Option<AnyLock>) -> Result<Condition> {
        let kind = if lock.is_some() {
            LockKind::None
        } else {
            LockKind::RLock
        };
        let (region, own) = Region::build(name, SegKind::Condition, kind, 0, |_| {})?;
        let lock = match (lock, own) {
            (Some(l), _) => l,
            (None, Some(raw)) => AnyLock::from_raw(raw),
            (None, None) => {
                return Err(Error::BadSegment {
                    name: name.map_or("<anonymous>", |n| n.0).to_string(),
                    reason: "condition built without its lock".into(),
                })
            }
        };
        Ok(Condition {
            region,
            lock,
            spin: Spinner::default(),
        })
    }

    fn st(&self) -> &CondState {
        self.region.state()
    }

    /// The lock (Python's `cond._lock`; `acquire`/`release` below forward to it).
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(cond.get_lock().try_acquire()?.is_some());
    /// cond.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_lock(&self) -> &AnyLock {
        &self.lock
    }

    /// Acquire the lock (Python's `cond.acquire()`).
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(!cond.acquire()?.owner_died());
    /// cond.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<Acquired> {
        self.lock.acquire()
    }

    /// Release the lock (Python's `cond.release()`).
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(matches!(cond.release(), Err(mpshare::Error::NotOwner)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.lock.release()
    }

    /// Acquire the lock with a guard (Python's `with cond:`).
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// let g = cond.lock()?;
    /// assert!(!g.owner_died());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        self.lock.lock()
    }

    /// Release the lock, sleep until notified, re-acquire (Python's `wait()`). The caller must
    /// hold the lock.
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(matches!(cond.wait(), Err(mpshare::Error::NotOwner))); // lock not held
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotOwner`] when the caller does not hold the lock; lock errors on re-acquire.
    pub fn wait(&self) -> Result<Woken> {
        self.wait_inner(None)
    }

    /// [`wait`](Self::wait) at most `timeout`; [`Woken::notified`] is false on timeout
    /// (Python's `wait(timeout)`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let cond = mpshare::Condition::new()?;
    /// let _g = cond.lock()?;
    /// let t = Instant::now();
    /// assert!(!cond.wait_timeout(Duration::from_millis(20))?.notified());
    /// assert!(t.elapsed() >= Duration::from_millis(20));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Woken> {
        self.wait_inner(Some(timeout))
    }

    /// Wait until `predicate()` is true, at most `timeout` in all (Python's
    /// `wait_for(predicate, timeout)`); [`Woken::notified`] is the predicate's last value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = mpshare::Condition::new()?;
    /// let _g = cond.lock()?;
    /// let w = cond.wait_for(|| false, Some(Duration::from_millis(5)))?;
    /// assert!(!w.notified());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<Woken> {
        let deadline = Deadline::after(timeout);
        let mut owner_died = false;
        loop {
            if predicate() {
                return Ok(Woken {
                    notified: true,
                    owner_died,
                });
            }
            if deadline.passed() {
                return Ok(Woken {
                    notified: false,
                    owner_died,
                });
            }
            let w = self.wait_inner(deadline.remaining())?;
            owner_died |= w.owner_died;
        }
    }

    /// Wake up to `n` waiters (Python's `notify(n)`). The caller must hold the lock.
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(matches!(cond.notify(1), Err(mpshare::Error::NotOwner))); // as Python raises
    /// let _g = cond.lock()?;
    /// cond.notify(1)?; // nobody waits: no effect
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotOwner`] when the calling thread does not hold the lock (checked on 64-bit
    /// glibc, where the owner is readable).
    #[inline]
    pub fn notify(&self, n: u32) -> Result<()> {
        let held = futex::held_by_caller(&self.lock);
        if held == Some(false) {
            return Err(Error::NotOwner);
        }
        let st = self.st();
        if n == 0 || st.waiters.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        st.peers.note();
        let seq = st.seq.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
        if st.sleepers.load(Ordering::SeqCst) > 0 {
            self.wake_sleepers(seq, n, held == Some(true));
        }
        Ok(())
    }

    /// Hand up to `n` sleepers on `seq` to the lock: requeued onto its futex word when the
    /// caller is known to hold the lock, every sleeper can be requeued (wait morphing, see
    /// the module docs) and the waiters were last seen on this CPU; else woken. A waiter on
    /// another CPU is woken at once: its wake-up latency then overlaps the rest of our
    /// critical section, and the lock is usually free when it arrives.
    fn wake_sleepers(&self, seq: u32, n: u32, held: bool) {
        let st = self.st();
        if held && st.unready.load(Ordering::SeqCst) == 0 && !st.peers.peer_elsewhere() {
            if let Some(word) = self.lock.raw().word() {
                // Before the requeue: the unlock (ours, or the kernel's for a dead owner)
                // must see sleepers on the word, whenever this process dies.
                word.fetch_or(FUTEX_WAITERS, Ordering::AcqRel);
                if futex::requeue(&st.seq, seq, word, n).is_some() {
                    return;
                }
            }
        }
        futex::wake(&st.seq, n);
    }

    /// Wake every waiter (Python's `notify_all()`).
    ///
    /// ```
    /// let cond = mpshare::Condition::new()?;
    /// assert!(cond.notify_all().is_err()); // lock not held
    /// let _g = cond.lock()?;
    /// cond.notify_all()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`notify`](Self::notify).
    pub fn notify_all(&self) -> Result<()> {
        self.notify(i32::MAX as u32)
    }

    /// Release every level of the lock held by this thread; how many there were.
    fn release_all(&self) -> Result<u32> {
        // Where the depth is readable, release exactly that many (no failing extra release).
        let levels = self.lock.raw().levels_held_here();
        self.lock.release()?;
        let mut depth = 1;
        if self.lock.is_recursive() {
            let more = levels.map_or(u32::MAX, |l| l.saturating_sub(1));
            while depth <= more && self.lock.release().is_ok() {
                depth += 1;
            }
        }
        Ok(depth)
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> Result<Woken> {
        let st = self.st();
        let deadline = Deadline::after(timeout);
        // Read under the lock: a notify after this point (it needs the lock) moves `seq`.
        let seq = st.seq.load(Ordering::SeqCst);
        st.waiters.fetch_add(1, Ordering::SeqCst);
        let depth = match self.release_all() {
            Ok(d) => d,
            Err(e) => {
                st.waiters.fetch_sub(1, Ordering::SeqCst);
                return Err(e);
            }
        };
        st.peers.note();
        // Ready to be requeued onto the lock: the kernel learns that this thread is about to
        // acquire it (a death from here on passes a wake-up on). Else notify must wake us.
        let raw = self.lock.raw();
        let morph = raw.announce_acquire();
        if !morph {
            st.unready.fetch_add(1, Ordering::SeqCst);
        }
        fault::hit(fault::CONDITION_WAIT);
        let moved = || st.seq.load(Ordering::Acquire) != seq;
        // `moved()` again after a failed spin: the notifier may have run while we released
        // the lock (on one CPU, our unlock's wake-up lets it run at once), saving a sleep
        // that the kernel would refuse.
        let mut notified = self.spin.spin(&st.peers, moved) || moved();
        let mut slept = false;
        while !notified {
            if deadline.passed() {
                break;
            }
            // Announce the sleep before it (a notify that misses the count moved `seq`
            // first, so the kernel's check of `seq` fails and we do not sleep).
            st.sleepers.fetch_add(1, Ordering::SeqCst);
            futex::wait(&st.seq, seq, deadline.remaining());
            st.sleepers.fetch_sub(1, Ordering::SeqCst);
            slept = true;
            notified = moved();
        }
        if !morph {
            st.unready.fetch_sub(1, Ordering::SeqCst);
        }
        st.waiters.fetch_sub(1, Ordering::SeqCst);
        fault::hit(fault::CONDITION_REACQUIRE);
        // A sleep may have ended on the lock's futex (requeued, then woken by an unlock):
        // other sleepers may remain there, so take the lock with FUTEX_WAITERS kept.
        let first = if slept && morph {
            raw.lock_after_wake()
        } else {
            if morph {
                clear_pending();
            }
            self.lock.acquire()
        };
        let mut owner_died = first?.owner_died();
        for _ in 1..depth {
            owner_died |= self.lock.acquire()?.owner_died();
        }
        Ok(Woken {
            notified,
            owner_died,
        })
    }
}

futex::named_methods!(Condition, "mpshare::Condition::new()?");
