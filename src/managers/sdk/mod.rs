//! The SDK of served types: what a type served by the manager
//! [`Server`](crate::managers::server::Server) implements and is handed. A served object is a
//! Rust type implementing [`ServedObject`]; it is registered under a typeid with a [`TypeSpec`]
//! (CPython's `BaseManager.register('Counter')`) in the server's [`Registry`]; each call gets a
//! [`CallCtx`] (the caller's connection, bounded waits that notice a dead caller or a shutdown)
//! and answers a value or a [`CallError`]; [`bind_args`] and friends check and convert
//! arguments as Python would. The built-in `SyncManager` typeids use exactly this SDK (see
//! [`objects`](crate::managers::objects)).
//!
//! ```
//! use mpshare::managers::sdk::{CallCtx, CallError, ServedObject, TypeSpec};
//! use mpshare::managers::pickle::{PyDict, PyValue};
//! use std::sync::{atomic::{AtomicI64, Ordering}, Arc};
//!
//! struct Counter(AtomicI64);
//! impl ServedObject for Counter {
//!     fn call(&self, _ctx: &CallCtx, method: &str, _args: &[PyValue], _kw: &PyDict)
//!         -> Result<PyValue, CallError> {
//!         match method {
//!             "increment" => Ok(PyValue::Int(self.0.fetch_add(1, Ordering::SeqCst) + 1)),
//!             "get" => Ok(PyValue::Int(self.0.load(Ordering::SeqCst))),
//!             _ => Err(CallError::no_method("Counter", method)),
//!         }
//!     }
//!     fn exposed(&self) -> Vec<String> { vec!["increment".into(), "get".into()] }
//!     fn repr(&self) -> String { format!("<Counter {}>", self.0.load(Ordering::SeqCst)) }
//! }
//! let spec = TypeSpec::new("Counter", |_ctx, _args, _kw| Ok(Arc::new(Counter(AtomicI64::new(0)))));
//! let counter = spec.create(&CallCtx::detached(1), &[], &PyDict::new())?;
//! let ctx = CallCtx::detached(1);
//! counter.call(&ctx, "increment", &[], &PyDict::new())?;
//! assert_eq!(counter.call(&ctx, "get", &[], &PyDict::new())?, PyValue::Int(1));
//! # Ok::<(), CallError>(())
//! ```

mod args;
mod pins;

use std::collections::HashMap;
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::pickle::{PyDict, PyValue};
use super::wire;

pub use args::{bind_args, check_hashable, int_arg, timeout_arg, Bound};
pub(crate) use args::{deadline, truthy};
pub use pins::{contains_proxy, Pin, PinSet, RefTable};

/// Identifies one client connection to a server (unique for the server's life).
///
/// ```
/// let id: mpshare::managers::sdk::ConnId = 1;
/// assert_eq!(mpshare::managers::sdk::CallCtx::detached(id).conn(), 1);
/// ```
pub type ConnId = u64;

/// Why a call did not produce a value.
///
/// ```
/// use mpshare::managers::sdk::CallError;
/// let e = CallError::key_error(mpshare::managers::pickle::PyValue::str("k"));
/// assert!(matches!(e, CallError::Raise(_)));
/// ```
#[derive(Clone, Debug)]
pub enum CallError {
    /// The method raised this Python exception instance: the client gets `('#ERROR', exc)`.
    Raise(PyValue),
    /// A failure outside the method call: the client gets `('#TRACEBACK', text)`.
    Traceback(String),
    /// The result cannot be sent: the client gets `('#UNSERIALIZABLE', text)`.
    Unserializable(String),
    /// The call was abandoned (the client went away or the server shuts down): no reply is sent
    /// and the connection is closed.
    Aborted(&'static str),
}

impl CallError {
    /// `('#ERROR', cls(*args))` with a qualified class such as `"builtins.ValueError"`.
    ///
    /// ```
    /// use mpshare::managers::sdk::CallError;
    /// let e = CallError::raise("queue.Full", vec![]);
    /// assert!(matches!(e, CallError::Raise(_)));
    /// ```
    pub fn raise(class: &str, args: Vec<PyValue>) -> CallError {
        CallError::Raise(wire::exception(class, args))
    }

    /// `KeyError(key)`.
    ///
    /// ```
    /// use mpshare::managers::{pickle::PyValue, sdk::CallError};
    /// let e = CallError::key_error(PyValue::str("k"));
    /// assert_eq!(e.to_string(), "raised KeyError('k')");
    /// ```
    pub fn key_error(key: PyValue) -> CallError {
        CallError::Raise(wire::key_error(key))
    }

    /// `TypeError(msg)`.
    ///
    /// ```
    /// let e = mpshare::managers::sdk::CallError::type_error("bad");
    /// assert_eq!(e.to_string(), "raised TypeError('bad')");
    /// ```
    pub fn type_error(msg: &str) -> CallError {
        CallError::Raise(wire::type_error(msg))
    }

    /// `ValueError(msg)`.
    ///
    /// ```
    /// let e = mpshare::managers::sdk::CallError::value_error("bad");
    /// assert_eq!(e.to_string(), "raised ValueError('bad')");
    /// ```
    pub fn value_error(msg: &str) -> CallError {
        CallError::Raise(wire::value_error(msg))
    }

    /// `IndexError(msg)`.
    ///
    /// ```
    /// let e = mpshare::managers::sdk::CallError::index_error("list index out of range");
    /// assert_eq!(e.to_string(), "raised IndexError('list index out of range')");
    /// ```
    pub fn index_error(msg: &str) -> CallError {
        CallError::Raise(wire::index_error(msg))
    }

    /// `RuntimeError(msg)`.
    ///
    /// ```
    /// let e = mpshare::managers::sdk::CallError::runtime_error("release unlocked lock");
    /// assert_eq!(e.to_string(), "raised RuntimeError('release unlocked lock')");
    /// ```
    pub fn runtime_error(msg: &str) -> CallError {
        CallError::Raise(wire::runtime_error(msg))
    }

    /// `AttributeError(msg)`.
    ///
    /// ```
    /// let e = mpshare::managers::sdk::CallError::attribute_error("no");
    /// assert_eq!(e.to_string(), "raised AttributeError('no')");
    /// ```
    pub fn attribute_error(msg: &str) -> CallError {
        CallError::Raise(wire::attribute_error(msg))
    }

    /// The `#TRACEBACK` a server sends for a method that is not exposed.
    ///
    /// ```
    /// use mpshare::managers::sdk::CallError;
    /// match CallError::no_method("Counter", "reset") {
    ///     CallError::Traceback(t) => assert!(t.contains("'reset'")),
    ///     _ => unreachable!(),
    /// }
    /// ```
    pub fn no_method(class: &str, method: &str) -> CallError {
        CallError::Traceback(traceback_text(
            "AttributeError",
            &format!("'{class}' object has no attribute '{method}'"),
        ))
    }

    /// The text of this error as a `#TRACEBACK` body (for contexts where an exception becomes a
    /// traceback, e.g. failures in `create`).
    ///
    /// ```
    /// use mpshare::managers::sdk::CallError;
    /// assert!(CallError::value_error("bad").into_traceback().ends_with("ValueError: bad\n"));
    /// ```
    pub fn into_traceback(self) -> String {
        match self {
            CallError::Raise(exc) => {
                let (class, msg) = match exc.as_exception() {
                    Some((_, name, _)) => (name.to_string(), wire::exception_message(&exc)),
                    None => ("Exception".to_string(), exc.to_string()),
                };
                traceback_text(&class, &msg)
            }
            CallError::Traceback(t) | CallError::Unserializable(t) => t,
            CallError::Aborted(why) => traceback_text("RuntimeError", why),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Raise(e) => write!(f, "raised {e}"),
            CallError::Traceback(t) => write!(f, "traceback: {t}"),
            CallError::Unserializable(t) => write!(f, "unserializable: {t}"),
            CallError::Aborted(w) => write!(f, "aborted: {w}"),
        }
    }
}

/// A Python-looking traceback text: `Traceback (most recent call last):` … `Class: message`.
///
/// ```
/// let t = mpshare::managers::sdk::traceback_text("KeyError", "'x'");
/// assert!(t.starts_with("Traceback (most recent call last):"));
/// assert!(t.ends_with("KeyError: 'x'\n"));
/// ```
pub fn traceback_text(class: &str, msg: &str) -> String {
    if msg.is_empty() {
        format!("Traceback (most recent call last):\n  File \"<mpshare server>\", in handle_request\n{class}\n")
    } else {
        format!("Traceback (most recent call last):\n  File \"<mpshare server>\", in handle_request\n{class}: {msg}\n")
    }
}

/// What a method call knows about its caller: the connection id (the owner identity of
/// `RLock`/`Condition`), whether the caller is still there, and whether the server is shutting
/// down. Blocking methods wait through [`CallCtx::wait`], which returns in slices so that a dead
/// caller or a shutdown aborts the wait before anything is taken.
///
/// ```
/// use mpshare::managers::sdk::CallCtx;
/// let ctx = CallCtx::detached(7);
/// assert_eq!(ctx.conn(), 7);
/// assert!(ctx.check().is_ok());
/// ```
pub struct CallCtx<'a> {
    conn: ConnId,
    fd: Option<BorrowedFd<'a>>,
    stop: Option<&'a AtomicBool>,
    table: Option<Weak<dyn RefTable>>,
    slice: Duration,
}

impl<'a> CallCtx<'a> {
    /// A context with no connection behind it (always alive, never stopped, no object table):
    /// for tests and for calling objects directly from Rust.
    ///
    /// ```
    /// let ctx = mpshare::managers::sdk::CallCtx::detached(1);
    /// assert!(ctx.is_alive());
    /// ```
    pub fn detached(conn: ConnId) -> CallCtx<'static> {
        CallCtx {
            conn,
            fd: None,
            stop: None,
            table: None,
            slice: Duration::from_millis(50),
        }
    }

    /// A context for a call arriving on `fd` (used by the server).
    ///
    /// ```
    /// use mpshare::managers::sdk::CallCtx;
    /// use std::sync::atomic::AtomicBool;
    /// use std::time::Duration;
    /// let stop = AtomicBool::new(false);
    /// let ctx = CallCtx::new(3, None, &stop, None, Duration::from_millis(50));
    /// assert!(ctx.check().is_ok());
    /// ```
    pub fn new(
        conn: ConnId,
        fd: Option<BorrowedFd<'a>>,
        stop: &'a AtomicBool,
        table: Option<Weak<dyn RefTable>>,
        slice: Duration,
    ) -> CallCtx<'a> {
        CallCtx {
            conn,
            fd,
            stop: Some(stop),
            table,
            slice,
        }
    }

    /// The caller's connection id.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::sdk::CallCtx::detached(2).conn(), 2);
    /// ```
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// The object table of the server, for pinning nested proxies (none when detached).
    pub(crate) fn table(&self) -> Option<&Weak<dyn RefTable>> {
        self.table.as_ref()
    }

    /// True while the caller's connection is open: a peer that closed or half-closed its end
    /// (`POLLRDHUP`), hung up or errored is gone. Plain readable data is not a death sign: a
    /// pipelining client may already have sent its next requests.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::CallCtx::detached(1).is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        let Some(fd) = self.fd else { return true };
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        // POLLHUP, POLLERR and POLLNVAL are always reported; POLLRDHUP is the peer's FIN.
        let mut fds = [PollFd::new(
            fd,
            PollFlags::from_bits_retain(libc::POLLRDHUP),
        )];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => true,
            Ok(_) => false,
            Err(nix::errno::Errno::EINTR) => true,
            Err(_) => false,
        }
    }

    /// True once the server is shutting down.
    ///
    /// ```
    /// assert!(!mpshare::managers::sdk::CallCtx::detached(1).stopping());
    /// ```
    pub fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// `Err(CallError::Aborted)` if the caller is gone or the server stops; call it before a
    /// blocking method takes anything.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::CallCtx::detached(1).check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), CallError> {
        if self.stopping() {
            return Err(CallError::Aborted("the server is shutting down"));
        }
        if !self.is_alive() {
            return Err(CallError::Aborted("the client connection went away"));
        }
        Ok(())
    }

    /// Waits on `cv` for at most one slice (50 ms by default) or until `deadline`, then checks
    /// [`check`](Self::check). Returns the guard and whether `deadline` has passed. Callers loop:
    /// `while !ready { (g, timed_out) = ctx.wait(cv, g, deadline)?; if timed_out { ... } }`.
    ///
    /// ```
    /// use mpshare::managers::sdk::CallCtx;
    /// use std::sync::{Condvar, Mutex};
    /// use std::time::{Duration, Instant};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let ctx = CallCtx::detached(1);
    /// let (_g, timed_out) = ctx.wait(&cv, m.lock().unwrap(),
    ///     Some(Instant::now() + Duration::from_millis(5))).unwrap();
    /// # let _ = timed_out;
    /// ```
    pub fn wait<'g, T>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'g, T>,
        deadline: Option<Instant>,
    ) -> Result<(MutexGuard<'g, T>, bool), CallError> {
        let now = Instant::now();
        let mut dur = self.slice;
        if let Some(d) = deadline {
            if now >= d {
                return Ok((guard, true));
            }
            dur = dur.min(d - now);
        }
        let (g, _) = cv
            .wait_timeout(guard, dur)
            .unwrap_or_else(|p| p.into_inner());
        if let Err(e) = self.check() {
            drop(g);
            return Err(e);
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        Ok((g, timed_out))
    }
}

/// An object living in a manager server, reached by proxy calls.
///
/// `call` runs on the caller's connection thread; it may block (through [`CallCtx::wait`]) and
/// only blocks that caller. Errors: [`CallError::Raise`] becomes `#ERROR`, the others
/// `#TRACEBACK`/`#UNSERIALIZABLE`. The server checks `exposed()` before calling and answers the
/// `__repr__`/`__str__`/`#GETVALUE` fallbacks with [`repr`](Self::repr),
/// [`str`](Self::str) and [`get_value`](Self::get_value).
///
/// ```
/// use mpshare::managers::{objects::dict::DictObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let obj: Box<dyn ServedObject> = Box::new(DictObject::default());
/// assert_eq!(obj.call(&CallCtx::detached(1), "__len__", &[], &PyDict::new()).unwrap(), PyValue::Int(0));
/// ```
///
/// See the [module documentation](self) for a custom type.
pub trait ServedObject: Send + Sync {
    /// Calls `method(*args, **kwargs)`.
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError>;

    /// The exposed method names, as `create` reports them (used when the [`TypeSpec`] gives none).
    fn exposed(&self) -> Vec<String>;

    /// `repr(obj)`.
    fn repr(&self) -> String;

    /// `str(obj)` (defaults to [`repr`](Self::repr)).
    fn str(&self) -> String {
        self.repr()
    }

    /// The object as a value (`#GETVALUE`, `proxy._getvalue()`); the default says it cannot be
    /// pickled, like CPython for locks.
    fn get_value(&self) -> Result<PyValue, CallError> {
        Err(CallError::Unserializable(traceback_text(
            "TypeError",
            "cannot pickle this object",
        )))
    }

    /// Calls a method listed in the typeid's `method_to_typeid`: the result becomes a new served
    /// object sent back as `#PROXY`. The default refuses.
    fn call_object(
        &self,
        _ctx: &CallCtx,
        method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<Arc<dyn ServedObject>, CallError> {
        Err(CallError::Traceback(traceback_text(
            "TypeError",
            &format!("method {method:?} does not return a served object"),
        )))
    }

    /// Called once when a connection that called this object closes: release what it holds.
    fn on_disconnect(&self, _conn: ConnId) {}

    /// Called after `create` when the creation arguments contained proxies: take references on
    /// the served objects they name (see [`PinSet`]). Containers implement it.
    fn pin_stored_proxies(&self, _ctx: &CallCtx) {}
}

/// Builds a served object from `create`'s arguments.
///
/// ```
/// use mpshare::managers::{objects::dict::DictObject, pickle::PyDict, sdk::{CallCtx, Factory}};
/// use std::sync::Arc;
/// let f: Factory = Arc::new(|_c, a, k| Ok(Arc::new(DictObject::create(a, k)?)));
/// let d = f(&CallCtx::detached(1), &[], &PyDict::new())?;
/// assert_eq!(d.repr(), "{}");
/// # Ok::<(), mpshare::managers::sdk::CallError>(())
/// ```
pub type Factory = Arc<
    dyn Fn(&CallCtx, &[PyValue], &PyDict) -> Result<Arc<dyn ServedObject>, CallError> + Send + Sync,
>;

/// A registered typeid: factory (none for result-only types such as `Iterator`), optional fixed
/// exposed list and `method_to_typeid` map.
///
/// ```
/// use mpshare::managers::sdk::TypeSpec;
/// let t = TypeSpec::result_only("Iterator").exposed(&["__next__"]);
/// assert_eq!(t.exposed_list().unwrap(), &["__next__".to_string()]);
/// ```
#[derive(Clone)]
pub struct TypeSpec {
    typeid: String,
    factory: Option<Factory>,
    exposed: Option<Vec<String>>,
    method_to_typeid: HashMap<String, String>,
    /// Set by [`Registry::share`]: the typeid of the one shared object every `create` returns.
    shared_of: Option<String>,
}

impl TypeSpec {
    /// A typeid created by `factory`.
    ///
    /// ```
    /// use mpshare::managers::{objects::dict::DictObject, sdk::TypeSpec};
    /// use std::sync::Arc;
    /// let t = TypeSpec::new("mydict", |_c, _a, _k| Ok(Arc::new(DictObject::default())));
    /// assert!(t.has_factory());
    /// ```
    pub fn new<F>(typeid: &str, factory: F) -> TypeSpec
    where
        F: Fn(&CallCtx, &[PyValue], &PyDict) -> Result<Arc<dyn ServedObject>, CallError>
            + Send
            + Sync
            + 'static,
    {
        TypeSpec {
            typeid: typeid.to_string(),
            factory: Some(Arc::new(factory)),
            exposed: None,
            method_to_typeid: HashMap::new(),
            shared_of: None,
        }
    }

    /// A typeid that only appears as a method result (`create` refuses it).
    ///
    /// ```
    /// assert!(!mpshare::managers::sdk::TypeSpec::result_only("Iterator").has_factory());
    /// ```
    pub fn result_only(typeid: &str) -> TypeSpec {
        TypeSpec {
            typeid: typeid.to_string(),
            factory: None,
            exposed: None,
            method_to_typeid: HashMap::new(),
            shared_of: None,
        }
    }

    /// Fixes the exposed list (otherwise the object's [`ServedObject::exposed`] is used).
    ///
    /// ```
    /// let t = mpshare::managers::sdk::TypeSpec::result_only("X").exposed(&["a", "b"]);
    /// assert_eq!(t.exposed_list().unwrap().len(), 2);
    /// ```
    pub fn exposed(mut self, names: &[&str]) -> TypeSpec {
        self.exposed = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Declares that `method` returns a new object of `typeid` (sent back as `#PROXY`).
    ///
    /// ```
    /// let t = mpshare::managers::sdk::TypeSpec::result_only("X").method_to_typeid("__iter__", "Iterator");
    /// assert_eq!(t.result_typeid("__iter__"), Some("Iterator"));
    /// ```
    pub fn method_to_typeid(mut self, method: &str, typeid: &str) -> TypeSpec {
        self.method_to_typeid
            .insert(method.to_string(), typeid.to_string());
        self
    }

    /// For a shared object by name ([`Registry::share`]): the typeid of the object it serves.
    ///
    /// ```
    /// let mut reg = mpshare::managers::sdk::Registry::sync_manager();
    /// reg.share("get_queue", "Queue")?;
    /// assert_eq!(reg.get("get_queue").unwrap().shared_typeid(), Some("Queue"));
    /// assert_eq!(reg.get("Queue").unwrap().shared_typeid(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shared_typeid(&self) -> Option<&str> {
        self.shared_of.as_deref()
    }

    pub(crate) fn set_shared_typeid(mut self, typeid: &str) -> TypeSpec {
        self.shared_of = Some(typeid.to_string());
        self
    }

    /// The typeid.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::sdk::TypeSpec::result_only("X").typeid(), "X");
    /// ```
    pub fn typeid(&self) -> &str {
        &self.typeid
    }

    /// True when `create` can build this typeid.
    ///
    /// ```
    /// assert!(!mpshare::managers::sdk::TypeSpec::result_only("X").has_factory());
    /// ```
    pub fn has_factory(&self) -> bool {
        self.factory.is_some()
    }

    /// The fixed exposed list, if any.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::TypeSpec::result_only("X").exposed_list().is_none());
    /// ```
    pub fn exposed_list(&self) -> Option<&[String]> {
        self.exposed.as_deref()
    }

    /// The typeid `method`'s result becomes, if `method` is in `method_to_typeid`.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::TypeSpec::result_only("X").result_typeid("f").is_none());
    /// ```
    pub fn result_typeid(&self, method: &str) -> Option<&str> {
        self.method_to_typeid.get(method).map(String::as_str)
    }

    /// Runs the factory.
    ///
    /// ```
    /// use mpshare::managers::sdk::{CallCtx, Registry};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let reg = Registry::sync_manager();
    /// let obj = reg.get("list").unwrap()
    ///     .create(&CallCtx::detached(1), &[PyValue::list(vec![PyValue::Int(1)])], &PyDict::new())
    ///     .unwrap();
    /// assert_eq!(obj.repr(), "[1]");
    /// ```
    pub fn create(
        &self,
        ctx: &CallCtx,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<Arc<dyn ServedObject>, CallError> {
        match &self.factory {
            Some(f) => f(ctx, args, kwargs),
            None => Err(CallError::Traceback(traceback_text(
                "TypeError",
                &format!("typeid {:?} cannot be created directly", self.typeid),
            ))),
        }
    }
}

impl fmt::Debug for TypeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeSpec")
            .field("typeid", &self.typeid)
            .field("factory", &self.factory.is_some())
            .field("exposed", &self.exposed)
            .field("method_to_typeid", &self.method_to_typeid)
            .finish()
    }
}

/// Typeids a server can create, by name.
///
/// ```
/// use mpshare::managers::sdk::Registry;
/// let reg = Registry::sync_manager();
/// assert!(reg.get("dict").is_some());
/// assert!(reg.get("NoSuchType").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Registry {
    types: HashMap<String, TypeSpec>,
}

impl Registry {
    /// An empty registry.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::Registry::new().get("dict").is_none());
    /// ```
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds or replaces a typeid.
    ///
    /// ```
    /// use mpshare::managers::sdk::{Registry, TypeSpec};
    /// let mut reg = Registry::new();
    /// reg.register(TypeSpec::result_only("X"));
    /// assert!(reg.get("X").is_some());
    /// ```
    pub fn register(&mut self, spec: TypeSpec) {
        self.types.insert(spec.typeid.clone(), spec);
    }

    /// The typeid's registration.
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::Registry::new().get("X").is_none());
    /// ```
    pub fn get(&self, typeid: &str) -> Option<&TypeSpec> {
        self.types.get(typeid)
    }

    /// Registered typeid names (unordered).
    ///
    /// ```
    /// assert!(mpshare::managers::sdk::Registry::sync_manager().typeids().any(|t| t == "Barrier"));
    /// ```
    pub fn typeids(&self) -> impl Iterator<Item = &str> + '_ {
        self.types.keys().map(String::as_str)
    }
}

/// The exposed names as owned strings.
pub(crate) fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Locks a mutex, ignoring poisoning (a panicking call must not wedge the object for everyone).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
