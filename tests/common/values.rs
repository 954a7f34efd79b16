//! Proptest strategies for [`PyValue`]s: every plain-data kind, nested, with NaN, surrogate
//! strings, big ints and Python key equality in dicts and sets.

use mpshare::manager::pickle::{PyDict, PySet, PyValue};
use proptest::prelude::*;

/// A value usable as a dict key or set item.
pub fn hashable_leaf() -> impl Strategy<Value = PyValue> {
    prop_oneof![
        Just(PyValue::None),
        any::<bool>().prop_map(PyValue::Bool),
        any::<i64>().prop_map(PyValue::Int),
        (-300i64..300).prop_map(PyValue::Int),
        any::<i128>().prop_map(PyValue::from),
        any::<u128>().prop_map(PyValue::from),
        (proptest::num::f64::NORMAL
            | proptest::num::f64::SUBNORMAL
            | proptest::num::f64::ZERO
            | proptest::num::f64::INFINITE)
            .prop_map(PyValue::Float),
        any::<String>().prop_map(PyValue::Str),
        "[a-z'\"\\\\\n]{0,8}".prop_map(PyValue::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(PyValue::Bytes),
        prop_oneof![
            Just(vec![0xedu8, 0xa0, 0x80]),
            Just(b"a\xed\xbf\xbfb".to_vec()),
            Just(b"\xed\xa0\xbd\xed\xb8\x80".to_vec()),
        ]
        .prop_map(PyValue::SurrogateStr),
    ]
}

/// Any leaf value.
pub fn leaf() -> impl Strategy<Value = PyValue> {
    prop_oneof![
        4 => hashable_leaf(),
        1 => Just(PyValue::Float(f64::NAN)),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(PyValue::ByteArray),
        1 => "\\PC{200,300}".prop_map(PyValue::Str),
    ]
}

/// Any value, up to 4 levels deep.
pub fn value() -> impl Strategy<Value = PyValue> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(PyValue::Tuple),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(PyValue::List),
            proptest::collection::vec((hashable_leaf(), inner), 0..5).prop_map(|kv| {
                let mut d = PyDict::new();
                for (k, v) in kv {
                    d.insert(k, v).unwrap();
                }
                PyValue::Dict(d)
            }),
            proptest::collection::vec(hashable_leaf(), 0..5)
                .prop_map(|xs| PyValue::Set(PySet::from_items(xs).unwrap())),
            proptest::collection::vec(hashable_leaf(), 0..5)
                .prop_map(|xs| PyValue::FrozenSet(PySet::from_items(xs).unwrap())),
            proptest::collection::vec(hashable_leaf(), 1..4).prop_map(PyValue::Tuple),
        ]
    })
}
