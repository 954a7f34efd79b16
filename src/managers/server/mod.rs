//! A manager server speaking CPython's `multiprocessing.managers` protocol: stock CPython
//! `SyncManager`/`BaseManager` clients `connect()` to it and use every `SyncManager` typeid,
//! plus custom typeids registered from Rust.
//!
//! One OS thread per connection, so a blocking call (`Queue.get`, `Lock.acquire`, ...) blocks
//! only its caller. Better than CPython by default: locks, semaphores and conditions held by a
//! connection that goes away are released; a caller that dies while blocked never takes a lock
//! or a queue item; unauthenticated connections get a handshake deadline; connections beyond a
//! limit are refused politely; frames are size-limited and the pickle decoder never executes
//! anything.
//!
//! ```
//! use mpshare::managers::{auth::AuthKey, server::Server};
//! let server = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("secret"))?;
//! let handle = server.spawn()?;
//! let m = mpshare::managers::Manager::connect(handle.address(), AuthKey::from("secret"))?;
//! let d = m.dict()?;
//! d.set("k", 1)?;
//! assert_eq!(handle.number_of_objects(), 1);
//! handle.shutdown();
//! # Ok::<(), mpshare::Error>(())
//! ```

mod config_file;
mod dispatch;
mod shared;

pub use config_file::{LimitsFile, ServerFile, StoreFile};
mod store;

#[cfg(feature = "redis-store")]
pub use store::RedisStoreConfig;
pub use store::StoreConfig;

use std::collections::HashMap;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::auth::AuthKey;
use super::connection::{
    Address, Connection, ConnectionConfig, Listener, ListenerConfig, DEFAULT_MAX_FRAME,
};
use super::pickle::Limits;
use super::sdk::{lock, ConnId, Registry, TypeSpec};
use crate::error::OsContext;
use crate::Result;

use store::Store;

/// Settings of a [`Server`].
///
/// ```
/// use mpshare::managers::{auth::AuthKey, server::ServerConfig};
/// let cfg = ServerConfig::new("127.0.0.1:0".parse()?, AuthKey::from("k"));
/// assert_eq!(cfg.max_connections, 1024);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen (TCP, Unix path or abstract name).
    pub address: Address,
    /// The authkey every client must prove (HMAC challenge, both directions).
    pub authkey: AuthKey,
    /// Most connections served at once; more are refused with a short message (default 1024).
    pub max_connections: usize,
    /// Time allowed for the handshake and the first request of a connection (default 10 s).
    pub handshake_timeout: Duration,
    /// Largest request frame (default 64 MiB).
    pub max_frame: u64,
    /// `listen(2)` backlog (default 1024).
    pub backlog: i32,
    /// How often blocked calls check for a vanished caller or a shutdown (default 50 ms).
    pub wait_slice: Duration,
    /// Write timeout for replies, so a client that never reads cannot pin a thread (default 60 s).
    pub write_timeout: Duration,
    /// Pickle decoder limits for requests.
    pub limits: Limits,
    /// The typeids served (default: [`Registry::sync_manager`]).
    pub registry: Registry,
    /// Log one line per connection error (default false): through the `log` facade at `warn`
    /// when the program installed a logger (as `mpshare serve` does), else to stderr.
    pub log_errors: bool,
    /// Set `TCP_QUICKACK` on accepted TCP sockets after every read (default true). Without it a
    /// stock CPython client's one-shot connections (`create`/`incref`/`decref`) stall on 40 ms
    /// delayed ACKs: about 220 ms per `m.dict()` create/use/drop cycle instead of about 1.7 ms.
    pub tcp_quickack: bool,
    /// Where objects live (default [`StoreConfig::Memory`]: in this process).
    pub store: StoreConfig,
}

impl ServerConfig {
    /// Defaults for `address` and `authkey`.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::ServerConfig};
    /// let cfg = ServerConfig::new("127.0.0.1:0".parse()?, AuthKey::from("k"));
    /// assert!(cfg.registry.get("Queue").is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(address: Address, authkey: AuthKey) -> ServerConfig {
        ServerConfig {
            address,
            authkey,
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            max_frame: DEFAULT_MAX_FRAME,
            backlog: 1024,
            wait_slice: Duration::from_millis(50),
            write_timeout: Duration::from_secs(60),
            limits: Limits::default(),
            registry: Registry::sync_manager(),
            log_errors: false,
            tcp_quickack: true,
            store: StoreConfig::Memory,
        }
    }
}

pub(crate) struct Shared {
    /// Taken (closed) when the accept loop ends.
    listener: std::sync::Mutex<Option<Listener>>,
    address: Address,
    config: ServerConfig,
    table: Arc<dyn Store>,
    /// The store plans pipelined calls ([`Store::plan`]).
    plans: bool,
    registry: RwLock<Registry>,
    stop: AtomicBool,
    conns: std::sync::Mutex<HashMap<ConnId, Connection>>,
    active: AtomicUsize,
    next_conn: AtomicU64,
    /// Blocks `SharedMemoryManager` clients asked the server to own (unlinked at shutdown).
    segments: crate::shared_memory::tracker::SegmentTracker,
}

impl Shared {
    fn log(&self, msg: &str) {
        if self.config.log_errors {
            // Through the `log` facade when the program installed a logger (`mpshare serve`
            // does, filtered by RUST_LOG); plain stderr otherwise.
            if log::max_level() >= log::LevelFilter::Warn {
                log::warn!("{msg}");
            } else {
                eprintln!("mpshare server: {msg}");
            }
        }
    }

    fn trigger_shutdown(&self) {
        if self.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        for c in lock(&self.conns).values() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn serve_forever(self: &Arc<Self>) -> Result<()> {
        let mut errors = 0u32;
        let guard = lock(&self.listener);
        let Some(listener) = guard.as_ref() else {
            return Ok(());
        };
        while !self.stop.load(Ordering::SeqCst) {
            match listener.accept_timeout(Duration::from_millis(100)) {
                Ok(Some(conn)) => {
                    errors = 0;
                    self.start_connection(conn);
                }
                Ok(None) => {}
                Err(e) => {
                    // EMFILE and friends: log, back off, keep serving.
                    self.log(&format!("accept failed: {e}"));
                    errors = errors.saturating_add(1);
                    std::thread::sleep(Duration::from_millis(u64::from(errors.min(20)) * 10));
                }
            }
        }
        drop(guard);
        // Stop accepting at once (a Unix socket path is removed), then close every connection;
        // blocked calls notice within a wait slice.
        drop(lock(&self.listener).take());
        for c in lock(&self.conns).values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // CPython's SharedMemoryServer.shutdown: unlink every tracked block.
        self.segments.unlink_all();
        Ok(())
    }

    fn start_connection(self: &Arc<Self>, mut conn: Connection) {
        if self.active.load(Ordering::SeqCst) >= self.config.max_connections {
            self.log("connection refused: too many connections");
            let _ = conn.set_write_timeout(Some(Duration::from_millis(200)));
            let _ = conn.send_bytes(b"#FAILURE# server busy: too many connections");
            return;
        }
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
        match conn.try_clone() {
            Ok(c) => {
                lock(&self.conns).insert(id, c);
            }
            Err(e) => {
                self.log(&format!("connection {id}: cannot register: {e}"));
                return;
            }
        }
        self.active.fetch_add(1, Ordering::SeqCst);
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("mpshare-conn-{id}"))
            .spawn(move || {
                // Deregisters the connection even if serving it panics.
                struct Done(Arc<Shared>, ConnId);
                impl Drop for Done {
                    fn drop(&mut self) {
                        lock(&self.0.conns).remove(&self.1);
                        self.0.active.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                let done = Done(me, id);
                done.0.handle_connection(id, conn);
            });
        if let Err(e) = spawned {
            self.log(&format!("connection {id}: cannot start a thread: {e}"));
            lock(&self.conns).remove(&id);
            self.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A manager server bound to an address; serve with [`serve_forever`](Self::serve_forever) or
/// [`spawn`](Self::spawn).
///
/// ```
/// use mpshare::managers::{auth::AuthKey, server::Server};
/// let server = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
/// assert!(server.address().is_tcp());
/// # Ok::<(), mpshare::Error>(())
/// ```
pub struct Server {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.shared.address)
            .finish()
    }
}

impl Server {
    /// Binds with default settings and the `SyncManager` typeids.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// assert!(s.address().is_tcp()); // port 0 resolved to the real port
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn bind(address: &Address, authkey: AuthKey) -> Result<Server> {
        Server::bind_with(ServerConfig::new(address.clone(), authkey))
    }

    /// Binds with explicit settings.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::{Server, ServerConfig}};
    /// let mut cfg = ServerConfig::new("127.0.0.1:0".parse()?, AuthKey::from("k"));
    /// cfg.max_connections = 8;
    /// let s = Server::bind_with(cfg)?;
    /// assert_eq!(s.number_of_objects(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn bind_with(config: ServerConfig) -> Result<Server> {
        let lcfg = ListenerConfig {
            backlog: config.backlog,
            connection: ConnectionConfig {
                max_frame: config.max_frame,
                handshake_timeout: config.handshake_timeout,
                idle_timeout: None,
                write_timeout: Some(config.write_timeout),
            },
        };
        let listener = Listener::bind(&config.address, lcfg)?;
        let address = listener.address()?;
        let registry = RwLock::new(config.registry.clone());
        let table = store::open(&config.store, &address)?;
        let plans = !matches!(config.store, StoreConfig::Memory);
        Ok(Server {
            shared: Arc::new(Shared {
                listener: std::sync::Mutex::new(Some(listener)),
                address,
                config,
                table,
                plans,
                registry,
                stop: AtomicBool::new(false),
                conns: std::sync::Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                next_conn: AtomicU64::new(0),
                segments: Default::default(),
            }),
        })
    }

    /// The bound address (port 0 resolved). Tokens carry this address.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, connection::Address, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// match s.address() { Address::Tcp(a) => assert_ne!(a.port(), 0), _ => unreachable!() }
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.shared.address
    }

    /// Write access to the typeid registry (register before clients `create`).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, sdk::TypeSpec, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// s.registry_mut().register(TypeSpec::result_only("Thing"));
    /// assert!(s.registry_mut().get("Thing").is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.shared
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a typeid (CPython's `BaseManager.register`).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, objects::dict::DictObject, sdk::TypeSpec, server::Server};
    /// use std::sync::Arc;
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// s.register(TypeSpec::new("mydict", |_c, a, k| Ok(Arc::new(DictObject::create(a, k)?))));
    /// assert!(s.registry_mut().get("mydict").is_some_and(|t| t.has_factory()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn register(&self, spec: TypeSpec) {
        self.registry_mut().register(spec);
    }

    /// Number of live objects.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// assert_eq!(s.number_of_objects(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn number_of_objects(&self) -> usize {
        self.shared.table.len()
    }

    /// Serves on the calling thread until [`shutdown`](Self::shutdown) (from another thread, a
    /// [`ShutdownHandle`], or a client's `shutdown` request).
    ///
    /// ```no_run
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// let stop = s.shutdown_handle();
    /// std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_millis(50)); stop.shutdown() });
    /// s.serve_forever()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn serve_forever(&self) -> Result<()> {
        self.shared.serve_forever()
    }

    /// Serves on a background thread.
    ///
    /// ```no_run
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// h.shutdown();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn spawn(self) -> Result<ServerHandle> {
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name("mpshare-server".into())
            .spawn(move || {
                let _ = shared.serve_forever();
            })
            .os_context("spawn server thread")?;
        Ok(ServerHandle {
            shared: self.shared.clone(),
            thread: Some(thread),
        })
    }

    /// Stops accepting, closes every connection and wakes blocked calls (their clients see
    /// EOF).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// s.shutdown();
    /// let t = std::time::Instant::now();
    /// s.serve_forever()?; // returns at once
    /// assert!(t.elapsed() < std::time::Duration::from_secs(5));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.shared.trigger_shutdown();
    }

    /// A cloneable handle that can stop the server from anywhere (e.g. a signal thread).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
    /// let h = s.shutdown_handle();
    /// h.shutdown();
    /// assert!(h.is_shut_down());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if Arc::strong_count(&self.shared) == 1 {
            self.shared.table.clear();
        }
    }
}

/// Stops a server from another thread.
///
/// ```no_run
/// use mpshare::managers::{auth::AuthKey, server::Server};
/// let s = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?;
/// let stop = s.shutdown_handle();
/// std::thread::spawn(move || stop.shutdown());
/// s.serve_forever()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownHandle")
    }
}

impl ShutdownHandle {
    /// Stops the server (see [`Server::shutdown`]).
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let stop = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.shutdown_handle();
    /// stop.shutdown();
    /// assert!(stop.is_shut_down());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.shared.trigger_shutdown();
    }

    /// True once shutdown was requested.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// assert!(!Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.shutdown_handle().is_shut_down());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }
}

/// A server running on a background thread; dropping it shuts the server down and joins.
///
/// ```
/// use mpshare::managers::{auth::AuthKey, server::Server};
/// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
/// let addr = h.address().clone();
/// drop(h); // shuts down and joins
/// assert!(mpshare::managers::connection::Connection::connect(&addr, std::time::Duration::from_secs(1)).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
pub struct ServerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("address", &self.shared.address)
            .finish()
    }
}

impl ServerHandle {
    /// The server's bound address.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// assert!(h.address().is_tcp());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.shared.address
    }

    /// Number of live objects.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// assert_eq!(h.number_of_objects(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn number_of_objects(&self) -> usize {
        self.shared.table.len()
    }

    /// Number of connections being served right now.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// assert_eq!(h.active_connections(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Registers a typeid on the running server.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, sdk::TypeSpec, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// h.register(TypeSpec::result_only("Thing"));
    /// assert_eq!(h.number_of_objects(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn register(&self, spec: TypeSpec) {
        self.shared
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .register(spec);
    }

    /// Stops the server (see [`Server::shutdown`]) without waiting.
    ///
    /// ```no_run
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?.shutdown();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.shared.trigger_shutdown();
    }

    /// A handle that can stop the server from elsewhere.
    ///
    /// ```no_run
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// h.shutdown_handle().shutdown();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Waits until the server stopped (after a shutdown from anywhere).
    ///
    /// ```no_run
    /// use mpshare::managers::{auth::AuthKey, server::Server};
    /// let h = Server::bind(&"127.0.0.1:0".parse()?, AuthKey::from("k"))?.spawn()?;
    /// h.shutdown();
    /// h.join();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shared.trigger_shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if Arc::strong_count(&self.shared) == 1 {
            self.shared.table.clear();
        }
    }
}
