//! [`Listener`]: a listening socket (TCP, Unix path or abstract name) accepting [`Connection`]s.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{self as nsock, AddressFamily, SockFlag, SockType};

use super::address::{invalid_address, unix_addr, Address};
use super::stream::Stream;
use super::{Connection, ConnectionConfig};
use crate::error::OsContext;
use crate::{Error, Result};

/// Default listen backlog of [`Listener::bind`].
/// ```
/// assert!(mpshare::managers::connection::DEFAULT_BACKLOG >= 50);
/// ```
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Settings of a [`Listener`].
///
/// ```
/// use mpshare::managers::connection::ListenerConfig;
/// let cfg = ListenerConfig { backlog: 64, ..ListenerConfig::default() };
/// assert_eq!(ListenerConfig::default().backlog, 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// `listen(2)` backlog (default 1024, clamped to `SOMAXCONN`).
    pub backlog: i32,
    /// Settings given to every accepted [`Connection`].
    pub connection: ConnectionConfig,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            backlog: DEFAULT_BACKLOG,
            connection: ConnectionConfig::default(),
        }
    }
}

#[derive(Debug)]
enum ListenerInner {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Run `$body` with `$l` bound to the inner std listener, whatever its kind.
macro_rules! each {
    ($inner:expr, $l:ident => $body:expr) => {
        match $inner {
            ListenerInner::Tcp($l) => $body,
            ListenerInner::Unix($l) => $body,
        }
    };
}

/// A listening socket accepting [`Connection`]s.
///
/// TCP listeners set `SO_REUSEADDR`. A Unix path listener refuses to replace a file that is
/// not a socket or a socket something still listens on; it removes a stale socket file, and
/// unlinks its own path when dropped (only if the path still names the socket it created).
///
/// ```
/// use mpshare::managers::connection::{Address, Connection, Listener, ListenerConfig};
/// use std::time::Duration;
/// let l = Listener::bind(&Address::Abstract(format!("mpshare-doc-{}", std::process::id()).into_bytes()),
///                        ListenerConfig::default())?;
/// let _c = Connection::connect(&l.address()?, Duration::from_secs(5))?;
/// let mut s = l.accept_timeout(Duration::from_secs(5))?.expect("a connection");
/// assert!(l.accept_timeout(Duration::from_millis(10))?.is_none());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    inner: ListenerInner,
    config: ListenerConfig,
    /// Path to unlink on drop, with the (dev, ino) of the socket file we created.
    unlink: Option<(PathBuf, u64, u64)>,
    /// What [`Listener::set_nonblocking`] last set.
    nonblocking: std::sync::atomic::AtomicBool,
}

impl Listener {
    /// Bind and listen on `address` (port 0 picks a free port; see [`address`](Self::address)).
    ///
    /// ```
    /// use mpshare::managers::connection::{Listener, ListenerConfig};
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// assert_ne!(l.address()?.to_string(), "127.0.0.1:0");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn bind(address: &Address, config: ListenerConfig) -> Result<Listener> {
        let backlog = nsock::Backlog::new(config.backlog.clamp(1, libc::SOMAXCONN))
            .os_context("listen backlog")?;
        let ctx = |what: &str| format!("{what}({address})");
        match address {
            Address::Tcp(sa) => {
                // std sets SO_REUSEADDR on Unix; listen(2) again to raise the backlog (Linux
                // updates the queue length of a listening socket).
                let l = TcpListener::bind(sa).os_context(ctx("bind"))?;
                nsock::listen(&l, backlog).os_context(ctx("listen"))?;
                Ok(Listener {
                    inner: ListenerInner::Tcp(l),
                    config,
                    unlink: None,
                    nonblocking: Default::default(),
                })
            }
            Address::Unix(path) => {
                let ua = unix_addr(address)?;
                prepare_unix_path(path)?;
                let fd = unix_socket()?;
                nsock::bind(fd.as_raw_fd(), &ua).os_context(ctx("bind"))?;
                let meta = std::fs::symlink_metadata(path).os_context(ctx("stat"))?;
                let unlink = Some((path.clone(), meta.dev(), meta.ino()));
                let l = Listener {
                    inner: ListenerInner::Unix(UnixListener::from(fd)),
                    config,
                    unlink,
                    nonblocking: Default::default(),
                };
                nsock::listen(&l.inner_fd(), backlog).os_context(ctx("listen"))?;
                Ok(l)
            }
            Address::Abstract(_) => {
                let ua = unix_addr(address)?;
                let fd = unix_socket()?;
                nsock::bind(fd.as_raw_fd(), &ua).os_context(ctx("bind"))?;
                nsock::listen(&fd, backlog).os_context(ctx("listen"))?;
                Ok(Listener {
                    inner: ListenerInner::Unix(UnixListener::from(fd)),
                    config,
                    unlink: None,
                    nonblocking: Default::default(),
                })
            }
        }
    }

    fn inner_fd(&self) -> BorrowedFd<'_> {
        each!(&self.inner, l => l.as_fd())
    }

    /// The bound address, with port 0 resolved to the real port.
    ///
    /// ```
    /// use mpshare::managers::connection::{Address, Listener, ListenerConfig};
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// match l.address()? { Address::Tcp(a) => assert_ne!(a.port(), 0), _ => unreachable!() }
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn address(&self) -> Result<Address> {
        match &self.inner {
            ListenerInner::Tcp(l) => l.local_addr().map(Address::Tcp),
            ListenerInner::Unix(l) => l.local_addr().map(|a| Address::from_unix_std(&a)),
        }
        .os_context("getsockname")
    }

    /// The listener's settings.
    ///
    /// ```
    /// use mpshare::managers::connection::{Listener, ListenerConfig};
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// assert_eq!(l.config().backlog, 1024);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    /// Wait for and accept the next connection (blocking, unless
    /// [`set_nonblocking`](Self::set_nonblocking) is on, in which case no pending connection
    /// gives [`Error::Timeout`] of zero).
    ///
    /// ```
    /// use mpshare::managers::connection::{Connection, Listener, ListenerConfig};
    /// use std::time::Duration;
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// let mut c = Connection::connect(&l.address()?, Duration::from_secs(5))?;
    /// let mut s = l.accept()?;
    /// c.send_bytes(b"hi")?;
    /// assert_eq!(s.recv_bytes()?, b"hi");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn accept(&self) -> Result<Connection> {
        loop {
            let r = match &self.inner {
                ListenerInner::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
                ListenerInner::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
            };
            match r {
                Ok(stream) => {
                    // Accepted sockets must block even if the listener does not.
                    stream.set_nonblocking(false)?;
                    return Connection::new(stream, self.config.connection.clone());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A connection that died in the queue is not the listener's failure.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::Timeout(Duration::ZERO))
                }
                Err(e) => return Err(e).os_context("accept"),
            }
        }
    }

    /// Accept a connection, waiting at most `timeout`; `Ok(None)` if none arrived. Meant for
    /// one accepting thread (it briefly makes the listener non-blocking).
    ///
    /// ```
    /// use mpshare::managers::connection::{Listener, ListenerConfig};
    /// use std::time::Duration;
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// assert!(l.accept_timeout(Duration::from_millis(5))?.is_none());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Option<Connection>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            let mut fds = [nix::poll::PollFd::new(
                self.inner_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let pt = nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX);
            match nix::poll::poll(&mut fds, pt) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::os(e as i32, "poll(listener)")),
            }
            // Accept without blocking: another thread may have taken the connection.
            let was = self.nonblocking.load(std::sync::atomic::Ordering::Relaxed);
            self.set_nonblocking(true)?;
            let r = self.accept();
            self.set_nonblocking(was)?;
            match r {
                Ok(c) => return Ok(Some(c)),
                Err(Error::Timeout(_)) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Make [`accept`](Self::accept) return [`Error::Timeout`] at once when no connection is
    /// pending.
    ///
    /// ```
    /// use mpshare::{Error, managers::connection::{Listener, ListenerConfig}};
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// l.set_nonblocking(true)?;
    /// assert!(matches!(l.accept(), Err(Error::Timeout(_))));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        each!(&self.inner, l => l.set_nonblocking(nonblocking)).os_context("fcntl(O_NONBLOCK)")?;
        self.nonblocking
            .store(nonblocking, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner_fd().as_raw_fd()
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.unlink {
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if m.dev() == *dev && m.ino() == *ino {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

fn unix_socket() -> Result<OwnedFd> {
    nsock::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .os_context("socket(AF_UNIX)")
}

/// Refuse to clobber a non-socket or a live socket; remove a stale socket file.
fn prepare_unix_path(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).os_context(format!("stat({})", path.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(invalid_address(
            &path.display().to_string(),
            "path exists and is not a socket; refusing to replace it",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::from(io::ErrorKind::AddrInUse)).os_context(format!(
            "bind({}): a server is listening there",
            path.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).os_context(format!("unlink stale socket {}", path.display()))
        }
        Err(e) => Err(e).os_context(format!("probe socket {}", path.display())),
    }
}
