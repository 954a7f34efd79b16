//! Python's `multiprocessing.synchronize`, in shared memory: robust interprocess locks.
//!
//! * `raw`: `RawMutex`, glibc's process-shared robust pthread mutex, owned by a segment.
//! * `fast`: the inline uncontended lock/unlock on glibc's own mutex and robust-list data.
//! * [`lock`]: the public [`Lock`], [`RLock`], [`AnyLock`] and [`LockGuard`].

mod fast;
pub mod lock;
pub(crate) mod raw;

pub use lock::{AnyLock, Lock, LockGuard, RLock};
pub use raw::Acquired;
