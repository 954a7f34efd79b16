//! [`PyValue`] → `Deserialize`: the inverse of [`to_value`](super::to_value).

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::serde_ser::{SerError, PYVALUE_TOKEN};
use super::{PyDict, PyValue};
use crate::{Error, Result};

/// Converts a [`PyValue`] into any `DeserializeOwned` type.
///
/// ```
/// use mpshare::managers::pickle::{from_value, to_value, PyValue};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// enum Shape { Dot, Circle(f64), Rect { w: u32, h: u32 } }
/// for s in [Shape::Dot, Shape::Circle(1.5), Shape::Rect { w: 2, h: 3 }] {
///     assert_eq!(from_value::<Shape>(to_value(&s).unwrap()).unwrap(), s);
/// }
/// let v: (String, i64) = from_value(PyValue::tuple(vec![PyValue::str("k"), PyValue::Int(42)])).unwrap();
/// assert_eq!(v, ("k".to_string(), 42));
/// assert!(from_value::<u8>(PyValue::Int(300)).is_err());
/// ```
pub fn from_value<T: DeserializeOwned>(value: PyValue) -> Result<T> {
    T::deserialize(value).map_err(|e| Error::Conversion(e.0))
}

/// [`from_value`] from a reference (clones).
///
/// ```
/// use mpshare::managers::pickle::{from_value_ref, PyValue};
/// let v = PyValue::list(vec![PyValue::Int(1), PyValue::Int(2)]);
/// assert_eq!(from_value_ref::<Vec<i32>>(&v).unwrap(), vec![1, 2]);
/// ```
pub fn from_value_ref<T: DeserializeOwned>(value: &PyValue) -> Result<T> {
    from_value(value.clone())
}

impl de::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

type R<T> = std::result::Result<T, SerError>;

impl IntoDeserializer<'_, SerError> for PyValue {
    type Deserializer = PyValue;
    fn into_deserializer(self) -> PyValue {
        self
    }
}

fn unexpected(v: &PyValue, what: &str) -> SerError {
    SerError(format!("expected {what}, found {} {}", v.type_name(), v))
}

impl<'de> de::Deserializer<'de> for PyValue {
    type Error = SerError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self {
            PyValue::None => v.visit_unit(),
            PyValue::Bool(b) => v.visit_bool(b),
            PyValue::Int(i) => v.visit_i64(i),
            PyValue::BigInt(ref b) => match (b.to_i128(), b.to_u128()) {
                // Above i64::MAX but within u64: visit_u64, which every unsigned visitor takes.
                (_, Some(u)) if u <= u128::from(u64::MAX) => v.visit_u64(u as u64),
                (Some(i), _) => v.visit_i128(i),
                (_, Some(u)) => v.visit_u128(u),
                _ => Err(unexpected(&self, "an integer that fits 128 bits")),
            },
            PyValue::Float(f) => v.visit_f64(f),
            PyValue::Str(s) => v.visit_string(s),
            PyValue::SurrogateStr(ref b) => v.visit_string(String::from_utf8_lossy(b).into_owned()),
            PyValue::Bytes(b) | PyValue::ByteArray(b) => v.visit_byte_buf(b),
            PyValue::Tuple(t) | PyValue::List(t) => {
                v.visit_seq(de::value::SeqDeserializer::new(t.into_iter()))
            }
            PyValue::Set(s) | PyValue::FrozenSet(s) => {
                v.visit_seq(de::value::SeqDeserializer::new(s.into_iter()))
            }
            PyValue::Dict(d) => v.visit_map(de::value::MapDeserializer::new(d.into_iter())),
            other => Err(unexpected(&other, "plain data (not a class instance)")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self {
            PyValue::None => v.visit_none(),
            other => v.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> R<V::Value> {
        if name == PYVALUE_TOKEN {
            // A `PyValue` is asked for: hand this one over whole (see `PyValueVisitor`).
            HANDOVER.with(|h| h.set(Some(self)));
            let out = v.visit_unit();
            HANDOVER.with(|h| h.set(None));
            return out;
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_any(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_any(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        match self {
            PyValue::Str(s) => v.visit_enum(s.into_deserializer()),
            PyValue::Dict(d) if d.len() == 1 => {
                let Some((k, val)) = d.into_iter().next() else {
                    return Err(SerError("empty dict for enum".into()));
                };
                match k {
                    PyValue::Str(name) => v.visit_enum(Enum { name, val }),
                    other => Err(unexpected(&other, "a str variant name")),
                }
            }
            other => Err(unexpected(&other, "a str or a one-item dict for an enum")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Enum {
    name: String,
    val: PyValue,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = SerError;
    type Variant = PyValue;
    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> R<(S::Value, PyValue)> {
        let name: de::value::StringDeserializer<SerError> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, self.val))
    }
}

impl<'de> de::VariantAccess<'de> for PyValue {
    type Error = SerError;
    fn unit_variant(self) -> R<()> {
        Ok(())
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> R<S::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> R<V::Value> {
        de::Deserializer::deserialize_any(self, v)
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], v: V) -> R<V::Value> {
        de::Deserializer::deserialize_any(self, v)
    }
}

thread_local! {
    /// The value our deserializer hands to `PyValue`'s `Deserialize` (filled and emptied within
    /// one `deserialize_newtype_struct` call).
    static HANDOVER: std::cell::Cell<Option<PyValue>> = const { std::cell::Cell::new(None) };
}

/// `PyValue` is `Deserialize`: from mpshare's own bridge ([`from_value`], the proxies' reply
/// conversion) it arrives exactly as it was, so `Vec<PyValue>`, `HashMap<String, PyValue>` or a
/// struct with a `PyValue` field keep sets, tuples, `bytearray` and class instances. From other
/// formats (JSON, ...) it is built from the data: sequences become lists, maps dicts.
///
/// ```
/// use std::collections::HashMap;
/// use mpshare::managers::pickle::{from_value, PySet, PyValue};
/// let mut set = PySet::new();
/// set.insert(PyValue::Int(1))?;
/// let d = PyValue::dict(vec![
///     ("t".into(), PyValue::tuple(vec![1.into(), PyValue::ByteArray(b"x".to_vec())])),
///     ("s".into(), PyValue::Set(set)),
/// ])?;
/// let m: HashMap<String, PyValue> = from_value(d)?;
/// assert_eq!(m["t"].to_string(), "(1, bytearray(b'x'))");
/// assert_eq!(m["s"].to_string(), "{1}");
/// # Ok::<(), mpshare::Error>(())
/// ```
impl<'de> de::Deserialize<'de> for PyValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<PyValue, D::Error> {
        d.deserialize_newtype_struct(PYVALUE_TOKEN, PyValueVisitor)
    }
}

struct PyValueVisitor;

impl<'de> Visitor<'de> for PyValueVisitor {
    type Value = PyValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any Python-representable value")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<PyValue, E> {
        Ok(HANDOVER.with(|h| h.take()).unwrap_or(PyValue::None))
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<PyValue, E> {
        Ok(PyValue::None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<PyValue, D::Error> {
        de::Deserialize::deserialize(d)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<PyValue, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<PyValue, E> {
        Ok(PyValue::from(u))
    }
    fn visit_i128<E: de::Error>(self, i: i128) -> std::result::Result<PyValue, E> {
        Ok(PyValue::from(i))
    }
    fn visit_u128<E: de::Error>(self, u: u128) -> std::result::Result<PyValue, E> {
        Ok(PyValue::from(u))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<PyValue, E> {
        Ok(PyValue::str(s))
    }
    fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Str(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Bytes(b.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> std::result::Result<PyValue, E> {
        Ok(PyValue::Bytes(b))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> std::result::Result<PyValue, A::Error> {
        let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
        while let Some(x) = a.next_element::<PyValue>()? {
            items.push(x);
        }
        Ok(PyValue::List(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<PyValue, A::Error> {
        let mut d = PyDict::new();
        while let Some((k, v)) = a.next_entry::<PyValue, PyValue>()? {
            d.insert(k, v).map_err(de::Error::custom)?;
        }
        Ok(PyValue::Dict(d))
    }
}
