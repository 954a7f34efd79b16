//! The serde bridge keeps a `PyValue` exact when it travels inside Rust types (`Vec<PyValue>`,
//! maps, struct fields), in both directions, and through a manager proxy; other serde formats
//! see plain data.

mod common;

use std::collections::BTreeMap;

use mpshare::manager::client::Manager;
use mpshare::manager::pickle::{dumps, from_value, to_value, PyDict, PySet, PyValue};
use proptest::prelude::*;
use serde::de::value::{Error as DeError, MapDeserializer, SeqDeserializer, U64Deserializer};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

/// Equality that treats NaN as equal to itself: compare the pickles.
fn same(a: &PyValue, b: &PyValue) -> bool {
    dumps(a).unwrap() == dumps(b).unwrap()
}

fn set_of(xs: &[i64]) -> PyValue {
    PySet::from_items(xs.iter().map(|&x| PyValue::Int(x)))
        .map(PyValue::Set)
        .unwrap()
}

/// Values the natural data shape would lose: sets, frozensets, bytearray, tuples inside lists,
/// a class instance graph.
fn lossy_under_plain_shape() -> Vec<PyValue> {
    vec![
        set_of(&[1, 2]),
        PyValue::FrozenSet(PySet::from_items(vec![PyValue::str("a")]).unwrap()),
        PyValue::ByteArray(b"\x00ab".to_vec()),
        PyValue::list(vec![PyValue::tuple(vec![1.into(), 2.into()])]),
        PyValue::reduce(
            PyValue::global("builtins", "slice"),
            vec![1.into(), 5.into(), PyValue::None],
        ),
        PyValue::global("builtins", "KeyError"),
    ]
}

#[derive(Serialize, Deserialize, Debug)]
struct Record {
    name: String,
    payload: PyValue,
    extra: Vec<PyValue>,
}

#[test]
fn pyvalue_inside_rust_types_is_exact_both_ways() {
    let values = lossy_under_plain_shape();
    for v in &values {
        // Alone.
        assert!(same(&to_value(v).unwrap(), v), "to_value changed {v}");
        assert!(same(&from_value::<PyValue>(v.clone()).unwrap(), v));
        // In a struct field and a Vec field.
        let r = Record {
            name: "r".into(),
            payload: v.clone(),
            extra: vec![v.clone(), PyValue::Int(7)],
        };
        let as_py = to_value(&r).unwrap();
        let fields = as_py.as_dict().expect("a struct becomes a dict");
        assert!(same(fields.get(&PyValue::str("payload")).unwrap(), v));
        let back: Record = from_value(as_py).unwrap();
        assert!(same(&back.payload, v), "{} != {v}", back.payload);
        assert!(same(&back.extra[0], v));
        assert_eq!(back.extra[1], PyValue::Int(7));
    }
    // As map values.
    let m: BTreeMap<String, PyValue> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i}"), v.clone()))
        .collect();
    let back: BTreeMap<String, PyValue> = from_value(to_value(&m).unwrap()).unwrap();
    for (k, v) in &m {
        assert!(same(&back[k], v), "{k}: {} != {v}", back[k]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_values_survive_the_bridge(v in common::values::value()) {
        prop_assert!(same(&to_value(&v).unwrap(), &v));
        prop_assert!(same(&from_value::<PyValue>(v.clone()).unwrap(), &v));
        let wrapped: Vec<PyValue> = from_value(PyValue::list(vec![v.clone(), v.clone()])).unwrap();
        prop_assert!(same(&wrapped[1], &v));
        prop_assert!(same(&to_value(&wrapped).unwrap(), &PyValue::list(vec![v.clone(), v])));
    }
}

#[test]
fn other_formats_see_plain_data() {
    // From serde's own value deserializers, as JSON or any other format would feed it.
    let big = PyValue::deserialize(U64Deserializer::<DeError>::new(u64::MAX)).unwrap();
    assert_eq!(big, PyValue::from(u64::MAX));
    let seq: SeqDeserializer<_, DeError> = SeqDeserializer::new(vec![1i32, 2, 3].into_iter());
    assert_eq!(PyValue::deserialize(seq).unwrap().to_string(), "[1, 2, 3]");
    let map: MapDeserializer<_, DeError> =
        MapDeserializer::new(vec![("a", 1.5f64), ("b", 2.0)].into_iter());
    assert_eq!(
        PyValue::deserialize(map).unwrap().to_string(),
        "{'a': 1.5, 'b': 2.0}"
    );
    let unit: serde::de::value::UnitDeserializer<DeError> = ().into_deserializer();
    assert_eq!(PyValue::deserialize(unit).unwrap(), PyValue::None);
    // Unhashable keys from another format are an error, not a panic.
    let lists: MapDeserializer<_, DeError> =
        MapDeserializer::new(vec![(vec![1u8], 1i32)].into_iter());
    let err = PyValue::deserialize(lists).unwrap_err().to_string();
    assert!(err.contains("unhashable"), "{err}");
}

#[test]
fn pyvalues_keep_their_type_through_a_manager_proxy() {
    let started = Manager::start().unwrap();
    // Every call bounded: a lost reply fails the test instead of hanging it.
    let cfg = mpshare::manager::client::ClientConfig {
        call_timeout: Some(std::time::Duration::from_secs(30)),
        server_call_timeout: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    let m = Manager::connect_with(started.address(), started.authkey().clone(), cfg).unwrap();
    let d = m.dict().unwrap();
    for (i, v) in lossy_under_plain_shape().into_iter().enumerate() {
        let key = format!("k{i}");
        d.set(&key, &v).unwrap();
        let back: PyValue = d.get_item(&key).unwrap();
        assert!(same(&back, &v), "{key}: stored {v}, got back {back}");
    }
    // Inside a Rust container too: a list of [set, bytearray] stays that.
    let l = m.list().unwrap();
    l.append(vec![set_of(&[3]), PyValue::ByteArray(b"z".to_vec())])
        .unwrap();
    let items: Vec<Vec<PyValue>> = l.to_vec().unwrap();
    assert_eq!(items[0][0].to_string(), "{3}");
    assert_eq!(items[0][1].to_string(), "bytearray(b'z')");
    // And a dict built in Rust arrives as a dict with Python key equality.
    let mut pd = PyDict::new();
    pd.insert(PyValue::Int(1), PyValue::str("one")).unwrap();
    d.set("pd", PyValue::Dict(pd)).unwrap();
    let got: PyValue = d.get_item("pd").unwrap();
    assert_eq!(got.to_string(), "{1: 'one'}");
}
