//! Exception values as CPython pickles them (`#ERROR` payloads) and their mapping to
//! [`Error::Remote`].

use crate::managers::pickle::PyValue;
use crate::Error;

/// An exception instance of the qualified class `"module.Name"` (e.g. `"builtins.KeyError"`,
/// `"_queue.Empty"`), pickled as CPython does (global + args + `REDUCE`).
///
/// ```
/// use mpshare::managers::wire::exception;
/// use mpshare::managers::pickle::PyValue;
/// let e = exception("queue.Full", vec![]);
/// assert_eq!(e.as_exception().unwrap().0, "queue");
/// ```
pub fn exception(class: &str, args: Vec<PyValue>) -> PyValue {
    let (module, name) = class.rsplit_once('.').unwrap_or(("builtins", class));
    PyValue::exception(module, name, args)
}

/// `KeyError(key)`.
///
/// ```
/// use mpshare::managers::wire::key_error;
/// assert_eq!(key_error("k".into()).to_string(), "KeyError('k')");
/// ```
pub fn key_error(key: PyValue) -> PyValue {
    exception("builtins.KeyError", vec![key])
}

/// `IndexError(msg)`.
///
/// ```
/// use mpshare::managers::wire::index_error;
/// assert_eq!(index_error("list index out of range").to_string(), "IndexError('list index out of range')");
/// ```
pub fn index_error(msg: &str) -> PyValue {
    exception("builtins.IndexError", vec![PyValue::str(msg)])
}

/// `AttributeError(msg)` (3.11 form, without the 3.12 `name`/`obj` state; accepted by 3.11–3.13).
///
/// ```
/// use mpshare::managers::wire::attribute_error;
/// assert!(attribute_error("x").to_string().starts_with("AttributeError"));
/// ```
pub fn attribute_error(msg: &str) -> PyValue {
    exception("builtins.AttributeError", vec![PyValue::str(msg)])
}

/// `TypeError(msg)`.
///
/// ```
/// use mpshare::managers::wire::type_error;
/// assert_eq!(type_error("unhashable type: 'list'").as_exception().unwrap().1, "TypeError");
/// ```
pub fn type_error(msg: &str) -> PyValue {
    exception("builtins.TypeError", vec![PyValue::str(msg)])
}

/// `ValueError(msg)`.
///
/// ```
/// use mpshare::managers::wire::value_error;
/// assert_eq!(value_error("x").as_exception().unwrap().1, "ValueError");
/// ```
pub fn value_error(msg: &str) -> PyValue {
    exception("builtins.ValueError", vec![PyValue::str(msg)])
}

/// `RuntimeError(msg)`.
///
/// ```
/// use mpshare::managers::wire::runtime_error;
/// assert_eq!(runtime_error("release unlocked lock").to_string(), "RuntimeError('release unlocked lock')");
/// ```
pub fn runtime_error(msg: &str) -> PyValue {
    exception("builtins.RuntimeError", vec![PyValue::str(msg)])
}

/// `StopIteration()`.
///
/// ```
/// use mpshare::managers::wire::stop_iteration;
/// assert_eq!(stop_iteration().to_string(), "StopIteration()");
/// ```
pub fn stop_iteration() -> PyValue {
    exception("builtins.StopIteration", vec![])
}

/// `queue.Empty()` — pickled as `_queue.Empty` (its real module).
///
/// ```
/// use mpshare::managers::wire::queue_empty;
/// assert_eq!(queue_empty().as_exception().unwrap().0, "_queue");
/// ```
pub fn queue_empty() -> PyValue {
    exception("_queue.Empty", vec![])
}

/// `queue.Full()`.
///
/// ```
/// use mpshare::managers::wire::queue_full;
/// assert_eq!(queue_full().as_exception().unwrap().0, "queue");
/// ```
pub fn queue_full() -> PyValue {
    exception("queue.Full", vec![])
}

/// `threading.BrokenBarrierError()`.
///
/// ```
/// use mpshare::managers::wire::broken_barrier_error;
/// assert_eq!(broken_barrier_error().as_exception().unwrap().1, "BrokenBarrierError");
/// ```
pub fn broken_barrier_error() -> PyValue {
    exception("threading.BrokenBarrierError", vec![])
}

/// Python's `str(exc)` for an exception value: `''` without args, `str(arg)` with one
/// (`repr(arg)` for `KeyError`), `repr(args)` with several.
///
/// ```
/// use mpshare::managers::wire::{exception, exception_message};
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(exception_message(&exception("builtins.ValueError", vec![PyValue::str("bad")])), "bad");
/// assert_eq!(exception_message(&exception("builtins.KeyError", vec![PyValue::str("k")])), "'k'");
/// assert_eq!(exception_message(&exception("x.E", vec![PyValue::Int(1), PyValue::Int(2)])), "(1, 2)");
/// ```
pub fn exception_message(exc: &PyValue) -> String {
    match exc.as_exception() {
        Some((_, name, args)) => match args {
            [] => String::new(),
            [one] => match one {
                PyValue::Str(s) if name != "KeyError" => s.clone(),
                other => other.to_string(),
            },
            many => PyValue::Tuple(many.to_vec()).to_string(),
        },
        None => exc.to_string(),
    }
}

/// Turns an `#ERROR` payload into [`Error::Remote`] `{ class: "module.Name", message: str(exc) }`.
///
/// ```
/// use mpshare::managers::wire::{exception_to_error, queue_empty};
/// let e = exception_to_error(&queue_empty());
/// assert_eq!(e.to_string(), "remote _queue.Empty: ");
/// ```
pub fn exception_to_error(exc: &PyValue) -> Error {
    let class = match exc.as_exception() {
        Some((m, n, _)) => format!("{m}.{n}"),
        None => match exc.as_new_obj() {
            Some((m, n, _)) => format!("{m}.{n}"),
            None => exc.type_name().to_string(),
        },
    };
    Error::Remote {
        class,
        message: exception_message(exc),
    }
}
