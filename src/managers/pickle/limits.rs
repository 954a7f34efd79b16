//! [`Limits`]: the resource budget of one decode, shared by both decoders.

/// Resource limits for [`loads_with`](super::loads_with). Going over one is
/// [`Error::Pickle`](crate::Error::Pickle) with
/// [`PickleError::LimitExceeded`](crate::error::PickleError::LimitExceeded).
///
/// ```
/// use mpshare::{error::PickleError, Error};
/// use mpshare::managers::pickle::{loads_with, Limits};
/// let limits = Limits { max_depth: 2, ..Limits::default() };
/// // [[[]]] is three levels deep
/// let err = loads_with(b"\x80\x04]]]aa.", &limits).unwrap_err();
/// assert!(matches!(err, Error::Pickle(PickleError::LimitExceeded { limit: 2, .. })));
/// assert_eq!(err.to_string(), "pickle error: nesting depth exceeds the limit of 2");
/// ```
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum nesting depth of containers/objects (and of open `MARK`s). Default 200 (fits the 2 MiB
    /// default thread stack in debug builds).
    pub max_depth: usize,
    /// Maximum number of values in the result, counting every copy of a shared (memoised) value.
    /// Default 4 000 000.
    pub max_elements: usize,
    /// Maximum size of one `str`/`bytes`/`bytearray` payload. Default 512 MiB.
    pub max_bytes: usize,
    /// Maximum total size of all `str`/`bytes` payloads in the result, counting copies. Default 1 GiB.
    pub max_total_bytes: usize,
    /// Maximum number of memo entries. Default 1 000 000.
    pub max_memo: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200,
            max_elements: 4_000_000,
            max_bytes: 512 << 20,
            max_total_bytes: 1 << 30,
            max_memo: 1_000_000,
        }
    }
}
