//! `QueueProxy`: a shared `queue.Queue` (`m.Queue()`, `m.JoinableQueue()`).

use std::time::Duration;

use serde::Serialize;

use super::{arg, secs, typed_proxy, FromPy};
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A shared `queue.Queue` / `JoinableQueue`. `get`/`put` block this thread only (each thread
    /// has its own connection to the server). `queue.Empty` and `queue.Full` come back as
    /// [`crate::Error::Remote`], recognised by [`crate::Error::is_empty_error`] and
    /// [`crate::Error::is_full_error`].
    ///
    /// ```
    /// use std::time::Duration;
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.queue(1)?;
    /// q.put(1)?;
    /// assert!(q.put_nowait(2).unwrap_err().is_full_error());
    /// assert_eq!(q.get::<i32>()?, 1);
    /// assert!(q.get_timeout::<i32>(Duration::from_millis(50)).unwrap_err().is_empty_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    QueueProxy
}

impl QueueProxy {
    /// `q.put(item)` (blocks while a bounded queue is full).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// q.put(("job", 1))?;
    /// assert_eq!(q.qsize()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn put<T: Serialize>(&self, item: T) -> Result<()> {
        self.call_method("put", vec![arg(&item)?], vec![])?;
        Ok(())
    }

    /// `q.put(item, timeout=t)` (`queue.Full` after `t`).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// q.put_timeout(1, std::time::Duration::from_secs(1))?;
    /// assert_eq!(q.get::<i64>()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn put_timeout<T: Serialize>(&self, item: T, timeout: Duration) -> Result<()> {
        self.call_method(
            "put",
            vec![arg(&item)?],
            vec![("timeout".into(), secs(Some(timeout)))],
        )?;
        Ok(())
    }

    /// `q.put_nowait(item)` (`queue.Full` at once when full).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// q.put_nowait(1)?;
    /// assert_eq!(q.get_nowait::<i64>()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn put_nowait<T: Serialize>(&self, item: T) -> Result<()> {
        self.call_method("put_nowait", vec![arg(&item)?], vec![])?;
        Ok(())
    }

    /// `q.get()`: blocks until an item is available.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// # q.put(("job", 1))?;
    /// let job: (String, i64) = q.get()?;
    /// assert_eq!(job, ("job".to_string(), 1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self) -> Result<T> {
        self.call("get", ())
    }

    /// `q.get(timeout=t)` (`queue.Empty` after `t`).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// match q.get_timeout::<i64>(std::time::Duration::from_millis(100)) {
    ///     Ok(x) => println!("{x}"),
    ///     Err(e) if e.is_empty_error() => println!("nothing yet"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_timeout<T: FromPy>(&self, timeout: Duration) -> Result<T> {
        self.call_kw("get", (), vec![("timeout".into(), secs(Some(timeout)))])
    }

    /// `q.get_nowait()` (`queue.Empty` at once when empty).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// let r = q.get_nowait::<i64>();
    /// assert!(r.unwrap_err().is_empty_error());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_nowait<T: FromPy>(&self) -> Result<T> {
        self.call("get_nowait", ())
    }

    /// `q.qsize()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// assert_eq!(q.qsize()?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn qsize(&self) -> Result<usize> {
        self.call("qsize", ())
    }

    /// `q.empty()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// assert!(q.empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn empty(&self) -> Result<bool> {
        self.call("empty", ())
    }

    /// `q.full()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// assert!(!q.full()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn full(&self) -> Result<bool> {
        self.call("full", ())
    }

    /// `q.task_done()` (`ValueError` when called too many times).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// # q.put(1)?; let _: i64 = q.get()?;
    /// q.task_done()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn task_done(&self) -> Result<()> {
        self.call_method("task_done", vec![], vec![])?;
        Ok(())
    }

    /// `q.join()`: blocks until every item put has been marked done.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let q = m.queue(0)?;
    /// q.join()?; // nothing unfinished: returns at once
    /// assert!(q.empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join(&self) -> Result<()> {
        self.call_method("join", vec![], vec![])?;
        Ok(())
    }

    /// `q.shutdown(immediate)` (Python 3.13): later `put`s fail with `queue.ShutDown`; `get`s
    /// drain what is left, then fail the same way; blocked callers are woken. `immediate` drops
    /// the remaining items. Needs an mpshare or CPython 3.13+ server.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// q.put(1)?;
    /// q.shutdown(false)?;
    /// assert!(q.put(2).unwrap_err().is_remote("queue.ShutDown"));
    /// let one: i64 = q.get()?;
    /// assert_eq!(one, 1);
    /// assert!(q.get::<i64>().unwrap_err().is_remote("queue.ShutDown"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self, immediate: bool) -> Result<()> {
        self.call_method("shutdown", vec![PyValue::Bool(immediate)], vec![])?;
        Ok(())
    }
}
