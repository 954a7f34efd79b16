//! `Semaphore` and `BoundedSemaphore` kept in Redis.
//!
//! Keys: `{ID}:val` the counter, `{ID}:ini` the initial value (the bound; both missing = 1),
//! `{ID}:held` a hash owner → units held by that connection (given back when it goes away),
//! `{ID}:owed` releases owed by vanished holders (as the in-memory [`SemaphoreObject`]),
//! `{ID}:sw` the waiting acquirers' tokens (each blocks on `{ID}:w:TOKEN`). acquire and
//! release are one script each; release(n) wakes n waiters. The units held through a
//! front-end that died (owners `NODE/…`) go back as a disconnect's would ([`NODE_GONE`]), run
//! by a live front-end once the dead one's `live:` key expired.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;

use super::wait;
use crate::managers::objects::locks::{semaphore_acquire_args, SemaphoreObject};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, deadline, int_arg, names, CallCtx, CallError, ConnId, ServedObject,
};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};

const PARTS: &[&str] = &["val", "ini", "held", "owed", "sw"];

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[
    RedisType {
        typeid: "Semaphore",
        parts: PARTS,
        init: init_sem,
        open: open_sem,
    },
    RedisType {
        typeid: "BoundedSemaphore",
        parts: PARTS,
        init: init_bounded,
        open: open_bounded,
    },
];

fn initial(args: &[PyValue], kwargs: &PyDict, bounded: bool) -> Result<Vec<Init>, CallError> {
    // Validates exactly as the in-memory constructor; the value is read back the same way.
    SemaphoreObject::create(args, kwargs, bounded)?;
    let name = if bounded {
        "BoundedSemaphore"
    } else {
        "Semaphore"
    };
    let b = bind_args(name, args, kwargs, &["value"], 0)?;
    let v = match b[0] {
        Some(v) => int_arg(v)?,
        None => 1,
    };
    Ok(vec![
        Init::Set("val", v.to_string().into_bytes()),
        Init::Set("ini", v.to_string().into_bytes()),
    ])
}

fn init_sem(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    initial(args, kwargs, false)
}

fn init_bounded(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    initial(args, kwargs, true)
}

fn open_sem(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisSemaphore::new(backend, &ident, false))
}

fn open_bounded(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisSemaphore::new(backend, &ident, true))
}

/// Takes a unit. KEYS[1] = val, KEYS[2] = held, KEYS[3] = sw. ARGV[1] = owner, ARGV[2] =
/// waiter token ('' = do not wait), ARGV[3] = wake-up key prefix. Returns 1 (taken) or 0 (none
/// left; the token is registered in sw).
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local v = tonumber(redis.call('get', KEYS[1]) or '1')
if v > 0 then
  redis.call('set', KEYS[1], v - 1)
  redis.call('hincrby', KEYS[2], ARGV[1], 1)
  if ARGV[2] ~= '' then
    redis.call('lrem', KEYS[3], 0, ARGV[2])
    redis.call('del', ARGV[3] .. ARGV[2])
  end
  return 1
end
if ARGV[2] ~= '' and not redis.call('lpos', KEYS[3], ARGV[2]) then
  redis.call('rpush', KEYS[3], ARGV[2])
end
return 0",
    )
});

/// Gives units back. KEYS[1] = val, KEYS[2] = ini, KEYS[3] = held, KEYS[4] = owed, KEYS[5] = sw.
/// ARGV[1] = owner, ARGV[2] = n, ARGV[3] = '1' if bounded, ARGV[4] = wake-up key prefix,
/// ARGV[5] = 'release' or 'disconnect' (the owner's connection went away: its held units go
/// back and become owed; n is ignored). Returns 0, or -1 when a bounded semaphore would exceed
/// its initial value (nothing changed).
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local me = ARGV[1]
local n = tonumber(ARGV[2])
local v = tonumber(redis.call('get', KEYS[1]) or '1')
local ini = tonumber(redis.call('get', KEYS[2]) or '1')
if ARGV[5] == 'disconnect' then
  local h = tonumber(redis.call('hget', KEYS[3], me) or '0')
  if h == 0 then return 0 end
  redis.call('hdel', KEYS[3], me)
  v = v + h
  if ARGV[3] == '1' and v > ini then v = ini end
  redis.call('set', KEYS[1], v)
  redis.call('incrby', KEYS[4], h)
  for i = 1, h do
    if wake_one(KEYS[5], ARGV[4]) == 0 then break end
  end
  return 0
end
local mine = redis.call('hexists', KEYS[3], me) == 1
if not mine then
  local owed = tonumber(redis.call('get', KEYS[4]) or '0')
  if owed > 0 then
    local paid = math.min(owed, n)
    redis.call('set', KEYS[4], owed - paid)
    n = n - paid
    if n == 0 then return 0 end
  end
end
if ARGV[3] == '1' and v + n > ini then return -1 end
redis.call('set', KEYS[1], v + n)
local left = n
local function take(owner, h)
  local t = math.min(h, left)
  if t <= 0 then return end
  left = left - t
  if h - t == 0 then
    redis.call('hdel', KEYS[3], owner)
  else
    redis.call('hset', KEYS[3], owner, h - t)
  end
end
take(me, tonumber(redis.call('hget', KEYS[3], me) or '0'))
if left > 0 then
  local all = redis.call('hgetall', KEYS[3])
  for j = 1, #all, 2 do
    if left == 0 then break end
    take(all[j], tonumber(all[j + 1]))
  end
end
if mine and redis.call('hlen', KEYS[3]) == 0 then redis.call('del', KEYS[4]) end
for i = 1, n do
  if wake_one(KEYS[5], ARGV[4]) == 0 then break end
end
return 0",
    )
});

/// Front-end process NODE died: gives back what its connections held, as if each had
/// disconnected. KEYS[1] = val, KEYS[2] = ini, KEYS[3] = held, KEYS[4] = owed, KEYS[5] = sw.
/// ARGV[1] = the dead node, ARGV[2] = '1' if bounded, ARGV[3] = wake-up key prefix. Every
/// `held` field of an owner `NODE/…` goes back to the counter (capped at the bound) and
/// becomes owed; the node's tokens leave `sw`; then as many waiters as there are units are
/// woken (a release may have woken dead waiters). Returns the units given back.
static NODE_GONE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"drop_node(KEYS[5], ARGV[1], ARGV[3])
local back = 0
local all = redis.call('hgetall', KEYS[3])
for j = 1, #all, 2 do
  if of_node(all[j], ARGV[1]) then
    redis.call('hdel', KEYS[3], all[j])
    back = back + tonumber(all[j + 1])
  end
end
local v = tonumber(redis.call('get', KEYS[1]) or '1')
if back > 0 then
  local ini = tonumber(redis.call('get', KEYS[2]) or '1')
  v = v + back
  if ARGV[2] == '1' and v > ini then v = ini end
  redis.call('set', KEYS[1], v)
  redis.call('incrby', KEYS[4], back)
end
for i = 1, v do
  if wake_one(KEYS[5], ARGV[3]) == 0 then break end
end
return back",
    )
});

fn node_gone(b: &Backend, ident: &str, node: &str, bounded: bool) -> Result<(), CallError> {
    let k = |p: &str| b.key(ident, p);
    b.with(|con| {
        NODE_GONE
            .key(k("val"))
            .key(k("ini"))
            .key(k("held"))
            .key(k("owed"))
            .key(k("sw"))
            .arg(node)
            .arg(if bounded { "1" } else { "0" })
            .arg(k("w:"))
            .invoke::<i64>(con)
    })?;
    Ok(())
}

/// Front-end process `node` died (see [`objects::node_gone_hook`]): a Semaphore's units held
/// through it go back ([`NODE_GONE`]).
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone_sem(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    node_gone(b, ident, node, false)
}

/// As [`node_gone_sem`], for a BoundedSemaphore.
pub(crate) fn node_gone_bounded(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    node_gone(b, ident, node, true)
}

struct RedisSemaphore {
    b: BackendRef,
    ident: String,
    bounded: bool,
    val: String,
    ini: String,
    held: String,
    owed: String,
    sw: String,
    wprefix: String,
}

impl RedisSemaphore {
    fn new(b: BackendRef, ident: &str, bounded: bool) -> RedisSemaphore {
        RedisSemaphore {
            bounded,
            ident: ident.to_string(),
            val: b.key(ident, "val"),
            ini: b.key(ident, "ini"),
            held: b.key(ident, "held"),
            owed: b.key(ident, "owed"),
            sw: b.key(ident, "sw"),
            wprefix: b.key(ident, "w:"),
            b,
        }
    }

    fn try_acquire(&self, owner: &str, token: &str) -> Result<bool, CallError> {
        let r: i64 = self.b.with(|con| {
            ACQUIRE
                .key(&self.val)
                .key(&self.held)
                .key(&self.sw)
                .arg(owner)
                .arg(token)
                .arg(&self.wprefix)
                .invoke(con)
        })?;
        Ok(r == 1)
    }

    fn give_back(&self, owner: &str, n: i64, mode: &str) -> Result<i64, CallError> {
        self.b.with(|con| {
            RELEASE
                .key(&self.val)
                .key(&self.ini)
                .key(&self.held)
                .key(&self.owed)
                .key(&self.sw)
                .arg(owner)
                .arg(n)
                .arg(if self.bounded { "1" } else { "0" })
                .arg(&self.wprefix)
                .arg(mode)
                .invoke(con)
        })
    }

    fn acquire(
        &self,
        ctx: &CallCtx,
        blocking: bool,
        timeout: Option<Duration>,
    ) -> Result<bool, CallError> {
        let owner = self.b.owner(ctx.conn());
        // Listed before a unit is taken: if this front-end dies, others give it back.
        self.b.track(&self.ident)?;
        if self.try_acquire(&owner, "")? {
            return self.keep(ctx, &owner);
        }
        if !blocking {
            return Ok(false);
        }
        let token = wait::token(&self.b);
        let got = wait::wait_loop(
            &self.b,
            ctx,
            deadline(timeout),
            &self.sw,
            &token,
            &self.wprefix,
            || {
                ctx.check()?;
                Ok(self.try_acquire(&owner, &token)?.then_some(()))
            },
        )?;
        match got {
            Some(()) => self.keep(ctx, &owner),
            None => Ok(false),
        }
    }

    /// A unit was taken for `owner`: gives it back if the caller went away meanwhile.
    fn keep(&self, ctx: &CallCtx, owner: &str) -> Result<bool, CallError> {
        if let Err(e) = ctx.check() {
            let _ = self.give_back(owner, 1, "release");
            return Err(e);
        }
        Ok(true)
    }
}

impl RedisObject for RedisSemaphore {}

impl ServedObject for RedisSemaphore {
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
                self.acquire(ctx, blocking, timeout).map(PyValue::Bool)
            }
            "release" => {
                let b = bind_args(method, args, kwargs, &["n"], 0)?;
                let n = match b[0] {
                    Some(v) => int_arg(v)?,
                    None => 1,
                };
                if n < 1 {
                    return Err(CallError::value_error("n must be one or more"));
                }
                let owner = self.b.owner(ctx.conn());
                if self.give_back(&owner, n, "release")? < 0 {
                    return Err(CallError::value_error("Semaphore released too many times"));
                }
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Semaphore", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(SemaphoreObject::EXPOSED)
    }

    fn repr(&self) -> String {
        let r: Result<(Option<i64>, Option<i64>), CallError> = self
            .b
            .with(|con| redis::cmd("MGET").arg(&self.val).arg(&self.ini).query(con));
        match r {
            Ok((v, i)) => format!(
                "<threading.{} at value={}/{}>",
                if self.bounded {
                    "BoundedSemaphore"
                } else {
                    "Semaphore"
                },
                v.unwrap_or(1),
                i.unwrap_or(1)
            ),
            Err(e) => format!("<Semaphore kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn on_disconnect(&self, conn: ConnId) {
        let _ = self.give_back(&self.b.owner(conn), 0, "disconnect");
    }
}
