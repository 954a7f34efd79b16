//! `Iterator` (the result of `dict.__iter__`) kept in Redis. Keys of object `ID`:
//!
//! - `l`: list of the pickles still to yield (a snapshot taken by `__iter__`);
//! - `src`: the ident of the dict iterated over, and `n` its size then: every `__next__` first
//!   compares the dict's `HLEN` with `n` (CPython's "dictionary changed size during
//!   iteration" `RuntimeError`);
//! - `e`: once set, the pickled exception every later `__next__` raises (`StopIteration` or the
//!   `RuntimeError`): iterators stay ended, as CPython's do.
//!
//! `__next__` is `HLEN` on the dict plus one script (`LPOP`); `src`/`n` never change and are
//! read once per front-end.

use std::sync::{Arc, LazyLock, OnceLock};

use redis::Script;

use crate::managers::objects::iterator::IteratorObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{names, traceback_text, CallCtx, CallError, ServedObject};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::codec::{decode, encode};
use crate::managers::server::store::redis::refs;
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};
use crate::managers::wire;

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Iterator",
    parts: &["l", "src", "n", "e"],
    init,
    open,
}];

/// `create('Iterator')`: refused, as the in-memory registry's result-only typeid is.
fn init(_args: &[PyValue], _kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    Err(CallError::Traceback(traceback_text(
        "TypeError",
        &format!("typeid {:?} cannot be created directly", "Iterator"),
    )))
}

/// Creates an iterator over `items` (pickles) in Redis with one reference from this front-end;
/// `src`: the ident of the dict whose size it checks (its size now is `items.len()`).
pub(crate) fn create_stored(
    b: &BackendRef,
    items: Vec<Vec<u8>>,
    src: Option<&str>,
) -> Result<(String, Arc<dyn RedisObject>), CallError> {
    let ident = refs::new_ident(b)?;
    let mut inits = Vec::new();
    if let Some(src) = src {
        inits.push(Init::Set("src", src.as_bytes().to_vec()));
        inits.push(Init::Set("n", items.len().to_string().into_bytes()));
    }
    if !items.is_empty() {
        inits.push(Init::RPush("l", items));
    }
    refs::create(b, &TYPES[0], &ident, &inits, false)?;
    let obj = open(b.clone(), ident.clone());
    Ok((ident, obj))
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisIterator {
        l: backend.key(&ident, "l"),
        src: backend.key(&ident, "src"),
        n: backend.key(&ident, "n"),
        e: backend.key(&ident, "e"),
        backend,
        check: OnceLock::new(),
    })
}

/// One step. KEYS: l, e. ARGV[1]: '1' when the source dict changed size, ARGV[2]: the pickled
/// RuntimeError to end with then, ARGV[3]: the pickled StopIteration. Returns `{1, item}` or
/// `{0, pickled exception}` (recorded in `e` so that the iterator stays ended).
static NEXT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local e = redis.call('get', KEYS[2])
if e then return {0, e} end
if ARGV[1] == '1' then
  redis.call('del', KEYS[1])
  redis.call('set', KEYS[2], ARGV[2])
  return {0, ARGV[2]}
end
local v = redis.call('lpop', KEYS[1])
if v then return {1, v} end
redis.call('set', KEYS[2], ARGV[3])
return {0, ARGV[3]}",
    )
});

/// What `__next__` checks: the source dict's `v` and `meta` keys and its size at `__iter__`.
type Check = Option<(String, String, i64)>;

struct RedisIterator {
    backend: BackendRef,
    l: String,
    src: String,
    n: String,
    e: String,
    /// `src`/`n`, immutable once the iterator exists: read at the first `__next__`.
    check: OnceLock<Check>,
}

static CHANGED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    encode(&PyValue::exception(
        "builtins",
        "RuntimeError",
        vec![PyValue::str("dictionary changed size during iteration")],
    ))
    .unwrap_or_default()
});

static STOP: LazyLock<Vec<u8>> =
    LazyLock::new(|| encode(&wire::stop_iteration()).unwrap_or_default());

impl RedisIterator {
    fn check(&self) -> Result<&Check, CallError> {
        if let Some(c) = self.check.get() {
            return Ok(c);
        }
        let (src, n): (Option<String>, Option<i64>) = self
            .backend
            .with(|con| redis::cmd("MGET").arg(&self.src).arg(&self.n).query(con))?;
        let c = match (src, n) {
            (Some(src), Some(n)) => Some((
                self.backend.key(&src, "v"),
                self.backend.key(&src, "meta"),
                n,
            )),
            _ => None,
        };
        Ok(self.check.get_or_init(|| c))
    }

    fn next(&self) -> Result<PyValue, CallError> {
        let b = &self.backend;
        let mut changed = false;
        if let Some((v, meta, n)) = self.check()? {
            let len: i64 = b.with(|con| redis::cmd("HLEN").arg(v).query(con))?;
            if len != *n {
                // A deleted dict (HLEN 0) is no change: the in-memory iterator ignores it too.
                changed = len != 0 || b.with(|con| redis::cmd("EXISTS").arg(meta).query(con))?;
            }
        }
        let (ok, v): (i64, Vec<u8>) = b.with(|con| {
            NEXT.key(&self.l)
                .key(&self.e)
                .arg(if changed { "1" } else { "0" })
                .arg(CHANGED.as_slice())
                .arg(STOP.as_slice())
                .invoke(con)
        })?;
        let v = decode(&v)?;
        if ok == 1 {
            Ok(v)
        } else {
            Err(CallError::Raise(v))
        }
    }

    fn drain(&self) -> Result<(), CallError> {
        self.backend
            .with(|con| redis::cmd("DEL").arg(&self.l).query::<()>(con))
    }
}

impl RedisObject for RedisIterator {}

impl ServedObject for RedisIterator {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "__next__" | "send" => self.next(),
            "throw" => {
                self.drain()?;
                match args.first() {
                    Some(e) if e.as_exception().is_some() => Err(CallError::Raise(e.clone())),
                    Some(PyValue::Global { module, name }) => {
                        Err(CallError::Raise(PyValue::exception(module, name, vec![])))
                    }
                    _ => Err(CallError::type_error(
                        "throw() argument must be an exception",
                    )),
                }
            }
            "close" => {
                self.drain()?;
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("iterator", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(IteratorObject::EXPOSED)
    }

    fn repr(&self) -> String {
        "<dict_keyiterator object>".to_string()
    }
}
