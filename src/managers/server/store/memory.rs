//! The in-memory store: ident → (object, typeid, refcount), CPython's `id_to_obj`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Found, Store, Target};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{
    lock, traceback_text, CallCtx, CallError, RefTable, ServedObject, TypeSpec,
};

struct Entry {
    obj: Arc<dyn ServedObject>,
    typeid: String,
    refcount: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    next: u64,
}

/// Served objects by ident, with CPython's refcounting (`create` leaves 1, at 0 the object is
/// dropped). Objects are dropped outside the table lock, so an object whose drop releases
/// nested references never deadlocks.
#[derive(Default)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
    /// Put before every ident (empty for a server's own table).
    prefix: String,
}

impl Table {
    /// A table whose idents start with `prefix` (the Redis store's local objects).
    #[cfg_attr(not(feature = "redis-store"), allow(dead_code))]
    pub(crate) fn with_prefix(prefix: &str) -> Table {
        Table {
            inner: Mutex::default(),
            prefix: prefix.to_string(),
        }
    }

    /// Adds an object with refcount 1; returns its ident (lowercase hex like CPython's).
    pub(crate) fn add(&self, typeid: &str, obj: Arc<dyn ServedObject>) -> String {
        let mut t = lock(&self.inner);
        t.next += 1;
        let ident = format!("{}{:x}", self.prefix, 0x7f00_0000_0000u64 + t.next * 0x10);
        t.map.insert(
            ident.clone(),
            Entry {
                obj,
                typeid: typeid.to_string(),
                refcount: 1,
            },
        );
        ident
    }

    pub(crate) fn get(&self, ident: &str) -> Option<(Arc<dyn ServedObject>, String)> {
        lock(&self.inner)
            .map
            .get(ident)
            .map(|e| (e.obj.clone(), e.typeid.clone()))
    }

    pub(crate) fn incref_checked(&self, ident: &str) -> Result<(), String> {
        match lock(&self.inner).map.get_mut(ident) {
            Some(e) => {
                e.refcount += 1;
                Ok(())
            }
            None => Err(traceback_text("KeyError", &format!("{ident:?}"))),
        }
    }

    pub(crate) fn decref_checked(&self, ident: &str) -> Result<(), String> {
        let removed = {
            let mut t = lock(&self.inner);
            match t.map.get_mut(ident) {
                Some(e) if e.refcount > 1 => {
                    e.refcount -= 1;
                    None
                }
                Some(_) => t.map.remove(ident),
                None => return Err(traceback_text("KeyError", &format!("{ident:?}"))),
            }
        };
        drop(removed);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// CPython's `debug_info` text.
    pub(crate) fn debug_info(&self) -> String {
        let entries: Vec<(String, usize, Arc<dyn ServedObject>)> = {
            let t = lock(&self.inner);
            let mut v: Vec<_> = t
                .map
                .iter()
                .map(|(k, e)| (k.clone(), e.refcount, e.obj.clone()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        entries
            .into_iter()
            .map(|(k, rc, obj)| {
                let s: String = obj.str().chars().take(75).collect();
                format!("  {k}:       refcount={rc}\n    {s}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Drops every object (server teardown), outside the lock.
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut lock(&self.inner).map);
        drop(all);
    }
}

impl Store for Table {
    fn create(
        &self,
        ctx: &CallCtx,
        spec: &TypeSpec,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<(String, Arc<dyn ServedObject>), CallError> {
        let obj = spec.create(ctx, args, kwargs)?;
        Ok((self.add(spec.typeid(), obj.clone()), obj))
    }

    fn get(&self, ident: &str) -> Result<Option<Found>, CallError> {
        Ok(Table::get(self, ident))
    }

    fn call_object(
        &self,
        ctx: &CallCtx,
        target: Target<'_>,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<(String, Arc<dyn ServedObject>), CallError> {
        let new = target.obj.call_object(ctx, method, args, kwargs)?;
        Ok((self.add(target.result_typeid, new.clone()), new))
    }

    fn incref_checked(&self, ident: &str) -> Result<(), String> {
        Table::incref_checked(self, ident)
    }

    fn decref_checked(&self, ident: &str) -> Result<(), String> {
        Table::decref_checked(self, ident)
    }

    fn len(&self) -> usize {
        Table::len(self)
    }

    fn debug_info(&self) -> String {
        Table::debug_info(self)
    }

    fn as_ref_table(self: Arc<Self>) -> Arc<dyn RefTable> {
        self
    }

    fn clear(&self) {
        Table::clear(self)
    }
}

impl RefTable for Table {
    fn incref(&self, ident: &str) -> bool {
        self.incref_checked(ident).is_ok()
    }

    fn decref(&self, ident: &str) {
        let _ = self.decref_checked(ident);
    }

    fn object(&self, ident: &str) -> Option<Arc<dyn ServedObject>> {
        self.get(ident).map(|(o, _)| o)
    }
}
