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
#[derive(Debug, Default)]
pub struct IteratorObject {
    items: Mutex<VecDeque<PyValue>>,
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
            "__next__" | "send" => lock(&self.items)
                .pop_front()
                .ok_or_else(|| CallError::Raise(wire::stop_iteration())),
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
