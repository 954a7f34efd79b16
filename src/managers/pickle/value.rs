//! The Python value model: [`PyValue`].
//!
//! Over 800 lines because it is one type and its inherent methods (constructors, accessors,
//! Python equality and hashing, conversions): splitting the impl across files would scatter what
//! a reader looks up together.

use std::hash::{Hash, Hasher};

use super::bigint::{self, PyBigInt};
use super::dict::{PyDict, PySet};
use crate::{Error, Result};

/// A Python value as it travels in a pickle, with Python semantics.
///
/// * `int` is [`Int`](PyValue::Int) when it fits `i64`, else [`BigInt`](PyValue::BigInt);
/// * `str` is [`Str`](PyValue::Str), or [`SurrogateStr`](PyValue::SurrogateStr) when it holds lone
///   surrogates (not representable in a Rust `String`; kept as `surrogatepass` UTF-8 bytes);
/// * `tuple` ≠ `list`, `bytes` ≠ `bytearray`, `set` ≠ `frozenset` as variants;
/// * class instances and references are kept as a graph ([`Global`](PyValue::Global),
///   [`Reduce`](PyValue::Reduce), [`NewObj`](PyValue::NewObj), [`Build`](PyValue::Build)); nothing is
///   ever executed.
///
/// `==` follows Python: `1 == 1.0 == True`, `0.0 == -0.0`, NaN is never equal (so `Eq` is only
/// "Eq for dict keys", like Python's own dicts), `bytes == bytearray` with the same content, `set ==
/// frozenset`. Use [`PyValue::identical`] for a strict structural comparison (types must match, NaN
/// equals NaN, `-0.0` differs from `0.0`).
///
/// ```
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(PyValue::Int(1), PyValue::Float(1.0));
/// assert_eq!(PyValue::Int(1), PyValue::Bool(true));
/// assert!(!PyValue::Int(1).identical(&PyValue::Bool(true)));
/// assert_ne!(PyValue::Float(f64::NAN), PyValue::Float(f64::NAN));
/// let e = PyValue::exception("builtins", "KeyError", vec![PyValue::str("missing")]);
/// assert_eq!(e.to_string(), "KeyError('missing')");
/// ```
#[derive(Clone, Debug)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits `i64`.
    Int(i64),
    /// An `int` outside the `i64` range.
    BigInt(PyBigInt),
    /// A `float`.
    Float(f64),
    /// A `str` that is valid Unicode.
    Str(String),
    /// A `str` holding lone surrogates, as its UTF-8 `surrogatepass` encoding.
    SurrogateStr(Vec<u8>),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// `tuple`.
    Tuple(Vec<PyValue>),
    /// `list`.
    List(Vec<PyValue>),
    /// `dict` (insertion-ordered, Python key equality).
    Dict(PyDict),
    /// `set`.
    Set(PySet),
    /// `frozenset`.
    FrozenSet(PySet),
    /// A reference to a module attribute (class or function), e.g. `builtins.KeyError`.
    Global {
        /// Module, e.g. `builtins`.
        module: String,
        /// Qualified name in the module, e.g. `KeyError`.
        name: String,
    },
    /// `callable(*args)` (pickle `REDUCE`), e.g. exceptions, `slice`, `RebuildProxy`.
    Reduce {
        /// The callable, normally a [`Global`](PyValue::Global).
        callable: Box<PyValue>,
        /// The argument tuple.
        args: Box<PyValue>,
    },
    /// `cls.__new__(cls, *args, **kwargs)` (pickle `NEWOBJ` / `NEWOBJ_EX`).
    NewObj {
        /// The class, normally a [`Global`](PyValue::Global).
        cls: Box<PyValue>,
        /// The argument tuple.
        args: Box<PyValue>,
        /// Keyword arguments (`NEWOBJ_EX` only).
        kwargs: Option<Box<PyValue>>,
    },
    /// `obj.__setstate__(state)` (pickle `BUILD`).
    Build {
        /// The object being built.
        obj: Box<PyValue>,
        /// Its state.
        state: Box<PyValue>,
    },
}

impl PyValue {
    /// A `str`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::str("x").as_str(), Some("x"));
    /// ```
    pub fn str(s: impl Into<String>) -> PyValue {
        PyValue::Str(s.into())
    }

    /// `bytes`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::bytes(b"ab").as_bytes(), Some(&b"ab"[..]));
    /// ```
    pub fn bytes(b: impl Into<Vec<u8>>) -> PyValue {
        PyValue::Bytes(b.into())
    }

    /// A `tuple`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::tuple(vec![PyValue::Int(1)]).to_string(), "(1,)");
    /// ```
    pub fn tuple(items: Vec<PyValue>) -> PyValue {
        PyValue::Tuple(items)
    }

    /// A `list`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::list(vec![PyValue::Int(1)]).to_string(), "[1]");
    /// ```
    pub fn list(items: Vec<PyValue>) -> PyValue {
        PyValue::List(items)
    }

    /// A `dict` from pairs; fails on an unhashable key (Python's `TypeError`).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let d = PyValue::dict(vec![(PyValue::str("a"), PyValue::Int(1))]).unwrap();
    /// assert_eq!(d.to_string(), "{'a': 1}");
    /// assert!(PyValue::dict(vec![(PyValue::list(vec![]), PyValue::None)]).is_err());
    /// ```
    pub fn dict(pairs: Vec<(PyValue, PyValue)>) -> Result<PyValue> {
        let mut d = PyDict::new();
        for (k, v) in pairs {
            d.insert(k, v)?;
        }
        Ok(PyValue::Dict(d))
    }

    /// An `int` from little-endian two's-complement bytes (the `LONG1` payload); empty means 0.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::int_from_le_bytes(&[0xfe]), PyValue::Int(-2));
    /// assert!(PyValue::int_from_le_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).as_bigint().is_some());
    /// ```
    pub fn int_from_le_bytes(b: &[u8]) -> PyValue {
        let n = bigint::normalise(b.to_vec());
        match bigint::fits_i64(&n) {
            Some(v) => PyValue::Int(v),
            None => PyValue::BigInt(PyBigInt::from_normalised(n)),
        }
    }

    /// A class/function reference `module.name`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::global("builtins", "slice").as_global(), Some(("builtins", "slice")));
    /// ```
    pub fn global(module: impl Into<String>, name: impl Into<String>) -> PyValue {
        PyValue::Global {
            module: module.into(),
            name: name.into(),
        }
    }

    /// `callable(*args)` as a `REDUCE` graph.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let s = PyValue::reduce(PyValue::global("builtins", "slice"),
    ///     vec![PyValue::Int(0), PyValue::Int(2), PyValue::None]);
    /// assert_eq!(s.to_string(), "slice(0, 2, None)");
    /// ```
    pub fn reduce(callable: PyValue, args: Vec<PyValue>) -> PyValue {
        PyValue::Reduce {
            callable: Box::new(callable),
            args: Box::new(PyValue::Tuple(args)),
        }
    }

    /// An exception instance `module.name(*args)` as CPython pickles it (global + args + `REDUCE`).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let e = PyValue::exception("_queue", "Empty", vec![]);
    /// assert_eq!(e.as_exception().unwrap().1, "Empty");
    /// ```
    pub fn exception(module: &str, name: &str, args: Vec<PyValue>) -> PyValue {
        PyValue::reduce(PyValue::global(module, name), args)
    }

    /// An instance created with `NEWOBJ` (no args) and given `state` with `BUILD` — how CPython
    /// pickles `Token`, `managers.Value` and `Namespace`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let ns = PyValue::new_obj("multiprocessing.managers", "Namespace",
    ///     PyValue::dict(vec![(PyValue::str("x"), PyValue::Int(5))]).unwrap());
    /// let (m, n, state) = ns.as_new_obj().unwrap();
    /// assert_eq!((m, n), ("multiprocessing.managers", "Namespace"));
    /// assert!(state.as_dict().is_some());
    /// ```
    pub fn new_obj(module: &str, name: &str, state: PyValue) -> PyValue {
        PyValue::Build {
            obj: Box::new(PyValue::NewObj {
                cls: Box::new(PyValue::global(module, name)),
                args: Box::new(PyValue::Tuple(Vec::new())),
                kwargs: None,
            }),
            state: Box::new(state),
        }
    }

    /// `slice(start, stop, step)`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let s = PyValue::slice(PyValue::Int(0), PyValue::Int(2), PyValue::None);
    /// assert_eq!(s.as_slice().unwrap().1, &PyValue::Int(2));
    /// ```
    pub fn slice(start: PyValue, stop: PyValue, step: PyValue) -> PyValue {
        PyValue::reduce(
            PyValue::global("builtins", "slice"),
            vec![start, stop, step],
        )
    }

    /// `array.array(typecode, raw_bytes)` as `ForkingPickler` sends it.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let a = PyValue::array('i', vec![1, 0, 0, 0]);
    /// assert_eq!(a.as_array(), Some(('i', &[1u8, 0, 0, 0][..])));
    /// ```
    pub fn array(typecode: char, raw: Vec<u8>) -> PyValue {
        PyValue::reduce(
            PyValue::global("array", "array"),
            vec![PyValue::Str(typecode.to_string()), PyValue::Bytes(raw)],
        )
    }

    /// True for `None`.
    ///
    /// ```
    /// assert!(mpshare::managers::pickle::PyValue::None.is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        matches!(self, PyValue::None)
    }

    /// The `str` content (valid Unicode only).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::str("a").as_str(), Some("a"));
    /// assert_eq!(PyValue::Int(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an `int` (or `bool`) that fits `i64`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::Int(42).as_i64(), Some(42));
    /// assert_eq!(PyValue::Bool(true).as_i64(), Some(1));
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            PyValue::Int(i) => Some(*i),
            PyValue::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The value of a `float`, or of an `int` converted like Python's `float()`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::Int(2).as_f64(), Some(2.0));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PyValue::Float(f) => Some(*f),
            PyValue::Int(i) => Some(*i as f64),
            PyValue::Bool(b) => Some(f64::from(u8::from(*b))),
            PyValue::BigInt(b) => b.to_f64().ok(),
            _ => None,
        }
    }

    /// The value of a `bool`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::Bool(true).as_bool(), Some(true));
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PyValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The big-int payload, for `int`s outside `i64`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert!(PyValue::from(u64::MAX).as_bigint().is_some());
    /// ```
    pub fn as_bigint(&self) -> Option<&PyBigInt> {
        match self {
            PyValue::BigInt(b) => Some(b),
            _ => None,
        }
    }

    /// The content of `bytes` or `bytearray`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::ByteArray(vec![1]).as_bytes(), Some(&[1u8][..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            PyValue::Bytes(b) | PyValue::ByteArray(b) => Some(b),
            _ => None,
        }
    }

    /// The items of a `tuple`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::tuple(vec![]).as_tuple().map(|t| t.len()), Some(0));
    /// assert!(PyValue::list(vec![]).as_tuple().is_none());
    /// ```
    pub fn as_tuple(&self) -> Option<&[PyValue]> {
        match self {
            PyValue::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// The items of a `list`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::list(vec![PyValue::None]).as_list().map(|t| t.len()), Some(1));
    /// ```
    pub fn as_list(&self) -> Option<&[PyValue]> {
        match self {
            PyValue::List(t) => Some(t),
            _ => None,
        }
    }

    /// The `dict`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert!(PyValue::dict(vec![]).unwrap().as_dict().unwrap().is_empty());
    /// ```
    pub fn as_dict(&self) -> Option<&PyDict> {
        match self {
            PyValue::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// `(module, name)` of a [`Global`](PyValue::Global).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::global("a", "b").as_global(), Some(("a", "b")));
    /// ```
    pub fn as_global(&self) -> Option<(&str, &str)> {
        match self {
            PyValue::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// `(module, name, args)` of a `REDUCE` whose callable is a global with an args tuple.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let e = PyValue::exception("builtins", "KeyError", vec![PyValue::str("k")]);
    /// assert_eq!(e.as_reduce().unwrap().2.len(), 1);
    /// ```
    pub fn as_reduce(&self) -> Option<(&str, &str, &[PyValue])> {
        match self {
            PyValue::Reduce { callable, args } => {
                let (m, n) = callable.as_global()?;
                Some((m, n, args.as_tuple()?))
            }
            _ => None,
        }
    }

    /// `(module, name, args)` of an exception-shaped value: a global `REDUCE`d with an args tuple,
    /// optionally wrapped in a `BUILD` (3.12+ `AttributeError` carries a state dict).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let e = PyValue::exception("builtins", "KeyError", vec![PyValue::str("k")]);
    /// let (m, n, args) = e.as_exception().unwrap();
    /// assert_eq!((m, n, args.len()), ("builtins", "KeyError", 1));
    /// ```
    pub fn as_exception(&self) -> Option<(&str, &str, &[PyValue])> {
        match self {
            PyValue::Build { obj, .. } => obj.as_reduce(),
            other => other.as_reduce(),
        }
    }

    /// `(module, name, state)` of a `NEWOBJ`+`BUILD` instance (Token, `managers.Value`, `Namespace`).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let v = PyValue::new_obj("m", "C", PyValue::None);
    /// assert_eq!(v.as_new_obj().unwrap().1, "C");
    /// ```
    pub fn as_new_obj(&self) -> Option<(&str, &str, &PyValue)> {
        match self {
            PyValue::Build { obj, state } => match obj.as_ref() {
                PyValue::NewObj { cls, .. } => {
                    let (m, n) = cls.as_global()?;
                    Some((m, n, state))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// `(start, stop, step)` of a `slice`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let s = PyValue::slice(PyValue::None, PyValue::Int(3), PyValue::None);
    /// assert!(s.as_slice().unwrap().0.is_none());
    /// ```
    pub fn as_slice(&self) -> Option<(&PyValue, &PyValue, &PyValue)> {
        match self.as_reduce()? {
            ("builtins", "slice", [a, b, c]) => Some((a, b, c)),
            _ => None,
        }
    }

    /// `(typecode, raw bytes)` of an `array.array(typecode, bytes)`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::array('d', vec![]).as_array().unwrap().0, 'd');
    /// ```
    pub fn as_array(&self) -> Option<(char, &[u8])> {
        match self.as_reduce()? {
            ("array", "array", [PyValue::Str(tc), PyValue::Bytes(b)]) => {
                let mut it = tc.chars();
                let c = it.next()?;
                if it.next().is_some() {
                    return None;
                }
                Some((c, b))
            }
            _ => None,
        }
    }

    /// Python's type name of the value (`'int'`, `'str'`, `'tuple'`, ... ; `'object'` for graphs).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::list(vec![]).type_name(), "list");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) | PyValue::BigInt(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) | PyValue::SurrogateStr(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::ByteArray(_) => "bytearray",
            PyValue::Tuple(_) => "tuple",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
            PyValue::Set(_) => "set",
            PyValue::FrozenSet(_) => "frozenset",
            PyValue::Global { .. } => "type",
            PyValue::Reduce { .. } | PyValue::NewObj { .. } | PyValue::Build { .. } => "object",
        }
    }

    /// Checks the value can be a dict key / set member; the error reads like Python's
    /// `TypeError: unhashable type: 'list'`.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert!(PyValue::tuple(vec![PyValue::Int(1)]).check_hashable().is_ok());
    /// let err = PyValue::tuple(vec![PyValue::list(vec![])]).check_hashable().unwrap_err();
    /// assert!(err.to_string().contains("unhashable type: 'list'"));
    /// ```
    pub fn check_hashable(&self) -> Result<()> {
        match self {
            PyValue::List(_) | PyValue::Dict(_) | PyValue::Set(_) | PyValue::ByteArray(_) => Err(
                Error::Conversion(format!("unhashable type: '{}'", self.type_name())),
            ),
            PyValue::Tuple(items) => items.iter().try_for_each(PyValue::check_hashable),
            v if super::is_kept(v) => Err(Error::Conversion(format!(
                "unhashable type: '{}' (a value the server keeps as sent cannot be a key)",
                super::kept_type(v).unwrap_or_else(|| "object".into())
            ))),
            _ => Ok(()),
        }
    }

    /// Strict structural equality: same variants all the way down, floats compared bit-for-bit
    /// except that every NaN equals every NaN; dicts compare in order, sets as sets.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert!(PyValue::Float(f64::NAN).identical(&PyValue::Float(f64::NAN)));
    /// assert!(!PyValue::Float(0.0).identical(&PyValue::Float(-0.0)));
    /// ```
    pub fn identical(&self, other: &PyValue) -> bool {
        use PyValue as V;
        match (self, other) {
            (V::None, V::None) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::BigInt(a), V::BigInt(b)) => a == b,
            (V::Float(a), V::Float(b)) => (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits(),
            (V::Str(a), V::Str(b)) => a == b,
            (V::SurrogateStr(a), V::SurrogateStr(b)) => a == b,
            (V::Bytes(a), V::Bytes(b)) | (V::ByteArray(a), V::ByteArray(b)) => a == b,
            (V::Tuple(a), V::Tuple(b)) | (V::List(a), V::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.identical(y))
            }
            (V::Dict(a), V::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((k1, v1), (k2, v2))| k1.identical(k2) && v1.identical(v2))
            }
            (V::Set(a), V::Set(b)) | (V::FrozenSet(a), V::FrozenSet(b)) => {
                a.len() == b.len() && a.iter().all(|x| b.get(x).is_some_and(|y| x.identical(y)))
            }
            (
                V::Global {
                    module: m1,
                    name: n1,
                },
                V::Global {
                    module: m2,
                    name: n2,
                },
            ) => m1 == m2 && n1 == n2,
            (
                V::Reduce {
                    callable: c1,
                    args: a1,
                },
                V::Reduce {
                    callable: c2,
                    args: a2,
                },
            ) => c1.identical(c2) && a1.identical(a2),
            (
                V::NewObj {
                    cls: c1,
                    args: a1,
                    kwargs: k1,
                },
                V::NewObj {
                    cls: c2,
                    args: a2,
                    kwargs: k2,
                },
            ) => {
                c1.identical(c2)
                    && a1.identical(a2)
                    && match (k1, k2) {
                        (None, None) => true,
                        (Some(x), Some(y)) => x.identical(y),
                        _ => false,
                    }
            }
            (V::Build { obj: o1, state: s1 }, V::Build { obj: o2, state: s2 }) => {
                o1.identical(o2) && s1.identical(s2)
            }
            _ => false,
        }
    }

    /// Numeric view used by `==` and hashing (`None` for non-numbers).
    fn numeric(&self) -> Option<Num> {
        match self {
            PyValue::Bool(b) => Some(Num::I(i64::from(*b))),
            PyValue::Int(i) => Some(Num::I(*i)),
            PyValue::BigInt(b) => Some(Num::B(b.to_le_bytes().to_vec())),
            PyValue::Float(f) => Some(num_of_float(*f)),
            _ => None,
        }
    }
}

/// Canonical numeric form: integral floats become ints.
#[derive(PartialEq)]
enum Num {
    I(i64),
    B(Vec<u8>),
    F(f64),
}

fn num_of_float(f: f64) -> Num {
    if f.is_finite() && f.fract() == 0.0 {
        if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            return Num::I(f as i64);
        }
        if let Some(b) = bigint::from_f64(f) {
            return Num::B(b);
        }
    }
    Num::F(f)
}

impl PartialEq for PyValue {
    fn eq(&self, other: &PyValue) -> bool {
        use PyValue as V;
        if let (Some(a), Some(b)) = (self.numeric(), other.numeric()) {
            return a == b;
        }
        match (self, other) {
            (V::None, V::None) => true,
            (V::Str(a), V::Str(b)) => a == b,
            (V::SurrogateStr(a), V::SurrogateStr(b)) => a == b,
            (V::Bytes(a) | V::ByteArray(a), V::Bytes(b) | V::ByteArray(b)) => a == b,
            (V::Tuple(a), V::Tuple(b)) | (V::List(a), V::List(b)) => a == b,
            (V::Dict(a), V::Dict(b)) => a == b,
            (V::Set(a) | V::FrozenSet(a), V::Set(b) | V::FrozenSet(b)) => a == b,
            (
                V::Global { .. } | V::Reduce { .. } | V::NewObj { .. } | V::Build { .. },
                V::Global { .. } | V::Reduce { .. } | V::NewObj { .. } | V::Build { .. },
            ) => self.identical(other),
            _ => false,
        }
    }
}

/// Python dict keys: see the caveat on NaN in [`PyValue`].
impl Eq for PyValue {}

impl Hash for PyValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        use PyValue as V;
        if let Some(n) = self.numeric() {
            match n {
                Num::I(i) => {
                    0u8.hash(state);
                    i.hash(state);
                }
                Num::B(b) => {
                    1u8.hash(state);
                    b.hash(state);
                }
                Num::F(f) => {
                    2u8.hash(state);
                    f.to_bits().hash(state);
                }
            }
            return;
        }
        match self {
            V::None => 3u8.hash(state),
            V::Str(s) => {
                4u8.hash(state);
                s.hash(state);
            }
            V::SurrogateStr(s) => {
                5u8.hash(state);
                s.hash(state);
            }
            V::Bytes(b) | V::ByteArray(b) => {
                6u8.hash(state);
                b.hash(state);
            }
            V::Tuple(t) => {
                7u8.hash(state);
                t.len().hash(state);
                for x in t {
                    x.hash(state);
                }
            }
            V::List(t) => {
                8u8.hash(state);
                t.len().hash(state);
            }
            V::Dict(d) => {
                9u8.hash(state);
                d.len().hash(state);
            }
            V::Set(s) | V::FrozenSet(s) => {
                // order-independent
                10u8.hash(state);
                let mut acc = 0u64;
                for x in s.iter() {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    x.hash(&mut h);
                    acc = acc.wrapping_add(h.finish());
                }
                acc.hash(state);
            }
            V::Global { module, name } => {
                11u8.hash(state);
                module.hash(state);
                name.hash(state);
            }
            V::Reduce { callable, args } => {
                12u8.hash(state);
                callable.hash(state);
                args.hash(state);
            }
            V::NewObj { cls, args, .. } => {
                13u8.hash(state);
                cls.hash(state);
                args.hash(state);
            }
            V::Build { obj, .. } => {
                14u8.hash(state);
                obj.hash(state);
            }
            V::Bool(_) | V::Int(_) | V::BigInt(_) | V::Float(_) => {}
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for PyValue {
            fn from(v: $t) -> PyValue { PyValue::Int(i64::from(v)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for PyValue {
    fn from(v: u64) -> PyValue {
        PyValue::from(u128::from(v))
    }
}

impl From<i128> for PyValue {
    fn from(v: i128) -> PyValue {
        PyValue::int_from_le_bytes(&v.to_le_bytes())
    }
}

impl From<u128> for PyValue {
    fn from(v: u128) -> PyValue {
        let mut b = v.to_le_bytes().to_vec();
        b.push(0);
        PyValue::int_from_le_bytes(&b)
    }
}

impl From<bool> for PyValue {
    fn from(v: bool) -> PyValue {
        PyValue::Bool(v)
    }
}

impl From<f64> for PyValue {
    fn from(v: f64) -> PyValue {
        PyValue::Float(v)
    }
}

impl From<&str> for PyValue {
    fn from(v: &str) -> PyValue {
        PyValue::Str(v.to_string())
    }
}

impl From<String> for PyValue {
    fn from(v: String) -> PyValue {
        PyValue::Str(v)
    }
}

impl From<Vec<PyValue>> for PyValue {
    /// A `list`.
    fn from(v: Vec<PyValue>) -> PyValue {
        PyValue::List(v)
    }
}

impl From<PyDict> for PyValue {
    fn from(v: PyDict) -> PyValue {
        PyValue::Dict(v)
    }
}

impl<T: Into<PyValue>> From<Option<T>> for PyValue {
    fn from(v: Option<T>) -> PyValue {
        v.map_or(PyValue::None, Into::into)
    }
}
