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
//! # let server = mpshare::manager::server::Server::bind(&"127.0.0.1:0".parse()?, mpshare::manager::auth::AuthKey::from("secret"))?.spawn()?;
//! # let address = server.address().clone();
//! use mpshare::manager::{auth::AuthKey, client::Manager};
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

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::client::Manager;
use super::message::{ProxyRef, Reply, Request, Token};
use super::pickle::{self, PyValue};
use crate::{Error, Result};

/// Conversion of a reply value into a Rust value: every `DeserializeOwned` type through the
/// serde bridge, [`PyValue`] itself included (exactly as received, except that CPython's
/// `builtins.list([...])` wrapping of `dict.keys()`/`values()`/`items()` becomes a plain list).
///
/// ```
/// use mpshare::manager::{pickle::PyValue, proxy::FromPy};
/// assert_eq!(<(i32, String)>::from_py(PyValue::tuple(vec![1.into(), "a".into()]))?, (1, "a".to_string()));
/// assert_eq!(PyValue::from_py(PyValue::Int(1))?, PyValue::Int(1));
/// # Ok::<(), mpshare::Error>(())
/// ```
pub trait FromPy: Sized {
    /// Convert `v`.
    fn from_py(v: PyValue) -> Result<Self>;
}

impl<T: DeserializeOwned> FromPy for T {
    fn from_py(v: PyValue) -> Result<Self> {
        pickle::from_value(unwrap_builtin_list(v))
    }
}

/// CPython servers send `dict.keys()/values()/items()` as `builtins.list([...])` (a `REDUCE`
/// made by `ForkingPickler`'s view reducer); turn that into a plain list.
///
/// ```
/// use mpshare::manager::{pickle::PyValue, proxy::unwrap_builtin_list};
/// let v = PyValue::reduce(PyValue::global("builtins", "list"), vec![PyValue::list(vec![1.into()])]);
/// assert_eq!(unwrap_builtin_list(v).to_string(), "[1]");
/// ```
pub fn unwrap_builtin_list(v: PyValue) -> PyValue {
    if let Some(("builtins", "list", [inner])) = v.as_reduce() {
        return match inner {
            PyValue::List(items) | PyValue::Tuple(items) => PyValue::List(items.clone()),
            other => other.clone(),
        };
    }
    v
}

/// Serde arguments to a positional-argument vector: a tuple gives its items, `()` gives none,
/// any other value is one argument.
///
/// ```
/// use mpshare::manager::proxy::args_of;
/// assert_eq!(args_of(&("a", 1))?.len(), 2);
/// assert!(args_of(&())?.is_empty());
/// assert_eq!(args_of(&5)?.len(), 1);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn args_of<A: Serialize + ?Sized>(args: &A) -> Result<Vec<PyValue>> {
    Ok(match pickle::to_value(args)? {
        PyValue::Tuple(items) => items,
        PyValue::None => Vec::new(),
        other => vec![other],
    })
}

/// One argument through serde.
pub(crate) fn arg<T: Serialize + ?Sized>(v: &T) -> Result<PyValue> {
    pickle::to_value(v)
}

/// A timeout as Python's float seconds (or `None`).
pub(crate) fn secs(t: Option<Duration>) -> PyValue {
    t.map_or(PyValue::None, |d| PyValue::Float(d.as_secs_f64()))
}

/// What a proxy call returned: a value, or a new proxy (`#PROXY` reply).
///
/// ```
/// use mpshare::manager::proxy::Returned;
/// let m = mpshare::manager::client::Manager::start()?;
/// let d = m.dict()?;
/// match d.invoke("__iter__", vec![], vec![])? {
///     Returned::Proxy(it) => assert_eq!(it.token().typeid, "Iterator"),
///     Returned::Value(v) => panic!("expected a proxy, got {v}"),
/// }
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub enum Returned {
    /// `#RETURN` value.
    Value(PyValue),
    /// `#PROXY`: a proxy owning the new object's reference.
    Proxy(Proxy),
}

/// A handle on one object in a manager server: its [`Token`], the exposed method names and the
/// [`Manager`] client. Owns one reference on the object and sends `decref` when dropped.
/// `Send + Sync`; calls go through the calling thread's proxy connection.
///
/// ```
/// use mpshare::manager::pickle::PyValue;
/// # let m = mpshare::manager::client::Manager::start()?;
/// let d = m.create("dict", vec![], vec![])?;
/// d.call_method("__setitem__", vec!["a".into(), 1.into()], vec![])?;
/// assert_eq!(d.call::<i64>("__getitem__", ("a",))?, 1);
/// assert_eq!(d.repr()?, "{'a': 1}");
/// # Ok::<(), mpshare::Error>(())
/// ```
pub struct Proxy {
    token: Token,
    exposed: Vec<String>,
    manager: Manager,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("token", &self.token)
            .field("exposed", &self.exposed)
            .finish()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Bounded (ClientConfig::drop_timeout per step); errors ignored: a dead server has
        // nothing left to release.
        let _ = self.manager.decref_bounded(&self.token.id);
    }
}

impl Proxy {
    /// A proxy that takes over one existing reference (no `incref`).
    pub(crate) fn adopt(manager: Manager, token: Token, exposed: Vec<String>) -> Proxy {
        Proxy {
            token,
            exposed,
            manager,
        }
    }

    /// The object's token (`typeid`, server address, ident).
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// assert_eq!(m.dict()?.token().typeid, "dict");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The method names the server exposes for this object.
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// assert!(m.lock()?.exposed().contains(&"acquire".to_string()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn exposed(&self) -> &[String] {
        &self.exposed
    }

    /// The manager client this proxy calls through.
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// assert!(m.dict()?.manager().same_client(&m));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Call `method(*args, **kwargs)` on the object; `#RETURN` → the value, `#PROXY` → a new
    /// [`Proxy`] adopting the new object's reference.
    ///
    /// ```
    /// use mpshare::manager::proxy::Returned;
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let d = m.dict()?;
    /// assert!(matches!(d.invoke("__iter__", vec![], vec![])?, Returned::Proxy(_)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn invoke(
        &self,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<Returned> {
        let mut req = Request::call(&self.token.id, method, args);
        req.kwds = kwargs;
        match self.manager.proxy_round_trip(&req)? {
            Reply::Proxy { exposed, token } => Ok(Returned::Proxy(Proxy::adopt(
                self.manager.clone(),
                token,
                exposed,
            ))),
            other => other.into_result().map(Returned::Value),
        }
    }

    /// Call `method(*args, **kwargs)` and return its value. Remote exceptions are
    /// [`Error::Remote`]; failures outside the method (`#TRACEBACK`, `#UNSERIALIZABLE`) are
    /// [`Error::RemoteTraceback`]. A method that answers with a proxy (`#PROXY`) gives
    /// [`Error::Protocol`] (the new object is released again): use [`Proxy::call_proxy`].
    ///
    /// ```
    /// use mpshare::manager::pickle::PyValue;
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let l = m.list()?;
    /// l.call_method("append", vec![PyValue::Int(1)], vec![])?;
    /// assert_eq!(l.call_method("__len__", vec![], vec![])?, PyValue::Int(1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn call_method(
        &self,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<PyValue> {
        match self.invoke(method, args, kwargs)? {
            Returned::Value(v) => Ok(v),
            Returned::Proxy(p) => Err(Error::Protocol(format!(
                "{method}() returned a proxy (#PROXY {} {}); use Proxy::call_proxy",
                p.token.typeid, p.token.id
            ))),
        }
    }

    /// Call a method that answers with `#PROXY` (e.g. `__iter__`) and return the new proxy.
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let d = m.dict()?;
    /// let it = d.call_proxy("__iter__", vec![], vec![])?;
    /// assert_eq!(it.token().typeid, "Iterator");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn call_proxy(
        &self,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<Proxy> {
        match self.invoke(method, args, kwargs)? {
            Returned::Proxy(p) => Ok(p),
            Returned::Value(v) => Err(Error::Protocol(format!(
                "{method}(): expected a #PROXY reply, found a value of type {}",
                v.type_name()
            ))),
        }
    }

    /// Call with serde arguments (a tuple; `()` for none) and convert the result into `R`.
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let d = m.dict()?;
    /// d.call::<()>("__setitem__", ("k", vec![1, 2]))?;
    /// let v: Vec<i32> = d.call("__getitem__", ("k",))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn call<R: FromPy>(&self, method: &str, args: impl Serialize) -> Result<R> {
        R::from_py(self.call_method(method, args_of(&args)?, vec![])?)
    }

    /// [`Proxy::call`] with keyword arguments.
    ///
    /// ```
    /// use mpshare::manager::pickle::PyValue;
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// let r = q.call_kw::<i64>("get", (), vec![("timeout".into(), PyValue::Float(0.01))]);
    /// assert!(r.unwrap_err().is_empty_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn call_kw<R: FromPy>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<R> {
        R::from_py(self.call_method(method, args_of(&args)?, kwargs)?)
    }

    /// A copy of the referent (`#GETVALUE`, Python's `proxy._getvalue()`).
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let l = m.list_from(&[1, 2])?;
    /// assert_eq!(l.get_value()?.to_string(), "[1, 2]");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_value(&self) -> Result<PyValue> {
        self.call_method("#GETVALUE", vec![], vec![])
    }

    /// `repr(referent)` computed by the server (what Python's `str(proxy)` shows).
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// assert_eq!(m.list()?.repr()?, "[]");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn repr(&self) -> Result<String> {
        match self.call_method("__repr__", vec![], vec![])? {
            PyValue::Str(s) => Ok(s),
            other => Err(Error::Protocol(format!(
                "__repr__: expected str, found {}",
                other.type_name()
            ))),
        }
    }

    /// Another proxy on the same object (sends `incref`; each proxy decrefs when dropped).
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let d = m.dict()?;
    /// let d2 = d.try_clone()?;
    /// drop(d);
    /// assert_eq!(d2.repr()?, "{}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Proxy> {
        self.manager.incref(&self.token.id)?;
        Ok(Proxy::adopt(
            self.manager.clone(),
            self.token.clone(),
            self.exposed.clone(),
        ))
    }

    /// This proxy as a `RebuildProxy(...)` reference, to pass the object as an argument or store
    /// it inside another managed object (spec §4.7). The proxy class is the one CPython uses for
    /// the typeid (`DictProxy`, `AcquirerProxy`, ...; `AutoProxy` with the exposed names for
    /// `Queue` and unknown typeids). A CPython server recognises its own objects only when the
    /// token's address equals its address exactly (connect with the address it reports), and
    /// then pins the object for the rest of its life.
    ///
    /// ```
    /// # let m = mpshare::manager::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// assert_eq!(q.to_ref().func, "AutoProxy");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_ref(&self) -> ProxyRef {
        match proxy_class(&self.token.typeid) {
            Some(func) => ProxyRef::new(func, self.token.clone()),
            None => ProxyRef::auto(self.token.clone(), self.exposed.clone()),
        }
    }
}

/// CPython's proxy class for a `SyncManager` typeid (`None` → `AutoProxy`).
///
/// ```
/// use mpshare::manager::proxy::proxy_class;
/// assert_eq!(proxy_class("RLock"), Some("AcquirerProxy"));
/// assert_eq!(proxy_class("Queue"), None);
/// ```
pub fn proxy_class(typeid: &str) -> Option<&'static str> {
    Some(match typeid {
        "dict" => "DictProxy",
        "list" => "ListProxy",
        "Namespace" => "NamespaceProxy",
        "Value" => "ValueProxy",
        "Array" => "ArrayProxy",
        "Lock" | "RLock" | "Semaphore" | "BoundedSemaphore" => "AcquirerProxy",
        "Condition" => "ConditionProxy",
        "Event" => "EventProxy",
        "Barrier" => "BarrierProxy",
        "Iterator" => "IteratorProxy",
        "Pool" => "PoolProxy",
        _ => return None,
    })
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

/// Defines the common items of a typed proxy: the struct, `from_proxy`, `into_proxy`, `Deref`.
macro_rules! typed_proxy {
    ($(#[$doc:meta])* $name:ident $({ $($field:ident : $fty:ty = $init:expr),* })?) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            proxy: $crate::manager::proxy::Proxy,
            $($($field: $fty,)*)?
        }

        impl $name {
            /// Wrap a generic proxy (no check of its typeid: any object with these methods works).
            ///
            /// ```
            /// # let m = mpshare::manager::client::Manager::start()?; let p = m.create("dict", vec![], vec![])?;
            #[doc = concat!("let typed = mpshare::manager::proxy::", stringify!($name), "::from_proxy(p);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn from_proxy(proxy: $crate::manager::proxy::Proxy) -> $name {
                $name { proxy, $($($field: $init,)*)? }
            }

            /// The generic proxy.
            ///
            /// ```
            #[doc = concat!("# let m = mpshare::manager::client::Manager::start()?; let typed = mpshare::manager::proxy::", stringify!($name), "::from_proxy(m.create(\"dict\", vec![], vec![])?);")]
            /// let p: mpshare::manager::proxy::Proxy = typed.into_proxy();
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn into_proxy(self) -> $crate::manager::proxy::Proxy {
                self.proxy
            }

            /// Another proxy on the same object (sends `incref`).
            ///
            /// ```
            #[doc = concat!("# let m = mpshare::manager::client::Manager::start()?; let typed = mpshare::manager::proxy::", stringify!($name), "::from_proxy(m.create(\"dict\", vec![], vec![])?);")]
            /// let again = typed.try_clone()?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn try_clone(&self) -> $crate::Result<$name> {
                Ok($name::from_proxy(self.proxy.try_clone()?))
            }
        }

        impl std::ops::Deref for $name {
            type Target = $crate::manager::proxy::Proxy;
            fn deref(&self) -> &$crate::manager::proxy::Proxy {
                &self.proxy
            }
        }

        impl AsRef<$crate::manager::proxy::Proxy> for $name {
            fn as_ref(&self) -> &$crate::manager::proxy::Proxy {
                &self.proxy
            }
        }
    };
}
pub(crate) use typed_proxy;
