//! Splitting `len` items into `n` near-equal contiguous chunks.

use std::ops::Range;

/// The items of chunk `i` when `len` items are split into `n` contiguous chunks whose lengths
/// differ by at most one (the first `len % n` chunks get one more). Empty when `i >= n`.
///
/// ```
/// use mpshare::process::chunk_range;
/// assert_eq!(chunk_range(10, 3, 0), 0..4);
/// assert_eq!(chunk_range(10, 3, 1), 4..7);
/// assert_eq!(chunk_range(10, 3, 2), 7..10);
/// assert_eq!(chunk_range(2, 3, 2), 2..2);
/// ```
pub fn chunk_range(len: usize, n: usize, i: usize) -> Range<usize> {
    if n == 0 || i >= n {
        return len..len;
    }
    let (base, extra) = (len / n, len % n);
    let start = i * base + i.min(extra);
    start..start + base + usize::from(i < extra)
}

/// All `n` chunks of [`chunk_range`], in order; they cover `0..len` without overlap.
///
/// ```
/// let r = mpshare::process::chunk_ranges(7, 2);
/// assert_eq!(r, vec![0..4, 4..7]);
/// ```
pub fn chunk_ranges(len: usize, n: usize) -> Vec<Range<usize>> {
    (0..n).map(|i| chunk_range(len, n, i)).collect()
}
