//! [`Proxy`]: the generic handle on one object in a manager server (its token, exposed names
//! and the [`Manager`] client), with [`Proxy::call_method`] and the serde conversions every
//! proxy call goes through ([`FromPy`], [`args_of`]).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Manager;
use crate::error::ProtocolError;
use crate::managers::pickle::{self, PyValue};
use crate::managers::wire::Reader;
use crate::managers::wire::{ProxyRef, Reply, Request, Token};
use crate::{Error, Result};

/// Conversion of a reply value into a Rust value: every `DeserializeOwned` type through the
/// serde bridge, [`PyValue`] itself included (exactly as received, except that CPython's
/// `builtins.list([...])` wrapping of `dict.keys()`/`values()`/`items()` becomes a plain list).
///
/// ```
/// use mpshare::managers::{pickle::PyValue, client::FromPy};
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
/// use mpshare::managers::{pickle::PyValue, client::unwrap_builtin_list};
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
/// use mpshare::managers::client::args_of;
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

/// What a proxy call returned: a value, or a new proxy (`#PROXY` reply).
///
/// ```
/// use mpshare::managers::client::Returned;
/// let m = mpshare::managers::client::Manager::start()?;
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
/// use mpshare::managers::pickle::PyValue;
/// # let m = mpshare::managers::client::Manager::start()?;
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
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// assert_eq!(m.dict()?.token().typeid, "dict");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The method names the server exposes for this object.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// assert!(m.lock()?.exposed().contains(&"acquire".to_string()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn exposed(&self) -> &[String] {
        &self.exposed
    }

    /// The manager client this proxy calls through.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
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
    /// use mpshare::managers::client::Returned;
    /// # let m = mpshare::managers::client::Manager::start()?;
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
        req.kwds = kwargs.into();
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
    /// use mpshare::managers::pickle::PyValue;
    /// # let m = mpshare::managers::client::Manager::start()?;
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
            Returned::Proxy(p) => Err(Error::Protocol(ProtocolError::UnexpectedReply {
                method: method.to_string(),
                expected: "a value (use Proxy::call_proxy for a proxy)",
                found: format!("#PROXY {} {}", p.token.typeid, p.token.id),
            })),
        }
    }

    /// Call a method that answers with `#PROXY` (e.g. `__iter__`) and return the new proxy.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
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
            Returned::Value(v) => Err(Error::Protocol(ProtocolError::UnexpectedReply {
                method: method.to_string(),
                expected: "a #PROXY reply",
                found: format!("a value of type {}", v.type_name()),
            })),
        }
    }

    /// Call with serde arguments (a tuple; `()` for none) and convert the result into `R`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
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
    /// use mpshare::managers::pickle::PyValue;
    /// # let m = mpshare::managers::client::Manager::start()?;
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
    /// # let m = mpshare::managers::client::Manager::start()?;
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
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// assert_eq!(m.list()?.repr()?, "[]");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn repr(&self) -> Result<String> {
        let v = self.call_method("__repr__", vec![], vec![])?;
        Reader("__repr__").string(v, "the repr")
    }

    /// Another proxy on the same object (sends `incref`; each proxy decrefs when dropped).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
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
    /// it inside another managed object (`docs/protocol.md` §6). The proxy class is the one CPython uses for
    /// the typeid (`DictProxy`, `AcquirerProxy`, ...; `AutoProxy` with the exposed names for
    /// `Queue` and unknown typeids). A CPython server recognises its own objects only when the
    /// token's address equals its address exactly (connect with the address it reports), and
    /// then pins the object for the rest of its life.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
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
/// use mpshare::managers::client::proxy_class;
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
