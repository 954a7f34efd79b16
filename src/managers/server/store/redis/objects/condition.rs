//! `Condition` kept in Redis.
//!
//! Its own RLock uses the keys of a Redis RLock (`{ID}:own`, `{ID}:wq`, see
//! [`locks`](super::locks)). `{ID}:cw` lists the tokens of waiters in `wait`, oldest first;
//! each blocks on its notification list `{ID}:c:TOKEN`. `wait` releases the lock and registers
//! its token in one script; `notify(n)` pops n tokens and pushes a notification onto each (one
//! script). A waiter that times out removes its token (`LREM`): if it was already popped it had
//! been notified (and `wait` returns True). A waiter whose client vanishes after being notified
//! passes the notification on to the next waiter. `{ID}:cn` is a hash of the tokens notified
//! whose waiter has not yet taken the notification (each waiter's leaving script removes its
//! own): when a front-end dies, the notifications that went to its waiters go to the next live
//! waiters instead ([`node_gone`]), so a `notify()` is never lost with a dead waiter.
//!
//! `Condition(lock)` with a Lock/RLock proxy of the store: `{ID}:lk` holds `TYPEID:IDENT` of
//! that lock, whose keys (in its own slot) then do the locking; only `cw` and the
//! notifications stay in the condition's keys.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use redis::Script;

use super::locks::LockCore;
use super::wait;
use crate::managers::objects::condition::ConditionObject;
use crate::managers::objects::locks::lock_acquire_args;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, deadline, int_arg, names, timeout_arg, CallCtx, CallError, ConnId, ServedObject,
};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};
use crate::managers::wire::ProxyRef;

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Condition",
    parts: &["own", "wq", "cw", "lk", "cn"],
    init,
    open,
}];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    let b = bind_args("Condition", args, kwargs, &["lock"], 0)?;
    let l = match b[0] {
        None | Some(PyValue::None) => return Ok(vec![]),
        Some(l) => l,
    };
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
    if p.token.id.starts_with('L') || p.token.id.contains(['{', '}']) {
        // An object of one front-end's memory: the other front-ends could not reach it.
        return Err(CallError::type_error(&format!(
            "Condition(lock): the lock {:?} is not an object of this server's Redis store",
            p.token.id
        )));
    }
    Ok(vec![Init::Set(
        "lk",
        format!("{}:{}", p.token.typeid, p.token.id).into_bytes(),
    )])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisCondition {
        own: LockCore::new(backend.clone(), &ident, true),
        cw: backend.key(&ident, "cw"),
        cn: backend.key(&ident, "cn"),
        lk: backend.key(&ident, "lk"),
        cprefix: backend.key(&ident, "c:"),
        external: OnceLock::new(),
        ident,
        b: backend,
    })
}

/// Lua helper `notify_one(cw, cn, prefix)`: pops the oldest waiter token of `cw`, pushes a
/// notification onto its list `prefix .. token` (with an expiry) and records the token in
/// `cn` until its waiter takes it. Returns 1, or 0 when nobody waits.
const NOTIFY_ONE: &str = r"
local function notify_one(cw, cn, prefix)
  local t = redis.call('lpop', cw)
  if not t then return 0 end
  wake(prefix, t)
  redis.call('hset', cn, t, '1')
  return 1
end
";

fn script(body: &str) -> Script {
    wait::script(&format!("{NOTIFY_ONE}\n{body}"))
}

/// `notify(n)`: KEYS[1] = own (the condition's RLock; unchecked when ARGV[1] = ''), KEYS[2] =
/// cw, KEYS[3] = cn. ARGV[1] = owner ('' = the caller's ownership was checked already),
/// ARGV[2] = n (-1 = all), ARGV[3] = notification key prefix. Returns -1 if the caller does not
/// hold the lock, else the number of waiters notified.
static NOTIFY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"if ARGV[1] ~= '' then
  local v = redis.call('get', KEYS[1])
  local me = ARGV[1] .. '#'
  if not v or string.sub(v, 1, #me) ~= me then return -1 end
end
local n = tonumber(ARGV[2])
local k = 0
while n < 0 or k < n do
  if notify_one(KEYS[2], KEYS[3], ARGV[3]) == 0 then break end
  k = k + 1
end
return k",
    )
});

/// `wait` on the own RLock: KEYS[1] = own, KEYS[2] = wq, KEYS[3] = cw. ARGV[1] = owner,
/// ARGV[2] = waiter token, ARGV[3] = the lock's wake-up key prefix. Releases the caller's whole
/// hold (waking one lock waiter) and registers the token in cw, atomically. Returns the level
/// released, or -1 if the caller does not hold the lock.
static SAVE_AND_WAIT: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local v = redis.call('get', KEYS[1])
local me = ARGV[1] .. '#'
if not v or string.sub(v, 1, #me) ~= me then return -1 end
redis.call('del', KEYS[1])
wake_one(KEYS[2], ARGV[3])
redis.call('rpush', KEYS[3], ARGV[2])
return tonumber(string.sub(v, #me + 1))",
    )
});

/// A waiter leaves: KEYS[1] = cw, KEYS[2] = cn; ARGV[1] = token, ARGV[2] = notification key
/// prefix, ARGV[3] = '1' to pass a notification on. Removes the token from cw and cn and its
/// notification list. Returns the number of tokens removed from cw: 0 means it had been
/// notified, and then, with ARGV[3] = '1', the next waiter is notified instead.
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"local n = redis.call('lrem', KEYS[1], 0, ARGV[1])
redis.call('del', ARGV[2] .. ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
if n == 0 and ARGV[3] == '1' then notify_one(KEYS[1], KEYS[2], ARGV[2]) end
return n",
    )
});

/// Front-end process NODE died. KEYS[1] = wq (the own RLock's waiters), KEYS[2] = cw, KEYS[3]
/// = cn. ARGV[1] = the dead node, ARGV[2] = the lock's wake-up key prefix, ARGV[3] = the
/// notification key prefix. The node's tokens leave wq (one remaining lock waiter is woken: a
/// release may have woken a dead one) and cw; each notification sent to one of its waiters
/// and not taken (in cn) is dropped and sent to the next live waiter instead. Returns the
/// number of notifications passed on.
static NODE_GONE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"drop_node(KEYS[1], ARGV[1], ARGV[2])
wake_one(KEYS[1], ARGV[2])
drop_node(KEYS[2], ARGV[1], ARGV[3])
local owed = 0
for _, t in ipairs(redis.call('hkeys', KEYS[3])) do
  if of_node(t, ARGV[1]) then
    redis.call('hdel', KEYS[3], t)
    redis.call('del', ARGV[3] .. t)
    owed = owed + 1
  end
end
local k = 0
while k < owed do
  if notify_one(KEYS[2], KEYS[3], ARGV[3]) == 0 then break end
  k = k + 1
end
return k",
    )
});

/// Front-end process `node` died (see [`objects::node_gone_hook`]): its waiters leave, and the
/// notifications they had been sent but not taken go to the next live waiters
/// ([`NODE_GONE`]). Its hold of the own RLock expires with its lease.
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    b.with(|con| {
        NODE_GONE
            .key(b.key(ident, "wq"))
            .key(b.key(ident, "cw"))
            .key(b.key(ident, "cn"))
            .arg(node)
            .arg(b.key(ident, "w:"))
            .arg(b.key(ident, "c:"))
            .invoke::<i64>(con)
    })?;
    Ok(())
}

struct RedisCondition {
    b: BackendRef,
    ident: String,
    cn: String,
    own: LockCore,
    cw: String,
    lk: String,
    cprefix: String,
    /// The lock of `Condition(lock)` (read once from `lk`; it never changes).
    external: OnceLock<Option<LockCore>>,
}

impl RedisCondition {
    /// The lock this condition uses: its own RLock or the external one.
    /// Leaves `cw` (see [`LEAVE`]); `Ok(true)` if the token had been notified.
    fn leave(&self, token: &str, pass_on: bool) -> Result<bool, CallError> {
        let n: i64 = self.b.with(|con| {
            LEAVE
                .key(&self.cw)
                .key(&self.cn)
                .arg(token)
                .arg(&self.cprefix)
                .arg(if pass_on { "1" } else { "0" })
                .invoke(con)
        })?;
        Ok(n == 0)
    }

    fn lock(&self) -> Result<&LockCore, CallError> {
        if let Some(l) = self.external.get() {
            return Ok(l.as_ref().unwrap_or(&self.own));
        }
        let v: Option<String> = self
            .b
            .with(|con| redis::cmd("GET").arg(&self.lk).query(con))?;
        let ext = v.and_then(|v| {
            let (typeid, ident) = v.split_once(':')?;
            Some(LockCore::new(self.b.clone(), ident, typeid == "RLock"))
        });
        let l = self.external.get_or_init(|| ext);
        Ok(l.as_ref().unwrap_or(&self.own))
    }

    fn is_external(&self) -> Result<bool, CallError> {
        self.lock()?;
        Ok(matches!(self.external.get(), Some(Some(_))))
    }

    /// Blocks until the waiter `token` is notified or `dl` passes; `Ok(notified)`, with the
    /// token out of `cw`. If the caller goes away, a notification already meant for it is
    /// passed on.
    fn await_notify(
        &self,
        ctx: &CallCtx,
        token: &str,
        dl: Option<Instant>,
    ) -> Result<bool, CallError> {
        let key = format!("{}{token}", self.cprefix);
        let r = (|| -> Result<bool, CallError> {
            loop {
                if wait::blpop(&self.b, &[&key], dl)?.is_some() {
                    return Ok(true);
                }
                ctx.check()?;
                if wait::expired(dl) {
                    return Ok(false);
                }
            }
        })();
        match r {
            Ok(true) => {
                let _ = self.leave(token, false);
                Ok(true)
            }
            Ok(false) => self.leave(token, false),
            Err(e) => {
                let _ = self.leave(token, true);
                Err(e)
            }
        }
    }

    fn wait(&self, ctx: &CallCtx, timeout: Option<Duration>) -> Result<bool, CallError> {
        let dl = deadline(timeout);
        // Listed before the token is registered: if this front-end dies, others remove it.
        self.b.track(&self.ident)?;
        let token = wait::token(&self.b);
        let lock = self.lock()?;
        let saved = if self.is_external()? {
            if !lock.is_owned(ctx)? {
                return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
            }
            self.b.with(|con| {
                redis::cmd("RPUSH")
                    .arg(&self.cw)
                    .arg(&token)
                    .query::<()>(con)
            })?;
            match lock.release_save(ctx) {
                Ok(s) => s,
                Err(e) => {
                    let _ = self.leave(&token, true);
                    return Err(e);
                }
            }
        } else {
            let owner = self.b.owner(ctx.conn());
            let saved: i64 = self.b.with(|con| {
                SAVE_AND_WAIT
                    .key(&self.own.own)
                    .key(&self.own.wq)
                    .key(&self.cw)
                    .arg(&owner)
                    .arg(&token)
                    .arg(&self.own.wprefix)
                    .invoke(con)
            })?;
            if saved < 0 {
                return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
            }
            self.b.unhold_if(&self.own.own, &format!("{owner}#"));
            saved
        };
        let notified = self.await_notify(ctx, &token, dl)?;
        lock.acquire(ctx, true, None, saved.max(1))?;
        Ok(notified)
    }

    fn notify(&self, ctx: &CallCtx, n: i64) -> Result<(), CallError> {
        let owner = if self.is_external()? {
            if !self.lock()?.is_owned(ctx)? {
                return Err(CallError::runtime_error(
                    "cannot notify on un-acquired lock",
                ));
            }
            String::new()
        } else {
            self.b.owner(ctx.conn())
        };
        let r: i64 = self.b.with(|con| {
            NOTIFY
                .key(&self.own.own)
                .key(&self.cw)
                .key(&self.cn)
                .arg(&owner)
                .arg(n)
                .arg(&self.cprefix)
                .invoke(con)
        })?;
        if r < 0 {
            return Err(CallError::runtime_error(
                "cannot notify on un-acquired lock",
            ));
        }
        Ok(())
    }
}

impl RedisObject for RedisCondition {}

impl ServedObject for RedisCondition {
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
                self.lock()?
                    .acquire(ctx, blocking, timeout, 1)
                    .map(PyValue::Bool)
            }
            "release" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.lock()?.release(ctx).map(|_| PyValue::None)
            }
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                let timeout =
                    timeout_arg(b[0]).or_else(|e| match b[0].and_then(PyValue::as_f64) {
                        Some(t) if t < 0.0 => Ok(Some(Duration::ZERO)),
                        _ => Err(e),
                    })?;
                self.wait(ctx, timeout).map(PyValue::Bool)
            }
            "notify" | "notify_all" => {
                let n = if method == "notify" {
                    let b = bind_args(method, args, kwargs, &["n"], 0)?;
                    match b[0] {
                        Some(v) => int_arg(v)?.max(0),
                        None => 1,
                    }
                } else {
                    bind_args(method, args, kwargs, &[], 0)?;
                    -1
                };
                self.notify(ctx, n).map(|_| PyValue::None)
            }
            _ => Err(CallError::no_method("Condition", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(ConditionObject::EXPOSED)
    }

    fn repr(&self) -> String {
        let r = (|| -> Result<String, CallError> {
            let waiters: i64 = self
                .b
                .with(|con| redis::cmd("LLEN").arg(&self.cw).query(con))?;
            let l = self.lock()?;
            let st = l.state()?;
            let lock = if !l.rlock {
                format!(
                    "<{} _thread.lock object>",
                    if st.is_some() { "locked" } else { "unlocked" }
                )
            } else {
                match st {
                    Some((_, n)) => format!("<locked _thread.RLock object count={n}>"),
                    None => "<unlocked _thread.RLock object count=0>".to_string(),
                }
            };
            Ok(format!("<Condition({lock}, {waiters})>"))
        })();
        r.unwrap_or_else(|e| format!("<Condition kept in Redis: {}>", e.into_traceback().trim()))
    }

    fn on_disconnect(&self, conn: ConnId) {
        // What the connection took through the condition is given back by the lock.
        if let Ok(l) = self.lock() {
            l.disconnect(conn);
        }
    }
}
