//! The one extraction path from received [`PyValue`]s to typed wire values: every request,
//! reply, token and proxy reference is read through these helpers, and every mismatch is one
//! [`ProtocolError::Shape`] naming what was read, what was expected and what arrived.

use crate::error::ProtocolError;
use crate::managers::pickle::{PyDict, PyValue};
use crate::{Error, Result};

/// `type_name value`, cut to about 80 characters (for error messages).
pub(crate) fn describe(v: &PyValue) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} {}...", v.type_name(), &s[..cut])
    } else {
        format!("{} {}", v.type_name(), s)
    }
}

/// The error for a value of the wrong shape.
pub(crate) fn shape(
    what: impl Into<String>,
    expected: impl Into<String>,
    found: &PyValue,
) -> Error {
    Error::Protocol(ProtocolError::Shape {
        what: what.into(),
        expected: expected.into(),
        found: describe(found),
    })
}

/// Reads values of one message, naming it in every error.
#[derive(Clone, Copy)]
pub(crate) struct Reader(pub(crate) &'static str);

impl Reader {
    /// The `N` items of a tuple (a list is accepted too), or an error saying `expected`.
    pub(crate) fn items<const N: usize>(self, v: PyValue, expected: &str) -> Result<[PyValue; N]> {
        let t = match v {
            PyValue::Tuple(t) | PyValue::List(t) => t,
            other => return Err(shape(self.0, expected, &other)),
        };
        <[PyValue; N]>::try_from(t).map_err(|t| shape(self.0, expected, &PyValue::Tuple(t)))
    }

    /// A `str` field.
    pub(crate) fn string(self, v: PyValue, field: &str) -> Result<String> {
        match v {
            PyValue::Str(s) => Ok(s),
            other => Err(shape(self.0, format!("{field} to be str"), &other)),
        }
    }

    /// A tuple (or list) field.
    pub(crate) fn seq(self, v: PyValue, field: &str) -> Result<Vec<PyValue>> {
        match v {
            PyValue::Tuple(t) | PyValue::List(t) => Ok(t),
            other => Err(shape(self.0, format!("{field} to be a tuple"), &other)),
        }
    }

    /// A tuple (or list) of `str`.
    pub(crate) fn strings(self, v: PyValue, field: &str) -> Result<Vec<String>> {
        self.seq(v, field)?
            .into_iter()
            .map(|n| self.string(n, &format!("{field} items")))
            .collect()
    }

    /// A dict field.
    pub(crate) fn dict(self, v: PyValue, field: &str) -> Result<PyDict> {
        match v {
            PyValue::Dict(d) => Ok(d),
            other => Err(shape(self.0, format!("{field} to be a dict"), &other)),
        }
    }
}
