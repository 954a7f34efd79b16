//! `Barrier`: `threading.Barrier(parties, action=None, timeout=None)`.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline};
use crate::managers::sdk::{int_arg, lock, names, timeout_arg, CallCtx, CallError, ServedObject};
use crate::managers::wire;

#[derive(Debug, Default)]
struct State {
    count: i64,
    generation: u64,
    broken: bool,
    /// How recent generations ended: `(generation, tripped normally)`.
    ended: VecDeque<(u64, bool)>,
}

/// The `Barrier` typeid (`action` must be `None`). A party whose connection goes away while
/// waiting leaves the barrier instead of being counted.
///
/// ```
/// use mpshare::managers::{objects::barrier::BarrierObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let b = BarrierObject::create(&[PyValue::Int(1)], &PyDict::new()).unwrap();
/// let ctx = CallCtx::detached(1);
/// assert_eq!(b.call(&ctx, "wait", &[], &PyDict::new()).unwrap(), PyValue::Int(0));
/// assert_eq!(b.call(&ctx, "__getattribute__", &[PyValue::str("parties")], &PyDict::new()).unwrap(),
///     PyValue::Int(1));
/// ```
#[derive(Debug)]
pub struct BarrierObject {
    parties: i64,
    timeout: Option<Duration>,
    state: Mutex<State>,
    cv: Condvar,
}

fn broken() -> CallError {
    CallError::Raise(wire::broken_barrier_error())
}

impl BarrierObject {
    /// `threading.Barrier(parties, action=None, timeout=None)`.
    ///
    /// ```
    /// use mpshare::managers::objects::barrier::BarrierObject;
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert!(BarrierObject::create(&[PyValue::Int(0)], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<BarrierObject, CallError> {
        let b = bind_args(
            "Barrier",
            args,
            kwargs,
            &["parties", "action", "timeout"],
            1,
        )?;
        let parties = int_arg(b[0].unwrap_or(&PyValue::None))?;
        if parties < 1 {
            return Err(CallError::value_error("parties must be >= 1"));
        }
        if b[1].is_some_and(|a| !a.is_none()) {
            return Err(CallError::type_error(
                "Barrier(action=...) is not supported: the action is a Python function the server would have to run, and mpshare serve never runs client code; call it in the process that gets 0 from wait()",
            ));
        }
        Ok(BarrierObject {
            parties,
            timeout: timeout_arg(b[2])?,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    fn end_generation(&self, st: &mut State, ok: bool) {
        st.ended.push_back((st.generation, ok));
        if st.ended.len() > 64 {
            st.ended.pop_front();
        }
        st.generation += 1;
        st.count = 0;
        self.cv.notify_all();
    }

    fn wait(&self, ctx: &CallCtx, timeout: Option<Duration>) -> Result<PyValue, CallError> {
        let dl = deadline(timeout.or(self.timeout));
        let mut st = lock(&self.state);
        if st.broken {
            return Err(broken());
        }
        let index = st.count;
        st.count += 1;
        if st.count == self.parties {
            self.end_generation(&mut st, true);
            return Ok(PyValue::Int(index));
        }
        let generation_at_entry = st.generation;
        loop {
            match ctx.wait(&self.cv, st, dl) {
                Ok((g, timed_out)) => {
                    st = g;
                    if st.generation != generation_at_entry {
                        let ok = st
                            .ended
                            .iter()
                            .any(|(g, ok)| *g == generation_at_entry && *ok);
                        return if ok {
                            Ok(PyValue::Int(index))
                        } else {
                            Err(broken())
                        };
                    }
                    if st.broken {
                        return Err(broken());
                    }
                    if timed_out {
                        st.broken = true;
                        self.cv.notify_all();
                        return Err(broken());
                    }
                }
                Err(e) => {
                    // The party went away: it no longer counts.
                    let mut st = lock(&self.state);
                    if st.generation == generation_at_entry && st.count > 0 {
                        st.count -= 1;
                    }
                    return Err(e);
                }
            }
        }
    }
}

impl BarrierObject {
    /// The methods a `Barrier` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["__getattribute__", "wait", "abort", "reset"];
}

impl ServedObject for BarrierObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                self.wait(ctx, timeout_arg(b[0])?)
            }
            "abort" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let mut st = lock(&self.state);
                st.broken = true;
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            "reset" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let mut st = lock(&self.state);
                if st.count > 0 {
                    self.end_generation(&mut st, false);
                }
                st.broken = false;
                Ok(PyValue::None)
            }
            "__getattribute__" => {
                let b = bind_args(method, args, kwargs, &["name"], 1)?;
                let st = lock(&self.state);
                match b[0].and_then(PyValue::as_str) {
                    Some("parties") => Ok(PyValue::Int(self.parties)),
                    Some("n_waiting") => Ok(PyValue::Int(st.count)),
                    Some("broken") => Ok(PyValue::Bool(st.broken)),
                    Some(other) => Err(CallError::attribute_error(&format!(
                        "'Barrier' object has no attribute '{other}'"
                    ))),
                    None => Err(CallError::type_error("attribute name must be string")),
                }
            }
            _ => Err(CallError::no_method("Barrier", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let st = lock(&self.state);
        if st.broken {
            "<threading.Barrier: broken>".to_string()
        } else {
            format!("<threading.Barrier: waiters={}/{}>", st.count, self.parties)
        }
    }
}
