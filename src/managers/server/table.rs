//! The object table: ident → (object, typeid, refcount).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::managers::sdk::{lock, traceback_text, RefTable, ServedObject};

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
}

impl Table {
    /// Adds an object with refcount 1; returns its ident (lowercase hex like CPython's).
    pub(crate) fn add(&self, typeid: &str, obj: Arc<dyn ServedObject>) -> String {
        let mut t = lock(&self.inner);
        t.next += 1;
        let ident = format!("{:x}", 0x7f00_0000_0000u64 + t.next * 0x10);
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

    #[allow(dead_code)]
    pub(crate) fn typeid(&self, ident: &str) -> Option<String> {
        lock(&self.inner).map.get(ident).map(|e| e.typeid.clone())
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
