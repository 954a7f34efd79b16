//! `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`.
//!
//! Beyond CPython: what a connection holds is released when that connection goes away, and a
//! caller that goes away while blocked in `acquire` never takes the lock.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline, truthy};
use crate::managers::sdk::{lock, names, CallCtx, CallError, ConnId, ServedObject};

/// Parses `acquire(blocking=True, timeout=None)` of `threading.Semaphore` (a negative timeout
/// waits not at all; a timeout with `blocking=False` is CPython's `ValueError`).
pub(crate) fn semaphore_acquire_args(
    args: &[PyValue],
    kwargs: &PyDict,
) -> Result<(bool, Option<Duration>), CallError> {
    let b = bind_args("acquire", args, kwargs, &["blocking", "timeout"], 0)?;
    let blocking = b[0].is_none_or(truthy);
    let timeout = match b[1] {
        None | Some(PyValue::None) => None,
        Some(v) => {
            let t = v.as_f64().ok_or_else(|| {
                CallError::type_error(&format!(
                    "'{}' object cannot be interpreted as a number",
                    v.type_name()
                ))
            })?;
            Some(Duration::try_from_secs_f64(t.max(0.0)).unwrap_or(Duration::from_secs(1 << 30)))
        }
    };
    if !blocking && timeout.is_some() {
        return Err(CallError::value_error(
            "can't specify timeout for non-blocking acquire",
        ));
    }
    Ok((blocking, timeout))
}

/// Parses `acquire(blocking=True, timeout=-1)` of `threading.Lock`/`RLock`.
pub(crate) fn lock_acquire_args(
    args: &[PyValue],
    kwargs: &PyDict,
) -> Result<(bool, Option<Duration>), CallError> {
    let b = bind_args("acquire", args, kwargs, &["blocking", "timeout"], 0)?;
    let blocking = b[0].is_none_or(truthy);
    let t = match b[1] {
        None | Some(PyValue::None) => -1.0,
        Some(v) => v.as_f64().ok_or_else(|| {
            CallError::type_error(&format!(
                "'{}' object cannot be interpreted as a number",
                v.type_name()
            ))
        })?,
    };
    if !blocking && t != -1.0 {
        return Err(CallError::value_error(
            "can't specify a timeout for a non-blocking call",
        ));
    }
    if t < 0.0 && t != -1.0 {
        return Err(CallError::value_error(
            "timeout value must be a non-negative number",
        ));
    }
    Ok((
        blocking,
        if t < 0.0 {
            None
        } else {
            Some(Duration::try_from_secs_f64(t).unwrap_or(Duration::from_secs(1 << 30)))
        },
    ))
}

fn no_args(method: &str, args: &[PyValue], kwargs: &PyDict) -> Result<(), CallError> {
    bind_args(method, args, kwargs, &[], 0).map(|_| ())
}

#[derive(Debug, Default)]
struct LockState {
    locked: bool,
    owner: Option<ConnId>,
    /// Releases owed by a vanished holder whose hold the server gave back: a later `release`
    /// from a connection not holding the lock pays one instead of releasing again (CPython's
    /// child-acquires, parent-releases pattern keeps working). Cleared when a holder releases.
    owed: u64,
}

/// The `Lock` typeid (`threading.Lock`): no owner for `release`, but a lock still held by a
/// connection that goes away is released.
///
/// ```
/// use mpshare::managers::{objects::locks::LockObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let l = LockObject::default();
/// let ctx = CallCtx::detached(1);
/// assert_eq!(l.call(&ctx, "acquire", &[], &PyDict::new()).unwrap(), PyValue::Bool(true));
/// assert_eq!(l.call(&ctx, "acquire", &[PyValue::Bool(false)], &PyDict::new()).unwrap(), PyValue::Bool(false));
/// l.on_disconnect(1);
/// assert_eq!(l.call(&ctx, "acquire", &[PyValue::Bool(false)], &PyDict::new()).unwrap(), PyValue::Bool(true));
/// ```
#[derive(Debug, Default)]
pub struct LockObject {
    state: Mutex<LockState>,
    cv: Condvar,
}

impl LockObject {
    /// `threading.Lock()`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::locks::LockObject;
    /// assert!(LockObject::create(&[], &PyDict::new()).is_ok());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<LockObject, CallError> {
        no_args("Lock", args, kwargs)?;
        Ok(LockObject::default())
    }
}

impl LockObject {
    /// The methods a `Lock` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["acquire", "release"];
}

impl ServedObject for LockObject {
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
                let dl = deadline(timeout);
                let mut st = lock(&self.state);
                loop {
                    if !st.locked {
                        ctx.check()?;
                        st.locked = true;
                        st.owner = Some(ctx.conn());
                        return Ok(PyValue::Bool(true));
                    }
                    if !blocking {
                        return Ok(PyValue::Bool(false));
                    }
                    let (g, timed_out) = ctx.wait(&self.cv, st, dl)?;
                    st = g;
                    if timed_out && st.locked {
                        return Ok(PyValue::Bool(false));
                    }
                }
            }
            "release" => {
                no_args(method, args, kwargs)?;
                let mut st = lock(&self.state);
                let holder = st.locked && st.owner == Some(ctx.conn());
                if !holder && st.owed > 0 {
                    // Pays the release of a vanished holder, already given back.
                    st.owed -= 1;
                    return Ok(PyValue::None);
                }
                if !st.locked {
                    return Err(CallError::runtime_error("release unlocked lock"));
                }
                // Like threading.Lock, any connection may release.
                if holder {
                    st.owed = 0;
                }
                st.locked = false;
                st.owner = None;
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            // For Condition(lock) (never exposed to clients): like threading.Condition with a
            // Lock, the lock is "owned" while anyone holds it.
            "#is_owned" => Ok(PyValue::Bool(lock(&self.state).locked)),
            "#release_save" => {
                let mut st = lock(&self.state);
                if !st.locked {
                    return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
                }
                st.locked = false;
                st.owner = None;
                self.cv.notify_all();
                Ok(PyValue::Int(1))
            }
            "#acquire_restore" => self.call(ctx, "acquire", &[], &PyDict::new()),
            _ => Err(CallError::no_method("lock", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let st = lock(&self.state);
        format!(
            "<{} _thread.lock object>",
            if st.locked { "locked" } else { "unlocked" }
        )
    }

    fn on_disconnect(&self, conn: ConnId) {
        let mut st = lock(&self.state);
        if st.locked && st.owner == Some(conn) {
            st.locked = false;
            st.owner = None;
            st.owed = 1;
            self.cv.notify_all();
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RState {
    pub(crate) owner: Option<ConnId>,
    pub(crate) count: u64,
}

/// The `RLock` typeid (`threading.RLock`): owned by the connection that acquired it.
///
/// ```
/// use mpshare::managers::{objects::locks::RLockObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let l = RLockObject::default();
/// let (a, b) = (CallCtx::detached(1), CallCtx::detached(2));
/// l.call(&a, "acquire", &[], &PyDict::new()).unwrap();
/// l.call(&a, "acquire", &[], &PyDict::new()).unwrap();
/// assert!(l.call(&b, "release", &[], &PyDict::new()).is_err());
/// assert_eq!(l.call(&b, "acquire", &[PyValue::Bool(false)], &PyDict::new()).unwrap(), PyValue::Bool(false));
/// ```
#[derive(Debug, Default)]
pub struct RLockObject {
    state: Mutex<RState>,
    cv: Condvar,
}

impl RLockObject {
    /// `threading.RLock()`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::locks::RLockObject;
    /// assert!(RLockObject::create(&[PyValue::Int(1)], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<RLockObject, CallError> {
        no_args("RLock", args, kwargs)?;
        Ok(RLockObject::default())
    }
}

/// Acquire a recursive lock owned by the caller's connection.
pub(crate) fn racquire(
    ctx: &CallCtx,
    m: &Mutex<RState>,
    cv: &Condvar,
    blocking: bool,
    timeout: Option<Duration>,
) -> Result<bool, CallError> {
    let dl = deadline(timeout);
    let mut st = lock(m);
    loop {
        match st.owner {
            Some(o) if o == ctx.conn() => {
                st.count += 1;
                return Ok(true);
            }
            None => {
                ctx.check()?;
                st.owner = Some(ctx.conn());
                st.count = 1;
                return Ok(true);
            }
            Some(_) => {}
        }
        if !blocking {
            return Ok(false);
        }
        let (g, timed_out) = ctx.wait(cv, st, dl)?;
        st = g;
        if timed_out && st.owner.is_some_and(|o| o != ctx.conn()) {
            return Ok(false);
        }
    }
}

/// Release one level of a recursive lock held by the caller's connection.
pub(crate) fn rrelease(ctx: &CallCtx, m: &Mutex<RState>, cv: &Condvar) -> Result<(), CallError> {
    let mut st = lock(m);
    if st.owner != Some(ctx.conn()) {
        return Err(CallError::runtime_error("cannot release un-acquired lock"));
    }
    st.count -= 1;
    if st.count == 0 {
        st.owner = None;
        cv.notify_all();
    }
    Ok(())
}

impl RLockObject {
    /// The methods a `RLock` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["acquire", "release"];
}

impl ServedObject for RLockObject {
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
                racquire(ctx, &self.state, &self.cv, blocking, timeout).map(PyValue::Bool)
            }
            "release" => {
                no_args(method, args, kwargs)?;
                rrelease(ctx, &self.state, &self.cv).map(|_| PyValue::None)
            }
            // For Condition(rlock) (never exposed to clients): RLock's _is_owned,
            // _release_save and _acquire_restore.
            "#is_owned" => Ok(PyValue::Bool(lock(&self.state).owner == Some(ctx.conn()))),
            "#release_save" => {
                let mut st = lock(&self.state);
                if st.owner != Some(ctx.conn()) {
                    return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
                }
                let count = st.count;
                st.owner = None;
                st.count = 0;
                self.cv.notify_all();
                Ok(PyValue::Int(count as i64))
            }
            "#acquire_restore" => {
                let count = args.first().and_then(PyValue::as_i64).unwrap_or(1).max(1) as u64;
                racquire(ctx, &self.state, &self.cv, true, None)?;
                lock(&self.state).count = count;
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("RLock", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let st = lock(&self.state);
        format!(
            "<{} _thread.RLock object owner={} count={}>",
            if st.owner.is_some() {
                "locked"
            } else {
                "unlocked"
            },
            st.owner.unwrap_or(0),
            st.count
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

#[derive(Debug, Default)]
struct SemState {
    value: i64,
    held: HashMap<ConnId, u64>,
    /// Units given back for vanished connections: a `release` from a connection holding no
    /// unit pays these first instead of raising the value again (as for `Lock`). Cleared when
    /// a holder's release leaves no unit held.
    owed: u64,
}

/// The `Semaphore` and `BoundedSemaphore` typeids. Acquisitions are counted per connection so
/// that the units a vanished connection still holds are given back.
///
/// ```
/// use mpshare::managers::{objects::locks::SemaphoreObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let s = SemaphoreObject::create(&[PyValue::Int(1)], &PyDict::new(), true).unwrap();
/// let ctx = CallCtx::detached(1);
/// assert!(s.call(&ctx, "release", &[], &PyDict::new()).is_err()); // bounded: too many
/// ```
#[derive(Debug)]
pub struct SemaphoreObject {
    initial: i64,
    bounded: bool,
    state: Mutex<SemState>,
    cv: Condvar,
}

impl SemaphoreObject {
    /// `threading.Semaphore(value=1)` / `BoundedSemaphore(value=1)`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::objects::locks::SemaphoreObject;
    /// assert!(SemaphoreObject::create(&[PyValue::Int(-1)], &PyDict::new(), false).is_err());
    /// ```
    pub fn create(
        args: &[PyValue],
        kwargs: &PyDict,
        bounded: bool,
    ) -> Result<SemaphoreObject, CallError> {
        let name = if bounded {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        };
        let b = bind_args(name, args, kwargs, &["value"], 0)?;
        let value = match b[0] {
            Some(v) => super::int_arg(v)?,
            None => 1,
        };
        if value < 0 {
            return Err(CallError::value_error(
                "semaphore initial value must be >= 0",
            ));
        }
        Ok(SemaphoreObject {
            initial: value,
            bounded,
            state: Mutex::new(SemState {
                value,
                held: HashMap::new(),
                owed: 0,
            }),
            cv: Condvar::new(),
        })
    }
}

impl SemaphoreObject {
    /// The methods a `Semaphore` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["acquire", "release"];
}

impl ServedObject for SemaphoreObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "acquire" => {
                let (blocking, timeout) = semaphore_acquire_args(args, kwargs)?;
                let dl = deadline(timeout);
                let mut st = lock(&self.state);
                loop {
                    if st.value > 0 {
                        ctx.check()?;
                        st.value -= 1;
                        *st.held.entry(ctx.conn()).or_default() += 1;
                        return Ok(PyValue::Bool(true));
                    }
                    if !blocking {
                        return Ok(PyValue::Bool(false));
                    }
                    let (g, timed_out) = ctx.wait(&self.cv, st, dl)?;
                    st = g;
                    if timed_out && st.value <= 0 {
                        return Ok(PyValue::Bool(false));
                    }
                }
            }
            "release" => {
                let b = bind_args(method, args, kwargs, &["n"], 0)?;
                let n = match b[0] {
                    Some(v) => super::int_arg(v)?,
                    None => 1,
                };
                if n < 1 {
                    return Err(CallError::value_error("n must be one or more"));
                }
                let mut st = lock(&self.state);
                let me = ctx.conn();
                let mut n = n;
                if !st.held.contains_key(&me) && st.owed > 0 {
                    let paid = st.owed.min(n as u64);
                    st.owed -= paid;
                    n -= paid as i64;
                    if n == 0 {
                        return Ok(PyValue::None);
                    }
                }
                let holder = st.held.contains_key(&me);
                if self.bounded && st.value + n > self.initial {
                    return Err(CallError::value_error("Semaphore released too many times"));
                }
                st.value += n;
                // Attribute the release: first to the caller's own units, then to others'.
                let mut left = n as u64;
                for conn in std::iter::once(me).chain(st.held.keys().copied().collect::<Vec<_>>()) {
                    if left == 0 {
                        break;
                    }
                    if let Some(h) = st.held.get_mut(&conn) {
                        let take = (*h).min(left);
                        *h -= take;
                        left -= take;
                        if *h == 0 {
                            st.held.remove(&conn);
                        }
                    }
                }
                if holder && st.held.is_empty() {
                    st.owed = 0;
                }
                self.cv.notify_all();
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Semaphore", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        format!(
            "<threading.{} at value={}/{}>",
            if self.bounded {
                "BoundedSemaphore"
            } else {
                "Semaphore"
            },
            lock(&self.state).value,
            self.initial
        )
    }

    fn on_disconnect(&self, conn: ConnId) {
        let mut st = lock(&self.state);
        if let Some(h) = st.held.remove(&conn) {
            st.value += h as i64;
            st.owed += h;
            if self.bounded {
                st.value = st.value.min(self.initial);
            }
            self.cv.notify_all();
        }
    }
}
