//! `Array`: `array.array(typecode, sequence)` semantics.

use std::sync::Mutex;

use super::list::{iterate, norm_index, slice_indices, slice_positions};
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::bind_args;
use crate::managers::sdk::{lock, names, CallCtx, CallError, ServedObject};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Int { size: usize, signed: bool },
    Float { size: usize },
    Unicode,
}

fn kind_of(tc: char) -> Option<Kind> {
    Some(match tc {
        'b' => Kind::Int {
            size: 1,
            signed: true,
        },
        'B' => Kind::Int {
            size: 1,
            signed: false,
        },
        'h' => Kind::Int {
            size: 2,
            signed: true,
        },
        'H' => Kind::Int {
            size: 2,
            signed: false,
        },
        'i' => Kind::Int {
            size: 4,
            signed: true,
        },
        'I' => Kind::Int {
            size: 4,
            signed: false,
        },
        'l' | 'q' => Kind::Int {
            size: 8,
            signed: true,
        },
        'L' | 'Q' => Kind::Int {
            size: 8,
            signed: false,
        },
        'f' => Kind::Float { size: 4 },
        'd' => Kind::Float { size: 8 },
        'u' | 'w' => Kind::Unicode,
        _ => return None,
    })
}

/// The `Array` typeid: items are type-checked and range-checked like `array.array`; slices come
/// back as `array.array(typecode, native bytes)`.
///
/// ```
/// use mpshare::managers::{objects::array::ArrayObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let a = ArrayObject::create(&[PyValue::str("i"), PyValue::list(vec![PyValue::Int(1), PyValue::Int(2)])],
///     &PyDict::new()).unwrap();
/// let ctx = CallCtx::detached(1);
/// let s = a.call(&ctx, "__getitem__", &[PyValue::slice(PyValue::Int(0), PyValue::Int(1), PyValue::None)],
///     &PyDict::new()).unwrap();
/// assert_eq!(s.as_array(), Some(('i', &[1u8, 0, 0, 0][..])));
/// assert!(a.call(&ctx, "__setitem__", &[PyValue::Int(0), PyValue::str("x")], &PyDict::new()).is_err());
/// ```
#[derive(Debug)]
pub struct ArrayObject {
    typecode: char,
    kind: Kind,
    items: Mutex<Vec<PyValue>>,
}

fn overflow(msg: &str) -> CallError {
    CallError::raise("builtins.OverflowError", vec![PyValue::str(msg)])
}

impl ArrayObject {
    fn check(&self, v: &PyValue) -> Result<PyValue, CallError> {
        check_item(self.kind, v)
    }

    /// `array.array(typecode, sequence)` (`Array(typecode, sequence, lock=True)`).
    ///
    /// ```
    /// use mpshare::managers::objects::array::ArrayObject;
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert!(ArrayObject::create(&[PyValue::str("z"), PyValue::list(vec![])], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<ArrayObject, CallError> {
        let b = bind_args("Array", args, kwargs, &["typecode", "sequence", "lock"], 1)?;
        let tc = match b[0] {
            Some(PyValue::Str(s)) if s.chars().count() == 1 => s.chars().next().unwrap_or('?'),
            Some(other) => {
                return Err(CallError::type_error(&format!(
                    "array() argument 1 must be a unicode character, not {}",
                    other.type_name()
                )))
            }
            None => '?',
        };
        let kind = kind_of(tc).ok_or_else(|| {
            CallError::value_error(
                "bad typecode (must be b, B, u, w, h, H, i, I, l, L, q, Q, f or d)",
            )
        })?;
        let items = match b[1] {
            None | Some(PyValue::None) => Vec::new(),
            Some(v) => {
                if let Some((otc, raw)) = v.as_array() {
                    decode_raw(otc, raw)?
                } else if let (Kind::Unicode, PyValue::Str(s)) = (kind, v) {
                    s.chars().map(|c| PyValue::Str(c.to_string())).collect()
                } else if let (Kind::Unicode, _) = (kind, v) {
                    return Err(CallError::type_error(&format!(
                        "cannot use a {} to initialize an array with typecode '{tc}'",
                        v.type_name()
                    )));
                } else {
                    iterate(v)?
                }
            }
        };
        let items = items
            .iter()
            .map(|x| check_item(kind, x))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ArrayObject {
            typecode: tc,
            kind,
            items: Mutex::new(items),
        })
    }

    fn raw(&self, items: &[PyValue]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in items {
            match (self.kind, v) {
                (Kind::Int { size, .. }, PyValue::Int(i)) => {
                    out.extend_from_slice(&i.to_le_bytes()[..size])
                }
                (Kind::Int { size, .. }, PyValue::BigInt(b)) => {
                    let n = b.to_u128().unwrap_or(0);
                    out.extend_from_slice(&n.to_le_bytes()[..size])
                }
                (Kind::Float { size: 4 }, PyValue::Float(f)) => {
                    out.extend_from_slice(&(*f as f32).to_le_bytes())
                }
                (Kind::Float { .. }, PyValue::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
                (Kind::Unicode, PyValue::Str(s)) => {
                    let c = s.chars().next().unwrap_or('\0') as u32;
                    out.extend_from_slice(&c.to_le_bytes())
                }
                _ => {}
            }
        }
        out
    }

    fn as_value(&self, items: &[PyValue]) -> PyValue {
        PyValue::array(self.typecode, self.raw(items))
    }
}

fn decode_raw(tc: char, raw: &[u8]) -> Result<Vec<PyValue>, CallError> {
    let kind = kind_of(tc).ok_or_else(|| CallError::value_error("bad typecode"))?;
    let size = match kind {
        Kind::Int { size, .. } | Kind::Float { size } => size,
        Kind::Unicode => 4,
    };
    if raw.len() % size != 0 {
        return Err(CallError::value_error(
            "bytes length not a multiple of item size",
        ));
    }
    Ok(raw
        .chunks(size)
        .map(|c| {
            let mut b8 = [0u8; 8];
            b8[..size].copy_from_slice(c);
            match kind {
                Kind::Int { size, signed } => {
                    let u = u64::from_le_bytes(b8);
                    if signed {
                        let shift = 64 - 8 * size as u32;
                        PyValue::Int(((u << shift) as i64) >> shift)
                    } else if u > i64::MAX as u64 {
                        PyValue::int_from_le_bytes(&[&b8[..], &[0u8]].concat())
                    } else {
                        PyValue::Int(u as i64)
                    }
                }
                Kind::Float { size: 4 } => {
                    PyValue::Float(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                }
                Kind::Float { .. } => PyValue::Float(f64::from_le_bytes(b8)),
                Kind::Unicode => PyValue::Str(
                    char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or('\u{fffd}')
                        .to_string(),
                ),
            }
        })
        .collect())
}

fn check_item(kind: Kind, v: &PyValue) -> Result<PyValue, CallError> {
    match kind {
        Kind::Int { size, signed } => {
            let i: i128 = match v {
                PyValue::Int(i) => i128::from(*i),
                PyValue::Bool(b) => i128::from(*b),
                PyValue::BigInt(b) => match b.to_i128() {
                    Some(x) => x,
                    None => return Err(overflow("Python int too large to convert to C long")),
                },
                other => {
                    return Err(CallError::type_error(&format!(
                        "'{}' object cannot be interpreted as an integer",
                        other.type_name()
                    )))
                }
            };
            let bits = 8 * size as u32;
            let (lo, hi) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            if i < lo {
                return Err(overflow(if signed {
                    "signed integer is less than minimum"
                } else {
                    "unsigned integer is less than minimum"
                }));
            }
            if i > hi {
                return Err(overflow(if signed {
                    "signed integer is greater than maximum"
                } else {
                    "unsigned integer is greater than maximum"
                }));
            }
            Ok(if let Ok(x) = i64::try_from(i) {
                PyValue::Int(x)
            } else {
                PyValue::int_from_le_bytes(&i.to_le_bytes())
            })
        }
        Kind::Float { size } => {
            let f = match v {
                PyValue::Float(f) => *f,
                PyValue::Int(_) | PyValue::Bool(_) | PyValue::BigInt(_) => v
                    .as_f64()
                    .ok_or_else(|| overflow("int too large to convert to float"))?,
                other => {
                    return Err(CallError::type_error(&format!(
                        "must be real number, not {}",
                        other.type_name()
                    )))
                }
            };
            Ok(PyValue::Float(if size == 4 {
                f64::from(f as f32)
            } else {
                f
            }))
        }
        Kind::Unicode => match v {
            PyValue::Str(s) if s.chars().count() == 1 => Ok(v.clone()),
            other => Err(CallError::type_error(&format!(
                "array item must be a unicode character, not {}",
                if matches!(other, PyValue::Str(_)) {
                    "a string of length != 1".to_string()
                } else {
                    other.type_name().to_string()
                }
            ))),
        },
    }
}

impl ArrayObject {
    /// The methods a `Array` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["__len__", "__getitem__", "__setitem__"];
}

impl ServedObject for ArrayObject {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut items = lock(&self.items);
        let len = items.len();
        match method {
            "__len__" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Int(len as i64))
            }
            "__getitem__" => {
                let b = bind_args(method, args, kwargs, &["index"], 1)?;
                let i = b[0].unwrap_or(&PyValue::None);
                if let Some((s, e, st)) = i.as_slice() {
                    let (s, e, st) = slice_indices(s, e, st, len)?;
                    let sel: Vec<PyValue> = slice_positions(s, e, st)
                        .into_iter()
                        .map(|p| items[p].clone())
                        .collect();
                    return Ok(self.as_value(&sel));
                }
                if !matches!(i, PyValue::Int(_) | PyValue::Bool(_) | PyValue::BigInt(_)) {
                    return Err(CallError::type_error("array indices must be integers"));
                }
                match norm_index(i, len)? {
                    Some(j) => Ok(items[j].clone()),
                    None => Err(CallError::index_error("array index out of range")),
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
                    let new = match v.as_array() {
                        Some((tc, raw)) if tc == self.typecode => decode_raw(tc, raw)?,
                        Some(_) => {
                            return Err(CallError::type_error(
                                "bad argument type for built-in operation",
                            ))
                        }
                        None => {
                            return Err(CallError::type_error(&format!(
                                "can only assign array (not \"{}\") to array slice",
                                v.type_name()
                            )))
                        }
                    };
                    if st == 1 {
                        let e = e.max(s);
                        items.splice(s as usize..e as usize, new);
                    } else {
                        let pos = slice_positions(s, e, st);
                        if pos.len() != new.len() {
                            return Err(CallError::value_error(&format!(
                                "attempt to assign array of size {} to extended slice of size {}",
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
                if !matches!(i, PyValue::Int(_) | PyValue::Bool(_) | PyValue::BigInt(_)) {
                    return Err(CallError::type_error("array indices must be integers"));
                }
                let j = norm_index(i, len)?
                    .ok_or_else(|| CallError::index_error("array assignment index out of range"))?;
                items[j] = self.check(v)?;
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("array.array", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let items = lock(&self.items);
        if items.is_empty() {
            format!("array('{}')", self.typecode)
        } else if let Kind::Unicode = self.kind {
            let s: String = items.iter().filter_map(|v| v.as_str()).collect();
            format!("array('{}', {})", self.typecode, PyValue::str(s))
        } else {
            format!(
                "array('{}', {})",
                self.typecode,
                PyValue::List(items.clone())
            )
        }
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        let items = lock(&self.items);
        Ok(self.as_value(&items))
    }
}
