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
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// let i = b.wait(Some(std::time::Duration::from_secs(5)))?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> Result<usize> {
        usize::from_py(self.call_method("wait", vec![secs(timeout)], vec![])?)
    }

    /// `abort()`: breaks the barrier for current and future waiters.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// b.abort()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn abort(&self) -> Result<()> {
        self.call_method("abort", vec![], vec![])?;
        Ok(())
    }

    /// `reset()`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// b.reset()?;
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
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// let n = b.parties()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn parties(&self) -> Result<usize> {
        usize::from_py(self.attr("parties")?)
    }

    /// `.n_waiting`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// let n = b.n_waiting()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn n_waiting(&self) -> Result<usize> {
        usize::from_py(self.attr("n_waiting")?)
    }

    /// `.broken`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let b = m.barrier(1)?;
    /// let broken = b.broken()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn broken(&self) -> Result<bool> {
        truthy(self.attr("broken")?)
    }
}
