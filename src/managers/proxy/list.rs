//! `ListProxy`: a shared `list`.

use serde::Serialize;

use super::dict::list_of;
use super::{arg, typed_proxy, FromPy};
use crate::Result;

typed_proxy! {
    /// A shared `list` (`m.list()`), with Python's `list` methods.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.list()?;
    /// l.append(1)?;
    /// l.extend(&[2, 3])?;
    /// assert_eq!(l.to_vec::<i64>()?, vec![1, 2, 3]);
    /// assert!(l.get::<i64>(10).unwrap_err().is_index_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ListProxy
}

impl ListProxy {
    /// `l.append(value)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.append("x")?;
    /// assert_eq!(l.to_vec::<String>()?, ["x"]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn append<T: Serialize>(&self, value: T) -> Result<()> {
        self.call_method("append", vec![arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.extend(values)` (Python's `l += values`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.extend(&[1, 2])?;
    /// assert_eq!(l.to_vec::<i64>()?, [1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn extend<T: Serialize + ?Sized>(&self, values: &T) -> Result<()> {
        self.call_method("extend", vec![arg(values)?], vec![])?;
        Ok(())
    }

    /// `l[index]` (negative indexes count from the end; `IndexError` out of range).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let last: i64 = l.get(-1)?;
    /// assert_eq!(last, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self, index: i64) -> Result<T> {
        self.call("__getitem__", (index,))
    }

    /// `l[index] = value`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.set(0, 42)?;
    /// assert_eq!(l.to_vec::<i64>()?, [42, 2, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<T: Serialize>(&self, index: i64, value: T) -> Result<()> {
        self.call_method("__setitem__", vec![index.into(), arg(&value)?], vec![])?;
        Ok(())
    }

    /// `del l[index]`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.del(0)?;
    /// assert_eq!(l.to_vec::<i64>()?, [2, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn del(&self, index: i64) -> Result<()> {
        self.call_method("__delitem__", vec![index.into()], vec![])?;
        Ok(())
    }

    /// `l.insert(index, value)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.append("second")?;
    /// l.insert(0, "first")?;
    /// assert_eq!(l.to_vec::<String>()?, ["first", "second"]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn insert<T: Serialize>(&self, index: i64, value: T) -> Result<()> {
        self.call_method("insert", vec![index.into(), arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.pop()` (`IndexError` when empty).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let v: i64 = l.pop()?;
    /// assert_eq!((v, l.len()?), (3, 2));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop<T: FromPy>(&self) -> Result<T> {
        self.call("pop", ())
    }

    /// `l.pop(index)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let v: i64 = l.pop_at(0)?;
    /// assert_eq!(v, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop_at<T: FromPy>(&self, index: i64) -> Result<T> {
        self.call("pop", (index,))
    }

    /// `l.remove(value)` (`ValueError` when absent).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.remove(3)?;
    /// assert_eq!(l.to_vec::<i64>()?, [1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn remove<T: Serialize>(&self, value: T) -> Result<()> {
        self.call_method("remove", vec![arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.index(value)` (`ValueError` when absent).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let i = l.index(3)?;
    /// assert_eq!(i, 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn index<T: Serialize>(&self, value: T) -> Result<usize> {
        self.call("index", (value,))
    }

    /// `l.count(value)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[3, 1, 3])?;
    /// let n = l.count(3)?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn count<T: Serialize>(&self, value: T) -> Result<usize> {
        self.call("count", (value,))
    }

    /// `value in l`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.append(3)?;
    /// assert!(l.contains(3)?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn contains<T: Serialize>(&self, value: T) -> Result<bool> {
        self.call("__contains__", (value,))
    }

    /// `len(l)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2])?;
    /// assert_eq!(l.len()?, 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.call("__len__", ())
    }

    /// `len(l) == 0`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `l.reverse()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.reverse()?;
    /// assert_eq!(l.to_vec::<i64>()?, [3, 2, 1]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn reverse(&self) -> Result<()> {
        self.call_method("reverse", vec![], vec![])?;
        Ok(())
    }

    /// `l.sort()` (`TypeError` for unorderable items).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[3, 1, 2])?;
    /// l.sort()?;
    /// assert_eq!(l.to_vec::<i64>()?, [1, 2, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn sort(&self) -> Result<()> {
        self.call_method("sort", vec![], vec![])?;
        Ok(())
    }

    /// `l.sort(reverse=True)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[3, 1, 2])?;
    /// l.sort_reverse()?;
    /// assert_eq!(l.to_vec::<i64>()?, [3, 2, 1]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn sort_reverse(&self) -> Result<()> {
        self.call_method("sort", vec![], vec![("reverse".into(), true.into())])?;
        Ok(())
    }

    /// A copy of the whole list (`#GETVALUE`, one round trip).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.append("a")?;
    /// let all: Vec<String> = l.to_vec()?;
    /// assert_eq!(all, ["a"]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec<T: FromPy>(&self) -> Result<Vec<T>> {
        list_of(self.get_value()?)
    }
}
