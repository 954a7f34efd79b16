//! Handles on objects kept in Redis, one module per typeid family. Each module exports
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
