//! `Barrier` kept in Redis.
//!
//! Keys: `{ID}:par` the parties and `{ID}:to` the default timeout in seconds (absent = none;
//! both fixed at creation), `{ID}:cnt` the parties waiting in the current generation,
//! `{ID}:gen` the generation number, `{ID}:brk` exists while the barrier is broken,
//! `{ID}:ended` a hash generation → '1' (tripped) / '0' (reset while parties waited) for the
//! last 64 generations, `{ID}:bw` the waiting parties' tokens (each blocks on `{ID}:w:TOKEN`),
//! `{ID}:bn` a hash front-end process → how many of the parties counted in `cnt` wait through
//! it (so that when a front-end dies, its parties leave the count, [`node_gone`]).
//! An arrival is one script; the last party's arrival ends the generation and wakes everyone.
//! A waiter re-checks (one script) after each wake-up or slice: a new generation means it
//! passed (or was reset), `brk` that the barrier broke; its own timeout breaks it.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use redis::Script;

use super::wait;
use crate::managers::objects::barrier::BarrierObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, deadline, names, timeout_arg, CallCtx, CallError, ServedObject,
};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};
use crate::managers::wire;

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Barrier",
    parts: &["par", "to", "cnt", "gen", "brk", "ended", "bw", "bn"],
    init,
    open,
}];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    // Validates exactly as the in-memory constructor.
    BarrierObject::create(args, kwargs)?;
    let b = bind_args(
        "Barrier",
        args,
        kwargs,
        &["parties", "action", "timeout"],
        1,
    )?;
    let parties = crate::managers::sdk::int_arg(b[0].unwrap_or(&PyValue::None))?;
    let mut inits = vec![Init::Set("par", parties.to_string().into_bytes())];
    if let Some(t) = timeout_arg(b[2])? {
        inits.push(Init::Set("to", t.as_secs_f64().to_string().into_bytes()));
    }
    Ok(inits)
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    let k = |p: &str| backend.key(&ident, p);
    Arc::new(RedisBarrier {
        par: k("par"),
        to: k("to"),
        cnt: k("cnt"),
        generation: k("gen"),
        brk: k("brk"),
        ended: k("ended"),
        bw: k("bw"),
        bn: k("bn"),
        wprefix: k("w:"),
        fixed: OnceLock::new(),
        ident,
        b: backend,
    })
}

/// Lua helper `end_generation(cnt, gen, ended, bw, bn, ok, prefix)` (key names as the calling
/// script has them in KEYS): records how generation `gen` ended (`ok` = '1' tripped, '0'
/// reset) in `ended` (keeping 64), starts the next one with no party waiting (`cnt` 0, `bn`
/// empty), and wakes every waiter of `bw` (wake-up key prefix `prefix`).
const END_GENERATION: &str = r"
local function end_generation(cnt, gen, ended, bw, bn, ok, prefix)
  local g = tonumber(redis.call('get', gen) or '0')
  redis.call('hset', ended, g, ok)
  redis.call('hdel', ended, g - 64)
  redis.call('set', gen, g + 1)
  redis.call('set', cnt, 0)
  redis.call('del', bn)
  wake_all(bw, prefix)
end
";

fn script(body: &str) -> Script {
    wait::script(&format!("{END_GENERATION}\n{body}"))
}

/// An arrival: KEYS[1] = par, KEYS[2] = cnt, KEYS[3] = gen, KEYS[4] = brk, KEYS[5] = ended,
/// KEYS[6] = bw, KEYS[7] = bn. ARGV[1] = waiter token, ARGV[2] = wake-up key prefix, ARGV[3] =
/// the waiter's front-end process. Returns {-1, 0} if broken; {index, -1} when this arrival
/// trips the barrier (everyone woken); else {index, generation} with the token registered in
/// bw and the party counted under its node in bn.
static ARRIVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"if redis.call('exists', KEYS[4]) == 1 then return {-1, 0} end
local parties = tonumber(redis.call('get', KEYS[1]) or '1')
local index = redis.call('incr', KEYS[2]) - 1
if index + 1 >= parties then
  end_generation(KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7], '1', ARGV[2])
  return {index, -1}
end
redis.call('rpush', KEYS[6], ARGV[1])
redis.call('hincrby', KEYS[7], ARGV[3], 1)
return {index, tonumber(redis.call('get', KEYS[3]) or '0')}",
    )
});

/// A waiting party's check: KEYS[1] = cnt, KEYS[2] = gen, KEYS[3] = brk, KEYS[4] = ended,
/// KEYS[5] = bw, KEYS[6] = bn. ARGV[1] = the generation it arrived in, ARGV[2] = token,
/// ARGV[3] = wake-up key prefix, ARGV[4] = 'wait' (still waiting), 'timeout' (its timeout
/// passed: break the barrier) or 'gone' (its caller went away: it no longer counts, in cnt nor
/// under its node ARGV[5] in bn). Returns 1 (passed), -1 (broken or reset), 0 (keep waiting;
/// the token is registered), -2 (left).
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"local function out()
  redis.call('lrem', KEYS[5], 0, ARGV[2])
  redis.call('del', ARGV[3] .. ARGV[2])
end
local g = tonumber(redis.call('get', KEYS[2]) or '0')
if g ~= tonumber(ARGV[1]) then
  out()
  if redis.call('hget', KEYS[4], ARGV[1]) == '1' then return 1 end
  return -1
end
if ARGV[4] == 'gone' then
  out()
  if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then redis.call('decr', KEYS[1]) end
  if redis.call('hincrby', KEYS[6], ARGV[5], -1) <= 0 then redis.call('hdel', KEYS[6], ARGV[5]) end
  return -2
end
if redis.call('exists', KEYS[3]) == 1 then
  out()
  return -1
end
if ARGV[4] == 'timeout' then
  out()
  redis.call('set', KEYS[3], '1')
  wake_all(KEYS[5], ARGV[3])
  return -1
end
if not redis.call('lpos', KEYS[5], ARGV[2]) then redis.call('rpush', KEYS[5], ARGV[2]) end
return 0",
    )
});

/// `abort()`: KEYS[1] = brk, KEYS[2] = bw; ARGV[1] = wake-up key prefix. Breaks the barrier and
/// wakes every waiter. Returns 0.
static ABORT: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"redis.call('set', KEYS[1], '1')
wake_all(KEYS[2], ARGV[1])
return 0",
    )
});

/// `reset()`: KEYS[1] = cnt, KEYS[2] = gen, KEYS[3] = brk, KEYS[4] = ended, KEYS[5] = bw,
/// KEYS[6] = bn; ARGV[1] = wake-up key prefix. Ends the generation as failed if parties wait (they get
/// BrokenBarrierError), and unbreaks the barrier. Returns 0.
static RESET: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then
  end_generation(KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6], '0', ARGV[1])
end
redis.call('del', KEYS[3])
return 0",
    )
});

/// Front-end process NODE died: its waiting parties leave, as a vanished waiter does.
/// KEYS[1] = cnt, KEYS[2] = bn, KEYS[3] = bw. ARGV[1] = the dead node, ARGV[2] = wake-up key
/// prefix. Takes the node's count in bn off cnt (not below 0) and its tokens out of bw.
/// Returns the number of parties removed.
static NODE_GONE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"local k = tonumber(redis.call('hget', KEYS[2], ARGV[1]) or '0')
redis.call('hdel', KEYS[2], ARGV[1])
drop_node(KEYS[3], ARGV[1], ARGV[2])
if k > 0 then
  local c = tonumber(redis.call('get', KEYS[1]) or '0') - k
  if c < 0 then c = 0 end
  redis.call('set', KEYS[1], c)
end
return k",
    )
});

/// Front-end process `node` died (see [`objects::node_gone_hook`]): its parties stop counting
/// ([`NODE_GONE`]).
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    b.with(|con| {
        NODE_GONE
            .key(b.key(ident, "cnt"))
            .key(b.key(ident, "bn"))
            .key(b.key(ident, "bw"))
            .arg(node)
            .arg(b.key(ident, "w:"))
            .invoke::<i64>(con)
    })?;
    Ok(())
}

struct RedisBarrier {
    b: BackendRef,
    ident: String,
    par: String,
    to: String,
    cnt: String,
    generation: String,
    brk: String,
    ended: String,
    bw: String,
    bn: String,
    wprefix: String,
    /// (parties, default timeout), read once (they never change).
    fixed: OnceLock<(i64, Option<Duration>)>,
}

fn broken() -> CallError {
    CallError::Raise(wire::broken_barrier_error())
}

impl RedisBarrier {
    fn fixed(&self) -> Result<(i64, Option<Duration>), CallError> {
        if let Some(f) = self.fixed.get() {
            return Ok(*f);
        }
        let (p, t): (Option<i64>, Option<f64>) = self
            .b
            .with(|con| redis::cmd("MGET").arg(&self.par).arg(&self.to).query(con))?;
        let f = (
            p.unwrap_or(1),
            t.and_then(|t| Duration::try_from_secs_f64(t).ok()),
        );
        Ok(*self.fixed.get_or_init(|| f))
    }

    fn check(&self, generation: i64, token: &str, mode: &str) -> Result<i64, CallError> {
        self.b.with(|con| {
            CHECK
                .key(&self.cnt)
                .key(&self.generation)
                .key(&self.brk)
                .key(&self.ended)
                .key(&self.bw)
                .key(&self.bn)
                .arg(generation)
                .arg(token)
                .arg(&self.wprefix)
                .arg(mode)
                .arg(self.b.node())
                .invoke(con)
        })
    }

    fn wait(&self, ctx: &CallCtx, timeout: Option<Duration>) -> Result<PyValue, CallError> {
        let (_, default_timeout) = self.fixed()?;
        let dl = deadline(timeout.or(default_timeout));
        self.b.track(&self.ident)?;
        let token = wait::token(&self.b);
        let (index, arrived): (i64, i64) = self.b.with(|con| {
            ARRIVE
                .key(&self.par)
                .key(&self.cnt)
                .key(&self.generation)
                .key(&self.brk)
                .key(&self.ended)
                .key(&self.bw)
                .key(&self.bn)
                .arg(&token)
                .arg(&self.wprefix)
                .arg(self.b.node())
                .invoke(con)
        })?;
        if index < 0 {
            return Err(broken());
        }
        if arrived < 0 {
            return Ok(PyValue::Int(index));
        }
        let wake = format!("{}{token}", self.wprefix);
        loop {
            let woke = wait::blpop(&self.b, &[&wake], dl);
            let alive = woke.is_ok() && ctx.check().is_ok();
            let mode = if !alive {
                "gone"
            } else if woke.as_ref().is_ok_and(|w| w.is_none()) && wait::expired(dl) {
                "timeout"
            } else {
                "wait"
            };
            match self.check(arrived, &token, mode)? {
                1 => return Ok(PyValue::Int(index)),
                -1 => return Err(broken()),
                -2 => {
                    woke?;
                    return Err(ctx
                        .check()
                        .err()
                        .unwrap_or(CallError::Aborted("the client connection went away")));
                }
                _ => {}
            }
        }
    }
}

impl RedisObject for RedisBarrier {}

impl ServedObject for RedisBarrier {
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
                self.b.with(|con| {
                    ABORT
                        .key(&self.brk)
                        .key(&self.bw)
                        .arg(&self.wprefix)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "reset" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.b.with(|con| {
                    RESET
                        .key(&self.cnt)
                        .key(&self.generation)
                        .key(&self.brk)
                        .key(&self.ended)
                        .key(&self.bw)
                        .key(&self.bn)
                        .arg(&self.wprefix)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "__getattribute__" => {
                let b = bind_args(method, args, kwargs, &["name"], 1)?;
                match b[0].and_then(PyValue::as_str) {
                    Some("parties") => Ok(PyValue::Int(self.fixed()?.0)),
                    Some("n_waiting") => {
                        let n: Option<i64> = self
                            .b
                            .with(|con| redis::cmd("GET").arg(&self.cnt).query(con))?;
                        Ok(PyValue::Int(n.unwrap_or(0)))
                    }
                    Some("broken") => {
                        let x: bool = self
                            .b
                            .with(|con| redis::cmd("EXISTS").arg(&self.brk).query(con))?;
                        Ok(PyValue::Bool(x))
                    }
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
        names(BarrierObject::EXPOSED)
    }

    fn repr(&self) -> String {
        let r = (|| -> Result<String, CallError> {
            let (parties, _) = self.fixed()?;
            let (cnt, brk): (Option<i64>, Option<String>) = self
                .b
                .with(|con| redis::cmd("MGET").arg(&self.cnt).arg(&self.brk).query(con))?;
            Ok(if brk.is_some() {
                "<threading.Barrier: broken>".to_string()
            } else {
                format!(
                    "<threading.Barrier: waiters={}/{parties}>",
                    cnt.unwrap_or(0)
                )
            })
        })();
        r.unwrap_or_else(|e| format!("<Barrier kept in Redis: {}>", e.into_traceback().trim()))
    }
}
