//! `ndarray` views of shared arrays (feature `ndarray`): no copies, the views borrow the
//! shared memory itself.
//!
//! * [`ArrayGuard::view`] / [`ArrayGuard::view_mut`]: safe, the lock is held by the guard;
//! * [`RawArray::view`] / [`RawArray::view_mut`]: `unsafe`, with the contracts of
//!   [`RawArray::slice`] / [`RawArray::slice_mut`].

use std::ops::Range;

use ndarray::{ArrayView1, ArrayViewMut1};

use crate::{ArrayGuard, Element, RawArray, Result};

impl<T: Element> ArrayGuard<'_, T> {
    /// The locked elements as a one-dimensional `ndarray` view (no copy).
    ///
    /// ```
    /// let a = mpshare::Array::from_slice(&[1.0f64, 2.0, 3.0])?;
    /// let g = a.lock()?;
    /// assert_eq!(g.view().sum(), 6.0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn view(&self) -> ArrayView1<'_, T> {
        ArrayView1::from(&**self)
    }

    /// The locked elements as a mutable one-dimensional `ndarray` view (no copy); reshape it
    /// with `into_shape_with_order` for more dimensions.
    ///
    /// ```
    /// let a = mpshare::Array::<f64>::new(6)?;
    /// {
    ///     let mut g = a.lock()?;
    ///     let mut v = g.view_mut();
    ///     v.fill(2.0);
    ///     v *= 1.5;
    /// }
    /// assert_eq!(a.to_vec()?, vec![3.0; 6]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn view_mut(&mut self) -> ArrayViewMut1<'_, T> {
        ArrayViewMut1::from(&mut **self)
    }
}

impl<T: Element> RawArray<T> {
    /// `range` as a one-dimensional `ndarray` view (no copy).
    ///
    /// # Safety
    /// As for [`RawArray::slice`]: no thread or process writes these elements while the view
    /// lives.
    ///
    /// ```
    /// let a = mpshare::RawArray::from_slice(&[1.0f64, 2.0, 3.0, 4.0])?;
    /// // SAFETY: nobody writes `a` meanwhile.
    /// let v = unsafe { a.view(1..3)? };
    /// assert_eq!(v.sum(), 5.0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::RangeOutOfBounds`](crate::Error::RangeOutOfBounds).
    pub unsafe fn view(&self, range: Range<usize>) -> Result<ArrayView1<'_, T>> {
        // SAFETY: forwarded contract.
        unsafe { self.slice(range) }.map(ArrayView1::from)
    }

    /// `range` as a mutable one-dimensional `ndarray` view (no copy): a worker's own chunk.
    ///
    /// # Safety
    /// As for [`RawArray::slice_mut`]: no other thread or process reads or writes these
    /// elements while the view lives, and this thread makes no other reference to them.
    ///
    /// ```
    /// let a = mpshare::RawArray::<f64>::new(4)?;
    /// // SAFETY: this thread is the only user of `a`.
    /// let mut v = unsafe { a.view_mut(0..2)? };
    /// v.fill(7.0);
    /// assert_eq!(a.to_vec(), vec![7.0, 7.0, 0.0, 0.0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::RangeOutOfBounds`](crate::Error::RangeOutOfBounds).
    pub unsafe fn view_mut(&self, range: Range<usize>) -> Result<ArrayViewMut1<'_, T>> {
        // SAFETY: forwarded contract.
        unsafe { self.slice_mut(range) }.map(ArrayViewMut1::from)
    }
}
