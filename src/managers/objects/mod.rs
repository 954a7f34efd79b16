//! The built-in `SyncManager` typeids served by the manager
//! [`Server`](crate::managers::server::Server) (`dict`, `list`, `Namespace`, `Value`,
//! `Array`, `Queue`, `JoinableQueue`, `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
//! `Condition`, `Event`, `Barrier`, `Iterator`).
//!
//! Each is a [`ServedObject`] of the [SDK](crate::managers::sdk), like any custom type, and
//! writes its exposed method list once, as its `EXPOSED` constant: the registry, `exposed()`
//! and the test that every listed name is answered all read it.
//!
//! The SDK's names are also reachable here (`objects::{ServedObject, TypeSpec, CallCtx, ...}`),
//! the path they had before the SDK had its own module. A custom type:
//!
//! ```
//! use mpshare::managers::sdk::{CallCtx, CallError, ServedObject, TypeSpec};
//! use mpshare::managers::pickle::{PyDict, PyValue};
//! use std::sync::{atomic::{AtomicI64, Ordering}, Arc};
//!
//! struct Counter(AtomicI64);
//! impl ServedObject for Counter {
//!     fn call(&self, _ctx: &CallCtx, method: &str, _args: &[PyValue], _kw: &PyDict)
//!         -> Result<PyValue, CallError> {
//!         match method {
//!             "increment" => Ok(PyValue::Int(self.0.fetch_add(1, Ordering::SeqCst) + 1)),
//!             "get" => Ok(PyValue::Int(self.0.load(Ordering::SeqCst))),
//!             _ => Err(CallError::no_method("Counter", method)),
//!         }
//!     }
//!     fn exposed(&self) -> Vec<String> { vec!["increment".into(), "get".into()] }
//!     fn repr(&self) -> String { format!("<Counter {}>", self.0.load(Ordering::SeqCst)) }
//! }
//! let spec = TypeSpec::new("Counter", |_ctx, _args, _kw| Ok(Arc::new(Counter(AtomicI64::new(0)))));
//! assert_eq!(spec.typeid(), "Counter");
//! ```

pub mod array;
pub mod barrier;
pub mod condition;
pub mod dict;
pub mod event;
pub mod iterator;
pub mod list;
pub mod locks;
pub mod namespace;
pub mod queue;
pub mod set;
pub mod value;

use std::sync::Arc;

#[doc(no_inline)]
pub use super::sdk::{
    bind_args, check_hashable, contains_proxy, int_arg, timeout_arg, traceback_text, Bound,
    CallCtx, CallError, ConnId, Factory, Pin, PinSet, RefTable, Registry, ServedObject, TypeSpec,
};

/// CPython's exposed list of `dict` ([`dict::DictObject::EXPOSED`]).
///
/// ```
/// assert_eq!(mpshare::managers::objects::DICT_EXPOSED.len(), 22);
/// ```
pub const DICT_EXPOSED: &[&str] = dict::DictObject::EXPOSED;

/// CPython's exposed list of `list` ([`list::ListObject::EXPOSED`]).
///
/// ```
/// assert!(mpshare::managers::objects::LIST_EXPOSED.contains(&"__imul__"));
/// ```
pub const LIST_EXPOSED: &[&str] = list::ListObject::EXPOSED;

/// CPython 3.13's exposed list of `Queue`/`JoinableQueue` ([`queue::QueueObject::EXPOSED`]).
///
/// ```
/// assert!(mpshare::managers::objects::QUEUE_EXPOSED.contains(&"task_done"));
/// ```
pub const QUEUE_EXPOSED: &[&str] = queue::QueueObject::EXPOSED;

/// The built-in typeids.
impl Registry {
    /// The typeids of CPython's `SyncManager` (everything but `Pool`/`AsyncResult`).
    ///
    /// ```
    /// let reg = mpshare::managers::sdk::Registry::sync_manager();
    /// assert_eq!(reg.get("dict").unwrap().result_typeid("__iter__"), Some("Iterator"));
    /// ```
    pub fn sync_manager() -> Registry {
        let mut r = Registry::new();
        r.register(
            TypeSpec::new("dict", |_c, a, k| {
                Ok(Arc::new(dict::DictObject::create(a, k)?))
            })
            .exposed(dict::DictObject::EXPOSED)
            .method_to_typeid("__iter__", "Iterator"),
        );
        r.register(
            TypeSpec::new("list", |_c, a, k| {
                Ok(Arc::new(list::ListObject::create(a, k)?))
            })
            .exposed(list::ListObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Namespace", |_c, a, k| {
                Ok(Arc::new(namespace::NamespaceObject::create(a, k)?))
            })
            .exposed(namespace::NamespaceObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Value", |_c, a, k| {
                Ok(Arc::new(value::ValueObject::create(a, k)?))
            })
            .exposed(value::ValueObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Array", |_c, a, k| {
                Ok(Arc::new(array::ArrayObject::create(a, k)?))
            })
            .exposed(array::ArrayObject::EXPOSED),
        );
        for q in ["Queue", "JoinableQueue"] {
            r.register(
                TypeSpec::new(q, |_c, a, k| {
                    Ok(Arc::new(queue::QueueObject::create(a, k)?))
                })
                .exposed(queue::QueueObject::EXPOSED),
            );
        }
        r.register(
            TypeSpec::new("Lock", |_c, a, k| {
                Ok(Arc::new(locks::LockObject::create(a, k)?))
            })
            .exposed(locks::LockObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("RLock", |_c, a, k| {
                Ok(Arc::new(locks::RLockObject::create(a, k)?))
            })
            .exposed(locks::RLockObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Semaphore", |_c, a, k| {
                Ok(Arc::new(locks::SemaphoreObject::create(a, k, false)?))
            })
            .exposed(locks::SemaphoreObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("BoundedSemaphore", |_c, a, k| {
                Ok(Arc::new(locks::SemaphoreObject::create(a, k, true)?))
            })
            .exposed(locks::SemaphoreObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Condition", |c, a, k| {
                Ok(Arc::new(condition::ConditionObject::create_in(c, a, k)?))
            })
            .exposed(condition::ConditionObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Event", |_c, a, k| {
                Ok(Arc::new(event::EventObject::create(a, k)?))
            })
            .exposed(event::EventObject::EXPOSED),
        );
        r.register(
            TypeSpec::new("Barrier", |_c, a, k| {
                Ok(Arc::new(barrier::BarrierObject::create(a, k)?))
            })
            .exposed(barrier::BarrierObject::EXPOSED),
        );
        r.register(TypeSpec::result_only("Iterator").exposed(iterator::IteratorObject::EXPOSED));
        // CPython 3.14: SyncManager.set().
        r.register(
            TypeSpec::new("set", |_c, a, k| {
                Ok(Arc::new(set::SetObject::create(a, k)?))
            })
            .exposed(set::SetObject::EXPOSED),
        );
        // Pool runs the client's functions inside the manager process; this server never runs
        // client code, so creating one says so instead of failing with KeyError: 'Pool'.
        r.register(TypeSpec::new("Pool", |_c, _a, _k| {
            Err(CallError::raise(
                "NotImplementedError",
                vec![crate::managers::pickle::PyValue::str(
                    "manager.Pool() is not available: a Pool runs your Python functions inside the manager process, and mpshare serve never runs client code; use multiprocessing.Pool in your own process",
                )],
            ))
        }));
        r
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;
    use crate::managers::pickle::{PyDict, PyValue};

    /// Every name a built-in exposes is answered by its `call` (or, for `method_to_typeid`
    /// names, by `call_object`): none falls through to "has no attribute". The server is
    /// "stopping" so that blocking methods called without arguments return at once.
    #[test]
    fn every_exposed_name_is_answered() {
        let stop = AtomicBool::new(true);
        let ctx = CallCtx::new(1, None, &stop, None, Duration::from_millis(1));
        let reg = Registry::sync_manager();
        let args = |typeid: &str| -> Vec<PyValue> {
            match typeid {
                "Value" => vec![PyValue::str("i"), PyValue::Int(0)],
                "Array" => vec![PyValue::str("i"), PyValue::list(vec![PyValue::Int(1)])],
                "Barrier" => vec![PyValue::Int(2)],
                _ => vec![],
            }
        };
        let mut typeids: Vec<&str> = reg.typeids().collect();
        typeids.sort_unstable();
        let mut checked = 0;
        for typeid in typeids {
            let spec = reg.get(typeid).unwrap();
            if !spec.has_factory() || typeid == "Pool" {
                continue;
            }
            let detached = CallCtx::detached(1);
            let obj = spec
                .create(&detached, &args(typeid), &PyDict::new())
                .unwrap();
            let exposed = spec.exposed_list().unwrap();
            assert_eq!(
                obj.exposed(),
                exposed,
                "{typeid}: exposed() and the registry"
            );
            for name in exposed {
                let missing = if spec.result_typeid(name).is_some() {
                    obj.call_object(&ctx, name, &[], &PyDict::new()).err()
                } else {
                    obj.call(&ctx, name, &[], &PyDict::new()).err()
                }
                .is_some_and(|e| e.to_string().contains("has no attribute"));
                assert!(!missing, "{typeid}.{name} is exposed but not answered");
                checked += 1;
            }
        }
        assert!(checked > 60, "only {checked} names checked");
    }

    /// `Pool` exists only to say why it cannot be created.
    #[test]
    fn pool_explains_why_it_is_not_served() {
        let reg = Registry::sync_manager();
        let err = reg
            .get("Pool")
            .unwrap()
            .create(&CallCtx::detached(1), &[], &PyDict::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("never runs client code"), "{err}");
    }
}
