//! The methods every queue kind shares, generated per type by macros (each expands in the
//! type's own module, which brings the names they use into scope).

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
            /// A message of `len` bytes takes [`record_len(len)`](crate::queues::record_len) ring bytes.
            ///
            /// ```
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::new(4096)?;")]
            /// assert_eq!(q.capacity(), 4096);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            ///
            /// # Errors
            /// [`Error::InvalidArgument`] below 16 bytes or above 4 GiB − 8 (offsets are 32-bit);
            /// OS errors.
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
                Self::create_with(name, capacity, &Options::default())
            }

            /// [`create`](Self::create) with [`Options`] (the permission bits).
            ///
            /// ```
            /// let name = format!("mpshare-doc-qmode-{}-{}", stringify!($ty), std::process::id());
            /// let opts = mpshare::shm::Options::default().mode(0o660);
            #[doc = concat!("let q = mpshare::", stringify!($ty), "::create_with(&name, 1024, &opts)?;")]
            /// assert_eq!(q.capacity(), 1024);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn create_with(name: &str, capacity: usize, opts: &Options) -> Result<Self> {
                Ok(Self::wrap(Ring::build(Some((name, opts)), $kind, capacity, 0, None)?))
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
            /// (another queue kind, or a [`PodQueue`](crate::queues::PodQueue)).
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

            pub(super) fn wrap(ring: Ring) -> Self {
                $ty {
                    ring,
                    closed: Arc::new(AtomicBool::new(false)),
                }
            }

            pub(super) fn check_open(&self) -> Result<()> {
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
                Ok(Self::wrap(Ring::build(
                    Some((name, &Options::default())),
                    $kind,
                    capacity,
                    maxsize,
                    None,
                )?))
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
