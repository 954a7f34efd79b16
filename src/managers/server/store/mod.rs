//! Where a server keeps its objects: the seam between the protocol ([`dispatch`](super)) and the
//! objects' state.
//!
//! [`memory`] (the default) keeps every object in this process, as CPython's server does. The
//! Redis back end (`redis`, feature `redis-store`) keeps the built-in typeids' state in Redis or
//! Valkey, so several servers (front-ends) serve the same objects; see ARCHITECTURE.md for how
//! each typeid maps onto Redis structures.

pub(crate) mod memory;
#[cfg(feature = "redis-store")]
pub(crate) mod redis;

use std::sync::Arc;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{CallCtx, CallError, RefTable, ServedObject, TypeSpec};

/// Which store a [`Server`](super::Server) keeps its objects in.
///
/// ```
/// use mpshare::managers::server::StoreConfig;
/// assert!(matches!(StoreConfig::default(), StoreConfig::Memory));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum StoreConfig {
    /// In this process (CPython's model): objects live and die with the server.
    #[default]
    Memory,
    /// In Redis or Valkey (feature `redis-store`): see [`RedisStoreConfig`].
    #[cfg(feature = "redis-store")]
    Redis(RedisStoreConfig),
}

#[cfg(feature = "redis-store")]
pub use self::redis::RedisStoreConfig;

/// The object a `method_to_typeid` call goes to, and the typeid of its result.
pub(crate) struct Target<'a> {
    /// The called object's ident.
    #[cfg_attr(not(feature = "redis-store"), allow(dead_code))]
    pub(crate) ident: &'a str,
    /// The called object.
    pub(crate) obj: &'a Arc<dyn ServedObject>,
    /// The typeid the result is served as.
    pub(crate) result_typeid: &'a str,
}

/// An object a store found: the object and its typeid.
pub(crate) type Found = (Arc<dyn ServedObject>, String);

/// The object table as the dispatcher sees it. Idents are what tokens carry; a store hands out
/// objects by ident and keeps CPython's reference counts.
pub(crate) trait Store: RefTable {
    /// `create(typeid, *args, **kwargs)`: a new object with reference count 1, and its ident.
    fn create(
        &self,
        ctx: &CallCtx,
        spec: &TypeSpec,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<(String, Arc<dyn ServedObject>), CallError>;

    /// The object `ident` names and its typeid; `Ok(None)` for an unknown ident, `Err` when the
    /// store cannot tell (the Redis store unreachable), so the caller hears why instead of a
    /// `KeyError`.
    fn get(&self, ident: &str) -> Result<Option<Found>, CallError>;

    /// Calls a method whose result is served as a new object of `result_typeid` (a
    /// `method_to_typeid` entry, e.g. `dict.__iter__` → `Iterator`); returns the new ident.
    fn call_object(
        &self,
        ctx: &CallCtx,
        target: Target<'_>,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<(String, Arc<dyn ServedObject>), CallError>;

    /// `incref(ident)`; the error is a `#TRACEBACK` text (`KeyError` for an unknown ident).
    fn incref_checked(&self, ident: &str) -> Result<(), String>;

    /// `decref(ident)`; at zero the object is deleted.
    fn decref_checked(&self, ident: &str) -> Result<(), String>;

    /// `number_of_objects()`.
    fn len(&self) -> usize;

    /// `debug_info()`.
    fn debug_info(&self) -> String;

    /// Server teardown: drops what this server holds (a shared store keeps the shared state).
    fn clear(&self);

    /// This store as the reference table objects pin nested proxies with.
    fn as_ref_table(self: Arc<Self>) -> Arc<dyn RefTable>;

    /// Pipelined calls: the store's plan for `method(*args, **kwargs)` on object `ident`, to run
    /// together with its neighbours by [`run_plans`](Self::run_plans) (the Redis store sends a
    /// run of simple calls to Redis as one pipeline). `None`: call the object as usual.
    fn plan(
        &self,
        _ctx: &CallCtx,
        _ident: &str,
        _method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Option<Plan> {
        None
    }

    /// Runs plans made by [`plan`](Self::plan), in order; one result per plan.
    fn run_plans(&self, plans: Vec<Plan>) -> Vec<Result<PyValue, CallError>> {
        plans
            .into_iter()
            .map(|_| {
                Err(CallError::Traceback(crate::managers::sdk::traceback_text(
                    "SystemError",
                    "this store makes no plans",
                )))
            })
            .collect()
    }
}

/// A call a store planned (its own type inside; see [`Store::plan`]).
pub(crate) type Plan = Box<dyn std::any::Any + Send>;

/// Builds the store `config` names for a server listening on `address`.
pub(crate) fn open(
    config: &StoreConfig,
    #[allow(unused_variables)] address: &crate::managers::Address,
) -> crate::Result<Arc<dyn Store>> {
    match config {
        StoreConfig::Memory => Ok(Arc::new(memory::Table::default())),
        #[cfg(feature = "redis-store")]
        StoreConfig::Redis(cfg) => Ok(Arc::new(redis::RedisStore::connect(cfg, address)?)),
    }
}
