//! `Event`: `threading.Event()`.

use std::sync::{Condvar, Mutex};

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline};
use crate::managers::sdk::{lock, names, timeout_arg, CallCtx, CallError, ServedObject};

/// The `Event` typeid.
///
/// ```
/// use mpshare::managers::{objects::event::EventObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let e = EventObject::default();
/// let ctx = CallCtx::detached(1);
/// assert_eq!(e.call(&ctx, "wait", &[PyValue::Float(0.01)], &PyDict::new()).unwrap(), PyValue::Bool(false));
/// e.call(&ctx, "set", &[], &PyDict::new()).unwrap();
/// assert_eq!(e.call(&ctx, "wait", &[], &PyDict::new()).unwrap(), PyValue::Bool(true));
/// ```
#[derive(Debug, Default)]
pub struct EventObject {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl EventObject {
    /// `threading.Event()`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::event::EventObject;
    /// assert!(EventObject::create(&[], &PyDict::new()).is_ok());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<EventObject, CallError> {
        bind_args("Event", args, kwargs, &[], 0)?;
        Ok(EventObject::default())
    }
}

impl EventObject {
    /// The methods a `Event` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["is_set", "set", "clear", "wait"];
}

impl ServedObject for EventObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "is_set" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Bool(*lock(&self.flag)))
            }
            "set" | "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                *lock(&self.flag) = method == "set";
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                let t = match b[0].and_then(PyValue::as_f64) {
                    Some(t) if t < 0.0 => Some(std::time::Duration::ZERO),
                    _ => timeout_arg(b[0])?,
                };
                let dl = deadline(t);
                let mut f = lock(&self.flag);
                while !*f {
                    let (g, timed_out) = ctx.wait(&self.cv, f, dl)?;
                    f = g;
                    if timed_out {
                        break;
                    }
                }
                Ok(PyValue::Bool(*f))
            }
            _ => Err(CallError::no_method("Event", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        format!(
            "<threading.Event at 0x0: {}>",
            if *lock(&self.flag) { "set" } else { "unset" }
        )
    }
}
