//! Pickle codec: a Python value model ([`PyValue`]), a decoder that never executes anything
//! ([`loads`], [`loads_with`]), an encoder ([`dumps`], [`dumps_protocol`]) and a serde bridge
//! ([`to_value`], [`from_value`]).
//!
//! ```
//! use mpshare::managers::pickle::{dumps, loads, PyValue};
//! let v = PyValue::tuple(vec![PyValue::str("key"), PyValue::Int(42)]);
//! let bytes = dumps(&v).unwrap();
//! assert!(loads(&bytes).unwrap().identical(&v));
//! ```

mod bigint;
mod decode;
mod dict;
mod encode;
mod limits;
mod opcodes;
mod primitives;
mod repr;
mod serde_de;
mod serde_ser;

mod value;

pub use bigint::PyBigInt;
pub use decode::{is_kept, kept_parts, loads, loads_with, KeptParts};
pub(crate) use decode::{kept_bytes, kept_proxies, kept_type, loads_request};
pub use dict::{PyDict, PySet};
pub use encode::{dumps, dumps_protocol};
pub use limits::Limits;
pub use serde_de::{from_value, from_value_ref};
pub use serde_ser::{to_value, SerError};

pub use value::PyValue;
