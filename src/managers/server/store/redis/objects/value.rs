//! `Value` kept in Redis: `{ID}:tc` holds the typecode's pickle and `{ID}:v` the value's;
//! `get` is one `GET`, `set` one `SET` (no coercion, as CPython's managed `Value`).

use std::sync::Arc;

use crate::managers::objects::value::ValueObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, names, CallCtx, CallError, ServedObject};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::codec::{decode, encode};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisPlan, RedisType};
use crate::managers::wire::MANAGERS;

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Value",
    parts: &["tc", "v"],
    init,
    open,
}];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    let b = bind_args("Value", args, kwargs, &["typecode", "value", "lock"], 2)?;
    let tc = b[0].cloned().unwrap_or(PyValue::None);
    let v = b[1].cloned().unwrap_or(PyValue::None);
    Ok(vec![
        Init::Set("tc", encode(&tc)?),
        Init::Set("v", encode(&v)?),
    ])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisValue {
        v: backend.key(&ident, "v"),
        tc: backend.key(&ident, "tc"),
        backend,
    })
}

struct RedisValue {
    backend: BackendRef,
    v: String,
    tc: String,
}

impl RedisValue {
    fn both(&self) -> Result<(PyValue, PyValue), CallError> {
        let (tc, v): (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .backend
            .with(|con| redis::cmd("MGET").arg(&self.tc).arg(&self.v).query(con))?;
        let tc = tc.map(|b| decode(&b)).transpose()?.unwrap_or(PyValue::None);
        let v = v.map(|b| decode(&b)).transpose()?.unwrap_or(PyValue::None);
        Ok((tc, v))
    }
}

/// The value in a `GET` reply (`None` for a missing key).
fn from_reply(v: redis::Value) -> Result<PyValue, CallError> {
    match v {
        redis::Value::BulkString(b) => decode(&b),
        _ => Ok(PyValue::None),
    }
}

impl RedisObject for RedisValue {
    fn plan(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Option<RedisPlan> {
        Some(match method {
            "get" => match bind_args(method, args, kwargs, &[], 0) {
                Ok(_) => {
                    let mut c = redis::cmd("GET");
                    c.arg(&self.v);
                    RedisPlan::Cmd(c, Box::new(from_reply))
                }
                Err(e) => RedisPlan::Ready(Err(e)),
            },
            "set" => match bind_args(method, args, kwargs, &["value"], 1)
                .and_then(|b| encode(b[0].unwrap_or(&PyValue::None)))
            {
                Ok(bytes) => {
                    let mut c = redis::cmd("SET");
                    c.arg(&self.v).arg(bytes);
                    RedisPlan::Cmd(c, Box::new(|_| Ok(PyValue::None)))
                }
                Err(e) => RedisPlan::Ready(Err(e)),
            },
            _ => return None,
        })
    }
}

impl ServedObject for RedisValue {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "get" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let v: Option<Vec<u8>> = self
                    .backend
                    .with(|con| redis::cmd("GET").arg(&self.v).query(con))?;
                v.map(|b| decode(&b))
                    .transpose()
                    .map(|v| v.unwrap_or(PyValue::None))
            }
            "set" => {
                let b = bind_args(method, args, kwargs, &["value"], 1)?;
                let bytes = encode(b[0].unwrap_or(&PyValue::None))?;
                self.backend
                    .with(|con| redis::cmd("SET").arg(&self.v).arg(&bytes).query::<()>(con))?;
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Value", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(ValueObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.both() {
            Ok((tc, v)) => format!("Value({tc}, {v})"),
            Err(e) => format!("<Value kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        let (tc, v) = self.both()?;
        let mut d = PyDict::new();
        let _ = d.insert(PyValue::str("_typecode"), tc);
        let _ = d.insert(PyValue::str("_value"), v);
        Ok(PyValue::new_obj(MANAGERS, "Value", PyValue::Dict(d)))
    }
}
