//! `ConditionProxy`: a shared `threading.Condition`.

use std::time::Duration;

use super::lock::truthy;
use super::{secs, typed_proxy};
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A shared condition variable (`m.condition()`), with an `RLock` inside. Its ownership
    /// belongs to the calling thread's connection: acquire, wait and notify from one thread.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let c = m.condition()?;
    /// let g = c.guard()?;
    /// let notified = c.wait(Some(std::time::Duration::from_millis(10)))?;
    /// drop(g);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ConditionProxy
}

impl ConditionProxy {
    /// `acquire()` (blocking).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// c.acquire()?;
    /// c.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<()> {
        self.call_method("acquire", vec![], vec![])?;
        Ok(())
    }

    /// `acquire(True, timeout)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// let got = c.acquire_timeout(std::time::Duration::from_secs(1))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.call_method(
            "acquire",
            vec![PyValue::Bool(true), secs(Some(timeout))],
            vec![],
        )
        .and_then(truthy)
    }

    /// `release()` (`RuntimeError` when not held by this thread).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// c.acquire()?;
    /// c.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.call_method("release", vec![], vec![])?;
        Ok(())
    }

    /// `wait(timeout)`: releases the lock, waits for a notify (or the timeout), re-acquires;
    /// false on timeout. `RuntimeError` when not held.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// let _g = c.guard()?;
    /// let notified = c.wait(Some(std::time::Duration::from_millis(10)))?;
    /// assert!(!notified, "nobody notified, so the wait timed out");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.call_method("wait", vec![secs(timeout)], vec![])
            .and_then(truthy)
    }

    /// `notify(n)` (`RuntimeError` when not held).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// let _g = c.guard()?;
    /// c.notify(1)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn notify(&self, n: usize) -> Result<()> {
        self.call_method("notify", vec![PyValue::from(n as u64)], vec![])?;
        Ok(())
    }

    /// `notify_all()` (`RuntimeError` when not held).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// let _g = c.guard()?;
    /// c.notify_all()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn notify_all(&self) -> Result<()> {
        self.call_method("notify_all", vec![], vec![])?;
        Ok(())
    }

    /// Acquire and return a guard that releases on drop (`with cond:`).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// let g = c.guard()?;
    /// c.notify_all()?;
    /// g.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn guard(&self) -> Result<ConditionGuard<'_>> {
        self.acquire()?;
        Ok(ConditionGuard {
            cond: self,
            armed: true,
        })
    }
}

/// Holds a [`ConditionProxy`] acquired; releases it when dropped.
///
/// ```no_run
/// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
/// {
///     let _g = c.guard()?;
/// }
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct ConditionGuard<'a> {
    cond: &'a ConditionProxy,
    armed: bool,
}

impl ConditionGuard<'_> {
    /// Release now and report the outcome.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let c = m.condition()?;
    /// c.guard()?.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(mut self) -> Result<()> {
        self.armed = false;
        self.cond.release()
    }
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.cond.release();
        }
    }
}
