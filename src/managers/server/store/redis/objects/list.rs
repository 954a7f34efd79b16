//! `list` kept in Redis. Keys of object `ID`:
//!
//! - `l`: Redis list of the items' pickles;
//! - `ver`: a version counter every mutating script increments.
//!
//! One round trip each: `__len__` (`LLEN`), `__getitem__` (`LINDEX`, or a slice script over
//! `LRANGE`), `append`/`extend` (`RPUSH`), `__setitem__` at an index (`LSET`), `pop()`/`pop(i)`,
//! `__delitem__` at an index, `insert`, `clear`, `reverse`. Methods needing Python's equality or
//! ordering (`__contains__`, `count`, `index`, `copy`, `+`, `*`, `__reversed__`) read the list
//! and run the in-memory [`ListObject`] on it; the mutating ones among them (`remove`, `sort`,
//! slice assignment and deletion, `*=`) then write the result back with a compare-and-set on
//! `ver` (retried on conflict).
//!
//! Proxies stored in a list are pinned per front-end (see [`Pins`]).

use std::sync::{Arc, LazyLock};

use redis::Script;

use super::dict::{decode_all, encode_all, Pins};
use crate::managers::objects::list::{index_type_error, is_int, ListObject};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, int_arg, names, traceback_text, CallCtx, CallError, ServedObject,
};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::codec::{decode, encode};
use crate::managers::server::store::redis::types::{
    eval_cmd, Init, RedisObject, RedisPlan, RedisType,
};

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "list",
    parts: &["l", "ver"],
    init,
    open,
}];

/// How often a compare-and-set write is retried when other writers keep changing the list.
const CAS_TRIES: usize = 100;

/// The list item a deletion at an index writes before `LREM`: never a pickle (those start with
/// the `PROTO` opcode `\x80`).
const TOMBSTONE: &[u8] = b"\x00mpshare:deleted\x00";

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    let items = ListObject::create(args, kwargs)?.snapshot();
    if items.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Init::RPush("l", encode_all(&items)?)])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisList {
        l: backend.key(&ident, "l"),
        ver: backend.key(&ident, "ver"),
        backend,
        pins: Pins::default(),
    })
}

/// Appends. KEYS: l, ver. ARGV: the pickles. Returns 1.
const PUSH_LUA: &str = r"for i = 1, #ARGV, 1000 do
  redis.call('rpush', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('incr', KEYS[2])
return 1";
static PUSH: LazyLock<Script> = LazyLock::new(|| Script::new(PUSH_LUA));

/// Sets one item. KEYS: l, ver. ARGV: index (negative from the end), pickle. Returns 0 when
/// the index is out of range, else 1.
static SET_AT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('llen', KEYS[1])
local i = tonumber(ARGV[1])
if i < 0 then i = i + n end
if i < 0 or i >= n then return 0 end
redis.call('lset', KEYS[1], i, ARGV[2])
redis.call('incr', KEYS[2])
return 1",
    )
});

/// Removes the item at an index. KEYS: l, ver. ARGV: index (negative from the end), the
/// tombstone. Returns `{0}` for an empty list, `{1}` for an index out of range, else
/// `{2, pickle}`.
static POP_AT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('llen', KEYS[1])
if n == 0 then return {0, false} end
local i = tonumber(ARGV[1])
if i < 0 then i = i + n end
if i < 0 or i >= n then return {1, false} end
local v
if i == n - 1 then
  v = redis.call('rpop', KEYS[1])
elseif i == 0 then
  v = redis.call('lpop', KEYS[1])
else
  v = redis.call('lindex', KEYS[1], i)
  redis.call('lset', KEYS[1], i, ARGV[2])
  redis.call('lrem', KEYS[1], 1, ARGV[2])
end
redis.call('incr', KEYS[2])
return {2, v}",
    )
});

/// `insert(index, item)`. KEYS: l, ver. ARGV: index (clamped like Python's), pickle. Returns 1.
static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('llen', KEYS[1])
local i = tonumber(ARGV[1])
if i < 0 then i = math.max(i + n, 0) else i = math.min(i, n) end
if i == 0 then
  redis.call('lpush', KEYS[1], ARGV[2])
elseif i == n then
  redis.call('rpush', KEYS[1], ARGV[2])
else
  local tail = redis.call('lrange', KEYS[1], i, -1)
  redis.call('ltrim', KEYS[1], 0, i - 1)
  redis.call('rpush', KEYS[1], ARGV[2])
  for j = 1, #tail, 1000 do
    redis.call('rpush', KEYS[1], unpack(tail, j, math.min(j + 999, #tail)))
  end
end
redis.call('incr', KEYS[2])
return 1",
    )
});

/// A slice `l[start:stop:step]` (Python's `slice.indices`). KEYS: l. ARGV: start, stop ('' for
/// None; ints clamped to ±2^62), step (non-zero). Returns the selected pickles.
static SLICE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('llen', KEYS[1])
local step = tonumber(ARGV[3])
local function clamp(v, d)
  if v == '' then return d end
  local i = tonumber(v)
  if i < 0 then
    i = i + n
    if i < 0 then
      if step < 0 then i = -1 else i = 0 end
    end
  elseif i >= n then
    if step < 0 then i = n - 1 else i = n end
  end
  return i
end
local out = {}
if step > 0 then
  local s, e = clamp(ARGV[1], 0), clamp(ARGV[2], n)
  if s >= e then return out end
  local r = redis.call('lrange', KEYS[1], s, e - 1)
  if step == 1 then return r end
  for j = 1, #r, step do out[#out + 1] = r[j] end
else
  local s, e = clamp(ARGV[1], n - 1), clamp(ARGV[2], -1)
  if s <= e then return out end
  local r = redis.call('lrange', KEYS[1], e + 1, s)
  for j = #r, 1, step do out[#out + 1] = r[j] end
end
return out",
    )
});

/// The list and its version. KEYS: l, ver. Returns `{version, {pickle, ...}}`.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"return {tonumber(redis.call('get', KEYS[2]) or '0'), redis.call('lrange', KEYS[1], 0, -1)}",
    )
});

/// Compare-and-set of the whole list. KEYS: l, ver. ARGV[1]: the version read, ARGV[2..]: the
/// new pickles. Returns 0 (changed since: nothing written) or 1.
static CAS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if tonumber(redis.call('get', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('del', KEYS[1])
for i = 2, #ARGV, 1000 do
  redis.call('rpush', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('incr', KEYS[2])
return 1",
    )
});

/// `reverse()`. KEYS: l, ver. Returns 1.
static REVERSE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local r = redis.call('lrange', KEYS[1], 0, -1)
if #r > 1 then
  redis.call('del', KEYS[1])
  for j = 1, #r, 1000 do
    redis.call('lpush', KEYS[1], unpack(r, j, math.min(j + 999, #r)))
  end
end
redis.call('incr', KEYS[2])
return 1",
    )
});

/// `clear()`. KEYS: l, ver. Returns 1.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"redis.call('del', KEYS[1])
redis.call('incr', KEYS[2])
return 1",
    )
});

struct RedisList {
    backend: BackendRef,
    l: String,
    ver: String,
    pins: Pins,
}

/// A slice bound as the SLICE script takes it.
fn bound(v: &PyValue) -> Result<String, CallError> {
    Ok(match v {
        PyValue::None => String::new(),
        PyValue::BigInt(b) if b.is_negative() => (-(1i64 << 62)).to_string(),
        PyValue::BigInt(_) => (1i64 << 62).to_string(),
        other => int_arg(other)?.to_string(),
    })
}

/// An index as the scripts take it (`None`: a big int, always out of range).
fn index_arg(i: &PyValue) -> Result<Option<i64>, CallError> {
    match i {
        PyValue::BigInt(_) => Ok(None),
        other => int_arg(other).map(Some),
    }
}

impl RedisList {
    fn items(&self) -> Result<Vec<PyValue>, CallError> {
        let raw: Vec<Vec<u8>> = self
            .backend
            .with(|con| redis::cmd("LRANGE").arg(&self.l).arg(0).arg(-1).query(con))?;
        decode_all(&raw)
    }

    fn push(&self, items: &[PyValue]) -> Result<(), CallError> {
        if items.is_empty() {
            return Ok(());
        }
        let raw = encode_all(items)?;
        self.backend.with(|con| {
            let mut inv = PUSH.prepare_invoke();
            inv.key(&self.l).key(&self.ver);
            for a in &raw {
                inv.arg(a.as_slice());
            }
            inv.invoke::<i64>(con)
        })?;
        Ok(())
    }

    /// Removes the item at `i`: `Ok(Err(true))` for an empty list, `Ok(Err(false))` for an
    /// index out of range.
    fn pop_at(&self, i: Option<i64>) -> Result<Result<PyValue, bool>, CallError> {
        let Some(i) = i else {
            let n: i64 = self
                .backend
                .with(|con| redis::cmd("LLEN").arg(&self.l).query(con))?;
            return Ok(Err(n == 0));
        };
        let r: (i64, Option<Vec<u8>>) = self.backend.with(|con| {
            POP_AT
                .key(&self.l)
                .key(&self.ver)
                .arg(i)
                .arg(TOMBSTONE)
                .invoke(con)
        })?;
        Ok(match r {
            (2, Some(v)) => Ok(decode(&v)?),
            (0, _) => Err(true),
            _ => Err(false),
        })
    }

    /// Runs `method` on an in-memory list holding this list's items; `write`: store the result
    /// with a compare-and-set, retried while other writers change the list.
    fn on_snapshot(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
        write: bool,
    ) -> Result<PyValue, CallError> {
        let ctx = CallCtx::detached(0);
        for _ in 0..CAS_TRIES {
            let (ver, raw): (i64, Vec<Vec<u8>>) = self
                .backend
                .with(|con| READ.key(&self.l).key(&self.ver).invoke(con))?;
            let obj = ListObject::create(&[PyValue::List(decode_all(&raw)?)], &PyDict::new())?;
            let r = obj.call(&ctx, method, args, kwargs)?;
            if !write {
                return Ok(r);
            }
            let new = encode_all(&obj.snapshot())?;
            let ok: i64 = self.backend.with(|con| {
                let mut inv = CAS.prepare_invoke();
                inv.key(&self.l).key(&self.ver).arg(ver);
                for a in &new {
                    inv.arg(a.as_slice());
                }
                inv.invoke(con)
            })?;
            if ok == 1 {
                return Ok(r);
            }
        }
        Err(CallError::Traceback(traceback_text(
            "RuntimeError",
            &format!(
                "list.{method}: the list kept in Redis changed under {CAS_TRIES} attempts in a row"
            ),
        )))
    }

    fn call_inner(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let b = &self.backend;
        match method {
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let n: i64 = b.with(|con| redis::cmd("LLEN").arg(&self.l).query(con))?;
                Ok(PyValue::Int(n))
            }
            "__getitem__" => {
                let a = bind_args(method, args, kwargs, &["index"], 1)?;
                let i = a[0].unwrap_or(&PyValue::None);
                if let Some((s, e, st)) = i.as_slice() {
                    let step = if st.is_none() { 1 } else { int_arg(st)? };
                    if step == 0 {
                        return Err(CallError::value_error("slice step cannot be zero"));
                    }
                    let (s, e) = (bound(s)?, bound(e)?);
                    let raw: Vec<Vec<u8>> =
                        b.with(|con| SLICE.key(&self.l).arg(&s).arg(&e).arg(step).invoke(con))?;
                    return Ok(PyValue::List(decode_all(&raw)?));
                }
                if !is_int(i) {
                    return Err(index_type_error(i));
                }
                let v: Option<Vec<u8>> = match index_arg(i)? {
                    Some(j) => b.with(|con| redis::cmd("LINDEX").arg(&self.l).arg(j).query(con))?,
                    None => None,
                };
                match v {
                    Some(v) => decode(&v),
                    None => Err(CallError::index_error("list index out of range")),
                }
            }
            "__setitem__" => {
                let a = bind_args(method, args, kwargs, &["index", "value"], 2)?;
                let i = a[0].unwrap_or(&PyValue::None);
                if i.as_slice().is_some() {
                    return self.on_snapshot(method, args, kwargs, true);
                }
                if !is_int(i) {
                    return Err(index_type_error(i));
                }
                let ok: i64 = match index_arg(i)? {
                    Some(j) => {
                        let v = encode(a[1].unwrap_or(&PyValue::None))?;
                        b.with(|con| {
                            SET_AT
                                .key(&self.l)
                                .key(&self.ver)
                                .arg(j)
                                .arg(&v)
                                .invoke(con)
                        })?
                    }
                    None => 0,
                };
                if ok == 1 {
                    Ok(PyValue::None)
                } else {
                    Err(CallError::index_error("list assignment index out of range"))
                }
            }
            "__delitem__" => {
                let a = bind_args(method, args, kwargs, &["index"], 1)?;
                let i = a[0].unwrap_or(&PyValue::None);
                if i.as_slice().is_some() {
                    return self.on_snapshot(method, args, kwargs, true);
                }
                if !is_int(i) {
                    return Err(index_type_error(i));
                }
                match self.pop_at(index_arg(i)?)? {
                    Ok(_) => Ok(PyValue::None),
                    Err(_) => Err(CallError::index_error("list assignment index out of range")),
                }
            }
            "pop" => {
                let a = bind_args(method, args, kwargs, &["index"], 0)?;
                let i = match a[0] {
                    Some(i) => index_arg(i)?,
                    None => Some(-1),
                };
                match self.pop_at(i)? {
                    Ok(v) => Ok(v),
                    Err(true) => Err(CallError::index_error("pop from empty list")),
                    Err(false) => Err(CallError::index_error("pop index out of range")),
                }
            }
            "append" => {
                let a = bind_args(method, args, kwargs, &["object"], 1)?;
                self.push(&[a[0].cloned().unwrap_or(PyValue::None)])?;
                Ok(PyValue::None)
            }
            "extend" => {
                let a = bind_args(method, args, kwargs, &["iterable"], 1)?;
                let new = crate::managers::objects::list::iterate(a[0].unwrap_or(&PyValue::None))?;
                self.push(&new)?;
                Ok(PyValue::None)
            }
            "insert" => {
                let a = bind_args(method, args, kwargs, &["index", "object"], 2)?;
                let i = int_arg(a[0].unwrap_or(&PyValue::None))?;
                let v = encode(a[1].unwrap_or(&PyValue::None))?;
                b.with(|con| {
                    INSERT
                        .key(&self.l)
                        .key(&self.ver)
                        .arg(i)
                        .arg(&v)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                b.with(|con| CLEAR.key(&self.l).key(&self.ver).invoke::<i64>(con))?;
                Ok(PyValue::None)
            }
            "reverse" => {
                bind_args(method, args, kwargs, &[], 0)?;
                b.with(|con| REVERSE.key(&self.l).key(&self.ver).invoke::<i64>(con))?;
                Ok(PyValue::None)
            }
            "copy" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::List(self.items()?))
            }
            "__contains__" | "count" | "index" | "__add__" | "__mul__" | "__rmul__"
            | "__reversed__" => self.on_snapshot(method, args, kwargs, false),
            "remove" | "sort" | "__imul__" => self.on_snapshot(method, args, kwargs, true),
            _ => Err(CallError::no_method("list", method)),
        }
    }
}

impl RedisObject for RedisList {
    /// The one-command calls, for pipelined runs: `__len__` (`LLEN`), `__getitem__` at an
    /// index (`LINDEX`), `append` (the push script) when no proxy is involved (pins need
    /// [`ServedObject::call`]).
    fn plan(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Option<RedisPlan> {
        let ready =
            |r: Result<RedisPlan, CallError>| Some(r.unwrap_or_else(|e| RedisPlan::Ready(Err(e))));
        match method {
            "__len__" => ready(bind_args(method, args, kwargs, &[], 0).map(|_| {
                let mut cmd = redis::cmd("LLEN");
                cmd.arg(&self.l);
                RedisPlan::Cmd(
                    cmd,
                    Box::new(|v| match v {
                        redis::Value::Int(n) => Ok(PyValue::Int(n)),
                        _ => Ok(PyValue::Int(0)),
                    }),
                )
            })),
            "__getitem__" => {
                let a = match bind_args(method, args, kwargs, &["index"], 1) {
                    Ok(a) => a,
                    Err(e) => return ready(Err(e)),
                };
                let i = a[0].unwrap_or(&PyValue::None);
                if i.as_slice().is_some() || !is_int(i) {
                    return None;
                }
                let j = match index_arg(i) {
                    Ok(Some(j)) => j,
                    Ok(None) => return None,
                    Err(e) => return ready(Err(e)),
                };
                let mut cmd = redis::cmd("LINDEX");
                cmd.arg(&self.l).arg(j);
                ready(Ok(RedisPlan::Cmd(
                    cmd,
                    Box::new(|v| match v {
                        redis::Value::BulkString(b) => decode(&b),
                        _ => Err(CallError::index_error("list index out of range")),
                    }),
                )))
            }
            "append" if !self.pins.needed(args, kwargs) => ready((|| {
                let a = bind_args(method, args, kwargs, &["object"], 1)?;
                let v = encode(a[0].unwrap_or(&PyValue::None))?;
                let cmd = eval_cmd(PUSH_LUA, &[&self.l, &self.ver], &[&v]);
                Ok(RedisPlan::Cmd(cmd, Box::new(|_| Ok(PyValue::None))))
            })()),
            _ => None,
        }
    }
}

impl ServedObject for RedisList {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let r = self.call_inner(method, args, kwargs);
        if matches!(
            method,
            "__setitem__"
                | "__delitem__"
                | "__imul__"
                | "append"
                | "extend"
                | "insert"
                | "pop"
                | "remove"
                | "clear"
        ) && self.pins.needed(args, kwargs)
        {
            self.pin_stored_proxies(ctx);
        }
        r
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        if let Ok(items) = self.items() {
            self.pins.refresh(ctx, items.iter());
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(ListObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.items() {
            Ok(items) => PyValue::List(items).to_string(),
            Err(e) => format!("<list kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::List(self.items()?))
    }
}
