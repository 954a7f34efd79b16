//! Interprocess locks that live in shared memory: [`Lock`] and [`RLock`].
//!
//! Both are robust: when a holder dies (even by `SIGKILL`), the next acquirer gets the lock and
//! an [`Acquired`] whose [`owner_died`](Acquired::owner_died) is true, instead of the deadlock
//! Python's semaphore-based locks give. Both are owned: releasing a lock you do not hold is
//! [`crate::Error::NotOwner`]. A [`Lock`] taken twice by its holder gives
//! [`crate::Error::WouldDeadlock`] instead of hanging; an [`RLock`] counts.
//!
//! Handles are cheap to clone and are inherited by `fork` children; named locks
//! ([`Lock::create`] / [`Lock::open`]) reach unrelated processes.

use std::time::Duration;

pub use super::raw::Acquired;
use super::raw::RawMutex;

use crate::shm::{self, Expect, Layout, LockKind, Options, SegKind, Target};
use crate::{Error, Result};

/// RAII guard of a [`Lock`], [`RLock`] or [`AnyLock`]: releases one level on drop.
///
/// ```
/// let lock = mpshare::Lock::new()?;
/// {
///     let g = lock.lock()?;
///     assert!(!g.owner_died());
///     assert!(lock.try_acquire()?.is_none()); // held (by us: a Lock does not re-enter)
/// }
/// assert!(lock.try_acquire()?.is_some());
/// lock.release()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
#[must_use = "the lock is released when the guard drops"]
pub struct LockGuard<'a> {
    raw: &'a RawMutex,
    owner_died: bool,
    /// Not `Send` (but `Sync`), like `std::sync::MutexGuard`: the lock must be released by
    /// the thread that took it.
    _not_send: NotSend,
}

type NotSend = std::marker::PhantomData<std::sync::MutexGuard<'static, ()>>;

impl LockGuard<'_> {
    /// True when the previous holder died holding the lock (see [`Acquired::owner_died`]).
    ///
    /// ```
    /// let lock = mpshare::RLock::new()?;
    /// assert!(!lock.lock()?.owner_died());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }
}

impl Drop for LockGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Cannot fail: the guard proves this thread holds the lock.
        let _ = self.raw.unlock();
    }
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("owner_died", &self.owner_died)
            .finish()
    }
}

thread_local! {
    /// One entry per live `ArrayGuard` of this thread: the identity of the segment of the lock
    /// it holds.
    static PINNED: std::cell::RefCell<Vec<crate::shm::SegmentId>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An `ArrayGuard` of this thread now holds one level of `lock`.
pub(crate) fn pin(lock: &AnyLock) {
    let id = lock.raw().segment().id();
    PINNED.with(|p| p.borrow_mut().push(id));
}

/// That guard is gone.
pub(crate) fn unpin(lock: &AnyLock) {
    let id = lock.raw().segment().id();
    PINNED.with(|p| {
        let mut p = p.borrow_mut();
        if let Some(i) = p.iter().position(|x| *x == id) {
            p.swap_remove(i);
        }
    });
}

/// Refuse an explicit `release` that would take away the level a live `ArrayGuard` holds.
#[inline]
fn check_not_pinned(raw: &RawMutex) -> Result<()> {
    let pinned = PINNED.with(|p| {
        let p = p.borrow();
        if p.is_empty() {
            return 0;
        }
        let id = raw.segment().id();
        p.iter().filter(|x| **x == id).count() as u32
    });
    if pinned == 0 {
        return Ok(());
    }
    // Levels beyond the guards' own may be released; without a way to count them, refuse.
    match raw.levels_held_here() {
        Some(levels) if levels > pinned => Ok(()),
        _ => Err(Error::ReleaseUnderGuard),
    }
}

macro_rules! lock_methods {
    ($ty:ident, $new:expr) => {
        impl $ty {
            /// Block until the lock is acquired (Python's `acquire()`).
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// let how = lock.acquire()?;
            /// if how.owner_died() { /* repair the data the lock protects */ }
            /// lock.release()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::WouldDeadlock`] when a non-recursive [`Lock`] is taken again by its
            /// holder; [`Error::LockNotRecoverable`]; OS errors.
            #[inline]
            pub fn acquire(&self) -> Result<Acquired> {
                self.raw().lock()
            }

            /// Acquire if free, without waiting (Python's `acquire(False)`): `None` if held.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(lock.try_acquire()?.is_some());
            /// lock.release()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn try_acquire(&self) -> Result<Option<Acquired>> {
                self.raw().try_lock()
            }

            /// Acquire, waiting at most `timeout` (Python's `acquire(timeout=t)`): `None` on
            /// timeout.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(lock.acquire_timeout(Duration::from_millis(10))?.is_some());
            /// lock.release()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Acquired>> {
                self.raw().lock_timeout(timeout)
            }

            /// Python's `acquire(block=True, timeout=None)` in one call.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(lock.acquire_with(true, None)?.is_some());
            /// lock.release()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn acquire_with(
                &self,
                block: bool,
                timeout: Option<Duration>,
            ) -> Result<Option<Acquired>> {
                match (block, timeout) {
                    (false, _) => self.try_acquire(),
                    (true, None) => self.acquire().map(Some),
                    (true, Some(t)) => self.acquire_timeout(t),
                }
            }

            /// Release one level of ownership.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(matches!(lock.release(), Err(mpshare::Error::NotOwner)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::NotOwner`] if this thread does not hold the lock;
            /// [`Error::ReleaseUnderGuard`] if the level released is the one a live
            /// [`ArrayGuard`](crate::ArrayGuard) of this thread holds (the guard's slice would
            /// outlive the lock).
            #[inline]
            pub fn release(&self) -> Result<()> {
                check_not_pinned(self.raw())?;
                self.raw().unlock()
            }

            /// Acquire and return a guard that releases on drop.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// let guard = lock.lock()?;
            /// drop(guard);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline(always)]
            pub fn lock(&self) -> Result<LockGuard<'_>> {
                let how = self.raw().lock()?;
                Ok(LockGuard {
                    raw: self.raw(),
                    owner_died: how.owner_died(),
                    _not_send: NotSend::default(),
                })
            }

            /// A guard if the lock is free now.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(lock.try_lock()?.is_some());
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn try_lock(&self) -> Result<Option<LockGuard<'_>>> {
                Ok(self.raw().try_lock()?.map(|how| LockGuard {
                    raw: self.raw(),
                    owner_died: how.owner_died(),
                    _not_send: NotSend::default(),
                }))
            }

            /// A guard, waiting at most `timeout`.
            ///
            /// ```
            #[doc = concat!("let lock = ", $new, ";")]
            /// assert!(lock.lock_timeout(std::time::Duration::from_millis(5))?.is_some());
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<LockGuard<'_>>> {
                Ok(self.raw().lock_timeout(timeout)?.map(|how| LockGuard {
                    raw: self.raw(),
                    owner_died: how.owner_died(),
                    _not_send: NotSend::default(),
                }))
            }
        }
    };
}

/// A non-recursive interprocess lock (Python's `multiprocessing.Lock`), robust to holder death.
///
/// ```
/// use mpshare::Lock;
/// let lock = Lock::new()?;
/// {
///     let _g = lock.lock()?;
///     // critical section
/// }
/// # Ok::<(), mpshare::Error>(())
/// ```
///
/// Unlike Python's, this lock is owned: only its holder may release it
/// ([`Error::NotOwner`]), which is what lets a dead holder be detected.
/// For Python's idiom of acquiring in one process and releasing in another (a hand-off
/// signal), use a [`Semaphore`](crate::Semaphore)`(1)`, or a
/// [`BoundedSemaphore`](crate::BoundedSemaphore)`(1)` to catch a double release:
///
/// ```
/// let gate = mpshare::BoundedSemaphore::new(1)?;
/// gate.acquire()?;                 // taken here ...
/// let other = gate.clone();        // (a forked child's handle works the same)
/// std::thread::spawn(move || other.release()).join().unwrap()?; // ... given back elsewhere
/// assert_eq!(gate.get_value(), 1);
/// assert!(gate.release().is_err()); // a second release is an error, as in Python
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Lock {
    raw: RawMutex,
    name: Option<String>,
}

/// A recursive interprocess lock (Python's `multiprocessing.RLock`), robust to holder death.
///
/// ```
/// use mpshare::RLock;
/// let lock = RLock::new()?;
/// let _a = lock.lock()?;
/// let _b = lock.lock()?; // the holder may re-enter
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RLock {
    raw: RawMutex,
    name: Option<String>,
}

macro_rules! standalone {
    ($ty:ident, $seg:expr, $kind:expr, $pyname:literal) => {
        impl $ty {
            #[doc = concat!("A new anonymous ", $pyname, ", shared with `fork` children.")]
            ///
            /// ```
            #[doc = concat!("let lock = mpshare::", stringify!($ty), "::new()?;")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn new() -> Result<Self> {
                Ok(Self::build(Target::Anonymous)?.0)
            }

            #[doc = concat!("Create the named ", $pyname, " `name` for unrelated processes to [`open`](Self::open).")]
            ///
            /// The creating process unlinks the name when its last handle drops (see
            /// [`persist`](Self::persist)).
            ///
            /// ```
            #[doc = concat!("use mpshare::", stringify!($ty), ";")]
            /// let name = format!("mpshare-doc-lock-{}", std::process::id());
            #[doc = concat!("let a = ", stringify!($ty), "::create(&name)?;")]
            #[doc = concat!("let b = ", stringify!($ty), "::open(&name)?;")]
            /// let g = a.lock()?; // `a` and `b` are one lock
            /// drop(g);
            /// let _h = b.lock()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create(name: &str) -> Result<Self> {
                Self::create_with(name, &Options::default())
            }

            #[doc = concat!("[`create`](Self::create) with [`Options`] (the permission bits).")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-lock-mode-{}", std::process::id());
            #[doc = concat!("let _l = mpshare::", stringify!($ty), "::create_with(&name, &mpshare::shm::Options::default().mode(0o660))?;")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create_with(name: &str, opts: &Options) -> Result<Self> {
                Ok(Self::build(Target::Create(name, opts))?.0)
            }

            #[doc = concat!("Open the named ", $pyname, " `name`, or create it; `true` when this call created it.")]
            ///
            /// Race-free: of many processes racing, exactly one creates.
            ///
            /// ```
            /// let name = format!("mpshare-doc-lock-ooc-{}", std::process::id());
            /// let opts = mpshare::shm::Options::default();
            #[doc = concat!("let (a, created) = mpshare::", stringify!($ty), "::open_or_create(&name, &opts)?;")]
            #[doc = concat!("let (b, again) = mpshare::", stringify!($ty), "::open_or_create(&name, &opts)?;")]
            /// assert!(created && !again);
            /// # drop((a, b));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn open_or_create(name: &str, opts: &Options) -> Result<(Self, bool)> {
                Self::build(Target::OpenOrCreate(name, opts))
            }

            fn build(target: Target<'_>) -> Result<(Self, bool)> {
                let layout = Layout::new($seg, None, 0, $kind);
                let expect = Expect {
                    kind: $seg,
                    elem: None,
                    len: None,
                    lock: Some($kind),
                };
                let (built, created) = shm::build_or_attach(target, layout, &expect, |_, _| {})?;
                let raw = built.lock.ok_or_else(|| Error::BadSegment {
                    name: built.seg.name().unwrap_or("<anonymous>").to_string(),
                    reason: "lock segment without a lock".into(),
                })?;
                Ok(($ty {
                    raw,
                    name: built.seg.name().map(str::to_string),
                }, created))
            }

            #[doc = concat!("Open the named ", $pyname, " `name` made by [`create`](Self::create).")]
            ///
            /// ```
            #[doc = concat!("let r = mpshare::", stringify!($ty), "::open(\"mpshare-doc-missing\");")]
            /// assert!(matches!(r, Err(mpshare::Error::NotFound { .. })));
            /// ```
            ///
            /// # Errors
            /// [`Error::NotFound`], [`Error::LayoutMismatch`] when the segment holds something
            /// else, [`Error::NotInitialized`] when its creator never finished it.
            pub fn open(name: &str) -> Result<Self> {
                let built = shm::attach(
                    name,
                    &Expect {
                        kind: $seg,
                        elem: None,
                        len: None,
                        lock: Some($kind),
                    },
                )?;
                Ok($ty {
                    raw: built.lock.ok_or_else(|| Error::BadSegment {
                        name: name.to_string(),
                        reason: "lock segment without a lock".into(),
                    })?,
                    name: built.seg.name().map(str::to_string),
                })
            }

            /// The OS name (`/name`) of a named lock.
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new()?.name(), None);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn name(&self) -> Option<&str> {
                self.name.as_deref()
            }

            /// Keep the name in `/dev/shm` when the creator's handles drop.
            ///
            /// ```
            /// let name = format!("mpshare-doc-persist-{}", std::process::id());
            #[doc = concat!("mpshare::", stringify!($ty), "::create(&name)?.persist();")]
            #[doc = concat!("let again = mpshare::", stringify!($ty), "::open(&name)?;")]
            /// mpshare::shm::unlink(&name)?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn persist(&self) {
                self.raw.segment().persist();
            }

            /// Remove the name now (as `Value::unlink`); handles keep working, new `open`s
            /// fail with [`Error::NotFound`].
            ///
            /// ```
            /// let name = format!("mpshare-doc-lock-unlink-{}", std::process::id());
            #[doc = concat!("let l = mpshare::", stringify!($ty), "::create(&name)?;")]
            /// l.unlink()?;
            #[doc = concat!("assert!(matches!(mpshare::", stringify!($ty), "::open(&name), Err(mpshare::Error::NotFound { .. })));")]
            /// drop(l.lock()?);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn unlink(&self) -> Result<()> {
                self.raw.segment().unlink()
            }

            #[inline]
            fn raw(&self) -> &RawMutex {
                &self.raw
            }
        }
        lock_methods!($ty, concat!("mpshare::", stringify!($ty), "::new()?"));
    };
}

standalone!(Lock, SegKind::Lock, LockKind::Lock, "Lock");
standalone!(RLock, SegKind::RLock, LockKind::RLock, "RLock");

/// The lock of a [`Value`](crate::Value) or [`Array`](crate::Array): either kind.
///
/// ```
/// let v = mpshare::Value::new(0i32)?;
/// let lock: &mpshare::AnyLock = v.get_lock();
/// assert!(lock.is_recursive()); // Python's default lock=True is an RLock
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum AnyLock {
    /// A non-recursive lock.
    Lock(Lock),
    /// A recursive lock.
    RLock(RLock),
}

impl AnyLock {
    /// True for an [`RLock`].
    ///
    /// ```
    /// let l: mpshare::AnyLock = mpshare::Lock::new()?.into();
    /// assert!(!l.is_recursive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_recursive(&self) -> bool {
        self.raw().is_recursive()
    }

    #[inline]
    pub(crate) fn raw(&self) -> &RawMutex {
        match self {
            AnyLock::Lock(l) => &l.raw,
            AnyLock::RLock(l) => &l.raw,
        }
    }

    pub(crate) fn from_raw(raw: RawMutex) -> AnyLock {
        if raw.is_recursive() {
            AnyLock::RLock(RLock { raw, name: None })
        } else {
            AnyLock::Lock(Lock { raw, name: None })
        }
    }
}

lock_methods!(AnyLock, "mpshare::AnyLock::from(mpshare::RLock::new()?)");

impl From<Lock> for AnyLock {
    fn from(l: Lock) -> Self {
        AnyLock::Lock(l)
    }
}

impl From<RLock> for AnyLock {
    fn from(l: RLock) -> Self {
        AnyLock::RLock(l)
    }
}

impl From<&Lock> for AnyLock {
    fn from(l: &Lock) -> Self {
        AnyLock::Lock(l.clone())
    }
}

impl From<&RLock> for AnyLock {
    fn from(l: &RLock) -> Self {
        AnyLock::RLock(l.clone())
    }
}
