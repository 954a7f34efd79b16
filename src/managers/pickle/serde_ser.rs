//! `Serialize` → [`PyValue`]: structs and maps become dicts, sequences lists, tuples tuples,
//! `Option` None/value, bytes `bytes`, enums `'Variant'` or `{'Variant': value}`.

use serde::ser::{self, Serialize};

use super::dict::PyDict;
use super::PyValue;
use crate::{Error, Result};

/// Converts any `Serialize` value into a [`PyValue`].
///
/// ```
/// use mpshare::managers::pickle::{to_value, PyValue};
/// #[derive(serde::Serialize)]
/// struct P { x: i32, tags: Vec<String>, t: (u8, bool), o: Option<f64> }
/// let v = to_value(&P { x: 1, tags: vec!["a".into()], t: (2, true), o: None }).unwrap();
/// assert_eq!(v.to_string(), "{'x': 1, 'tags': ['a'], 't': (2, True), 'o': None}");
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<PyValue> {
    value
        .serialize(ValueSerializer)
        .map_err(|e| Error::Conversion(e.0))
}

/// Error type of the serde bridge when [`PyValue`] is used directly as a `Deserializer`;
/// [`to_value`]/[`from_value`](super::from_value) turn it into [`Error::Conversion`].
///
/// ```
/// use serde::Deserialize;
/// use mpshare::managers::pickle::PyValue;
/// let e = u8::deserialize(PyValue::str("x")).unwrap_err();
/// assert!(e.to_string().contains("str"));
/// let e: mpshare::Error = e.into();
/// assert!(matches!(e, mpshare::Error::Conversion(_)));
/// ```
#[derive(Debug)]
pub struct SerError(pub(crate) String);

impl From<SerError> for Error {
    fn from(e: SerError) -> Error {
        Error::Conversion(e.0)
    }
}

impl std::fmt::Display for SerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SerError {}
impl ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

type R = std::result::Result<PyValue, SerError>;

fn insert(d: &mut PyDict, k: PyValue, v: PyValue) -> std::result::Result<(), SerError> {
    d.insert(k, v)
        .map(|_| ())
        .map_err(|e| SerError(e.to_string()))
}

struct ValueSerializer;

/// Collects sequence items.
pub(crate) struct SeqSer {
    items: Vec<PyValue>,
    tuple: bool,
    variant: Option<&'static str>,
}

/// Collects map/struct entries.
pub(crate) struct MapSer {
    dict: PyDict,
    key: Option<PyValue>,
    variant: Option<&'static str>,
}

fn wrap(variant: Option<&'static str>, v: PyValue) -> R {
    match variant {
        None => Ok(v),
        Some(name) => {
            let mut d = PyDict::new();
            insert(&mut d, PyValue::str(name), v)?;
            Ok(PyValue::Dict(d))
        }
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = PyValue;
    type Error = SerError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> R {
        Ok(PyValue::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_i128(self, v: i128) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_u8(self, v: u8) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_u128(self, v: u128) -> R {
        Ok(PyValue::from(v))
    }
    fn serialize_f32(self, v: f32) -> R {
        Ok(PyValue::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(PyValue::Float(v))
    }
    fn serialize_char(self, v: char) -> R {
        Ok(PyValue::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> R {
        Ok(PyValue::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        Ok(PyValue::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> R {
        Ok(PyValue::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(PyValue::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Ok(PyValue::None)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        Ok(PyValue::str(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, v: &T) -> R {
        if name == PYVALUE_TOKEN {
            // A `PyValue` (see its `Serialize`): ask it to hand over an exact copy.
            EXACT.with(|e| e.want.set(true));
            let shape = v.serialize(self);
            let exact = EXACT.with(|e| {
                e.want.set(false);
                e.value.take()
            });
            return match exact {
                Some(value) => Ok(value),
                None => shape,
            };
        }
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        wrap(Some(variant), v.serialize(ValueSerializer)?)
    }
    fn serialize_seq(self, len: Option<usize>) -> std::result::Result<SeqSer, SerError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            tuple: false,
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> std::result::Result<SeqSer, SerError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: None,
        })
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> std::result::Result<SeqSer, SerError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> std::result::Result<SeqSer, SerError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<MapSer, SerError> {
        Ok(MapSer {
            dict: PyDict::new(),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> std::result::Result<MapSer, SerError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> std::result::Result<MapSer, SerError> {
        Ok(MapSer {
            dict: PyDict::new(),
            key: None,
            variant: Some(variant),
        })
    }
}

impl SeqSer {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> std::result::Result<(), SerError> {
        self.items.push(v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn finish(self) -> R {
        let v = if self.tuple {
            PyValue::Tuple(self.items)
        } else {
            PyValue::List(self.items)
        };
        wrap(self.variant, v)
    }
}

macro_rules! seq_impl {
    ($tr:ident, $m:ident) => {
        impl ser::$tr for SeqSer {
            type Ok = PyValue;
            type Error = SerError;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> std::result::Result<(), SerError> {
                self.push(v)
            }
            fn end(self) -> R {
                self.finish()
            }
        }
    };
}
seq_impl!(SerializeSeq, serialize_element);
seq_impl!(SerializeTuple, serialize_element);
seq_impl!(SerializeTupleStruct, serialize_field);
seq_impl!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for MapSer {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> std::result::Result<(), SerError> {
        self.key = Some(k.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(
        &mut self,
        v: &T,
    ) -> std::result::Result<(), SerError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        insert(&mut self.dict, k, v.serialize(ValueSerializer)?)
    }
    fn end(self) -> R {
        wrap(self.variant, PyValue::Dict(self.dict))
    }
}

macro_rules! struct_impl {
    ($tr:ident) => {
        impl ser::$tr for MapSer {
            type Ok = PyValue;
            type Error = SerError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> std::result::Result<(), SerError> {
                insert(
                    &mut self.dict,
                    PyValue::str(key),
                    v.serialize(ValueSerializer)?,
                )
            }
            fn end(self) -> R {
                wrap(self.variant, PyValue::Dict(self.dict))
            }
        }
    };
}
struct_impl!(SerializeStruct);
struct_impl!(SerializeStructVariant);

/// The newtype name by which a `PyValue` makes itself known to mpshare's own serializer and
/// deserializer, so that it crosses the serde bridge exactly (sets stay sets, `bytearray` stays
/// `bytearray`, class instances stay graphs). Other formats see a transparent newtype.
pub(crate) const PYVALUE_TOKEN: &str = "$mpshare::PyValue";

/// The hand-over slot between [`ValueSerializer`] and `PyValue`'s `Serialize` (thread-local,
/// filled and emptied within one `serialize_newtype_struct` call).
struct Exact {
    want: std::cell::Cell<bool>,
    value: std::cell::Cell<Option<PyValue>>,
}

thread_local! {
    static EXACT: Exact = const {
        Exact { want: std::cell::Cell::new(false), value: std::cell::Cell::new(None) }
    };
}

/// `PyValue` crosses the bridge exactly into [`to_value`] (a clone of itself). Into other
/// formats (JSON, ...) it serializes as its natural data shape: tuples as tuples, bytes as
/// bytes, sets as sequences, graph objects as their Python repr string.
///
/// ```
/// use mpshare::managers::pickle::{to_value, PyValue, PySet};
/// let mut s = PySet::new();
/// s.insert(PyValue::Int(1))?;
/// let v = vec![PyValue::Set(s), PyValue::ByteArray(b"ab".to_vec())];
/// assert_eq!(to_value(&v)?.to_string(), "[{1}, bytearray(b'ab')]");
/// # Ok::<(), mpshare::Error>(())
/// ```
impl Serialize for PyValue {
    fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(PYVALUE_TOKEN, &Shape(self))
    }
}

/// A `PyValue` seen as plain data (or handed over whole when mpshare's serializer asks).
struct Shape<'a>(&'a PyValue);

impl Serialize for Shape<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq, SerializeTuple};
        if EXACT.with(|e| e.want.replace(false)) {
            EXACT.with(|e| e.value.set(Some(self.0.clone())));
            return s.serialize_unit();
        }
        match self.0 {
            PyValue::None => s.serialize_none(),
            PyValue::Bool(b) => s.serialize_bool(*b),
            PyValue::Int(i) => s.serialize_i64(*i),
            PyValue::BigInt(b) => match (b.to_i128(), b.to_u128()) {
                (Some(i), _) => s.serialize_i128(i),
                (_, Some(u)) => s.serialize_u128(u),
                _ => s.serialize_str(&self.0.to_string()),
            },
            PyValue::Float(f) => s.serialize_f64(*f),
            PyValue::Str(x) => s.serialize_str(x),
            PyValue::SurrogateStr(b) => s.serialize_str(&String::from_utf8_lossy(b)),
            PyValue::Bytes(b) | PyValue::ByteArray(b) => s.serialize_bytes(b),
            PyValue::Tuple(t) => {
                let mut st = s.serialize_tuple(t.len())?;
                for x in t {
                    st.serialize_element(x)?;
                }
                st.end()
            }
            PyValue::List(t) => {
                let mut st = s.serialize_seq(Some(t.len()))?;
                for x in t {
                    st.serialize_element(x)?;
                }
                st.end()
            }
            PyValue::Set(t) | PyValue::FrozenSet(t) => {
                let mut st = s.serialize_seq(Some(t.len()))?;
                for x in t.iter() {
                    st.serialize_element(x)?;
                }
                st.end()
            }
            PyValue::Dict(d) => {
                let mut st = s.serialize_map(Some(d.len()))?;
                for (k, v) in d.iter() {
                    st.serialize_entry(k, v)?;
                }
                st.end()
            }
            _ => s.serialize_str(&self.0.to_string()),
        }
    }
}
