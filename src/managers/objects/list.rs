//! `list`: a Python list held by the server.

use std::cmp::Ordering;
use std::sync::Mutex;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::{bind_args, truthy};
use crate::managers::sdk::{int_arg, lock, names, CallCtx, CallError, PinSet, ServedObject};

#[derive(Debug, Default)]
struct State {
    items: Vec<PyValue>,
    pins: PinSet,
}

/// The `list` typeid.
///
/// ```
/// use mpshare::managers::{objects::list::ListObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let l = ListObject::default();
/// let ctx = CallCtx::detached(1);
/// l.call(&ctx, "append", &[PyValue::Int(3)], &PyDict::new()).unwrap();
/// l.call(&ctx, "append", &[PyValue::Int(1)], &PyDict::new()).unwrap();
/// l.call(&ctx, "sort", &[], &PyDict::new()).unwrap();
/// assert_eq!(l.repr(), "[1, 3]");
/// assert!(l.call(&ctx, "__getitem__", &[PyValue::Int(5)], &PyDict::new()).is_err());
/// ```
#[derive(Debug, Default)]
pub struct ListObject {
    state: Mutex<State>,
}

/// The items of an iterable value (`list(x)`).
pub(crate) fn iterate(v: &PyValue) -> Result<Vec<PyValue>, CallError> {
    Ok(match v {
        PyValue::List(t) | PyValue::Tuple(t) => t.clone(),
        PyValue::Str(s) => s.chars().map(|c| PyValue::Str(c.to_string())).collect(),
        PyValue::Bytes(b) | PyValue::ByteArray(b) => {
            b.iter().map(|x| PyValue::Int(i64::from(*x))).collect()
        }
        PyValue::Dict(d) => d.keys().cloned().collect(),
        PyValue::Set(s) | PyValue::FrozenSet(s) => s.iter().cloned().collect(),
        other
            if other
                .as_reduce()
                .is_some_and(|(m, n, _)| (m, n) == ("builtins", "range")) =>
        {
            range_items(other)?
        }
        other if crate::managers::pickle::is_kept(other) => kept_items(other)?,
        other => {
            return Err(CallError::type_error(&format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    })
}

/// What the server sees inside a value kept as sent (a `deque`, a list with shared items,
/// an `OrderedDict`, ...): its items, or the keys of its pairs.
pub(crate) fn kept_items(v: &PyValue) -> Result<Vec<PyValue>, CallError> {
    use crate::managers::pickle::{kept_parts, KeptParts, Limits};
    match kept_parts(v, &Limits::default()) {
        Some(Ok(KeptParts::Items(items))) => Ok(items),
        Some(Ok(KeptParts::Pairs(pairs))) => Ok(pairs.into_iter().map(|(k, _)| k).collect()),
        Some(Err(e)) => Err(CallError::value_error(&e.to_string())),
        None => Err(CallError::type_error(&format!(
            "'{}' object is not iterable by the server (kept as sent)",
            v.type_name()
        ))),
    }
}

/// Most items a `range` argument may produce (a list of this many ints is about 1 GiB).
const MAX_RANGE_ITEMS: i64 = 1 << 26;

/// The ints of `range(start, stop, step)` as pickled (`builtins.range` reduced with 3 ints).
fn range_items(v: &PyValue) -> Result<Vec<PyValue>, CallError> {
    let bad = || CallError::type_error("range argument: expected range(start, stop, step) of ints");
    let (_, _, a) = v.as_reduce().ok_or_else(bad)?;
    let [start, stop, step] = a else {
        return Err(bad());
    };
    let (Some(start), Some(stop), Some(step)) = (start.as_i64(), stop.as_i64(), step.as_i64())
    else {
        return Err(CallError::type_error(
            "range argument: only ranges whose bounds fit 64 bits are supported",
        ));
    };
    if step == 0 {
        return Err(CallError::value_error("range() arg 3 must not be zero"));
    }
    let len = if step > 0 {
        (i128::from(stop) - i128::from(start) + i128::from(step) - 1) / i128::from(step)
    } else {
        (i128::from(start) - i128::from(stop) - i128::from(step) - 1) / -i128::from(step)
    }
    .max(0);
    if len > i128::from(MAX_RANGE_ITEMS) {
        return Err(CallError::value_error(&format!(
            "range argument of {len} items: expected at most {MAX_RANGE_ITEMS}"
        )));
    }
    Ok((0..len as i64)
        .map(|i| PyValue::Int(start + i * step))
        .collect())
}

/// Python's `slice.indices(len)`: `(start, stop, step)`.
pub(crate) fn slice_indices(
    start: &PyValue,
    stop: &PyValue,
    step: &PyValue,
    len: usize,
) -> Result<(i64, i64, i64), CallError> {
    let len = len as i64;
    let step = if step.is_none() { 1 } else { int_arg(step)? };
    if step == 0 {
        return Err(CallError::value_error("slice step cannot be zero"));
    }
    let clamp = |v: &PyValue, default: i64| -> Result<i64, CallError> {
        if v.is_none() {
            return Ok(default);
        }
        let mut i = match v {
            PyValue::BigInt(b) if b.is_negative() => i64::MIN / 2,
            PyValue::BigInt(_) => i64::MAX / 2,
            _ => int_arg(v)?,
        };
        if i < 0 {
            i += len;
            if i < 0 {
                i = if step < 0 { -1 } else { 0 };
            }
        } else if i >= len {
            i = if step < 0 { len - 1 } else { len };
        }
        Ok(i)
    };
    let (ds, de) = if step < 0 { (len - 1, -1) } else { (0, len) };
    Ok((clamp(start, ds)?, clamp(stop, de)?, step))
}

/// The positions a slice selects.
pub(crate) fn slice_positions(start: i64, stop: i64, step: i64) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    out
}

/// A normalised index (negative counts from the end), or `None` when out of range.
pub(crate) fn norm_index(i: &PyValue, len: usize) -> Result<Option<usize>, CallError> {
    let i = match i {
        PyValue::BigInt(_) => return Ok(None),
        other => int_arg(other)?,
    };
    let len = len as i64;
    let j = if i < 0 { i + len } else { i };
    Ok(if (0..len).contains(&j) {
        Some(j as usize)
    } else {
        None
    })
}

pub(crate) fn index_type_error(v: &PyValue) -> CallError {
    CallError::type_error(&format!(
        "list indices must be integers or slices, not {}",
        v.type_name()
    ))
}

pub(crate) fn is_int(v: &PyValue) -> bool {
    matches!(v, PyValue::Int(_) | PyValue::Bool(_) | PyValue::BigInt(_))
}

/// Python's `<` ordering for the value types that have one.
pub(crate) fn py_cmp(a: &PyValue, b: &PyValue) -> Result<Ordering, CallError> {
    use PyValue as V;
    let num = |v: &PyValue| matches!(v, V::Int(_) | V::Bool(_) | V::Float(_) | V::BigInt(_));
    let r = match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        _ if num(a) && num(b) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).or(Some(Ordering::Equal))
        }
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bytes(x) | V::ByteArray(x), V::Bytes(y) | V::ByteArray(y)) => Some(x.cmp(y)),
        (V::Tuple(x), V::Tuple(y)) | (V::List(x), V::List(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                if p != q {
                    return py_cmp(p, q);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => None,
    };
    r.ok_or_else(|| {
        CallError::type_error(&format!(
            "'<' not supported between instances of '{}' and '{}'",
            b.type_name(),
            a.type_name()
        ))
    })
}

impl ListObject {
    /// `list(*args)`.
    ///
    /// ```
    /// use mpshare::managers::{objects::list::ListObject, sdk::ServedObject};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert_eq!(ListObject::create(&[PyValue::str("ab")], &PyDict::new()).unwrap().repr(), "['a', 'b']");
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<ListObject, CallError> {
        if !kwargs.is_empty() {
            return Err(CallError::type_error("list() takes no keyword arguments"));
        }
        if args.len() > 1 {
            return Err(CallError::type_error(&format!(
                "list expected at most 1 argument, got {}",
                args.len()
            )));
        }
        let items = match args.first() {
            Some(a) => iterate(a)?,
            None => Vec::new(),
        };
        Ok(ListObject {
            state: Mutex::new(State {
                items,
                pins: PinSet::default(),
            }),
        })
    }

    /// A copy of the items.
    ///
    /// ```
    /// use mpshare::managers::objects::list::ListObject;
    /// assert!(ListObject::default().snapshot().is_empty());
    /// ```
    pub fn snapshot(&self) -> Vec<PyValue> {
        lock(&self.state).items.clone()
    }
}

fn repeat(items: &[PyValue], n: i64) -> Result<Vec<PyValue>, CallError> {
    let n = n.max(0) as usize;
    if items.len().saturating_mul(n) > 100_000_000 {
        return Err(CallError::raise("builtins.MemoryError", vec![]));
    }
    let mut out = Vec::with_capacity(items.len() * n);
    for _ in 0..n {
        out.extend_from_slice(items);
    }
    Ok(out)
}

fn call_list(
    items: &mut Vec<PyValue>,
    method: &str,
    args: &[PyValue],
    kwargs: &PyDict,
) -> Result<PyValue, CallError> {
    let len = items.len();
    match method {
        "__len__" => {
            bind_args(method, args, kwargs, &[], 0)?;
            Ok(PyValue::Int(len as i64))
        }
        "__contains__" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            let v = b[0].unwrap_or(&PyValue::None);
            Ok(PyValue::Bool(items.iter().any(|x| x == v)))
        }
        "__getitem__" => {
            let b = bind_args(method, args, kwargs, &["index"], 1)?;
            let i = b[0].unwrap_or(&PyValue::None);
            if let Some((s, e, st)) = i.as_slice() {
                let (s, e, st) = slice_indices(s, e, st, len)?;
                return Ok(PyValue::List(
                    slice_positions(s, e, st)
                        .into_iter()
                        .map(|p| items[p].clone())
                        .collect(),
                ));
            }
            if !is_int(i) {
                return Err(index_type_error(i));
            }
            match norm_index(i, len)? {
                Some(j) => Ok(items[j].clone()),
                None => Err(CallError::index_error("list index out of range")),
            }
        }
        "__setitem__" => {
            let b = bind_args(method, args, kwargs, &["index", "value"], 2)?;
            let (i, v) = (
                b[0].unwrap_or(&PyValue::None),
                b[1].unwrap_or(&PyValue::None),
            );
            if let Some((s, e, st)) = i.as_slice() {
                let (s, e, st) = slice_indices(s, e, st, len)?;
                let new =
                    iterate(v).map_err(|_| CallError::type_error("can only assign an iterable"))?;
                if st == 1 {
                    let e = e.max(s);
                    items.splice(s as usize..e as usize, new);
                } else {
                    let pos = slice_positions(s, e, st);
                    if pos.len() != new.len() {
                        return Err(CallError::value_error(&format!(
                            "attempt to assign sequence of size {} to extended slice of size {}",
                            new.len(),
                            pos.len()
                        )));
                    }
                    for (p, x) in pos.into_iter().zip(new) {
                        items[p] = x;
                    }
                }
                return Ok(PyValue::None);
            }
            if !is_int(i) {
                return Err(index_type_error(i));
            }
            match norm_index(i, len)? {
                Some(j) => {
                    items[j] = v.clone();
                    Ok(PyValue::None)
                }
                None => Err(CallError::index_error("list assignment index out of range")),
            }
        }
        "__delitem__" => {
            let b = bind_args(method, args, kwargs, &["index"], 1)?;
            let i = b[0].unwrap_or(&PyValue::None);
            if let Some((s, e, st)) = i.as_slice() {
                let (s, e, st) = slice_indices(s, e, st, len)?;
                let mut pos = slice_positions(s, e, st);
                pos.sort_unstable();
                for p in pos.into_iter().rev() {
                    items.remove(p);
                }
                return Ok(PyValue::None);
            }
            if !is_int(i) {
                return Err(index_type_error(i));
            }
            match norm_index(i, len)? {
                Some(j) => {
                    items.remove(j);
                    Ok(PyValue::None)
                }
                None => Err(CallError::index_error("list assignment index out of range")),
            }
        }
        "clear" => {
            bind_args(method, args, kwargs, &[], 0)?;
            items.clear();
            Ok(PyValue::None)
        }
        "copy" => {
            bind_args(method, args, kwargs, &[], 0)?;
            Ok(PyValue::List(items.clone()))
        }
        "__add__" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            match b[0] {
                Some(PyValue::List(o)) => {
                    let mut out = items.clone();
                    out.extend(o.iter().cloned());
                    Ok(PyValue::List(out))
                }
                Some(o) => Err(CallError::type_error(&format!(
                    "can only concatenate list (not \"{}\") to list",
                    o.type_name()
                ))),
                None => Ok(PyValue::None),
            }
        }
        "__mul__" | "__rmul__" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            let n = int_arg(b[0].unwrap_or(&PyValue::None))
                .map_err(|_| CallError::type_error("can't multiply sequence by non-int"))?;
            Ok(PyValue::List(repeat(items, n)?))
        }
        "__imul__" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            let n = int_arg(b[0].unwrap_or(&PyValue::None))
                .map_err(|_| CallError::type_error("can't multiply sequence by non-int"))?;
            *items = repeat(items, n)?;
            Ok(PyValue::List(items.clone()))
        }
        "__reversed__" => {
            bind_args(method, args, kwargs, &[], 0)?;
            Ok(PyValue::List(items.iter().rev().cloned().collect()))
        }
        "append" => {
            let b = bind_args(method, args, kwargs, &["object"], 1)?;
            items.push(b[0].cloned().unwrap_or(PyValue::None));
            Ok(PyValue::None)
        }
        "extend" => {
            let b = bind_args(method, args, kwargs, &["iterable"], 1)?;
            let new = iterate(b[0].unwrap_or(&PyValue::None))?;
            items.extend(new);
            Ok(PyValue::None)
        }
        "insert" => {
            let b = bind_args(method, args, kwargs, &["index", "object"], 2)?;
            let i = int_arg(b[0].unwrap_or(&PyValue::None))?;
            let l = len as i64;
            let j = if i < 0 { (i + l).max(0) } else { i.min(l) };
            items.insert(j as usize, b[1].cloned().unwrap_or(PyValue::None));
            Ok(PyValue::None)
        }
        "pop" => {
            let b = bind_args(method, args, kwargs, &["index"], 0)?;
            if items.is_empty() {
                return Err(CallError::index_error("pop from empty list"));
            }
            let i = b[0].cloned().unwrap_or(PyValue::Int(-1));
            match norm_index(&i, len)? {
                Some(j) => Ok(items.remove(j)),
                None => Err(CallError::index_error("pop index out of range")),
            }
        }
        "remove" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            let v = b[0].unwrap_or(&PyValue::None);
            match items.iter().position(|x| x == v) {
                Some(j) => {
                    items.remove(j);
                    Ok(PyValue::None)
                }
                None => Err(CallError::value_error("list.remove(x): x not in list")),
            }
        }
        "count" => {
            let b = bind_args(method, args, kwargs, &["value"], 1)?;
            let v = b[0].unwrap_or(&PyValue::None);
            Ok(PyValue::Int(items.iter().filter(|x| *x == v).count() as i64))
        }
        "index" => {
            let b = bind_args(method, args, kwargs, &["value", "start", "stop"], 1)?;
            let v = b[0].unwrap_or(&PyValue::None);
            let (s, e, _) = slice_indices(
                b[1].unwrap_or(&PyValue::None),
                b[2].unwrap_or(&PyValue::None),
                &PyValue::None,
                len,
            )?;
            for j in s.max(0)..e.min(len as i64) {
                if &items[j as usize] == v {
                    return Ok(PyValue::Int(j));
                }
            }
            Err(CallError::value_error(&format!("{v} is not in list")))
        }
        "reverse" => {
            bind_args(method, args, kwargs, &[], 0)?;
            items.reverse();
            Ok(PyValue::None)
        }
        "sort" => {
            if !args.is_empty() {
                return Err(CallError::type_error(
                    "sort() takes no positional arguments",
                ));
            }
            let b = bind_args(method, &[], kwargs, &["key", "reverse"], 0)?;
            if b[0].is_some_and(|k| !k.is_none()) {
                return Err(CallError::type_error(
                    "sort(key=...) is not supported by this server (functions cannot be sent)",
                ));
            }
            let rev = b[1].is_some_and(truthy);
            // Check comparability first so a failure leaves the list unchanged.
            for w in items.windows(2) {
                py_cmp(&w[1], &w[0])?;
            }
            let mut err = None;
            items.sort_by(|a, b| match py_cmp(a, b) {
                Ok(o) => {
                    if rev {
                        o.reverse()
                    } else {
                        o
                    }
                }
                Err(e) => {
                    err.get_or_insert(e);
                    Ordering::Equal
                }
            });
            match err {
                Some(e) => Err(e),
                None => Ok(PyValue::None),
            }
        }
        _ => Err(CallError::no_method("list", method)),
    }
}

impl ListObject {
    /// CPython's exposed list of `list`.
    pub const EXPOSED: &'static [&'static str] = &[
        "__add__",
        "__contains__",
        "__delitem__",
        "__getitem__",
        "__len__",
        "__mul__",
        "__reversed__",
        "__rmul__",
        "__setitem__",
        "append",
        "count",
        "extend",
        "index",
        "insert",
        "pop",
        "remove",
        "reverse",
        "sort",
        "__imul__",
        // CPython 3.14's ListProxy adds these.
        "clear",
        "copy",
    ];
}

impl ServedObject for ListObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let r = call_list(&mut st.items, method, args, kwargs);
        if matches!(
            method,
            "__setitem__"
                | "__delitem__"
                | "__imul__"
                | "append"
                | "extend"
                | "insert"
                | "pop"
                | "remove"
        ) {
            st.pins.maybe_refresh(ctx, args, st.items.iter());
        }
        r
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.pins.refresh(ctx, st.items.iter());
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        PyValue::List(self.snapshot()).to_string()
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::List(self.snapshot()))
    }
}
