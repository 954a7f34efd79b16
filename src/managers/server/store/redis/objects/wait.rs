//! Waiting in Redis for the blocking primitives (Lock, RLock, Semaphore, Event, Condition,
//! Barrier, Queue).
//!
//! A waiter draws a random token, registers it in a list of its object (`wq`, `sw`, `ew`, ...)
//! from the same script that found it must wait, and blocks with `BLPOP` on its own wake-up
//! list `PREFIX:{IDENT}:w:TOKEN` (or `c:TOKEN` for a Condition's notifications) for at most
//! one slice ([`Backend::slice`], 200 ms) or its remaining timeout, then checks that its caller
//! is still there ([`CallCtx::check`]) and tries again. Whoever changes the state pops tokens
//! from the list and pushes onto their wake-up lists (`wake` in [`WAKE_LUA`]), in the same
//! script. A wake-up list has an expiry (it is not one of the object's parts). A stale or
//! spurious wake-up is harmless: the waiter re-checks the state. A lost one costs at most a
//! slice, and a waiter that leaves after its token was popped passes the wake-up on
//! ([`LEAVE`]).

use std::sync::LazyLock;
use std::time::Instant;

use redis::Script;

use crate::managers::sdk::CallError;
use crate::managers::server::store::redis::backend::Backend;

/// Lua helpers prepended to every script that wakes waiters:
/// `wake(prefix, token)` pushes a wake-up onto `prefix .. token` (with an expiry);
/// `wake_one(list, prefix)` pops one token of `list` and wakes it (returns 1 if there was one);
/// `wake_all(list, prefix)` wakes every token of `list` and empties it;
/// `of_node(token, node)` is true for a token of front-end process `node` (see [`token`]);
/// `drop_node(list, node, prefix)` removes the tokens of `node` from `list` (and their wake-up
/// lists), returning how many it removed.
pub(crate) const WAKE_LUA: &str = r"
local function wake(prefix, t)
  redis.call('rpush', prefix .. t, '1')
  redis.call('pexpire', prefix .. t, 30000)
end
local function wake_one(list, prefix)
  local t = redis.call('lpop', list)
  if t then wake(prefix, t) return 1 end
  return 0
end
local function wake_all(list, prefix)
  local ts = redis.call('lrange', list, 0, -1)
  redis.call('del', list)
  for _, t in ipairs(ts) do wake(prefix, t) end
  return #ts
end
local function of_node(t, node)
  return string.sub(t, 1, #node + 1) == node .. '/'
end
local function drop_node(list, node, prefix)
  local n = 0
  for _, t in ipairs(redis.call('lrange', list, 0, -1)) do
    if of_node(t, node) then
      n = n + redis.call('lrem', list, 0, t)
      redis.call('del', prefix .. t)
    end
  end
  return n
end
";

/// A script with the [`WAKE_LUA`] helpers in front of `body`.
pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{WAKE_LUA}\n{body}"))
}

/// A waiter leaves: KEYS[1] = the waiter list; ARGV[1] = token, ARGV[2] = wake-up key prefix,
/// ARGV[3] = '1' to pass a wake-up on. Removes the token and its wake-up list. Returns the
/// number of tokens removed: 0 means it had been popped (woken or notified), and then, with
/// ARGV[3] = '1', the next waiter is woken instead.
pub(crate) static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"local n = redis.call('lrem', KEYS[1], 0, ARGV[1])
redis.call('del', ARGV[2] .. ARGV[1])
if n == 0 and ARGV[3] == '1' then wake_one(KEYS[1], ARGV[2]) end
return n",
    )
});

/// A fresh waiter token: `NODE/` (this front-end process, [`Backend::node`]) and 16 random hex
/// digits, so that the tokens of a front-end that died can be told apart ([`node_gone`]).
pub(crate) fn token(b: &Backend) -> String {
    let mut t = [0u8; 8];
    let _ = getrandom::fill(&mut t);
    let r: String = t.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}/{r}", b.node())
}

/// A front-end process died: KEYS = waiter lists of one object; ARGV[1] = the dead node,
/// ARGV[2] = wake-up key prefix, ARGV[3] = one flag per list, '1' to wake one remaining waiter
/// of that list afterwards (for lists whose state change wakes one waiter only: a wake-up
/// popped for a dead token was lost; a spurious one is harmless). Removes the node's tokens
/// from every list; returns how many it removed.
static NODE_GONE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"local n = 0
for i, list in ipairs(KEYS) do
  n = n + drop_node(list, ARGV[1], ARGV[2])
  if ARGV[2 + i] == '1' then wake_one(list, ARGV[2]) end
end
return n",
    )
});

/// Removes the waiter tokens of the dead front-end process `node` from the waiter `lists`
/// `(key, wake one afterwards)` of one object (see [`NODE_GONE`]).
pub(crate) fn drop_node_waiters(
    b: &Backend,
    lists: &[(&str, bool)],
    node: &str,
    prefix: &str,
) -> Result<i64, CallError> {
    b.with(|con| {
        let mut inv = NODE_GONE.prepare_invoke();
        for (k, _) in lists {
            inv.key(*k);
        }
        inv.arg(node).arg(prefix);
        for (_, w) in lists {
            inv.arg(if *w { "1" } else { "0" });
        }
        inv.invoke(con)
    })
}

/// True once `dl` has passed.
pub(crate) fn expired(dl: Option<Instant>) -> bool {
    dl.is_some_and(|d| Instant::now() >= d)
}

/// `BLPOP keys` for at most one slice or until `dl`: the key and value popped, or `None` when
/// nothing came (or `dl` has already passed). The caller then checks its [`CallCtx`]
/// (`crate::managers::sdk::CallCtx::check`) and loops.
pub(crate) fn blpop(
    b: &Backend,
    keys: &[&str],
    dl: Option<Instant>,
) -> Result<Option<(String, Vec<u8>)>, CallError> {
    let mut wait = b.slice;
    if let Some(d) = dl {
        let now = Instant::now();
        if now >= d {
            return Ok(None);
        }
        wait = wait.min(d - now);
    }
    // BLPOP's timeout 0 means "forever": never ask for less than a millisecond.
    let secs = wait.as_secs_f64().max(0.001);
    let mut c = b.conn()?;
    c.run(|con| redis::cmd("BLPOP").arg(keys).arg(secs).query(con))
}

/// Leaves the waiter list `list` (see [`LEAVE`]); `Ok(true)` if the token had been popped.
pub(crate) fn leave(
    b: &Backend,
    list: &str,
    token: &str,
    prefix: &str,
    pass_on: bool,
) -> Result<bool, CallError> {
    let n: i64 = b.with(|con| {
        LEAVE
            .key(list)
            .arg(token)
            .arg(prefix)
            .arg(if pass_on { "1" } else { "0" })
            .invoke(con)
    })?;
    Ok(n == 0)
}

/// The common loop: `attempt` runs one script that either succeeds (`Some`) or registers the
/// waiter's token and returns `None`; between attempts, block on the wake-up list `wake`.
/// `Ok(None)` once `dl` passed (after a last attempt). On any exit but success, the waiter
/// leaves `list`, passing on a wake-up it was given but did not use.
#[allow(clippy::too_many_arguments)]
pub(crate) fn wait_loop<T>(
    b: &Backend,
    ctx: &crate::managers::sdk::CallCtx,
    dl: Option<Instant>,
    list: &str,
    token: &str,
    prefix: &str,
    mut attempt: impl FnMut() -> Result<Option<T>, CallError>,
) -> Result<Option<T>, CallError> {
    let wake = format!("{prefix}{token}");
    let r = (|| loop {
        if let Some(v) = attempt()? {
            return Ok(Some(v));
        }
        if expired(dl) {
            return Ok(None);
        }
        blpop(b, &[&wake], dl)?;
        ctx.check()?;
    })();
    if !matches!(r, Ok(Some(_))) {
        let _ = leave(b, list, token, prefix, true);
    }
    r
}

#[cfg(test)]
mod tests {
    //! The blocking types against a real `redis-server` (skipped, saying why, when there is
    //! none), through two backends as two front-ends would.

    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::managers::pickle::{PyDict, PyValue};
    use crate::managers::sdk::CallCtx;
    use crate::managers::server::store::redis::backend::{Backend, BackendRef};
    use crate::managers::server::store::redis::types::{lookup, RedisObject};

    struct Redis(Child, std::path::PathBuf);

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }

    fn redis() -> Option<(Redis, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("mpshare-wait-test-{port}"));
        std::fs::create_dir_all(&dir).ok()?;
        let child = match Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipped: no redis-server ({e})");
                return None;
            }
        };
        let r = Redis(child, dir);
        let url = format!("redis://127.0.0.1:{port}/0");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed() > Duration::from_secs(10) {
                eprintln!("skipped: redis-server did not start");
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some((r, url))
    }

    fn backend(url: &str, fe: &str) -> BackendRef {
        Arc::new(
            Backend::connect(
                &[url.to_string()],
                "t",
                fe,
                Duration::from_secs(10),
                Duration::from_secs(60),
            )
            .expect("connect"),
        )
    }

    fn open(b: &BackendRef, typeid: &str, ident: &str) -> Arc<dyn RedisObject> {
        (lookup(typeid).expect("a Redis type").open)(b.clone(), ident.to_string())
    }

    fn call(o: &Arc<dyn RedisObject>, ctx: &CallCtx, m: &str, args: &[PyValue]) -> PyValue {
        o.call(ctx, m, args, &PyDict::new()).expect(m)
    }

    #[test]
    fn blocking_types_across_two_frontends() {
        let Some((_r, url)) = redis() else { return };
        let (a, b) = (backend(&url, "A"), backend(&url, "B"));
        let (ca, cb) = (CallCtx::detached(1), CallCtx::detached(2));

        // Lock: excluded across front-ends; a blocked acquirer is woken by the release.
        let (la, lb) = (open(&a, "Lock", "1"), open(&b, "Lock", "1"));
        assert_eq!(call(&la, &ca, "acquire", &[]), PyValue::Bool(true));
        assert_eq!(
            call(&lb, &cb, "acquire", &[PyValue::Bool(false)]),
            PyValue::Bool(false)
        );
        let t0 = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                call(&la, &ca, "release", &[]);
            });
            assert_eq!(call(&lb, &cb, "acquire", &[]), PyValue::Bool(true));
        });
        assert!(
            t0.elapsed() < Duration::from_millis(180),
            "{:?}",
            t0.elapsed()
        );
        call(&lb, &cb, "release", &[]);
        assert!(lb.call(&cb, "release", &[], &PyDict::new()).is_err());

        // Queue: a getter blocked in BLPOP on one front-end gets the item put on the other.
        let (qa, qb) = (open(&a, "Queue", "2"), open(&b, "Queue", "2"));
        let t0 = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                call(&qb, &cb, "put", &[PyValue::Int(7)]);
            });
            let got = call(&qa, &ca, "get", &[PyValue::Bool(true), PyValue::Float(5.0)]);
            assert_eq!(got, PyValue::Int(7));
        });
        assert!(
            t0.elapsed() < Duration::from_millis(180),
            "{:?}",
            t0.elapsed()
        );
        assert!(qa.call(&ca, "get_nowait", &[], &PyDict::new()).is_err());

        // Event: set on one front-end wakes a waiter on the other.
        let (ea, eb) = (open(&a, "Event", "3"), open(&b, "Event", "3"));
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                call(&eb, &cb, "set", &[]);
            });
            assert_eq!(
                call(&ea, &ca, "wait", &[PyValue::Float(5.0)]),
                PyValue::Bool(true)
            );
        });
    }
}
