//! `BarrierProxy`: a shared `threading.Barrier`.

use std::time::Duration;

use super::lock::truthy;
use super::{secs, typed_proxy, FromPy};
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A shared barrier (`m.barrier(parties)`). A broken or aborted barrier answers `wait` with
    /// `threading.BrokenBarrierError` ([`crate::Error::is_broken_barrier`]).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// assert_eq!(b.parties()?, 2);
    /// b.abort()?;
    /// assert!(b.wait(None).unwrap_err().is_broken_barrier());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    BarrierProxy
}

impl BarrierProxy {
    /// `wait(timeout)`: this party's index (0..parties).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// let i = b.wait(Some(std::time::Duration::from_secs(5)))?; // one party: passes at once
    /// assert_eq!(i, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> Result<usize> {
        usize::from_py(self.call_method("wait", vec![secs(timeout)], vec![])?)
    }

    /// `abort()`: breaks the barrier for current and future waiters.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn abort(&self) -> Result<()> {
        self.call_method("abort", vec![], vec![])?;
        Ok(())
    }

    /// `reset()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// # b.abort()?;
    /// b.reset()?;
    /// assert!(!b.broken()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn reset(&self) -> Result<()> {
        self.call_method("reset", vec![], vec![])?;
        Ok(())
    }

    fn attr(&self, name: &str) -> Result<PyValue> {
        self.call_method("__getattribute__", vec![PyValue::str(name)], vec![])
    }

    /// `.parties`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// assert_eq!(b.parties()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn parties(&self) -> Result<usize> {
        usize::from_py(self.attr("parties")?)
    }

    /// `.n_waiting`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// assert_eq!(b.n_waiting()?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn n_waiting(&self) -> Result<usize> {
        usize::from_py(self.attr("n_waiting")?)
    }

    /// `.broken`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// assert!(!b.broken()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn broken(&self) -> Result<bool> {
        truthy(self.attr("broken")?)
    }
}
