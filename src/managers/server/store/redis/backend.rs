//! The Redis side of the store: connections (standalone or Cluster), key names, the front-end's
//! identity, lock leases and the heartbeat that renews them.
//!
//! Every key of one object carries the object's ident as its hash tag
//! (`PREFIX:{IDENT}:PART`), so all keys of an object sit in one Cluster slot and one Lua script
//! may touch them together.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{ConnectionLike, RedisError, Script};

use crate::managers::sdk::{lock, traceback_text, CallError, ConnId};

/// One connection to the store.
pub(crate) enum Conn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    /// The connection as redis-rs commands and scripts take it.
    pub(crate) fn con(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }
}

enum Client {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// A pooled connection; returned to the pool on drop unless a command on it failed.
pub(crate) struct Pooled<'a> {
    conn: Option<Conn>,
    backend: &'a Backend,
    broken: bool,
}

impl Pooled<'_> {
    /// The connection as redis-rs takes it.
    pub(crate) fn con(&mut self) -> &mut dyn ConnectionLike {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until drop")
            .con()
    }

    /// Runs `f` on the connection; a failure that is the connection's (not a script's or a
    /// command's error reply) drops the connection instead of pooling it again.
    pub(crate) fn run<T>(
        &mut self,
        f: impl FnOnce(&mut dyn ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, CallError> {
        match f(self.con()) {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_connection_error(&e) {
                    self.broken = true;
                }
                Err(store_error(&e))
            }
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !self.broken {
                let mut pool = lock(&self.backend.pool);
                if pool.len() < 64 {
                    pool.push(c);
                }
            }
        }
    }
}

/// True for errors that mean the connection itself is unusable.
pub(crate) fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// A store failure as the Python caller sees it: `ConnectionError` (a builtin, so every
/// client can unpickle it) naming the store.
pub(crate) fn store_error(e: &RedisError) -> CallError {
    CallError::Traceback(traceback_text(
        "ConnectionError",
        &format!("the Redis store failed: {e}"),
    ))
}

/// The Redis store's connections and names, shared by every object handle of one server.
pub(crate) struct Backend {
    client: Client,
    pool: Mutex<Vec<Conn>>,
    /// Key prefix (`mpshare` by default).
    pub(crate) prefix: String,
    /// This front-end's name: reference counts and lock owners are recorded under it.
    pub(crate) frontend: String,
    /// Random per process: lock owners from a previous run of the same front-end never match.
    pub(crate) boot: String,
    /// How long a lock held through this front-end outlives the front-end.
    pub(crate) lease: Duration,
    /// How long a silent front-end's references survive before objects only it referenced are
    /// deleted.
    pub(crate) orphan_grace: Duration,
    /// How long one blocking Redis command waits before the caller's liveness is checked again.
    pub(crate) slice: Duration,
    /// Keys whose owner value this front-end renews: key → owner prefix.
    leases: Mutex<HashMap<String, String>>,
    /// Objects already listed in this front-end's `PREFIX:holds:NODE` (see [`Backend::track`]).
    tracked: Mutex<HashSet<String>>,
    /// False until the first heartbeat has written `PREFIX:live:NODE`.
    announced: AtomicBool,
    pub(crate) stop: AtomicBool,
}

impl Backend {
    /// [`connect_with_tls`](Self::connect_with_tls) without certificate files (the stores of
    /// unit tests).
    #[cfg(test)]
    pub(crate) fn connect(
        urls: &[String],
        prefix: &str,
        frontend: &str,
        lease: Duration,
        orphan_grace: Duration,
    ) -> Result<Backend, RedisError> {
        Backend::open(urls, prefix, frontend, lease, orphan_grace, None)
    }

    /// Connects to the store at `urls` and checks that it answers. `tls` are the PEM files
    /// `[ca, cert, key]` of a `rediss://` store (`--store-ca`, `--store-cert`, `--store-key`).
    /// The error says what failed, with what was expected.
    pub(crate) fn connect_with_tls(
        urls: &[String],
        prefix: &str,
        frontend: &str,
        lease: Duration,
        orphan_grace: Duration,
        tls: [Option<&Path>; 3],
    ) -> Result<Backend, String> {
        let certs = tls::load(urls, tls)?;
        Backend::open(urls, prefix, frontend, lease, orphan_grace, certs)
            .map_err(|e| tls::explain(&e))
    }

    fn open(
        urls: &[String],
        prefix: &str,
        frontend: &str,
        lease: Duration,
        orphan_grace: Duration,
        certs: Option<tls::Certs>,
    ) -> Result<Backend, RedisError> {
        let cluster = urls.len() > 1
            || urls.first().is_some_and(|u| {
                u.starts_with("redis+cluster://") || u.starts_with("rediss+cluster://")
            });
        // Requests are single writes, but a pipeline is several: no Nagle delay between them.
        let info = |u: &str| -> Result<redis::ConnectionInfo, RedisError> {
            use redis::IntoConnectionInfo;
            Ok(u.into_connection_info()?
                .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true)))
        };
        let client = if cluster {
            let nodes = urls
                .iter()
                .map(|u| info(&u.replacen("+cluster", "", 1)))
                .collect::<Result<Vec<_>, _>>()?;
            Client::Cluster(tls::cluster_client(nodes, certs)?)
        } else {
            Client::Single(tls::client(info(&urls[0])?, certs)?)
        };
        let mut boot = [0u8; 8];
        let _ = getrandom::fill(&mut boot);
        let b = Backend {
            client,
            pool: Mutex::new(Vec::new()),
            prefix: prefix.to_string(),
            frontend: frontend.to_string(),
            boot: boot.iter().map(|b| format!("{b:02x}")).collect(),
            lease,
            orphan_grace,
            slice: Duration::from_millis(200),
            leases: Mutex::new(HashMap::new()),
            tracked: Mutex::new(HashSet::new()),
            announced: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        };
        // Fail at start, not at the first call, when the store cannot be reached.
        let mut c = b.new_conn()?;
        redis::cmd("PING").query::<()>(c.con())?;
        lock(&b.pool).push(c);
        Ok(b)
    }

    fn new_conn(&self) -> Result<Conn, RedisError> {
        Ok(match &self.client {
            Client::Single(c) => {
                Conn::Single(c.get_connection_with_timeout(Duration::from_secs(5))?)
            }
            Client::Cluster(c) => Conn::Cluster(Box::new(c.get_connection()?)),
        })
    }

    /// A connection from the pool (or a new one).
    pub(crate) fn conn(&self) -> Result<Pooled<'_>, CallError> {
        let pooled = lock(&self.pool).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.new_conn().map_err(|e| store_error(&e))?,
        };
        Ok(Pooled {
            conn: Some(conn),
            backend: self,
            broken: false,
        })
    }

    /// Runs `f` on a pooled connection. When the pooled connection turns out to be dead (the
    /// store restarted since it was last used) and `f` failed before the store could answer,
    /// runs it once more on a fresh connection.
    pub(crate) fn with<T>(
        &self,
        f: impl Fn(&mut dyn ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, CallError> {
        let mut c = self.conn()?;
        match f(c.con()) {
            Ok(v) => Ok(v),
            Err(e) if e.is_connection_dropped() || e.is_connection_refusal() => {
                c.broken = true;
                drop(c);
                let mut c = self.conn()?;
                c.run(|con| f(con))
            }
            Err(e) => {
                if is_connection_error(&e) {
                    c.broken = true;
                }
                Err(store_error(&e))
            }
        }
    }

    /// Runs `cmds` (keys of any slots) as one pipeline on a standalone server, one by one on a
    /// Cluster; their replies, or the first error.
    pub(crate) fn commands(&self, cmds: &[redis::Cmd]) -> Result<Vec<redis::Value>, CallError> {
        if self.is_cluster() {
            return cmds
                .iter()
                .map(|c| self.with(|con| c.query::<redis::Value>(con)))
                .collect();
        }
        self.with(|con| {
            let mut p = redis::pipe();
            for c in cmds {
                p.add_command(c.clone());
            }
            p.query::<Vec<redis::Value>>(con)
        })
    }

    /// True for a Redis Cluster (pipelines then run command by command).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    /// `PREFIX:{IDENT}:PART`: a key of object `ident`.
    pub(crate) fn key(&self, ident: &str, part: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, ident, part)
    }

    /// A key of the store itself (not of one object).
    pub(crate) fn global(&self, name: &str) -> String {
        format!("{}:{}", self.prefix, name)
    }

    /// This front-end process: front-end id and boot nonce. References and heartbeats are
    /// recorded under it.
    pub(crate) fn node(&self) -> String {
        format!("{}/{}", self.frontend, self.boot)
    }

    /// The owner string of connection `conn` of this front-end process: locks record it.
    pub(crate) fn owner(&self, conn: ConnId) -> String {
        format!("{}/{}/{}", self.frontend, self.boot, conn)
    }

    /// The lease in milliseconds, as `PX` takes it.
    pub(crate) fn lease_ms(&self) -> u64 {
        self.lease.as_millis().max(1) as u64
    }

    /// Registers `key` (whose value starts with `owner`) for lease renewal by the heartbeat.
    pub(crate) fn hold(&self, key: &str, owner: &str) {
        lock(&self.leases).insert(key.to_string(), owner.to_string());
    }

    /// Stops renewing `key` if it is still registered for `owner`: a holder that released
    /// must not cancel the renewal of the next holder on this front-end, who may have taken
    /// the key (and registered it) between the release and this call.
    pub(crate) fn unhold_if(&self, key: &str, owner: &str) {
        let mut l = lock(&self.leases);
        if l.get(key).is_some_and(|o| o == owner) {
            l.remove(key);
        }
    }

    /// One heartbeat: announces this front-end (for the orphan sweep) and renews every held
    /// lease. Run by the store's heartbeat thread every third of the lease.
    pub(crate) fn beat(&self) -> Result<(), CallError> {
        let fe_key = self.global(&format!("fe:{}", self.node()));
        let live_key = self.live_key(&self.node());
        let grace = self.orphan_grace.as_millis().max(1) as u64;
        // `fe:` (orphan grace, for reference counts) and `live:` (the lease, for what this
        // front-end's callers hold or wait on), one round trip. `SET … GET` answers the old
        // value: none after the first beat means the key lapsed (a stall longer than the lease)
        // and other front-ends may have cleaned this one up: list the tracked objects again.
        let mut fe = redis::cmd("SET");
        fe.arg(&fe_key).arg(&self.boot).arg("PX").arg(grace);
        let mut live = redis::cmd("SET");
        live.arg(&live_key)
            .arg(&self.boot)
            .arg("PX")
            .arg(self.lease_ms())
            .arg("GET");
        let replies = self.commands(&[fe, live])?;
        let was = replies.get(1).cloned().unwrap_or(redis::Value::Nil);
        let was = !matches!(was, redis::Value::Nil);
        if !was && self.announced.swap(true, Ordering::SeqCst) {
            log::warn!(
                "Redis store: this front-end's liveness key had lapsed (heartbeat late by more \
                 than the lease); others may have released what its callers held"
            );
            let idents: Vec<String> = lock(&self.tracked).drain().collect();
            for ident in idents {
                self.track(&ident)?;
            }
        }
        let held: Vec<(String, String)> = lock(&self.leases)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, owner) in held {
            let renewed: i64 =
                self.with(|con| RENEW.key(&key).arg(&owner).arg(self.lease_ms()).invoke(con))?;
            if renewed == 0 {
                // Released elsewhere (or expired): nothing to renew any more.
                let mut l = lock(&self.leases);
                if l.get(&key) == Some(&owner) {
                    l.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// `PREFIX:live:NODE`: exists (with the lease as expiry) while front-end process NODE
    /// lives; its heartbeat renews it every third of the lease.
    pub(crate) fn live_key(&self, node: &str) -> String {
        self.global(&format!("live:{node}"))
    }

    /// `PREFIX:holds:NODE`: the idents of objects on which callers of front-end process NODE
    /// hold something or wait (see [`Backend::track`]).
    pub(crate) fn holds_key(&self, node: &str) -> String {
        self.global(&format!("holds:{node}"))
    }

    /// `PREFIX:nodes`: the front-end processes that have a `holds:` set.
    pub(crate) fn nodes_key(&self) -> String {
        self.global("nodes")
    }

    /// Lists object `ident` in this front-end's `holds:NODE` (and NODE in `nodes`) before a
    /// caller first holds a unit of it or waits on it, so that if this front-end dies, the
    /// others run the type's node-gone hook on it. Cached: one round trip per object and
    /// front-end process, none afterwards.
    pub(crate) fn track(&self, ident: &str) -> Result<(), CallError> {
        if lock(&self.tracked).contains(ident) {
            return Ok(());
        }
        let node = self.node();
        let (holds, nodes) = (self.holds_key(&node), self.nodes_key());
        let mut h = redis::cmd("SADD");
        h.arg(&holds).arg(ident);
        let mut n = redis::cmd("SADD");
        n.arg(&nodes).arg(&node);
        self.commands(&[h, n])?;
        let mut t = lock(&self.tracked);
        if t.len() >= 65536 {
            t.clear();
        }
        t.insert(ident.to_string());
        Ok(())
    }

    /// Forgets that `ident` is tracked (it was deleted and dropped from `holds:NODE`).
    pub(crate) fn untrack(&self, ident: &str) {
        lock(&self.tracked).remove(ident);
    }

    /// Forgets the tracked objects (after this front-end's own `holds:` set was dropped).
    pub(crate) fn untrack_all(&self) {
        lock(&self.tracked).clear();
    }

    /// True once the server stops.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Renews a lease: when KEYS[1]'s value starts with ARGV[1], sets its expiry to ARGV[2] ms.
static RENEW: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('get', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0",
    )
});

/// A shared handle to the backend, as object handles keep it.
pub(crate) type BackendRef = Arc<Backend>;

/// TLS to the store (`rediss://`): the certificate files, checked before any connection.
mod tls {
    use std::path::Path;

    use redis::RedisError;

    /// The certificates of `--store-ca`/`--store-cert`/`--store-key`, as redis-rs takes them.
    #[cfg(feature = "redis-store-tls")]
    pub(super) type Certs = redis::TlsCertificates;
    /// Without the `redis-store-tls` feature there are none.
    #[cfg(not(feature = "redis-store-tls"))]
    pub(super) type Certs = std::convert::Infallible;

    fn is_tls(url: &str) -> bool {
        url.starts_with("rediss://") || url.starts_with("rediss+cluster://")
    }

    /// Reads and checks the PEM files `[ca, cert, key]` for `urls`.
    pub(super) fn load(
        urls: &[String],
        files: [Option<&Path>; 3],
    ) -> Result<Option<Certs>, String> {
        let [ca, cert, key] = files;
        let tls = urls.iter().any(|u| is_tls(u));
        let any_file = ca.is_some() || cert.is_some() || key.is_some();
        if any_file && !tls {
            return Err(
                "a CA or client certificate (--store-ca, --store-cert, --store-key; [store] ca, \
                 cert, key) needs a rediss:// URL, found none"
                    .to_string(),
            );
        }
        if cert.is_some() != key.is_some() {
            return Err(format!(
                "a client certificate needs its private key: expected both --store-cert and \
                 --store-key ([store] cert and key), found only {}",
                if cert.is_some() {
                    "the certificate"
                } else {
                    "the key"
                }
            ));
        }
        #[cfg(not(feature = "redis-store-tls"))]
        {
            if tls {
                return Err(
                    "a rediss:// URL needs TLS: this mpshare was built without the \
                     `redis-store-tls` feature"
                        .to_string(),
                );
            }
            Ok(None)
        }
        #[cfg(feature = "redis-store-tls")]
        {
            if !tls {
                return Ok(None);
            }
            // redis-rs builds its rustls configurations with the process's default provider:
            // make it ring (ours) unless the program installed another.
            let _ = rustls::crypto::ring::default_provider().install_default();
            if !any_file {
                return Ok(None);
            }
            pem::load(ca, cert.zip(key)).map(Some)
        }
    }

    /// A standalone client; with `certs` when given.
    pub(super) fn client(
        info: redis::ConnectionInfo,
        certs: Option<Certs>,
    ) -> Result<redis::Client, RedisError> {
        match certs {
            #[cfg(feature = "redis-store-tls")]
            Some(c) => redis::Client::build_with_tls(info, c),
            #[cfg(not(feature = "redis-store-tls"))]
            Some(c) => match c {},
            None => redis::Client::open(info),
        }
    }

    /// A Cluster client; with `certs` when given.
    pub(super) fn cluster_client(
        nodes: Vec<redis::ConnectionInfo>,
        certs: Option<Certs>,
    ) -> Result<redis::cluster::ClusterClient, RedisError> {
        match certs {
            #[cfg(feature = "redis-store-tls")]
            Some(c) => redis::cluster::ClusterClientBuilder::new(nodes)
                .certs(c)
                .build(),
            #[cfg(not(feature = "redis-store-tls"))]
            Some(c) => match c {},
            None => redis::cluster::ClusterClient::new(nodes),
        }
    }

    /// A connection error as the operator reads it: a certificate the client does not trust,
    /// or a client certificate the store wants, says which option helps.
    pub(super) fn explain(e: &RedisError) -> String {
        let text = e.to_string();
        if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
            format!(
                "{text} (the store's TLS certificate is not trusted: name the CA that signed it \
                 with --store-ca FILE, [store] ca)"
            )
        } else if text.contains("CertificateRequired") {
            format!(
                "{text} (the store asks for a client certificate: --store-cert FILE \
                 --store-key FILE, [store] cert and key)"
            )
        } else {
            text
        }
    }

    #[cfg(feature = "redis-store-tls")]
    mod pem {
        use std::path::Path;

        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        /// What a file that should hold a PEM certificate or key holds instead.
        fn found(data: &[u8]) -> String {
            let text = String::from_utf8_lossy(data);
            if let Some(label) = text
                .split_once("-----BEGIN ")
                .and_then(|(_, rest)| rest.split_once("-----"))
                .map(|(label, _)| label)
            {
                return format!("a PEM {label} block");
            }
            if data.iter().all(u8::is_ascii_whitespace) {
                "an empty file".to_string()
            } else {
                format!("no PEM block in its {} bytes", data.len())
            }
        }

        fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
            std::fs::read(path)
                .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
        }

        /// The certificates of a PEM file (at least one).
        fn certs(
            path: &Path,
            what: &str,
        ) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>), String> {
            let data = read(path, what)?;
            let certs = CertificateDer::pem_slice_iter(&data)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!(
                        "expected a PEM certificate in {}, found malformed PEM: {e}",
                        path.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "expected a PEM certificate in {}, found {}",
                    path.display(),
                    found(&data)
                ));
            }
            Ok((data, certs))
        }

        /// Reads and checks the CA bundle and the client certificate and key: what redis-rs
        /// would refuse at the first connection is refused here, naming the file.
        pub(super) fn load(
            ca: Option<&Path>,
            client: Option<(&Path, &Path)>,
        ) -> Result<redis::TlsCertificates, String> {
            let mut roots = rustls::RootCertStore::empty();
            let root_cert = match ca {
                Some(path) => {
                    let (data, certs) = certs(path, "CA certificate file")?;
                    for c in certs {
                        roots.add(c).map_err(|e| {
                            format!(
                                "expected a CA certificate in {}, found one that cannot be \
                                 trusted: {e}",
                                path.display()
                            )
                        })?;
                    }
                    Some(data)
                }
                None => None,
            };
            let client_tls = match client {
                Some((cert_path, key_path)) => {
                    let (cert_pem, chain) = certs(cert_path, "client certificate file")?;
                    let key_pem = read(key_path, "client key file")?;
                    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                        format!(
                            "expected a PEM private key in {}, found {} ({e})",
                            key_path.display(),
                            found(&key_pem)
                        )
                    })?;
                    // The pair must go together (rustls checks the key against the certificate).
                    rustls::ClientConfig::builder_with_provider(
                        rustls::crypto::ring::default_provider().into(),
                    )
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| {
                        format!(
                            "expected the private key of the client certificate {} in {}, \
                             found one rustls refuses: {e}",
                            cert_path.display(),
                            key_path.display()
                        )
                    })?;
                    Some(redis::ClientTlsConfig {
                        client_cert: cert_pem,
                        client_key: key_pem,
                    })
                }
                None => None,
            };
            Ok(redis::TlsCertificates {
                client_tls,
                root_cert,
            })
        }
    }
}
