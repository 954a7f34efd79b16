//! `Condition`: `threading.Condition()` with its own `RLock`, owned per connection.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use super::locks::lock_acquire_args;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline};
use crate::managers::sdk::{
    int_arg, lock, names, timeout_arg, CallCtx, CallError, ConnId, ServedObject,
};
use crate::managers::wire::ProxyRef;

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
/// use mpshare::managers::{objects::condition::ConditionObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let c = ConditionObject::default();
/// let ctx = CallCtx::detached(1);
/// assert!(c.call(&ctx, "notify", &[], &PyDict::new()).is_err()); // not acquired
/// c.call(&ctx, "acquire", &[], &PyDict::new()).unwrap();
/// assert_eq!(c.call(&ctx, "wait", &[PyValue::Float(0.01)], &PyDict::new()).unwrap(), PyValue::Bool(false));
/// c.call(&ctx, "release", &[], &PyDict::new()).unwrap();
/// ```
#[derive(Default)]
pub struct ConditionObject {
    state: Mutex<State>,
    cv: Condvar,
    /// The `Lock`/`RLock` of `Condition(lock)`, when one was given (else the own RLock).
    external: Option<Arc<dyn ServedObject>>,
}

impl std::fmt::Debug for ConditionObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionObject")
            .field("state", &self.state)
            .field("external_lock", &self.external.is_some())
            .finish()
    }
}

impl ConditionObject {
    /// `threading.Condition(lock=None)` without a server behind it (`lock` must be `None`; see
    /// [`create_in`](Self::create_in) for a lock proxy).
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::condition::ConditionObject;
    /// assert!(ConditionObject::create(&[], &PyDict::new()).is_ok());
    /// assert!(ConditionObject::create(&[PyValue::Int(1)], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<ConditionObject, CallError> {
        ConditionObject::create_in(&CallCtx::detached(0), args, kwargs)
    }

    /// `threading.Condition(lock=None)` on a server: `lock` may be a proxy of this server's
    /// `Lock` or `RLock` (as `m.Condition(m.Lock())`), which the condition then uses.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::{condition::ConditionObject, CallCtx};
    /// let ctx = CallCtx::detached(1);
    /// assert!(ConditionObject::create_in(&ctx, &[PyValue::None], &PyDict::new()).is_ok());
    /// let e = ConditionObject::create_in(&ctx, &[PyValue::Int(1)], &PyDict::new()).unwrap_err();
    /// assert!(e.to_string().contains("expected None or a Lock/RLock proxy"));
    /// ```
    pub fn create_in(
        ctx: &CallCtx,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<ConditionObject, CallError> {
        let b = bind_args("Condition", args, kwargs, &["lock"], 0)?;
        let external = match b[0] {
            None | Some(PyValue::None) => None,
            Some(l) => Some(external_lock(ctx, l)?),
        };
        Ok(ConditionObject {
            external,
            ..ConditionObject::default()
        })
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

    /// Wait (state lock held in `st`) until waiter `wid` is notified or the deadline passes;
    /// `Ok(notified)`, with `wid` out of the waiter list. If the wait is aborted (the client
    /// went away), a notification already meant for `wid` is passed on to another waiter.
    fn await_notify<'s>(
        &'s self,
        ctx: &CallCtx,
        mut st: std::sync::MutexGuard<'s, State>,
        wid: u64,
        dl: Option<std::time::Instant>,
    ) -> Result<bool, CallError> {
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
            if st.notified.remove(&wid) {
                if let Some(w) = st.waiters.pop_front() {
                    st.notified.insert(w);
                    self.cv.notify_all();
                }
            }
            return Err(e);
        }
        Ok(notified)
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
        let notified = self.await_notify(ctx, st, wid, dl)?;
        self.acquire(ctx, true, None, saved)?;
        Ok(notified)
    }
}

impl ConditionObject {
    /// The methods a `Condition` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] =
        &["acquire", "release", "wait", "notify", "notify_all"];
}

/// The served `Lock`/`RLock` a `Condition(lock)` argument (a proxy) names.
fn external_lock(ctx: &CallCtx, l: &PyValue) -> Result<Arc<dyn ServedObject>, CallError> {
    let found = || {
        CallError::type_error(&format!(
            "Condition(lock): expected None or a Lock/RLock proxy of this server, found {}",
            l.type_name()
        ))
    };
    if !ProxyRef::is_proxy(l) {
        return Err(found());
    }
    let p = ProxyRef::from_value(l).map_err(|_| found())?;
    if !matches!(p.token.typeid.as_str(), "Lock" | "RLock") {
        return Err(CallError::type_error(&format!(
            "Condition(lock): expected a Lock or RLock proxy, found a {:?} proxy",
            p.token.typeid
        )));
    }
    ctx.table()
        .and_then(std::sync::Weak::upgrade)
        .and_then(|t| t.object(&p.token.id))
        .ok_or_else(|| {
            CallError::type_error(&format!(
                "Condition(lock): the lock {:?} is not an object of this server",
                p.token.id
            ))
        })
}

impl ConditionObject {
    /// `Condition(lock)`: acquire/release are the lock's; `wait` releases it fully, waits for a
    /// notification and takes it back (like `threading.Condition` with that lock).
    fn call_external(
        &self,
        ext: &Arc<dyn ServedObject>,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let none = PyDict::new();
        let owned = || -> Result<bool, CallError> {
            Ok(ext.call(ctx, "#is_owned", &[], &none)? == PyValue::Bool(true))
        };
        match method {
            "acquire" | "release" => ext.call(ctx, method, args, kwargs),
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                let timeout =
                    timeout_arg(b[0]).or_else(|e| match b[0].and_then(PyValue::as_f64) {
                        Some(t) if t < 0.0 => Ok(Some(std::time::Duration::ZERO)),
                        _ => Err(e),
                    })?;
                if !owned()? {
                    return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
                }
                let dl = deadline(timeout);
                let wid = {
                    let mut st = lock(&self.state);
                    let wid = st.next_waiter;
                    st.next_waiter += 1;
                    st.waiters.push_back(wid);
                    wid
                };
                let saved = match ext.call(ctx, "#release_save", &[], &none) {
                    Ok(s) => s,
                    Err(e) => {
                        lock(&self.state).waiters.retain(|w| *w != wid);
                        return Err(e);
                    }
                };
                let notified = self.await_notify(ctx, lock(&self.state), wid, dl)?;
                ext.call(ctx, "#acquire_restore", &[saved], &none)?;
                Ok(PyValue::Bool(notified))
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
                if !owned()? {
                    return Err(CallError::runtime_error(
                        "cannot notify on un-acquired lock",
                    ));
                }
                let mut st = lock(&self.state);
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
}

impl ServedObject for ConditionObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        if let Some(ext) = &self.external {
            return self.call_external(ext, ctx, method, args, kwargs);
        }
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
        if let Some(ext) = &self.external {
            return format!(
                "<Condition({}, {})>",
                ext.repr(),
                lock(&self.state).waiters.len()
            );
        }
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
        // What the connection took through the condition is given back by the lock.
        if let Some(ext) = &self.external {
            ext.on_disconnect(conn);
            return;
        }
        let mut st = lock(&self.state);
        if st.owner == Some(conn) {
            st.owner = None;
            st.count = 0;
            self.cv.notify_all();
        }
    }
}
