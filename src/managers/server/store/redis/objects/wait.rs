//! Waiting in Redis for the blocking primitives (Lock, RLock, Semaphore, Event, Condition,
//! Barrier, Queue).
//!
//! A waiter draws a token (`NODE/RANDOM`, NODE = its front-end process, so that a dead
//! front-end's tokens can be withdrawn: [`drop_node_waiters`]), registers it in a list of its object (`wq`, `sw`, `ew`, ...)
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
/// digits, so that the tokens of a front-end that died can be told apart ([`drop_node_waiters`]).
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

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::managers::pickle::{PyDict, PyValue};
    use crate::managers::sdk::CallCtx;
    use crate::managers::server::store::redis::backend::{Backend, BackendRef};
    use crate::managers::server::store::redis::objects::lookup;
    use crate::managers::server::store::redis::testing;
    use crate::managers::server::store::redis::types::RedisObject;

    fn backend(url: &str, fe: &str) -> BackendRef {
        testing::backend(url, fe, Duration::from_secs(10))
    }

    fn redis_cmd<T: redis::FromRedisValue>(b: &Backend, args: &[&str]) -> T {
        b.with(|con| {
            let mut c = redis::cmd(args[0]);
            for a in &args[1..] {
                c.arg(*a);
            }
            c.query(con)
        })
        .expect("redis command")
    }

    /// A front-end process that stops beating (it "died") leaves waiter tokens in every kind
    /// of waiter list, a semaphore unit, a barrier party and an untaken Condition
    /// notification: once its `live:` key expires, another front-end's `reap` withdraws the
    /// tokens, gives the unit back, takes the party off the count, passes the notification on
    /// to a live waiter, and forgets the node.
    #[test]
    fn reap_cleans_up_after_a_dead_frontend() {
        let Some(r) = testing::redis() else { return };
        let url = r.url.clone();
        let lease = Duration::from_millis(500);
        let (a, b) = (
            testing::backend(&url, "A", lease),
            testing::backend(&url, "B", lease),
        );
        a.beat().expect("beat A");
        b.beat().expect("beat B");
        let (na, nb) = (a.node(), b.node());
        let dead = |t: &str| format!("{na}/{t}");
        let live = |t: &str| format!("{nb}/{t}");
        let rpush = |ident: &str, part: &str, t: &str| {
            let _: i64 = redis_cmd(&b, &["RPUSH", &b.key(ident, part), t]);
        };
        let create = |typeid: &str, ident: &str| {
            let t = lookup(typeid).expect("type");
            // "named": created if absent (the Queue is listed twice).
            crate::managers::server::store::redis::refs::create(&b, t, ident, &[], true)
                .expect("create");
        };
        // Waiter lists of a Lock, an Event, a Queue (putters, joiners).
        for (typeid, ident, part) in [
            ("Lock", "l", "wq"),
            ("Event", "e", "ew"),
            ("Queue", "q", "pw"),
            ("Queue", "q", "jw"),
        ] {
            create(typeid, ident);
            rpush(ident, part, &dead("1"));
            a.track(ident).expect("track");
        }
        // A BoundedSemaphore(1) whose unit A's connection 7 holds.
        create("BoundedSemaphore", "s");
        a.track("s").expect("track");
        let sa = open(&a, "BoundedSemaphore", "s");
        let ca = CallCtx::detached(7);
        assert_eq!(
            call(&sa, &ca, "acquire", &[PyValue::Bool(false)]),
            PyValue::Bool(true)
        );
        // A Barrier(2) with one party waiting through A.
        let bt = lookup("Barrier").expect("type");
        let inits = (bt.init)(&[PyValue::Int(2)], &PyDict::new()).expect("init");
        crate::managers::server::store::redis::refs::create(&b, bt, "bar", &inits, false)
            .expect("create");
        a.track("bar").expect("track");
        // As ARRIVE leaves it (a thread really waiting through A would re-register its token
        // after the cleanup, as the backend of a live front-end does).
        let _: () = redis_cmd(&b, &["SET", &b.key("bar", "cnt"), "1"]);
        let _: i64 = redis_cmd(&b, &["HSET", &b.key("bar", "bn"), &na, "1"]);
        rpush("bar", "bw", &dead("4"));
        // A Condition whose waiters are [A's, B's]; B notifies one: A's dead waiter gets it.
        create("Condition", "c");
        a.track("c").expect("track");
        rpush("c", "cw", &dead("2"));
        rpush("c", "cw", &live("3"));
        let cb = open(&b, "Condition", "c");
        let ctxb = CallCtx::detached(9);
        call(&cb, &ctxb, "acquire", &[]);
        call(&cb, &ctxb, "notify", &[]);
        call(&cb, &ctxb, "release", &[]);
        // While A's live: key exists, nothing happens.
        a.beat().expect("beat A");
        crate::managers::server::store::redis::reap(&b).expect("reap");
        let cw: Vec<String> = redis_cmd(&b, &["LRANGE", &b.key("c", "cw"), "0", "-1"]);
        assert_eq!(cw, vec![live("3")]);
        assert_eq!(
            redis_cmd::<Option<i64>>(&b, &["GET", &b.key("s", "val")]),
            Some(0)
        );

        // A "dies": no more beats. After the lease, B reaps it.
        a.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(lease + Duration::from_millis(100));
        crate::managers::server::store::redis::reap(&b).expect("reap");
        for (ident, part) in [
            ("l", "wq"),
            ("e", "ew"),
            ("q", "pw"),
            ("q", "jw"),
            ("bar", "bw"),
        ] {
            let l: Vec<String> = redis_cmd(&b, &["LRANGE", &b.key(ident, part), "0", "-1"]);
            assert!(
                l.iter().all(|t| !t.starts_with(&format!("{na}/"))),
                "{ident}:{part} still holds a dead token: {l:?}"
            );
        }
        assert_eq!(
            redis_cmd::<Option<i64>>(&b, &["GET", &b.key("s", "val")]),
            Some(1),
            "A's semaphore unit went back"
        );
        assert_eq!(
            redis_cmd::<Option<i64>>(&b, &["GET", &b.key("bar", "cnt")]),
            Some(0),
            "A's barrier party left the count"
        );
        let note: i64 = redis_cmd(&b, &["LLEN", &b.key("c", &format!("c:{}", live("3")))]);
        assert_eq!(
            note, 1,
            "the notification A's waiter got went to B's waiter"
        );
        let cw: i64 = redis_cmd(&b, &["LLEN", &b.key("c", "cw")]);
        assert_eq!(cw, 0);
        let nodes: Vec<String> = redis_cmd(&b, &["SMEMBERS", &b.nodes_key()]);
        assert!(!nodes.contains(&na), "{nodes:?}");
        let holds: i64 = redis_cmd(&b, &["EXISTS", &b.holds_key(&na)]);
        assert_eq!(holds, 0);
        // Idempotent: a second pass (another front-end's) changes nothing.
        crate::managers::server::store::redis::reap(&b).expect("reap");
        assert_eq!(
            redis_cmd::<Option<i64>>(&b, &["GET", &b.key("s", "val")]),
            Some(1)
        );
    }

    fn open(b: &BackendRef, typeid: &str, ident: &str) -> Arc<dyn RedisObject> {
        (lookup(typeid).expect("a Redis type").open)(b.clone(), ident.to_string())
    }

    fn call(o: &Arc<dyn RedisObject>, ctx: &CallCtx, m: &str, args: &[PyValue]) -> PyValue {
        o.call(ctx, m, args, &PyDict::new()).expect(m)
    }

    #[test]
    fn blocking_types_across_two_frontends() {
        let Some(r) = testing::redis() else { return };
        let url = r.url.clone();
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
