//! `EventProxy`: a shared `threading.Event`.

use std::time::Duration;

use super::lock::truthy;
use super::{secs, typed_proxy};
use crate::Result;

typed_proxy! {
    /// A shared event flag (`m.event()`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.wait(Some(std::time::Duration::from_millis(10)))?);
    /// e.set()?;
    /// assert!(e.is_set()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    EventProxy
}

impl EventProxy {
    /// `is_set()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let e = m.event()?;
    /// assert!(!e.is_set()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_set(&self) -> Result<bool> {
        self.call_method("is_set", vec![], vec![]).and_then(truthy)
    }

    /// `set()`: wakes every waiter.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let e = m.event()?;
    /// e.set()?;
    /// assert!(e.is_set()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self) -> Result<()> {
        self.call_method("set", vec![], vec![])?;
        Ok(())
    }

    /// `clear()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let e = m.event()?;
    /// # e.set()?;
    /// e.clear()?;
    /// assert!(!e.is_set()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        self.call_method("clear", vec![], vec![])?;
        Ok(())
    }

    /// `wait(timeout)`: whether the flag is set (false on timeout).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let e = m.event()?;
    /// # e.set()?;
    /// let set = e.wait(None)?;
    /// assert!(set);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.call_method("wait", vec![secs(timeout)], vec![])
            .and_then(truthy)
    }
}
