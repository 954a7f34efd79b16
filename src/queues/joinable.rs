//! [`JoinableQueue`]: a queue with `task_done` / `join` (Python's `JoinableQueue`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ring::Ring;
use crate::shm::{Options, SegKind};
use crate::synchronize::futex;
use crate::{Error, Result};

/// A [`Queue`](super::Queue) whose consumers confirm each message (Python's
/// `multiprocessing.JoinableQueue`): [`task_done`](Self::task_done) and [`join`](Self::join).
///
/// ```
/// use mpshare::JoinableQueue;
/// let q = JoinableQueue::new(4096)?;
/// q.put(b"work")?;
/// assert_eq!(q.unfinished_tasks(), 1);
/// let _job = q.get()?;
/// q.task_done()?;
/// assert!(q.join_timeout(std::time::Duration::ZERO)?); // every task is done
/// assert!(matches!(q.task_done(), Err(mpshare::Error::TaskDoneTooManyTimes)));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct JoinableQueue {
    ring: Ring,
    closed: Arc<AtomicBool>,
}

queue_common!(JoinableQueue, SegKind::JoinableQueue, "JoinableQueue");
queue_maxsize!(JoinableQueue, SegKind::JoinableQueue);

impl JoinableQueue {
    /// Mark one message taken with `get` as processed (Python's `task_done()`).
    ///
    /// ```
    /// let q = mpshare::JoinableQueue::new(64)?;
    /// assert!(matches!(q.task_done(), Err(mpshare::Error::TaskDoneTooManyTimes)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::TaskDoneTooManyTimes`] when more tasks are marked done than were put.
    pub fn task_done(&self) -> Result<()> {
        self.ring.task_done()
    }

    /// Block until every message put has been marked done (Python's `join()`).
    ///
    /// Unlike Python's, it does not wait forever for a consumer that died between `get` and
    /// `task_done`: the queue records, per consumer process (pid + start time), the tasks it
    /// took and has not marked done, and `join` looks for dead consumers about every 20 ms.
    /// A dead consumer's tasks were not done, so they are not counted as done: `join` waits
    /// for the others, then returns [`Error::TasksLost`] with how many were lost (once per
    /// handle and its clones; the next `join` returns `Ok` unless more are lost). A consumer
    /// that exits normally without `task_done` counts as dead. Up to 64 consumer processes
    /// holding tasks at once are tracked; tasks taken beyond that are not recovered.
    /// `task_done` is credited to the caller's own outstanding tasks, or, if it has none
    /// (tasks handed on to another process), to another consumer's.
    ///
    /// ```
    /// let q = mpshare::JoinableQueue::new(64)?;
    /// q.join()?; // nothing put: returns at once
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::TasksLost`] when consumers died holding tasks; lock errors.
    pub fn join(&self) -> Result<()> {
        self.join_inner(None).map(|_| ())
    }

    /// [`join`](Self::join) at most `timeout`; false on timeout.
    ///
    /// ```
    /// let q = mpshare::JoinableQueue::new(64)?;
    /// q.put(b"x")?;
    /// assert!(!q.join_timeout(std::time::Duration::from_millis(5))?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`join`](Self::join), reported only once every other task is done.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.join_inner(Some(timeout))
    }

    fn join_inner(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.ring.join(timeout)? {
            return Ok(false);
        }
        match self.ring.take_lost() {
            0 => Ok(true),
            count => Err(Error::TasksLost { count }),
        }
    }

    /// Messages put and not yet marked done.
    ///
    /// ```
    /// let q = mpshare::JoinableQueue::new(64)?;
    /// q.put(b"x")?;
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unfinished_tasks(&self) -> u64 {
        self.ring.unfinished()
    }
}

#[cfg(feature = "manager")]
queue_serde!(JoinableQueue);
