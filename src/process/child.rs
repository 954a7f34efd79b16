//! A child's side of the contract and how the parent learns its end: [`ChildExit`] and
//! [`IntoExit`], running the child's closure under `catch_unwind`, the status pipe (ready byte
//! and failure message), reaping and describing exit codes, and forking a child. Shared by
//! [`Process`](super::Process) and the spawn handover, so neither imports the other.

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

use super::{os, ERROR_EXIT_CODE, PANIC_EXIT_CODE};
use crate::{Error, Result};

/// How a child's closure or entry ended: its exit code and, for a failure, a message for the
/// parent ([`Process::failure`](super::Process::failure)).
///
/// ```
/// use mpshare::process::{ChildExit, IntoExit};
/// assert_eq!(().into_exit(), ChildExit { code: 0, message: None });
/// let e: Result<(), String> = Err("no input".into());
/// assert_eq!(e.into_exit().message.as_deref(), Some("no input"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// The exit code.
    pub code: i32,
    /// What went wrong, reported to the parent.
    pub message: Option<String>,
}

/// What a child's closure or entry may return: `()` (exit 0), an `i32` exit code, or a
/// `Result<(), E>` whose error becomes exit code [`ERROR_EXIT_CODE`] with its message.
///
/// ```
/// use mpshare::process::IntoExit;
/// assert_eq!(7.into_exit().code, 7);
/// assert_eq!(Ok::<(), mpshare::Error>(()).into_exit().code, 0);
/// ```
pub trait IntoExit {
    /// The exit code and message.
    fn into_exit(self) -> ChildExit;
}

impl IntoExit for () {
    fn into_exit(self) -> ChildExit {
        ChildExit {
            code: 0,
            message: None,
        }
    }
}

impl IntoExit for i32 {
    fn into_exit(self) -> ChildExit {
        ChildExit {
            code: self,
            message: None,
        }
    }
}

impl IntoExit for ChildExit {
    fn into_exit(self) -> ChildExit {
        self
    }
}

impl<E: fmt::Display> IntoExit for std::result::Result<(), E> {
    fn into_exit(self) -> ChildExit {
        match self {
            Ok(()) => ().into_exit(),
            Err(e) => ChildExit {
                code: ERROR_EXIT_CODE,
                message: Some(e.to_string()),
            },
        }
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Run `f` and turn a panic into [`PANIC_EXIT_CODE`] with its message.
pub(crate) fn run_caught<R: IntoExit>(f: impl FnOnce() -> R) -> ChildExit {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.into_exit(),
        Err(p) => ChildExit {
            code: PANIC_EXIT_CODE,
            message: Some(format!("panicked: {}", panic_message(&*p))),
        },
    }
}

// Status pipe, child -> parent: b'R' once a spawned child reached its entry; b'M', a u32 LE
// length and UTF-8 text for a failure message.
pub(crate) const READY: u8 = b'R';
const MESSAGE: u8 = b'M';
/// Longest failure message sent (fits a pipe buffer, so the child never blocks on it).
const MAX_MESSAGE: usize = 4000;

/// Child side: report `exit`'s message, if any.
pub(crate) fn report(fd: impl AsFd, exit: &ChildExit) {
    if let Some(m) = &exit.message {
        let mut end = m.len().min(MAX_MESSAGE);
        while !m.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = Vec::with_capacity(end + 5);
        buf.push(MESSAGE);
        buf.extend_from_slice(&(end as u32).to_le_bytes());
        buf.extend_from_slice(&m.as_bytes()[..end]);
        let _ = write_all(fd.as_fd(), &buf);
    }
}

pub(crate) fn write_all(fd: std::os::fd::BorrowedFd<'_>, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::os(e as i32, "write(status pipe)")),
        }
    }
    Ok(())
}

/// Parent side of the status pipe.
#[derive(Debug, Default)]
pub(crate) struct StatusReader {
    buf: Vec<u8>,
    pub ready: bool,
    pub message: Option<String>,
    pub eof: bool,
}

impl StatusReader {
    /// Read what is available now (the descriptor is non-blocking).
    pub fn drain(&mut self, fd: impl AsFd) {
        let mut chunk = [0u8; 4096];
        while !self.eof {
            match nix::unistd::read(fd.as_fd(), &mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break, // EAGAIN: nothing more for now
            }
        }
        loop {
            match self.buf.first() {
                Some(&READY) => {
                    self.ready = true;
                    self.buf.remove(0);
                }
                Some(&MESSAGE) if self.buf.len() >= 5 => {
                    let n = u32::from_le_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                        as usize;
                    if self.buf.len() < 5 + n {
                        break;
                    }
                    self.message = Some(String::from_utf8_lossy(&self.buf[5..5 + n]).into_owned());
                    self.buf.drain(..5 + n);
                }
                Some(&MESSAGE) | None => break,
                Some(_) => {
                    // Not our protocol: drop it rather than loop.
                    self.buf.clear();
                    break;
                }
            }
        }
    }
}

/// Python's `exitcode` of a wait status: the exit code, or minus the signal number.
pub(crate) fn exitcode_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(-(s as i32)),
        _ => None,
    }
}

/// Describe a Python-style exit code.
pub(crate) fn describe_exit(code: i32) -> String {
    if code < 0 {
        match Signal::try_from(-code) {
            Ok(s) => format!("killed by {s}"),
            Err(_) => format!("killed by signal {}", -code),
        }
    } else {
        format!("exited with code {code}")
    }
}

/// Reap `pid`; `block` waits, otherwise `None` while it runs.
pub(crate) fn reap(pid: u32, block: bool) -> Result<Option<i32>> {
    let flags = if block {
        None
    } else {
        Some(WaitPidFlag::WNOHANG)
    };
    loop {
        match waitpid(Pid::from_raw(pid as i32), flags) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(s) => {
                if let Some(c) = exitcode_of(s) {
                    return Ok(Some(c));
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::os(e as i32, format!("waitpid({pid})"))),
        }
    }
}

/// Fork a child that runs `f`, reports its message on a status pipe and leaves with `_exit`;
/// returns its pid and the pipe's read end.
///
/// # Safety
/// As for [`Process::start_unchecked`].
pub(crate) unsafe fn fork_child(f: impl FnOnce() -> ChildExit) -> Result<(u32, OwnedFd)> {
    let (rd, wr) = os::pipe()?;
    let parent = std::process::id();
    // SAFETY: forwarded contract: the child runs only `f` and leaves with _exit.
    let pid = unsafe {
        os::fork(move || {
            os::die_with_parent(parent);
            let exit = f();
            report(&wr, &exit);
            os::exit_now(exit.code)
        })
    }?;
    Ok((pid, rd))
}
