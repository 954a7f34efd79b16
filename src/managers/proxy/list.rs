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
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.append("x")?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn append<T: Serialize>(&self, value: T) -> Result<()> {
        self.call_method("append", vec![arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.extend(values)` (Python's `l += values`).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.extend(&[1, 2])?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn extend<T: Serialize + ?Sized>(&self, values: &T) -> Result<()> {
        self.call_method("extend", vec![arg(values)?], vec![])?;
        Ok(())
    }

    /// `l[index]` (negative indexes count from the end; `IndexError` out of range).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let last: i64 = l.get(-1)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self, index: i64) -> Result<T> {
        self.call("__getitem__", (index,))
    }

    /// `l[index] = value`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.set(0, 42)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<T: Serialize>(&self, index: i64, value: T) -> Result<()> {
        self.call_method("__setitem__", vec![index.into(), arg(&value)?], vec![])?;
        Ok(())
    }

    /// `del l[index]`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.del(0)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn del(&self, index: i64) -> Result<()> {
        self.call_method("__delitem__", vec![index.into()], vec![])?;
        Ok(())
    }

    /// `l.insert(index, value)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.insert(0, "first")?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn insert<T: Serialize>(&self, index: i64, value: T) -> Result<()> {
        self.call_method("insert", vec![index.into(), arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.pop()` (`IndexError` when empty).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let v: i64 = l.pop()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop<T: FromPy>(&self) -> Result<T> {
        self.call("pop", ())
    }

    /// `l.pop(index)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let v: i64 = l.pop_at(0)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pop_at<T: FromPy>(&self, index: i64) -> Result<T> {
        self.call("pop", (index,))
    }

    /// `l.remove(value)` (`ValueError` when absent).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// l.remove(3)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn remove<T: Serialize>(&self, value: T) -> Result<()> {
        self.call_method("remove", vec![arg(&value)?], vec![])?;
        Ok(())
    }

    /// `l.index(value)` (`ValueError` when absent).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// # l.extend(&[1, 2, 3])?;
    /// let i = l.index(3)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn index<T: Serialize>(&self, value: T) -> Result<usize> {
        self.call("index", (value,))
    }

    /// `l.count(value)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// let n = l.count(3)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn count<T: Serialize>(&self, value: T) -> Result<usize> {
        self.call("count", (value,))
    }

    /// `value in l`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// let yes = l.contains(3)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn contains<T: Serialize>(&self, value: T) -> Result<bool> {
        self.call("__contains__", (value,))
    }

    /// `len(l)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// let n = l.len()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.call("__len__", ())
    }

    /// `len(l) == 0`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// let e = l.is_empty()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `l.reverse()`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.reverse()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn reverse(&self) -> Result<()> {
        self.call_method("reverse", vec![], vec![])?;
        Ok(())
    }

    /// `l.sort()` (`TypeError` for unorderable items).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.sort()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn sort(&self) -> Result<()> {
        self.call_method("sort", vec![], vec![])?;
        Ok(())
    }

    /// `l.sort(reverse=True)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// l.sort_reverse()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn sort_reverse(&self) -> Result<()> {
        self.call_method("sort", vec![], vec![("reverse".into(), true.into())])?;
        Ok(())
    }

    /// A copy of the whole list (`#GETVALUE`, one round trip).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.list()?;
    /// let all: Vec<String> = l.to_vec()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec<T: FromPy>(&self) -> Result<Vec<T>> {
        list_of(self.get_value()?)
    }
}
