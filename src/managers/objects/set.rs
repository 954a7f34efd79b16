//! `set`: the typeid CPython 3.14 adds (`SyncManager.set()`, `SetProxy`).

use std::sync::Mutex;

use super::list::iterate;
use crate::managers::pickle::{PyDict, PySet, PyValue};
use crate::managers::sdk::{bind_args, lock, names, CallCtx, CallError, ServedObject};

/// The `set` typeid: a Python set held by the server, with the methods and operators of
/// CPython 3.14's `SetProxy`.
///
/// ```
/// use mpshare::managers::objects::{set::SetObject, CallCtx, ServedObject};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let s = SetObject::create(&[PyValue::list(vec![PyValue::Int(1), PyValue::Int(2)])], &PyDict::new()).unwrap();
/// let ctx = CallCtx::detached(1);
/// s.call(&ctx, "add", &[PyValue::Int(3)], &PyDict::new()).unwrap();
/// assert_eq!(s.call(&ctx, "__len__", &[], &PyDict::new()).unwrap(), PyValue::Int(3));
/// assert_eq!(s.call(&ctx, "__contains__", &[PyValue::Int(2)], &PyDict::new()).unwrap(), PyValue::Bool(true));
/// assert!(s.call(&ctx, "remove", &[PyValue::Int(9)], &PyDict::new()).is_err()); // KeyError
/// ```
#[derive(Debug, Default)]
pub struct SetObject {
    items: Mutex<PySet>,
}

fn set_of(items: Vec<PyValue>) -> Result<PySet, CallError> {
    PySet::from_items(items).map_err(|e| CallError::type_error(&e.to_string()))
}

/// The set an argument stands for, when it is a set or frozenset (the operators' operands).
fn as_set(v: &PyValue) -> Option<&PySet> {
    match v {
        PyValue::Set(s) | PyValue::FrozenSet(s) => Some(s),
        _ => None,
    }
}

fn not_implemented() -> PyValue {
    PyValue::global("builtins", "NotImplemented")
}

fn union(a: &PySet, b: &PySet) -> PySet {
    let mut out = a.clone();
    for x in b.iter() {
        let _ = out.insert(x.clone());
    }
    out
}

fn intersection(a: &PySet, b: &PySet) -> PySet {
    let mut out = PySet::new();
    for x in a.iter().filter(|x| b.contains(x)) {
        let _ = out.insert(x.clone());
    }
    out
}

fn difference(a: &PySet, b: &PySet) -> PySet {
    let mut out = PySet::new();
    for x in a.iter().filter(|x| !b.contains(x)) {
        let _ = out.insert(x.clone());
    }
    out
}

fn symmetric(a: &PySet, b: &PySet) -> PySet {
    union(&difference(a, b), &difference(b, a))
}

fn subset(a: &PySet, b: &PySet) -> bool {
    a.iter().all(|x| b.contains(x))
}

impl SetObject {
    /// `EXPOSED` of CPython 3.14's `_BaseSetProxy`.
    pub const EXPOSED: &'static [&'static str] = &[
        "__and__",
        "__class_getitem__",
        "__contains__",
        "__iand__",
        "__ior__",
        "__isub__",
        "__iter__",
        "__ixor__",
        "__len__",
        "__or__",
        "__rand__",
        "__ror__",
        "__rsub__",
        "__rxor__",
        "__sub__",
        "__xor__",
        "__ge__",
        "__gt__",
        "__le__",
        "__lt__",
        "add",
        "clear",
        "copy",
        "difference",
        "difference_update",
        "discard",
        "intersection",
        "intersection_update",
        "isdisjoint",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "symmetric_difference_update",
        "union",
        "update",
    ];

    /// `set(iterable=())`.
    ///
    /// ```
    /// use mpshare::managers::objects::{set::SetObject, ServedObject};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert_eq!(SetObject::create(&[], &PyDict::new()).unwrap().repr(), "set()");
    /// assert!(SetObject::create(&[PyValue::list(vec![PyValue::list(vec![])])], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<SetObject, CallError> {
        let b = bind_args("set", args, kwargs, &["iterable"], 0)?;
        let items = match b[0] {
            Some(v) => set_of(iterate(v)?)?,
            None => PySet::new(),
        };
        Ok(SetObject {
            items: Mutex::new(items),
        })
    }

    /// A copy of the set.
    ///
    /// ```
    /// assert!(mpshare::managers::objects::set::SetObject::default().snapshot().is_empty());
    /// ```
    pub fn snapshot(&self) -> PySet {
        lock(&self.items).clone()
    }
}

impl ServedObject for SetObject {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut st = lock(&self.items);
        let one = |name: &str| -> Result<PyValue, CallError> {
            let b = bind_args(name, args, kwargs, &["other"], 1)?;
            Ok(b[0].cloned().unwrap_or(PyValue::None))
        };
        // The iterables of `*others` as sets.
        let others = || -> Result<Vec<PySet>, CallError> {
            if !kwargs.is_empty() {
                return Err(CallError::type_error(&format!(
                    "set.{method}() takes no keyword arguments"
                )));
            }
            args.iter().map(|a| set_of(iterate(a)?)).collect()
        };
        let set = |s: PySet| PyValue::Set(s);
        match method {
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Int(st.len() as i64))
            }
            "__contains__" => {
                let v = one(method)?;
                Ok(PyValue::Bool(v.check_hashable().is_ok() && st.contains(&v)))
            }
            "__iter__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                // A set iterator pickles as iter(list): the client gets a local iterator.
                Ok(PyValue::reduce(
                    PyValue::global("builtins", "iter"),
                    vec![PyValue::List(st.iter().cloned().collect())],
                ))
            }
            "__class_getitem__" => {
                let v = one(method)?;
                Ok(PyValue::reduce(
                    PyValue::global("types", "GenericAlias"),
                    vec![PyValue::global("builtins", "set"), v],
                ))
            }
            "__or__" | "__ror__" | "__and__" | "__rand__" | "__sub__" | "__rsub__" | "__xor__"
            | "__rxor__" => {
                let v = one(method)?;
                let Some(o) = as_set(&v) else {
                    return Ok(not_implemented());
                };
                Ok(set(match method {
                    "__or__" | "__ror__" => union(&st, o),
                    "__and__" | "__rand__" => intersection(&st, o),
                    "__sub__" => difference(&st, o),
                    "__rsub__" => difference(o, &st),
                    _ => symmetric(&st, o),
                }))
            }
            "__ior__" | "__iand__" | "__isub__" | "__ixor__" => {
                let v = one(method)?;
                let Some(o) = as_set(&v) else {
                    return Ok(not_implemented());
                };
                *st = match method {
                    "__ior__" => union(&st, o),
                    "__iand__" => intersection(&st, o),
                    "__isub__" => difference(&st, o),
                    _ => symmetric(&st, o),
                };
                // CPython returns the set itself; the proxy's __ior__ returns the proxy.
                Ok(set(st.clone()))
            }
            "__le__" | "__lt__" | "__ge__" | "__gt__" => {
                let v = one(method)?;
                let Some(o) = as_set(&v) else {
                    return Ok(not_implemented());
                };
                Ok(PyValue::Bool(match method {
                    "__le__" => subset(&st, o),
                    "__lt__" => subset(&st, o) && st.len() < o.len(),
                    "__ge__" => subset(o, &st),
                    _ => subset(o, &st) && st.len() > o.len(),
                }))
            }
            "add" => {
                let v = one(method)?;
                st.insert(v)
                    .map_err(|e| CallError::type_error(&e.to_string()))?;
                Ok(PyValue::None)
            }
            "discard" | "remove" => {
                let v = one(method)?;
                v.check_hashable()
                    .map_err(|e| CallError::type_error(&e.to_string()))?;
                if !st.remove(&v) && method == "remove" {
                    return Err(CallError::key_error(v));
                }
                Ok(PyValue::None)
            }
            "pop" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let first = st.iter().next().cloned();
                match first {
                    Some(v) => {
                        st.remove(&v);
                        Ok(v)
                    }
                    None => Err(CallError::key_error(PyValue::str("pop from an empty set"))),
                }
            }
            "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                *st = PySet::new();
                Ok(PyValue::None)
            }
            "copy" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(set(st.clone()))
            }
            "union" | "intersection" | "difference" => {
                let mut acc = st.clone();
                for o in others()? {
                    acc = match method {
                        "union" => union(&acc, &o),
                        "intersection" => intersection(&acc, &o),
                        _ => difference(&acc, &o),
                    };
                }
                Ok(set(acc))
            }
            "update" | "intersection_update" | "difference_update" => {
                let mut acc = st.clone();
                for o in others()? {
                    acc = match method {
                        "update" => union(&acc, &o),
                        "intersection_update" => intersection(&acc, &o),
                        _ => difference(&acc, &o),
                    };
                }
                *st = acc;
                Ok(PyValue::None)
            }
            "symmetric_difference"
            | "symmetric_difference_update"
            | "isdisjoint"
            | "issubset"
            | "issuperset" => {
                let v = one(method)?;
                let o = set_of(iterate(&v)?)?;
                match method {
                    "symmetric_difference" => Ok(set(symmetric(&st, &o))),
                    "symmetric_difference_update" => {
                        *st = symmetric(&st, &o);
                        Ok(PyValue::None)
                    }
                    "isdisjoint" => Ok(PyValue::Bool(intersection(&st, &o).is_empty())),
                    "issubset" => Ok(PyValue::Bool(subset(&st, &o))),
                    _ => Ok(PyValue::Bool(subset(&o, &st))),
                }
            }
            _ => Err(CallError::no_method("set", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        PyValue::Set(self.snapshot()).to_string()
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::Set(self.snapshot()))
    }
}
