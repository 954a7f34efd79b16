//! Insertion-ordered `dict` and `set` with Python key semantics.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::PyValue;
use crate::Result;

fn key_hash(k: &PyValue) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// A Python `dict`: insertion-ordered, keys compared like Python (`1`, `1.0` and `True` are one
/// key and the first inserted key object is kept; `0.0 == -0.0`; NaN never equal), unhashable keys
/// (`list`, `dict`, `set`, `bytearray`) rejected with an error reading like Python's `TypeError`.
///
/// ```
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let mut d = PyDict::new();
/// d.insert(PyValue::Int(1), PyValue::str("a")).unwrap();
/// d.insert(PyValue::Float(1.0), PyValue::str("b")).unwrap();
/// d.insert(PyValue::Bool(true), PyValue::str("c")).unwrap();
/// assert_eq!(d.len(), 1);
/// assert_eq!(PyValue::Dict(d).to_string(), "{1: 'c'}");
/// ```
#[derive(Clone, Debug, Default)]
pub struct PyDict {
    entries: Vec<Option<(PyValue, PyValue)>>,
    index: HashMap<u64, Vec<usize>>,
    len: usize,
}

impl PyDict {
    /// An empty dict.
    ///
    /// ```
    /// assert!(mpshare::managers::pickle::PyDict::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of items.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::pickle::PyDict::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    ///
    /// ```
    /// assert!(mpshare::managers::pickle::PyDict::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn find(&self, h: u64, key: &PyValue) -> Option<usize> {
        self.index
            .get(&h)?
            .iter()
            .copied()
            .find(|&i| self.entries[i].as_ref().is_some_and(|(k, _)| k == key))
    }

    /// `d[key] = value`; returns the previous value. The first inserted key object is kept.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// assert!(d.insert(PyValue::str("k"), PyValue::Int(1)).unwrap().is_none());
    /// assert_eq!(d.insert(PyValue::str("k"), PyValue::Int(2)).unwrap(), Some(PyValue::Int(1)));
    /// assert!(d.insert(PyValue::list(vec![]), PyValue::None).is_err());
    /// ```
    pub fn insert(&mut self, key: PyValue, value: PyValue) -> Result<Option<PyValue>> {
        key.check_hashable()?;
        let h = key_hash(&key);
        if let Some(i) = self.find(h, &key) {
            if let Some((_, v)) = self.entries[i].as_mut() {
                return Ok(Some(std::mem::replace(v, value)));
            }
        }
        self.index.entry(h).or_default().push(self.entries.len());
        self.entries.push(Some((key, value)));
        self.len += 1;
        Ok(None)
    }

    /// `d.get(key)`; an unhashable key is simply absent.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(0), PyValue::str("zero")).unwrap();
    /// assert_eq!(d.get(&PyValue::Float(-0.0)), Some(&PyValue::str("zero")));
    /// ```
    pub fn get(&self, key: &PyValue) -> Option<&PyValue> {
        if key.check_hashable().is_err() {
            return None;
        }
        let i = self.find(key_hash(key), key)?;
        self.entries[i].as_ref().map(|(_, v)| v)
    }

    /// `d.get(key)` by `str` key.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::str("a"), PyValue::Int(1)).unwrap();
    /// assert_eq!(d.get_str("a"), Some(&PyValue::Int(1)));
    /// ```
    pub fn get_str(&self, key: &str) -> Option<&PyValue> {
        self.get(&PyValue::Str(key.to_string()))
    }

    /// Mutable access to a value.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(1), PyValue::Int(1)).unwrap();
    /// *d.get_mut(&PyValue::Int(1)).unwrap() = PyValue::Int(2);
    /// assert_eq!(d.get(&PyValue::Int(1)), Some(&PyValue::Int(2)));
    /// ```
    pub fn get_mut(&mut self, key: &PyValue) -> Option<&mut PyValue> {
        if key.check_hashable().is_err() {
            return None;
        }
        let i = self.find(key_hash(key), key)?;
        self.entries[i].as_mut().map(|(_, v)| v)
    }

    /// The stored key object equal to `key` (e.g. `1` when asked with `1.0`).
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(1), PyValue::None).unwrap();
    /// assert!(d.get_key(&PyValue::Float(1.0)).unwrap().identical(&PyValue::Int(1)));
    /// ```
    pub fn get_key(&self, key: &PyValue) -> Option<&PyValue> {
        if key.check_hashable().is_err() {
            return None;
        }
        let i = self.find(key_hash(key), key)?;
        self.entries[i].as_ref().map(|(k, _)| k)
    }

    /// True when `key` is present.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Bool(true), PyValue::None).unwrap();
    /// assert!(d.contains_key(&PyValue::Int(1)));
    /// ```
    pub fn contains_key(&self, key: &PyValue) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, returning `(stored key, value)`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::str("a"), PyValue::Int(1)).unwrap();
    /// assert_eq!(d.remove(&PyValue::str("a")).map(|(_, v)| v), Some(PyValue::Int(1)));
    /// assert!(d.is_empty());
    /// ```
    pub fn remove(&mut self, key: &PyValue) -> Option<(PyValue, PyValue)> {
        if key.check_hashable().is_err() {
            return None;
        }
        let h = key_hash(key);
        let i = self.find(h, key)?;
        if let Some(v) = self.index.get_mut(&h) {
            v.retain(|&j| j != i);
            if v.is_empty() {
                self.index.remove(&h);
            }
        }
        let out = self.entries[i].take();
        self.len -= 1;
        if self.entries.len() > 16 && self.entries.len() > 2 * self.len {
            self.compact();
        }
        out
    }

    /// Removes and returns the last inserted item (`dict.popitem()`).
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(1), PyValue::Int(2)).unwrap();
    /// assert_eq!(d.pop_last(), Some((PyValue::Int(1), PyValue::Int(2))));
    /// ```
    pub fn pop_last(&mut self) -> Option<(PyValue, PyValue)> {
        let key = self.iter().last().map(|(k, _)| k.clone())?;
        self.remove(&key)
    }

    /// Removes everything.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(1), PyValue::Int(2)).unwrap();
    /// d.clear();
    /// assert!(d.is_empty());
    /// ```
    pub fn clear(&mut self) {
        *self = PyDict::new();
    }

    fn compact(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        self.index.clear();
        self.len = 0;
        for (k, v) in entries.into_iter().flatten() {
            let h = key_hash(&k);
            self.index.entry(h).or_default().push(self.entries.len());
            self.entries.push(Some((k, v)));
            self.len += 1;
        }
    }

    /// Items in insertion order.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::str("b"), PyValue::Int(1)).unwrap();
    /// d.insert(PyValue::str("a"), PyValue::Int(2)).unwrap();
    /// let keys: Vec<_> = d.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    /// assert_eq!(keys, ["b", "a"]);
    /// ```
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&PyValue, &PyValue)> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.as_ref().map(|(k, v)| (k, v)))
    }

    /// Keys in insertion order.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::str("a"), PyValue::Int(1)).unwrap();
    /// assert_eq!(d.keys().count(), 1);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &PyValue> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Values in insertion order.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::str("a"), PyValue::Int(1)).unwrap();
    /// assert_eq!(d.values().next(), Some(&PyValue::Int(1)));
    /// ```
    pub fn values(&self) -> impl Iterator<Item = &PyValue> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl IntoIterator for PyDict {
    type Item = (PyValue, PyValue);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<(PyValue, PyValue)>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter().flatten()
    }
}

/// Python dict equality: same keys, equal values, order ignored.
impl PartialEq for PyDict {
    fn eq(&self, other: &PyDict) -> bool {
        self.len == other.len && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

/// A Python `set`/`frozenset` body: insertion-ordered (CPython's order is a hash order; any order
/// is fine on the wire), Python element equality, unhashable elements rejected.
///
/// ```
/// use mpshare::managers::pickle::{PySet, PyValue};
/// let mut s = PySet::new();
/// s.insert(PyValue::Int(1)).unwrap();
/// assert!(!s.insert(PyValue::Float(1.0)).unwrap());
/// assert_eq!(s.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PySet {
    inner: PyDict,
}

impl PySet {
    /// An empty set.
    ///
    /// ```
    /// assert!(mpshare::managers::pickle::PySet::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from items (duplicates collapse; unhashable items fail).
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let s = PySet::from_items(vec![PyValue::Int(1), PyValue::Int(1)]).unwrap();
    /// assert_eq!(s.len(), 1);
    /// ```
    pub fn from_items(items: impl IntoIterator<Item = PyValue>) -> Result<Self> {
        let mut s = PySet::new();
        for x in items {
            s.insert(x)?;
        }
        Ok(s)
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::pickle::PySet::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when empty.
    ///
    /// ```
    /// assert!(mpshare::managers::pickle::PySet::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Adds an element; `true` when it was not present.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let mut s = PySet::new();
    /// assert!(s.insert(PyValue::str("a")).unwrap());
    /// ```
    pub fn insert(&mut self, item: PyValue) -> Result<bool> {
        if self.inner.contains_key(&item) {
            item.check_hashable()?;
            return Ok(false);
        }
        self.inner.insert(item, PyValue::None)?;
        Ok(true)
    }

    /// True when an equal element is present.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let s = PySet::from_items(vec![PyValue::Int(2)]).unwrap();
    /// assert!(s.contains(&PyValue::Float(2.0)));
    /// ```
    pub fn contains(&self, item: &PyValue) -> bool {
        self.inner.contains_key(item)
    }

    /// The stored element equal to `item`.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let s = PySet::from_items(vec![PyValue::Int(2)]).unwrap();
    /// assert!(s.get(&PyValue::Float(2.0)).is_some());
    /// ```
    pub fn get(&self, item: &PyValue) -> Option<&PyValue> {
        self.inner.get_key(item)
    }

    /// Removes an element; `true` when it was present.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let mut s = PySet::from_items(vec![PyValue::Int(2)]).unwrap();
    /// assert!(s.remove(&PyValue::Int(2)));
    /// ```
    pub fn remove(&mut self, item: &PyValue) -> bool {
        self.inner.remove(item).is_some()
    }

    /// Elements in insertion order.
    ///
    /// ```
    /// use mpshare::managers::pickle::{PySet, PyValue};
    /// let s = PySet::from_items(vec![PyValue::Int(2)]).unwrap();
    /// assert_eq!(s.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &PyValue> + '_ {
        self.inner.keys()
    }
}

impl IntoIterator for PySet {
    type Item = PyValue;
    type IntoIter = std::iter::Map<
        std::iter::Flatten<std::vec::IntoIter<Option<(PyValue, PyValue)>>>,
        fn((PyValue, PyValue)) -> PyValue,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.inner.into_iter().map(|(k, _)| k)
    }
}

/// Set equality: same elements, order ignored.
impl PartialEq for PySet {
    fn eq(&self, other: &PySet) -> bool {
        self.len() == other.len() && self.iter().all(|x| other.contains(x))
    }
}
