//! Python's `multiprocessing.queues` without a feeder thread or a pipe: bounded MPMC queues in
//! one shared-memory segment.
//!
//! * [`Queue`]: byte messages of any length up to the ring size (Python's `Queue`).
//! * [`JoinableQueue`]: a [`Queue`] with [`task_done`](JoinableQueue::task_done) /
//!   [`join`](JoinableQueue::join).
//! * [`SimpleQueue`]: the small interface of Python's `SimpleQueue`.
//! * [`PodQueue`]: typed messages (`T:` [`Element`](crate::Element), any `bytemuck::Pod`
//!   struct or scalar) copied as bytes, no serializer; the element type is checked on `open`.
//!
//! Each queue is bounded in bytes (its ring) and optionally in messages (`maxsize`). A message
//! that can never fit is [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) at once
//! instead of a hang. Producers and consumers each have a robust lock, and every put or get
//! commits with one store of its side's index: a producer killed mid-`put` never leaves a
//! torn message visible, a consumer killed mid-`get` leaves the message for the others, and
//! nobody waits on a dead process (see `ring`).
//!
//! Serde values (feature `manager`, on by default): `put_value` / `get_value` encode them as
//! pickles through the crate's pickle serde bridge, the bytes Python's `Queue.put` would send.

mod ring;
#[macro_use]
mod macros;
mod joinable;
mod pod;
mod queue;
mod simple;

pub use joinable::JoinableQueue;
pub use pod::PodQueue;
pub use queue::Queue;
pub use simple::SimpleQueue;

/// Ring size of [`Queue::new_default`]: 64 KiB.
///
/// ```
/// assert_eq!(mpshare::queues::DEFAULT_CAPACITY, 65536);
/// ```
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// Ring bytes a message of `len` bytes takes (an 8-byte header, payload padded to 8).
///
/// ```
/// assert_eq!(mpshare::queues::record_len(64), 72);
/// assert_eq!(mpshare::queues::record_len(1), 16);
/// ```
pub fn record_len(len: usize) -> usize {
    ring::record_len(len)
}
