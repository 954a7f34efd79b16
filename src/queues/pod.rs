//! [`PodQueue`]: fixed-size typed messages copied as bytes.

use std::marker::PhantomData;
use std::time::Duration;

use super::ring::Ring;
use super::{record_len, Queue};
use crate::shm::{ElemDesc, Options, SegKind};
use crate::synchronize::futex;
use crate::{Element, Error, Result};

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
        Self::create_with(name, items, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// let name = format!("mpshare-doc-podqmode-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default().mode(0o660);
    /// let q = mpshare::PodQueue::<u64>::create_with(&name, 4, &opts)?;
    /// q.put(&9)?;
    /// assert_eq!(q.get()?, 9);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, items: usize, opts: &Options) -> Result<Self> {
        Self::wrap(Ring::build(
            Some((name, opts)),
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
