//! `dict`: a Python dict held by the server.

use std::sync::{Arc, Mutex};

use super::iterator::IteratorObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::bind_args;
use crate::managers::sdk::{check_hashable, lock, names, CallCtx, CallError, PinSet, ServedObject};

#[derive(Debug, Default)]
struct State {
    d: PyDict,
    pins: PinSet,
}

/// The `dict` typeid.
///
/// ```
/// use mpshare::managers::{objects::dict::DictObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let d = DictObject::default();
/// let ctx = CallCtx::detached(1);
/// d.call(&ctx, "__setitem__", &[PyValue::str("a"), PyValue::Int(1)], &PyDict::new()).unwrap();
/// assert_eq!(d.repr(), "{'a': 1}");
/// assert!(d.call(&ctx, "__getitem__", &[PyValue::str("b")], &PyDict::new()).is_err());
/// ```
#[derive(Debug, Default)]
pub struct DictObject {
    state: Arc<Mutex<State>>,
}

fn insert(d: &mut PyDict, k: PyValue, v: PyValue) -> Result<(), CallError> {
    check_hashable(&k)?;
    d.insert(k, v)
        .map(|_| ())
        .map_err(|e| CallError::type_error(&e.to_string()))
}

/// `dict.update(other)`: a dict, or an iterable of key/value pairs.
pub(crate) fn update_from(d: &mut PyDict, other: &PyValue) -> Result<(), CallError> {
    if crate::managers::pickle::is_kept(other) {
        use crate::managers::pickle::{kept_parts, KeptParts, Limits};
        // An OrderedDict, defaultdict, Counter subclass... kept as sent: its pairs.
        return match kept_parts(other, &Limits::default()) {
            Some(Ok(KeptParts::Pairs(pairs))) => {
                for (k, v) in pairs {
                    insert(d, k, v)?;
                }
                Ok(())
            }
            Some(Ok(KeptParts::Items(items))) => update_from(d, &PyValue::List(items)),
            Some(Err(e)) => Err(CallError::value_error(&e.to_string())),
            None => Err(CallError::type_error(&format!(
                "'{}' object is not iterable by the server (kept as sent)",
                other.type_name()
            ))),
        };
    }
    match other {
        PyValue::Dict(o) => {
            for (k, v) in o.iter() {
                insert(d, k.clone(), v.clone())?;
            }
            Ok(())
        }
        PyValue::List(items) | PyValue::Tuple(items) => {
            for (i, it) in items.iter().enumerate() {
                match it {
                    PyValue::Tuple(p) | PyValue::List(p) if p.len() == 2 => {
                        insert(d, p[0].clone(), p[1].clone())?
                    }
                    PyValue::Tuple(p) | PyValue::List(p) => {
                        return Err(CallError::value_error(&format!(
                            "dictionary update sequence element #{i} has length {}; 2 is required",
                            p.len()
                        )))
                    }
                    other => {
                        return Err(CallError::type_error(&format!(
                            "cannot convert dictionary update sequence element #{i} to a sequence (found {})",
                            other.type_name()
                        )))
                    }
                }
            }
            Ok(())
        }
        other => Err(CallError::type_error(&format!(
            "'{}' object is not iterable",
            other.type_name()
        ))),
    }
}

impl DictObject {
    /// `dict(*args, **kwargs)`.
    ///
    /// ```
    /// use mpshare::managers::{objects::dict::DictObject, sdk::ServedObject};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut kw = PyDict::new();
    /// kw.insert(PyValue::str("a"), PyValue::Int(1)).unwrap();
    /// assert_eq!(DictObject::create(&[], &kw).unwrap().repr(), "{'a': 1}");
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<DictObject, CallError> {
        if args.len() > 1 {
            return Err(CallError::type_error(&format!(
                "dict expected at most 1 argument, got {}",
                args.len()
            )));
        }
        let mut d = PyDict::new();
        if let Some(a) = args.first() {
            update_from(&mut d, a)?;
        }
        for (k, v) in kwargs.iter() {
            insert(&mut d, k.clone(), v.clone())?;
        }
        Ok(DictObject {
            state: Arc::new(Mutex::new(State {
                d,
                pins: PinSet::default(),
            })),
        })
    }

    /// A copy of the dict.
    ///
    /// ```
    /// use mpshare::managers::objects::dict::DictObject;
    /// assert!(DictObject::default().snapshot().is_empty());
    /// ```
    pub fn snapshot(&self) -> PyDict {
        lock(&self.state).d.clone()
    }
}

fn values_of(d: &PyDict) -> impl Iterator<Item = &PyValue> {
    d.iter().flat_map(|(k, v)| [k, v])
}

impl DictObject {
    /// CPython 3.14's exposed list of `dict` (3.11–3.13's plus `__ior__`, `__or__`,
    /// `__reversed__`, `__ror__` and `fromkeys`, which 3.14 clients call), with `'__iter__'`
    /// twice, as `create` reports it (the `method_to_typeid` name is appended again). Older
    /// clients' `DictProxy` ignores the reported list.
    pub const EXPOSED: &'static [&'static str] = &[
        "__contains__",
        "__delitem__",
        "__getitem__",
        "__ior__",
        "__iter__",
        "__len__",
        "__or__",
        "__reversed__",
        "__ror__",
        "__setitem__",
        "clear",
        "copy",
        "fromkeys",
        "get",
        "items",
        "keys",
        "pop",
        "popitem",
        "setdefault",
        "update",
        "values",
        "__iter__",
    ];
}

impl ServedObject for DictObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let mutating = matches!(
            method,
            "__setitem__"
                | "__delitem__"
                | "clear"
                | "pop"
                | "popitem"
                | "setdefault"
                | "update"
                | "__ior__"
        );
        let r = match method {
            "__getitem__" => {
                let b = bind_args(method, args, kwargs, &["key"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                st.d.get(k)
                    .cloned()
                    .ok_or_else(|| CallError::key_error(k.clone()))
            }
            "__setitem__" => {
                let b = bind_args(method, args, kwargs, &["key", "value"], 2)?;
                let (k, v) = (
                    b[0].unwrap_or(&PyValue::None),
                    b[1].unwrap_or(&PyValue::None),
                );
                insert(&mut st.d, k.clone(), v.clone()).map(|_| PyValue::None)
            }
            "__delitem__" => {
                let b = bind_args(method, args, kwargs, &["key"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                st.d.remove(k)
                    .map(|_| PyValue::None)
                    .ok_or_else(|| CallError::key_error(k.clone()))
            }
            "__contains__" => {
                let b = bind_args(method, args, kwargs, &["key"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                Ok(PyValue::Bool(st.d.contains_key(k)))
            }
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Int(st.d.len() as i64))
            }
            "clear" => {
                bind_args(method, args, kwargs, &[], 0)?;
                st.d.clear();
                Ok(PyValue::None)
            }
            "copy" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Dict(st.d.clone()))
            }
            "get" => {
                let b = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                Ok(st
                    .d
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| b[1].cloned().unwrap_or(PyValue::None)))
            }
            "keys" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::List(st.d.keys().cloned().collect()))
            }
            "values" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::List(st.d.values().cloned().collect()))
            }
            "items" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::List(
                    st.d.iter()
                        .map(|(k, v)| PyValue::Tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                ))
            }
            "pop" => {
                let b = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                match st.d.remove(k) {
                    Some((_, v)) => Ok(v),
                    None => b[1].cloned().ok_or_else(|| CallError::key_error(k.clone())),
                }
            }
            "popitem" => {
                bind_args(method, args, kwargs, &[], 0)?;
                st.d.pop_last()
                    .map(|(k, v)| PyValue::Tuple(vec![k, v]))
                    .ok_or_else(|| {
                        CallError::key_error(PyValue::str("popitem(): dictionary is empty"))
                    })
            }
            "setdefault" => {
                let b = bind_args(method, args, kwargs, &["key", "default"], 1)?;
                let k = b[0].unwrap_or(&PyValue::None);
                check_hashable(k)?;
                match st.d.get(k) {
                    Some(v) => Ok(v.clone()),
                    None => {
                        let v = b[1].cloned().unwrap_or(PyValue::None);
                        insert(&mut st.d, k.clone(), v.clone())?;
                        Ok(v)
                    }
                }
            }
            // CPython 3.14's DictProxy: `|`, `|=`, reversed(), fromkeys.
            "__or__" | "__ror__" => {
                let b = bind_args(method, args, kwargs, &["other"], 1)?;
                let other = b[0].unwrap_or(&PyValue::None);
                if !matches!(other, PyValue::Dict(_)) && !crate::managers::pickle::is_kept(other) {
                    return Ok(PyValue::global("builtins", "NotImplemented"));
                }
                let mut out = if method == "__or__" {
                    st.d.clone()
                } else {
                    PyDict::new()
                };
                update_from(&mut out, other)?;
                if method == "__ror__" {
                    for (k, v) in st.d.iter() {
                        insert(&mut out, k.clone(), v.clone())?;
                    }
                }
                Ok(PyValue::Dict(out))
            }
            "__ior__" => {
                let b = bind_args(method, args, kwargs, &["other"], 1)?;
                update_from(&mut st.d, b[0].unwrap_or(&PyValue::None))?;
                Ok(PyValue::Dict(st.d.clone()))
            }
            "__reversed__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::List(
                    st.d.iter().rev().map(|(k, _)| k.clone()).collect(),
                ))
            }
            "fromkeys" => {
                let b = bind_args(method, args, kwargs, &["iterable", "value"], 1)?;
                let keys = super::list::iterate(b[0].unwrap_or(&PyValue::None))?;
                let v = b[1].cloned().unwrap_or(PyValue::None);
                let mut out = PyDict::new();
                for k in keys {
                    insert(&mut out, k, v.clone())?;
                }
                Ok(PyValue::Dict(out))
            }
            "update" => {
                if args.len() > 1 {
                    return Err(CallError::type_error(&format!(
                        "update expected at most 1 argument, got {}",
                        args.len()
                    )));
                }
                if let Some(a) = args.first() {
                    update_from(&mut st.d, a)?;
                }
                for (k, v) in kwargs.iter() {
                    insert(&mut st.d, k.clone(), v.clone())?;
                }
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("dict", method)),
        };
        if mutating {
            let kw: Vec<PyValue> = kwargs.values().cloned().collect();
            let incoming_has = args.iter().chain(kw.iter()).any(super::contains_proxy);
            if incoming_has || !st.pins.is_empty() {
                st.pins.refresh(ctx, values_of(&st.d));
            }
        }
        r
    }

    fn call_object(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<Arc<dyn ServedObject>, CallError> {
        match method {
            "__iter__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                let (keys, len): (Vec<PyValue>, usize) = {
                    let st = lock(&self.state);
                    (st.d.keys().cloned().collect(), st.d.len())
                };
                // Like CPython's dict iterator: a dict whose size changed ends the iteration
                // with RuntimeError.
                let dict = Arc::downgrade(&self.state);
                Ok(Arc::new(IteratorObject::checked(
                    keys,
                    move || match dict.upgrade() {
                        Some(st) if lock(&st).d.len() != len => Err(PyValue::exception(
                            "builtins",
                            "RuntimeError",
                            vec![PyValue::str("dictionary changed size during iteration")],
                        )),
                        _ => Ok(()),
                    },
                )))
            }
            _ => Err(CallError::no_method("dict", method)),
        }
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.pins.refresh(ctx, values_of(&st.d));
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        PyValue::Dict(self.snapshot()).to_string()
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::Dict(self.snapshot()))
    }
}
