//! [`SimpleQueue`] (Python's `multiprocessing.SimpleQueue`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ring::Ring;
use crate::shm::{Options, SegKind};
use crate::synchronize::futex;
use crate::{Error, Result};

/// Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty`, `close` (the rest of the
/// [`Queue`](super::Queue) interface is there too, bounded by the ring's bytes).
///
/// ```
/// let q = mpshare::SimpleQueue::new(1024)?;
/// q.put(b"x")?;
/// assert!(!q.empty());
/// assert_eq!(q.get()?, b"x");
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SimpleQueue {
    ring: Ring,
    closed: Arc<AtomicBool>,
}

queue_common!(SimpleQueue, SegKind::SimpleQueue, "SimpleQueue");

#[cfg(feature = "manager")]
queue_serde!(SimpleQueue);
