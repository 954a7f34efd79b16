//! `Event` kept in Redis.
//!
//! Keys: `{ID}:flag` exists while the event is set; `{ID}:ew` lists the tokens of waiters (each
//! blocks on `{ID}:w:TOKEN`). `set` is one script that sets the flag and wakes every waiter;
//! a waiter woken by `set` returns True even if `clear` came right after (as
//! `threading.Event.wait`, which returns what its condition wait returned). `is_set` is one
//! `EXISTS`, `clear` one `DEL`.

use std::sync::{Arc, LazyLock};

use redis::Script;

use super::wait;
use crate::managers::objects::event::EventObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::ServedObject;
use crate::managers::sdk::{bind_args, deadline, names, timeout_arg, CallCtx, CallError};
use crate::managers::server::store::redis::backend::{Backend, BackendRef};
use crate::managers::server::store::redis::types::{Init, RedisObject, RedisType};

/// The typeids of this module.
pub(crate) const TYPES: &[RedisType] = &[RedisType {
    typeid: "Event",
    parts: &["flag", "ew"],
    init,
    open,
}];

fn init(args: &[PyValue], kwargs: &PyDict) -> Result<Vec<Init>, CallError> {
    EventObject::create(args, kwargs)?;
    Ok(vec![])
}

fn open(backend: BackendRef, ident: String) -> Arc<dyn RedisObject> {
    Arc::new(RedisEvent {
        flag: backend.key(&ident, "flag"),
        ew: backend.key(&ident, "ew"),
        wprefix: backend.key(&ident, "w:"),
        ident,
        b: backend,
    })
}

/// `set()`: KEYS[1] = flag, KEYS[2] = ew; ARGV[1] = wake-up key prefix. Sets the flag and wakes
/// every waiter; returns how many were woken.
static SET: LazyLock<Script> = LazyLock::new(|| {
    wait::script(
        r"redis.call('set', KEYS[1], '1')
return wake_all(KEYS[2], ARGV[1])",
    )
});

/// A waiter's check: KEYS[1] = flag, KEYS[2] = ew; ARGV[1] = token, ARGV[2] = wake-up key
/// prefix. Returns 1 if the flag is set (the token is withdrawn), else registers the token and
/// returns 0.
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('exists', KEYS[1]) == 1 then
  redis.call('lrem', KEYS[2], 0, ARGV[1])
  redis.call('del', ARGV[2] .. ARGV[1])
  return 1
end
if not redis.call('lpos', KEYS[2], ARGV[1]) then redis.call('rpush', KEYS[2], ARGV[1]) end
return 0",
    )
});

/// Front-end process `node` died (see [`objects::node_gone_hook`]): its waiters' tokens leave
/// `ew` (`set` wakes every waiter: no wake-up was lost).
///
/// [`objects::node_gone_hook`]: crate::managers::server::store::redis::objects::node_gone_hook
pub(crate) fn node_gone(b: &Backend, ident: &str, node: &str) -> Result<(), CallError> {
    let ew = b.key(ident, "ew");
    wait::drop_node_waiters(b, &[(&ew, false)], node, &b.key(ident, "w:"))?;
    Ok(())
}

struct RedisEvent {
    b: BackendRef,
    ident: String,
    flag: String,
    ew: String,
    wprefix: String,
}

impl RedisEvent {
    fn is_set(&self) -> Result<bool, CallError> {
        self.b
            .with(|con| redis::cmd("EXISTS").arg(&self.flag).query(con))
    }

    fn wait(&self, ctx: &CallCtx, timeout: Option<std::time::Duration>) -> Result<bool, CallError> {
        if self.is_set()? {
            return Ok(true);
        }
        let dl = deadline(timeout);
        if wait::expired(dl) {
            return Ok(false);
        }
        self.b.track(&self.ident)?;
        let token = wait::token(&self.b);
        let wake = format!("{}{token}", self.wprefix);
        let r = (|| -> Result<bool, CallError> {
            loop {
                let set: i64 = self.b.with(|con| {
                    CHECK
                        .key(&self.flag)
                        .key(&self.ew)
                        .arg(&token)
                        .arg(&self.wprefix)
                        .invoke(con)
                })?;
                if set == 1 {
                    return Ok(true);
                }
                if wait::expired(dl) {
                    return Ok(false);
                }
                let woken = wait::blpop(&self.b, &[&wake], dl)?;
                ctx.check()?;
                if woken.is_some() {
                    return Ok(true);
                }
            }
        })();
        // Withdraws the token (nothing to pass on: set wakes everyone).
        let _ = wait::leave(&self.b, &self.ew, &token, &self.wprefix, false);
        r
    }
}

impl RedisObject for RedisEvent {}

impl ServedObject for RedisEvent {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "is_set" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.is_set().map(PyValue::Bool)
            }
            "set" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.b.with(|con| {
                    SET.key(&self.flag)
                        .key(&self.ew)
                        .arg(&self.wprefix)
                        .invoke::<i64>(con)
                })?;
                Ok(PyValue::None)
            }
            "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                self.b
                    .with(|con| redis::cmd("DEL").arg(&self.flag).query::<()>(con))?;
                Ok(PyValue::None)
            }
            "wait" => {
                let b = bind_args(method, args, kwargs, &["timeout"], 0)?;
                let t = match b[0].and_then(PyValue::as_f64) {
                    Some(t) if t < 0.0 => Some(std::time::Duration::ZERO),
                    _ => timeout_arg(b[0])?,
                };
                self.wait(ctx, t).map(PyValue::Bool)
            }
            _ => Err(CallError::no_method("Event", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(EventObject::EXPOSED)
    }

    fn repr(&self) -> String {
        match self.is_set() {
            Ok(s) => format!(
                "<threading.Event at 0x0: {}>",
                if s { "set" } else { "unset" }
            ),
            Err(e) => format!("<Event kept in Redis: {}>", e.into_traceback().trim()),
        }
    }
}
