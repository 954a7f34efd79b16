//! `Iterator`: the result typeid of `dict.__iter__` (exposed `__next__ send throw close`).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{lock, names, CallCtx, CallError, ServedObject};
use crate::managers::wire;

/// An iterator over a snapshot of values; the end is `StopIteration()`.
///
/// ```
/// use mpshare::managers::{objects::iterator::IteratorObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let it = IteratorObject::new(vec![PyValue::str("a")]);
/// let ctx = CallCtx::detached(1);
/// assert_eq!(it.call(&ctx, "__next__", &[], &PyDict::new()).unwrap(), PyValue::str("a"));
/// assert!(it.call(&ctx, "__next__", &[], &PyDict::new()).is_err());
/// ```
#[derive(Default)]
pub struct IteratorObject {
    items: Mutex<VecDeque<PyValue>>,
    /// Raised by the next `__next__` (CPython's "changed size during iteration"), if any.
    check: Option<IterCheck>,
    /// Set once the iterator ended or failed: it stays ended (CPython's iterators are sticky).
    ended: Mutex<Option<PyValue>>,
}

/// Asked before every step: `Err(exception)` ends the iterator with that exception.
type IterCheck = Box<dyn Fn() -> Result<(), PyValue> + Send + Sync>;

impl std::fmt::Debug for IteratorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IteratorObject")
            .field("items", &self.items)
            .field("checked", &self.check.is_some())
            .finish()
    }
}

impl IteratorObject {
    /// An iterator yielding `items` in order.
    ///
    /// ```
    /// use mpshare::managers::{objects::iterator::IteratorObject, sdk::ServedObject};
    /// assert_eq!(IteratorObject::new(vec![]).exposed()[0], "__next__");
    /// ```
    pub fn new(items: Vec<PyValue>) -> IteratorObject {
        IteratorObject {
            items: Mutex::new(items.into()),
            check: None,
            ended: Mutex::new(None),
        }
    }

    /// An iterator yielding `items` in order while `check` passes; when it fails, this and
    /// every later `__next__` raise its exception (how CPython's dict iterator reports a dict
    /// that changed size). Once exhausted, the iterator stays exhausted without checking.
    ///
    /// ```
    /// use mpshare::managers::objects::{iterator::IteratorObject, CallCtx, ServedObject};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let changed = Arc::new(AtomicBool::new(false));
    /// let c = changed.clone();
    /// let it = IteratorObject::checked(vec![PyValue::Int(1), PyValue::Int(2)], move || {
    ///     if c.load(Ordering::SeqCst) { Err(PyValue::exception("builtins", "RuntimeError", vec![])) } else { Ok(()) }
    /// });
    /// let ctx = CallCtx::detached(1);
    /// assert_eq!(it.call(&ctx, "__next__", &[], &PyDict::new()).unwrap(), PyValue::Int(1));
    /// changed.store(true, Ordering::SeqCst);
    /// assert!(it.call(&ctx, "__next__", &[], &PyDict::new()).is_err());
    /// changed.store(false, Ordering::SeqCst);
    /// assert!(it.call(&ctx, "__next__", &[], &PyDict::new()).is_err()); // sticky
    /// ```
    pub fn checked(
        items: Vec<PyValue>,
        check: impl Fn() -> Result<(), PyValue> + Send + Sync + 'static,
    ) -> IteratorObject {
        IteratorObject {
            items: Mutex::new(items.into()),
            check: Some(Box::new(check)),
            ended: Mutex::new(None),
        }
    }

    fn next(&self) -> Result<PyValue, CallError> {
        let mut ended = lock(&self.ended);
        if let Some(e) = ended.as_ref() {
            return Err(CallError::Raise(e.clone()));
        }
        if let Some(check) = &self.check {
            if let Err(e) = check() {
                lock(&self.items).clear();
                *ended = Some(e.clone());
                return Err(CallError::Raise(e));
            }
        }
        match lock(&self.items).pop_front() {
            Some(v) => Ok(v),
            None => {
                let stop = wire::stop_iteration();
                *ended = Some(stop.clone());
                Err(CallError::Raise(stop))
            }
        }
    }
}

impl IteratorObject {
    /// The methods a `Iterator` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["__next__", "send", "throw", "close"];
}

impl ServedObject for IteratorObject {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "__next__" | "send" => self.next(),
            "throw" => {
                lock(&self.items).clear();
                match args.first() {
                    Some(e) if e.as_exception().is_some() => Err(CallError::Raise(e.clone())),
                    Some(PyValue::Global { module, name }) => {
                        Err(CallError::Raise(PyValue::exception(module, name, vec![])))
                    }
                    _ => Err(CallError::type_error(
                        "throw() argument must be an exception",
                    )),
                }
            }
            "close" => {
                lock(&self.items).clear();
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("iterator", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        "<dict_keyiterator object>".to_string()
    }
}
