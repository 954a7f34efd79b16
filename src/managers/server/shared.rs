//! Shared objects by name: CPython's `BaseManager.register(NAME, callable=lambda: obj)`.
//!
//! Python's documented remote-manager program registers typeids whose every call returns the
//! same server-side object (`QueueManager.register('get_queue', callable=lambda: queue)`), and
//! each client does `register('get_queue')`, `connect()`, `m.get_queue()`. [`Registry::share`]
//! gives a server such a typeid without writing a served type: the object is created once from
//! a registered typeid (`Queue`, `dict`, `RLock`, ...) and every `create` of NAME returns it,
//! with the exposed methods (and `method_to_typeid`) of that typeid.

use std::sync::Arc;

use super::Server;
use crate::managers::pickle::PyDict;
use crate::managers::sdk::{CallCtx, CallError, Registry, TypeSpec};
use crate::{Error, Result};

impl Registry {
    /// Adds typeid `name` whose every `create` returns one object of `typeid`, created now
    /// with no arguments (like `register(name, callable=lambda: obj)` in CPython). Calls with
    /// arguments are refused with `TypeError`, as CPython's lambda refuses them.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// use mpshare::managers::sdk::{CallCtx, Registry};
    /// let mut reg = Registry::sync_manager();
    /// reg.share("get_queue", "Queue")?;
    /// let spec = reg.get("get_queue").unwrap();
    /// let ctx = CallCtx::detached(1);
    /// let a = spec.create(&ctx, &[], &PyDict::new()).unwrap();
    /// let b = spec.create(&ctx, &[], &PyDict::new()).unwrap();
    /// a.call(&ctx, "put", &[PyValue::str("hello")], &PyDict::new()).unwrap();
    /// assert_eq!(b.call(&ctx, "get", &[], &PyDict::new()).unwrap(), PyValue::str("hello"));
    /// assert!(spec.exposed_list().unwrap().contains(&"put".to_string()));
    /// assert!(reg.share("x", "NoSuchType").is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn share(&mut self, name: &str, typeid: &str) -> Result<()> {
        let err = |reason: String| Error::Share {
            name: name.to_string(),
            typeid: typeid.to_string(),
            reason,
        };
        if name.is_empty() || name.starts_with('_') || !is_identifier(name) {
            return Err(err(format!(
                "expected a Python identifier not starting with '_' for the name, found {name:?}"
            )));
        }
        let Some(base) = self.get(typeid).cloned() else {
            let mut known: Vec<&str> = self
                .typeids()
                .filter(|t| self.get(t).is_some_and(|s| s.has_factory()))
                .collect();
            known.sort_unstable();
            return Err(err(format!(
                "unknown typeid; expected one of {}",
                known.join(", ")
            )));
        };
        let obj = base
            .create(&CallCtx::detached(0), &[], &PyDict::new())
            .map_err(|e| err(e.into_traceback().trim().to_string()))?;
        let exposed: Vec<String> = match base.exposed_list() {
            Some(l) => l.to_vec(),
            None => obj.exposed(),
        };
        let shared = obj.clone();
        let shown = name.to_string();
        let mut spec = TypeSpec::new(name, move |_ctx, args, kwargs| {
            if !args.is_empty() || !kwargs.is_empty() {
                return Err(CallError::type_error(&format!(
                    "{shown}() takes no arguments: it returns the server's one shared object"
                )));
            }
            Ok(Arc::clone(&shared))
        });
        let names: Vec<&str> = exposed.iter().map(String::as_str).collect();
        spec = spec.exposed(&names).set_shared_typeid(typeid);
        for m in &exposed {
            if let Some(rt) = base.result_typeid(m) {
                spec = spec.method_to_typeid(m, rt);
            }
        }
        self.register(spec);
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
        && c.all(|x| x.is_alphanumeric() || x == '_')
}

impl Server {
    /// Serves one object of `typeid` under typeid `name` (see [`Registry::share`]): clients
    /// `register(name)` and every `m.name()` returns a proxy of that same object.
    ///
    /// ```
    /// use mpshare::managers::{AuthKey, Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// s.share("get_queue", "Queue")?;
    /// s.share("shared_dict", "dict")?;
    /// assert!(s.share("lock", "Pool").is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn share(&self, name: &str, typeid: &str) -> Result<()> {
        self.registry_mut().share(name, typeid)
    }
}
