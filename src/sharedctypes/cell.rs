//! Reading and writing elements in memory that other processes write at the same time.
//!
//! Lockless access never forms a Rust reference to shared data: elements of 1, 2, 4 or 8 bytes
//! are moved with one relaxed atomic load or store of that width (so a racy benchmark is a
//! measurable race, not undefined behaviour); other sizes are moved in the widest atomic units
//! their size and alignment allow (such a struct may be torn by a concurrent writer, but each
//! unit is read whole). Integer cells also get real read-modify-write atomics ([`AtomicInt`]).

use std::mem::{align_of, size_of};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::typecode::Element;

/// Load one element with relaxed atomics.
///
/// # Safety
/// `p` is aligned for `T`, points into a live shared mapping, and all concurrent writers use
/// atomic (or lock-protected) access.
pub(crate) unsafe fn load<T: Element>(p: *const T) -> T {
    // SAFETY: (all arms) the caller guarantees `p` is valid and aligned for T; an atomic of the
    // same size has the same (or smaller) alignment on every supported target, and
    // AtomicUN::from_ptr only requires that.
    unsafe {
        match size_of::<T>() {
            1 => bytemuck::cast(AtomicU8::from_ptr(p as *mut u8).load(Ordering::Relaxed)),
            2 if align_of::<T>() >= 2 => {
                bytemuck::cast(AtomicU16::from_ptr(p as *mut u16).load(Ordering::Relaxed))
            }
            4 if align_of::<T>() >= 4 => {
                bytemuck::cast(AtomicU32::from_ptr(p as *mut u32).load(Ordering::Relaxed))
            }
            8 if align_of::<T>() >= 8 => {
                bytemuck::cast(AtomicU64::from_ptr(p as *mut u64).load(Ordering::Relaxed))
            }
            _ => {
                let mut out = T::zeroed();
                copy_units(
                    p.cast(),
                    (&mut out as *mut T).cast(),
                    size_of::<T>(),
                    align_of::<T>(),
                    true,
                );
                out
            }
        }
    }
}

/// Store one element with relaxed atomics.
///
/// # Safety
/// As for [`load`].
pub(crate) unsafe fn store<T: Element>(p: *mut T, v: T) {
    // SAFETY: as in `load`.
    unsafe {
        match size_of::<T>() {
            1 => AtomicU8::from_ptr(p as *mut u8).store(bytemuck::cast(v), Ordering::Relaxed),
            2 if align_of::<T>() >= 2 => {
                AtomicU16::from_ptr(p as *mut u16).store(bytemuck::cast(v), Ordering::Relaxed)
            }
            4 if align_of::<T>() >= 4 => {
                AtomicU32::from_ptr(p as *mut u32).store(bytemuck::cast(v), Ordering::Relaxed)
            }
            8 if align_of::<T>() >= 8 => {
                AtomicU64::from_ptr(p as *mut u64).store(bytemuck::cast(v), Ordering::Relaxed)
            }
            _ => copy_units(
                (&v as *const T).cast(),
                p.cast(),
                size_of::<T>(),
                align_of::<T>(),
                false,
            ),
        }
    }
}

/// Copy `len` bytes between shared memory and a private buffer in atomic units.
///
/// # Safety
/// Both ranges are valid for `len` bytes and aligned to `align`; `shared_is_src` says which
/// side is the shared one (the other side is private and accessed plainly).
unsafe fn copy_units(src: *const u8, dst: *mut u8, len: usize, align: usize, shared_is_src: bool) {
    macro_rules! by {
        ($at:ty, $int:ty) => {{
            let n = len / size_of::<$int>();
            for i in 0..n {
                // SAFETY: i < n keeps both pointers in range; alignment was checked by the caller's arm.
                unsafe {
                    let s = src.cast::<$int>().add(i);
                    let d = dst.cast::<$int>().add(i);
                    if shared_is_src {
                        d.write(<$at>::from_ptr(s.cast_mut()).load(Ordering::Relaxed));
                    } else {
                        <$at>::from_ptr(d).store(s.read(), Ordering::Relaxed);
                    }
                }
            }
        }};
    }
    if align >= 8 && len % 8 == 0 {
        by!(AtomicU64, u64)
    } else if align >= 4 && len % 4 == 0 {
        by!(AtomicU32, u32)
    } else if align >= 2 && len % 2 == 0 {
        by!(AtomicU16, u16)
    } else {
        by!(AtomicU8, u8)
    }
}

/// Copy `dst.len()` elements out of shared memory element by element with relaxed atomics.
///
/// # Safety
/// `src` is valid and aligned for `dst.len()` elements of a live shared mapping.
pub(crate) unsafe fn load_slice<T: Element>(src: *const T, dst: &mut [T]) {
    for (i, d) in dst.iter_mut().enumerate() {
        // SAFETY: i < dst.len(), which the caller guarantees is in range.
        *d = unsafe { load(src.add(i)) };
    }
}

/// Copy `src` into shared memory element by element with relaxed atomics.
///
/// # Safety
/// `dst` is valid and aligned for `src.len()` elements of a live shared mapping.
pub(crate) unsafe fn store_slice<T: Element>(dst: *mut T, src: &[T]) {
    for (i, s) in src.iter().enumerate() {
        // SAFETY: i < src.len(), in range per the caller.
        unsafe { store(dst.add(i), *s) };
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Integer elements with hardware read-modify-write atomics.
///
/// ```
/// let v = mpshare::RawValue::new(5u16)?;
/// assert_eq!(v.fetch_add(2), 5);
/// assert_eq!(v.get(), 7);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub trait AtomicInt: Element + sealed::Sealed {
    #[doc(hidden)]
    /// # Safety
    /// `p` valid, aligned, in a live mapping.
    unsafe fn fetch_add(p: *mut Self, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    /// # Safety
    /// As for `fetch_add`.
    unsafe fn fetch_sub(p: *mut Self, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    /// # Safety
    /// As for `fetch_add`.
    unsafe fn swap(p: *mut Self, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    /// # Safety
    /// As for `fetch_add`.
    unsafe fn compare_exchange(
        p: *mut Self,
        current: Self,
        new: Self,
        o: Ordering,
    ) -> Result<Self, Self>;
    #[doc(hidden)]
    /// # Safety
    /// As for `fetch_add`.
    unsafe fn load_with(p: *mut Self, o: Ordering) -> Self;
    #[doc(hidden)]
    /// # Safety
    /// As for `fetch_add`.
    unsafe fn store_with(p: *mut Self, v: Self, o: Ordering);
}

fn failure_ordering(o: Ordering) -> Ordering {
    match o {
        Ordering::Release | Ordering::Relaxed => Ordering::Relaxed,
        Ordering::AcqRel | Ordering::Acquire => Ordering::Acquire,
        _ => Ordering::SeqCst,
    }
}

macro_rules! atomic_int {
    ($($t:ty => $at:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl AtomicInt for $t {
            unsafe fn fetch_add(p: *mut Self, v: Self, o: Ordering) -> Self {
                // SAFETY: caller contract; the atomic type has the size and alignment of $t.
                unsafe { <$at>::from_ptr(p) }.fetch_add(v, o)
            }
            unsafe fn fetch_sub(p: *mut Self, v: Self, o: Ordering) -> Self {
                // SAFETY: as in fetch_add.
                unsafe { <$at>::from_ptr(p) }.fetch_sub(v, o)
            }
            unsafe fn swap(p: *mut Self, v: Self, o: Ordering) -> Self {
                // SAFETY: as in fetch_add.
                unsafe { <$at>::from_ptr(p) }.swap(v, o)
            }
            unsafe fn compare_exchange(p: *mut Self, c: Self, n: Self, o: Ordering) -> Result<Self, Self> {
                // SAFETY: as in fetch_add.
                unsafe { <$at>::from_ptr(p) }.compare_exchange(c, n, o, failure_ordering(o))
            }
            unsafe fn load_with(p: *mut Self, o: Ordering) -> Self {
                // SAFETY: as in fetch_add.
                unsafe { <$at>::from_ptr(p) }.load(o)
            }
            unsafe fn store_with(p: *mut Self, v: Self, o: Ordering) {
                // SAFETY: as in fetch_add.
                unsafe { <$at>::from_ptr(p) }.store(v, o)
            }
        }
    )*};
}

atomic_int! {
    i8 => std::sync::atomic::AtomicI8,
    u8 => std::sync::atomic::AtomicU8,
    i16 => std::sync::atomic::AtomicI16,
    u16 => std::sync::atomic::AtomicU16,
    i32 => std::sync::atomic::AtomicI32,
    u32 => std::sync::atomic::AtomicU32,
    i64 => std::sync::atomic::AtomicI64,
    u64 => std::sync::atomic::AtomicU64,
}

/// Typed view of the data area of a segment: `len` elements of `T` at `ptr`.
///
/// Keeps the mapping alive. Methods check bounds and use the atomic helpers above; the only
/// plain (non-atomic) access is through [`Shared::slice`] / [`Shared::slice_mut`], which the
/// callers use only while holding the segment's lock, or under the caller-promised exclusive
/// access of the `unsafe` slice APIs.
pub(crate) struct Shared<T: Element> {
    seg: std::sync::Arc<crate::shm::Segment>,
    ptr: *mut T,
    len: usize,
    /// N-D shape recorded in the header (more than one dimension); `None` for 1-D and values.
    shape: Option<std::sync::Arc<[usize]>>,
}

impl<T: Element> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            seg: self.seg.clone(),
            ptr: self.ptr,
            len: self.len,
            shape: self.shape.clone(),
        }
    }
}

// SAFETY: all access to the pointed-to memory is atomic or under the interprocess lock; the
// mapping is kept alive by `seg`.
unsafe impl<T: Element> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Element> Sync for Shared<T> {}

/// How to fill a new segment.
pub(crate) enum Init<'a, T> {
    Zeroed,
    Copy(&'a [T]),
}

use crate::shm::{self, ElemDesc, Expect, Layout, LockKind, SegKind, Target};
use crate::synchronize::raw::RawMutex;
use crate::{Error, Result};

/// What to build: kind, element, length, optional N-D shape, lock.
pub(crate) struct Spec {
    pub kind: SegKind,
    pub len: usize,
    pub shape: Option<Vec<usize>>,
    pub lock: LockKind,
    pub desc: ElemDesc,
}

impl Spec {
    /// A spec for elements of `T` (1-D, or a single value).
    pub(crate) fn of<T: Element>(kind: SegKind, len: usize, lock: LockKind) -> Spec {
        Spec {
            kind,
            len,
            shape: None,
            lock,
            desc: ElemDesc::of::<T>(),
        }
    }
}

/// A built or attached typed segment: the cells, the header lock, and whether this call
/// created the segment.
pub(crate) type Made<T> = (Shared<T>, Option<RawMutex>, bool);

impl<T: Element> Shared<T> {
    fn from_built(built: shm::Built<RawMutex>) -> (Shared<T>, Option<RawMutex>) {
        let shape = built
            .layout
            .shape
            .as_ref()
            .filter(|s| s.len() > 1)
            .map(|s| std::sync::Arc::from(s.as_slice()));
        (
            Shared {
                seg: built.seg,
                ptr: built.data.cast(),
                len: built.layout.len,
                shape,
            },
            built.lock,
        )
    }

    /// Build a new segment (anonymous, created, or opened-or-created) for `spec`.
    pub(crate) fn build(target: Target<'_>, spec: Spec, init: Init<'_, T>) -> Result<Made<T>> {
        if let Some(code) = T::TYPECODE {
            // A user type claiming a typecode must have its layout.
            if code.size() != size_of::<T>() {
                return Err(Error::ElementLayout {
                    type_name: std::any::type_name::<T>(),
                    typecode: code.as_char(),
                    expected: code.size(),
                    found: size_of::<T>(),
                });
            }
        }
        debug_assert_eq!(
            (spec.desc.size, spec.desc.align),
            (size_of::<T>(), align_of::<T>())
        );
        let len = spec.len;
        let expect = Expect {
            kind: spec.kind,
            elem: Some(spec.desc),
            len: Some(len),
            lock: Some(spec.lock),
        };
        let mut layout = Layout::new(spec.kind, Some(spec.desc), len, spec.lock);
        layout.shape = spec.shape;
        let (built, created) = shm::build_or_attach(target, layout, &expect, |data, bytes| {
            if let Init::Copy(src) = init {
                debug_assert_eq!(std::mem::size_of_val(src), bytes);
                // SAFETY: `data` has room for `len` elements (= src.len()), is aligned for T
                // (data offset is a multiple of T's alignment), and is not yet visible to others.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), data.cast::<T>(), src.len()) };
            }
        })?;
        let (s, l) = Self::from_built(built);
        Ok((s, l, created))
    }

    /// Open a named segment holding elements of `T`.
    pub(crate) fn attach(
        name: &str,
        kind: SegKind,
        len: Option<usize>,
        lock: Option<LockKind>,
    ) -> Result<(Shared<T>, Option<RawMutex>)> {
        Self::attach_as(name, kind, len, lock, ElemDesc::of::<T>()).map(|(s, l, _)| (s, l))
    }

    /// [`Shared::attach`] expecting `desc`; also returns the typecode the segment records.
    pub(crate) fn attach_as(
        name: &str,
        kind: SegKind,
        len: Option<usize>,
        lock: Option<LockKind>,
        desc: ElemDesc,
    ) -> Result<(Shared<T>, Option<RawMutex>, Option<crate::TypeCode>)> {
        let built = shm::attach(
            name,
            &Expect {
                kind,
                elem: Some(desc),
                len,
                lock,
            },
        )?;
        let recorded = built.layout.elem.and_then(|e| e.typecode);
        let (s, l) = Self::from_built(built);
        Ok((s, l, recorded))
    }

    /// The N-D shape recorded in the header, `None` for a 1-D array or a value.
    pub(crate) fn shape(&self) -> Option<&[usize]> {
        self.shape.as_deref()
    }

    /// The identity of the segment (the same for every handle and mapping of it).
    pub(crate) fn id(&self) -> crate::shm::SegmentId {
        self.seg.id()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        &self.seg
    }

    pub(crate) fn as_ptr(&self) -> *mut T {
        self.ptr
    }

    fn check(&self, i: usize) -> Result<*mut T> {
        if i < self.len {
            // SAFETY: i < len keeps the pointer inside the data area.
            Ok(unsafe { self.ptr.add(i) })
        } else {
            Err(Error::IndexOutOfRange {
                index: i,
                len: self.len,
            })
        }
    }

    pub(crate) fn check_range(&self, start: usize, end: usize) -> Result<()> {
        if start <= end && end <= self.len {
            Ok(())
        } else {
            Err(Error::RangeOutOfBounds {
                start,
                end,
                len: self.len,
            })
        }
    }

    /// Atomic (relaxed) load of element `i`.
    pub(crate) fn load(&self, i: usize) -> Result<T> {
        let p = self.check(i)?;
        // SAFETY: in bounds, aligned, mapping alive.
        Ok(unsafe { load(p) })
    }

    /// Atomic (relaxed) store of element `i`.
    pub(crate) fn store(&self, i: usize, v: T) -> Result<()> {
        let p = self.check(i)?;
        // SAFETY: in bounds, aligned, mapping alive.
        unsafe { store(p, v) };
        Ok(())
    }

    /// Pointer to element `i` (checked).
    pub(crate) fn elem_ptr(&self, i: usize) -> Result<*mut T> {
        self.check(i)
    }

    /// Element-wise atomic copy out of `start..start+dst.len()`.
    pub(crate) fn load_range(&self, start: usize, dst: &mut [T]) -> Result<()> {
        let end = start.saturating_add(dst.len());
        self.check_range(start, end)?;
        // SAFETY: range checked; mapping alive.
        unsafe { load_slice(self.ptr.add(start), dst) };
        Ok(())
    }

    /// Element-wise atomic copy of `start..end` into a new `Vec`, written once (no zero-fill
    /// pass first: `vec![zeroed; n]` would `calloc` and then touch every page a second time).
    pub(crate) fn load_vec(&self, start: usize, end: usize) -> Result<Vec<T>> {
        self.check_range(start, end)?;
        Ok((start..end)
            // SAFETY: start..end was checked against len; mapping alive for &self.
            .map(|i| unsafe { load(self.ptr.add(i)) })
            .collect())
    }

    /// Element-wise atomic copy of `src` into `start..`.
    pub(crate) fn store_range(&self, start: usize, src: &[T]) -> Result<()> {
        let end = start.saturating_add(src.len());
        self.check_range(start, end)?;
        // SAFETY: range checked; mapping alive.
        unsafe { store_slice(self.ptr.add(start), src) };
        Ok(())
    }

    /// Plain shared view of `start..end`.
    ///
    /// # Safety
    /// No process writes these elements while the returned slice lives (the caller holds the
    /// lock that all writers take, or has been promised exclusive access).
    pub(crate) unsafe fn slice(&self, start: usize, end: usize) -> Result<&[T]> {
        self.check_range(start, end)?;
        // SAFETY: range checked, aligned, mapping alive for &self; no writers per the contract.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.add(start), end - start) })
    }

    /// Plain exclusive view of `start..end`.
    ///
    /// # Safety
    /// No other thread or process reads or writes these elements while the returned slice
    /// lives, and the caller creates no other reference to them.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self, start: usize, end: usize) -> Result<&mut [T]> {
        self.check_range(start, end)?;
        // SAFETY: range checked, aligned, mapping alive; exclusivity per the contract.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) })
    }
}

/// Read-modify-write atomics on element `i` of integer cells (the only way lockless writers
/// change integers in place).
impl<T: AtomicInt> Shared<T> {
    /// Apply `op` to the checked, aligned pointer of element `i`.
    fn rmw<R>(&self, i: usize, op: impl FnOnce(*mut T) -> R) -> Result<R> {
        Ok(op(self.check(i)?))
    }

    pub(crate) fn fetch_add(&self, i: usize, v: T, o: Ordering) -> Result<T> {
        // SAFETY: `rmw` passes a pointer to element i, in bounds and aligned, in the mapping
        // that `self` keeps alive; every access to shared cells is atomic.
        self.rmw(i, |p| unsafe { T::fetch_add(p, v, o) })
    }

    pub(crate) fn fetch_sub(&self, i: usize, v: T, o: Ordering) -> Result<T> {
        // SAFETY: as in fetch_add.
        self.rmw(i, |p| unsafe { T::fetch_sub(p, v, o) })
    }

    pub(crate) fn swap(&self, i: usize, v: T, o: Ordering) -> Result<T> {
        // SAFETY: as in fetch_add.
        self.rmw(i, |p| unsafe { T::swap(p, v, o) })
    }

    pub(crate) fn compare_exchange(
        &self,
        i: usize,
        current: T,
        new: T,
        o: Ordering,
    ) -> Result<Result<T, T>> {
        // SAFETY: as in fetch_add.
        self.rmw(i, |p| unsafe { T::compare_exchange(p, current, new, o) })
    }

    pub(crate) fn load_with(&self, i: usize, o: Ordering) -> Result<T> {
        // SAFETY: as in fetch_add.
        self.rmw(i, |p| unsafe { T::load_with(p, o) })
    }

    pub(crate) fn store_with(&self, i: usize, v: T, o: Ordering) -> Result<()> {
        // SAFETY: as in fetch_add.
        self.rmw(i, |p| unsafe { T::store_with(p, v, o) })
    }
}

impl<T: Element> Shared<T> {
    /// All elements as a plain slice, for the holder of the array's lock.
    ///
    /// Sound because the only caller is `ArrayGuard`, which holds the lock, is the one guard
    /// of this segment on its thread (`GuardAlreadyHeld` otherwise), and every safe access
    /// path to a locked array's elements takes the lock (lockless ones need `unsafe`).
    pub(crate) fn locked(&self, _held: &crate::LockGuard<'_>) -> &[T] {
        // SAFETY: see above: no writer in this process while the guard lives; the range is
        // the whole data area, aligned, in the mapping `self` keeps alive.
        unsafe { self.slice(0, self.len) }.unwrap_or(&[])
    }

    /// [`Shared::locked`], exclusive: `&mut` on the guard makes this the only slice it hands
    /// out.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn locked_mut(&self, _held: &mut crate::LockGuard<'_>) -> &mut [T] {
        // SAFETY: as in `locked`; the caller's `&mut` borrow of the guard keeps any other
        // slice from it dead while this one lives.
        unsafe { self.slice_mut(0, self.len) }.unwrap_or(&mut [])
    }
}
