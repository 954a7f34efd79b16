//! Sockets and framing of `multiprocessing.connection`: addresses, length-prefixed frames,
//! listeners and client connects.
//!
//! A frame is a signed big-endian `i32` length followed by that many payload bytes; payloads
//! longer than `0x7fffffff` bytes use the escape header `ff ff ff ff` followed by a big-endian
//! `u64` length (see `manager-protocol.md` §1.2). The same framing is used over TCP and Unix
//! stream sockets.
//!
//! ```
//! use mpshare::managers::connection::{Address, Connection, Listener, ListenerConfig};
//! use std::time::Duration;
//!
//! let listener = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
//! let addr = listener.address()?;
//! let client = std::thread::spawn(move || -> mpshare::Result<Vec<u8>> {
//!     let mut c = Connection::connect(&addr, Duration::from_secs(5))?;
//!     c.send_bytes(b"ping")?;
//!     c.recv_bytes()
//! });
//! let mut server = listener.accept()?;
//! assert_eq!(server.recv_bytes()?, b"ping");
//! server.send_bytes(b"pong")?;
//! assert_eq!(client.join().unwrap()?, b"pong");
//! # Ok::<(), mpshare::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::socket::{self as nsock, AddressFamily, SockFlag, SockType, UnixAddr};

use crate::{Error, Result};

/// Default largest accepted data frame: 64 MiB.
/// ```
/// assert_eq!(mpshare::managers::connection::DEFAULT_MAX_FRAME, 64 << 20);
/// ```
pub const DEFAULT_MAX_FRAME: u64 = 64 * 1024 * 1024;

/// Largest handshake frame CPython accepts (and so do we): 256 bytes.
/// ```
/// assert_eq!(mpshare::managers::connection::HANDSHAKE_FRAME_CAP, 256);
/// ```
pub const HANDSHAKE_FRAME_CAP: u64 = 256;

/// Default listen backlog of [`Listener::bind`].
/// ```
/// assert!(mpshare::managers::connection::DEFAULT_BACKLOG >= 50);
/// ```
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Size of the internal read buffer; a frame whose header and payload fit in it usually costs a
/// single `read` system call.
const READ_BUF: usize = 16 * 1024;

/// Frames up to this many bytes are allocated in full at once; larger ones grow as data arrives,
/// so a peer that announces a big frame and sends nothing cannot make us commit the memory.
const EAGER_ALLOC: usize = 1024 * 1024;

/// Frames up to this many payload bytes are copied behind their header and sent with a single
/// `send`; larger ones go out as header, then payload.
const COALESCE: usize = 64 * 1024;

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

    fn from_unix_std(a: &UnixSocketAddr) -> Address {
        if let Some(p) = a.as_pathname() {
            Address::Unix(p.to_path_buf())
        } else if let Some(n) = a.as_abstract_name() {
            Address::Abstract(n.to_vec())
        } else {
            Address::Unix(PathBuf::new())
        }
    }
}

fn invalid_address(input: &str, reason: impl Into<String>) -> Error {
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

/// Settings of one [`Connection`].
///
/// ```
/// use mpshare::managers::connection::ConnectionConfig;
/// use std::time::Duration;
/// let cfg = ConnectionConfig { max_frame: 1 << 20, ..ConnectionConfig::default() };
/// assert_eq!(cfg.handshake_timeout, Duration::from_secs(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Largest data frame [`Connection::recv_bytes`] accepts (default 64 MiB).
    pub max_frame: u64,
    /// Total time allowed for the authkey handshake (default 20 s).
    pub handshake_timeout: Duration,
    /// Read timeout applied to the connection when it is created (default none). A read that
    /// waits longer fails with [`Error::Timeout`].
    pub idle_timeout: Option<Duration>,
    /// Write timeout applied when the connection is created (default none).
    pub write_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_frame: DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: None,
            write_timeout: None,
        }
    }
}

#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
    /// `send` with `MSG_NOSIGNAL`: a closed peer gives `EPIPE`, never `SIGPIPE`, even in a
    /// host process that did not ignore the signal.
    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        nsock::send(self.as_fd().as_raw_fd(), buf, nsock::MsgFlags::MSG_NOSIGNAL)
            .map_err(io::Error::from)
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

/// One end of a framed `multiprocessing.connection` stream (TCP or Unix).
///
/// Reads go through a small internal buffer so that a short frame costs about one system call;
/// writes of frames up to 64 KiB put header and payload in a single `send`. After a protocol error, an oversized
/// frame or a timeout in the middle of a frame the stream is out of step and every later
/// `recv_bytes` fails with [`Error::Protocol`]; drop the connection.
///
/// ```
/// use mpshare::managers::connection::Connection;
/// let (mut a, mut b) = Connection::pair()?;
/// a.send_bytes(b"hello")?;
/// assert_eq!(b.recv_bytes()?, b"hello");
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    buf: Box<[u8]>,
    wbuf: Vec<u8>,
    /// Frames queued by `queue_bytes`, sent by `flush` or the next `send_bytes`.
    queued: Vec<u8>,
    pos: usize,
    end: usize,
    config: ConnectionConfig,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    broken: Option<String>,
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Where a read failure happened, to tell a clean close from a truncated frame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing of the next frame consumed yet.
    Boundary,
    /// Inside a frame header (`have` of `need` bytes present).
    Header,
    /// Inside a payload.
    Payload,
}

/// The frame header for a payload of `len` bytes, and its length (4, or 12 with the escape).
fn frame_header(len: usize) -> ([u8; 12], usize) {
    let mut header = [0u8; 12];
    if len <= 0x7fff_ffff {
        header[..4].copy_from_slice(&(len as u32).to_be_bytes());
        (header, 4)
    } else {
        header[..4].copy_from_slice(&[0xff; 4]);
        header[4..12].copy_from_slice(&(len as u64).to_be_bytes());
        (header, 12)
    }
}

impl Connection {
    fn new(stream: Stream, config: ConnectionConfig) -> Result<Connection> {
        if let Stream::Tcp(s) = &stream {
            s.set_nodelay(true).map_err(|e| Error::Os {
                context: "setsockopt(TCP_NODELAY)".into(),
                source: e,
            })?;
        }
        let mut c = Connection {
            stream,
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            wbuf: Vec::new(),
            queued: Vec::new(),
            pos: 0,
            end: 0,
            read_timeout: None,
            write_timeout: None,
            config: config.clone(),
            broken: None,
        };
        if config.idle_timeout.is_some() {
            c.set_read_timeout(config.idle_timeout)?;
        }
        if config.write_timeout.is_some() {
            c.set_write_timeout(config.write_timeout)?;
        }
        Ok(c)
    }

    /// Wrap a connected TCP stream (sets `TCP_NODELAY`).
    ///
    /// ```
    /// use mpshare::managers::connection::{Connection, ConnectionConfig};
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let s = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let c = Connection::from_tcp(s, ConnectionConfig::default())?;
    /// assert!(c.peer_addr()?.is_tcp());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_tcp(stream: TcpStream, config: ConnectionConfig) -> Result<Connection> {
        Connection::new(Stream::Tcp(stream), config)
    }

    /// Wrap a connected Unix stream.
    ///
    /// ```
    /// use mpshare::managers::connection::{Connection, ConnectionConfig};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let c = Connection::from_unix(a, ConnectionConfig::default())?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_unix(stream: UnixStream, config: ConnectionConfig) -> Result<Connection> {
        Connection::new(Stream::Unix(stream), config)
    }

    /// A connected pair of Unix-socket connections with default settings (tests, benches,
    /// in-process use).
    ///
    /// ```
    /// use mpshare::managers::connection::Connection;
    /// let (mut a, mut b) = Connection::pair()?;
    /// b.send_bytes(b"")?;
    /// assert_eq!(a.recv_bytes()?, b"");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pair() -> Result<(Connection, Connection)> {
        let (a, b) = UnixStream::pair().map_err(|e| Error::Os {
            context: "socketpair(AF_UNIX)".into(),
            source: e,
        })?;
        Ok((
            Connection::from_unix(a, ConnectionConfig::default())?,
            Connection::from_unix(b, ConnectionConfig::default())?,
        ))
    }

    /// Connect to `address` with default settings, giving up after `timeout`.
    ///
    /// ```
    /// use mpshare::managers::connection::{Connection, Listener, ListenerConfig};
    /// use std::time::Duration;
    /// let l = Listener::bind(&"127.0.0.1:0".parse()?, ListenerConfig::default())?;
    /// let c = Connection::connect(&l.address()?, Duration::from_secs(5))?;
    /// assert_eq!(c.peer_addr()?, l.address()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn connect(address: &Address, timeout: Duration) -> Result<Connection> {
        Connection::connect_with(address, timeout, ConnectionConfig::default())
    }

    /// Connect to `address` with the given settings, giving up after `timeout`.
    ///
    /// ```
    /// use mpshare::managers::connection::{Connection, ConnectionConfig};
    /// use std::time::Duration;
    /// let dir = std::env::temp_dir().join(format!("mpshare-doc-missing-{}", std::process::id()));
    /// let err = Connection::connect_with(
    ///     &mpshare::managers::connection::Address::Unix(dir),
    ///     Duration::from_secs(1),
    ///     ConnectionConfig::default(),
    /// );
    /// assert!(err.is_err());
    /// ```
    pub fn connect_with(
        address: &Address,
        timeout: Duration,
        config: ConnectionConfig,
    ) -> Result<Connection> {
        let timeout = timeout.max(Duration::from_millis(1));
        let ctx = || format!("connect({address})");
        match address {
            Address::Tcp(sa) => {
                let s = TcpStream::connect_timeout(sa, timeout).map_err(|e| {
                    if is_timeout(&e) {
                        Error::Timeout(timeout)
                    } else {
                        Error::Os {
                            context: ctx(),
                            source: e,
                        }
                    }
                })?;
                Connection::from_tcp(s, config)
            }
            Address::Unix(_) | Address::Abstract(_) => {
                let ua = unix_addr(address)?;
                let fd = nsock::socket(
                    AddressFamily::Unix,
                    SockType::Stream,
                    SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .map_err(|e| Error::os(e as i32, "socket(AF_UNIX)"))?;
                // A Unix connect blocks while the listener's backlog is full; SO_SNDTIMEO bounds it.
                let stream = UnixStream::from(fd);
                stream
                    .set_write_timeout(Some(timeout))
                    .map_err(|e| Error::Os {
                        context: "setsockopt(SO_SNDTIMEO)".into(),
                        source: e,
                    })?;
                match nsock::connect(stream.as_raw_fd(), &ua) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINPROGRESS) => {
                        return Err(Error::Timeout(timeout))
                    }
                    Err(e) => return Err(Error::os(e as i32, ctx())),
                }
                stream.set_write_timeout(None).map_err(|e| Error::Os {
                    context: "setsockopt(SO_SNDTIMEO)".into(),
                    source: e,
                })?;
                Connection::from_unix(stream, config)
            }
        }
    }

    /// The settings this connection was made with.
    ///
    /// ```
    /// let (a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// assert_eq!(a.config().max_frame, 64 << 20);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Change the largest data frame [`recv_bytes`](Self::recv_bytes) accepts.
    ///
    /// ```
    /// let (mut a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// a.set_max_frame(1024);
    /// assert_eq!(a.config().max_frame, 1024);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_max_frame(&mut self, max: u64) {
        self.config.max_frame = max;
    }

    /// Send one frame holding `payload`.
    ///
    /// Header and payload go out in one `send` (up to 64 KiB of payload); partial writes are
    /// continued. `SIGPIPE` is never raised: a closed peer gives [`Error::ConnectionClosed`].
    ///
    /// ```
    /// let (mut a, mut b) = mpshare::managers::connection::Connection::pair()?;
    /// a.send_bytes(&[7u8; 100])?;
    /// assert_eq!(b.recv_bytes()?.len(), 100);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn send_bytes(&mut self, payload: &[u8]) -> Result<()> {
        if !self.queued.is_empty() {
            self.queue_bytes(payload);
            return self.flush();
        }
        let (header, hlen) = frame_header(payload.len());
        self.write_frame(&header[..hlen], payload)
    }

    /// Frame `payload` into the outgoing queue without sending it. [`flush`](Self::flush), or the
    /// next [`send_bytes`](Self::send_bytes), sends every queued frame in order with one system
    /// call: a server answering pipelined requests replies to a whole batch at once.
    ///
    /// ```
    /// use mpshare::managers::connection::Connection;
    /// let (mut a, mut b) = Connection::pair()?;
    /// a.queue_bytes(b"one");
    /// a.queue_bytes(b"two");
    /// assert_eq!(a.queued_len(), 14);
    /// a.flush()?;
    /// assert_eq!((b.recv_bytes()?, b.recv_bytes()?), (b"one".to_vec(), b"two".to_vec()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn queue_bytes(&mut self, payload: &[u8]) {
        let (header, hlen) = frame_header(payload.len());
        self.queued.extend_from_slice(&header[..hlen]);
        self.queued.extend_from_slice(payload);
    }

    /// Bytes (headers included) queued by [`queue_bytes`](Self::queue_bytes) and not yet sent.
    ///
    /// ```
    /// let (mut a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// assert_eq!(a.queued_len(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Send every queued frame.
    ///
    /// ```
    /// let (mut a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// a.flush()?; // nothing queued: no system call
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<()> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.queued);
        let r = self.write_all(&data);
        if data.capacity() <= 4 * COALESCE {
            self.queued = data;
            self.queued.clear();
        }
        r
    }

    /// True when a whole frame is already buffered, so the next [`recv_bytes`](Self::recv_bytes)
    /// returns without a system call.
    ///
    /// ```
    /// use mpshare::managers::connection::Connection;
    /// let (mut a, mut b) = Connection::pair()?;
    /// a.send_bytes(b"x")?;
    /// a.send_bytes(b"y")?;
    /// assert_eq!(b.recv_bytes()?, b"x");
    /// assert!(b.has_buffered_frame());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn has_buffered_frame(&self) -> bool {
        let have = self.end - self.pos;
        if have < 4 {
            return false;
        }
        let b = &self.buf[self.pos..self.pos + 4];
        let n = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if n == -1 {
            if have < 12 {
                return false;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&self.buf[self.pos + 4..self.pos + 12]);
            (u64::from_be_bytes(l))
                .checked_add(12)
                .is_some_and(|t| t <= have as u64)
        } else {
            n >= 0 && n as usize + 4 <= have
        }
    }

    fn write_frame(&mut self, header: &[u8], payload: &[u8]) -> Result<()> {
        if payload.len() <= COALESCE {
            // One buffer, one system call.
            let mut wbuf = std::mem::take(&mut self.wbuf);
            wbuf.clear();
            wbuf.extend_from_slice(header);
            wbuf.extend_from_slice(payload);
            let r = self.write_all(&wbuf);
            if wbuf.capacity() <= 2 * COALESCE {
                self.wbuf = wbuf;
            }
            r
        } else {
            self.write_all(header)?;
            self.write_all(payload)
        }
    }

    fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            match self.stream.send(data) {
                Ok(0) => return Err(Error::ConnectionClosed),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(if is_timeout(&e) {
                        Error::Timeout(self.write_timeout.unwrap_or_default())
                    } else if is_reset(&e) {
                        Error::ConnectionClosed
                    } else {
                        Error::Os {
                            context: "send_bytes: send".into(),
                            source: e,
                        }
                    })
                }
            }
        }
        Ok(())
    }

    /// Receive one frame, refusing payloads above the configured maximum
    /// ([`ConnectionConfig::max_frame`]).
    ///
    /// Errors: [`Error::ConnectionClosed`] on a clean end of stream between frames;
    /// [`Error::Protocol`] on a truncated frame or a negative length other than the `-1`
    /// escape; [`Error::FrameTooLarge`] (nothing allocated) above the maximum;
    /// [`Error::Timeout`] if the read timeout expires.
    ///
    /// ```
    /// use mpshare::{Error, managers::connection::Connection};
    /// let (mut a, mut b) = Connection::pair()?;
    /// a.send_bytes(b"x")?;
    /// drop(a);
    /// assert_eq!(b.recv_bytes()?, b"x");
    /// assert!(matches!(b.recv_bytes(), Err(Error::ConnectionClosed)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>> {
        self.recv_frame(self.config.max_frame, None)
    }

    /// Receive one frame of at most `cap` bytes (handshake frames use 256).
    ///
    /// ```
    /// use mpshare::{Error, managers::connection::Connection};
    /// let (mut a, mut b) = Connection::pair()?;
    /// a.send_bytes(&[0u8; 300])?;
    /// assert!(matches!(b.recv_bytes_capped(256), Err(Error::FrameTooLarge { len: 300, max: 256 })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn recv_bytes_capped(&mut self, cap: u64) -> Result<Vec<u8>> {
        self.recv_frame(cap, None)
    }

    /// Receive one frame of at most `cap` bytes, failing with [`Error::Timeout`] once `deadline`
    /// has passed, however the peer trickles its bytes.
    ///
    /// ```
    /// use mpshare::{Error, managers::connection::Connection};
    /// use std::time::{Duration, Instant};
    /// let (mut a, _b) = Connection::pair()?;
    /// let r = a.recv_bytes_deadline(256, Instant::now() + Duration::from_millis(20));
    /// assert!(matches!(r, Err(Error::Timeout(_))));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn recv_bytes_deadline(&mut self, cap: u64, deadline: Instant) -> Result<Vec<u8>> {
        let saved = self.read_timeout;
        let r = self.recv_frame(cap, Some(deadline));
        let restore = self.stream.set_read_timeout(saved);
        let out = r?;
        restore.map_err(|e| Error::Os {
            context: "setsockopt(SO_RCVTIMEO)".into(),
            source: e,
        })?;
        Ok(out)
    }

    fn recv_frame(&mut self, cap: u64, deadline: Option<Instant>) -> Result<Vec<u8>> {
        if let Some(why) = &self.broken {
            return Err(Error::Protocol(format!(
                "connection unusable after an earlier error: {why}"
            )));
        }
        let r = self.recv_frame_inner(cap, deadline);
        if let Err(e) = &r {
            match e {
                Error::FrameTooLarge { .. } | Error::Protocol(_) => {
                    self.broken = Some(e.to_string());
                }
                _ => {}
            }
        }
        r
    }

    fn recv_frame_inner(&mut self, cap: u64, deadline: Option<Instant>) -> Result<Vec<u8>> {
        self.fill_at_least(4, Phase::Boundary, deadline)?;
        let n = i32::from_be_bytes(
            self.buf[self.pos..self.pos + 4]
                .try_into()
                .unwrap_or([0; 4]),
        );
        let len: u64 = if n == -1 {
            self.fill_at_least(12, Phase::Header, deadline)?;
            let l = u64::from_be_bytes(
                self.buf[self.pos + 4..self.pos + 12]
                    .try_into()
                    .unwrap_or([0; 8]),
            );
            self.pos += 12;
            l
        } else if n < 0 {
            self.pos += 4;
            return Err(Error::Protocol(format!(
                "bad frame header: expected a length 0..=2147483647 or the -1 escape, found {n}"
            )));
        } else {
            self.pos += 4;
            n as u64
        };
        if len > cap {
            return Err(Error::FrameTooLarge { len, max: cap });
        }
        let len = usize::try_from(len).map_err(|_| Error::FrameTooLarge {
            len,
            max: usize::MAX as u64,
        })?;
        let have = self.end - self.pos;
        if len <= have {
            let out = self.buf[self.pos..self.pos + len].to_vec();
            self.pos += len;
            return Ok(out);
        }
        if len <= self.buf.len() {
            // Small frame: finish it through the buffer (may pick up the next header too).
            self.fill_at_least(len, Phase::Payload, deadline)?;
            let out = self.buf[self.pos..self.pos + len].to_vec();
            self.pos += len;
            return Ok(out);
        }
        // Large frame: copy what is buffered, then read straight into the result, growing it
        // as data arrives.
        let mut out = Vec::with_capacity(len.min(EAGER_ALLOC));
        out.extend_from_slice(&self.buf[self.pos..self.end]);
        self.pos = 0;
        self.end = 0;
        let mut filled = out.len();
        while filled < len {
            if out.len() == filled {
                let grow = len.min((filled * 2).max(EAGER_ALLOC));
                out.resize(grow, 0);
            }
            self.apply_deadline(deadline)?;
            match self.stream.read(&mut out[filled..]) {
                Ok(0) => {
                    return Err(Error::Protocol(format!(
                        "connection closed mid-frame: expected {len} payload bytes, got {filled}"
                    )))
                }
                Ok(k) => filled += k,
                Err(e) => self.read_error(e, Phase::Payload, deadline)?,
            }
        }
        Ok(out)
    }

    /// Map a read error; `Ok(())` means retry.
    fn read_error(&mut self, e: io::Error, phase: Phase, deadline: Option<Instant>) -> Result<()> {
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        let err = if is_timeout(&e) {
            let waited = match deadline {
                Some(_) => self.config.handshake_timeout,
                None => self.read_timeout.unwrap_or_default(),
            };
            Error::Timeout(waited)
        } else if is_reset(&e) {
            if phase == Phase::Boundary {
                Error::ConnectionClosed
            } else {
                Error::Protocol(format!("connection reset mid-frame: {e}"))
            }
        } else {
            Error::Os {
                context: "recv_bytes: read".into(),
                source: e,
            }
        };
        if phase == Phase::Payload && matches!(err, Error::Timeout(_)) {
            self.broken = Some("timed out in the middle of a frame".into());
        }
        Err(err)
    }

    fn apply_deadline(&mut self, deadline: Option<Instant>) -> Result<()> {
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(self.config.handshake_timeout));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| Error::Os {
                    context: "setsockopt(SO_RCVTIMEO)".into(),
                    source: e,
                })?;
        }
        Ok(())
    }

    /// Make sure `need` (≤ buffer size) unread bytes are in the buffer.
    fn fill_at_least(
        &mut self,
        need: usize,
        phase: Phase,
        deadline: Option<Instant>,
    ) -> Result<()> {
        while self.end - self.pos < need {
            if self.buf.len() - self.pos < need {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            let have = self.end - self.pos;
            // Phase refinement: a frame boundary with bytes already buffered is mid-header.
            let phase = if phase == Phase::Boundary && have > 0 {
                Phase::Header
            } else {
                phase
            };
            self.apply_deadline(deadline)?;
            let end = self.end;
            match self.stream.read(&mut self.buf[end..]) {
                Ok(0) => {
                    return Err(match phase {
                        Phase::Boundary => Error::ConnectionClosed,
                        Phase::Header => Error::Protocol(format!(
                            "connection closed mid-frame: got {have} of a frame header"
                        )),
                        Phase::Payload => Error::Protocol(format!(
                            "connection closed mid-frame: expected {need} payload bytes, got {have}"
                        )),
                    })
                }
                Ok(k) => self.end += k,
                Err(e) => self.read_error(e, phase, deadline)?,
            }
        }
        Ok(())
    }

    /// Set the read timeout (`None` = block forever). A read that waits longer fails with
    /// [`Error::Timeout`]; a timeout between frames leaves the connection usable.
    ///
    /// ```
    /// use mpshare::{Error, managers::connection::Connection};
    /// use std::time::Duration;
    /// let (mut a, _b) = Connection::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// assert!(matches!(a.recv_bytes(), Err(Error::Timeout(_))));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        let timeout = timeout.map(|t| t.max(Duration::from_micros(1)));
        self.stream
            .set_read_timeout(timeout)
            .map_err(|e| Error::Os {
                context: "setsockopt(SO_RCVTIMEO)".into(),
                source: e,
            })?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// Set the write timeout (`None` = block forever).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout(), Some(Duration::from_secs(1)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        let timeout = timeout.map(|t| t.max(Duration::from_micros(1)));
        self.stream
            .set_write_timeout(timeout)
            .map_err(|e| Error::Os {
                context: "setsockopt(SO_SNDTIMEO)".into(),
                source: e,
            })?;
        self.write_timeout = timeout;
        Ok(())
    }

    /// The current read timeout.
    ///
    /// ```
    /// let (a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// assert_eq!(a.read_timeout(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// The current write timeout.
    ///
    /// ```
    /// let (a, _b) = mpshare::managers::connection::Connection::pair()?;
    /// assert_eq!(a.write_timeout(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }

    /// A second handle on the same socket (e.g. one thread writes while another reads).
    ///
    /// The clone shares the socket, settings and timeouts but **not** bytes already buffered
    /// for reading: have only one handle read.
    ///
    /// ```
    /// let (a, mut b) = mpshare::managers::connection::Connection::pair()?;
    /// let mut w = a.try_clone()?;
    /// w.send_bytes(b"via clone")?;
    /// assert_eq!(b.recv_bytes()?, b"via clone");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Connection> {
        let stream = match &self.stream {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        };
        Ok(Connection {
            stream,
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            wbuf: Vec::new(),
            queued: Vec::new(),
            pos: 0,
            end: 0,
            config: self.config.clone(),
            read_timeout: self.read_timeout,
            write_timeout: self.write_timeout,
            broken: None,
        })
    }

    /// Shut down reading, writing or both; a blocked reader on another handle wakes up with
    /// [`Error::ConnectionClosed`].
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use mpshare::{Error, managers::connection::Connection};
    /// let (mut a, mut b) = Connection::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// assert!(matches!(b.recv_bytes(), Err(Error::ConnectionClosed)));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        let r = match &self.stream {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            Err(e) => Err(Error::Os {
                context: "shutdown".into(),
                source: e,
            }),
        }
    }

    /// The peer's address (an unnamed Unix peer gives `Address::Unix("")`).
    ///
    /// ```
    /// use mpshare::managers::connection::{Address, Connection};
    /// let (a, _b) = Connection::pair()?;
    /// assert_eq!(a.peer_addr()?, Address::Unix("".into()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn peer_addr(&self) -> Result<Address> {
        match &self.stream {
            Stream::Tcp(s) => Ok(Address::Tcp(s.peer_addr()?)),
            Stream::Unix(s) => Ok(Address::from_unix_std(&s.peer_addr()?)),
        }
    }

    /// This end's address.
    ///
    /// ```
    /// use mpshare::managers::connection::{Address, Connection};
    /// let (a, _b) = Connection::pair()?;
    /// assert_eq!(a.local_addr()?, Address::Unix("".into()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn local_addr(&self) -> Result<Address> {
        match &self.stream {
            Stream::Tcp(s) => Ok(Address::Tcp(s.local_addr()?)),
            Stream::Unix(s) => Ok(Address::from_unix_std(&s.local_addr()?)),
        }
    }

    /// Whether bytes of a next frame are already buffered (so a `poll` on the socket could miss
    /// them).
    ///
    /// ```
    /// let (mut a, mut b) = mpshare::managers::connection::Connection::pair()?;
    /// a.send_bytes(b"1")?;
    /// a.send_bytes(b"2")?;
    /// b.recv_bytes()?;
    /// assert!(b.has_buffered_data());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn has_buffered_data(&self) -> bool {
        self.end > self.pos
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_fd().as_raw_fd()
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

fn unix_addr(address: &Address) -> Result<UnixAddr> {
    match address {
        Address::Unix(p) => UnixAddr::new(p.as_path())
            .map_err(|e| invalid_address(&address.to_string(), format!("bad socket path: {e}"))),
        Address::Abstract(n) => UnixAddr::new_abstract(n)
            .map_err(|e| invalid_address(&address.to_string(), format!("bad abstract name: {e}"))),
        Address::Tcp(_) => Err(invalid_address(&address.to_string(), "not a Unix address")),
    }
}

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
            .map_err(|e| Error::os(e as i32, "listen backlog"))?;
        let ctx = |what: &str| format!("{what}({address})");
        match address {
            Address::Tcp(sa) => {
                // std sets SO_REUSEADDR on Unix; listen(2) again to raise the backlog (Linux
                // updates the queue length of a listening socket).
                let l = TcpListener::bind(sa).map_err(|e| Error::Os {
                    context: ctx("bind"),
                    source: e,
                })?;
                nsock::listen(&l, backlog).map_err(|e| Error::os(e as i32, ctx("listen")))?;
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
                nsock::bind(fd.as_raw_fd(), &ua).map_err(|e| Error::os(e as i32, ctx("bind")))?;
                let meta = std::fs::symlink_metadata(path).map_err(|e| Error::Os {
                    context: ctx("stat"),
                    source: e,
                })?;
                let unlink = Some((path.clone(), meta.dev(), meta.ino()));
                let l = Listener {
                    inner: ListenerInner::Unix(UnixListener::from(fd)),
                    config,
                    unlink,
                    nonblocking: Default::default(),
                };
                nsock::listen(&l.inner_fd(), backlog)
                    .map_err(|e| Error::os(e as i32, ctx("listen")))?;
                Ok(l)
            }
            Address::Abstract(_) => {
                let ua = unix_addr(address)?;
                let fd = unix_socket()?;
                nsock::bind(fd.as_raw_fd(), &ua).map_err(|e| Error::os(e as i32, ctx("bind")))?;
                nsock::listen(&fd, backlog).map_err(|e| Error::os(e as i32, ctx("listen")))?;
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
        match &self.inner {
            ListenerInner::Tcp(l) => l.as_fd(),
            ListenerInner::Unix(l) => l.as_fd(),
        }
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
            ListenerInner::Tcp(l) => Ok(Address::Tcp(l.local_addr()?)),
            ListenerInner::Unix(l) => Ok(Address::from_unix_std(&l.local_addr()?)),
        }
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
                    let nb = match &stream {
                        Stream::Tcp(s) => s.set_nonblocking(false),
                        Stream::Unix(s) => s.set_nonblocking(false),
                    };
                    nb.map_err(|e| Error::Os {
                        context: "fcntl(O_NONBLOCK)".into(),
                        source: e,
                    })?;
                    return Connection::new(stream, self.config.connection.clone());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A connection that died in the queue is not the listener's failure.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::Timeout(Duration::ZERO))
                }
                Err(e) => {
                    return Err(Error::Os {
                        context: "accept".into(),
                        source: e,
                    })
                }
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
        let r = match &self.inner {
            ListenerInner::Tcp(l) => l.set_nonblocking(nonblocking),
            ListenerInner::Unix(l) => l.set_nonblocking(nonblocking),
        };
        r.map_err(|e| Error::Os {
            context: "fcntl(O_NONBLOCK)".into(),
            source: e,
        })?;
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
    .map_err(|e| Error::os(e as i32, "socket(AF_UNIX)"))
}

/// Refuse to clobber a non-socket or a live socket; remove a stale socket file.
fn prepare_unix_path(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::Os {
                context: format!("stat({})", path.display()),
                source: e,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(invalid_address(
            &path.display().to_string(),
            "path exists and is not a socket; refusing to replace it",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(Error::Os {
            context: format!("bind({}): a server is listening there", path.display()),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|e| Error::Os {
                context: format!("unlink stale socket {}", path.display()),
                source: e,
            }),
        Err(e) => Err(Error::Os {
            context: format!("probe socket {}", path.display()),
            source: e,
        }),
    }
}
