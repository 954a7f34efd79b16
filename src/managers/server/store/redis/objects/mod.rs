//! Handles on objects kept in Redis, one module per typeid family, and the table of them
//! ([`lookup`], [`node_gone_hook`]). Each module exports
//! `TYPES: &[RedisType]`; see [`types`](super::types).

pub(crate) mod array;
pub(crate) mod barrier;
pub(crate) mod condition;
pub(crate) mod dict;
pub(crate) mod event;
pub(crate) mod iterator;
pub(crate) mod list;
pub(crate) mod locks;
pub(crate) mod namespace;
pub(crate) mod queue;
pub(crate) mod semaphore;
pub(crate) mod value;
pub(crate) mod wait;

use super::types::{NodeGone, RedisType};

/// The node-gone hook of `typeid` (see [`NodeGone`]); `None` for types whose callers never
/// hold or wait (their state needs no cleanup). Locks' holds expire with their lease by
/// themselves; their hooks only withdraw waiter tokens.
pub(crate) fn node_gone_hook(typeid: &str) -> Option<NodeGone> {
    Some(match typeid {
        "Lock" | "RLock" => locks::node_gone,
        "Semaphore" => semaphore::node_gone_sem,
        "BoundedSemaphore" => semaphore::node_gone_bounded,
        "Event" => event::node_gone,
        "Condition" => condition::node_gone,
        "Barrier" => barrier::node_gone,
        "Queue" | "JoinableQueue" => queue::node_gone,
        _ => return None,
    })
}

/// The Redis type of `typeid`, if the store keeps it in Redis.
pub(crate) fn lookup(typeid: &str) -> Option<&'static RedisType> {
    [
        value::TYPES,
        namespace::TYPES,
        array::TYPES,
        dict::TYPES,
        list::TYPES,
        iterator::TYPES,
        locks::TYPES,
        semaphore::TYPES,
        event::TYPES,
        condition::TYPES,
        barrier::TYPES,
        queue::TYPES,
    ]
    .into_iter()
    .flatten()
    .find(|t| t.typeid == typeid)
}
