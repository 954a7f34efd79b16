//! `DictProxy`: a shared `dict`.

use serde::Serialize;

use super::{arg, args_of, typed_proxy, FromPy, IteratorProxy};
use crate::managers::pickle::PyValue;
use crate::managers::wire::{shape, Reader};
use crate::Result;

typed_proxy! {
    /// A shared `dict` (`m.dict()`), with Python's `dict` methods.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// d.set("a", 1)?;
    /// assert!(d.contains("a")?);
    /// assert_eq!(d.get::<_, i64>("a")?, Some(1));
    /// assert!(d.get_item::<_, i64>("zz").unwrap_err().is_key_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    DictProxy
}

impl DictProxy {
    /// `d[key]`; a missing key is `KeyError` ([`crate::Error::is_key_error`]).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("name", "ada")?;
    /// let v: String = d.get_item("name")?;
    /// assert_eq!(v, "ada");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_item<K: Serialize + ?Sized, V: FromPy>(&self, key: &K) -> Result<V> {
        V::from_py(self.call_method("__getitem__", vec![arg(key)?], vec![])?)
    }

    /// `d[key]` with a [`PyValue`] key, returning the raw value (proxy references included).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("k", 1)?;
    /// let v = d.get_item_value("k".into())?;
    /// assert_eq!(v, mpshare::managers::pickle::PyValue::Int(1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_item_value(&self, key: PyValue) -> Result<PyValue> {
        self.call_method("__getitem__", vec![key], vec![])
    }

    /// `d.get(key)`: `None` when missing (or when the stored value is `None`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// let v: Option<i64> = d.get("k")?;
    /// assert_eq!(v, None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<K: Serialize + ?Sized, V: FromPy>(&self, key: &K) -> Result<Option<V>> {
        match self.call_method("get", vec![arg(key)?], vec![])? {
            PyValue::None => Ok(None),
            v => V::from_py(v).map(Some),
        }
    }

    /// `d[key] = value`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// d.set("k", (1, "x"))?;
    /// assert_eq!(d.get_item::<_, (i64, String)>("k")?, (1, "x".to_string()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<K: Serialize, V: Serialize>(&self, key: K, value: V) -> Result<()> {
        self.call_method("__setitem__", vec![arg(&key)?, arg(&value)?], vec![])?;
        Ok(())
    }

    /// `d[key] = value` with [`PyValue`]s as given (no serde; sets, proxy references, ...).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// d.set_value("q".into(), q.to_ref().to_value())?;
    /// assert!(d.contains("q")?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_value(&self, key: PyValue, value: PyValue) -> Result<()> {
        self.call_method("__setitem__", vec![key, value], vec![])?;
        Ok(())
    }

    /// `del d[key]` (`KeyError` when missing).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("k", 1)?;
    /// d.del("k")?;
    /// assert!(!d.contains("k")?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn del<K: Serialize + ?Sized>(&self, key: &K) -> Result<()> {
        self.call_method("__delitem__", vec![arg(key)?], vec![])?;
        Ok(())
    }

    /// `key in d`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// assert!(!d.contains("nope")?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        bool::from_py(self.call_method("__contains__", vec![arg(key)?], vec![])?)
    }

    /// `len(d)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// d.set("a", 1)?;
    /// assert_eq!(d.len()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.call("__len__", ())
    }

    /// `len(d) == 0`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `list(d.keys())`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// let keys: Vec<String> = d.keys()?;
    /// assert_eq!(keys, ["a"]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn keys<K: FromPy>(&self) -> Result<Vec<K>> {
        list_of(self.call_method("keys", vec![], vec![])?)
    }

    /// `list(d.values())`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// let values: Vec<i64> = d.values()?;
    /// assert_eq!(values, [1]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn values<V: FromPy>(&self) -> Result<Vec<V>> {
        list_of(self.call_method("values", vec![], vec![])?)
    }

    /// `list(d.items())`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// let items: Vec<(String, i64)> = d.items()?;
    /// assert_eq!(items, [("a".to_string(), 1)]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn items<K: FromPy, V: FromPy>(&self) -> Result<Vec<(K, V)>> {
        let pairs: Vec<PyValue> = list_of(self.call_method("items", vec![], vec![])?)?;
        pairs.into_iter().map(pair).collect()
    }

    /// `d.pop(key)` (`KeyError` when missing).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("k", 1)?;
    /// let v: i64 = d.pop("k")?;
    /// assert_eq!((v, d.len()?), (1, 0));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop<K: Serialize + ?Sized, V: FromPy>(&self, key: &K) -> Result<V> {
        V::from_py(self.call_method("pop", vec![arg(key)?], vec![])?)
    }

    /// `d.pop(key, default)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// let v: i64 = d.pop_or("k", 0)?;
    /// assert_eq!(v, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop_or<K: Serialize + ?Sized, D: Serialize, V: FromPy>(
        &self,
        key: &K,
        default: D,
    ) -> Result<V> {
        V::from_py(self.call_method("pop", vec![arg(key)?, arg(&default)?], vec![])?)
    }

    /// `d.popitem()` (`KeyError` when empty).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("k", 1)?;
    /// let (k, v): (String, i64) = d.popitem()?;
    /// assert_eq!((k.as_str(), v), ("k", 1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn popitem<K: FromPy, V: FromPy>(&self) -> Result<(K, V)> {
        pair(self.call_method("popitem", vec![], vec![])?)
    }

    /// `d.setdefault(key, default)`: the value now stored under `key`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// let v: i64 = d.setdefault("k", 5)?;
    /// assert_eq!((v, d.get_item::<_, i64>("k")?), (5, 5));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn setdefault<K: Serialize + ?Sized, D: Serialize, V: FromPy>(
        &self,
        key: &K,
        default: D,
    ) -> Result<V> {
        V::from_py(self.call_method("setdefault", vec![arg(key)?, arg(&default)?], vec![])?)
    }

    /// `d.update(mapping)` from a serde map or a list of pairs.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// d.update(&vec![("a", 1), ("b", 2)])?;
    /// assert_eq!(d.len()?, 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn update<T: Serialize + ?Sized>(&self, mapping: &T) -> Result<()> {
        self.call_method("update", vec![arg(mapping)?], vec![])?;
        Ok(())
    }

    /// `d.clear()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// d.clear()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        self.call_method("clear", vec![], vec![])?;
        Ok(())
    }

    /// `d.copy()`: a plain (unshared) copy, e.g. as a `HashMap` or a [`PyValue`] dict.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// let copy: std::collections::HashMap<String, i64> = d.copy()?;
    /// assert_eq!(copy["a"], 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn copy<T: FromPy>(&self) -> Result<T> {
        T::from_py(self.call_method("copy", vec![], vec![])?)
    }

    /// `iter(d)`: an iterator proxy over the keys (one server call per key).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let d = m.dict()?;
    /// # d.set("a", 1)?;
    /// let keys: Vec<_> = d.iter()?.collect::<Result<_, _>>()?;
    /// assert_eq!(keys, [mpshare::managers::pickle::PyValue::str("a")]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn iter(&self) -> Result<IteratorProxy> {
        Ok(IteratorProxy::from_proxy(self.call_proxy(
            "__iter__",
            args_of(&())?,
            vec![],
        )?))
    }
}

fn pair<K: FromPy, V: FromPy>(p: PyValue) -> Result<(K, V)> {
    let [k, v] = Reader("items()").items(p, "a (key, value) pair")?;
    Ok((K::from_py(k)?, V::from_py(v)?))
}

/// A list (or CPython's `builtins.list([...])` reduce, or a tuple) into `Vec<T>`.
pub(crate) fn list_of<T: FromPy>(v: PyValue) -> Result<Vec<T>> {
    match super::unwrap_builtin_list(v) {
        PyValue::List(items) | PyValue::Tuple(items) => items.into_iter().map(T::from_py).collect(),
        other => Err(shape("result", "a list", &other)),
    }
}
