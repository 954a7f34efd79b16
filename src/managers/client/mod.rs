//! The manager client: connect to a manager server (stock CPython `SyncManager` or mpshare's
//! own), create shared objects and call their methods through proxies.
//!
//! Two kinds of connections are used, exactly like CPython's client (`docs/protocol.md` §5):
//!
//! * **one-shot connections** for server functions (`dummy`, `create`, `incref`, `decref`,
//!   `number_of_objects`, `debug_info`, `get_methods`, `shutdown`): connect, handshake, one
//!   request, one reply, close;
//! * **one proxy connection per (thread, manager)**, opened lazily with
//!   `accept_connection("RustProcess-<pid>|<thread name or id>")` on the first proxy call a
//!   thread makes, reused by every proxy of that manager in that thread, and closed when the
//!   thread ends (or when the last [`Manager`] handle is dropped in that thread). Because each
//!   thread has its own connection, a blocking call (`Queue.get`, `Lock.acquire`,
//!   `Event.wait`...) blocks only its own thread, and `RLock`/`Condition` ownership (which the
//!   server ties to the connection) is per thread, as in Python.
//!
//! Refcounting: `create` leaves the new object at refcount 1; a CPython client then sends
//! `incref` and `decref` on two more connections. This client simply **adopts** the `create`
//! reference (and the one of a `#PROXY` reply): the returned [`Proxy`] owns one reference and
//! sends one `decref` (on a one-shot connection, with bounded timeouts, errors ignored) when it
//! is dropped. [`Proxy::try_clone`] sends an `incref`.
//!
//! ```
//! # let server = mpshare::managers::server::Server::bind(&"127.0.0.1:0".parse()?, mpshare::managers::auth::AuthKey::from("secret"))?.spawn()?;
//! # let address = server.address().clone();
//! use mpshare::managers::{auth::AuthKey, client::Manager};
//! // `address` is the server's, e.g. "127.0.0.1:50000".parse()?
//! let m = Manager::connect(&address, AuthKey::from("secret"))?;
//! let d = m.dict()?;
//! d.set("a", 1)?;
//! assert_eq!(d.get_item::<_, i64>("a")?, 1);
//! let q = m.queue(0)?;
//! q.put("job")?;
//! assert_eq!(q.get::<String>()?, "job");
//! # Ok::<(), mpshare::Error>(())
//! ```

mod handle;
pub mod pipeline;

pub use handle::{args_of, proxy_class, unwrap_builtin_list, FromPy, Proxy, Returned};
pub use pipeline::{Pipeline, DEFAULT_PIPELINE_BATCH, PIPELINE_CHUNK_BYTES};

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::auth::{self, AuthKey};
use super::connection::{Address, Connection, ConnectionConfig, DEFAULT_MAX_FRAME};
use super::pickle::PyValue;
use super::wire::{self, shape, ProxyRef, Reader, Reply, Request, Token};
use crate::{Error, Result};

/// Timeouts and limits of a [`Manager`] client.
///
/// ```
/// use mpshare::managers::client::ClientConfig;
/// use std::time::Duration;
/// let cfg = ClientConfig { call_timeout: Some(Duration::from_secs(30)), ..ClientConfig::default() };
/// assert_eq!(cfg.connect_timeout, Duration::from_secs(10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Time allowed to establish a TCP / Unix connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for the mutual authkey handshake (default 20 s).
    pub handshake_timeout: Duration,
    /// Time allowed for the reply of a server function on a one-shot connection (`create`,
    /// `incref`, ... ; default 60 s).
    pub server_call_timeout: Duration,
    /// Read timeout for the reply of a proxy call (default `None`: wait forever, so that
    /// blocking calls such as `Queue.get()` or `Lock.acquire()` can block). A call that times out
    /// fails with [`Error::Timeout`] and its thread's proxy connection is discarded (the late
    /// reply would put it out of step); the next call opens a new one.
    pub call_timeout: Option<Duration>,
    /// Bound on each step (connect, handshake, reply) of the `decref` a dropped [`Proxy`] sends
    /// (default 5 s). Drop never panics; failures are ignored.
    pub drop_timeout: Duration,
    /// Largest reply frame accepted (default 64 MiB).
    pub max_frame: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(20),
            server_call_timeout: Duration::from_secs(60),
            call_timeout: None,
            drop_timeout: Duration::from_secs(5),
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

static NEXT_MANAGER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's proxy connections, keyed by manager id, with the pid that opened each: a
    /// forked child inherits the map but must not talk on its parent's socket.
    static PROXY_CONNS: RefCell<HashMap<u64, (u32, Connection)>> = RefCell::new(HashMap::new());
}

struct Inner {
    id: u64,
    address: Address,
    authkey: AuthKey,
    config: ClientConfig,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Close this thread's proxy connection of this manager; other threads close theirs when
        // they end. `try_with`/`try_borrow_mut`: never panic, also during thread teardown.
        let id = self.id;
        let _ = PROXY_CONNS.try_with(|m| {
            if let Ok(mut m) = m.try_borrow_mut() {
                m.remove(&id)
            } else {
                None
            }
        });
    }
}

/// A client of one manager server. Cheap to clone (an `Arc` inside), `Send + Sync`.
///
/// ```
/// # let server = mpshare::managers::server::Server::bind(&"127.0.0.1:0".parse()?, mpshare::managers::auth::AuthKey::from("secret"))?.spawn()?;
/// # let address = server.address().clone();
/// use mpshare::managers::{auth::AuthKey, client::Manager};
/// // `address` is the server's, e.g. "127.0.0.1:50000".parse()?
/// let m = Manager::connect(&address, AuthKey::from("secret"))?;
/// let l = m.list()?;
/// l.append(3)?;
/// assert_eq!(l.len()?, 1);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("address", &self.inner.address)
            .field("id", &self.inner.id)
            .finish()
    }
}

/// The address as CPython spells it inside a `Token`: `(host, port)`, a `str` path, or
/// `bytes` `b'\x00name'` for an abstract socket.
///
/// ```
/// use mpshare::managers::client::address_to_value;
/// let a = "127.0.0.1:5000".parse()?;
/// assert_eq!(address_to_value(&a).to_string(), "('127.0.0.1', 5000)");
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn address_to_value(address: &Address) -> PyValue {
    wire::address_to_value(address)
}

fn connection_name() -> String {
    let t = std::thread::current();
    let who = match t.name() {
        Some(n) => n.to_string(),
        None => format!("{:?}", t.id()),
    };
    format!("RustProcess-{}|{}", std::process::id(), who)
}

impl Manager {
    /// Connect to the manager at `address` with `authkey`: one `dummy` round trip on a one-shot
    /// connection (like CPython's `BaseManager.connect()`), default [`ClientConfig`].
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::Manager};
    /// // Nothing listens on this fresh Unix path: connecting fails cleanly.
    /// let path = std::env::temp_dir().join(format!("mpshare-doc-none-{}", std::process::id()));
    /// assert!(Manager::connect(&mpshare::managers::connection::Address::Unix(path), AuthKey::from("k")).is_err());
    /// ```
    pub fn connect(address: &Address, authkey: AuthKey) -> Result<Manager> {
        Manager::connect_with(address, authkey, ClientConfig::default())
    }

    /// [`Manager::connect`] with explicit timeouts and limits.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// use std::time::Duration;
    /// let path = std::env::temp_dir().join(format!("mpshare-doc-none2-{}", std::process::id()));
    /// let cfg = ClientConfig { connect_timeout: Duration::from_secs(1), ..ClientConfig::default() };
    /// let r = Manager::connect_with(&mpshare::managers::connection::Address::Unix(path), AuthKey::from("k"), cfg);
    /// assert!(r.is_err());
    /// ```
    pub fn connect_with(
        address: &Address,
        authkey: AuthKey,
        config: ClientConfig,
    ) -> Result<Manager> {
        let m = Manager::new_unchecked(address, authkey, config);
        m.dummy()?;
        Ok(m)
    }

    /// A client handle without the `dummy` round trip (no I/O until the first call).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// let m = Manager::new_unchecked(&"127.0.0.1:1".parse()?, AuthKey::from("k"), ClientConfig::default());
    /// assert_eq!(m.address().to_string(), "127.0.0.1:1");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new_unchecked(address: &Address, authkey: AuthKey, config: ClientConfig) -> Manager {
        Manager {
            inner: Arc::new(Inner {
                id: NEXT_MANAGER_ID.fetch_add(1, Ordering::Relaxed),
                address: address.clone(),
                authkey,
                config,
            }),
        }
    }

    /// The server's address.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// let m = Manager::new_unchecked(&"@mgr".parse()?, AuthKey::from("k"), ClientConfig::default());
    /// assert_eq!(m.address().to_string(), "@mgr");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// The client settings.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// let m = Manager::new_unchecked(&"@mgr".parse()?, AuthKey::from("k"), ClientConfig::default());
    /// assert!(m.config().call_timeout.is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether two handles are clones of the same client (they share proxy connections).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// let m = Manager::new_unchecked(&"@mgr".parse()?, AuthKey::from("k"), ClientConfig::default());
    /// assert!(m.same_client(&m.clone()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn same_client(&self, other: &Manager) -> bool {
        self.inner.id == other.inner.id
    }

    fn open(&self, step_timeout: Duration, read_timeout: Duration) -> Result<Connection> {
        let cfg = ConnectionConfig {
            max_frame: self.inner.config.max_frame,
            handshake_timeout: step_timeout.min(self.inner.config.handshake_timeout),
            idle_timeout: Some(read_timeout),
            write_timeout: Some(read_timeout),
        };
        let connect_timeout = step_timeout.min(self.inner.config.connect_timeout);
        let mut conn = Connection::connect_with(&self.inner.address, connect_timeout, cfg)?;
        auth::client_handshake(&mut conn, &self.inner.authkey)?;
        Ok(conn)
    }

    fn oneshot_with(&self, req: &Request, timeout: Duration) -> Result<Reply> {
        let frame = req.encode()?;
        let step = self
            .inner
            .config
            .connect_timeout
            .max(self.inner.config.handshake_timeout);
        let mut conn = self.open(step.min(timeout.max(Duration::from_millis(1))), timeout)?;
        conn.send_bytes(&frame)?;
        let bytes = conn.recv_bytes()?;
        Reply::decode(&bytes)
    }

    /// Call a server function (`ident=None`) on a one-shot connection and return its `#RETURN`
    /// value; remote failures become [`Error::Remote`] / [`Error::RemoteTraceback`].
    ///
    /// ```no_run
    /// # let server = mpshare::managers::server::Server::bind(&"127.0.0.1:0".parse()?, mpshare::managers::auth::AuthKey::from("secret"))?.spawn()?;
    /// # let address = server.address().clone();
    /// use mpshare::managers::{auth::AuthKey, client::Manager};
    /// // `address` is the server's, e.g. "127.0.0.1:50000".parse()?
    /// let m = Manager::connect(&address, AuthKey::from("secret"))?;
    /// let n = m.server_call("number_of_objects", vec![], vec![])?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn server_call(
        &self,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<PyValue> {
        let mut req = Request::server(method, args);
        req.kwds = kwargs.into();
        self.oneshot_with(&req, self.inner.config.server_call_timeout)?
            .into_result()
    }

    /// `dummy`: a liveness and authkey check.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// m.dummy()?; // a liveness and authkey check, like `BaseManager.connect()`
    /// assert_eq!(m.number_of_objects()?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn dummy(&self) -> Result<()> {
        self.server_call("dummy", vec![], vec![]).map(|_| ())
    }

    /// `create(typeid, *args, **kwargs)`: a new shared object; the returned [`Proxy`] adopts the
    /// creation reference (refcount 1) and decrefs it when dropped.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let v = m.create("Value", vec![PyValue::str("i"), PyValue::Int(7)], vec![])?;
    /// assert_eq!(v.call_method("get", vec![], vec![])?, PyValue::Int(7));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(
        &self,
        typeid: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> Result<Proxy> {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(PyValue::str(typeid));
        all.extend(args);
        let v = self.server_call("create", all, kwargs)?;
        let r = Reader("create");
        let [ident, exposed] = r.items(v, "(ident, exposed)")?;
        let ident = r.string(ident, "ident")?;
        let exposed = r.strings(exposed, "exposed")?;
        let token = Token::new(typeid, self.inner.address.clone(), &ident);
        Ok(Proxy::adopt(self.clone(), token, exposed))
    }

    /// [`Manager::create`] with serde arguments (a tuple; `()` for none).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let b = m.create_with("Barrier", (2,))?;
    /// assert_eq!(b.token().typeid, "Barrier");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with<A: Serialize>(&self, typeid: &str, args: A) -> Result<Proxy> {
        self.create(typeid, args_of(&args)?, vec![])
    }

    /// `incref(ident)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// m.incref(&d.token().id)?;
    /// m.decref(&d.token().id)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn incref(&self, ident: &str) -> Result<()> {
        self.server_call("incref", vec![PyValue::str(ident)], vec![])
            .map(|_| ())
    }

    /// `decref(ident)`.
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// m.incref(&d.token().id)?;
    /// m.decref(&d.token().id)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn decref(&self, ident: &str) -> Result<()> {
        self.server_call("decref", vec![PyValue::str(ident)], vec![])
            .map(|_| ())
    }

    /// The `decref` of a dropped proxy: every step bounded by `drop_timeout`, errors returned
    /// (and ignored by the caller).
    pub(crate) fn decref_bounded(&self, ident: &str) -> Result<()> {
        let req = Request::server("decref", vec![PyValue::str(ident)]);
        let t = self.inner.config.drop_timeout;
        let frame = req.encode()?;
        let mut conn = self.open(t, t)?;
        conn.send_bytes(&frame)?;
        Reply::decode(&conn.recv_bytes()?)?
            .into_result()
            .map(|_| ())
    }

    /// `number_of_objects()`: how many objects the server holds with refcount > 0.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let before = m.number_of_objects()?;
    /// let d = m.dict()?;
    /// assert_eq!(m.number_of_objects()?, before + 1);
    /// drop(d);
    /// assert_eq!(m.number_of_objects()?, before);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn number_of_objects(&self) -> Result<usize> {
        let v = self.server_call("number_of_objects", vec![], vec![])?;
        v.as_i64()
            .filter(|n| *n >= 0)
            .map(|n| n as usize)
            .ok_or_else(|| shape("number_of_objects", "a non-negative int", &v))
    }

    /// `debug_info()`: the server's text listing of objects and refcounts.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// # let _d = m.dict()?;
    /// assert!(m.debug_info()?.contains("refcount=1"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn debug_info(&self) -> Result<String> {
        let v = self.server_call("debug_info", vec![], vec![])?;
        Reader("debug_info").string(v, "the listing")
    }

    /// `get_methods(token)`: the exposed method names of an object.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// assert!(m.get_methods(q.token())?.contains(&"put".to_string()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get_methods(&self, token: &Token) -> Result<Vec<String>> {
        let v = self.server_call("get_methods", vec![token.to_value()], vec![])?;
        Reader("get_methods").strings(v, "names")
    }

    /// `shutdown()`: stop the server. Success whether the server answers once, twice (CPython)
    /// or closes the connection right away.
    ///
    /// ```
    /// let local = mpshare::managers::client::Manager::start()?;
    /// let m = local.client();
    /// m.shutdown()?;
    /// assert!(m.dummy().is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self) -> Result<()> {
        let req = Request::server("shutdown", vec![]);
        match self.oneshot_with(&req, self.inner.config.server_call_timeout) {
            Ok(r) => r.into_result().map(|_| ()),
            Err(Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A proxy for an object referenced by `r` (a `RebuildProxy(...)` value found in a result):
    /// sends `incref`, and the proxy decrefs when dropped.
    ///
    /// ```no_run
    /// use mpshare::managers::wire::ProxyRef;
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// let q = m.queue(0)?;
    /// d.set_value("q".into(), q.to_ref().to_value())?;
    /// let r = ProxyRef::from_value(&d.get_item_value("q".into())?)?;
    /// let q2 = m.proxy_from_ref(&r)?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn proxy_from_ref(&self, r: &ProxyRef) -> Result<Proxy> {
        let exposed = match r.kwds.get_str("exposed") {
            Some(PyValue::Tuple(t) | PyValue::List(t)) => t
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        self.incref(&r.token.id)?;
        Ok(Proxy::adopt(self.clone(), r.token.clone(), exposed))
    }

    /// A new [`Pipeline`]: queue many proxy calls, then send them and read the replies in order
    /// on this thread's proxy connection.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// let mut p = m.pipeline();
    /// for i in 0..1000 {
    ///     p.push(&d, "__setitem__", (i, i * 2))?;
    /// }
    /// let replies = p.finish()?;
    /// assert!(replies.iter().all(|r| r.is_ok()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.clone())
    }

    /// Close this thread's proxy connection to this manager (the next call opens a new one).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::{ClientConfig, Manager}};
    /// let m = Manager::new_unchecked(&"@mgr".parse()?, AuthKey::from("k"), ClientConfig::default());
    /// m.close_thread_connection();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn close_thread_connection(&self) {
        let id = self.inner.id;
        let _ = PROXY_CONNS.try_with(|m| m.try_borrow_mut().ok().and_then(|mut m| m.remove(&id)));
    }

    fn open_proxy_connection(&self) -> Result<Connection> {
        let cfg = &self.inner.config;
        let mut conn = self.open(
            cfg.connect_timeout.max(cfg.handshake_timeout),
            cfg.server_call_timeout,
        )?;
        let req = Request::server("accept_connection", vec![PyValue::str(connection_name())]);
        conn.send_bytes(&req.encode()?)?;
        Reply::decode(&conn.recv_bytes()?)?.into_result()?;
        conn.set_read_timeout(cfg.call_timeout)?;
        conn.set_write_timeout(cfg.call_timeout)?;
        Ok(conn)
    }

    /// Run `f` on this thread's proxy connection (opened if needed). Any error from `f` is a
    /// transport error: the connection is then discarded.
    pub(crate) fn with_connection<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R>,
    ) -> Result<R> {
        let id = self.inner.id;
        let taken = PROXY_CONNS
            .try_with(|m| m.try_borrow_mut().ok().and_then(|mut m| m.remove(&id)))
            .ok()
            .flatten();
        let pid = std::process::id();
        let mut conn = match taken {
            Some((owner, c)) if owner == pid => c,
            // Inherited across fork: dropping closes only this process's copy of the fd.
            _ => self.open_proxy_connection()?,
        };
        let r = f(&mut conn)?;
        let _ = PROXY_CONNS.try_with(move |m| {
            if let Ok(mut m) = m.try_borrow_mut() {
                m.insert(id, (pid, conn));
            }
        });
        Ok(r)
    }

    /// One proxy call: request out, reply in, on this thread's proxy connection.
    pub(crate) fn proxy_round_trip(&self, req: &Request) -> Result<Reply> {
        let frame = req.encode()?;
        let bytes = self.with_connection(|c| {
            c.send_bytes(&frame)?;
            c.recv_bytes()
        })?;
        Reply::decode(&bytes)
    }
}
