//! [`RawArray`]: shared elements with no lock (Python's `RawArray`).

use std::fmt;
use std::ops::Range;
use std::sync::atomic::Ordering;

use super::cell::{AtomicInt, Init, Shared, Spec};
use super::synchronized::{sealed, RawObject};
use crate::shm::{LockKind, Options, SegKind, Target};
use crate::{CChar, Element, Error, Result, TypeCode};

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
    pub(crate) cells: Shared<T>,
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

    fn make(target: Target<'_>, spec: Spec, init: Init<'_, T>) -> Result<(Self, bool)> {
        let (cells, _, created) = Shared::build(target, spec, init)?;
        Ok((RawArray { cells }, created))
    }

    fn spec(len: usize) -> Spec {
        Spec::of::<T>(SegKind::Array, len, LockKind::None)
    }

    /// `len` zeroed elements in a new anonymous segment, inherited by `fork` children.
    ///
    /// ```
    /// let a = mpshare::RawArray::<i32>::new(4)?;
    /// assert_eq!(a.to_vec(), vec![0; 4]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<Self> {
        Ok(Self::make(Target::Anonymous, Self::spec(len), Init::Zeroed)?.0)
    }

    /// A copy of `data` in a new anonymous segment.
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[1u8, 2, 3])?;
    /// assert_eq!(a.len(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_slice(data: &[T]) -> Result<Self> {
        let spec = Self::spec(data.len());
        Ok(Self::make(Target::Anonymous, spec, Init::Copy(data))?.0)
    }

    /// Zeroed elements recorded with an N-D `shape` (C order), read back by
    /// [`shape`](Self::shape) in every process. For the process module's N-D arrays.
    #[allow(dead_code)] // the N-D constructors of `crate::process` call this
    pub(crate) fn with_shape(target: Target<'_>, shape: Vec<usize>) -> Result<(Self, bool)> {
        let len = shape.iter().product();
        let mut spec = Self::spec(len);
        spec.shape = Some(shape);
        Self::make(target, spec, Init::Zeroed)
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
        Self::create_with(name, len, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// use mpshare::{shm::Options, RawArray};
    /// let name = format!("mpshare-doc-ra-mode-{}", std::process::id());
    /// let _a = RawArray::<u8>::create_with(&name, 4, &Options::default().mode(0o660))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, len: usize, opts: &Options) -> Result<Self> {
        Ok(Self::make(Target::Create(name, opts), Self::spec(len), Init::Zeroed)?.0)
    }

    /// Open the named array `name` of `len` elements, or create it zeroed; `true` when this
    /// call created it. Race-free (one creator; the others wait for its header).
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-ooc-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default();
    /// let (_a, created) = mpshare::RawArray::<u8>::open_or_create(&name, 3, &opts)?;
    /// assert!(created);
    /// assert!(mpshare::RawArray::<u8>::open_or_create(&name, 4, &opts).is_err()); // 3 != 4
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, len: usize, opts: &Options) -> Result<(Self, bool)> {
        Self::make(
            Target::OpenOrCreate(name, opts),
            Self::spec(len),
            Init::Zeroed,
        )
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
        let target = Target::Create(name, &Options::default());
        Ok(Self::make(target, Self::spec(data.len()), Init::Copy(data))?.0)
    }

    /// Open the named array `name` (any length) made by [`RawArray::create`].
    ///
    /// A segment with a lock in its header (made by [`Array::create`](crate::Array::create)) is refused with
    /// [`Error::LayoutMismatch`]: lockless writes through this handle could alias a live
    /// [`ArrayGuard`](crate::ArrayGuard) of this process. Open it as an [`Array`](crate::Array), or, promising that no guard
    /// on it lives in this process while you use the handle, with the `unsafe`
    /// [`open_ignoring_lock`](Self::open_ignoring_lock).
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-open-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f32>::create(&name, 3)?;
    /// assert_eq!(mpshare::RawArray::<f32>::open(&name)?.len(), 3);
    /// assert!(mpshare::RawArray::<f64>::open(&name).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        Self::open_raw(name, None)
    }

    /// Open the named array `name`, which must have exactly `len` elements (and no lock, as
    /// for [`open`](Self::open)).
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-openx-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f32>::create(&name, 3)?;
    /// assert!(mpshare::RawArray::<f32>::open_exact(&name, 4).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_exact(name: &str, len: usize) -> Result<Self> {
        Self::open_raw(name, Some(len))
    }

    fn open_raw(name: &str, len: Option<usize>) -> Result<Self> {
        let (cells, lock) = Shared::attach(name, SegKind::Array, len, Some(LockKind::None))
            .map_err(|e| match e {
                Error::LayoutMismatch { name, holds, asked } => Error::LayoutMismatch {
                    name,
                    holds,
                    asked: asked.replace("Array<", "RawArray<") + " without a lock",
                },
                e => e,
            })?;
        debug_assert!(lock.is_none());
        Ok(RawArray { cells })
    }

    /// Open the named array `name` whatever lock its header holds, and ignore that lock.
    ///
    /// # Safety
    /// While this handle (or a clone) is used, no [`ArrayGuard`](crate::ArrayGuard) on the same segment lives in
    /// this process: a guard hands out `&mut [T]` over the elements, which lockless writes
    /// (and reads) through this handle would alias.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-ign-{}", std::process::id());
    /// let a = mpshare::Array::<u32>::create(&name, 2)?;
    /// // SAFETY: no guard on `a` is taken while `raw` is used.
    /// let raw = unsafe { mpshare::RawArray::<u32>::open_ignoring_lock(&name)? };
    /// raw.fetch_add(1, 3)?;
    /// assert_eq!(a.get(1)?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn open_ignoring_lock(name: &str) -> Result<Self> {
        let (cells, _) = Shared::attach(name, SegKind::Array, None, None)?;
        Ok(RawArray { cells })
    }

    /// The N-D shape recorded in the header: `[len]` for a 1-D array.
    ///
    /// ```
    /// assert_eq!(mpshare::RawArray::<u8>::new(5)?.shape(), vec![5]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        match self.cells.shape() {
            Some(s) => s.to_vec(),
            None => vec![self.len()],
        }
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

impl<T: Element> sealed::Sealed for RawArray<T> {}

impl<T: Element> RawObject for RawArray<T> {
    fn name(&self) -> Option<&str> {
        RawArray::name(self)
    }
    fn persist(&self) {
        RawArray::persist(self)
    }
    fn unlink(&self) -> Result<()> {
        RawArray::unlink(self)
    }
    fn typecode(&self) -> Option<TypeCode> {
        T::TYPECODE
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
        self.cells.fetch_add(i, v, Ordering::AcqRel)
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
        return Err(Error::TooLong {
            capacity: cells.len(),
            found: bytes.len(),
        });
    }
    let mut data: Vec<CChar> = bytes.iter().copied().map(CChar).collect();
    if data.len() < cells.len() {
        data.push(CChar(0));
    }
    cells.store_range(0, &data)
}
