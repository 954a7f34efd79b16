//! `Array` kept in Redis.

use crate::managers::server::store::redis::types::RedisType;

/// The typeids of this module (none yet: served from this front-end's memory).
pub(crate) const TYPES: &[RedisType] = &[];
