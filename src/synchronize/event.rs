//! [`Event`]: Python's `multiprocessing.Event`, one futex word in shared memory.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::futex::{self, named_methods, Deadline, Peers, Region, SharedState, Spinner};
use crate::shm::{LockKind, Options, SegKind};
use crate::Result;

const SET: u32 = 1;
const WAITERS: u32 = 2;
/// Bits 2..32 count the clear -> set transitions, so a waiter that slept through a `set`
/// followed at once by a `clear` still returns true, as Python's does.
const GEN: u32 = 4;

#[repr(C)]
#[derive(Default)]
pub(crate) struct EventState {
    /// `SET` | `WAITERS` (somebody sleeps on the word).
    word: AtomicU32,
    peers: Peers,
}

// SAFETY: atomics only; zero is a clear event.
unsafe impl SharedState for EventState {}

/// An interprocess event (Python's `multiprocessing.Event`): a flag that processes wait for.
///
/// No lock is involved, so a process that dies at any point never blocks the others. Handles
/// are cheap to clone and inherited by `fork` children; named events reach unrelated processes.
///
/// ```
/// use std::time::Duration;
/// let ev = mpshare::Event::new()?;
/// assert!(!ev.wait_timeout(Duration::from_millis(1))); // Python: ev.wait(0.001) -> False
/// ev.set();
/// assert!(ev.is_set() && ev.wait_timeout(Duration::ZERO));
/// ev.clear();
/// assert!(!ev.is_set());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    region: Region<EventState>,
    spin: Spinner,
}

impl Event {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.region.segment()
    }

    /// A new anonymous, clear event, shared with `fork` children.
    ///
    /// ```
    /// assert!(!mpshare::Event::new()?.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new() -> Result<Event> {
        Self::build(None)
    }

    /// Create the named event `name` (clear) for unrelated processes to [`open`](Self::open).
    ///
    /// ```
    /// let name = format!("mpshare-doc-event-{}", std::process::id());
    /// let a = mpshare::Event::create(&name)?;
    /// let b = mpshare::Event::open(&name)?;
    /// a.set();
    /// assert!(b.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists), invalid names, OS errors.
    pub fn create(name: &str) -> Result<Event> {
        Self::create_with(name, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// let name = format!("mpshare-doc-event-mode-{}", std::process::id());
    /// let e = mpshare::Event::create_with(&name, &mpshare::shm::Options::default().mode(0o660))?;
    /// assert!(!e.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, opts: &Options) -> Result<Event> {
        Self::build(Some((name, opts)))
    }

    /// Open the named event `name`.
    ///
    /// ```
    /// let name = format!("mpshare-doc-event-kind-{}", std::process::id());
    /// let _lock = mpshare::Lock::create(&name)?;
    /// let err = mpshare::Event::open(&name).unwrap_err();
    /// assert!(matches!(err, mpshare::Error::LayoutMismatch { .. }), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound),
    /// [`Error::LayoutMismatch`](crate::Error::LayoutMismatch) when it holds something else.
    pub fn open(name: &str) -> Result<Event> {
        let (region, _) = Region::attach(name, SegKind::Event, Some(LockKind::None))?;
        Ok(Event {
            region,
            spin: Spinner::default(),
        })
    }

    /// Open the named event `name`, creating it (clear) if it does not exist.
    ///
    /// ```
    /// let name = format!("mpshare-doc-event-ooc-{}", std::process::id());
    /// let a = mpshare::Event::open_or_create(&name)?; // creates
    /// let b = mpshare::Event::open_or_create(&name)?; // opens
    /// b.set();
    /// assert!(a.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str) -> Result<Event> {
        futex::open_or_create(|| Self::create(name), || Self::open(name))
    }

    fn build(name: Option<(&str, &Options)>) -> Result<Event> {
        let (region, _) = Region::build(name, SegKind::Event, LockKind::None, 0, |_| {})?;
        Ok(Event {
            region,
            spin: Spinner::default(),
        })
    }

    #[inline(always)]
    fn word(&self) -> &AtomicU32 {
        &self.region.state().word
    }

    /// True if the flag is set (Python's `is_set()`).
    ///
    /// ```
    /// let ev = mpshare::Event::new()?;
    /// ev.set();
    /// assert!(ev.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.word().load(Ordering::Acquire) & SET != 0
    }

    /// Set the flag and wake every waiter (Python's `set()`).
    ///
    /// ```
    /// let ev = mpshare::Event::new()?;
    /// ev.set();
    /// ev.set(); // idempotent
    /// assert!(ev.wait_timeout(std::time::Duration::ZERO));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn set(&self) {
        self.region.state().peers.note();
        let w = self.word();
        let mut old = w.load(Ordering::Relaxed);
        loop {
            if old & (SET | WAITERS) == SET {
                return; // already set, nobody asleep
            }
            let new = if old & SET == 0 {
                (old & !WAITERS).wrapping_add(GEN) | SET
            } else {
                old & !WAITERS
            };
            match w.compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        if old & WAITERS != 0 {
            futex::wake_all(w);
        }
    }

    /// Clear the flag (Python's `clear()`).
    ///
    /// ```
    /// let ev = mpshare::Event::new()?;
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn clear(&self) {
        self.word().fetch_and(!SET, Ordering::SeqCst);
    }

    /// Block until the flag is set (Python's `wait()`).
    ///
    /// ```
    /// let ev = mpshare::Event::new()?;
    /// ev.set();
    /// ev.wait(); // returns at once
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait(&self) {
        self.wait_inner(None);
    }

    /// Block until the flag is set or `timeout` passes; returns the flag (Python's
    /// `wait(timeout)`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ev = mpshare::Event::new()?;
    /// let t = Instant::now();
    /// assert!(!ev.wait_timeout(Duration::from_millis(20)));
    /// assert!(t.elapsed() >= Duration::from_millis(20));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_inner(Some(timeout))
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> bool {
        let first = self.word().load(Ordering::Acquire);
        if first & SET != 0 {
            return true;
        }
        let generation = first & !(SET | WAITERS);
        let fired = |w: u32| w & SET != 0 || w & !(SET | WAITERS) != generation;
        let st = self.region.state();
        st.peers.note();
        let deadline = Deadline::after(timeout);
        if self
            .spin
            .spin(&st.peers, || fired(self.word().load(Ordering::Acquire)))
        {
            return true;
        }
        loop {
            let w = self.word().load(Ordering::Acquire);
            if fired(w) {
                return true;
            }
            if deadline.passed() {
                return false;
            }
            if w & WAITERS == 0
                && self
                    .word()
                    .compare_exchange(w, w | WAITERS, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            futex::wait(self.word(), w | WAITERS, deadline.remaining());
        }
    }
}

named_methods!(Event, "mpshare::Event::new()?");
