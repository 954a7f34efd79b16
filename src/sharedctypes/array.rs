//! [`Array`] (shared elements with a lock) and [`RawArray`] (the elements alone).

use std::fmt;
use std::ops::{Deref, DerefMut, Range};
use std::sync::atomic::Ordering;

use super::cell::{AtomicInt, Init, Shared};
use crate::shm::{LockKind, SegKind};
use crate::synchronize::{AnyLock, LockGuard};
use crate::{Acquired, CChar, Element, Error, Result, TypeCode};

/// Shared elements with no lock (Python's `RawArray`).
///
/// Element access is atomic (relaxed), so concurrent use is a race on values, never undefined
/// behaviour. For zero-copy numeric work on a chunk that only one process touches, use the
/// `unsafe` [`slice_mut`](RawArray::slice_mut).
///
/// ```
/// use mpshare::RawArray;
/// let a = RawArray::<f64>::from_slice(&[1.0, 2.0, 3.0])?;
/// a.set(1, 20.0)?;
/// assert_eq!(a.to_vec(), vec![1.0, 20.0, 3.0]);
/// assert!(a.get(3).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct RawArray<T: Element> {
    cells: Shared<T>,
}

impl<T: Element + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.len().min(16);
        let mut head = vec![T::zeroed(); n];
        let _ = self.cells.load_range(0, &mut head);
        f.debug_struct("RawArray")
            .field("len", &self.len())
            .field("head", &head)
            .finish()
    }
}

impl<T: Element> RawArray<T> {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.cells.segment()
    }

    /// `len` zeroed elements in a new anonymous segment, inherited by `fork` children.
    ///
    /// ```
    /// let a = mpshare::RawArray::<i32>::new(4)?;
    /// assert_eq!(a.to_vec(), vec![0; 4]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<Self> {
        let (cells, _) = Shared::build(None, SegKind::Array, len, Init::Zeroed, LockKind::None)?;
        Ok(RawArray { cells })
    }

    /// A copy of `data` in a new anonymous segment.
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[1u8, 2, 3])?;
    /// assert_eq!(a.len(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_slice(data: &[T]) -> Result<Self> {
        let (cells, _) = Shared::build(
            None,
            SegKind::Array,
            data.len(),
            Init::Copy(data),
            LockKind::None,
        )?;
        Ok(RawArray { cells })
    }

    /// Create the named array `name` of `len` zeroed elements.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-{}", std::process::id());
    /// let a = mpshare::RawArray::<u16>::create(&name, 8)?;
    /// let b = mpshare::RawArray::<u16>::open(&name)?;
    /// b.set(7, 70)?;
    /// assert_eq!(a.get(7)?, 70);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, len: usize) -> Result<Self> {
        let (cells, _) = Shared::build(
            Some(name),
            SegKind::Array,
            len,
            Init::Zeroed,
            LockKind::None,
        )?;
        Ok(RawArray { cells })
    }

    /// Create the named array `name` holding a copy of `data`.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-from-{}", std::process::id());
    /// let a = mpshare::RawArray::create_from(&name, &[1i64, 2])?;
    /// assert_eq!(a.to_vec(), vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_from(name: &str, data: &[T]) -> Result<Self> {
        let (cells, _) = Shared::build(
            Some(name),
            SegKind::Array,
            data.len(),
            Init::Copy(data),
            LockKind::None,
        )?;
        Ok(RawArray { cells })
    }

    /// Open the named array `name` (any length; its lock, if any, is ignored).
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-open-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f32>::create(&name, 3)?;
    /// assert_eq!(mpshare::RawArray::<f32>::open(&name)?.len(), 3);
    /// assert!(mpshare::RawArray::<f64>::open(&name).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        let (cells, _) = Shared::attach(name, SegKind::Array, None, None)?;
        Ok(RawArray { cells })
    }

    /// Open the named array `name`, which must have exactly `len` elements.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-openx-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f32>::create(&name, 3)?;
    /// assert!(mpshare::RawArray::<f32>::open_exact(&name, 4).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_exact(name: &str, len: usize) -> Result<Self> {
        let (cells, _) = Shared::attach(name, SegKind::Array, Some(len), None)?;
        Ok(RawArray { cells })
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(mpshare::RawArray::<u8>::new(5)?.len(), 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when the array has no elements.
    ///
    /// ```
    /// assert!(mpshare::RawArray::<u8>::new(0)?.is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` (atomic load).
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[5u8])?;
    /// assert_eq!(a.get(0)?, 5);
    /// assert!(matches!(a.get(1), Err(mpshare::Error::IndexOutOfRange { index: 1, len: 1 })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<T> {
        self.cells.load(i)
    }

    /// Set element `i` (atomic store).
    ///
    /// ```
    /// let a = mpshare::RawArray::<u8>::new(1)?;
    /// a.set(0, 9)?;
    /// assert!(a.set(1, 9).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, i: usize, value: T) -> Result<()> {
        self.cells.store(i, value)
    }

    /// Copy of `range` (Python's `a[i:j]`), element-wise atomic.
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[1, 2, 3, 4])?;
    /// assert_eq!(a.read(1..3)?, vec![2, 3]);
    /// assert!(a.read(3..9).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read(&self, range: Range<usize>) -> Result<Vec<T>> {
        self.cells.load_vec(range.start, range.end)
    }

    /// Copy `data` into the elements from `start` (Python's `a[i:j] = data`).
    ///
    /// ```
    /// let a = mpshare::RawArray::<i32>::new(4)?;
    /// a.write(2, &[7, 8])?;
    /// assert_eq!(a.to_vec(), vec![0, 0, 7, 8]);
    /// assert!(a.write(3, &[1, 2]).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn write(&self, start: usize, data: &[T]) -> Result<()> {
        self.cells.store_range(start, data)
    }

    /// Copy of all elements.
    ///
    /// ```
    /// assert_eq!(mpshare::RawArray::from_slice(&[1u8, 2])?.to_vec(), vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.read(0..self.len()).unwrap_or_default()
    }

    /// A plain shared slice of `range`, with no copy.
    ///
    /// # Safety
    /// No thread or process may write these elements while the slice lives.
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[1.0f64, 2.0, 3.0])?;
    /// // SAFETY: nobody else writes this array.
    /// let s = unsafe { a.slice(0..3)? };
    /// assert_eq!(s.iter().sum::<f64>(), 6.0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn slice(&self, range: Range<usize>) -> Result<&[T]> {
        // SAFETY: forwarded contract.
        unsafe { self.cells.slice(range.start, range.end) }
    }

    /// A plain exclusive slice of `range`, with no copy: the zero-copy path for numeric work
    /// where each worker owns a chunk.
    ///
    /// # Safety
    /// No other thread or process reads or writes these elements while the slice lives, and
    /// this thread makes no other reference to them.
    ///
    /// ```
    /// let a = mpshare::RawArray::<f64>::new(4)?;
    /// // SAFETY: this thread is the only user of elements 0..2.
    /// let chunk = unsafe { a.slice_mut(0..2)? };
    /// chunk.fill(1.5);
    /// assert_eq!(a.get(1)?, 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, range: Range<usize>) -> Result<&mut [T]> {
        // SAFETY: forwarded contract.
        unsafe { self.cells.slice_mut(range.start, range.end) }
    }

    /// Pointer to the first element, for FFI.
    ///
    /// ```
    /// assert!(!mpshare::RawArray::<u8>::new(1)?.as_ptr().is_null());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut T {
        self.cells.as_ptr()
    }

    /// The typecode, or `None` for structs.
    ///
    /// ```
    /// assert_eq!(mpshare::RawArray::<f64>::new(1)?.typecode(), Some(mpshare::TypeCode::Double));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> Option<TypeCode> {
        T::TYPECODE
    }

    /// The OS name of a named array.
    ///
    /// ```
    /// assert!(mpshare::RawArray::<f64>::new(1)?.name().is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.cells.segment().name()
    }

    /// Keep the name when the creator's handles drop.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-persist-{}", std::process::id());
    /// mpshare::RawArray::<u8>::create(&name, 1)?.persist();
    /// mpshare::shm::unlink(&name)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.cells.segment().persist();
    }

    /// Remove the name now.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-unlink-{}", std::process::id());
    /// mpshare::RawArray::<u8>::create(&name, 1)?.unlink()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        self.cells.segment().unlink()
    }
}

impl<T: AtomicInt> RawArray<T> {
    /// Atomically add `v` to element `i`, returning the previous value.
    ///
    /// ```
    /// let a = mpshare::RawArray::<u64>::new(2)?;
    /// a.fetch_add(1, 5)?;
    /// assert_eq!(a.get(1)?, 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn fetch_add(&self, i: usize, v: T) -> Result<T> {
        let p = self.cells.elem_ptr(i)?;
        // SAFETY: in bounds, aligned, mapped while self lives.
        Ok(unsafe { T::fetch_add(p, v, Ordering::AcqRel) })
    }
}

impl RawArray<CChar> {
    /// The bytes up to the first NUL (Python's `a.value` for a `'c'` array).
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&b"hi\0x".map(mpshare::CChar))?;
    /// assert_eq!(a.value(), b"hi");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn value(&self) -> Vec<u8> {
        let mut raw = self.raw();
        if let Some(n) = raw.iter().position(|b| *b == 0) {
            raw.truncate(n);
        }
        raw
    }

    /// All the bytes (Python's `a.raw`).
    ///
    /// ```
    /// let a = mpshare::RawArray::<mpshare::CChar>::new(3)?;
    /// assert_eq!(a.raw(), vec![0, 0, 0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn raw(&self) -> Vec<u8> {
        self.to_vec().into_iter().map(|c| c.0).collect()
    }

    /// Store `bytes` and a NUL after them if there is room (Python's `a.value = b"..."`).
    ///
    /// ```
    /// let a = mpshare::RawArray::<mpshare::CChar>::new(4)?;
    /// a.set_value(b"abc")?;
    /// assert_eq!(a.value(), b"abc");
    /// assert!(a.set_value(b"abcde").is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_value(&self, bytes: &[u8]) -> Result<()> {
        set_cstr(&self.cells, bytes)
    }
}

fn set_cstr(cells: &Shared<CChar>, bytes: &[u8]) -> Result<()> {
    if bytes.len() > cells.len() {
        return Err(Error::LengthMismatch {
            expected: cells.len(),
            found: bytes.len(),
        });
    }
    let mut data: Vec<CChar> = bytes.iter().copied().map(CChar).collect();
    if data.len() < cells.len() {
        data.push(CChar(0));
    }
    cells.store_range(0, &data)
}

/// Shared elements with an interprocess lock (Python's `multiprocessing.Array`, `lock=True`).
///
/// Every method takes the lock once; [`lock`](Array::lock) gives a guard that derefs to
/// `&[T]` / `&mut [T]` over the shared memory itself (no copy), for numeric work. All writers
/// must go through the lock (or own their elements exclusively) while a guard lives.
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
#[derive(Clone)]
pub struct Array<T: Element> {
    raw: RawArray<T>,
    lock: AnyLock,
}

impl<T: Element + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("raw", &self.raw)
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Element> Array<T> {
    fn assemble(cells: Shared<T>, lock: Option<crate::synchronize::raw::RawMutex>) -> Result<Self> {
        let lock = lock.ok_or_else(|| Error::BadSegment {
            name: cells.segment().name().unwrap_or("<anonymous>").to_string(),
            reason: "no lock".into(),
        })?;
        Ok(Array {
            raw: RawArray { cells },
            lock: AnyLock::from_raw(lock),
        })
    }

    /// `len` zeroed elements with their own RLock.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new(3)?.to_vec()?, vec![0, 0, 0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<Self> {
        let (c, l) = Shared::build(None, SegKind::Array, len, Init::Zeroed, LockKind::RLock)?;
        Self::assemble(c, l)
    }

    /// A copy of `data` with its own RLock.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::from_slice(&[1i16, 2])?.to_vec()?, vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_slice(data: &[T]) -> Result<Self> {
        let (c, l) = Shared::build(
            None,
            SegKind::Array,
            data.len(),
            Init::Copy(data),
            LockKind::RLock,
        )?;
        Self::assemble(c, l)
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
        let (cells, _) = Shared::build(None, SegKind::Array, len, Init::Zeroed, LockKind::None)?;
        Ok(Array {
            raw: RawArray { cells },
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
        let (c, l) = Shared::build(
            Some(name),
            SegKind::Array,
            len,
            Init::Zeroed,
            LockKind::RLock,
        )?;
        Self::assemble(c, l)
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
        let (c, l) = Shared::build(
            Some(name),
            SegKind::Array,
            data.len(),
            Init::Copy(data),
            LockKind::RLock,
        )?;
        Self::assemble(c, l)
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
        Self::assemble(c, l)
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

    /// Copy `data` in from `start` under the lock (one `memcpy`).
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
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::GuardAlreadyHeld`] if this thread already holds a guard on this array (the
    /// recursive lock would let it in, and two live `&mut [T]` to the same memory are not
    /// allowed).
    pub fn lock(&self) -> Result<ArrayGuard<'_, T>> {
        let guard = self.lock.lock()?;
        let key = self.raw.cells.as_ptr() as usize;
        let fresh = GUARDED.with(|g| {
            let mut g = g.borrow_mut();
            if g.contains(&key) {
                false
            } else {
                g.push(key);
                true
            }
        });
        if !fresh {
            return Err(Error::GuardAlreadyHeld);
        }
        Ok(ArrayGuard {
            cells: &self.raw.cells,
            guard,
        })
    }

    /// The lock (Python's `get_lock()`).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// assert!(a.get_lock().is_recursive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_lock(&self) -> &AnyLock {
        &self.lock
    }

    /// Acquire the lock; pair with [`release`](Array::release).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// let _ = a.acquire()?;
    /// a.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<Acquired> {
        self.lock.acquire()
    }

    /// Release the lock.
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// assert!(a.release().is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.lock.release()
    }

    /// The unlocked elements (Python's `get_obj()`).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// a.get_obj().set(0, 1)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_obj(&self) -> &RawArray<T> {
        &self.raw
    }

    /// The typecode, or `None` for structs.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<i8>::new(1)?.typecode(), Some(mpshare::TypeCode::SignedChar));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> Option<TypeCode> {
        T::TYPECODE
    }

    /// The OS name of a named array.
    ///
    /// ```
    /// assert!(mpshare::Array::<i8>::new(1)?.name().is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.raw.name()
    }

    /// Keep the name when the creator's handles drop.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-persist-{}", std::process::id());
    /// mpshare::Array::<u8>::create(&name, 1)?.persist();
    /// mpshare::shm::unlink(&name)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.raw.persist();
    }

    /// Remove the name now.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-unlink-{}", std::process::id());
    /// mpshare::Array::<u8>::create(&name, 1)?.unlink()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        self.raw.unlink()
    }
}

impl Array<CChar> {
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
            return Err(Error::LengthMismatch {
                expected: g.len(),
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
    /// Arrays (by data address) this thread holds an [`ArrayGuard`] on.
    static GUARDED: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<T: Element> Drop for ArrayGuard<'_, T> {
    fn drop(&mut self) {
        let key = self.cells.as_ptr() as usize;
        GUARDED.with(|g| g.borrow_mut().retain(|k| *k != key));
        // `guard` drops after this body and releases the lock.
    }
}

impl<T: Element> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the lock is held for the guard's lifetime and every writer of a locked Array
        // takes it; the range is the whole array.
        unsafe { self.cells.slice(0, self.cells.len()) }.unwrap_or(&[])
    }
}

impl<T: Element> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref; `&mut self` makes this the only slice handed out by this guard.
        unsafe { self.cells.slice_mut(0, self.cells.len()) }.unwrap_or(&mut [])
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("len", &self.len())
            .finish()
    }
}
