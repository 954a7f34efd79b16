//! Values as the store keeps them: the pickle bytes of the value (the server never runs code),
//! and dict keys as a canonical byte string that is equal exactly when Python's `==` holds
//! for hashable keys (`1`, `1.0` and `True` are one key).

use std::hash::{Hash, Hasher};

use crate::managers::pickle::{self, PyValue};
use crate::managers::sdk::{check_hashable, CallError};

/// Pickle bytes of `v` (protocol 2+, as the client would send them).
pub(crate) fn encode(v: &PyValue) -> Result<Vec<u8>, CallError> {
    pickle::dumps(v).map_err(|e| CallError::type_error(&format!("cannot store the value: {e}")))
}

/// The value the store holds as pickle `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Result<PyValue, CallError> {
    pickle::loads(bytes).map_err(|e| {
        CallError::Traceback(crate::managers::sdk::traceback_text(
            "ValueError",
            &format!("the Redis store holds a value this server cannot read: {e}"),
        ))
    })
}

/// Records what [`Hash`] feeds a hasher: PyValue's `Hash` follows Python's equality (numbers by
/// value, `str`/`bytes` by content, tuples element-wise), so the recorded bytes are a
/// canonical form of a hashable value.
struct Recorder(Vec<u8>);

impl Hasher for Recorder {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// The canonical form of dict key `k`: equal for keys Python finds equal (`1 == 1.0 == True`,
/// `0.0 == -0.0`); `TypeError` for an unhashable key. Caveats: all NaNs with one bit pattern
/// are one key (Python compares NaN keys by identity), and a frozenset's form depends on its
/// element order.
///
/// ```ignore
/// assert_eq!(canonical_key(&PyValue::Int(1))?, canonical_key(&PyValue::Float(1.0))?);
/// ```
pub(crate) fn canonical_key(k: &PyValue) -> Result<Vec<u8>, CallError> {
    check_hashable(k)?;
    let mut r = Recorder(Vec::with_capacity(16));
    k.hash(&mut r);
    Ok(r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_equal_keys_are_one_key() {
        let one = canonical_key(&PyValue::Int(1)).unwrap();
        assert_eq!(one, canonical_key(&PyValue::Float(1.0)).unwrap());
        assert_eq!(one, canonical_key(&PyValue::Bool(true)).unwrap());
        assert_ne!(one, canonical_key(&PyValue::Int(2)).unwrap());
        assert_ne!(one, canonical_key(&PyValue::str("1")).unwrap());
        assert_eq!(
            canonical_key(&PyValue::Float(0.0)).unwrap(),
            canonical_key(&PyValue::Float(-0.0)).unwrap()
        );
        let t1 = PyValue::Tuple(vec![PyValue::Int(1), PyValue::str("a")]);
        let t2 = PyValue::Tuple(vec![PyValue::Float(1.0), PyValue::str("a")]);
        assert_eq!(canonical_key(&t1).unwrap(), canonical_key(&t2).unwrap());
        assert_ne!(
            canonical_key(&PyValue::str("ab")).unwrap(),
            canonical_key(&PyValue::Tuple(vec![PyValue::str("a"), PyValue::str("b")])).unwrap()
        );
        assert!(canonical_key(&PyValue::List(vec![])).is_err());
    }

    #[test]
    fn values_round_trip_as_pickles() {
        let v = PyValue::Tuple(vec![PyValue::Int(7), PyValue::str("x"), PyValue::None]);
        assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v);
    }
}
