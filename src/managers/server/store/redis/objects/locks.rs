//! `Lock` and `RLock` kept in Redis.
//!
//! Keys: `{ID}:own` = `OWNER#COUNT` (OWNER = front-end / boot nonce / connection, COUNT = the
//! recursion level, always 1 for a Lock), written with `PX lease` and renewed by the holding
//! front-end's heartbeat ([`Backend::hold`]): a front-end that dies loses its holds after the
//! lease. `{ID}:wq` lists the tokens of waiting acquirers (each blocks on its wake-up list
//! `{ID}:w:TOKEN`, see [`wait`](super::wait)); a release pops one and wakes it. `{ID}:owed`
//! (Lock only) counts releases owed by a connection whose hold was given back when it went away
//! (see the in-memory [`LockObject`]). acquire and release are one script each.
//!
//! [`LockCore`] is also the own RLock of a Redis `Condition`, and the lock of
//! `Condition(lock)`.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;

use super::wait;
use crate::managers::objects::locks::{lock_acquire_args, LockObject, RLockObject};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, deadline, names, CallCtx, CallError, ConnId, ServedObject};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[
    RedisType {
        typeid: "Lock",
        parts: &["own", "wq", "owed"],
        init: init_lock,
        open: open_lock,
    },
    RedisType {
        typeid: "RLock",
        parts: &["own", "wq"],
        init: init_rlock,
        open: open_rlock,
    },
];

fn init_lock(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    LockObject::create(args, kwargs)?;
    Ok(vec![])
}

fn init_rlock(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    RLockObject::create(args, kwargs)?;
    Ok(vec![])
}

fn open_lock(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisLock(LockCore::new(backend, &ident, false)))
}

fn open_rlock(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisLock(LockCore::new(backend, &ident, true)))
}

/// Takes the lock. KEYS[1] = own, KEYS[2] = wq. ARGV[1] = owner, ARGV[2] = lease (ms),
/// ARGV[3] = '1' if re-entrant (RLock), ARGV[4] = waiter token ('' = do not wait),
/// ARGV[5] = wake-up key prefix, ARGV[6] = the count to take (1, or a Condition's saved count).
/// Returns 1 (taken), 2 (re-entered), 0 (held by another; the token is registered in wq).
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local v = redis.call('get', KEYS[1])
local me = ARGV[1] .. '#'
if not v then
  redis.call('set', KEYS[1], me .. ARGV[6], 'PX', ARGV[2])
  if ARGV[4] ~= '' then
    redis.call('lrem', KEYS[2], 0, ARGV[4])
    redis.call('del', ARGV[5] .. ARGV[4])
  end
  return 1
end
if ARGV[3] == '1' and string.sub(v, 1, #me) == me then
  local n = tonumber(string.sub(v, #me + 1)) + tonumber(ARGV[6])
  redis.call('set', KEYS[1], me .. n, 'KEEPTTL')
  return 2
end
if ARGV[4] ~= '' and not redis.call('lpos', KEYS[2], ARGV[4]) then
  redis.call('rpush', KEYS[2], ARGV[4])
end
return 0",
    )
});

/// Releases. KEYS[1] = own, KEYS[2] = wq, KEYS[3] = owed. ARGV[1] = owner, ARGV[2] = mode,
/// ARGV[3] = wake-up key prefix. Modes: 'lock' (any connection may release; a non-holder pays
/// an owed release first), 'rlock' (the owner drops one level), 'lsave'/'rsave' (a Condition's
/// `_release_save`: the whole hold goes, whatever its level; 'lsave' = anyone's Lock hold,
/// 'rsave' = the caller's RLock hold). Returns {code, removed value}: code -1 = not held (by
/// the caller, for rlock/rsave), 0 = released (one waiter woken), 1 = an owed release paid,
/// 2 = one level dropped, still held; for the save modes, code = the level released.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local v = redis.call('get', KEYS[1])
local me = ARGV[1] .. '#'
local mine = v and string.sub(v, 1, #me) == me
local mode = ARGV[2]
local code = 0
if mode == 'lock' then
  if not mine then
    local owed = tonumber(redis.call('get', KEYS[3]) or '0')
    if owed > 0 then
      redis.call('decr', KEYS[3])
      return {1, ''}
    end
  end
  if not v then return {-1, ''} end
  if mine then redis.call('del', KEYS[3]) end
elseif mode == 'rlock' then
  if not mine then return {-1, ''} end
  local n = tonumber(string.sub(v, #me + 1)) - 1
  if n > 0 then
    redis.call('set', KEYS[1], me .. n, 'KEEPTTL')
    return {2, ''}
  end
elseif mode == 'lsave' then
  if not v then return {-1, ''} end
  code = 1
else
  if not mine then return {-1, ''} end
  code = tonumber(string.sub(v, #me + 1))
end
redis.call('del', KEYS[1])
wake_one(KEYS[2], ARGV[3])
return {code, v}",
    )
});

/// A connection went away. KEYS[1] = own, KEYS[2] = wq, KEYS[3] = owed. ARGV[1] = owner,
/// ARGV[2] = '1' for a Lock (one release becomes owed), ARGV[3] = wake-up key prefix.
/// Returns 1 if the connection's hold was given back (a waiter woken), else 0.
static DISCONNECT: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local v = redis.call('get', KEYS[1])
local me = ARGV[1] .. '#'
if not v or string.sub(v, 1, #me) ~= me then return 0 end
redis.call('del', KEYS[1])
if ARGV[2] == '1' then redis.call('set', KEYS[3], '1') end
wake_one(KEYS[2], ARGV[3])
return 1",
    )
});

/// Front-end process `node` died (see [`objects::node_gone_hook`]): its waiters' tokens leave
/// `wq`, and one remaining waiter is woken (a release may have woken a dead one). The hold
/// itself expires with its lease.
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    let wq = b.key(ident, "wq");
    wait::drop_node_waiters(b, &[(&wq, true)], node, &b.key(ident, "w:"))?;
    Ok(())
}

/// The keys and scripts of one Redis lock (a Lock, an RLock, or a Condition's own RLock).
pub(crate) struct LockCore {
    pub(crate) b: BackendRef,
    /// The ident of the object whose keys these are.
    ident: String,
    pub(crate) own: String,
    pub(crate) wq: String,
    owed: String,
    pub(crate) wprefix: String,
    pub(crate) rlock: bool,
}

impl LockCore {
    /// The lock whose keys belong to object `ident`.
    pub(crate) fn new(b: BackendRef, ident: &str, rlock: bool) -> LockCore {
        LockCore {
            ident: ident.to_string(),
            own: b.key(ident, "own"),
            wq: b.key(ident, "wq"),
            owed: b.key(ident, "owed"),
            wprefix: b.key(ident, "w:"),
            rlock,
            b,
        }
    }

    fn backend(&self) -> &Backend {
        &self.b
    }

    fn me(&self, ctx_conn: ConnId) -> String {
        self.b.owner(ctx_conn)
    }

    fn try_acquire(&self, owner: &str, token: &str, count: i64) -> Result<i64, CallError> {
        if token.is_empty() {
            // A free lock is taken by one plain `SET NX PX` (what ACQUIRE's first branch does,
            // without running a script); only a held one needs the script (RLock re-entry).
            let taken: Option<String> = self.b.with(|con| {
                redis::cmd("SET")
                    .arg(&self.own)
                    .arg(format!("{owner}#{count}"))
                    .arg("NX")
                    .arg("PX")
                    .arg(self.b.lease_ms())
                    .query(con)
            })?;
            if taken.is_some() {
                return Ok(1);
            }
            if !self.rlock {
                return Ok(0);
            }
        }
        self.b.with(|con| {
            ACQUIRE
                .key(&self.own)
                .key(&self.wq)
                .arg(owner)
                .arg(self.b.lease_ms())
                .arg(if self.rlock { "1" } else { "0" })
                .arg(token)
                .arg(&self.wprefix)
                .arg(count)
                .invoke(con)
        })
    }

    /// `acquire(blocking, timeout)`, taking `count` levels (1, or a Condition's saved count).
    pub(crate) fn acquire(
        &self,
        ctx: &CallCtx,
        blocking: bool,
        timeout: Option<Duration>,
        count: i64,
    ) -> Result<bool, CallError> {
        let owner = self.me(ctx.conn());
        let held = format!("{owner}#");
        let got = if !blocking {
            self.try_acquire(&owner, "", count)?
        } else {
            // The fast path: free (or ours) at the first try, no token registered.
            match self.try_acquire(&owner, "", count)? {
                0 => {
                    self.b.track(&self.ident)?;
                    let dl = deadline(timeout);
                    let token = wait::token(&self.b);
                    wait::wait_loop(
                        self.backend(),
                        ctx,
                        dl,
                        &self.wq,
                        &token,
                        &self.wprefix,
                        || {
                            ctx.check()?;
                            match self.try_acquire(&owner, &token, count)? {
                                0 => Ok(None),
                                n => Ok(Some(n)),
                            }
                        },
                    )?
                    .unwrap_or(0)
                }
                n => n,
            }
        };
        if got == 1 {
            self.b.hold(&self.own, &held);
            if let Err(e) = ctx.check() {
                // The caller went away while taking it: give it back at once.
                let _ = self.release_mode(ctx, if self.rlock { "rsave" } else { "lsave" });
                return Err(e);
            }
        }
        Ok(got != 0)
    }

    fn release_mode(&self, ctx: &CallCtx, mode: &str) -> Result<i64, CallError> {
        let owner = self.me(ctx.conn());
        let (code, v): (i64, Vec<u8>) = self.b.with(|con| {
            RELEASE
                .key(&self.own)
                .key(&self.wq)
                .key(&self.owed)
                .arg(&owner)
                .arg(mode)
                .arg(&self.wprefix)
                .invoke(con)
        })?;
        if !v.is_empty() {
            let v = String::from_utf8_lossy(&v);
            if let Some(i) = v.rfind('#') {
                self.b.unhold_if(&self.own, &v[..=i]);
            }
        }
        Ok(code)
    }

    /// `release()`.
    pub(crate) fn release(&self, ctx: &CallCtx) -> Result<(), CallError> {
        let code = self.release_mode(ctx, if self.rlock { "rlock" } else { "lock" })?;
        if code < 0 {
            return Err(CallError::runtime_error(if self.rlock {
                "cannot release un-acquired lock"
            } else {
                "release unlocked lock"
            }));
        }
        Ok(())
    }

    /// Condition's `_is_owned()`: a Lock is "owned" while anyone holds it, an RLock by the
    /// caller only.
    pub(crate) fn is_owned(&self, ctx: &CallCtx) -> Result<bool, CallError> {
        let v: Option<String> = self
            .b
            .with(|con| redis::cmd("GET").arg(&self.own).query(con))?;
        Ok(match v {
            None => false,
            Some(v) => !self.rlock || v.starts_with(&format!("{}#", self.me(ctx.conn()))),
        })
    }

    /// Condition's `_release_save()`: releases the whole hold, returns the level released.
    pub(crate) fn release_save(&self, ctx: &CallCtx) -> Result<i64, CallError> {
        let code = self.release_mode(ctx, if self.rlock { "rsave" } else { "lsave" })?;
        if code < 0 {
            return Err(CallError::runtime_error("cannot wait on un-acquired lock"));
        }
        Ok(code)
    }

    /// Gives back what connection `conn` holds.
    pub(crate) fn disconnect(&self, conn: ConnId) {
        let owner = self.me(conn);
        let r: Result<i64, CallError> = self.b.with(|con| {
            DISCONNECT
                .key(&self.own)
                .key(&self.wq)
                .key(&self.owed)
                .arg(&owner)
                .arg(if self.rlock { "0" } else { "1" })
                .arg(&self.wprefix)
                .invoke(con)
        });
        if let Ok(1) = r {
            self.b.unhold_if(&self.own, &format!("{owner}#"));
        }
    }

    /// The holder and level (`None` when free).
    pub(crate) fn state(&self) -> Result<Option<(String, i64)>, CallError> {
        let v: Option<String> = self
            .b
            .with(|con| redis::cmd("GET").arg(&self.own).query(con))?;
        Ok(v.map(|v| match v.rsplit_once('#') {
            Some((o, n)) => (o.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        }))
    }

    /// The `#is_owned`/`#release_save`/`#acquire_restore` calls of the in-memory locks, so that
    /// a Condition can drive this lock like the in-memory `Condition(lock)` does.
    fn call_private(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
    ) -> Option<Result<PyValue, CallError>> {
        Some(match method {
            "#is_owned" => self.is_owned(ctx).map(PyValue::Bool),
            "#release_save" => self.release_save(ctx).map(PyValue::Int),
            "#acquire_restore" => {
                let n = args.first().and_then(PyValue::as_i64).unwrap_or(1).max(1);
                self.acquire(ctx, true, None, n).map(|_| PyValue::None)
            }
            _ => return None,
        })
    }
}

struct RedisLock(LockCore);

impl RedisObject for RedisLock {}

impl ServedObject for RedisLock {
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
                self.0.acquire(ctx, blocking, timeout, 1).map(PyValue::Bool)
            }
            "release" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.0.release(ctx).map(|_| PyValue::None)
            }
            _ => self.0.call_private(ctx, method, args).unwrap_or_else(|| {
                Err(CallError::no_method(
                    if self.0.rlock { "RLock" } else { "lock" },
                    method,
                ))
            }),
        }
    }

    fn exposed(&self) -> Vec<String> {
        if self.0.rlock {
            names(RLockObject::EXPOSED)
        } else {
            names(LockObject::EXPOSED)
        }
    }

    fn repr(&self) -> String {
        let st = match self.0.state() {
            Ok(st) => st,
            Err(e) => return format!("<lock kept in Redis: {}>", e.into_traceback().trim()),
        };
        if self.0.rlock {
            match st {
                Some((o, n)) => format!("<locked _thread.RLock object owner={o} count={n}>"),
                None => "<unlocked _thread.RLock object owner=0 count=0>".to_string(),
            }
        } else {
            format!(
                "<{} _thread.lock object>",
                if st.is_some() { "locked" } else { "unlocked" }
            )
        }
    }

    fn on_disconnect(&self, conn: ConnId) {
        self.0.disconnect(conn);
    }
}
