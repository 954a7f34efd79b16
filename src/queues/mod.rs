//! Python's `multiprocessing.queues` without a feeder thread or a pipe: bounded MPMC queues in
//! one shared-memory segment.
//!
//! * [`Queue`]: byte messages of any length up to the ring size (Python's `Queue`).
//! * [`JoinableQueue`]: a [`Queue`] with [`task_done`](JoinableQueue::task_done) /
//!   [`join`](JoinableQueue::join).
//! * [`SimpleQueue`]: the small interface of Python's `SimpleQueue`.
//! * [`PodQueue`]: typed messages (`T:` [`Element`], any `bytemuck::Pod`
//!   struct or scalar) copied as bytes, no serializer; the element type is checked on `open`.
//!
//! Each queue is bounded in bytes (its ring) and optionally in messages (`maxsize`). A message
//! that can never fit is [`Error::MessageTooLarge`] at once
//! instead of a hang. The queue's lock is robust and its counters are journaled: a producer
//! killed mid-`put` never leaves a torn message visible, a consumer killed mid-`get` leaves
//! the message for the others, and nobody waits on a dead process (see `ring`).
//!
//! Serde values (feature `manager`, on by default): `put_value` / `get_value` encode them as
//! pickles through the crate's pickle serde bridge, the bytes Python's `Queue.put` would send.

mod ring;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ring::Ring;

use crate::shm::{ElemDesc, SegKind};
use crate::synchronize::futex;
use crate::{Element, Error, Result};

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

macro_rules! queue_common {
    ($ty:ident, $kind:expr, $py:literal) => {
        impl $ty {
            /// The segment behind this handle (handover to spawned children,
            /// `crate::process`).
            pub(crate) fn segment(&self) -> &crate::shm::Segment {
                self.ring.segment()
            }

            #[doc = concat!("A new anonymous ", $py, " with a ring of `capacity` bytes (rounded up to 8), shared with `fork` children.")]
            ///
            /// A message of `len` bytes takes [`record_len(len)`](record_len) ring bytes.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(4096)?;")]
            /// assert_eq!(q.capacity(), 4096);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::InvalidArgument`] below 16 bytes; OS errors.
            pub fn new(capacity: usize) -> Result<Self> {
                Ok(Self::wrap(Ring::build(None, $kind, capacity, 0, None)?))
            }

            #[doc = concat!("Create the named ", $py, " `name` with a ring of `capacity` bytes.")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-q-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let a = mpshare::", stringify!($ty), "::create(&name, 1024)?;")]
            #[doc = concat!("let b = mpshare::", stringify!($ty), "::open(&name)?;")]
            /// a.put(b"hello")?;
            /// assert_eq!(b.get()?, b"hello");
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create(name: &str, capacity: usize) -> Result<Self> {
                Ok(Self::wrap(Ring::build(Some(name), $kind, capacity, 0, None)?))
            }

            #[doc = concat!("Open the named ", $py, " `name`.")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-qk-{}-{}", stringify!($ty), std::process::id());
            /// let _s = mpshare::Semaphore::create(&name, 1)?;
            #[doc = concat!("let err = mpshare::", stringify!($ty), "::open(&name).unwrap_err();")]
            /// assert!(matches!(err, mpshare::Error::LayoutMismatch { .. }), "{err}");
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::NotFound`]; [`Error::LayoutMismatch`] when it holds something else
            /// (another queue kind, or a [`PodQueue`]).
            pub fn open(name: &str) -> Result<Self> {
                Ok(Self::wrap(Ring::open(name, $kind, None)?))
            }

            #[doc = concat!("Open the named ", $py, " `name`, creating it with a ring of `capacity` bytes if it does not exist.")]
            ///
            /// ```
            /// let name = format!("mpshare-doc-qo-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let a = mpshare::", stringify!($ty), "::open_or_create(&name, 1024)?;")]
            #[doc = concat!("let b = mpshare::", stringify!($ty), "::open_or_create(&name, 64)?; // opens: 1024 bytes")]
            /// assert_eq!(b.capacity(), 1024);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn open_or_create(name: &str, capacity: usize) -> Result<Self> {
                futex::open_or_create(|| Self::create(name, capacity), || Self::open(name))
            }

            fn wrap(ring: Ring) -> Self {
                $ty {
                    ring,
                    closed: Arc::new(AtomicBool::new(false)),
                }
            }

            fn check_open(&self) -> Result<()> {
                if self.closed.load(Ordering::Relaxed) {
                    Err(Error::QueueClosed)
                } else {
                    Ok(())
                }
            }

            /// Put a message, waiting while the queue is full (Python's `put(obj)`).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(64)?;")]
            /// let err = q.put(&[0u8; 100]).unwrap_err(); // can never fit: an error, not a hang
            /// assert!(matches!(err, mpshare::Error::MessageTooLarge { len: 100, capacity: 64, max: 56 }));
            /// q.put(b"ok")?;
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::MessageTooLarge`], [`Error::QueueClosed`] after [`close`](Self::close).
            #[inline]
            pub fn put(&self, msg: &[u8]) -> Result<()> {
                self.check_open()?;
                self.ring.put(msg, None)
            }

            /// Put, waiting at most `timeout` for room (Python's `put(obj, timeout=t)`).
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(16)?;")]
            /// q.put(b"a")?;
            /// let r = q.put_timeout(b"b", Duration::from_millis(5));
            /// assert!(matches!(r, Err(mpshare::Error::QueueFull)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn put_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
                self.check_open()?;
                self.ring.put(msg, Some(timeout))
            }

            /// Put without waiting (Python's `put_nowait`): [`Error::QueueFull`] if no room.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(16)?;")]
            /// q.put_nowait(b"a")?;
            /// assert!(matches!(q.put_nowait(b"b"), Err(mpshare::Error::QueueFull)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn put_nowait(&self, msg: &[u8]) -> Result<()> {
                self.check_open()?;
                self.ring.put(msg, Some(Duration::ZERO))
            }

            /// Take the oldest message, waiting while the queue is empty (Python's `get()`).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// q.put(b"first")?;
            /// q.put(b"second")?;
            /// assert_eq!(q.get()?, b"first");
            /// assert_eq!(q.get()?, b"second");
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn get(&self) -> Result<Vec<u8>> {
                let mut v = Vec::new();
                self.get_into(&mut v)?;
                Ok(v)
            }

            /// Take the oldest message into `buf` (reusing its allocation).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// let mut buf = Vec::with_capacity(64);
            /// q.put(b"abc")?;
            /// q.get_into(&mut buf)?;
            /// assert_eq!(buf, b"abc");
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            #[inline]
            pub fn get_into(&self, buf: &mut Vec<u8>) -> Result<()> {
                self.check_open()?;
                self.ring.get_into(buf, None)
            }

            /// [`get_into`](Self::get_into), waiting at most `timeout`: [`Error::QueueEmpty`] on
            /// timeout.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// let mut buf = Vec::new();
            /// q.put(b"x")?;
            /// q.get_into_timeout(&mut buf, std::time::Duration::from_secs(1))?;
            /// assert_eq!(buf, b"x");
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn get_into_timeout(&self, buf: &mut Vec<u8>, timeout: Duration) -> Result<()> {
                self.check_open()?;
                self.ring.get_into(buf, Some(timeout))
            }

            /// Take a message, waiting at most `timeout` (Python's `get(timeout=t)`):
            /// [`Error::QueueEmpty`] on timeout.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// let t = Instant::now();
            /// assert!(matches!(q.get_timeout(Duration::from_millis(20)), Err(mpshare::Error::QueueEmpty)));
            /// assert!(t.elapsed() >= Duration::from_millis(20));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn get_timeout(&self, timeout: Duration) -> Result<Vec<u8>> {
                self.check_open()?;
                let mut v = Vec::new();
                self.ring.get_into(&mut v, Some(timeout))?;
                Ok(v)
            }

            /// Take a message without waiting (Python's `get_nowait`).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// assert!(matches!(q.get_nowait(), Err(mpshare::Error::QueueEmpty)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn get_nowait(&self) -> Result<Vec<u8>> {
                self.get_timeout(Duration::ZERO)
            }

            /// Messages in the queue now (Python's `qsize()`, exact here).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// q.put(b"x")?;
            /// assert_eq!(q.qsize(), 1);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn qsize(&self) -> usize {
                self.ring.qsize()
            }

            /// True when no message is queued (Python's `empty()`).
            ///
            /// ```
            #[doc = concat!("assert!(mpshare::", stringify!($ty), "::new(64)?.empty());")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn empty(&self) -> bool {
                self.ring.qsize() == 0
            }

            /// True when not even an empty message fits, or `maxsize` messages are queued
            /// (Python's `full()`).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(16)?;")]
            /// q.put(b"12345678")?;
            /// assert!(q.full());
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn full(&self) -> bool {
                self.ring.full()
            }

            /// Ring bytes in use now.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(1024)?;")]
            /// q.put(&[7u8; 64])?;
            /// assert_eq!(q.bytes_used(), mpshare::queues::record_len(64));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn bytes_used(&self) -> usize {
                self.ring.bytes_used()
            }

            /// Ring size in bytes.
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new(100)?.capacity(), 104);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn capacity(&self) -> usize {
                self.ring.capacity()
            }

            /// The largest message this queue accepts.
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new(1024)?.max_message(), 1016);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn max_message(&self) -> usize {
                self.ring.max_message()
            }

            /// Python's `close()`: this handle (and its clones in this process) will neither
            /// put nor get any more ([`Error::QueueClosed`]); other processes are unaffected.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(64)?;")]
            /// q.close();
            /// assert!(matches!(q.put(b"x"), Err(mpshare::Error::QueueClosed)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn close(&self) {
                self.closed.store(true, Ordering::Relaxed);
            }

            /// True after [`close`](Self::close) on this handle.
            ///
            /// ```
            #[doc = concat!("assert!(!mpshare::", stringify!($ty), "::new(64)?.is_closed());")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn is_closed(&self) -> bool {
                self.closed.load(Ordering::Relaxed)
            }

            /// The OS name (`/name`) of a named queue.
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new(64)?.name(), None);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn name(&self) -> Option<&str> {
                self.ring.segment_name()
            }

            /// Keep the name in `/dev/shm` when the creator's handles drop.
            ///
            /// ```
            #[doc = concat!("mpshare::", stringify!($ty), "::new(64)?.persist();")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn persist(&self) {
                self.ring.persist()
            }

            /// Remove the name now; processes that have the queue keep using it.
            ///
            /// ```
            #[doc = concat!("mpshare::", stringify!($ty), "::new(64)?.unlink()?;")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn unlink(&self) -> Result<()> {
                self.ring.unlink()
            }
        }
    };
}

macro_rules! queue_maxsize {
    ($ty:ident, $kind:expr) => {
        impl $ty {
            /// A new anonymous queue of `capacity` ring bytes holding at most `maxsize`
            /// messages (Python's `maxsize`; 0 = only the bytes limit).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::with_maxsize(4096, 2)?;")]
            /// q.put(b"1")?;
            /// q.put(b"2")?;
            /// assert!(q.full() && matches!(q.put_nowait(b"3"), Err(mpshare::Error::QueueFull)));
            /// assert_eq!(q.maxsize(), 2);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn with_maxsize(capacity: usize, maxsize: usize) -> Result<Self> {
                Ok(Self::wrap(Ring::build(None, $kind, capacity, maxsize, None)?))
            }

            /// Create the named queue `name` with a message limit (see
            /// [`with_maxsize`](Self::with_maxsize)).
            ///
            /// ```
            /// let name = format!("mpshare-doc-qm-{}-{}", stringify!($ty), std::process::id());
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::create_with_maxsize(&name, 4096, 3)?;")]
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::open(&name)?.maxsize(), 3);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create_with_maxsize(name: &str, capacity: usize, maxsize: usize) -> Result<Self> {
                Ok(Self::wrap(Ring::build(Some(name), $kind, capacity, maxsize, None)?))
            }

            /// The message limit (0: none besides the ring's bytes).
            ///
            /// ```
            #[doc = concat!("assert_eq!(mpshare::", stringify!($ty), "::new(64)?.maxsize(), 0);")]
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn maxsize(&self) -> usize {
                self.ring.maxsize()
            }
        }
    };
}

/// Serde values through the crate's pickle bridge (feature `manager`): a message is the
/// pickle (protocol 4) of the value, as Python's `Queue.put` would send it.
#[cfg(feature = "manager")]
macro_rules! queue_serde {
    ($ty:ident) => {
        impl $ty {
            /// Put a serde value, encoded as a pickle (Python's `put(obj)`).
            ///
            /// ```
            /// use std::collections::BTreeMap;
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(4096)?;")]
            /// let job = BTreeMap::from([("id".to_string(), 7i64)]);
            /// q.put_value(&job)?;
            /// let back: BTreeMap<String, i64> = q.get_value()?;
            /// assert_eq!(back, job);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::Conversion`] when the value has no pickle form; those of
            /// [`put`](Self::put).
            pub fn put_value<V: serde::Serialize + ?Sized>(&self, value: &V) -> Result<()> {
                use crate::managers::pickle;
                self.put(&pickle::dumps(&pickle::to_value(value)?)?)
            }

            /// Take a message and decode it as a serde value (waits while empty).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(4096)?;")]
            /// q.put_value(&(1u8, "two", 3.0f64))?;
            /// let t: (u8, String, f64) = q.get_value()?;
            /// assert_eq!(t, (1, "two".to_string(), 3.0));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::Pickle`] / [`Error::Conversion`] when the message is not a pickle of a
            /// `V`; those of [`get`](Self::get).
            pub fn get_value<V: serde::de::DeserializeOwned>(&self) -> Result<V> {
                use crate::managers::pickle;
                pickle::from_value(pickle::loads(&self.get()?)?)
            }

            /// [`get_value`](Self::get_value), waiting at most `timeout`
            /// ([`Error::QueueEmpty`]).
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(4096)?;")]
            /// let r = q.get_value_timeout::<i64>(std::time::Duration::from_millis(1));
            /// assert!(matches!(r, Err(mpshare::Error::QueueEmpty)));
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn get_value_timeout<V: serde::de::DeserializeOwned>(
                &self,
                timeout: Duration,
            ) -> Result<V> {
                use crate::managers::pickle;
                pickle::from_value(pickle::loads(&self.get_timeout(timeout)?)?)
            }
        }
    };
}

#[cfg(feature = "manager")]
queue_serde!(Queue);
#[cfg(feature = "manager")]
queue_serde!(JoinableQueue);
#[cfg(feature = "manager")]
queue_serde!(SimpleQueue);

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
    ring: Ring,
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

/// A [`Queue`] whose consumers confirm each message (Python's
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

/// Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty`, `close` (the rest of the
/// [`Queue`] interface is there too, bounded by the ring's bytes).
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

/// A queue of fixed-size typed messages: `T` is copied in and out as bytes (no serializer).
/// Named ones record `T` (typecode, or size, alignment and type-name hash of a struct) and
/// [`open`](Self::open) checks it.
///
/// ```
/// use mpshare::PodQueue;
/// #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
/// #[repr(C)]
/// struct Job { id: u64, x: f64 }
/// impl mpshare::Element for Job {}
///
/// let q = PodQueue::<Job>::new(100)?;             // room for 100 jobs
/// q.put(&Job { id: 1, x: 0.5 })?;
/// assert_eq!(q.get()?, Job { id: 1, x: 0.5 });
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct PodQueue<T: Element> {
    inner: Queue,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for PodQueue<T> {
    fn clone(&self) -> Self {
        PodQueue {
            inner: self.inner.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> PodQueue<T> {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.inner.segment()
    }

    fn ring_for(items: usize) -> usize {
        items
            .max(1)
            .saturating_mul(record_len(std::mem::size_of::<T>()))
    }

    /// A new anonymous queue with room for `items` messages.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u32>::new(2)?;
    /// q.put(&1)?;
    /// q.put(&2)?;
    /// assert!(q.full());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(items: usize) -> Result<Self> {
        Self::wrap(Ring::build(
            None,
            SegKind::Queue,
            Self::ring_for(items),
            0,
            Some(ElemDesc::of::<T>()),
        )?)
    }

    /// Create the named queue `name` with room for `items` messages of `T`.
    ///
    /// ```
    /// let name = format!("mpshare-doc-podq-{}", std::process::id());
    /// let a = mpshare::PodQueue::<f64>::create(&name, 8)?;
    /// let b = mpshare::PodQueue::<f64>::open(&name)?;
    /// a.put(&2.5)?;
    /// assert_eq!(b.get()?, 2.5);
    /// let err = mpshare::PodQueue::<u32>::open(&name).unwrap_err();
    /// assert!(err.to_string().contains("holds Queue of 'd'"), "{err}");
    /// assert!(matches!(mpshare::Queue::open(&name), Err(mpshare::Error::LayoutMismatch { .. })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, items: usize) -> Result<Self> {
        Self::wrap(Ring::build(
            Some(name),
            SegKind::Queue,
            Self::ring_for(items),
            0,
            Some(ElemDesc::of::<T>()),
        )?)
    }

    /// Open the named queue `name`, checking that it holds `T`.
    ///
    /// ```
    /// let r = mpshare::PodQueue::<u8>::open("mpshare-doc-no-such-podq");
    /// assert!(matches!(r, Err(mpshare::Error::NotFound { .. })));
    /// ```
    pub fn open(name: &str) -> Result<Self> {
        Self::wrap(Ring::open(name, SegKind::Queue, Some(ElemDesc::of::<T>()))?)
    }

    /// Open the named queue `name`, creating it for `items` messages if it does not exist.
    ///
    /// ```
    /// let name = format!("mpshare-doc-podqo-{}", std::process::id());
    /// let a = mpshare::PodQueue::<i64>::open_or_create(&name, 4)?;
    /// let b = mpshare::PodQueue::<i64>::open_or_create(&name, 4)?;
    /// a.put(&-1)?;
    /// assert_eq!(b.get()?, -1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, items: usize) -> Result<Self> {
        futex::open_or_create(|| Self::create(name, items), || Self::open(name))
    }

    fn wrap(ring: Ring) -> Result<Self> {
        Ok(PodQueue {
            inner: Queue::wrap(ring),
            _t: PhantomData,
        })
    }

    /// Put `item`, waiting while full.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(4)?;
    /// q.put(&7)?;
    /// assert_eq!(q.qsize(), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn put(&self, item: &T) -> Result<()> {
        self.inner.put(bytemuck::bytes_of(item))
    }

    /// Put, waiting at most `timeout`: [`Error::QueueFull`] on timeout.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(1)?;
    /// q.put(&1)?;
    /// assert!(matches!(q.put_timeout(&2, std::time::Duration::from_millis(1)), Err(mpshare::Error::QueueFull)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<()> {
        self.inner.put_timeout(bytemuck::bytes_of(item), timeout)
    }

    /// Put without waiting: [`Error::QueueFull`] if no room.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(1)?;
    /// q.put_nowait(&1)?;
    /// assert!(q.put_nowait(&2).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn put_nowait(&self, item: &T) -> Result<()> {
        self.inner.put_nowait(bytemuck::bytes_of(item))
    }

    fn get_inner(&self, timeout: Option<Duration>) -> Result<T> {
        self.inner.check_open()?;
        self.inner.ring.get_with(timeout, |r, pos, len| {
            let mut item = T::zeroed();
            let bytes = bytemuck::bytes_of_mut(&mut item);
            if len != bytes.len() {
                return Err(Error::LengthMismatch {
                    expected: bytes.len(),
                    found: len,
                });
            }
            r.ring_read(pos, bytes);
            Ok(item)
        })
    }

    /// Take the oldest item, waiting while empty.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(2)?;
    /// q.put(&3)?;
    /// assert_eq!(q.get()?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> Result<T> {
        self.get_inner(None)
    }

    /// Take an item, waiting at most `timeout`: [`Error::QueueEmpty`] on timeout.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(2)?;
    /// assert!(matches!(q.get_timeout(std::time::Duration::from_millis(1)), Err(mpshare::Error::QueueEmpty)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_inner(Some(timeout))
    }

    /// Take an item without waiting.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u16>::new(2)?;
    /// assert!(q.get_nowait().is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_nowait(&self) -> Result<T> {
        self.get_inner(Some(Duration::ZERO))
    }

    /// Items queued now.
    ///
    /// ```
    /// assert_eq!(mpshare::PodQueue::<u8>::new(2)?.qsize(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.inner.qsize()
    }

    /// True when empty.
    ///
    /// ```
    /// assert!(mpshare::PodQueue::<u8>::new(2)?.empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.inner.empty()
    }

    /// True when no further item fits.
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u64>::new(1)?;
    /// q.put(&1)?;
    /// assert!(q.full());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn full(&self) -> bool {
        self.inner.bytes_used() + record_len(std::mem::size_of::<T>()) > self.inner.capacity()
    }

    /// Close this handle (see [`Queue::close`]).
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u8>::new(2)?;
    /// q.close();
    /// assert!(q.put(&1).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn close(&self) {
        self.inner.close()
    }

    /// The byte queue underneath (same segment).
    ///
    /// ```
    /// let q = mpshare::PodQueue::<u32>::new(2)?;
    /// q.put(&0x01020304)?;
    /// assert_eq!(q.as_bytes_queue().get()?, 0x01020304u32.to_ne_bytes());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn as_bytes_queue(&self) -> &Queue {
        &self.inner
    }

    /// The OS name (`/name`) of a named queue.
    ///
    /// ```
    /// assert_eq!(mpshare::PodQueue::<u8>::new(2)?.name(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Keep the name in `/dev/shm` when the creator's handles drop.
    ///
    /// ```
    /// mpshare::PodQueue::<u8>::new(2)?.persist();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.inner.persist()
    }

    /// Remove the name now.
    ///
    /// ```
    /// mpshare::PodQueue::<u8>::new(2)?.unlink()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        self.inner.unlink()
    }
}
