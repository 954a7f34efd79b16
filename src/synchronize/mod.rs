//! Python's `multiprocessing.synchronize`, in shared memory: robust interprocess locks.
//!
//! * `raw`: `RawMutex`, glibc's process-shared robust pthread mutex, owned by a segment.
//! * `fast`: the inline uncontended lock/unlock on glibc's own mutex and robust-list data.
//! * [`lock`]: the public [`Lock`], [`RLock`], [`AnyLock`] and [`LockGuard`].
//! * `futex`: the futex calls, shared-state view and spin policy of the primitives below.
//! * [`semaphore`], [`event`], [`condition`], [`barrier`]: [`Semaphore`],
//!   [`BoundedSemaphore`], [`Event`], [`Condition`], [`Barrier`].

mod fast;
pub mod lock;
pub(crate) mod raw;

// Coordination primitives (issue 11).
pub mod barrier;
pub mod condition;
pub mod event;
pub(crate) mod futex;
pub mod semaphore;

pub use lock::{AnyLock, Lock, LockGuard, RLock};
pub use raw::Acquired;

pub use barrier::Barrier;
pub use condition::{Condition, Woken};
pub use event::Event;
#[doc(hidden)]
pub use futex::fault;
pub use semaphore::{BoundedSemaphore, Permit, Semaphore};
