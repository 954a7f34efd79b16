//! [`Queue`]: byte messages (Python's `multiprocessing.Queue`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ring::Ring;
use crate::shm::{Options, SegKind};
use crate::synchronize::futex;
use crate::{Error, Result};

use super::DEFAULT_CAPACITY;

/// A bounded multi-producer multi-consumer queue of byte messages in shared memory (Python's
/// `multiprocessing.Queue`, minus the pickling: messages are bytes).
///
/// ```
/// use mpshare::Queue;
/// let q = Queue::new(4096)?;                       // Python: Queue()
/// q.put(b"job 1")?;
/// q.put_nowait(b"job 2")?;
/// assert_eq!((q.qsize(), q.empty()), (2, false));
/// assert_eq!(q.get()?, b"job 1");
/// assert_eq!(q.get_nowait()?, b"job 2");
/// assert!(matches!(q.get_nowait(), Err(mpshare::Error::QueueEmpty)));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Queue {
    pub(super) ring: Ring,
    closed: Arc<AtomicBool>,
}

queue_common!(Queue, SegKind::Queue, "Queue");
queue_maxsize!(Queue, SegKind::Queue);

impl Queue {
    /// A new anonymous queue with a [`DEFAULT_CAPACITY`] ring.
    ///
    /// ```
    /// assert_eq!(mpshare::Queue::new_default()?.capacity(), mpshare::queues::DEFAULT_CAPACITY);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_default() -> Result<Queue> {
        Queue::new(DEFAULT_CAPACITY)
    }
}

#[cfg(feature = "manager")]
queue_serde!(Queue);
