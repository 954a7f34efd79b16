//! The manager's messages, typed: requests `(ident, methodname, args, kwds)` with their
//! keyword arguments as a dict ([`Kwargs`]), replies `(kind, result)`, [`Token`]s whose address
//! is an [`Address`](crate::managers::connection::Address), proxies travelling as values
//! ([`ProxyRef`], `RebuildProxy(...)`) and exception values. Every received value is read
//! through one extraction path, and a value of the wrong shape is one
//! [`ProtocolError::Shape`](crate::error::ProtocolError::Shape) naming what was read, what was
//! expected and what arrived.
//!
//! ```
//! use mpshare::managers::wire::{Reply, Request};
//! use mpshare::managers::pickle::PyValue;
//! let req = Request::call("7fe7c53b7dc0", "__getitem__", vec![PyValue::str("a")]);
//! assert_eq!(Request::decode(&req.encode()?)?, req);
//! let reply = Reply::decode(b"\x80\x04\x8c\x07#RETURN\x4b\x01\x86.")?;
//! assert_eq!(reply.into_result()?, PyValue::Int(1));
//! # Ok::<(), mpshare::Error>(())
//! ```

mod exceptions;
mod extract;
mod reply;
mod request;
mod token;

pub use exceptions::{
    attribute_error, broken_barrier_error, exception, exception_message, exception_to_error,
    index_error, key_error, queue_empty, queue_full, runtime_error, stop_iteration, type_error,
    value_error,
};
pub(crate) use extract::{shape, Reader};
pub use reply::Reply;
pub use request::{Kwargs, Request};
pub use token::{address_to_value, ProxyRef, Token, TokenAddress};

/// The module of the manager classes.
/// ```
/// assert_eq!(mpshare::managers::wire::MANAGERS, "multiprocessing.managers");
/// ```
pub const MANAGERS: &str = "multiprocessing.managers";
