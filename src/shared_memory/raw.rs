//! The only module of `shared_memory` that touches raw memory.
//!
//! A [`Block`] owns one mapped [`Segment`] and offers bounds-checked access to its bytes. Other
//! processes (Python, other Rust programs) write the same bytes at any time, so safe access
//! never forms a Rust reference to plain shared bytes: copies move data in relaxed atomic units
//! (8-byte words where the shared side is aligned, single bytes at the ragged ends), and
//! atomics are handed out as `&AtomicXx`, which is what atomics are for. Plain `&[T]` /
//! `&mut [T]` views exist only as `unsafe fn`s whose callers promise exclusivity.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::shm::Segment;
use crate::{Error, Result};

/// A mapped block of shared bytes.
#[derive(Debug)]
pub(crate) struct Block {
    seg: Segment,
}

/// Atomic types that can live in a shared block (sealed: the std atomics of 1 to 8 bytes).
///
/// ```
/// use std::sync::atomic::{AtomicI32, Ordering};
/// let shm = mpshare::SharedMemory::anonymous(8)?;
/// shm.atomic::<AtomicI32>(4)?.store(-2, Ordering::Release);
/// assert_eq!(shm.read_pod::<i32>(4)?, -2);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub trait SharedAtomic: sealed::Sealed + Sync {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! shared_atomic {
    ($($t:ident),*) => {$(
        impl sealed::Sealed for std::sync::atomic::$t {}
        impl SharedAtomic for std::sync::atomic::$t {}
    )*};
}
shared_atomic!(
    AtomicU8,
    AtomicI8,
    AtomicU16,
    AtomicI16,
    AtomicU32,
    AtomicI32,
    AtomicU64,
    AtomicI64,
    AtomicUsize,
    AtomicIsize,
    AtomicBool
);

impl Block {
    pub(crate) fn new(seg: Segment) -> Block {
        Block { seg }
    }

    pub(crate) fn segment(&self) -> &Segment {
        &self.seg
    }

    pub(crate) fn len(&self) -> usize {
        self.seg.len()
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.seg.base().as_ptr()
    }

    /// Check that `offset..offset+len` lies in the block.
    pub(crate) fn check(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(Error::BlockOutOfBounds {
                offset,
                len,
                size: self.len(),
            }),
        }
    }

    /// Copy `dst.len()` bytes starting at `offset` out of the block.
    pub(crate) fn read(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        self.check(offset, dst.len())?;
        // SAFETY: the range was checked to lie in the live mapping; `dst` is a private buffer
        // that cannot overlap the mapping (it is a Rust `&mut`, and we never hand out
        // references to the mapping's plain bytes from safe code).
        unsafe { copy_out(self.as_ptr().add(offset), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Copy `src` into the block starting at `offset`.
    pub(crate) fn write(&self, offset: usize, src: &[u8]) -> Result<()> {
        self.check(offset, src.len())?;
        // SAFETY: as in `read`, with the roles swapped.
        unsafe { copy_in(src.as_ptr(), self.as_ptr().add(offset), src.len()) };
        Ok(())
    }

    /// Set `len` bytes starting at `offset` to `byte`.
    pub(crate) fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.check(offset, len)?;
        // SAFETY: the range was checked to lie in the live mapping.
        unsafe { fill_shared(self.as_ptr().add(offset), len, byte) };
        Ok(())
    }

    /// Copy `len` bytes at `offset` into a new vector (no zeroing pass first).
    pub(crate) fn read_to_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.check(offset, len)?;
        let mut v = Vec::<u8>::with_capacity(len);
        // SAFETY: the source range lies in the mapping (checked); the destination is the
        // vector's own capacity of `len` bytes, which copy_out fully initialises before
        // set_len makes it visible.
        unsafe {
            copy_out(self.as_ptr().add(offset), v.as_mut_ptr(), len);
            v.set_len(len);
        }
        Ok(v)
    }

    /// The native-endian `u64` at `offset` (one atomic load when 8-aligned).
    #[inline]
    pub(crate) fn load_u64(&self, offset: usize) -> Result<u64> {
        if offset % 8 == 0 {
            Ok(self.atomic::<AtomicU64>(offset)?.load(Ordering::Relaxed))
        } else {
            let mut b = [0u8; 8];
            self.read(offset, &mut b)?;
            Ok(u64::from_ne_bytes(b))
        }
    }

    /// Store a native-endian `u64` at `offset` (one atomic store when 8-aligned).
    #[inline]
    pub(crate) fn store_u64(&self, offset: usize, v: u64) -> Result<()> {
        if offset % 8 == 0 {
            self.atomic::<AtomicU64>(offset)?
                .store(v, Ordering::Relaxed);
            Ok(())
        } else {
            self.write(offset, &v.to_ne_bytes())
        }
    }

    /// The byte at `offset`.
    #[inline]
    pub(crate) fn load_u8(&self, offset: usize) -> Result<u8> {
        Ok(self.atomic::<AtomicU8>(offset)?.load(Ordering::Relaxed))
    }

    /// Store the byte at `offset`.
    #[inline]
    pub(crate) fn store_u8(&self, offset: usize, v: u8) -> Result<()> {
        self.atomic::<AtomicU8>(offset)?.store(v, Ordering::Relaxed);
        Ok(())
    }

    /// The atomic of type `A` at `offset` (bounds and alignment checked).
    pub(crate) fn atomic<A: SharedAtomic>(&self, offset: usize) -> Result<&A> {
        self.check(offset, std::mem::size_of::<A>())?;
        let align = std::mem::align_of::<A>();
        // The mapping is page aligned, so the offset's alignment is the address's.
        if offset % align != 0 {
            return Err(Error::Misaligned {
                offset,
                expected: align,
            });
        }
        // SAFETY: in bounds and aligned (checked above); every `SharedAtomic` is a std atomic,
        // valid for any bit pattern of its size, accessed only atomically through this
        // reference; the mapping lives as long as `&self`.
        Ok(unsafe { &*self.as_ptr().add(offset).cast::<A>() })
    }

    /// The bytes `r` (already checked to lie in the block) as a plain slice.
    ///
    /// # Safety
    /// `r` lies in the block, and for the lifetime of the slice nobody (no thread, no process)
    /// writes those bytes.
    unsafe fn bytes(&self, r: std::ops::Range<usize>) -> &[u8] {
        // SAFETY: the mapping is live and `r` lies inside it; the caller rules out writers.
        unsafe { std::slice::from_raw_parts(self.as_ptr().add(r.start), r.len()) }
    }

    /// The bytes `r` (already checked to lie in the block) as a plain mutable slice.
    ///
    /// # Safety
    /// `r` lies in the block, and for the lifetime of the slice nobody else (no thread, no
    /// process) reads or writes those bytes, and no other slice of them exists.
    #[allow(clippy::mut_from_ref)]
    unsafe fn bytes_mut(&self, r: std::ops::Range<usize>) -> &mut [u8] {
        // SAFETY: the mapping is live and `r` lies inside it; the caller guarantees exclusivity.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr().add(r.start), r.len()) }
    }
}

/// Copy `len` bytes from shared `src` to private `dst` in relaxed atomic units.
///
/// # Safety
/// `src..src+len` lies in a live shared mapping, `dst..dst+len` is private writable memory,
/// and the two do not overlap.
#[inline]
unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
    let head = src.align_offset(8).min(len);
    let words = (len - head) / 8;
    let tail_at = head + words * 8;
    // SAFETY: (whole body) every offset used is < len, so inside both ranges per the caller;
    // the word loads are 8-aligned on the shared side (src + head is 8-aligned), the private
    // side is written unaligned.
    unsafe {
        for i in 0..head {
            *dst.add(i) = AtomicU8::from_ptr(src.add(i).cast_mut()).load(Ordering::Relaxed);
        }
        let s = src.add(head).cast::<u64>().cast_mut();
        let d = dst.add(head).cast::<u64>();
        for w in 0..words {
            d.add(w)
                .write_unaligned(AtomicU64::from_ptr(s.add(w)).load(Ordering::Relaxed));
        }
        for i in tail_at..len {
            *dst.add(i) = AtomicU8::from_ptr(src.add(i).cast_mut()).load(Ordering::Relaxed);
        }
    }
}

/// Set `len` shared bytes at `dst` to `byte` in relaxed atomic units.
///
/// # Safety
/// `dst..dst+len` lies in a live shared mapping.
unsafe fn fill_shared(dst: *mut u8, len: usize, byte: u8) {
    let head = dst.align_offset(8).min(len);
    let words = (len - head) / 8;
    let word = u64::from_ne_bytes([byte; 8]);
    // SAFETY: (whole body) every offset used is < len, inside the range per the caller; the
    // word stores are 8-aligned (dst + head is).
    unsafe {
        for i in 0..head {
            AtomicU8::from_ptr(dst.add(i)).store(byte, Ordering::Relaxed);
        }
        let d = dst.add(head).cast::<u64>();
        for w in 0..words {
            AtomicU64::from_ptr(d.add(w)).store(word, Ordering::Relaxed);
        }
        for i in head + words * 8..len {
            AtomicU8::from_ptr(dst.add(i)).store(byte, Ordering::Relaxed);
        }
    }
}

/// Copy `len` bytes from private `src` to shared `dst` in relaxed atomic units.
///
/// # Safety
/// `dst..dst+len` lies in a live shared mapping, `src..src+len` is private readable memory,
/// and the two do not overlap.
#[inline]
unsafe fn copy_in(src: *const u8, dst: *mut u8, len: usize) {
    let head = dst.align_offset(8).min(len);
    let words = (len - head) / 8;
    let tail_at = head + words * 8;
    // SAFETY: (whole body) as in `copy_out`, with the shared side being `dst`.
    unsafe {
        for i in 0..head {
            AtomicU8::from_ptr(dst.add(i)).store(*src.add(i), Ordering::Relaxed);
        }
        let s = src.add(head).cast::<u64>();
        let d = dst.add(head).cast::<u64>();
        for w in 0..words {
            AtomicU64::from_ptr(d.add(w)).store(s.add(w).read_unaligned(), Ordering::Relaxed);
        }
        for i in tail_at..len {
            AtomicU8::from_ptr(dst.add(i)).store(*src.add(i), Ordering::Relaxed);
        }
    }
}

fn byte_range<T>(block: &Block, offset: usize, len: usize) -> Result<std::ops::Range<usize>> {
    let bytes = len
        .checked_mul(std::mem::size_of::<T>())
        .ok_or(Error::BlockOutOfBounds {
            offset,
            len: usize::MAX,
            size: block.len(),
        })?;
    block.check(offset, bytes)?;
    let align = std::mem::align_of::<T>();
    if offset % align != 0 {
        return Err(Error::Misaligned {
            offset,
            expected: align,
        });
    }
    Ok(offset..offset + bytes)
}

impl super::SharedMemory {
    /// `len` elements of `T` at `offset` as a plain shared slice (a `bytemuck` cast of the
    /// block's bytes; `offset` must be aligned for `T`). Python's `shm.buf[...].cast(...)`, or
    /// `numpy.ndarray(buffer=shm.buf)`.
    ///
    /// # Safety
    /// While the slice lives, nobody writes those bytes: no thread of this process (through
    /// [`write`](Self::write), an atomic, a pointer or [`as_mut_slice`](Self::as_mut_slice))
    /// and no other process. Typically the block is filled once and then only read, or a lock
    /// (an mpshare [`Lock`](crate::Lock)) guards it.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(32)?;
    /// shm.write_pod(8, &[1.0f64, 2.0, 3.0])?;
    /// // SAFETY: nothing else writes `shm` while `v` lives.
    /// let v: &[f64] = unsafe { shm.as_slice(8, 3)? };
    /// assert_eq!(v.iter().sum::<f64>(), 6.0);
    /// // SAFETY: as above; this call fails anyway (offset 4 is misaligned for f64).
    /// assert!(unsafe { shm.as_slice::<f64>(4, 1) }.is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn as_slice<T: bytemuck::Pod>(&self, offset: usize, len: usize) -> Result<&[T]> {
        let r = byte_range::<T>(&self.block, offset, len)?;
        // SAFETY: the caller promises no writer while the slice lives, so a shared reference
        // to the plain bytes is sound; `r` lies inside the block.
        let bytes = unsafe { self.block.bytes(r) };
        bytemuck::try_cast_slice(bytes).map_err(|_| Error::Misaligned {
            offset,
            expected: std::mem::align_of::<T>(),
        })
    }

    /// `len` elements of `T` at `offset` as a plain mutable slice (see
    /// [`as_slice`](Self::as_slice)).
    ///
    /// # Safety
    /// While the slice lives, nobody else reads or writes those bytes: no other slice, atomic,
    /// copy or pointer access of this process, and no other process.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(16)?;
    /// // SAFETY: this handle is the only user of `shm` while `v` lives.
    /// let v: &mut [u32] = unsafe { shm.as_mut_slice(0, 4)? };
    /// v.copy_from_slice(&[1, 2, 3, 4]);
    /// assert_eq!(shm.read_pod::<u32>(12)?, 4);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T: bytemuck::Pod>(
        &self,
        offset: usize,
        len: usize,
    ) -> Result<&mut [T]> {
        let r = byte_range::<T>(&self.block, offset, len)?;
        // SAFETY: the caller promises exclusive access to these bytes while the slice lives;
        // `r` lies inside the block.
        let bytes = unsafe { self.block.bytes_mut(r) };
        bytemuck::try_cast_slice_mut(bytes).map_err(|_| Error::Misaligned {
            offset,
            expected: std::mem::align_of::<T>(),
        })
    }
}
