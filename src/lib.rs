//! # mpshare
//!
//! What Python's `multiprocessing` gives Python processes for shared state, for Rust processes:
//!
//! * **Fast path, shared memory.** [`Value`] / [`Array`] (with a lock) and [`RawValue`] /
//!   [`RawArray`] (lock-free) hold the 14 ctypes typecodes or any `bytemuck::Pod` struct in
//!   `mmap`'d shared memory. Forked workers share them; unrelated processes open them by name.
//!   [`Lock`] and [`RLock`] are robust: a holder that dies never deadlocks the others.
//! * **Fallback path, the manager** (`mpshare::managers`, cargo feature `manager`, on by
//!   default): compound objects in a server, reached through proxies over CPython's own wire
//!   protocol. With `default-features = false` the crate is the shared-memory core alone.
//!
//! ```
//! use mpshare::{Value, RawValue};
//! let counter = Value::new(0i64)?;          // Python: Value('q', 0)
//! counter.update(|x| x + 1)?;               // with counter.get_lock(): counter.value += 1
//! let hits = RawValue::new(0u64)?;          // Python: RawValue('Q', 0)
//! hits.fetch_add(1);                        // exact without a lock
//! assert_eq!((counter.get()?, hits.get()), (1, 1));
//! # Ok::<(), mpshare::Error>(())
//! ```
//!
//! | Python | mpshare |
//! |---|---|
//! | `Value('i', 5)` | [`Value::new(5i32)`](Value::new) or [`DynValue::new('i', 5)`](DynValue::new) |
//! | `RawValue('d', 0.0)` | [`RawValue::new(0.0f64)`](RawValue::new) |
//! | `Array('d', 10)` / `Array('i', [1, 2])` | [`Array::<f64>::new(10)`](Array::new) / [`Array::from_slice(&[1i32, 2])`](Array::from_slice) |
//! | `v.value` / `v.value = x` | [`v.get()`](Value::get) / [`v.set(x)`](Value::set) (one lock each) |
//! | `with v.get_lock(): v.value += 1` | [`*v.lock()? += 1`](Value::lock) or [`v.update(\|x\| x + 1)`](Value::update) |
//! | `v.get_lock()`, `acquire()`, `release()` | [`Value::get_lock`], [`Value::acquire`], [`Value::release`] |
//! | `v.get_obj()` | [`Value::get_obj`] |
//! | `Lock()`, `RLock()` | [`Lock::new`], [`RLock::new`] |
//! | `lock.acquire(timeout=t)` | [`Lock::acquire_timeout`] |
//! | `a[i:j]`, `a[i:j] = xs` | [`Array::read`], [`Array::write`] |
//! | `SharedMemory(name)` | [`Value::create`] / [`Value::open`] (and `Array`, `Lock`, `RLock`) |
//! | `shared_memory.SharedMemory(name, create=True, size=n)` (raw, no header) | [`SharedMemory::create`] / [`SharedMemory::open`] |
//! | `shared_memory.ShareableList([1, 'a'], name=n)` | [`ShareableList::create`] / [`ShareableList::open`] |
//! | `Process(target=f).start()`, `join()`, `exitcode` | [`Process::new`], [`Process::start`], [`Process::join`], [`Process::exitcode`] ([`process`]) |
//! | `Pool(n).map(f, range(k))` | [`Pool::map`], [`Pool::map_chunks`] |
//! | `numpy.ndarray(shape, buffer=shm.buf)` | [`Array::new_nd`], [`Array::lock_nd`] |
//!
//! Modules follow Python's: [`sharedctypes`] (`Value`, `Array` and friends; [`Value`] and
//! [`Array`] are aliases of one locked wrapper, [`sharedctypes::Synchronized`]),
//! [`synchronize`] (locks), [`shared_memory`], and [`shm`] underneath (segments, header
//! layout, [`shm::segments`] / [`shm::remove_stale`] for stale segments).
//!
//! ## Soundness
//!
//! No safe call crashes, aliases shared memory or loses a segment *in this process*: dropping
//! every handle of a lock this thread holds keeps its mapping alive; a thread gets at most one
//! [`ArrayGuard`] (the only safe `&mut [T]` into shared memory) per segment, however it reached
//! the segment; lockless access to a locked array needs `unsafe` ([`Array::get_obj`],
//! [`RawArray::open_ignoring_lock`]). What no API can prevent is another process that ignores
//! the lock or truncates the segment (it then sees races, or dies with `SIGBUS`); see the
//! README's *Segment layout* section.
//!
//! ```
//! let name = format!("mpshare-doc-lib-{}", std::process::id());
//! let a = mpshare::Array::<u8>::create(&name, 4)?;
//! let b = mpshare::Array::<u8>::open(&name)?;   // another handle, another mapping
//! let g = a.lock()?;
//! assert!(matches!(b.lock(), Err(mpshare::Error::GuardAlreadyHeld)));
//! # drop(g);
//! # Ok::<(), mpshare::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod error;
#[cfg(feature = "manager")]
pub mod managers;
pub mod process;
pub mod queues;
pub mod shared_memory;
pub mod sharedctypes;
pub mod shm;
pub mod synchronize;
pub mod typecode;

pub use error::{Error, Result};
pub use process::{Pool, Process};
pub use shared_memory::{ShareableList, SharedMemory};
pub use sharedctypes::{
    Array, ArrayGuard, AtomicInt, DynArray, DynValue, RawArray, RawValue, Value, ValueGuard,
};
pub use synchronize::{Acquired, AnyLock, Lock, LockGuard, RLock};
// Coordination primitives and queues (issue 11).
pub use queues::{JoinableQueue, PodQueue, Queue, SimpleQueue};
pub use synchronize::{Barrier, BoundedSemaphore, Condition, Event, Semaphore};
pub use typecode::{CChar, Element, Scalar, TypeCode, WChar};

// Paths of 0.1, kept so existing code compiles; new code uses the paths above.
#[doc(hidden)]
pub use sharedctypes::{array, dynamic, value};
#[doc(hidden)]
pub use synchronize as sync;

/// The manager's old path (`mpshare::manager::...`), kept so existing code compiles.
#[cfg(feature = "manager")]
#[doc(hidden)]
pub use managers as manager;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(all(doctest, feature = "manager"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
