//! `dict` kept in Redis. Keys of object `ID` (all with hash tag `{ID}`):
//!
//! - `k`: hash canonical key → pickle of the key object first inserted under it (Python keeps
//!   the first key of equal keys: `d[1] = 'a'; d[1.0] = 'b'` leaves key `1`);
//! - `v`: hash canonical key → pickle of the value;
//! - `o`: sorted set canonical key → insertion sequence (the dict's order);
//! - `seq`: the insertion counter.
//!
//! The canonical key ([`canonical_key`]) is equal exactly for Python-equal keys (`1`, `1.0`,
//! `True`). `__getitem__`/`get` = `HGET`, `__contains__` = `HEXISTS`, `__len__` = `HLEN`;
//! every mutation is one script; ordered reads (`keys`, `items`, `copy`, repr, `#GETVALUE`,
//! `__iter__`) are one script walking `o`. Methods computing a new dict (`__or__`, `fromkeys`)
//! read once and run the in-memory [`DictObject`] on the snapshot.
//!
//! Proxies stored in a dict are pinned per front-end (see [`Pins`]).

use std::sync::{Arc, LazyLock, Mutex};

use redis::Script;

use crate::managers::objects::dict::{update_from, DictObject};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    bind_args, contains_proxy, lock, names, CallCtx, CallError, PinSet, ServedObject,
};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::codec::{canonical_key, decode, encode};
use crate::managers::server::store::redis::types::{
    eval_cmd, Init, RedisObject, RedisPlan, RedisType, Stored,
};

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "dict",
    parts: &["k", "v", "o", "seq"],
    init,
    open,
}];

/// Decodes a list of pickles.
pub(crate) fn decode_all(raw: &[Vec<u8>]) -> Result<Vec<PyValue>, CallError> {
    raw.iter().map(|b| decode(b)).collect()
}

/// Encodes a list of values as pickles.
pub(crate) fn encode_all(items: &[PyValue]) -> Result<Vec<Vec<u8>>, CallError> {
    items.iter().map(encode).collect()
}

/// The references a container kept in Redis holds, through this front-end, on the objects
/// whose proxies are stored in it. Per front-end process (the handle is): a proxy stored
/// through front-end A is pinned by A (a reference under A's refs field) until a later
/// mutation through A no longer finds it, A's handle is dropped (the container died through
/// A), or A stops (its references are dropped then). Refreshing reads the whole container, so
/// it only happens when a call brings a proxy in or pins exist.
#[derive(Debug, Default)]
pub(crate) struct Pins(Mutex<PinSet>);

impl Pins {
    /// True when a call with these arguments must be followed by a refresh.
    pub(crate) fn needed(&self, args: &[PyValue], kwargs: &PyDict) -> bool {
        !lock(&self.0).is_empty()
            || args.iter().any(contains_proxy)
            || kwargs.values().any(contains_proxy)
    }

    /// Recomputes the pins from the values now stored.
    pub(crate) fn refresh<'v>(&self, ctx: &CallCtx, values: impl IntoIterator<Item = &'v PyValue>) {
        lock(&self.0).refresh(ctx, values);
    }
}

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    let d = DictObject::create(args, kwargs)?.snapshot();
    if d.is_empty() {
        return Ok(Vec::new());
    }
    let (mut ks, mut vs, mut os) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (k, v)) in d.iter().enumerate() {
        let c = canonical_key(k)?;
        ks.push((c.clone(), encode(k)?));
        vs.push((c.clone(), encode(v)?));
        os.push((i as i64 + 1, c));
    }
    let n = os.len();
    Ok(vec![
        Init::HSet("k", ks),
        Init::HSet("v", vs),
        Init::ZAdd("o", os),
        Init::Set("seq", n.to_string().into_bytes()),
    ])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisDict {
        k: backend.key(&ident, "k"),
        v: backend.key(&ident, "v"),
        o: backend.key(&ident, "o"),
        seq: backend.key(&ident, "seq"),
        ident,
        backend,
        pins: Pins::default(),
    })
}

/// Reads the dict in insertion order. KEYS: k, v, o. Returns the flat array
/// `[key pickle, value pickle, ...]`.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local c = redis.call('zrange', KEYS[3], 0, -1)
local out = {}
for _, f in ipairs(c) do
  out[#out + 1] = redis.call('hget', KEYS[1], f)
  out[#out + 1] = redis.call('hget', KEYS[2], f)
end
return out",
    )
});

/// The keys in insertion order. KEYS: k, o. Returns `[key pickle, ...]`.
static KEYS_IN_ORDER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local c = redis.call('zrange', KEYS[2], 0, -1)
local out = {}
for _, f in ipairs(c) do out[#out + 1] = redis.call('hget', KEYS[1], f) end
return out",
    )
});

/// Sets keys (`__setitem__`, `update`, `|=`). KEYS: k, v, o, seq. ARGV[1]: '1' to return the
/// dict afterwards (as [`READ`] does), then triples (canonical key, key pickle, value pickle)
/// applied in order: a new key gets the next sequence number, an existing one keeps its key
/// object and position. Returns the flat dict if asked, else 1.
const UPSERT_LUA: &str = r"for i = 2, #ARGV, 3 do
  if redis.call('hexists', KEYS[2], ARGV[i]) == 0 then
    redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('zadd', KEYS[3], redis.call('incr', KEYS[4]), ARGV[i])
  end
  redis.call('hset', KEYS[2], ARGV[i], ARGV[i + 2])
end
if ARGV[1] ~= '1' then return 1 end
local c = redis.call('zrange', KEYS[3], 0, -1)
local out = {}
for _, f in ipairs(c) do
  out[#out + 1] = redis.call('hget', KEYS[1], f)
  out[#out + 1] = redis.call('hget', KEYS[2], f)
end
return out";
static UPSERT: LazyLock<Script> = LazyLock::new(|| Script::new(UPSERT_LUA));

/// `setdefault`. KEYS: k, v, o, seq. ARGV: canonical key, key pickle, default pickle. Returns
/// the value pickle already there, or false after inserting the default.
static SETDEFAULT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('hget', KEYS[2], ARGV[1])
if v then return v end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('hset', KEYS[2], ARGV[1], ARGV[3])
redis.call('zadd', KEYS[3], redis.call('incr', KEYS[4]), ARGV[1])
return false",
    )
});

/// `pop`/`__delitem__`. KEYS: k, v, o. ARGV[1]: canonical key. Returns the removed value's
/// pickle, or false when the key is absent.
static POP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('hget', KEYS[2], ARGV[1])
if not v then return false end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('zrem', KEYS[3], ARGV[1])
return v",
    )
});

/// `popitem` (last inserted first). KEYS: k, v, o. Returns `{key pickle, value pickle}`, or an
/// empty array when the dict is empty.
static POPITEM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local c = redis.call('zrange', KEYS[3], -1, -1)
if #c == 0 then return {} end
local f = c[1]
local k = redis.call('hget', KEYS[1], f)
local v = redis.call('hget', KEYS[2], f)
redis.call('hdel', KEYS[1], f)
redis.call('hdel', KEYS[2], f)
redis.call('zrem', KEYS[3], f)
return {k, v}",
    )
});

struct RedisDict {
    backend: BackendRef,
    ident: String,
    k: String,
    v: String,
    o: String,
    seq: String,
    pins: Pins,
}

fn pairs(raw: Vec<Vec<u8>>) -> Result<PyDict, CallError> {
    let mut d = PyDict::new();
    let mut it = raw.chunks_exact(2);
    for p in &mut it {
        let _ = d
            .insert(decode(&p[0])?, decode(&p[1])?)
            .map_err(|e| CallError::type_error(&e.to_string()))?;
    }
    Ok(d)
}

impl RedisDict {
    fn read(&self) -> Result<PyDict, CallError> {
        let raw: Vec<Vec<u8>> = self
            .backend
            .with(|con| READ.key(&self.k).key(&self.v).key(&self.o).invoke(con))?;
        pairs(raw)
    }

    fn upsert(&self, d: &PyDict, want: bool) -> Result<Option<PyDict>, CallError> {
        let mut argv: Vec<Vec<u8>> = vec![if want { b"1".to_vec() } else { b"0".to_vec() }];
        for (k, v) in d.iter() {
            argv.push(canonical_key(k)?);
            argv.push(encode(k)?);
            argv.push(encode(v)?);
        }
        if want {
            let raw: Vec<Vec<u8>> = self.backend.with(|con| {
                let mut inv = UPSERT.prepare_invoke();
                inv.key(&self.k).key(&self.v).key(&self.o).key(&self.seq);
                for a in &argv {
                    inv.arg(a.as_slice());
                }
                inv.invoke(con)
            })?;
            return pairs(raw).map(Some);
        }
        if d.is_empty() {
            return Ok(None);
        }
        self.backend.with(|con| {
            let mut inv = UPSERT.prepare_invoke();
            inv.key(&self.k).key(&self.v).key(&self.o).key(&self.seq);
            for a in &argv {
                inv.arg(a.as_slice());
            }
            inv.invoke::<i64>(con)
        })?;
        Ok(None)
    }

    fn pop_key(&self, c: &[u8]) -> Result<Option<PyValue>, CallError> {
        let v: Option<Vec<u8>> = self.backend.with(|con| {
            POP.key(&self.k)
                .key(&self.v)
                .key(&self.o)
                .arg(c)
                .invoke(con)
        })?;
        v.map(|b| decode(&b)).transpose()
    }

    /// Runs `method` on an in-memory dict holding this dict's snapshot (no write back).
    fn on_snapshot(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let d = self.read()?;
        let obj = DictObject::create(&[PyValue::Dict(d)], &PyDict::new())?;
        obj.call(&CallCtx::detached(0), method, args, kwargs)
    }

    fn call_inner(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let b = &self.backend;
        match method {
            "__getitem__" => {
                let a = bind_args(method, args, kwargs, &["key"], 1)?;
                let k = a[0].unwrap_or(&PyValue::None);
                let c = canonical_key(k)?;
                let v: Option<Vec<u8>> =
                    b.with(|con| redis::cmd("HGET").arg(&self.v).arg(&c).query(con))?;
                match v {
                    Some(v) => decode(&v),
                    None => Err(CallError::key_error(k.clone())),
                }
            }
            "get" => {
                let a = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = a[0].unwrap_or(&PyValue::None);
                let c = canonical_key(k)?;
                let v: Option<Vec<u8>> =
                    b.with(|con| redis::cmd("HGET").arg(&self.v).arg(&c).query(con))?;
                match v {
                    Some(v) => decode(&v),
                    None => Ok(a[1].cloned().unwrap_or(PyValue::None)),
                }
            }
            "__contains__" => {
                let a = bind_args(method, args, kwargs, &["key"], 1)?;
                let c = canonical_key(a[0].unwrap_or(&PyValue::None))?;
                let e: bool =
                    b.with(|con| redis::cmd("HEXISTS").arg(&self.v).arg(&c).query(con))?;
                Ok(PyValue::Bool(e))
            }
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let n: i64 = b.with(|con| redis::cmd("HLEN").arg(&self.v).query(con))?;
                Ok(PyValue::Int(n))
            }
            "__setitem__" => {
                let a = bind_args(method, args, kwargs, &["key", "value"], 2)?;
                let k = a[0].unwrap_or(&PyValue::None);
                let v = a[1].unwrap_or(&PyValue::None);
                let (c, kp, vp) = (canonical_key(k)?, encode(k)?, encode(v)?);
                b.with(|con| {
                    UPSERT
                        .key(&self.k)
                        .key(&self.v)
                        .key(&self.o)
                        .key(&self.seq)
                        .arg("0")
                        .arg(&c)
                        .arg(&kp)
                        .arg(&vp)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "__delitem__" => {
                let a = bind_args(method, args, kwargs, &["key"], 1)?;
                let k = a[0].unwrap_or(&PyValue::None);
                match self.pop_key(&canonical_key(k)?)? {
                    Some(_) => Ok(PyValue::None),
                    None => Err(CallError::key_error(k.clone())),
                }
            }
            "pop" => {
                let a = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = a[0].unwrap_or(&PyValue::None);
                match self.pop_key(&canonical_key(k)?)? {
                    Some(v) => Ok(v),
                    None => a[1].cloned().ok_or_else(|| CallError::key_error(k.clone())),
                }
            }
            "popitem" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let r: Vec<Vec<u8>> =
                    b.with(|con| POPITEM.key(&self.k).key(&self.v).key(&self.o).invoke(con))?;
                match r.as_slice() {
                    [k, v] => Ok(PyValue::Tuple(vec![decode(k)?, decode(v)?])),
                    _ => Err(CallError::key_error(PyValue::str(
                        "popitem(): dictionary is empty",
                    ))),
                }
            }
            "setdefault" => {
                let a = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = a[0].unwrap_or(&PyValue::None);
                let dflt = a[1].cloned().unwrap_or(PyValue::None);
                let (c, kp, vp) = (canonical_key(k)?, encode(k)?, encode(&dflt)?);
                let v: Option<Vec<u8>> = b.with(|con| {
                    SETDEFAULT
                        .key(&self.k)
                        .key(&self.v)
                        .key(&self.o)
                        .key(&self.seq)
                        .arg(&c)
                        .arg(&kp)
                        .arg(&vp)
                        .invoke(con)
                })?;
                match v {
                    Some(v) => decode(&v),
                    None => Ok(dflt),
                }
            }
            "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                b.with(|con| {
                    redis::cmd("DEL")
                        .arg(&self.k)
                        .arg(&self.v)
                        .arg(&self.o)
                        .query::<()>(con)
                })?;
                Ok(PyValue::None)
            }
            "update" => {
                if args.len() > 1 {
                    return Err(CallError::type_error(&format!(
                        "update expected at most 1 argument, got {}",
                        args.len()
                    )));
                }
                let mut d = PyDict::new();
                if let Some(a) = args.first() {
                    update_from(&mut d, a)?;
                }
                update_from(&mut d, &PyValue::Dict(kwargs.clone()))?;
                self.upsert(&d, false)?;
                Ok(PyValue::None)
            }
            "__ior__" => {
                let a = bind_args(method, args, kwargs, &["other"], 1)?;
                let mut d = PyDict::new();
                update_from(&mut d, a[0].unwrap_or(&PyValue::None))?;
                let after = self.upsert(&d, true)?.unwrap_or_default();
                Ok(PyValue::Dict(after))
            }
            "copy" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Dict(self.read()?))
            }
            "keys" | "values" | "items" | "__reversed__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let d = self.read()?;
                Ok(PyValue::List(match method {
                    "keys" => d.keys().cloned().collect(),
                    "values" => d.values().cloned().collect(),
                    "items" => d
                        .iter()
                        .map(|(k, v)| PyValue::Tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                    _ => d.iter().rev().map(|(k, _)| k.clone()).collect(),
                }))
            }
            "__or__" | "__ror__" => self.on_snapshot(method, args, kwargs),
            "fromkeys" => DictObject::default().call(&CallCtx::detached(0), method, args, kwargs),
            _ => Err(CallError::no_method("dict", method)),
        }
    }
}

impl RedisObject for RedisDict {
    /// The one-command calls, for pipelined runs: `__getitem__`/`get` (`HGET`),
    /// `__contains__` (`HEXISTS`), `__len__` (`HLEN`), `__setitem__` (the upsert script) when
    /// no proxy is involved (pins need [`ServedObject::call`]).
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
            "__getitem__" | "get" | "__contains__" => ready((|| {
                let names: &[&str] = if method == "get" {
                    &["key", "default"]
                } else {
                    &["key"]
                };
                let a = bind_args(method, args, kwargs, names, 1)?;
                let k = a[0].cloned().unwrap_or(PyValue::None);
                let c = canonical_key(&k)?;
                if method == "__contains__" {
                    let mut cmd = redis::cmd("HEXISTS");
                    cmd.arg(&self.v).arg(c);
                    return Ok(RedisPlan::Cmd(
                        cmd,
                        Box::new(|v| Ok(PyValue::Bool(matches!(v, redis::Value::Int(1))))),
                    ));
                }
                let dflt = a.get(1).and_then(|d| d.cloned());
                let get = method == "get";
                let mut cmd = redis::cmd("HGET");
                cmd.arg(&self.v).arg(c);
                Ok(RedisPlan::Cmd(
                    cmd,
                    Box::new(move |v| match v {
                        redis::Value::BulkString(b) => decode(&b),
                        _ if get => Ok(dflt.unwrap_or(PyValue::None)),
                        _ => Err(CallError::key_error(k)),
                    }),
                ))
            })()),
            "__len__" => ready(bind_args(method, args, kwargs, &[], 0).map(|_| {
                let mut cmd = redis::cmd("HLEN");
                cmd.arg(&self.v);
                RedisPlan::Cmd(
                    cmd,
                    Box::new(|v| match v {
                        redis::Value::Int(n) => Ok(PyValue::Int(n)),
                        _ => Ok(PyValue::Int(0)),
                    }),
                )
            })),
            "__setitem__" if !self.pins.needed(args, kwargs) => ready((|| {
                let a = bind_args(method, args, kwargs, &["key", "value"], 2)?;
                let k = a[0].unwrap_or(&PyValue::None);
                let v = a[1].unwrap_or(&PyValue::None);
                let (c, kp, vp) = (canonical_key(k)?, encode(k)?, encode(v)?);
                let cmd = eval_cmd(
                    UPSERT_LUA,
                    &[&self.k, &self.v, &self.o, &self.seq],
                    &[b"0", &c, &kp, &vp],
                );
                Ok(RedisPlan::Cmd(cmd, Box::new(|_| Ok(PyValue::None))))
            })()),
            _ => None,
        }
    }

    fn call_stored(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Option<Result<Stored, CallError>> {
        if method != "__iter__" {
            return None;
        }
        Some((|| {
            bind_args(method, args, kwargs, &[], 0)?;
            let keys: Vec<Vec<u8>> = self
                .backend
                .with(|con| KEYS_IN_ORDER.key(&self.k).key(&self.o).invoke(con))?;
            super::iterator::create_stored(&self.backend, keys, Some(&self.ident))
        })())
    }
}

impl ServedObject for RedisDict {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let r = self.call_inner(method, args, kwargs);
        let mutating = matches!(
            method,
            "__setitem__"
                | "__delitem__"
                | "clear"
                | "pop"
                | "popitem"
                | "setdefault"
                | "update"
                | "__ior__"
        );
        if mutating && self.pins.needed(args, kwargs) {
            self.pin_stored_proxies(ctx);
        }
        r
    }

    fn call_object(
        &self,
        _ctx: &CallCtx,
        method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<Arc<dyn ServedObject>, CallError> {
        // `__iter__` is answered by `call_stored` (the iterator is kept in Redis too).
        Err(CallError::no_method("dict", method))
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        if let Ok(d) = self.read() {
            self.pins.refresh(ctx, d.iter().flat_map(|(k, v)| [k, v]));
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(DictObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.read() {
            Ok(d) => PyValue::Dict(d).to_string(),
            Err(e) => format!("<dict kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::Dict(self.read()?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::managers::server::store::redis::testing::{call, make, redis};

    pub(crate) fn call_err(o: &Arc<dyn RedisObject>, m: &str, args: &[PyValue]) -> String {
        o.call(&CallCtx::detached(1), m, args, &PyDict::new())
            .err()
            .unwrap_or_else(|| panic!("{m} should fail"))
            .to_string()
    }

    #[test]
    fn dict_keys_follow_python_equality_and_order() {
        let Some(r) = redis() else { return };
        let (ident, d) = make(&r.backend, "dict", &[]);
        let s = PyValue::str;
        call(&d, "__setitem__", &[PyValue::Int(1), s("a")]);
        call(&d, "__setitem__", &[s("x"), PyValue::Int(2)]);
        call(&d, "__setitem__", &[PyValue::Float(1.0), s("b")]);
        assert_eq!(d.repr(), "{1: 'b', 'x': 2}");
        assert_eq!(call(&d, "__getitem__", &[PyValue::Bool(true)]), s("b"));
        assert_eq!(call(&d, "__len__", &[]), PyValue::Int(2));
        assert!(call_err(&d, "__getitem__", &[s("nope")]).contains("KeyError"));
        assert!(
            call_err(&d, "__setitem__", &[PyValue::List(vec![]), s("v")]).contains("TypeError")
        );
        // Another handle (another front-end) sees the same dict.
        let other = (crate::managers::server::store::redis::objects::lookup("dict")
            .unwrap()
            .open)(r.backend.clone(), ident);
        assert_eq!(other.repr(), "{1: 'b', 'x': 2}");
        assert_eq!(
            call(&other, "popitem", &[]),
            PyValue::Tuple(vec![s("x"), PyValue::Int(2)])
        );
        assert_eq!(
            call(&d, "setdefault", &[s("y"), PyValue::Int(3)]),
            PyValue::Int(3)
        );
        assert_eq!(
            call(&d, "keys", &[]),
            PyValue::List(vec![PyValue::Int(1), s("y")])
        );
        // __iter__ makes an Iterator kept in Redis; a size change ends it with RuntimeError.
        let (_, it) = d
            .call_stored(&CallCtx::detached(1), "__iter__", &[], &PyDict::new())
            .expect("stored")
            .expect("iterator");
        assert_eq!(call(&it, "__next__", &[]), PyValue::Int(1));
        call(&d, "__setitem__", &[s("z"), PyValue::None]);
        assert!(call_err(&it, "__next__", &[]).contains("RuntimeError"));
        assert!(call_err(&it, "__next__", &[]).contains("RuntimeError"));
        let (_, it) = d
            .call_stored(&CallCtx::detached(1), "__iter__", &[], &PyDict::new())
            .unwrap()
            .unwrap();
        for _ in 0..3 {
            call(&it, "__next__", &[]);
        }
        assert!(call_err(&it, "__next__", &[]).contains("StopIteration"));
        call(&d, "clear", &[]);
        assert_eq!(d.repr(), "{}");
    }

    #[test]
    fn list_namespace_and_array_match_the_in_memory_objects() {
        let Some(r) = redis() else { return };
        let b = &r.backend;
        let ints = |v: &[i64]| PyValue::List(v.iter().map(|i| PyValue::Int(*i)).collect());
        let slice = |a: PyValue, z: PyValue, s: PyValue| PyValue::slice(a, z, s);
        let (_, l) = make(b, "list", &[ints(&[0, 1, 2, 3, 4, 5])]);
        assert_eq!(
            call(&l, "__getitem__", &[PyValue::Int(-1)]),
            PyValue::Int(5)
        );
        assert_eq!(
            call(
                &l,
                "__getitem__",
                &[slice(PyValue::Int(5), PyValue::Int(0), PyValue::Int(-2))]
            ),
            ints(&[5, 3, 1])
        );
        assert!(call_err(&l, "__getitem__", &[PyValue::Int(6)]).contains("out of range"));
        assert_eq!(call(&l, "pop", &[PyValue::Int(2)]), PyValue::Int(2));
        call(&l, "insert", &[PyValue::Int(1), PyValue::Int(9)]);
        call(
            &l,
            "__setitem__",
            &[
                slice(PyValue::Int(0), PyValue::Int(2), PyValue::None),
                ints(&[7]),
            ],
        );
        call(&l, "sort", &[]);
        assert_eq!(l.repr(), "[1, 3, 4, 5, 7]");
        assert_eq!(call(&l, "index", &[PyValue::Float(4.0)]), PyValue::Int(2));
        call(&l, "remove", &[PyValue::Int(3)]);
        call(&l, "reverse", &[]);
        assert_eq!(l.repr(), "[7, 5, 4, 1]");

        let (_, ns) = make(b, "Namespace", &[]);
        call(&ns, "__setattr__", &[PyValue::str("b"), PyValue::Int(2)]);
        call(&ns, "__setattr__", &[PyValue::str("_h"), PyValue::Int(0)]);
        assert_eq!(ns.repr(), "Namespace(b=2)");
        assert!(call_err(&ns, "__delattr__", &[PyValue::str("zz")]).contains("AttributeError"));

        let (_, a) = make(b, "Array", &[PyValue::str("h"), ints(&[1, -2, 3])]);
        assert_eq!(call(&a, "__len__", &[]), PyValue::Int(3));
        assert_eq!(
            call(&a, "__getitem__", &[PyValue::Int(-2)]),
            PyValue::Int(-2)
        );
        call(&a, "__setitem__", &[PyValue::Int(0), PyValue::Int(300)]);
        assert!(
            call_err(&a, "__setitem__", &[PyValue::Int(0), PyValue::Int(1 << 20)])
                .contains("OverflowError")
        );
        assert!(
            call_err(&a, "__setitem__", &[PyValue::Int(5), PyValue::str("x")])
                .contains("IndexError")
        );
        assert_eq!(a.repr(), "array('h', [300, -2, 3])");
    }
}
