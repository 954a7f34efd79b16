//! [`Address`]: where a connection goes (TCP, a Unix socket path, a Linux abstract name), its
//! textual forms, and the conversions to and from the socket libraries' address types.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use nix::sys::socket::UnixAddr;

use crate::{Error, Result};

/// Where a connection goes: a TCP address, a Unix socket path, or a Linux abstract Unix name.
///
/// Textual forms accepted by [`FromStr`]: `"127.0.0.1:5000"`, `"[::1]:5000"`, `"localhost:5000"`
/// (resolved, IPv4 preferred), `"/path/sock"`, `"./rel/sock"`, `"unix:/path/sock"`, `"@name"` and
/// `"unix-abstract:name"`. [`Display`](fmt::Display) writes the canonical form back
/// (`127.0.0.1:5000`, `/path/sock`, `@name`).
///
/// ```
/// use mpshare::managers::connection::Address;
/// let a: Address = "127.0.0.1:5000".parse()?;
/// assert_eq!(a.to_string(), "127.0.0.1:5000");
/// let u: Address = "unix:/tmp/x.sock".parse()?;
/// assert_eq!(u, Address::Unix("/tmp/x.sock".into()));
/// let n: Address = "@mgr".parse()?;
/// assert_eq!(n, Address::Abstract(b"mgr".to_vec()));
/// assert_eq!(n.to_string(), "@mgr");
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP address (CPython managers use IPv4; IPv6 works between Rust peers).
    Tcp(SocketAddr),
    /// A Unix stream socket bound to a filesystem path.
    Unix(PathBuf),
    /// A Linux abstract Unix socket name, without the leading NUL byte. CPython spells this
    /// address `b'\x00name'`.
    Abstract(Vec<u8>),
}

impl Address {
    /// Whether this is a TCP address.
    ///
    /// ```
    /// use mpshare::managers::connection::Address;
    /// assert!("127.0.0.1:1".parse::<Address>()?.is_tcp());
    /// assert!(!"@x".parse::<Address>()?.is_tcp());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_tcp(&self) -> bool {
        matches!(self, Address::Tcp(_))
    }

    pub(super) fn from_unix_std(a: &UnixSocketAddr) -> Address {
        if let Some(p) = a.as_pathname() {
            Address::Unix(p.to_path_buf())
        } else if let Some(n) = a.as_abstract_name() {
            Address::Abstract(n.to_vec())
        } else {
            Address::Unix(PathBuf::new())
        }
    }
}

pub(super) fn invalid_address(input: &str, reason: impl Into<String>) -> Error {
    Error::InvalidAddress {
        input: input.to_string(),
        reason: reason.into(),
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Address> {
        if let Some(rest) = s.strip_prefix("unix-abstract:") {
            return Ok(Address::Abstract(rest.as_bytes().to_vec()));
        }
        if let Some(rest) = s.strip_prefix('@') {
            return Ok(Address::Abstract(rest.as_bytes().to_vec()));
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            if rest.is_empty() {
                return Err(invalid_address(s, "expected a socket path after 'unix:'"));
            }
            return Ok(Address::Unix(PathBuf::from(rest)));
        }
        if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(Address::Tcp(sa));
        }
        if !s.contains(':') {
            return Err(invalid_address(
                s,
                "expected host:port, a socket path starting with '/', 'unix:PATH', '@NAME' or 'unix-abstract:NAME'",
            ));
        }
        let addrs: Vec<SocketAddr> = s
            .to_socket_addrs()
            .map_err(|e| invalid_address(s, format!("cannot resolve: {e}")))?
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .map(|a| Address::Tcp(*a))
            .ok_or_else(|| invalid_address(s, "host resolved to no address"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "{a}"),
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Abstract(n) => write!(f, "@{}", n.escape_ascii()),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Address {
        Address::Tcp(a)
    }
}

/// The `sockaddr_un` of a Unix or abstract address.
pub(super) fn unix_addr(address: &Address) -> Result<UnixAddr> {
    match address {
        Address::Unix(p) => UnixAddr::new(p.as_path())
            .map_err(|e| invalid_address(&address.to_string(), format!("bad socket path: {e}"))),
        Address::Abstract(n) => UnixAddr::new_abstract(n)
            .map_err(|e| invalid_address(&address.to_string(), format!("bad abstract name: {e}"))),
        Address::Tcp(_) => Err(invalid_address(&address.to_string(), "not a Unix address")),
    }
}
