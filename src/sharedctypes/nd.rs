//! N-dimensional arrays: a shape (C order, row-major) recorded in the segment header, so every
//! process that opens the array by name — in any language — sees the same dimensions.
//!
//! The elements are the same flat, packed, C-ordered elements as a 1-D array's; the shape is
//! metadata: `new_nd(&[2, 3])` holds 6 elements, element `[i, j]` at flat index `i * 3 + j`.
//! Segments written before the shape existed (layout version 1) open as 1-D, `[len]`.
//! With the `ndarray` feature, [`NdGuard::view`] / [`NdGuard::view_mut`] are `ndarray` views of
//! that shape over the locked shared memory (no copy).

use std::ops::{Deref, DerefMut};

#[cfg(feature = "ndarray")]
mod ndarray_views;

use super::array::{Array, ArrayGuard, RawArray};
use crate::shm::{Options, Target};
use crate::{Element, Error, Result};

/// [`Error::LayoutMismatch`] naming both shapes unless the array `name` holds exactly `asked`.
fn require_shape<T: Element>(
    name: &str,
    holds: &[usize],
    asked: &[usize],
    what: &str,
) -> Result<()> {
    if holds == asked {
        return Ok(());
    }
    let d = super::value::describe::<T>();
    Err(Error::LayoutMismatch {
        name: name.to_string(),
        holds: format!("{what}<{d}> of shape {holds:?}"),
        asked: format!("{what}<{d}> of shape {asked:?}"),
    })
}

impl<T: Element> RawArray<T> {
    /// Zeroed elements of `shape` (C order) in a new anonymous segment.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for no dimension or more than [`MAX_NDIM`](crate::shm::MAX_NDIM).
    ///
    /// ```
    /// let a = mpshare::RawArray::<f32>::new_nd(&[2, 3])?;
    /// assert_eq!((a.len(), a.shape(), a.ndim()), (6, vec![2, 3], 2));
    /// assert!(mpshare::RawArray::<f32>::new_nd(&[]).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_nd(shape: &[usize]) -> Result<Self> {
        Ok(Self::with_shape(Target::Anonymous, shape.to_vec())?.0)
    }

    /// Create the named array `name` of `shape` (zeroed), recording the shape in its header.
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-nd-{}", std::process::id());
    /// let a = mpshare::RawArray::<u16>::create_nd(&name, &[4, 5])?;
    /// assert_eq!(mpshare::RawArray::<u16>::open(&name)?.shape(), vec![4, 5]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_nd(name: &str, shape: &[usize]) -> Result<Self> {
        let opts = Options::default();
        Ok(Self::with_shape(Target::Create(name, &opts), shape.to_vec())?.0)
    }

    /// Open the named array `name`, which must have exactly `shape`.
    ///
    /// # Errors
    /// [`Error::LayoutMismatch`] naming both shapes when the recorded shape differs (a 1-D
    /// or layout-version-1 array has the shape `[len]`); the errors of [`open`](Self::open).
    ///
    /// ```
    /// let name = format!("mpshare-doc-ra-ndo-{}", std::process::id());
    /// let _a = mpshare::RawArray::<f64>::create_nd(&name, &[4, 5])?;
    /// assert!(mpshare::RawArray::<f64>::open_nd(&name, &[4, 5]).is_ok());
    /// let err = mpshare::RawArray::<f64>::open_nd(&name, &[5, 4]).unwrap_err();
    /// assert!(err.to_string().contains("holds RawArray<'d'> of shape [4, 5]"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_nd(name: &str, shape: &[usize]) -> Result<Self> {
        let a = Self::open(name)?;
        require_shape::<T>(a.name().unwrap_or(name), &a.shape(), shape, "RawArray")?;
        Ok(a)
    }

    /// Number of dimensions (1 for an array made with [`new`](Self::new)).
    ///
    /// ```
    /// assert_eq!(mpshare::RawArray::<u8>::new(3)?.ndim(), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }
}

impl<T: Element> Array<T> {
    /// Zeroed elements of `shape` (C order) with their own RLock.
    ///
    /// ```
    /// let a = mpshare::Array::<f64>::new_nd(&[3, 4])?;
    /// assert_eq!((a.len(), a.shape()), (12, vec![3, 4]));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_nd(shape: &[usize]) -> Result<Self> {
        Ok(Self::with_shape(Target::Anonymous, shape.to_vec())?.0)
    }

    /// Create the named array `name` of `shape` (zeroed), with an RLock, recording the shape
    /// in its header.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-nd-{}", std::process::id());
    /// let a = mpshare::Array::<i32>::create_nd(&name, &[2, 2, 2])?;
    /// assert_eq!(mpshare::Array::<i32>::open(&name)?.shape(), vec![2, 2, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_nd(name: &str, shape: &[usize]) -> Result<Self> {
        let opts = Options::default();
        Ok(Self::with_shape(Target::Create(name, &opts), shape.to_vec())?.0)
    }

    /// Open the named array `name`, which must have exactly `shape`.
    ///
    /// # Errors
    /// [`Error::LayoutMismatch`] naming both shapes when the recorded shape differs; the
    /// errors of [`open`](Self::open).
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-ndo-{}", std::process::id());
    /// let _a = mpshare::Array::<f32>::create_nd(&name, &[2, 3])?;
    /// let err = mpshare::Array::<f32>::open_nd(&name, &[6]).unwrap_err();
    /// assert!(matches!(err, mpshare::Error::LayoutMismatch { .. }));
    /// assert!(err.to_string().contains("holds Array<'f'> of shape [2, 3]; asked for Array<'f'> of shape [6]"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_nd(name: &str, shape: &[usize]) -> Result<Self> {
        let a = Self::open(name)?;
        require_shape::<T>(a.name().unwrap_or(name), &a.shape(), shape, "Array")?;
        Ok(a)
    }

    /// Number of dimensions.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new_nd(&[1, 2, 3])?.ndim(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Lock and see the elements with their shape: an [`NdGuard`] (a slice in C order, rows
    /// of the first axis, and `ndarray` views with the `ndarray` feature).
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    ///
    /// ```
    /// let a = mpshare::Array::<u32>::new_nd(&[3, 4])?;
    /// let mut g = a.lock_nd()?;
    /// for (i, row) in g.rows_mut().enumerate() {
    ///     row.fill(i as u32);
    /// }
    /// assert_eq!(g.shape(), &[3, 4]);
    /// assert_eq!(g[2 * 4 + 1], 2); // element [2, 1]
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn lock_nd(&self) -> Result<NdGuard<'_, T>> {
        let shape = self.shape();
        Ok(NdGuard {
            guard: self.lock()?,
            shape,
        })
    }
}

/// An [`ArrayGuard`] that knows its array's shape ([`Array::lock_nd`]).
///
/// Derefs to the flat elements (`[T]`, C order).
#[must_use = "the lock is released when the guard drops"]
pub struct NdGuard<'a, T: Element> {
    guard: ArrayGuard<'a, T>,
    shape: Vec<usize>,
}

impl<T: Element> std::fmt::Debug for NdGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdGuard")
            .field("shape", &self.shape)
            .finish()
    }
}

impl<'a, T: Element> NdGuard<'a, T> {
    /// The shape.
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new_nd(&[2, 5])?.lock_nd()?.shape(), &[2, 5]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Elements per index of the first axis (the product of the other dimensions).
    ///
    /// ```
    /// assert_eq!(mpshare::Array::<u8>::new_nd(&[2, 3, 4])?.lock_nd()?.row_len(), 12);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn row_len(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// The sub-arrays along the first axis (rows of a matrix), each as `&mut [T]`: split them
    /// among workers with [`process::scope`](crate::process::scope), or hand the guard to
    /// [`Pool::map_chunks`](crate::process::Pool::map_chunks) with a multiple of
    /// [`row_len`](Self::row_len).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new_nd(&[2, 3])?;
    /// let mut g = a.lock_nd()?;
    /// assert_eq!(g.rows_mut().count(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn rows_mut(&mut self) -> std::slice::ChunksMut<'_, T> {
        let n = self.row_len().max(1);
        self.guard.chunks_mut(n)
    }

    /// The plain guard.
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new_nd(&[2, 3])?;
    /// let g = a.lock_nd()?.into_guard();
    /// assert_eq!(g.len(), 6);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn into_guard(self) -> ArrayGuard<'a, T> {
        self.guard
    }
}

impl<T: Element> Deref for NdGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.guard
    }
}

impl<T: Element> DerefMut for NdGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.guard
    }
}
