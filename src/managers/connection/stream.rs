//! [`Stream`]: one connected socket, TCP or Unix. Every operation that differs by kind is
//! written once here (through `each!`), so the layers above never match on the kind.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::socket::{self as nsock, AddressFamily, SockFlag, SockType};

use super::address::{unix_addr, Address};
use crate::error::OsContext;
use crate::{Error, Result};

/// A connected stream socket.
#[derive(Debug)]
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Run `$body` with `$s` bound to the inner std stream, whatever its kind.
macro_rules! each {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Stream::Tcp($s) => $body,
            Stream::Unix($s) => $body,
        }
    };
}

/// A read or write that ran into its socket timeout.
pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The peer went away.
pub(super) fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl Stream {
    /// Connect to `address`, giving up after `timeout` ([`Error::Timeout`]).
    pub(super) fn connect(address: &Address, timeout: Duration) -> Result<Stream> {
        let ctx = || format!("connect({address})");
        match address {
            Address::Tcp(sa) => match TcpStream::connect_timeout(sa, timeout) {
                Ok(s) => Ok(Stream::Tcp(s)),
                Err(e) if is_timeout(&e) => Err(Error::Timeout(timeout)),
                Err(e) => Err(e).os_context(ctx()),
            },
            Address::Unix(_) | Address::Abstract(_) => {
                let ua = unix_addr(address)?;
                let fd = nsock::socket(
                    AddressFamily::Unix,
                    SockType::Stream,
                    SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .os_context("socket(AF_UNIX)")?;
                // A Unix connect blocks while the listener's backlog is full; SO_SNDTIMEO bounds it.
                let stream = UnixStream::from(fd);
                stream
                    .set_write_timeout(Some(timeout))
                    .os_context("setsockopt(SO_SNDTIMEO)")?;
                match nsock::connect(stream.as_raw_fd(), &ua) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINPROGRESS) => {
                        return Err(Error::Timeout(timeout))
                    }
                    Err(e) => return Err(e).os_context(ctx()),
                }
                stream
                    .set_write_timeout(None)
                    .os_context("setsockopt(SO_SNDTIMEO)")?;
                Ok(Stream::Unix(stream))
            }
        }
    }

    /// `TCP_NODELAY` on TCP (frames are whole messages: never hold one back).
    pub(super) fn set_nodelay(&self) -> Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true).os_context("setsockopt(TCP_NODELAY)"),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub(super) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        each!(self, s => s.set_nonblocking(nonblocking)).os_context("fcntl(O_NONBLOCK)")
    }

    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => s.read(buf))
    }

    /// `send` with `MSG_NOSIGNAL`: a closed peer gives `EPIPE`, never `SIGPIPE`, even in a
    /// host process that did not ignore the signal.
    pub(super) fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        nsock::send(self.as_fd().as_raw_fd(), buf, nsock::MsgFlags::MSG_NOSIGNAL)
            .map_err(io::Error::from)
    }

    pub(super) fn set_read_timeout(&self, t: Option<Duration>) -> Result<()> {
        each!(self, s => s.set_read_timeout(t)).os_context("setsockopt(SO_RCVTIMEO)")
    }

    pub(super) fn set_write_timeout(&self, t: Option<Duration>) -> Result<()> {
        each!(self, s => s.set_write_timeout(t)).os_context("setsockopt(SO_SNDTIMEO)")
    }

    pub(super) fn try_clone(&self) -> Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone().os_context("dup(socket)")?),
            Stream::Unix(s) => Stream::Unix(s.try_clone().os_context("dup(socket)")?),
        })
    }

    /// Shut down one or both directions; a socket that is no longer connected is fine.
    pub(super) fn shutdown(&self, how: Shutdown) -> Result<()> {
        match each!(self, s => s.shutdown(how)) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e).os_context("shutdown"),
            _ => Ok(()),
        }
    }

    pub(super) fn peer_addr(&self) -> Result<Address> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Address::Tcp),
            Stream::Unix(s) => s.peer_addr().map(|a| Address::from_unix_std(&a)),
        }
        .os_context("getpeername")
    }

    pub(super) fn local_addr(&self) -> Result<Address> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(Address::Tcp),
            Stream::Unix(s) => s.local_addr().map(|a| Address::from_unix_std(&a)),
        }
        .os_context("getsockname")
    }

    pub(super) fn as_fd(&self) -> BorrowedFd<'_> {
        each!(self, s => s.as_fd())
    }
}
