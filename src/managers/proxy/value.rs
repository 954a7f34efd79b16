//! `ValueProxy`: a shared single value (`m.Value(typecode, value)`).

use serde::Serialize;

use super::{arg, typed_proxy, FromPy};
use crate::Result;

typed_proxy! {
    /// A manager `Value` (a plain holder on the server: no type checking, unlike the
    /// shared-memory [`crate::Value`]).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let v = m.value('d', 1.5)?;
    /// v.set(2.5)?;
    /// assert_eq!(v.get::<f64>()?, 2.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ValueProxy
}

impl ValueProxy {
    /// `v.value` (sends `get()`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let v = m.value('i', 7)?;
    /// let x: i64 = v.get()?;
    /// assert_eq!(x, 7);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self) -> Result<T> {
        self.call("get", ())
    }

    /// `v.value = x` (sends `set(x)`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let v = m.value('i', 7)?;
    /// v.set(3)?;
    /// assert_eq!(v.get::<i64>()?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<T: Serialize>(&self, value: T) -> Result<()> {
        self.call_method("set", vec![arg(&value)?], vec![])?;
        Ok(())
    }
}
