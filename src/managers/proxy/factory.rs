//! The typed constructors of [`Manager`]: `m.dict()`, `m.queue(0)`, `m.lock()`, ... (Python's
//! `SyncManager` methods), each a `create` wrapped in its typed proxy.

use serde::Serialize;

use super::{
    ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, ListProxy, LockProxy,
    NamespaceProxy, QueueProxy, ValueProxy,
};
use crate::managers::client::{FromPy, Manager, Proxy};
use crate::managers::pickle::PyValue;
use crate::Result;

/// `SyncManager`'s typed constructors.
impl Manager {
    fn typed<A: Serialize>(&self, typeid: &str, args: A) -> Result<Proxy> {
        self.create_with(typeid, args)
    }

    /// `m.dict()`: an empty shared dict.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// d.set("k", vec![1, 2])?;
    /// assert_eq!(d.get_item::<_, Vec<i64>>("k")?, [1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn dict(&self) -> Result<DictProxy> {
        Ok(DictProxy::from_proxy(self.typed("dict", ())?))
    }

    /// `m.dict(mapping)`: a shared dict filled from a serde map (or a `PyValue` dict).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let mut init = std::collections::BTreeMap::new();
    /// init.insert("a", 1);
    /// let d = m.dict_from(&init)?;
    /// assert_eq!(d.len()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn dict_from<T: Serialize + ?Sized>(&self, mapping: &T) -> Result<DictProxy> {
        let v = super::pickle::to_value(mapping)?;
        Ok(DictProxy::from_proxy(self.create(
            "dict",
            vec![v],
            vec![],
        )?))
    }

    /// `m.list()`: an empty shared list.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.list()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn list(&self) -> Result<ListProxy> {
        Ok(ListProxy::from_proxy(self.typed("list", ())?))
    }

    /// `m.list(values)`: a shared list filled from a serde sequence.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.list_from(&[1, 2, 3])?;
    /// assert_eq!(l.len()?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn list_from<T: Serialize + ?Sized>(&self, values: &T) -> Result<ListProxy> {
        let v = super::pickle::to_value(values)?;
        Ok(ListProxy::from_proxy(self.create(
            "list",
            vec![v],
            vec![],
        )?))
    }

    /// `m.Namespace()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("x", 5)?;
    /// assert_eq!(ns.get::<i64>("x")?, 5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        Ok(NamespaceProxy::from_proxy(self.typed("Namespace", ())?))
    }

    /// `m.Value(typecode, value)` (the server does no type checking).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let v = m.value('i', 7)?;
    /// assert_eq!(v.get::<i64>()?, 7);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn value<T: Serialize>(&self, typecode: char, value: T) -> Result<ValueProxy> {
        Ok(ValueProxy::from_proxy(
            self.typed("Value", (typecode.to_string(), value))?,
        ))
    }

    /// `m.Array(typecode, values)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let a = m.array('i', &[1, 2, 3])?;
    /// assert_eq!(a.slice::<i64>(0, 2)?, vec![1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn array<T: Serialize + ?Sized>(&self, typecode: char, values: &T) -> Result<ArrayProxy> {
        let v = super::pickle::to_value(values)?;
        let p = self.create("Array", vec![PyValue::str(typecode.to_string()), v], vec![])?;
        Ok(ArrayProxy::from_proxy(p))
    }

    /// `m.Queue(maxsize)` (0 = unbounded).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// q.put(1)?;
    /// assert_eq!(q.get::<i32>()?, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn queue(&self, maxsize: usize) -> Result<QueueProxy> {
        Ok(QueueProxy::from_proxy(self.typed("Queue", (maxsize,))?))
    }

    /// `m.JoinableQueue()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.joinable_queue()?;
    /// q.put(1)?;
    /// assert_eq!(q.get::<i32>()?, 1);
    /// q.task_done()?;
    /// q.join()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn joinable_queue(&self) -> Result<QueueProxy> {
        Ok(QueueProxy::from_proxy(self.typed("JoinableQueue", ())?))
    }

    /// `m.Lock()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.lock()?;
    /// let _g = l.guard()?;
    /// assert!(!l.try_acquire()?); // not re-entrant
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn lock(&self) -> Result<LockProxy> {
        Ok(LockProxy::from_proxy(self.typed("Lock", ())?))
    }

    /// `m.RLock()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.rlock()?;
    /// l.acquire()?;
    /// l.acquire()?; // re-entrant
    /// assert!(l.repr()?.contains("count=2"));
    /// l.release()?;
    /// l.release()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn rlock(&self) -> Result<LockProxy> {
        Ok(LockProxy::from_proxy(self.typed("RLock", ())?))
    }

    /// `m.Semaphore(value)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let s = m.semaphore(2)?;
    /// assert!(s.try_acquire()? && s.try_acquire()? && !s.try_acquire()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn semaphore(&self, value: usize) -> Result<LockProxy> {
        Ok(LockProxy::from_proxy(self.typed("Semaphore", (value,))?))
    }

    /// `m.BoundedSemaphore(value)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let s = m.bounded_semaphore(1)?;
    /// assert!(s.release().is_err()); // ValueError: released too many times
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn bounded_semaphore(&self, value: usize) -> Result<LockProxy> {
        Ok(LockProxy::from_proxy(
            self.typed("BoundedSemaphore", (value,))?,
        ))
    }

    /// `m.Condition()` (with a fresh RLock inside).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let c = m.condition()?;
    /// let g = c.guard()?;
    /// c.notify_all()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn condition(&self) -> Result<ConditionProxy> {
        Ok(ConditionProxy::from_proxy(self.typed("Condition", ())?))
    }

    /// `m.Event()`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let e = m.event()?;
    /// e.set()?;
    /// assert!(e.wait(None)?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn event(&self) -> Result<EventProxy> {
        Ok(EventProxy::from_proxy(self.typed("Event", ())?))
    }

    /// `m.Barrier(parties)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let b = m.barrier(1)?;
    /// assert_eq!(b.wait(None)?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy> {
        Ok(BarrierProxy::from_proxy(self.typed("Barrier", (parties,))?))
    }

    /// Decode a server value into `T` (helper for callers of [`Manager::server_call`]).
    ///
    /// ```
    /// use mpshare::managers::{client::Manager, pickle::PyValue};
    /// let n: i64 = Manager::decode(PyValue::Int(3))?;
    /// assert_eq!(n, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn decode<T: FromPy>(v: PyValue) -> Result<T> {
        T::from_py(v)
    }
}
