//! Sockets and framing of `multiprocessing.connection`: addresses, length-prefixed frames,
//! listeners and client connects.
//!
//! A frame is a signed big-endian `i32` length followed by that many payload bytes; payloads
//! longer than `0x7fffffff` bytes use the escape header `ff ff ff ff` followed by a big-endian
//! `u64` length (see `docs/protocol.md` §1). The same framing is used over TCP and Unix
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

mod address;
mod frame;
mod listener;
mod stream;

pub use address::Address;
pub use listener::{Listener, ListenerConfig, DEFAULT_BACKLOG};

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use frame::Header;
use stream::{is_reset, is_timeout, Stream};

use crate::error::{OsContext, ProtocolError};
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

/// Size of the internal read buffer; a frame whose header and payload fit in it usually costs a
/// single `read` system call.
const READ_BUF: usize = 16 * 1024;

/// Frames up to this many bytes are allocated in full at once; larger ones grow as data arrives,
/// so a peer that announces a big frame and sends nothing cannot make us commit the memory.
const EAGER_ALLOC: usize = 1024 * 1024;

/// Frames up to this many payload bytes are copied behind their header and sent with a single
/// `send`; larger ones go out as header, then payload.
const COALESCE: usize = 64 * 1024;

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

/// The end of a deadline-bounded receive, and the time it allowed (reported in
/// [`Error::Timeout`]).
#[derive(Clone, Copy)]
struct Deadline {
    at: Instant,
    budget: Duration,
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

impl Connection {
    fn new(stream: Stream, config: ConnectionConfig) -> Result<Connection> {
        stream.set_nodelay()?;
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
        let (a, b) = UnixStream::pair().os_context("socketpair(AF_UNIX)")?;
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
        Connection::new(Stream::connect(address, timeout)?, config)
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
        let (header, hlen) = frame::encode(payload.len());
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
        let (header, hlen) = frame::encode(payload.len());
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
        match frame::decode(&self.buf[self.pos..self.end]) {
            Header::Frame { size, len } => len
                .checked_add(size as u64)
                .is_some_and(|t| t <= (self.end - self.pos) as u64),
            Header::Incomplete(_) | Header::Bad(_) => false,
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
                    return if is_timeout(&e) {
                        Err(Error::Timeout(self.write_timeout.unwrap_or_default()))
                    } else if is_reset(&e) {
                        Err(Error::ConnectionClosed)
                    } else {
                        Err(e).os_context("send_bytes: send")
                    }
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
        let deadline = Deadline {
            at: deadline,
            budget: deadline.saturating_duration_since(Instant::now()),
        };
        let r = self.recv_frame(cap, Some(deadline));
        let restore = self.stream.set_read_timeout(saved);
        let out = r?;
        restore?;
        Ok(out)
    }

    fn recv_frame(&mut self, cap: u64, deadline: Option<Deadline>) -> Result<Vec<u8>> {
        if let Some(why) = &self.broken {
            return Err(Error::Protocol(ProtocolError::Unusable {
                cause: why.clone(),
            }));
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

    fn recv_frame_inner(&mut self, cap: u64, deadline: Option<Deadline>) -> Result<Vec<u8>> {
        self.fill_at_least(4, Phase::Boundary, deadline)?;
        let len = loop {
            match frame::decode(&self.buf[self.pos..self.end]) {
                Header::Frame { size, len } => {
                    self.pos += size;
                    break len;
                }
                Header::Incomplete(need) => self.fill_at_least(need, Phase::Header, deadline)?,
                Header::Bad(n) => {
                    self.pos += 4;
                    return Err(Error::Protocol(ProtocolError::BadFrameHeader { found: n }));
                }
            }
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
                    return Err(Error::Protocol(ProtocolError::ClosedMidFrame {
                        part: "payload",
                        expected: len as u64,
                        got: filled as u64,
                    }))
                }
                Ok(k) => filled += k,
                Err(e) => self.read_error(e, Phase::Payload, deadline)?,
            }
        }
        Ok(out)
    }

    /// Map a read error; `Ok(())` means retry.
    fn read_error(&mut self, e: io::Error, phase: Phase, deadline: Option<Deadline>) -> Result<()> {
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        let err = if is_timeout(&e) {
            let waited = match deadline {
                Some(d) => d.budget,
                None => self.read_timeout.unwrap_or_default(),
            };
            Error::Timeout(waited)
        } else if is_reset(&e) {
            if phase == Phase::Boundary {
                Error::ConnectionClosed
            } else {
                Error::Protocol(ProtocolError::ResetMidFrame {
                    detail: e.to_string(),
                })
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

    fn apply_deadline(&mut self, deadline: Option<Deadline>) -> Result<()> {
        if let Some(d) = deadline {
            let left = d.at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(d.budget));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        Ok(())
    }

    /// Make sure `need` (≤ buffer size) unread bytes are in the buffer.
    fn fill_at_least(
        &mut self,
        need: usize,
        phase: Phase,
        deadline: Option<Deadline>,
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
                        Phase::Header => Error::Protocol(ProtocolError::ClosedMidFrame {
                            part: "header",
                            expected: need as u64,
                            got: have as u64,
                        }),
                        Phase::Payload => Error::Protocol(ProtocolError::ClosedMidFrame {
                            part: "payload",
                            expected: need as u64,
                            got: have as u64,
                        }),
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
        self.stream.set_read_timeout(timeout)?;
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
        self.stream.set_write_timeout(timeout)?;
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
        let stream = self.stream.try_clone()?;
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
        self.stream.shutdown(how)
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
        self.stream.peer_addr()
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
        self.stream.local_addr()
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
