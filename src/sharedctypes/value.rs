//! [`Value`] (a shared cell with its lock) and [`RawValue`] (the cell alone).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;

use super::cell::{AtomicInt, Init, Shared, Spec};
use super::synchronized::{sealed, RawObject, Synchronized};
use crate::shm::{LockKind, Options, SegKind, Target};
use crate::synchronize::{AnyLock, LockGuard};
use crate::{Element, Error, Result, TypeCode};

/// A shared cell with no lock (Python's `RawValue` / `Value(..., lock=False)`).
///
/// Reads and writes are single relaxed atomic loads and stores, so concurrent `get`+`set`
/// from several processes is a measurable race (lost updates), never undefined behaviour.
/// Integer cells also have atomic [`fetch_add`](RawValue::fetch_add) and friends, which are exact.
///
/// Clones share the cell; a `fork` child inherits it.
///
/// ```
/// use mpshare::RawValue;
/// let v = RawValue::new(41i64)?;
/// v.set(v.get() + 1);
/// assert_eq!(v.get(), 42);
/// assert_eq!(v.fetch_add(8), 42);
/// assert_eq!(v.get(), 50);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct RawValue<T: Element> {
    cell: Shared<T>,
}

impl<T: Element + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawValue")
            .field("value", &self.get())
            .finish()
    }
}

impl<T: Element> RawValue<T> {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.cell.segment()
    }

    fn make(target: Target<'_>, value: T) -> Result<(Self, bool)> {
        let spec = Spec::of::<T>(SegKind::Value, 1, LockKind::None);
        let (cell, _, created) = Shared::build(target, spec, Init::Copy(&[value]))?;
        Ok((RawValue { cell }, created))
    }

    /// A new anonymous shared cell holding `value`, inherited by `fork` children.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(1.5f64)?;
    /// assert_eq!(v.get(), 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Self> {
        Ok(Self::make(Target::Anonymous, value)?.0)
    }

    /// Create the named cell `name` (under `/dev/shm`, mode 0600) holding `value`.
    ///
    /// The creating process unlinks the name when its last handle drops; see
    /// [`persist`](Self::persist) and [`unlink`](Self::unlink).
    ///
    /// ```
    /// use mpshare::RawValue;
    /// let name = format!("mpshare-doc-rv-{}", std::process::id());
    /// let a = RawValue::create(&name, 7u32)?;
    /// let b = RawValue::<u32>::open(&name)?; // another process would do this
    /// b.set(8);
    /// assert_eq!(a.get(), 8);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::AlreadyExists`], [`Error::InvalidName`], OS errors.
    pub fn create(name: &str, value: T) -> Result<Self> {
        Self::create_with(name, value, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// use mpshare::{shm::Options, RawValue};
    /// let name = format!("mpshare-doc-rv-mode-{}", std::process::id());
    /// let _v = RawValue::create_with(&name, 1u8, &Options::default().mode(0o640))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, value: T, opts: &Options) -> Result<Self> {
        Ok(Self::make(Target::Create(name, opts), value)?.0)
    }

    /// Open the named cell `name`, or create it holding `value` if it does not exist; `true`
    /// when this call created it. Race-free: of many processes racing, exactly one creates
    /// and the others open the fully built cell (or get [`Error::LayoutMismatch`] if it holds
    /// another type).
    ///
    /// ```
    /// let name = format!("mpshare-doc-rv-ooc-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default();
    /// let (a, created) = mpshare::RawValue::open_or_create(&name, 5u64, &opts)?;
    /// let (b, again) = mpshare::RawValue::open_or_create(&name, 9u64, &opts)?;
    /// assert!(created && !again);
    /// assert_eq!(b.get(), 5); // the creator's value
    /// # drop(a);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, value: T, opts: &Options) -> Result<(Self, bool)> {
        Self::make(Target::OpenOrCreate(name, opts), value)
    }

    /// Open the named cell `name`, made by [`RawValue::create`] or [`Value::create`] (its lock is
    /// then ignored).
    ///
    /// ```
    /// let name = format!("mpshare-doc-rv-open-{}", std::process::id());
    /// let _a = mpshare::RawValue::create(&name, 1i32)?;
    /// let err = mpshare::RawValue::<f64>::open(&name).unwrap_err();
    /// assert!(err.to_string().contains("holds Value<'i'>"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::LayoutMismatch`] when it holds another type or an array.
    pub fn open(name: &str) -> Result<Self> {
        let (cell, _) = Shared::attach(name, SegKind::Value, Some(1), None)?;
        Ok(RawValue { cell })
    }

    /// The current value (one relaxed atomic load).
    ///
    /// ```
    /// assert_eq!(mpshare::RawValue::new(3u8)?.get(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self) -> T {
        // SAFETY-free: index 0 always exists.
        self.cell.load(0).unwrap_or_else(|_| T::zeroed())
    }

    /// Replace the value (one relaxed atomic store).
    ///
    /// ```
    /// let v = mpshare::RawValue::new(3u8)?;
    /// v.set(4);
    /// assert_eq!(v.get(), 4);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, value: T) {
        let _ = self.cell.store(0, value);
    }

    /// The typecode of the element, or `None` for a struct.
    ///
    /// ```
    /// assert_eq!(mpshare::RawValue::new(0i16)?.typecode(), Some(mpshare::TypeCode::Short));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> Option<TypeCode> {
        T::TYPECODE
    }

    /// The OS name (`/name`) of a named cell.
    ///
    /// ```
    /// assert_eq!(mpshare::RawValue::new(0i16)?.name(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.cell.segment().name()
    }

    /// Keep the name when the creator's handles drop.
    ///
    /// ```
    /// let name = format!("mpshare-doc-rv-persist-{}", std::process::id());
    /// mpshare::RawValue::create(&name, 1u8)?.persist();
    /// assert_eq!(mpshare::RawValue::<u8>::open(&name)?.get(), 1);
    /// mpshare::shm::unlink(&name)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.cell.segment().persist();
    }

    /// Remove the name now; mappings stay valid.
    ///
    /// ```
    /// let name = format!("mpshare-doc-rv-unlink-{}", std::process::id());
    /// let v = mpshare::RawValue::create(&name, 1u8)?;
    /// v.unlink()?;
    /// assert!(mpshare::RawValue::<u8>::open(&name).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        self.cell.segment().unlink()
    }

    /// Raw pointer to the cell, for FFI. Access it only with atomics or under the lock.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(0u64)?;
    /// assert!(!v.as_ptr().is_null());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut T {
        self.cell.as_ptr()
    }
}

impl<T: Element> sealed::Sealed for RawValue<T> {}

impl<T: Element> RawObject for RawValue<T> {
    fn name(&self) -> Option<&str> {
        RawValue::name(self)
    }
    fn persist(&self) {
        RawValue::persist(self)
    }
    fn unlink(&self) -> Result<()> {
        RawValue::unlink(self)
    }
    fn typecode(&self) -> Option<TypeCode> {
        T::TYPECODE
    }
}

impl<T: AtomicInt> RawValue<T> {
    /// Atomically add `v` (wrapping), returning the previous value. Exact under contention.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(1i32)?;
    /// assert_eq!(v.fetch_add(1), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn fetch_add(&self, v: T) -> T {
        self.cell.fetch_add(0, v, Ordering::AcqRel).unwrap_or(v)
    }

    /// Atomically subtract `v` (wrapping), returning the previous value.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(1i32)?;
    /// assert_eq!(v.fetch_sub(1), 1);
    /// assert_eq!(v.get(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn fetch_sub(&self, v: T) -> T {
        self.cell.fetch_sub(0, v, Ordering::AcqRel).unwrap_or(v)
    }

    /// Atomically replace the value, returning the previous one.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(1u8)?;
    /// assert_eq!(v.swap(2), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn swap(&self, v: T) -> T {
        self.cell.swap(0, v, Ordering::AcqRel).unwrap_or(v)
    }

    /// Atomically store `new` if the value is `current`; `Err(actual)` otherwise.
    ///
    /// ```
    /// let v = mpshare::RawValue::new(1u8)?;
    /// assert_eq!(v.compare_exchange(1, 5), Ok(1));
    /// assert_eq!(v.compare_exchange(1, 6), Err(5));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn compare_exchange(&self, current: T, new: T) -> std::result::Result<T, T> {
        self.cell
            .compare_exchange(0, current, new, Ordering::AcqRel)
            .unwrap_or(Err(current))
    }

    /// Atomic load with an explicit ordering.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let v = mpshare::RawValue::new(9u32)?;
    /// assert_eq!(v.load(Ordering::Acquire), 9);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn load(&self, order: Ordering) -> T {
        self.cell
            .load_with(0, order)
            .unwrap_or_else(|_| T::zeroed())
    }

    /// Atomic store with an explicit ordering.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let v = mpshare::RawValue::new(9u32)?;
    /// v.store(10, Ordering::Release);
    /// assert_eq!(v.get(), 10);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn store(&self, v: T, order: Ordering) {
        let _ = self.cell.store_with(0, v, order);
    }
}

/// A shared cell with an interprocess lock (Python's `multiprocessing.Value`, `lock=True`):
/// a [`Synchronized`] [`RawValue`], whose lock methods ([`get_lock`](Synchronized::get_lock),
/// [`acquire`](Synchronized::acquire), [`name`](Synchronized::name), ...) it shares with
/// [`Array`](crate::Array).
///
/// [`get`](Value::get) and [`set`](Value::set) each take the lock once, exactly like Python's
/// `v.value`, so `v.set(v.get() + 1)` from several processes still loses updates. Hold the lock
/// across a read-modify-write with [`lock`](Value::lock) (a guard that derefs to a copy of
/// `T`) or [`update`](Value::update). The lock is robust: if a holder dies, the next one is
/// told.
///
/// ```
/// use mpshare::Value;
/// let v = Value::new(0i64)?;
/// {
///     let mut g = v.lock()?;
///     *g += 1;
/// } // written back and released here
/// assert_eq!(v.update(|x| x + 1)?, 2);
/// assert_eq!(v.get()?, 2);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub type Value<T> = Synchronized<RawValue<T>>;

impl<T: Element> Synchronized<RawValue<T>> {
    fn make(target: Target<'_>, value: T) -> Result<(Self, bool)> {
        let spec = Spec::of::<T>(SegKind::Value, 1, LockKind::RLock);
        let (cell, lock, created) = Shared::build(target, spec, Init::Copy(&[value]))?;
        Ok((Self::assemble(RawValue { cell }, lock)?, created))
    }

    /// A new anonymous cell holding `value`, with its own [`RLock`](crate::RLock) in the same
    /// segment (Python's default).
    ///
    /// ```
    /// let v = mpshare::Value::new(5i32)?;
    /// assert_eq!(v.get()?, 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Self> {
        Ok(Self::make(Target::Anonymous, value)?.0)
    }

    /// A new anonymous cell guarded by an existing lock (Python's `Value(t, v, lock=lock)`), so
    /// several values can share one lock.
    ///
    /// ```
    /// use mpshare::{Lock, Value};
    /// let lock = Lock::new()?;
    /// let a = Value::with_lock(1u32, &lock)?;
    /// let b = Value::with_lock(2u32, &lock)?;
    /// let _g = a.lock()?;            // holds the shared lock ...
    /// assert!(b.get_lock().try_acquire()?.is_none()); // ... so b's lock is taken too
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn with_lock(value: T, lock: impl Into<AnyLock>) -> Result<Self> {
        Ok(Synchronized {
            raw: RawValue::new(value)?,
            lock: lock.into(),
        })
    }

    /// Create the named cell `name` with an [`RLock`](crate::RLock) in its header.
    ///
    /// ```
    /// use mpshare::Value;
    /// let name = format!("mpshare-doc-v-{}", std::process::id());
    /// let a = Value::create(&name, 1.0f64)?;
    /// let b = Value::<f64>::open(&name)?;
    /// b.update(|x| x * 4.0)?;
    /// assert_eq!(a.get()?, 4.0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, value: T) -> Result<Self> {
        Self::create_with(name, value, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// use mpshare::{shm::Options, Value};
    /// let name = format!("mpshare-doc-v-mode-{}", std::process::id());
    /// let _v = Value::create_with(&name, 0u32, &Options::default().mode(0o660))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, value: T, opts: &Options) -> Result<Self> {
        Ok(Self::make(Target::Create(name, opts), value)?.0)
    }

    /// Open the named cell `name`, or create it holding `value`; `true` when this call created
    /// it. Race-free (one creator; the others wait for its header, bounded by
    /// [`OPEN_WAIT`](crate::shm::OPEN_WAIT)).
    ///
    /// ```
    /// let name = format!("mpshare-doc-v-ooc-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default();
    /// let (a, created) = mpshare::Value::open_or_create(&name, 1i32, &opts)?;
    /// assert!(created);
    /// let err = mpshare::Value::open_or_create(&name, 1u8, &opts).unwrap_err();
    /// assert!(matches!(err, mpshare::Error::LayoutMismatch { .. }));
    /// # drop(a);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, value: T, opts: &Options) -> Result<(Self, bool)> {
        Self::make(Target::OpenOrCreate(name, opts), value)
    }

    /// Open the named cell `name` made by [`Value::create`].
    ///
    /// ```
    /// let name = format!("mpshare-doc-v-open-{}", std::process::id());
    /// let _a = mpshare::Array::<f64>::create(&name, 100)?;
    /// let err = mpshare::Value::<i32>::open(&name).unwrap_err();
    /// assert!(err.to_string().contains("holds Array<'d'> of 100 elements with RLock; asked for Value<'i'>"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::LayoutMismatch`] when it holds another type, an array, or
    /// has no lock.
    pub fn open(name: &str) -> Result<Self> {
        let (cell, lock) = Shared::attach(name, SegKind::Value, Some(1), None)?;
        if lock.is_none() {
            return Err(Error::LayoutMismatch {
                name: cell.segment().name().unwrap_or(name).to_string(),
                holds: format!("Value<{}> without a lock", describe::<T>()),
                asked: format!("Value<{}> with a lock", describe::<T>()),
            });
        }
        Self::assemble(RawValue { cell }, lock)
    }

    /// Read under the lock (one acquire/release, like Python's `v.value`).
    ///
    /// ```
    /// assert_eq!(mpshare::Value::new(3u8)?.get()?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> Result<T> {
        let _g = self.lock.lock()?;
        Ok(self.raw.get())
    }

    /// Write under the lock (one acquire/release, like Python's `v.value = x`).
    ///
    /// ```
    /// let v = mpshare::Value::new(3u8)?;
    /// v.set(9)?;
    /// assert_eq!(v.get()?, 9);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, value: T) -> Result<()> {
        let _g = self.lock.lock()?;
        self.raw.set(value);
        Ok(())
    }

    /// Apply `f` to the value under one lock hold and store the result, which is returned.
    ///
    /// ```
    /// let v = mpshare::Value::new(10i32)?;
    /// assert_eq!(v.update(|x| x - 3)?, 7);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Result<T> {
        let _g = self.lock.lock()?;
        let new = f(self.raw.get());
        self.raw.set(new);
        Ok(new)
    }

    /// Lock and return a guard that derefs to a copy of the value; the copy is written back
    /// when the guard drops, then the lock is released.
    ///
    /// While the guard lives, [`Value::get`] on the same thread (re-entering the RLock) still
    /// sees the old value: the write-back happens at drop. The guard never hands out a
    /// reference into shared memory (only to its private copy), so lockless access through
    /// [`get_obj`](Value::get_obj) cannot alias it.
    ///
    /// ```
    /// let v = mpshare::Value::new(1i64)?;
    /// let mut g = v.lock()?;
    /// *g *= 10;
    /// assert!(!g.owner_died());
    /// drop(g);
    /// assert_eq!(v.get()?, 10);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline(always)]
    pub fn lock(&self) -> Result<ValueGuard<'_, T>> {
        let guard = self.lock.lock()?;
        Ok(ValueGuard {
            value: self.raw.get(),
            raw: &self.raw,
            _guard: guard,
        })
    }

    /// The unlocked cell (Python's `get_obj()`), for lockless and atomic access. Safe: every
    /// access to a cell, locked or not, is one atomic load or store (or, for a struct wider
    /// than 8 bytes, a sequence of atomic units), and no API hands out a reference into it.
    ///
    /// ```
    /// let v = mpshare::Value::new(0u32)?;
    /// v.get_obj().fetch_add(5);
    /// assert_eq!(v.get()?, 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_obj(&self) -> &RawValue<T> {
        &self.raw
    }
}

pub(crate) fn describe<T: Element>() -> String {
    crate::shm::ElemDesc::of::<T>().describe()
}

/// Guard of a [`Value`]: the lock is held and the value copied out; changes are written back
/// when the guard drops.
///
/// ```
/// let v = mpshare::Value::new(2u16)?;
/// {
///     let mut g = v.lock()?;
///     *g += 1;
/// }
/// assert_eq!(v.get()?, 3);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[must_use = "the lock is released when the guard drops"]
pub struct ValueGuard<'a, T: Element> {
    value: T,
    raw: &'a RawValue<T>,
    _guard: LockGuard<'a>,
}

impl<T: Element> ValueGuard<'_, T> {
    /// True when the previous lock holder died holding it.
    ///
    /// ```
    /// let v = mpshare::Value::new(2u16)?;
    /// assert!(!v.lock()?.owner_died());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self._guard.owner_died()
    }
}

impl<T: Element> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Element> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Element> Drop for ValueGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // Written back before `_guard` (dropped after this body) releases the lock.
        self.raw.set(self.value);
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&self.value).finish()
    }
}
