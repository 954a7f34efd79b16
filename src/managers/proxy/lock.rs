//! `LockProxy`: `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore` (CPython's `AcquirerProxy`).

use std::time::Duration;

use super::{secs, typed_proxy};
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A shared lock or semaphore (`m.lock()`, `m.rlock()`, `m.semaphore(n)`,
    /// `m.bounded_semaphore(n)`). `RLock` ownership belongs to the calling thread's connection,
    /// so release from the thread that acquired.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.lock()?;
    /// {
    ///     let _g = l.guard()?;      // with l:
    ///     assert!(!l.try_acquire()?);
    /// }                              // released here
    /// assert!(l.release().unwrap_err().is_remote("RuntimeError"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    LockProxy
}

impl LockProxy {
    /// `acquire()`: blocks until acquired (sends `acquire()` with no arguments, like `with`).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// l.acquire()?;
    /// l.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<()> {
        self.call_method("acquire", vec![], vec![])?;
        Ok(())
    }

    /// `acquire(True, timeout)`: whether it was acquired within `timeout`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// assert!(l.acquire_timeout(std::time::Duration::from_millis(100))?);
    /// assert!(!l.acquire_timeout(std::time::Duration::from_millis(10))?); // held: times out
    /// l.release()?;
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

    /// `acquire(False)`: whether it was acquired, without blocking.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// assert!(l.try_acquire()?);
    /// assert!(!l.try_acquire()?);
    /// l.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Result<bool> {
        self.call_method("acquire", vec![PyValue::Bool(false)], vec![])
            .and_then(truthy)
    }

    /// `release()`: `RuntimeError` for an unlocked `Lock` / an `RLock` not held by this
    /// thread, `ValueError` for a `BoundedSemaphore` released too many times.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// l.acquire()?;
    /// l.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.call_method("release", vec![], vec![])?;
        Ok(())
    }

    /// Acquire (blocking) and return a guard that releases on drop (Python's `with lock:`).
    /// A failed release in drop is ignored; call [`LockGuard::release`] to see it.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// let g = l.guard()?;
    /// assert!(!l.try_acquire()?);
    /// g.release()?;
    /// assert!(l.try_acquire()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn guard(&self) -> Result<LockGuard<'_>> {
        self.acquire()?;
        Ok(LockGuard {
            lock: self,
            armed: true,
        })
    }
}

pub(crate) fn truthy(v: PyValue) -> Result<bool> {
    match v {
        PyValue::Bool(b) => Ok(b),
        PyValue::None => Ok(false),
        PyValue::Int(i) => Ok(i != 0),
        other => Err(crate::managers::wire::shape("result", "a bool", &other)),
    }
}

/// Holds a [`LockProxy`] acquired; releases it when dropped.
///
/// ```
/// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
/// {
///     let _g = l.guard()?;
///     assert!(!l.try_acquire()?);
/// } // released here
/// assert!(l.try_acquire()?);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a LockProxy,
    armed: bool,
}

impl LockGuard<'_> {
    /// Release now and report the outcome.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let l = m.lock()?;
    /// l.guard()?.release()?;
    /// assert!(l.try_acquire()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(mut self) -> Result<()> {
        self.armed = false;
        self.lock.release()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.lock.release();
        }
    }
}
