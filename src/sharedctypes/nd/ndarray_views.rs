//! `ndarray` views of an [`NdGuard`] with the array's shape (feature `ndarray`).

use super::NdGuard;
use crate::Element;

impl<T: Element> NdGuard<'_, T> {
    /// The locked elements as an `ndarray` view of the array's shape (no copy).
    ///
    /// ```
    /// let a = mpshare::Array::<f64>::new_nd(&[2, 3])?;
    /// a.write(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// let g = a.lock_nd()?;
    /// let v = g.view();
    /// assert_eq!(v.shape(), &[2, 3]);
    /// assert_eq!(v[[1, 0]], 4.0);
    /// let cols = v.sum_axis(ndarray::Axis(0));
    /// assert_eq!(cols.iter().copied().collect::<Vec<_>>(), vec![5.0, 7.0, 9.0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn view(&self) -> ndarray::ArrayViewD<'_, T> {
        ndarray::ArrayViewD::from_shape(self.shape.as_slice(), &self.guard)
            .expect("the header's shape matches the length")
    }

    /// The locked elements as a mutable `ndarray` view of the array's shape (no copy).
    ///
    /// ```
    /// let a = mpshare::Array::<f64>::new_nd(&[2, 2])?;
    /// {
    ///     let mut g = a.lock_nd()?;
    ///     let mut v = g.view_mut();
    ///     v[[0, 1]] = 7.0;
    ///     v.index_axis_mut(ndarray::Axis(1), 0).fill(1.0); // column 0
    /// }
    /// assert_eq!(a.to_vec()?, vec![1.0, 7.0, 1.0, 0.0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn view_mut(&mut self) -> ndarray::ArrayViewMutD<'_, T> {
        let shape = self.shape.clone();
        ndarray::ArrayViewMutD::from_shape(shape, &mut self.guard)
            .expect("the header's shape matches the length")
    }
}
