//! `Namespace` kept in Redis: `{ID}:h` is a hash attribute name (UTF-8) → pickle of the
//! value. `__getattribute__` = `HGET` (`__dict__`, when not an attribute, = `HGETALL`),
//! `__setattr__` = `HSET`, `__delattr__` = `HDEL`. The hash keeps no order: `__dict__` and
//! `#GETVALUE` list the attributes sorted by name (the repr sorts them anyway, as CPython's).
//!
//! Proxies stored in a Namespace are pinned per front-end (see [`Pins`]).

use std::sync::Arc;

use super::dict::Pins;
use crate::managers::objects::namespace::{attr_name, no_attr, NamespaceObject};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, names, CallCtx, CallError, ServedObject};
use crate::managers::server::store::redis::backend::BackendRef;
use crate::managers::server::store::redis::codec::{decode, encode};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisPlan, RedisType};
use crate::managers::wire::MANAGERS;

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Namespace",
    parts: &["h"],
    init,
    open,
}];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    // The in-memory constructor's checks (no positional arguments).
    NamespaceObject::create(args, kwargs)?;
    if kwargs.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::with_capacity(kwargs.len());
    for (k, v) in kwargs.iter() {
        let name = attr_name(Some(k))?.as_str().unwrap_or_default();
        fields.push((name.as_bytes().to_vec(), encode(v)?));
    }
    Ok(vec![Init::HSet("h", fields)])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisNamespace {
        h: backend.key(&ident, "h"),
        backend,
        pins: Pins::default(),
    })
}

struct RedisNamespace {
    backend: BackendRef,
    h: String,
    pins: Pins,
}

impl RedisNamespace {
    /// The attributes, sorted by name.
    fn attrs(&self) -> Result<PyDict, CallError> {
        let mut all: Vec<(String, Vec<u8>)> = self
            .backend
            .with(|con| redis::cmd("HGETALL").arg(&self.h).query(con))?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut d = PyDict::new();
        for (k, v) in all {
            let _ = d
                .insert(PyValue::Str(k), decode(&v)?)
                .map_err(|e| CallError::type_error(&e.to_string()))?;
        }
        Ok(d)
    }

    fn call_inner(
        &self,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let b = &self.backend;
        match method {
            "__getattribute__" => {
                let a = bind_args(method, args, kwargs, &["name"], 1)?;
                let n = attr_name(a[0])?;
                let name = n.as_str().unwrap_or_default();
                let v: Option<Vec<u8>> =
                    b.with(|con| redis::cmd("HGET").arg(&self.h).arg(name).query(con))?;
                match v {
                    Some(v) => decode(&v),
                    None if name == "__dict__" => Ok(PyValue::Dict(self.attrs()?)),
                    None => Err(no_attr(n)),
                }
            }
            "__setattr__" => {
                let a = bind_args(method, args, kwargs, &["name", "value"], 2)?;
                let n = attr_name(a[0])?;
                let v = encode(a[1].unwrap_or(&PyValue::None))?;
                b.with(|con| {
                    redis::cmd("HSET")
                        .arg(&self.h)
                        .arg(n.as_str().unwrap_or_default())
                        .arg(&v)
                        .query::<()>(con)
                })?;
                Ok(PyValue::None)
            }
            "__delattr__" => {
                let a = bind_args(method, args, kwargs, &["name"], 1)?;
                let n = attr_name(a[0])?;
                let gone: i64 = b.with(|con| {
                    redis::cmd("HDEL")
                        .arg(&self.h)
                        .arg(n.as_str().unwrap_or_default())
                        .query(con)
                })?;
                if gone == 1 {
                    Ok(PyValue::None)
                } else {
                    Err(no_attr(n))
                }
            }
            _ => Err(CallError::no_method("Namespace", method)),
        }
    }
}

impl RedisObject for RedisNamespace {
    /// The one-command calls, for pipelined runs: `__getattribute__` (`HGET`; not for
    /// `__dict__`) and `__setattr__` (`HSET`) when no proxy is involved (pins need
    /// [`ServedObject::call`]).
    fn plan(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Option<RedisPlan> {
        let r = match method {
            "__getattribute__" => (|| {
                let a = bind_args(method, args, kwargs, &["name"], 1)?;
                let n = attr_name(a[0])?.clone();
                let name = n.as_str().unwrap_or_default().to_string();
                if name == "__dict__" {
                    return Ok(None);
                }
                let mut cmd = redis::cmd("HGET");
                cmd.arg(&self.h).arg(name);
                Ok(Some(RedisPlan::Cmd(
                    cmd,
                    Box::new(move |v| match v {
                        redis::Value::BulkString(b) => decode(&b),
                        _ => Err(no_attr(&n)),
                    }),
                )))
            })(),
            "__setattr__" if !self.pins.needed(args, kwargs) => (|| {
                let a = bind_args(method, args, kwargs, &["name", "value"], 2)?;
                let n = attr_name(a[0])?;
                let v = encode(a[1].unwrap_or(&PyValue::None))?;
                let mut cmd = redis::cmd("HSET");
                cmd.arg(&self.h).arg(n.as_str().unwrap_or_default()).arg(v);
                Ok(Some(RedisPlan::Cmd(cmd, Box::new(|_| Ok(PyValue::None)))))
            })(),
            _ => return None,
        };
        match r {
            Ok(p) => p,
            Err(e) => Some(RedisPlan::Ready(Err(e))),
        }
    }
}

impl ServedObject for RedisNamespace {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let r = self.call_inner(method, args, kwargs);
        if method != "__getattribute__" && self.pins.needed(args, kwargs) {
            self.pin_stored_proxies(ctx);
        }
        r
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        if let Ok(d) = self.attrs() {
            self.pins.refresh(ctx, d.values());
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(NamespaceObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.attrs() {
            Ok(d) => {
                let mut parts: Vec<String> = d
                    .iter()
                    .filter(|(k, _)| !k.as_str().unwrap_or("").starts_with('_'))
                    .map(|(k, v)| format!("{}={}", k.as_str().unwrap_or(""), v))
                    .collect();
                parts.sort();
                format!("Namespace({})", parts.join(", "))
            }
            Err(e) => format!("<Namespace kept in Redis: {}>", e.into_traceback().trim()),
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::new_obj(
            MANAGERS,
            "Namespace",
            PyValue::Dict(self.attrs()?),
        ))
    }
}
