//! `Condition`: `threading.Condition()` with its own `RLock`, owned per connection.

use std::collections::{HashSet, VecDeque};
use std::sync::{Condvar, Mutex};

use super::locks::lock_acquire_args;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline};
use crate::managers::sdk::{
    int_arg, lock, names, timeout_arg, CallCtx, CallError, ConnId, ServedObject,
};

#[derive(Debug, Default)]
struct State {
    owner: Option<ConnId>,
    count: u64,
    waiters: VecDeque<u64>,
    notified: HashSet<u64>,
    next_waiter: u64,
}

/// The `Condition` typeid.
///
/// ```
/// use mpshare::managers::objects::{condition::ConditionObject, CallCtx, ServedObject};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let c = ConditionObject::default();
/// let ctx = CallCtx::detached(1);
/// assert!(c.call(&ctx, "notify", &[], &PyDict::new()).is_err()); // not acquired
/// c.call(&ctx, "acquire", &[], &PyDict::new()).unwrap();
/// assert_eq!(c.call(&ctx, "wait", &[PyValue::Float(0.01)], &PyDict::new()).unwrap(), PyValue::Bool(false));
/// c.call(&ctx, "release", &[], &PyDict::new()).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct ConditionObject {
    state: Mutex<State>,
    cv: Condvar,
}

impl ConditionObject {
    /// `threading.Condition(lock=None)` (only `None` is supported for `lock`).
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::condition::ConditionObject;
    /// assert!(ConditionObject::create(&[], &PyDict::new()).is_ok());
    /// assert!(ConditionObject::create(&[PyValue::Int(1)], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<ConditionObject, CallError> {
        let b = bind_args("Condition", args, kwargs, &["lock"], 0)?;
        if b[0].is_some_and(|l| !l.is_none()) {
            return Err(CallError::type_error(
                "Condition(lock=...) is not supported by this server: use Condition()",
            ));
        }
        Ok(ConditionObject::default())
    }

    /// Takes the internal lock for the caller (re-entrant).
    fn acquire(
        &self,
        ctx: &CallCtx,
        blocking: bool,
        timeout: Option<std::time::Duration>,
        count: u64,
    ) -> Result<bool, CallError> {
        let dl = deadline(timeout);
        let mut st = lock(&self.state);
        loop {
            match st.owner {
                Some(o) if o == ctx.conn() => {
                    st.count += count;
                    return Ok(true);
                }
                None => {
                    ctx.check()?;
                    st.owner = Some(ctx.conn());
                    st.count = count;
                    return Ok(true);
                }
                Some(_) => {}
            }
            if !blocking {
                return Ok(false);
            }
            let (g, timed_out) = ctx.wait(&self.cv, st, dl)?;
            st = g;
            if timed_out && st.owner.is_some_and(|o| o != ctx.conn()) {
                return Ok(false);
            }
        }
    }

    fn wait(&self, ctx: &CallCtx, timeout: Option<std::time::Duration>) -> Result<bool, CallError> {
        let dl = deadline(timeout);
        let mut st = lock(&self.state);
        if st.owner != Some(ctx.conn()) {
            return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
        }
        let saved = st.count;
        st.owner = None;
        st.count = 0;
        let wid = st.next_waiter;
        st.next_waiter += 1;
        st.waiters.push_back(wid);
        self.cv.notify_all();
        let mut notified = false;
        let mut aborted = None;
        loop {
            if st.notified.remove(&wid) {
                notified = true;
                break;
            }
            match ctx.wait(&self.cv, st, dl) {
                Ok((g, timed_out)) => {
                    st = g;
                    if timed_out {
                        notified = st.notified.remove(&wid);
                        break;
                    }
                }
                Err(e) => {
                    st = lock(&self.state);
                    aborted = Some(e);
                    break;
                }
            }
        }
        st.waiters.retain(|w| *w != wid);
        if let Some(e) = aborted {
            // Pass a notification meant for us on to another waiter.
            if st.notified.remove(&wid) {
                if let Some(w) = st.waiters.pop_front() {
                    st.notified.insert(w);
                    self.cv.notify_all();
                }
            }
            return Err(e);
        }
        drop(st);
        self.acquire(ctx, true, None, saved)?;
        Ok(notified)
    }
}

impl ConditionObject {
    /// The methods a `Condition` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] =
        &["acquire", "release", "wait", "notify", "notify_all"];
}

impl ServedObject for ConditionObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "acquire" => {
                let (blocking, timeout) = lock_acquire_args(args, kwargs)?;
                self.acquire(ctx, blocking, timeout, 1).map(PyValue::Bool)
            }
            "release" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let mut st = lock(&self.state);
                if st.owner != Some(ctx.conn()) {
                    return Err(CallError::runtime_error("cannot release un-acquired lock"));
                }
                st.count -= 1;
                if st.count == 0 {
                    st.owner = None;
                    self.cv.notify_all();
                }
                Ok(PyValue::None)
            }
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                self.wait(
                    ctx,
                    timeout_arg(b[0]).or_else(|e| match b[0].and_then(PyValue::as_f64) {
                        Some(t) if t < 0.0 => Ok(Some(std::time::Duration::ZERO)),
                        _ => Err(e),
                    })?,
                )
                .map(PyValue::Bool)
            }
            "notify" | "notify_all" => {
                let n = if method == "notify" {
                    let b = bind_args(method, args, kwargs, &["n"], 0)?;
                    match b[0] {
                        Some(v) => int_arg(v)?.max(0) as usize,
                        None => 1,
                    }
                } else {
                    bind_args(method, args, kwargs, &[], 0)?;
                    usize::MAX
                };
                let mut st = lock(&self.state);
                if st.owner != Some(ctx.conn()) {
                    return Err(CallError::runtime_error(
                        "cannot notify on un-acquired lock",
                    ));
                }
                let mut k = 0;
                while k < n {
                    match st.waiters.pop_front() {
                        Some(w) => {
                            st.notified.insert(w);
                            k += 1;
                        }
                        None => break,
                    }
                }
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Condition", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let st = lock(&self.state);
        format!(
            "<Condition(<{} _thread.RLock object count={}>, {})>",
            if st.owner.is_some() {
                "locked"
            } else {
                "unlocked"
            },
            st.count,
            st.waiters.len()
        )
    }

    fn on_disconnect(&self, conn: ConnId) {
        let mut st = lock(&self.state);
        if st.owner == Some(conn) {
            st.owner = None;
            st.count = 0;
            self.cv.notify_all();
        }
    }
}
