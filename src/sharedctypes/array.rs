//! [`Array`] (shared elements with a lock) and its [`ArrayGuard`]; [`RawArray`] (the elements
//! alone) lives in `raw_array.rs` and is re-exported here.

use std::fmt;
use std::ops::{Deref, DerefMut, Range};

use super::cell::{Init, Shared, Spec};
pub use super::raw_array::RawArray;
use super::synchronized::Synchronized;
use crate::shm::{LockKind, Options, SegKind, SegmentId, Target};
use crate::synchronize::{AnyLock, LockGuard};
use crate::{CChar, Element, Error, Result};

/// Shared elements with an interprocess lock (Python's `multiprocessing.Array`, `lock=True`):
/// a [`Synchronized`] [`RawArray`], whose lock methods ([`get_lock`](Synchronized::get_lock),
/// [`acquire`](Synchronized::acquire), [`name`](Synchronized::name), ...) it shares with
/// [`Value`](crate::Value).
///
/// Every method takes the lock once; [`lock`](Array::lock) gives a guard that derefs to
/// `&[T]` / `&mut [T]` over the shared memory itself (no copy), for numeric work. In this
/// process nothing else can touch the elements while a guard lives: other handles of the
/// same segment (clones, re-opens, [`DynArray`](crate::DynArray)) wait for the lock or, on
/// the guard's own thread, get [`Error::GuardAlreadyHeld`]; lockless handles need `unsafe`
/// ([`get_obj`](Array::get_obj), [`RawArray::open_ignoring_lock`]). Another process that
/// ignores the lock is not something any API can prevent (see the crate's *Soundness* notes).
///
/// ```
/// use mpshare::Array;
/// let a = Array::<f64>::new(1000)?;
/// {
///     let mut g = a.lock()?;
///     for (i, x) in g.iter_mut().enumerate() { *x = i as f64; }
/// }
/// assert_eq!(a.get(999)?, 999.0);
/// assert_eq!(a.lock()?.iter().sum::<f64>(), 499500.0);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub type Array<T> = Synchronized<RawArray<T>>;

impl<T: Element> Synchronized<RawArray<T>> {
    fn make(target: Target<'_>, len: usize, init: Init<'_, T>) -> Result<(Self, bool)> {
        let spec = Spec::of::<T>(SegKind::Array, len, LockKind::RLock);
        let (cells, lock, created) = Shared::build(target, spec, init)?;
        Ok((Self::assemble(RawArray { cells }, lock)?, created))
    }

    /// Zeroed elements with an RLock, recorded with an N-D `shape` (C order). For the
    /// process module's N-D arrays.
    #[allow(dead_code)] // the N-D constructors of `crate::process` call this
    pub(crate) fn with_shape(target: Target<'_>, shape: Vec<usize>) -> Result<(Self, bool)> {
        let mut spec = Spec::of::<T>(SegKind::Array, shape.iter().product(), LockKind::RLock);
        spec.shape = Some(shape);
        let (cells, lock, created) = Shared::build(target, spec, Init::Zeroed)?;
        Ok((Self::assemble(RawArray { cells }, lock)?, created))
    }

    /// `len` zeroed elements with their own RLock.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new(3)?.to_vec()?, vec![0, 0, 0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<Self> {
        Ok(Self::make(Target::Anonymous, len, Init::Zeroed)?.0)
    }

    /// A copy of `data` with its own RLock.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::from_slice(&[1i16, 2])?.to_vec()?, vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_slice(data: &[T]) -> Result<Self> {
        Ok(Self::make(Target::Anonymous, data.len(), Init::Copy(data))?.0)
    }

    /// `len` zeroed elements guarded by an existing lock.
    ///
    /// ```
    /// let lock = mpshare::RLock::new()?;
    /// let a = mpshare::Array::<u8>::with_lock(2, &lock)?;
    /// let v = mpshare::Value::with_lock(0u8, &lock)?;
    /// let _g = a.lock()?;
    /// v.set(1)?; // same thread re-enters the shared RLock
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn with_lock(len: usize, lock: impl Into<AnyLock>) -> Result<Self> {
        Ok(Synchronized {
            raw: RawArray::new(len)?,
            lock: lock.into(),
        })
    }

    /// Create the named array `name` of `len` zeroed elements, with an RLock in its header.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-{}", std::process::id());
    /// let a = mpshare::Array::<f64>::create(&name, 10)?;
    /// let b = mpshare::Array::<f64>::open(&name)?;
    /// b.set(3, 1.5)?;
    /// assert_eq!(a.get(3)?, 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, len: usize) -> Result<Self> {
        Self::create_with(name, len, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// use mpshare::{shm::Options, Array};
    /// let name = format!("mpshare-doc-a-mode-{}", std::process::id());
    /// let _a = Array::<f64>::create_with(&name, 4, &Options::default().mode(0o660))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, len: usize, opts: &Options) -> Result<Self> {
        Ok(Self::make(Target::Create(name, opts), len, Init::Zeroed)?.0)
    }

    /// Open the named array `name` of `len` elements, or create it zeroed; `true` when this
    /// call created it. Race-free (one creator; the others wait for its header).
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-ooc-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default();
    /// let (a, created) = mpshare::Array::<i64>::open_or_create(&name, 8, &opts)?;
    /// let (b, again) = mpshare::Array::<i64>::open_or_create(&name, 8, &opts)?;
    /// assert!(created && !again);
    /// b.set(0, 1)?;
    /// assert_eq!(a.get(0)?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, len: usize, opts: &Options) -> Result<(Self, bool)> {
        Self::make(Target::OpenOrCreate(name, opts), len, Init::Zeroed)
    }

    /// Create the named array `name` holding a copy of `data`, with an RLock.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-from-{}", std::process::id());
    /// let a = mpshare::Array::create_from(&name, &[1u32, 2, 3])?;
    /// assert_eq!(a.len(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_from(name: &str, data: &[T]) -> Result<Self> {
        let target = Target::Create(name, &Options::default());
        Ok(Self::make(target, data.len(), Init::Copy(data))?.0)
    }

    /// Open the named array `name` (any length) made by [`Array::create`].
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-open-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f64>::create(&name, 10)?;
    /// let err = mpshare::Array::<f64>::open(&name).unwrap_err(); // no lock in that segment
    /// assert!(matches!(err, mpshare::Error::LayoutMismatch { .. }));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        Self::open_len(name, None)
    }

    /// Open the named array `name`, which must have exactly `len` elements.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-openx-{}", std::process::id());
    /// let _a = mpshare::Array::<f64>::create(&name, 10)?;
    /// let err = mpshare::Array::<f64>::open_exact(&name, 11).unwrap_err();
    /// assert!(err.to_string().contains("holds Array<'d'> of 10 elements"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_exact(name: &str, len: usize) -> Result<Self> {
        Self::open_len(name, Some(len))
    }

    fn open_len(name: &str, len: Option<usize>) -> Result<Self> {
        let (c, l) = Shared::attach(name, SegKind::Array, len, None)?;
        if l.is_none() {
            let d = super::value::describe::<T>();
            return Err(Error::LayoutMismatch {
                name: c.segment().name().unwrap_or(name).to_string(),
                holds: format!("Array<{d}> of {} elements without a lock", c.len()),
                asked: format!("Array<{d}> with a lock"),
            });
        }
        Self::assemble(RawArray { cells: c }, l)
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new(2)?.len(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when there are no elements.
    ///
    /// ```
    /// assert!(!mpshare::Array::<u8>::new(2)?.is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The N-D shape recorded in the header: `[len]` for a 1-D array.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new(2)?.shape(), vec![2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.raw.shape()
    }

    /// Element `i`, under the lock.
    ///
    /// ```
    /// let a = mpshare::Array::from_slice(&[3u8])?;
    /// assert_eq!(a.get(0)?, 3);
    /// assert!(a.get(1).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<T> {
        let g = self.lock()?;
        g.get(i).copied().ok_or(Error::IndexOutOfRange {
            index: i,
            len: g.len(),
        })
    }

    /// Set element `i`, under the lock.
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// a.set(0, 4)?;
    /// assert_eq!(a.get(0)?, 4);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, i: usize, value: T) -> Result<()> {
        let mut g = self.lock()?;
        let len = g.len();
        *g.get_mut(i)
            .ok_or(Error::IndexOutOfRange { index: i, len })? = value;
        Ok(())
    }

    /// Copy of `range` under the lock (one `memcpy`).
    ///
    /// ```
    /// let a = mpshare::Array::from_slice(&[1, 2, 3])?;
    /// assert_eq!(a.read(0..2)?, vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read(&self, range: Range<usize>) -> Result<Vec<T>> {
        let g = self.lock()?;
        g.get(range.clone())
            .map(<[T]>::to_vec)
            .ok_or(Error::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len: g.len(),
            })
    }

    /// Copy `data` in from `start` under the lock (one `memcpy`: a reader that ignores the
    /// lock may see any mix of old and new bytes, even within one element).
    ///
    /// ```
    /// let a = mpshare::Array::<i32>::new(3)?;
    /// a.write(1, &[5, 6])?;
    /// assert_eq!(a.to_vec()?, vec![0, 5, 6]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn write(&self, start: usize, data: &[T]) -> Result<()> {
        let mut g = self.lock()?;
        let len = g.len();
        let end = start.saturating_add(data.len());
        g.get_mut(start..end)
            .ok_or(Error::RangeOutOfBounds { start, end, len })?
            .copy_from_slice(data);
        Ok(())
    }

    /// Copy of all elements under the lock.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::from_slice(&[1u8])?.to_vec()?, vec![1]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>> {
        Ok(self.lock()?.to_vec())
    }

    /// Lock and view the shared elements as a slice (no copy).
    ///
    /// ```
    /// let a = mpshare::Array::from_slice(&[1.0f32, 2.0])?;
    /// let mut g = a.lock()?;
    /// g[0] = 5.0;
    /// assert_eq!(&g[..], &[5.0, 2.0]);
    /// // Any other way to the same elements on this thread is refused while `g` lives:
    /// assert!(matches!(a.clone().lock(), Err(mpshare::Error::GuardAlreadyHeld)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::GuardAlreadyHeld`] if this thread already holds a guard on this array's
    /// segment, through this handle or any other (clones, re-opens by name, handles sharing
    /// its lock): the recursive lock would let it in, and two live `&mut [T]` to the same
    /// memory are not allowed.
    pub fn lock(&self) -> Result<ArrayGuard<'_, T>> {
        let guard = self.lock.lock()?;
        let key = self.raw.cells.id();
        if !guarded_insert(key) {
            return Err(Error::GuardAlreadyHeld);
        }
        crate::synchronize::lock::pin(&self.lock);
        Ok(ArrayGuard {
            cells: &self.raw.cells,
            key,
            lock: &self.lock,
            guard,
        })
    }

    /// The unlocked elements (Python's `get_obj()`).
    ///
    /// # Safety
    /// While the returned handle (or a clone of it) is used, no [`ArrayGuard`] on this
    /// segment lives in this process: the guard's `&mut [T]` would be aliased by the
    /// lockless reads and writes. (Cross-process, lockless access is a race on values, never
    /// undefined behaviour in this process.)
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// // SAFETY: no guard on `a` is alive.
    /// unsafe { a.get_obj() }.set(0, 1)?;
    /// assert_eq!(a.get(0)?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// Without `unsafe` it does not compile, since a guard may be alive:
    ///
    /// ```compile_fail,E0133
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// let g = a.lock()?;
    /// a.get_obj().set(0, 1)?; // would write under the guard's &mut [u8]
    /// # drop(g);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn get_obj(&self) -> &RawArray<T> {
        &self.raw
    }
}

impl Synchronized<RawArray<CChar>> {
    /// The bytes up to the first NUL, under the lock.
    ///
    /// ```
    /// let a = mpshare::Array::<mpshare::CChar>::new(8)?;
    /// a.set_value(b"hello")?;
    /// assert_eq!(a.value()?, b"hello");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn value(&self) -> Result<Vec<u8>> {
        let g = self.lock()?;
        let end = g.iter().position(|c| c.0 == 0).unwrap_or(g.len());
        Ok(g[..end].iter().map(|c| c.0).collect())
    }

    /// All bytes, under the lock.
    ///
    /// ```
    /// let a = mpshare::Array::<mpshare::CChar>::new(2)?;
    /// assert_eq!(a.raw()?, vec![0, 0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn raw(&self) -> Result<Vec<u8>> {
        Ok(self.lock()?.iter().map(|c| c.0).collect())
    }

    /// Store `bytes` (NUL-terminated if there is room), under the lock.
    ///
    /// ```
    /// let a = mpshare::Array::<mpshare::CChar>::new(2)?;
    /// assert!(a.set_value(b"abc").is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_value(&self, bytes: &[u8]) -> Result<()> {
        let mut g = self.lock()?;
        if bytes.len() > g.len() {
            return Err(Error::TooLong {
                capacity: g.len(),
                found: bytes.len(),
            });
        }
        for (d, s) in g.iter_mut().zip(bytes) {
            *d = CChar(*s);
        }
        if let Some(nul) = g.get_mut(bytes.len()) {
            *nul = CChar(0);
        }
        Ok(())
    }
}

/// Guard of an [`Array`]: the lock is held and the elements are visible as a slice in place.
///
/// Not `Send`: the lock is released by the thread that took it (as `std::sync::MutexGuard`).
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let a = mpshare::Array::<u8>::new(1).unwrap();
/// send(a.lock().unwrap());
/// ```
///
/// ```
/// let a = mpshare::Array::<u32>::new(4)?;
/// let mut g = a.lock()?;
/// g.copy_from_slice(&[1, 2, 3, 4]);
/// assert_eq!(g.iter().sum::<u32>(), 10);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[must_use = "the lock is released when the guard drops"]
pub struct ArrayGuard<'a, T: Element> {
    cells: &'a Shared<T>,
    key: SegmentId,
    lock: &'a AnyLock,
    guard: LockGuard<'a>,
}

impl<T: Element> ArrayGuard<'_, T> {
    /// True when the previous lock holder died holding it.
    ///
    /// ```
    /// assert!(!mpshare::Array::<u8>::new(1)?.lock()?.owner_died());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.guard.owner_died()
    }
}

thread_local! {
    /// Segments (by identity) this thread holds an [`ArrayGuard`] on.
    static GUARDED: std::cell::RefCell<Vec<SegmentId>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Record a guard on `key` for this thread; `false` if this thread already holds one.
fn guarded_insert(key: SegmentId) -> bool {
    GUARDED.with(|g| {
        let mut g = g.borrow_mut();
        if g.contains(&key) {
            false
        } else {
            g.push(key);
            true
        }
    })
}

/// True when this thread holds an [`ArrayGuard`] on the segment `key`.
pub(crate) fn guard_held(key: SegmentId) -> bool {
    GUARDED.with(|g| g.borrow().contains(&key))
}

impl<T: Element> Drop for ArrayGuard<'_, T> {
    fn drop(&mut self) {
        let key = self.key;
        GUARDED.with(|g| g.borrow_mut().retain(|k| *k != key));
        crate::synchronize::lock::unpin(self.lock);
        // `guard` drops after this body and releases the lock.
    }
}

impl<T: Element> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.cells.locked(&self.guard)
    }
}

impl<T: Element> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.cells.locked_mut(&mut self.guard)
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_d_shape_is_recorded_and_read_back() {
        let name = format!("mpshare-unit-shape-{}", std::process::id());
        let opts = Options::default();
        let (a, created) =
            Array::<f32>::with_shape(Target::Create(&name, &opts), vec![2, 3, 4]).unwrap();
        assert!(created);
        assert_eq!((a.len(), a.shape()), (24, vec![2, 3, 4]));
        assert_eq!(Array::<f32>::open(&name).unwrap().shape(), vec![2, 3, 4]);
        let bad = RawArray::<f32>::with_shape(Target::Anonymous, vec![]).unwrap_err();
        assert!(matches!(bad, Error::InvalidShape { .. }), "{bad}");
        let nine = RawArray::<u8>::with_shape(Target::Anonymous, vec![1; 9]).unwrap_err();
        assert!(matches!(nine, Error::InvalidShape { .. }), "{nine}");
        let (r, _) = RawArray::<u8>::with_shape(Target::Anonymous, vec![4, 0]).unwrap();
        assert_eq!((r.len(), r.shape()), (0, vec![4, 0]));
    }
}
