//! [`Synchronized`]: a shared object together with its interprocess lock, the one wrapper
//! behind [`Value`](crate::Value) and [`Array`](crate::Array), as `lock_api::Mutex<R, T>`
//! wraps a raw lock. The lock and name methods live here once; the element methods are in
//! `value.rs` and `array.rs`.

use std::fmt;

use crate::synchronize::raw::RawMutex;
use crate::synchronize::AnyLock;
use crate::{Acquired, Error, Result, TypeCode};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// The lock-free objects a [`Synchronized`] wraps: [`RawValue`](crate::RawValue) and
/// [`RawArray`](crate::RawArray). Sealed.
pub trait RawObject: Clone + sealed::Sealed {
    /// The OS name (`/name`) of a named segment.
    fn name(&self) -> Option<&str>;
    /// Keep the name when the creator's handles drop.
    fn persist(&self);
    /// Remove the name now; mappings stay valid.
    fn unlink(&self) -> Result<()>;
    /// The typecode of the element, or `None` for a struct.
    fn typecode(&self) -> Option<TypeCode>;
}

/// A shared object with an interprocess lock (Python's `synchronized` wrapper that
/// `multiprocessing.Value` and `multiprocessing.Array` return with `lock=True`).
///
/// Use it through its aliases [`Value<T>`](crate::Value) (`Synchronized<RawValue<T>>`) and
/// [`Array<T>`](crate::Array) (`Synchronized<RawArray<T>>`).
///
/// ```
/// use mpshare::{sharedctypes::Synchronized, RawValue, Value};
/// let v: Synchronized<RawValue<i32>> = Value::new(1)?;
/// let _g = v.get_lock().lock()?;
/// assert_eq!(v.typecode(), Some(mpshare::TypeCode::Int));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct Synchronized<R: RawObject> {
    pub(crate) raw: R,
    pub(crate) lock: AnyLock,
}

impl<R: RawObject + fmt::Debug> fmt::Debug for Synchronized<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Synchronized")
            .field("raw", &self.raw)
            .field("lock", &self.lock)
            .finish()
    }
}

impl<R: RawObject> Synchronized<R> {
    /// Pair `raw` with the lock found in its header, or refuse a segment without one.
    pub(crate) fn assemble(raw: R, lock: Option<RawMutex>) -> Result<Self> {
        let lock = lock.ok_or_else(|| Error::BadSegment {
            name: raw.name().unwrap_or("<anonymous>").to_string(),
            reason: "no lock in the header".into(),
        })?;
        Ok(Synchronized {
            raw,
            lock: AnyLock::from_raw(lock),
        })
    }

    /// The lock (Python's `get_lock()`).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// assert!(a.get_lock().is_recursive()); // Python's default lock=True is an RLock
    /// let v = mpshare::Value::new(0u8)?;
    /// drop(v.get_lock().lock()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_lock(&self) -> &AnyLock {
        &self.lock
    }

    /// Acquire the lock (Python's `acquire()`); pair with [`release`](Self::release).
    ///
    /// ```
    /// let v = mpshare::Value::new(0u8)?;
    /// let _ = v.acquire()?;
    /// v.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<Acquired> {
        self.lock.acquire()
    }

    /// Release the lock (Python's `release()`).
    ///
    /// ```
    /// let a = mpshare::Array::<u8>::new(1)?;
    /// assert!(matches!(a.release(), Err(mpshare::Error::NotOwner))); // not held
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn release(&self) -> Result<()> {
        self.lock.release()
    }

    /// The typecode, or `None` for a struct.
    ///
    /// ```
    /// assert_eq!(mpshare::Value::new(0f32)?.typecode(), Some(mpshare::TypeCode::Float));
    /// assert_eq!(mpshare::Array::<i8>::new(1)?.typecode(), Some(mpshare::TypeCode::SignedChar));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn typecode(&self) -> Option<TypeCode> {
        self.raw.typecode()
    }

    /// The OS name (`/name`) of a named object.
    ///
    /// ```
    /// assert!(mpshare::Value::new(0f32)?.name().is_none());
    /// let name = format!("mpshare-doc-sync-name-{}", std::process::id());
    /// assert_eq!(mpshare::Array::<u8>::create(&name, 1)?.name(), Some(&*format!("/{name}")));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.raw.name()
    }

    /// Keep the name when the creator's handles drop.
    ///
    /// ```
    /// let name = format!("mpshare-doc-v-persist-{}", std::process::id());
    /// mpshare::Value::create(&name, 1u8)?.persist();
    /// assert_eq!(mpshare::Value::<u8>::open(&name)?.get()?, 1);
    /// mpshare::shm::unlink(&name)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.raw.persist();
    }

    /// Remove the name now; mappings stay valid.
    ///
    /// ```
    /// let name = format!("mpshare-doc-a-unlink-{}", std::process::id());
    /// let a = mpshare::Array::<u8>::create(&name, 1)?;
    /// a.unlink()?;
    /// assert!(mpshare::Array::<u8>::open(&name).is_err());
    /// a.set(0, 1)?; // still mapped here
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        self.raw.unlink()
    }
}
