//! `Queue` / `JoinableQueue`: `queue.Queue(maxsize=0)` semantics.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline, truthy};
use crate::managers::sdk::{
    int_arg, lock, names, timeout_arg, CallCtx, CallError, PinSet, ServedObject,
};
use crate::managers::wire;

#[derive(Debug, Default)]
struct State {
    items: VecDeque<PyValue>,
    unfinished: u64,
    /// Set by `shutdown()` (Python 3.13's `Queue.shutdown`).
    is_shutdown: bool,
    pins: PinSet,
}

/// The `Queue` and `JoinableQueue` typeids. A caller that goes away while blocked in `get` never
/// takes an item: the liveness of its connection is checked right before an item is handed over.
///
/// ```
/// use mpshare::managers::{objects::queue::QueueObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let q = QueueObject::create(&[], &PyDict::new()).unwrap();
/// let ctx = CallCtx::detached(1);
/// q.call(&ctx, "put", &[PyValue::Int(42)], &PyDict::new()).unwrap();
/// assert_eq!(q.call(&ctx, "get", &[], &PyDict::new()).unwrap(), PyValue::Int(42));
/// assert!(q.call(&ctx, "get_nowait", &[], &PyDict::new()).is_err());
/// // Python 3.13's shutdown(): put fails, get drains what is left, then fails.
/// q.call(&ctx, "put", &[PyValue::Int(1)], &PyDict::new()).unwrap();
/// q.call(&ctx, "shutdown", &[], &PyDict::new()).unwrap();
/// assert!(q.call(&ctx, "put", &[PyValue::Int(2)], &PyDict::new()).is_err());
/// assert_eq!(q.call(&ctx, "get", &[], &PyDict::new()).unwrap(), PyValue::Int(1));
/// assert!(q.call(&ctx, "get", &[], &PyDict::new()).is_err()); // queue.ShutDown, not a hang
/// ```
#[derive(Debug)]
pub struct QueueObject {
    maxsize: i64,
    state: Mutex<State>,
    cv: Condvar,
}

impl QueueObject {
    /// `queue.Queue(maxsize=0)`.
    ///
    /// ```
    /// use mpshare::managers::objects::queue::QueueObject;
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert!(QueueObject::create(&[PyValue::Int(2)], &PyDict::new()).is_ok());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<QueueObject, CallError> {
        let b = bind_args("Queue", args, kwargs, &["maxsize"], 0)?;
        let maxsize = match b[0] {
            Some(v) => int_arg(v)?,
            None => 0,
        };
        Ok(QueueObject {
            maxsize,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        })
    }

    fn full(&self, st: &State) -> bool {
        self.maxsize > 0 && st.items.len() as i64 >= self.maxsize
    }

    fn put(
        &self,
        ctx: &CallCtx,
        item: PyValue,
        block: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<PyValue, CallError> {
        let dl = deadline(timeout);
        let mut st = lock(&self.state);
        if st.is_shutdown {
            return Err(CallError::Raise(shut_down()));
        }
        while self.full(&st) {
            if !block {
                return Err(CallError::Raise(wire::queue_full()));
            }
            let (g, timed_out) = ctx.wait(&self.cv, st, dl)?;
            st = g;
            if st.is_shutdown {
                return Err(CallError::Raise(shut_down()));
            }
            if timed_out && self.full(&st) {
                return Err(CallError::Raise(wire::queue_full()));
            }
        }
        let incoming = super::contains_proxy(&item);
        st.items.push_back(item);
        st.unfinished += 1;
        if incoming || !st.pins.is_empty() {
            let st = &mut *st;
            st.pins.refresh(ctx, st.items.iter());
        }
        self.cv.notify_all();
        Ok(PyValue::None)
    }

    fn get(
        &self,
        ctx: &CallCtx,
        block: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<PyValue, CallError> {
        let dl = deadline(timeout);
        let mut st = lock(&self.state);
        loop {
            if !st.items.is_empty() {
                // Never hand an item to a caller that is gone: it would be lost.
                if let Err(e) = ctx.check() {
                    self.cv.notify_all();
                    return Err(e);
                }
                let item = st.items.pop_front().unwrap_or(PyValue::None);
                if !st.pins.is_empty() {
                    let st = &mut *st;
                    st.pins.refresh(ctx, st.items.iter());
                }
                self.cv.notify_all();
                return Ok(item);
            }
            if st.is_shutdown {
                return Err(CallError::Raise(shut_down()));
            }
            if !block {
                return Err(CallError::Raise(wire::queue_empty()));
            }
            let (g, timed_out) = ctx.wait(&self.cv, st, dl)?;
            st = g;
            if timed_out && st.items.is_empty() {
                return Err(CallError::Raise(wire::queue_empty()));
            }
        }
    }
}

/// `queue.ShutDown()` (Python 3.13+).
fn shut_down() -> PyValue {
    wire::exception("queue.ShutDown", vec![])
}

impl QueueObject {
    /// CPython 3.13's exposed list of `Queue`/`JoinableQueue` (3.11/3.12 lack `shutdown`; an extra
    /// name is harmless to their `AutoProxy`).
    pub const EXPOSED: &'static [&'static str] = &[
        "empty",
        "full",
        "get",
        "get_nowait",
        "join",
        "put",
        "put_nowait",
        "qsize",
        "shutdown",
        "task_done",
    ];
}

impl ServedObject for QueueObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "put" => {
                let b = bind_args(method, args, kwargs, &["item", "block", "timeout"], 1)?;
                let block = b[1].is_none_or(truthy);
                let timeout = timeout_arg(b[2])?;
                self.put(ctx, b[0].cloned().unwrap_or(PyValue::None), block, timeout)
            }
            "put_nowait" => {
                let b = bind_args(method, args, kwargs, &["item"], 1)?;
                self.put(ctx, b[0].cloned().unwrap_or(PyValue::None), false, None)
            }
            "get" => {
                let b = bind_args(method, args, kwargs, &["block", "timeout"], 0)?;
                let block = b[0].is_none_or(truthy);
                let timeout = timeout_arg(b[1])?;
                self.get(ctx, block, timeout)
            }
            "get_nowait" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.get(ctx, false, None)
            }
            "qsize" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Int(lock(&self.state).items.len() as i64))
            }
            "empty" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Bool(lock(&self.state).items.is_empty()))
            }
            "full" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Bool(self.full(&lock(&self.state))))
            }
            "task_done" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let mut st = lock(&self.state);
                if st.unfinished == 0 {
                    return Err(CallError::value_error("task_done() called too many times"));
                }
                st.unfinished -= 1;
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            "shutdown" => {
                let b = bind_args(method, args, kwargs, &["immediate"], 0)?;
                let immediate = b[0].is_some_and(truthy);
                let mut st = lock(&self.state);
                st.is_shutdown = true;
                if immediate {
                    let n = st.items.len() as u64;
                    st.items.clear();
                    st.unfinished = st.unfinished.saturating_sub(n);
                    let st = &mut *st;
                    st.pins.refresh(ctx, st.items.iter());
                }
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            "join" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let mut st = lock(&self.state);
                while st.unfinished > 0 {
                    st = ctx.wait(&self.cv, st, None)?.0;
                }
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Queue", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        format!(
            "<queue.Queue object (qsize={})>",
            lock(&self.state).items.len()
        )
    }
}
