//! `Array` kept in Redis. Keys of object `ID`:
//!
//! - `tc`: the typecode (one character);
//! - `a`: the items as `array.array`'s native bytes (little-endian, fixed item size: 1 for
//!   `b`/`B`, 2 for `h`/`H`, 4 for `i`/`I`/`f`/`u`/`w`, 8 for `l`/`L`/`q`/`Q`/`d`), exactly
//!   what `#GETVALUE` sends (`array.array(typecode, bytes)`).
//!
//! `__len__` = `STRLEN`, `__getitem__`/`__setitem__` at an index = one script (`GETRANGE` /
//! `SETRANGE` after the bounds check). Items are checked and converted by the in-memory
//! [`ArrayObject`] (same errors); slices read the bytes, run [`ArrayObject`] on them and, for
//! an assignment, write the result back with a compare-and-set on the old bytes (retried on
//! conflict). The typecode never changes: a handle reads it once.

use std::sync::{Arc, LazyLock, OnceLock};

use redis::Script;

use crate::managers::objects::array::ArrayObject;
use crate::managers::objects::list::norm_index;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, names, traceback_text, CallCtx, CallError, ServedObject};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Array",
    parts: &["tc", "a"],
    init,
    open,
}];

/// How often a compare-and-set write is retried when other writers keep changing the array.
const CAS_TRIES: usize = 100;

/// The item size of typecode `tc`, as the in-memory `ArrayObject` lays items out.
fn item_size(tc: char) -> usize {
    match tc {
        'b' | 'B' => 1,
        'h' | 'H' => 2,
        'l' | 'L' | 'q' | 'Q' | 'd' => 8,
        _ => 4,
    }
}

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    let v = ArrayObject::create(args, kwargs)?.get_value()?;
    let (tc, raw) = v
        .as_array()
        .ok_or_else(|| CallError::type_error("Array: no array value"))?;
    Ok(vec![
        Init::Set("tc", tc.to_string().into_bytes()),
        Init::Set("a", raw.to_vec()),
    ])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisArray {
        tc: backend.key(&ident, "tc"),
        a: backend.key(&ident, "a"),
        backend,
        typecode: OnceLock::new(),
    })
}

/// One item's bytes. KEYS: a. ARGV: index (negative from the end), item size. Returns the
/// bytes, or false when the index is out of range.
static GET_AT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local size = tonumber(ARGV[2])
local n = math.floor(redis.call('strlen', KEYS[1]) / size)
local i = tonumber(ARGV[1])
if i < 0 then i = i + n end
if i < 0 or i >= n then return false end
return redis.call('getrange', KEYS[1], i * size, i * size + size - 1)",
    )
});

/// Sets one item's bytes. KEYS: a. ARGV: index (negative from the end), item size, bytes.
/// Returns 0 when the index is out of range, else 1.
static SET_AT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local size = tonumber(ARGV[2])
local n = math.floor(redis.call('strlen', KEYS[1]) / size)
local i = tonumber(ARGV[1])
if i < 0 then i = i + n end
if i < 0 or i >= n then return 0 end
redis.call('setrange', KEYS[1], i * size, ARGV[3])
return 1",
    )
});

/// Compare-and-set of the bytes. KEYS: a. ARGV: the bytes read, the new bytes. Returns 0
/// (changed since: nothing written) or 1.
static CAS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if (redis.call('get', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
return 1",
    )
});

struct RedisArray {
    backend: BackendRef,
    tc: String,
    a: String,
    /// The typecode (immutable once the array exists).
    typecode: OnceLock<char>,
}

fn is_index(i: &PyValue) -> bool {
    matches!(i, PyValue::Int(_) | PyValue::Bool(_) | PyValue::BigInt(_))
}

impl RedisArray {
    fn typecode(&self) -> Result<char, CallError> {
        if let Some(tc) = self.typecode.get() {
            return Ok(*tc);
        }
        let tc: Option<String> = self
            .backend
            .with(|con| redis::cmd("GET").arg(&self.tc).query(con))?;
        let tc = tc.and_then(|s| s.chars().next()).ok_or_else(|| {
            CallError::Traceback(traceback_text(
                "ValueError",
                "the Redis store holds an Array without a typecode",
            ))
        })?;
        Ok(*self.typecode.get_or_init(|| tc))
    }

    fn bytes(&self) -> Result<Vec<u8>, CallError> {
        let raw: Option<Vec<u8>> = self
            .backend
            .with(|con| redis::cmd("GET").arg(&self.a).query(con))?;
        Ok(raw.unwrap_or_default())
    }

    /// An in-memory array holding `raw`.
    fn local(tc: char, raw: &[u8]) -> Result<ArrayObject, CallError> {
        ArrayObject::create(
            &[
                PyValue::str(tc.to_string()),
                PyValue::array(tc, raw.to_vec()),
            ],
            &PyDict::new(),
        )
    }

    fn len(&self, size: usize) -> Result<usize, CallError> {
        let n: usize = self
            .backend
            .with(|con| redis::cmd("STRLEN").arg(&self.a).query(con))?;
        Ok(n / size)
    }

    fn call_inner(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let b = &self.backend;
        let ctx = CallCtx::detached(0);
        match method {
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let size = item_size(self.typecode()?);
                Ok(PyValue::Int(self.len(size)? as i64))
            }
            "__getitem__" => {
                let a = bind_args(method, args, kwargs, &["index"], 1)?;
                let i = a[0].unwrap_or(&PyValue::None);
                let tc = self.typecode()?;
                if i.as_slice().is_some() {
                    return Self::local(tc, &self.bytes()?)?.call(&ctx, method, args, kwargs);
                }
                if !is_index(i) {
                    return Err(CallError::type_error("array indices must be integers"));
                }
                let item: Option<Vec<u8>> = match i {
                    PyValue::BigInt(_) => None,
                    _ => {
                        let j = crate::managers::sdk::int_arg(i)?;
                        b.with(|con| GET_AT.key(&self.a).arg(j).arg(item_size(tc)).invoke(con))?
                    }
                };
                match item {
                    Some(raw) => Self::local(tc, &raw)?.call(
                        &ctx,
                        method,
                        &[PyValue::Int(0)],
                        &PyDict::new(),
                    ),
                    None => Err(CallError::index_error("array index out of range")),
                }
            }
            "__setitem__" => {
                let a = bind_args(method, args, kwargs, &["index", "value"], 2)?;
                let i = a[0].unwrap_or(&PyValue::None);
                let v = a[1].unwrap_or(&PyValue::None);
                let tc = self.typecode()?;
                let size = item_size(tc);
                if i.as_slice().is_some() {
                    return self.set_slice(tc, args, kwargs);
                }
                if !is_index(i) {
                    return Err(CallError::type_error("array indices must be integers"));
                }
                let out_of_range = || CallError::index_error("array assignment index out of range");
                let j = match i {
                    PyValue::BigInt(_) => return Err(out_of_range()),
                    _ => crate::managers::sdk::int_arg(i)?,
                };
                // The item's bytes, checked like the in-memory array checks it.
                let one = Self::local(tc, &vec![0u8; size])?;
                if let Err(e) =
                    one.call(&ctx, method, &[PyValue::Int(0), v.clone()], &PyDict::new())
                {
                    // Python checks the index before the value.
                    return match norm_index(i, self.len(size)?)? {
                        Some(_) => Err(e),
                        None => Err(out_of_range()),
                    };
                }
                let item = one.get_value()?;
                let raw = item.as_array().map(|(_, r)| r.to_vec()).unwrap_or_default();
                let ok: i64 =
                    b.with(|con| SET_AT.key(&self.a).arg(j).arg(size).arg(&raw).invoke(con))?;
                if ok == 1 {
                    Ok(PyValue::None)
                } else {
                    Err(out_of_range())
                }
            }
            _ => Err(CallError::no_method("array.array", method)),
        }
    }

    fn set_slice(&self, tc: char, args: &[PyValue], kwargs: &PyDict) -> Result<PyValue, CallError> {
        let ctx = CallCtx::detached(0);
        for _ in 0..CAS_TRIES {
            let old = self.bytes()?;
            let obj = Self::local(tc, &old)?;
            obj.call(&ctx, "__setitem__", args, kwargs)?;
            let new = obj.get_value()?;
            let new = new.as_array().map(|(_, r)| r.to_vec()).unwrap_or_default();
            let ok: i64 = self
                .backend
                .with(|con| CAS.key(&self.a).arg(&old).arg(&new).invoke(con))?;
            if ok == 1 {
                return Ok(PyValue::None);
            }
        }
        Err(CallError::Traceback(traceback_text(
            "RuntimeError",
            &format!("Array: the array kept in Redis changed under {CAS_TRIES} attempts in a row"),
        )))
    }
}

impl RedisObject for RedisArray {}

impl ServedObject for RedisArray {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        self.call_inner(method, args, kwargs)
    }

    fn exposed(&self) -> Vec<String> {
        names(ArrayObject::EXPOSED)
    }

    fn repr(&self) -> String {
        let r = self
            .typecode()
            .and_then(|tc| Self::local(tc, &self.bytes()?));
        match r {
            Ok(obj) => obj.repr(),
            Err(e) => format!("<Array kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        let tc = self.typecode()?;
        Ok(PyValue::array(tc, self.bytes()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes here match the bytes the in-memory array lays out.
    #[test]
    fn item_sizes_match_the_in_memory_array() {
        for tc in "bBhHiIlLqQfduw".chars() {
            // A 'u'/'w' array is initialised from a str.
            let seq = if matches!(tc, 'u' | 'w') {
                PyValue::str("x")
            } else {
                PyValue::list(vec![PyValue::Int(1)])
            };
            let a =
                ArrayObject::create(&[PyValue::str(tc.to_string()), seq], &PyDict::new()).unwrap();
            let v = a.get_value().unwrap();
            assert_eq!(v.as_array().unwrap().1.len(), item_size(tc), "{tc}");
        }
    }
}
