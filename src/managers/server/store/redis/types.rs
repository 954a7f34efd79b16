//! What the store asks of a typeid it keeps in Redis: its key parts, how `create`'s arguments
//! become the initial state, how to open a handle on an existing object, what to do when a
//! front-end dies. The table of typeids is [`objects::lookup`](super::objects::lookup).

use std::sync::Arc;

use super::backend::{Backend, BackendRef};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{CallCtx, CallError, ServedObject};

/// One write of an object's initial state, applied atomically with its metadata by the create
/// script. The `&'static str` names a part of the type's [`RedisType::parts`].
#[derive(Debug)]
pub(crate) enum Init {
    /// `SET part value`.
    Set(&'static str, Vec<u8>),
    /// `HSET part field value ...`.
    HSet(&'static str, Vec<(Vec<u8>, Vec<u8>)>),
    /// `RPUSH part item ...`.
    RPush(&'static str, Vec<Vec<u8>>),
    /// `ZADD part score member ...`.
    ZAdd(&'static str, Vec<(i64, Vec<u8>)>),
}

/// A new object kept in the store: its ident and handle.
pub(crate) type Stored = (String, Arc<dyn RedisObject>);

/// What turns a planned command's reply into the call's result.
pub(crate) type Finish = Box<dyn FnOnce(redis::Value) -> Result<PyValue, CallError> + Send>;

/// A call planned as one Redis command, sent in one pipeline with its pipelined neighbours.
pub(crate) enum RedisPlan {
    /// The command and what makes the call's result of its reply.
    Cmd(redis::Cmd, Finish),
    /// Known without asking Redis (e.g. bad arguments).
    Ready(Result<PyValue, CallError>),
}

/// `EVAL src` with `keys` and `args` as one command (for plans: `EVAL`, unlike `EVALSHA`,
/// cannot fail with `NOSCRIPT` in the middle of a pipeline; Redis caches the compiled script by
/// its hash either way).
pub(crate) fn eval_cmd(src: &str, keys: &[&str], args: &[&[u8]]) -> redis::Cmd {
    let mut c = redis::cmd("EVAL");
    c.arg(src).arg(keys.len());
    for k in keys {
        c.arg(*k);
    }
    for a in args {
        c.arg(*a);
    }
    c
}

/// A handle on an object kept in Redis.
pub(crate) trait RedisObject: ServedObject {
    /// Plans `method(*args, **kwargs)` as one Redis command so a run of pipelined calls costs
    /// one round trip to Redis; `None` (the default): the call runs through
    /// [`ServedObject::call`]. Only for calls that never block and need one command.
    fn plan(
        &self,
        _ctx: &CallCtx,
        _method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Option<RedisPlan> {
        None
    }

    /// A `method_to_typeid` method (e.g. `dict.__iter__` → `Iterator`) whose result is itself
    /// kept in the store: returns its ident and handle. `None`: the method's result is not kept
    /// in Redis; the store then serves [`ServedObject::call_object`]'s result from this
    /// front-end's memory.
    fn call_stored(
        &self,
        _ctx: &CallCtx,
        _method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Option<Result<Stored, CallError>> {
        None
    }
}

/// A typeid the Redis store keeps.
pub(crate) struct RedisType {
    /// The typeid (`dict`, `Lock`, ...).
    pub(crate) typeid: &'static str,
    /// The key parts the object may use (`PREFIX:{IDENT}:PART`), all deleted with it. Keys an
    /// object makes for a moment (a waiter's wake-up list) carry an expiry instead.
    pub(crate) parts: &'static [&'static str],
    /// The initial state from `create`'s arguments (validated like CPython's constructor).
    pub(crate) init: fn(&[PyValue], &PyDict) -> Result<Vec<Init>, CallError>,
    /// A handle on the object `ident` (no round trip).
    pub(crate) open: fn(BackendRef, String) -> Arc<dyn RedisObject>,
}

impl std::fmt::Debug for RedisType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisType")
            .field("typeid", &self.typeid)
            .field("parts", &self.parts)
            .finish()
    }
}

/// What a type does when a front-end process died: `hook(backend, ident, node)` gives back
/// what the callers of front-end process `node` held in object `ident` and withdraws their
/// waiter tokens. Run by any live front-end's heartbeat, possibly by several at once: a hook
/// is one idempotent script (or several, each idempotent).
pub(crate) type NodeGone = fn(&Backend, &str, &str) -> Result<(), CallError>;
