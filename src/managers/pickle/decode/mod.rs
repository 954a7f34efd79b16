//! The decoder: pickle bytes → [`PyValue`], never executing anything.
//!
//! [`loads_with`] first tries the one-pass fast path ([`fast`]), which covers what requests and
//! replies use; anything else goes to the full decoder, which runs in two phases. The opcode
//! interpreter ([`machine`]) builds an arena ([`arena`]) in which the stack and the memo hold
//! *references* (like CPython's object references), so a list memoised before its `APPENDS` is
//! seen complete through a later `BINGET`, and a `BUILD` is seen through the memo. The arena is
//! then materialised ([`materialise`]) into a [`PyValue`] tree under the [`Limits`] budget.

mod arena;
mod fast;
mod keep;
mod machine;
mod materialise;

pub use keep::{is_kept, kept_parts, KeptParts};
pub(crate) use keep::{kept_bytes, kept_proxies, kept_type, loads_request};

use super::limits::Limits;
use super::PyValue;
use crate::Result;

/// Decodes one pickle (protocols 0–5) with the default [`Limits`].
///
/// ```
/// use mpshare::managers::pickle::{loads, PyValue};
/// let v = loads(b"\x80\x04\x8c\x07#RETURN\x4b\x01\x86.").unwrap();
/// assert_eq!(v, PyValue::tuple(vec![PyValue::str("#RETURN"), PyValue::Int(1)]));
/// ```
pub fn loads(data: &[u8]) -> Result<PyValue> {
    loads_with(data, &Limits::default())
}

/// Decodes one pickle with explicit limits. Trailing bytes after `STOP` are ignored (like
/// `pickle.loads`).
///
/// ```
/// use mpshare::managers::pickle::{loads_with, Limits};
/// let err = loads_with(b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x10", &Limits::default());
/// assert!(err.unwrap_err().to_string().contains("BINBYTES8"));
/// ```
pub fn loads_with(data: &[u8], limits: &Limits) -> Result<PyValue> {
    if let Some(v) = fast::try_loads(data, limits) {
        return Ok(v);
    }
    loads_full(data, limits)
}

/// The full two-phase decoder (the fast path defers to it).
pub(crate) fn loads_full(data: &[u8], limits: &Limits) -> Result<PyValue> {
    let (root, nodes) = machine::interpret(data, limits)?;
    materialise::materialise(&nodes, root, limits)
}
