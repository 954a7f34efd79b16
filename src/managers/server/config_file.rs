//! The server configuration file of `mpshare serve --config FILE` (TOML).
//!
//! ```toml
//! address = "127.0.0.1:50000"        # as --address
//! authkey_env = "MPSHARE_AUTHKEY"    # the environment variable holding the authkey
//! max_connections = 1024
//! handshake_timeout_secs = 10.0
//! max_frame = 67108864               # bytes
//! quiet = false
//!
//! [objects]                          # shared objects by name (as --object NAME=TYPEID)
//! get_queue = "Queue"
//! shared_dict = "dict"
//! login_lock = "RLock"
//!
//! [store]                            # objects in Redis (feature redis-store), as --store
//! url = "redis://127.0.0.1:6379/0"   # several comma-separated URLs: a Redis Cluster
//! key_prefix = "mpshare"
//! frontend_id = "web-1"              # default: the listening address
//! lease_ms = 10000
//! orphan_grace_ms = 60000
//! # for url = "rediss://…" (feature redis-store-tls); paths from the working directory:
//! ca = "/etc/mpshare/store-ca.pem"   # CA to trust instead of the system's roots
//! cert = "/etc/mpshare/client.pem"   # client certificate for mutual TLS (with key)
//! key = "/etc/mpshare/client.key"
//!
//! [limits]                           # pickle decoder limits for requests
//! max_depth = 200
//! max_elements = 4000000
//! max_bytes = 536870912
//! max_total_bytes = 1073741824
//! max_memo = 1000000
//! ```
//!
//! Every key is optional; unknown keys are refused (a misspelt key must not be ignored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ServerConfig;
use crate::{Error, Result};

/// A parsed configuration file; [`apply`](Self::apply) puts it into a [`ServerConfig`].
///
/// ```
/// use mpshare::managers::server::ServerFile;
/// let f = ServerFile::parse("address = \"127.0.0.1:0\"\n[objects]\nget_queue = \"Queue\"\n", "x.toml")?;
/// assert_eq!(f.address.as_deref(), Some("127.0.0.1:0"));
/// assert_eq!(f.objects["get_queue"], "Queue");
/// assert!(ServerFile::parse("adress = 1", "x.toml").is_err()); // misspelt key
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Where to listen (the `--address` forms).
    pub address: Option<String>,
    /// The environment variable holding the authkey (never the key itself).
    pub authkey_env: Option<String>,
    /// Most connections served at once.
    pub max_connections: Option<usize>,
    /// Time allowed for the handshake and the first request, in seconds.
    pub handshake_timeout_secs: Option<f64>,
    /// Largest request frame in bytes.
    pub max_frame: Option<u64>,
    /// Do not log connection errors.
    pub quiet: Option<bool>,
    /// Shared objects: name → typeid (see [`Registry::share`](crate::managers::sdk::Registry::share)).
    #[serde(default)]
    pub objects: BTreeMap<String, String>,
    /// Pickle decoder limits for requests.
    pub limits: Option<LimitsFile>,
    /// Where objects live (default: in the server's memory).
    pub store: Option<StoreFile>,
}

/// The `[store]` table: objects kept in Redis or Valkey (feature `redis-store`).
///
/// ```
/// use mpshare::managers::server::ServerFile;
/// let f = ServerFile::parse("[store]\nurl = \"rediss://redis.internal:6380/0\"\nca = \"/etc/mpshare/ca.pem\"\n", "f")?;
/// let st = f.store.unwrap();
/// assert_eq!(st.ca.as_deref(), Some(std::path::Path::new("/etc/mpshare/ca.pem")));
/// assert!(st.cert.is_none() && st.key.is_none());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// `redis://HOST:PORT/DB` (several comma-separated for a Cluster), or `memory`.
    pub url: String,
    /// Key prefix (default `mpshare`).
    pub key_prefix: Option<String>,
    /// This front-end's name (default: its listening address).
    pub frontend_id: Option<String>,
    /// Lock lease in milliseconds (default 10000).
    pub lease_ms: Option<u64>,
    /// How long a silent front-end's references are kept, in milliseconds (default 60000).
    pub orphan_grace_ms: Option<u64>,
    /// PEM file of the CA certificate(s) to trust for a `rediss://` store (`--store-ca`).
    pub ca: Option<PathBuf>,
    /// PEM file of the client certificate for mutual TLS (`--store-cert`; with `key`).
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key (`--store-key`).
    pub key: Option<PathBuf>,
}

/// The `[limits]` table: any subset of [`Limits`](crate::managers::pickle::Limits)' fields.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Maximum nesting depth the server interprets (deeper stored values are kept as sent).
    pub max_depth: Option<usize>,
    /// Maximum number of values in one request.
    pub max_elements: Option<usize>,
    /// Maximum size of one `str`/`bytes` payload.
    pub max_bytes: Option<usize>,
    /// Maximum total size of the `str`/`bytes` payloads of one request.
    pub max_total_bytes: Option<usize>,
    /// Maximum number of memo entries.
    pub max_memo: Option<usize>,
}

impl ServerFile {
    /// Parses TOML `text`; `path` only names the file in errors.
    ///
    /// ```
    /// use mpshare::managers::server::ServerFile;
    /// let e = ServerFile::parse("max_connections = \"many\"", "serve.toml").unwrap_err();
    /// assert!(e.to_string().contains("serve.toml"));
    /// ```
    pub fn parse(text: &str, path: &str) -> Result<ServerFile> {
        let f: ServerFile = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_string(),
            reason: e.to_string().trim().to_string(),
        })?;
        if let Some(st) = &f.store {
            for (what, v) in [
                ("lease_ms", st.lease_ms),
                ("orphan_grace_ms", st.orphan_grace_ms),
            ] {
                if v == Some(0) {
                    return Err(Error::Config {
                        path: path.to_string(),
                        reason: format!(
                            "[store] {what}: expected a positive number of milliseconds, found 0"
                        ),
                    });
                }
            }
        }
        if let Some(t) = f.handshake_timeout_secs {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::Config {
                    path: path.to_string(),
                    reason: format!(
                        "handshake_timeout_secs: expected a positive number of seconds, found {t}"
                    ),
                });
            }
        }
        Ok(f)
    }

    /// Reads and parses a file.
    ///
    /// ```
    /// use mpshare::managers::server::ServerFile;
    /// assert!(ServerFile::load("/no/such/serve.toml").is_err());
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<ServerFile> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p).map_err(|e| Error::Config {
            path: p.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        ServerFile::parse(&text, &p.display().to_string())
    }

    /// Puts the file's settings (all but `address` and `authkey_env`, which decide how the
    /// config is built) into `cfg`, sharing its objects in `cfg.registry`.
    ///
    /// ```
    /// use mpshare::managers::{AuthKey, ServerConfig, server::ServerFile};
    /// let f = ServerFile::parse("max_connections = 8\n[objects]\nq = \"Queue\"\n[limits]\nmax_depth = 50\n", "f")?;
    /// let mut cfg = ServerConfig::new("127.0.0.1:0".parse()?, AuthKey::from("k"));
    /// f.apply(&mut cfg)?;
    /// assert_eq!(cfg.max_connections, 8);
    /// assert_eq!(cfg.limits.max_depth, 50);
    /// assert!(cfg.registry.get("q").is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn apply(&self, cfg: &mut ServerConfig) -> Result<()> {
        if let Some(n) = self.max_connections {
            cfg.max_connections = n;
        }
        if let Some(t) = self.handshake_timeout_secs {
            cfg.handshake_timeout = Duration::from_secs_f64(t);
        }
        if let Some(n) = self.max_frame {
            cfg.max_frame = n;
        }
        if let Some(q) = self.quiet {
            cfg.log_errors = !q;
        }
        if let Some(l) = &self.limits {
            let lim = &mut cfg.limits;
            lim.max_depth = l.max_depth.unwrap_or(lim.max_depth);
            lim.max_elements = l.max_elements.unwrap_or(lim.max_elements);
            lim.max_bytes = l.max_bytes.unwrap_or(lim.max_bytes);
            lim.max_total_bytes = l.max_total_bytes.unwrap_or(lim.max_total_bytes);
            lim.max_memo = l.max_memo.unwrap_or(lim.max_memo);
        }
        for (name, typeid) in &self.objects {
            cfg.registry.share(name, typeid)?;
        }
        if let Some(st) = &self.store {
            cfg.store = st.to_config()?;
        }
        Ok(())
    }
}

impl StoreFile {
    /// The [`StoreConfig`](super::StoreConfig) this table describes.
    ///
    /// ```
    /// use mpshare::managers::server::{StoreConfig, StoreFile};
    /// let f = StoreFile { url: "memory".into(), ..Default::default() };
    /// assert!(matches!(f.to_config()?, StoreConfig::Memory));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_config(&self) -> Result<super::StoreConfig> {
        if self.url == "memory" {
            return Ok(super::StoreConfig::Memory);
        }
        #[cfg(feature = "redis-store")]
        {
            let mut r = super::RedisStoreConfig::new(&self.url);
            if let Some(p) = &self.key_prefix {
                r.prefix = p.clone();
            }
            r.frontend_id = self.frontend_id.clone();
            if let Some(ms) = self.lease_ms {
                r.lease = Duration::from_millis(ms);
            }
            if let Some(ms) = self.orphan_grace_ms {
                r.orphan_grace = Duration::from_millis(ms);
            }
            r.ca.clone_from(&self.ca);
            r.cert.clone_from(&self.cert);
            r.key.clone_from(&self.key);
            Ok(super::StoreConfig::Redis(r))
        }
        #[cfg(not(feature = "redis-store"))]
        Err(Error::Store {
            url: self.url.clone(),
            reason: "this mpshare was built without the `redis-store` feature (expected `memory`)"
                .to_string(),
        })
    }
}
