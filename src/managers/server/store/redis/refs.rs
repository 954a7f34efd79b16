//! Objects' metadata in Redis: `PREFIX:{IDENT}:meta` is a hash with the `typeid`, `pinned` for
//! a named object (never deleted), and one `r:NODE` reference count per front-end process
//! (NODE = front-end id / boot nonce). An object whose counts all reach zero is deleted with
//! every key of its type. `PREFIX:objects` lists the unnamed objects for the orphan sweep, and
//! `PREFIX:fe:NODE` (with an expiry) says a front-end process is alive.

use std::sync::LazyLock;

use redis::Script;

use super::backend::Backend;
use super::types::{Init, RedisType};
use crate::managers::sdk::{traceback_text, CallError};

/// Creates an object: KEYS[1] = meta, KEYS[2..] = the type's parts. ARGV: typeid, named
/// ("1": create only if absent, pinned), refs field, then the initial writes
/// (op, part number (1-based among the parts), count, values...). Returns 1 if created.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('exists', KEYS[1]) == 1 then
  if ARGV[2] == '1' then return 0 end
  return redis.error_reply('ident in use')
end
local i = 4
while i <= #ARGV do
  local op = ARGV[i]
  local k = KEYS[1 + tonumber(ARGV[i + 1])]
  local n = tonumber(ARGV[i + 2])
  i = i + 3
  if op == 'set' then
    redis.call('set', k, ARGV[i])
    i = i + 1
  elseif op == 'hset' then
    for j = 0, n - 1 do redis.call('hset', k, ARGV[i + 2 * j], ARGV[i + 2 * j + 1]) end
    i = i + 2 * n
  elseif op == 'rpush' then
    for j = 0, n - 1 do redis.call('rpush', k, ARGV[i + j]) end
    i = i + n
  elseif op == 'zadd' then
    for j = 0, n - 1 do redis.call('zadd', k, ARGV[i + 2 * j], ARGV[i + 2 * j + 1]) end
    i = i + 2 * n
  else
    return redis.error_reply('unknown init op ' .. op)
  end
end
redis.call('hset', KEYS[1], 'typeid', ARGV[1])
if ARGV[2] == '1' then
  redis.call('hset', KEYS[1], 'pinned', '1')
else
  redis.call('hincrby', KEYS[1], ARGV[3], 1)
end
return 1",
    )
});

/// KEYS[1] = meta; ARGV[1] = refs field. -1 when the object does not exist.
static INCREF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('exists', KEYS[1]) == 0 then return -1 end
return redis.call('hincrby', KEYS[1], ARGV[1], 1)",
    )
});

/// KEYS[1] = meta, KEYS[2..] = the type's parts; ARGV[1] = refs field, ARGV[2] = 'one' (drop one
/// reference) or 'all' (drop the field: its front-end process is gone), ARGV[3] = the refs
/// prefix of this front-end's id (`r:FRONTEND/`). A 'one' with no count of its own is taken
/// from an earlier process of the same front-end (a client's proxy outliving a restart), never
/// from another front-end; with none, it is ignored (the sweep settles it). Returns -1 (no such
/// object), 0 (deleted) or 1 (still referenced).
static DECREF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('exists', KEYS[1]) == 0 then return -1 end
if ARGV[2] == 'all' then
  redis.call('hdel', KEYS[1], ARGV[1])
else
  local v = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0')
  if v > 1 then
    redis.call('hincrby', KEYS[1], ARGV[1], -1)
  elseif v == 1 then
    redis.call('hdel', KEYS[1], ARGV[1])
  else
    local all = redis.call('hgetall', KEYS[1])
    for j = 1, #all, 2 do
      if string.sub(all[j], 1, #ARGV[3]) == ARGV[3] then
        if tonumber(all[j + 1]) > 1 then
          redis.call('hincrby', KEYS[1], all[j], -1)
        else
          redis.call('hdel', KEYS[1], all[j])
        end
        break
      end
    end
  end
end
local all = redis.call('hgetall', KEYS[1])
for j = 1, #all, 2 do
  if string.sub(all[j], 1, 2) == 'r:' or all[j] == 'pinned' then return 1 end
end
redis.call('del', unpack(KEYS))
return 0",
    )
});

fn keys_of(b: &Backend, t: &RedisType, ident: &str) -> Vec<String> {
    let mut keys = Vec::with_capacity(1 + t.parts.len());
    keys.push(b.key(ident, "meta"));
    keys.extend(t.parts.iter().map(|p| b.key(ident, p)));
    keys
}

fn part_number(t: &RedisType, part: &str) -> Result<usize, CallError> {
    t.parts
        .iter()
        .position(|p| *p == part)
        .map(|i| i + 1)
        .ok_or_else(|| {
            CallError::Traceback(traceback_text(
                "SystemError",
                &format!("{}: no key part {part:?}", t.typeid),
            ))
        })
}

/// The refs field of this front-end process in an object's meta.
pub(crate) fn refs_field(b: &Backend) -> String {
    format!("r:{}", b.node())
}

/// Creates object `ident` of type `t` with `inits`. `named`: only if absent, and pinned
/// (never deleted); otherwise with one reference from this front-end. Returns whether it was
/// created now.
pub(crate) fn create(
    b: &Backend,
    t: &RedisType,
    ident: &str,
    inits: &[Init],
    named: bool,
) -> Result<bool, CallError> {
    let keys = keys_of(b, t, ident);
    let mut argv: Vec<Vec<u8>> = vec![
        t.typeid.as_bytes().to_vec(),
        if named { b"1".to_vec() } else { b"0".to_vec() },
        refs_field(b).into_bytes(),
    ];
    for init in inits {
        let (op, part, n) = match init {
            Init::Set(p, _) => ("set", *p, 1),
            Init::HSet(p, v) => ("hset", *p, v.len()),
            Init::RPush(p, v) => ("rpush", *p, v.len()),
            Init::ZAdd(p, v) => ("zadd", *p, v.len()),
        };
        argv.push(op.as_bytes().to_vec());
        argv.push(part_number(t, part)?.to_string().into_bytes());
        argv.push(n.to_string().into_bytes());
        match init {
            Init::Set(_, v) => argv.push(v.clone()),
            Init::HSet(_, fv) => {
                for (f, v) in fv {
                    argv.push(f.clone());
                    argv.push(v.clone());
                }
            }
            Init::RPush(_, items) => argv.extend(items.iter().cloned()),
            Init::ZAdd(_, sm) => {
                for (s, m) in sm {
                    argv.push(s.to_string().into_bytes());
                    argv.push(m.clone());
                }
            }
        }
    }
    let created: i64 = b.with(|con| {
        let mut inv = CREATE.prepare_invoke();
        for k in &keys {
            inv.key(k);
        }
        for a in &argv {
            inv.arg(a.as_slice());
        }
        inv.invoke(con)
    })?;
    if created == 1 && !named {
        b.with(|con| {
            redis::cmd("SADD")
                .arg(b.global("objects"))
                .arg(ident)
                .query::<()>(con)
        })?;
    }
    Ok(created == 1)
}

/// A new ident for an unnamed object (lowercase hex, like CPython's).
pub(crate) fn new_ident(b: &Backend) -> Result<String, CallError> {
    let n: u64 = b.with(|con| redis::cmd("INCR").arg(b.global("next")).query(con))?;
    Ok(format!("{n:x}"))
}

/// The typeid of object `ident`, or `None` if the store has no such object.
pub(crate) fn typeid_of(b: &Backend, ident: &str) -> Result<Option<String>, CallError> {
    b.with(|con| {
        redis::cmd("HGET")
            .arg(b.key(ident, "meta"))
            .arg("typeid")
            .query(con)
    })
}

/// `incref(ident)`: false if there is no such object.
pub(crate) fn incref(b: &Backend, ident: &str) -> Result<bool, CallError> {
    let r: i64 = b.with(|con| {
        INCREF
            .key(b.key(ident, "meta"))
            .arg(refs_field(b))
            .invoke(con)
    })?;
    Ok(r >= 0)
}

/// Drops one reference (`all == false`) or every reference a front-end process holds (its
/// `field`, when it is gone). Returns `None` if there was no such object, else whether the
/// object still exists.
pub(crate) fn decref(
    b: &Backend,
    t: &RedisType,
    ident: &str,
    field: &str,
    all: bool,
) -> Result<Option<bool>, CallError> {
    let keys = keys_of(b, t, ident);
    let r: i64 = b.with(|con| {
        let mut inv = DECREF.prepare_invoke();
        for k in &keys {
            inv.key(k);
        }
        inv.arg(field)
            .arg(if all { "all" } else { "one" })
            .arg(format!("r:{}/", b.frontend));
        inv.invoke(con)
    })?;
    if r == 0 {
        b.with(|con| {
            redis::cmd("SREM")
                .arg(b.global("objects"))
                .arg(ident)
                .query::<()>(con)
        })?;
    }
    Ok(match r {
        -1 => None,
        0 => Some(false),
        _ => Some(true),
    })
}
