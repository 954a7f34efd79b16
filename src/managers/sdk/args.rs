//! Binding Python-style `(args, kwargs)` to named parameters.

use super::CallError;
use crate::managers::pickle::{PyDict, PyValue};

/// Parameters bound by [`bind_args`], in declaration order (`None` = not given).
///
/// ```
/// let b: mpshare::managers::sdk::Bound = vec![None];
/// assert!(b[0].is_none());
/// ```
pub type Bound<'a> = Vec<Option<&'a PyValue>>;

/// Binds `args`/`kwargs` to the parameters `names` of `func` like Python does: positional first,
/// then keywords; the first `required` parameters must be given. Errors are `TypeError`s worded
/// like CPython's.
///
/// ```
/// use mpshare::managers::sdk::bind_args;
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let mut kw = PyDict::new();
/// kw.insert(PyValue::str("timeout"), PyValue::Float(0.5)).unwrap();
/// let b = bind_args("get", &[PyValue::Bool(true)], &kw, &["block", "timeout"], 0).unwrap();
/// assert_eq!(b[1], Some(&PyValue::Float(0.5)));
/// assert!(bind_args("get", &[], &PyDict::new(), &["item"], 1).is_err());
/// ```
pub fn bind_args<'a>(
    func: &str,
    args: &'a [PyValue],
    kwargs: &'a PyDict,
    names: &[&str],
    required: usize,
) -> Result<Bound<'a>, CallError> {
    if args.len() > names.len() {
        return Err(CallError::type_error(&format!(
            "{func}() takes at most {} positional argument{} ({} given)",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            args.len()
        )));
    }
    let mut out: Bound<'a> = vec![None; names.len()];
    for (i, a) in args.iter().enumerate() {
        out[i] = Some(a);
    }
    for (k, v) in kwargs.iter() {
        let name = k.as_str().unwrap_or("");
        match names.iter().position(|n| *n == name) {
            Some(i) if out[i].is_some() => {
                return Err(CallError::type_error(&format!(
                    "{func}() got multiple values for argument '{name}'"
                )))
            }
            Some(i) => out[i] = Some(v),
            None => {
                return Err(CallError::type_error(&format!(
                    "{func}() got an unexpected keyword argument '{name}'"
                )))
            }
        }
    }
    for (i, n) in names.iter().enumerate().take(required) {
        if out[i].is_none() {
            return Err(CallError::type_error(&format!(
                "{func}() missing required argument '{n}'"
            )));
        }
    }
    Ok(out)
}

/// An `int` argument (bools count, as in Python); `TypeError` otherwise.
///
/// ```
/// use mpshare::managers::sdk::int_arg;
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(int_arg(&PyValue::Bool(true)).unwrap(), 1);
/// assert!(int_arg(&PyValue::str("x")).is_err());
/// ```
pub fn int_arg(v: &PyValue) -> Result<i64, CallError> {
    match v {
        PyValue::Int(i) => Ok(*i),
        PyValue::Bool(b) => Ok(i64::from(*b)),
        PyValue::BigInt(_) => Err(CallError::raise(
            "builtins.OverflowError",
            vec![PyValue::str("Python int too large to convert to C ssize_t")],
        )),
        other => Err(CallError::type_error(&format!(
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ))),
    }
}

/// A timeout argument in seconds: `None` (or absent) → no timeout; a negative number →
/// `ValueError`; a non-number → `TypeError`.
///
/// ```
/// use mpshare::managers::sdk::timeout_arg;
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(timeout_arg(None).unwrap(), None);
/// assert_eq!(timeout_arg(Some(&PyValue::Float(0.5))).unwrap().unwrap().as_millis(), 500);
/// assert!(timeout_arg(Some(&PyValue::Int(-1))).is_err());
/// ```
pub fn timeout_arg(v: Option<&PyValue>) -> Result<Option<std::time::Duration>, CallError> {
    match v {
        None | Some(PyValue::None) => Ok(None),
        Some(v) => {
            let secs = v.as_f64().ok_or_else(|| {
                CallError::type_error(&format!(
                    "'{}' object cannot be interpreted as a number",
                    v.type_name()
                ))
            })?;
            if secs.is_nan() || secs < 0.0 {
                return Err(CallError::value_error(
                    "'timeout' must be a non-negative number",
                ));
            }
            Ok(Some(
                std::time::Duration::try_from_secs_f64(secs)
                    .unwrap_or(std::time::Duration::from_secs(u32::MAX as u64)),
            ))
        }
    }
}

/// `TypeError: unhashable type: '...'` when `v` cannot be a dict key.
///
/// ```
/// use mpshare::managers::sdk::check_hashable;
/// use mpshare::managers::pickle::PyValue;
/// assert!(check_hashable(&PyValue::Int(1)).is_ok());
/// assert!(check_hashable(&PyValue::list(vec![])).is_err());
/// ```
pub fn check_hashable(v: &PyValue) -> Result<(), CallError> {
    match v.check_hashable() {
        Ok(()) => Ok(()),
        Err(crate::Error::Conversion(msg)) => Err(CallError::type_error(&msg)),
        Err(e) => Err(CallError::type_error(&e.to_string())),
    }
}

/// A deadline `timeout` from now.
pub(crate) fn deadline(t: Option<std::time::Duration>) -> Option<std::time::Instant> {
    t.map(|t| {
        std::time::Instant::now()
            .checked_add(t)
            .unwrap_or_else(|| std::time::Instant::now() + std::time::Duration::from_secs(1 << 30))
    })
}

/// Python truthiness for the simple types (`blocking` flags).
pub(crate) fn truthy(v: &PyValue) -> bool {
    match v {
        PyValue::None => false,
        PyValue::Bool(b) => *b,
        PyValue::Int(i) => *i != 0,
        PyValue::BigInt(_) => true,
        PyValue::Float(f) => *f != 0.0,
        PyValue::Str(s) => !s.is_empty(),
        PyValue::SurrogateStr(s) | PyValue::Bytes(s) | PyValue::ByteArray(s) => !s.is_empty(),
        PyValue::Tuple(t) | PyValue::List(t) => !t.is_empty(),
        PyValue::Dict(d) => !d.is_empty(),
        PyValue::Set(s) | PyValue::FrozenSet(s) => !s.is_empty(),
        _ => true,
    }
}
