//! `Queue` and `JoinableQueue` kept in Redis.
//!
//! Keys: `{ID}:items` the items (pickles, a list: put = RPUSH, get = LPOP), `{ID}:max` the
//! maxsize (missing = 0, unbounded), `{ID}:unf` the unfinished-task count, `{ID}:shut` set by
//! Python 3.13's `shutdown()`, `{ID}:sdw` holds one token once shut down (so that getters
//! blocked in `BLPOP items sdw` wake up), `{ID}:pw` the tokens of putters waiting for room
//! and `{ID}:jw` those of `join()` callers (each blocks on `{ID}:w:TOKEN`).
//!
//! `put` is one script (Full/ShutDown checks, RPUSH, unfinished + 1); `get` is one script
//! (LPOP, wakes a waiting putter) and, when the queue is empty, a blocking getter waits in
//! `BLPOP items sdw` itself, in slices, checking its caller after each: an item popped for a
//! caller that has gone away is pushed back to the head.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use redis::Script;

use super::wait;
use crate::managers::objects::queue::QueueObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, deadline, int_arg, names, timeout_arg, truthy, CallCtx, CallError, ServedObject,
};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::codec::{decode, encode};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};
use crate::managers::wire;

const PARTS: &[&str] = &["items", "max", "unf", "shut", "sdw", "pw", "jw"];

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[
    RedisType {
        typeid: "Queue",
        parts: PARTS,
        init,
        open,
    },
    RedisType {
        typeid: "JoinableQueue",
        parts: PARTS,
        init,
        open,
    },
];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    QueueObject::create(args, kwargs)?;
    let b = bind_args("Queue", args, kwargs, &["maxsize"], 0)?;
    let maxsize = match b[0] {
        Some(v) => int_arg(v)?,
        None => 0,
    };
    Ok(if maxsize > 0 {
        vec![Init::Set("max", maxsize.to_string().into_bytes())]
    } else {
        vec![]
    })
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    let k = |p: &str| backend.key(&ident, p);
    Arc::new(RedisQueue {
        items: k("items"),
        max: k("max"),
        unf: k("unf"),
        shut: k("shut"),
        sdw: k("sdw"),
        pw: k("pw"),
        jw: k("jw"),
        wprefix: k("w:"),
        maxsize: OnceLock::new(),
        ident,
        b: backend,
    })
}

/// `put`: KEYS[1] = items, KEYS[2] = unf, KEYS[3] = shut, KEYS[4] = pw. ARGV[1] = the item,
/// ARGV[2] = maxsize, ARGV[3] = waiter token ('' = do not wait), ARGV[4] = wake-up key prefix.
/// Returns 1 (put), 0 (full; the token is registered in pw) or -1 (shut down).
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('exists', KEYS[3]) == 1 then
  if ARGV[3] ~= '' then
    redis.call('lrem', KEYS[4], 0, ARGV[3])
    redis.call('del', ARGV[4] .. ARGV[3])
  end
  return -1
end
local max = tonumber(ARGV[2])
if max > 0 and redis.call('llen', KEYS[1]) >= max then
  if ARGV[3] ~= '' and not redis.call('lpos', KEYS[4], ARGV[3]) then
    redis.call('rpush', KEYS[4], ARGV[3])
  end
  return 0
end
redis.call('rpush', KEYS[1], ARGV[1])
redis.call('incr', KEYS[2])
if ARGV[3] ~= '' then
  redis.call('lrem', KEYS[4], 0, ARGV[3])
  redis.call('del', ARGV[4] .. ARGV[3])
end
return 1",
    )
});

/// `get` without blocking: KEYS[1] = items, KEYS[2] = shut, KEYS[3] = pw. ARGV[1] = wake-up key
/// prefix. Returns {1, item} (popped; a waiting putter is woken), {0, ''} (empty) or {-1, ''}
/// (empty and shut down).
static GET: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local it = redis.call('lpop', KEYS[1])
if it then
  wake_one(KEYS[3], ARGV[1])
  return {1, it}
end
if redis.call('exists', KEYS[2]) == 1 then return {-1, ''} end
return {0, ''}",
    )
});

/// After a blocking getter's `BLPOP` took an item: KEYS[1] = pw; ARGV[1] = wake-up key prefix.
/// Wakes one waiting putter; returns 1 if there was one.
static TOOK: LazyLock<Script> = LazyLock::new(|| wait::script("return wake_one(KEYS[1], ARGV[1])"));

/// `task_done`: KEYS[1] = unf, KEYS[2] = jw; ARGV[1] = wake-up key prefix. Returns -1 when there
/// is no unfinished task, else 0 (and wakes every joiner when the count reaches 0).
static TASK_DONE: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"local u = tonumber(redis.call('get', KEYS[1]) or '0')
if u <= 0 then return -1 end
u = redis.call('decr', KEYS[1])
if u <= 0 then wake_all(KEYS[2], ARGV[1]) end
return 0",
    )
});

/// A joiner's check: KEYS[1] = unf, KEYS[2] = jw; ARGV[1] = token, ARGV[2] = wake-up key
/// prefix. Returns 1 when no task is unfinished (the token is withdrawn), else registers the
/// token and returns 0.
static JOIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if tonumber(redis.call('get', KEYS[1]) or '0') <= 0 then
  redis.call('lrem', KEYS[2], 0, ARGV[1])
  redis.call('del', ARGV[2] .. ARGV[1])
  return 1
end
if not redis.call('lpos', KEYS[2], ARGV[1]) then redis.call('rpush', KEYS[2], ARGV[1]) end
return 0",
    )
});

/// `shutdown(immediate)`: KEYS[1] = shut, KEYS[2] = items, KEYS[3] = unf, KEYS[4] = pw,
/// KEYS[5] = jw, KEYS[6] = sdw. ARGV[1] = '1' if immediate, ARGV[2] = wake-up key prefix.
/// Marks the queue shut down, wakes every putter and getter (sdw), and with `immediate` drops
/// the items (each counted as a finished task; joiners are woken when none is left). Returns 0.
static SHUTDOWN: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"redis.call('set', KEYS[1], '1')
if ARGV[1] == '1' then
  local n = redis.call('llen', KEYS[2])
  redis.call('del', KEYS[2])
  local u = tonumber(redis.call('get', KEYS[3]) or '0') - n
  if u < 0 then u = 0 end
  redis.call('set', KEYS[3], u)
  if u == 0 then wake_all(KEYS[5], ARGV[2]) end
end
wake_all(KEYS[4], ARGV[2])
if redis.call('llen', KEYS[6]) == 0 then redis.call('rpush', KEYS[6], '1') end
return 0",
    )
});

/// Front-end process `node` died (see [`objects::node_gone_hook`]): its putters' and joiners'
/// tokens leave `pw` and `jw`; one remaining putter is woken (a `get` may have woken a dead
/// one). Getters wait in `BLPOP` on the items themselves and leave no token.
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    let (pw, jw) = (b.key(ident, "pw"), b.key(ident, "jw"));
    wait::drop_node_waiters(b, &[(&pw, true), (&jw, false)], node, &b.key(ident, "w:"))?;
    Ok(())
}

struct RedisQueue {
    b: BackendRef,
    ident: String,
    items: String,
    max: String,
    unf: String,
    shut: String,
    sdw: String,
    pw: String,
    jw: String,
    wprefix: String,
    /// The maxsize, read once (it never changes).
    maxsize: OnceLock<i64>,
}

fn shut_down() -> CallError {
    CallError::Raise(wire::exception("queue.ShutDown", vec![]))
}

impl RedisQueue {
    fn maxsize(&self) -> Result<i64, CallError> {
        if let Some(m) = self.maxsize.get() {
            return Ok(*m);
        }
        let m: Option<i64> = self
            .b
            .with(|con| redis::cmd("GET").arg(&self.max).query(con))?;
        Ok(*self.maxsize.get_or_init(|| m.unwrap_or(0)))
    }

    fn qsize(&self) -> Result<i64, CallError> {
        self.b
            .with(|con| redis::cmd("LLEN").arg(&self.items).query(con))
    }

    fn try_put(&self, item: &[u8], max: i64, token: &str) -> Result<i64, CallError> {
        self.b.with(|con| {
            PUT.key(&self.items)
                .key(&self.unf)
                .key(&self.shut)
                .key(&self.pw)
                .arg(item)
                .arg(max)
                .arg(token)
                .arg(&self.wprefix)
                .invoke(con)
        })
    }

    fn put(
        &self,
        ctx: &CallCtx,
        item: &PyValue,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<PyValue, CallError> {
        let bytes = encode(item)?;
        let max = self.maxsize()?;
        let r = match self.try_put(&bytes, max, "")? {
            0 if block => {
                self.b.track(&self.ident)?;
                let token = wait::token(&self.b);
                wait::wait_loop(
                    &self.b,
                    ctx,
                    deadline(timeout),
                    &self.pw,
                    &token,
                    &self.wprefix,
                    || {
                        ctx.check()?;
                        match self.try_put(&bytes, max, &token)? {
                            0 => Ok(None),
                            n => Ok(Some(n)),
                        }
                    },
                )?
                .unwrap_or(0)
            }
            n => n,
        };
        match r {
            1 => Ok(PyValue::None),
            0 => Err(CallError::Raise(wire::queue_full())),
            _ => Err(shut_down()),
        }
    }

    fn get(
        &self,
        ctx: &CallCtx,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<PyValue, CallError> {
        let dl = deadline(timeout);
        loop {
            let (code, item): (i64, Vec<u8>) = self.b.with(|con| {
                GET.key(&self.items)
                    .key(&self.shut)
                    .key(&self.pw)
                    .arg(&self.wprefix)
                    .invoke(con)
            })?;
            match code {
                1 => return self.hand_over(ctx, item, false),
                -1 => return Err(shut_down()),
                _ => {}
            }
            if !block || wait::expired(dl) {
                return Err(CallError::Raise(wire::queue_empty()));
            }
            match wait::blpop(&self.b, &[&self.items, &self.sdw], dl)? {
                Some((key, item)) if key == self.items => {
                    return self.hand_over(ctx, item, true);
                }
                Some((_, token)) => {
                    // Shut down: leave the token for the other getters, then see what is left.
                    self.b.with(|con| {
                        redis::cmd("LPUSH")
                            .arg(&self.sdw)
                            .arg(&token)
                            .query::<()>(con)
                    })?;
                }
                None => {}
            }
            ctx.check()?;
        }
    }

    /// Hands a popped item to the caller, or pushes it back to the head of the queue if the
    /// caller has gone away. `blocked`: it came from `BLPOP` (a waiting putter is woken here).
    fn hand_over(&self, ctx: &CallCtx, item: Vec<u8>, blocked: bool) -> Result<PyValue, CallError> {
        if let Err(e) = ctx.check() {
            let _ = self.b.with(|con| {
                redis::cmd("LPUSH")
                    .arg(&self.items)
                    .arg(&item)
                    .query::<()>(con)
            });
            return Err(e);
        }
        if blocked && self.maxsize()? > 0 {
            self.b
                .with(|con| TOOK.key(&self.pw).arg(&self.wprefix).invoke::<i64>(con))?;
        }
        decode(&item)
    }

    fn join(&self, ctx: &CallCtx) -> Result<PyValue, CallError> {
        self.b.track(&self.ident)?;
        let token = wait::token(&self.b);
        wait::wait_loop(&self.b, ctx, None, &self.jw, &token, &self.wprefix, || {
            let done: i64 = self.b.with(|con| {
                JOIN.key(&self.unf)
                    .key(&self.jw)
                    .arg(&token)
                    .arg(&self.wprefix)
                    .invoke(con)
            })?;
            Ok((done == 1).then_some(()))
        })?;
        Ok(PyValue::None)
    }
}

impl RedisObject for RedisQueue {}

impl ServedObject for RedisQueue {
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
                self.put(ctx, b[0].unwrap_or(&PyValue::None), block, timeout)
            }
            "put_nowait" => {
                let b = bind_args(method, args, kwargs, &["item"], 1)?;
                self.put(ctx, b[0].unwrap_or(&PyValue::None), false, None)
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
                self.qsize().map(PyValue::Int)
            }
            "empty" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Bool(self.qsize()? == 0))
            }
            "full" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let max = self.maxsize()?;
                Ok(PyValue::Bool(max > 0 && self.qsize()? >= max))
            }
            "task_done" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let r: i64 = self.b.with(|con| {
                    TASK_DONE
                        .key(&self.unf)
                        .key(&self.jw)
                        .arg(&self.wprefix)
                        .invoke(con)
                })?;
                if r < 0 {
                    return Err(CallError::value_error("task_done() called too many times"));
                }
                Ok(PyValue::None)
            }
            "shutdown" => {
                let b = bind_args(method, args, kwargs, &["immediate"], 0)?;
                let immediate = b[0].is_some_and(truthy);
                self.b.with(|con| {
                    SHUTDOWN
                        .key(&self.shut)
                        .key(&self.items)
                        .key(&self.unf)
                        .key(&self.pw)
                        .key(&self.jw)
                        .key(&self.sdw)
                        .arg(if immediate { "1" } else { "0" })
                        .arg(&self.wprefix)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "join" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.join(ctx)
            }
            _ => Err(CallError::no_method("Queue", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(QueueObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.qsize() {
            Ok(n) => format!("<queue.Queue object (qsize={n})>"),
            Err(e) => format!("<Queue kept in Redis: {}>", e.into_traceback().trim()),
        }
    }
}
