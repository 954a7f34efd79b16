//! `NamespaceProxy`: a shared attribute bag.

use serde::Serialize;

use super::{arg, typed_proxy, FromPy};
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A shared `Namespace` (`m.Namespace()`): attributes by name.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("x", 5)?;
    /// assert_eq!(ns.get::<i64>("x")?, 5);
    /// assert!(ns.get::<i64>("missing").unwrap_err().is_attribute_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    NamespaceProxy
}

impl NamespaceProxy {
    /// `ns.name` (`AttributeError` when missing).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let ns = m.namespace()?;
    /// # ns.set("x", 1.5)?;
    /// let x: f64 = ns.get("x")?;
    /// assert_eq!(x, 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self, name: &str) -> Result<T> {
        T::from_py(self.call_method("__getattribute__", vec![PyValue::str(name)], vec![])?)
    }

    /// `ns.name = value`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let ns = m.namespace()?;
    /// ns.set("x", 1.5)?;
    /// assert_eq!(ns.get::<f64>("x")?, 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<T: Serialize>(&self, name: &str, value: T) -> Result<()> {
        self.call_method(
            "__setattr__",
            vec![PyValue::str(name), arg(&value)?],
            vec![],
        )?;
        Ok(())
    }

    /// `del ns.name` (`AttributeError` when missing).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let ns = m.namespace()?;
    /// # ns.set("x", 1.5)?;
    /// ns.del("x")?;
    /// assert!(ns.get::<f64>("x").unwrap_err().is_attribute_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn del(&self, name: &str) -> Result<()> {
        self.call_method("__delattr__", vec![PyValue::str(name)], vec![])?;
        Ok(())
    }
}
