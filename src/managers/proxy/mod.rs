//! Proxies: handles on objects that live in a manager server.
//!
//! [`Proxy`] is the generic handle (token + exposed names + manager client) with
//! [`Proxy::call_method`]; the typed proxies ([`DictProxy`], [`ListProxy`], [`QueueProxy`], ...)
//! give Python's methods Rust names and convert values through serde ([`FromPy`] on the way
//! out). Each typed proxy dereferences to its [`Proxy`].
//!
//! Values: arguments are any `Serialize` (plain data: `None`, bools, ints, floats, `str`,
//! `bytes`, tuples, lists, dicts; a [`PyValue`] argument goes through serde too, which keeps
//! plain data exactly but not sets or object graphs — use [`Proxy::call_method`] with
//! [`PyValue`]s for those, e.g. to pass a proxy reference from [`Proxy::to_ref`]). Results are any
//! [`FromPy`]: every `DeserializeOwned` type, or [`PyValue`] itself.
//!
//! Remote exceptions arrive as [`Error::Remote`] `{ class, message }` with the qualified class
//! name (`builtins.KeyError`, `_queue.Empty`, `queue.Full`, `threading.BrokenBarrierError`);
//! [`Error::is_remote`] and friends ([`Error::is_empty_error`], [`Error::is_full_error`], ...)
//! test for them.
//!
//! ```
//! # let server = mpshare::managers::server::Server::bind(&"127.0.0.1:0".parse()?, mpshare::managers::auth::AuthKey::from("secret"))?.spawn()?;
//! # let address = server.address().clone();
//! use mpshare::managers::{auth::AuthKey, client::Manager};
//! // `address` is the server's, e.g. "127.0.0.1:50000".parse()?
//! let m = Manager::connect(&address, AuthKey::from("secret"))?;
//! let q = m.queue(0)?;
//! let err = q.get_nowait::<i64>().unwrap_err();
//! assert!(err.is_empty_error());
//! # Ok::<(), mpshare::Error>(())
//! ```

mod array;
mod barrier;
mod condition;
mod dict;
mod event;
mod iterator;
mod list;
mod lock;
mod namespace;
mod queue;
mod value;

pub use array::{decode_array, ArrayProxy};
pub use barrier::BarrierProxy;
pub use condition::{ConditionGuard, ConditionProxy};
pub use dict::DictProxy;
pub use event::EventProxy;
pub use iterator::IteratorProxy;
pub use list::ListProxy;
pub use lock::{LockGuard, LockProxy};
pub use namespace::NamespaceProxy;
pub use queue::QueueProxy;
pub use value::ValueProxy;

mod factory;

#[doc(inline)]
pub use super::client::{args_of, proxy_class, unwrap_builtin_list, FromPy, Proxy, Returned};

use std::time::Duration;

use serde::Serialize;

use super::pickle::{self, PyValue};
use crate::{Error, Result};

/// One argument through serde.
pub(crate) fn arg<T: Serialize + ?Sized>(v: &T) -> Result<PyValue> {
    pickle::to_value(v)
}

/// A timeout as Python's float seconds (or `None`).
pub(crate) fn secs(t: Option<Duration>) -> PyValue {
    t.map_or(PyValue::None, |d| PyValue::Float(d.as_secs_f64()))
}

/// Recognising remote exceptions (`#ERROR` replies mapped to [`Error::Remote`]).
impl Error {
    /// Whether this is a remote exception of class `class`: either the qualified name
    /// (`"builtins.KeyError"`, `"_queue.Empty"`) or the bare name (`"KeyError"`).
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "builtins.KeyError".into(), message: "'k'".into() };
    /// assert!(e.is_remote("KeyError") && e.is_remote("builtins.KeyError") && !e.is_remote("Key"));
    /// ```
    pub fn is_remote(&self, class: &str) -> bool {
        match self {
            Error::Remote { class: c, .. } => {
                c == class
                    || (!class.contains('.')
                        && c.rsplit_once('.').map_or(c.as_str(), |(_, n)| n) == class)
            }
            _ => false,
        }
    }

    /// `queue.Empty` (pickled as `_queue.Empty`): `get_nowait`/`get(timeout)` found no item.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "_queue.Empty".into(), message: "".into() };
    /// assert!(e.is_empty_error());
    /// ```
    pub fn is_empty_error(&self) -> bool {
        self.is_remote("_queue.Empty") || self.is_remote("queue.Empty")
    }

    /// `queue.Full`: `put_nowait`/`put(timeout)` on a full bounded queue.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "queue.Full".into(), message: "".into() };
    /// assert!(e.is_full_error());
    /// ```
    pub fn is_full_error(&self) -> bool {
        self.is_remote("queue.Full")
    }

    /// `KeyError`.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "builtins.KeyError".into(), message: "'k'".into() };
    /// assert!(e.is_key_error());
    /// ```
    pub fn is_key_error(&self) -> bool {
        self.is_remote("builtins.KeyError")
    }

    /// `IndexError`.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "builtins.IndexError".into(), message: "".into() };
    /// assert!(e.is_index_error());
    /// ```
    pub fn is_index_error(&self) -> bool {
        self.is_remote("builtins.IndexError")
    }

    /// `AttributeError`.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "builtins.AttributeError".into(), message: "".into() };
    /// assert!(e.is_attribute_error());
    /// ```
    pub fn is_attribute_error(&self) -> bool {
        self.is_remote("builtins.AttributeError")
    }

    /// `threading.BrokenBarrierError`.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "threading.BrokenBarrierError".into(), message: "".into() };
    /// assert!(e.is_broken_barrier());
    /// ```
    pub fn is_broken_barrier(&self) -> bool {
        self.is_remote("threading.BrokenBarrierError")
    }

    /// `StopIteration`.
    ///
    /// ```
    /// let e = mpshare::Error::Remote { class: "builtins.StopIteration".into(), message: "".into() };
    /// assert!(e.is_stop_iteration());
    /// ```
    pub fn is_stop_iteration(&self) -> bool {
        self.is_remote("builtins.StopIteration")
    }
}

/// Defines the common items of a typed proxy: the struct, `from_proxy`, `into_proxy`,
/// `try_clone`, `Deref` and `AsRef` to [`Proxy`]. The generated methods carry no examples of
/// their own (each would start a server to show a one-line wrapper); `m.dict()?.try_clone()` and
/// friends are exercised by the client tests against both servers.
macro_rules! typed_proxy {
    ($(#[$doc:meta])* $name:ident $({ $($field:ident : $fty:ty = $init:expr),* })?) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            proxy: $crate::managers::client::Proxy,
            $($($field: $fty,)*)?
        }

        impl $name {
            /// Wrap a generic proxy (no check of its typeid: any object with these methods
            /// works).
            pub fn from_proxy(proxy: $crate::managers::client::Proxy) -> $name {
                $name { proxy, $($($field: $init,)*)? }
            }

            /// The generic proxy (it keeps the reference: dropping it sends the `decref`).
            pub fn into_proxy(self) -> $crate::managers::client::Proxy {
                self.proxy
            }

            /// Another proxy on the same object (sends `incref`; each proxy decrefs when
            /// dropped).
            pub fn try_clone(&self) -> $crate::Result<$name> {
                Ok($name::from_proxy(self.proxy.try_clone()?))
            }
        }

        impl std::ops::Deref for $name {
            type Target = $crate::managers::client::Proxy;
            fn deref(&self) -> &$crate::managers::client::Proxy {
                &self.proxy
            }
        }

        impl AsRef<$crate::managers::client::Proxy> for $name {
            fn as_ref(&self) -> &$crate::managers::client::Proxy {
                &self.proxy
            }
        }
    };
}
pub(crate) use typed_proxy;
