//! [`Process`]: one child process, started by `fork` (a closure) or `spawn` (an [`Entry`]).

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::handover::{Entry, Handover};
use super::{os, ERROR_EXIT_CODE, PANIC_EXIT_CODE};
use crate::{Error, Result};

/// How a child's closure or entry ended: its exit code and, for a failure, a message for the
/// parent ([`Process::failure`]).
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

/// A started fork child as a [`Process`] (for [`scope`](super::scope)).
pub(crate) fn started_fork(pid: u32, status: OwnedFd) -> Result<Process> {
    let mut p = Process::with_target(Target::Started);
    p.started(pid, status)?;
    Ok(p)
}

enum Target {
    Fork(Box<dyn FnOnce() -> ChildExit>),
    Spawn(Entry, Handover),
    Started,
}

struct Running {
    pid: u32,
    status: OwnedFd,
    reader: StatusReader,
    pidfd: Option<OwnedFd>,
    _handover: Option<Handover>,
}

/// A child process (Python's `multiprocessing.Process`).
///
/// Create it with [`Process::new`] (start method fork: runs a closure) or
/// [`Process::spawn`] (start method spawn: re-executes this program and runs an [`Entry`]),
/// then [`start`](Process::start) and [`join`](Process::join).
///
/// ```
/// use std::time::Duration;
/// use mpshare::process::{Process, PANIC_EXIT_CODE};
/// let mut ok = Process::new(|| 3);        // the closure's i32 is the exit code
/// let mut bad = Process::new(|| -> () { panic!("bad input") });
/// ok.start()?;
/// bad.start()?;
/// assert!(ok.join_timeout(Duration::from_secs(30))?);
/// bad.join()?;
/// assert_eq!(ok.exitcode(), Some(3));
/// assert_eq!(bad.exitcode(), Some(PANIC_EXIT_CODE));
/// assert_eq!(bad.failure(), Some("panicked: bad input"));
/// # Ok::<(), mpshare::Error>(())
/// ```
///
/// Dropping a started process that was not joined joins it (as Python joins its non-daemon
/// children at exit); a [daemon](Process::daemon) process is killed instead.
pub struct Process {
    target: Target,
    name: String,
    daemon: bool,
    running: Option<Running>,
    exitcode: Option<i32>,
    failure: Option<String>,
    ended_pid: u32,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("pid", &self.pid())
            .field("exitcode", &self.exitcode)
            .field("daemon", &self.daemon)
            .finish()
    }
}

impl Process {
    /// A process that runs `target` in a forked child (start method fork). Not started yet.
    ///
    /// `target` returns `()`, an exit code, or a `Result<(), E>` (see [`IntoExit`]).
    ///
    /// ```
    /// let p = mpshare::process::Process::new(|| ());
    /// assert_eq!((p.pid(), p.exitcode()), (None, None));
    /// ```
    pub fn new<F, R>(target: F) -> Process
    where
        F: FnOnce() -> R + 'static,
        R: IntoExit,
    {
        Process::with_target(Target::Fork(Box::new(move || run_caught(target))))
    }

    /// A process that re-executes this program and runs `entry` with `handover` (start method
    /// spawn). Not started yet. The program's `main` must call [`spawn_main`](super::spawn_main)
    /// first.
    ///
    /// ```no_run
    /// use mpshare::process::{entry, spawn_main, Handover, Process};
    /// use mpshare::RawValue;
    ///
    /// fn work(h: Handover) -> mpshare::Result<()> {
    ///     h.get::<RawValue<u64>>("hits")?.fetch_add(1);
    ///     Ok(())
    /// }
    ///
    /// fn main() -> mpshare::Result<()> {
    ///     spawn_main(&[entry!(work)]); // first: a spawned child runs `work` here and exits
    ///     let hits = RawValue::new(0u64)?;
    ///     let mut p = Process::spawn(entry!(work), Handover::new().with("hits", &hits)?);
    ///     p.start()?;
    ///     p.join()?;
    ///     assert_eq!(hits.get(), 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn spawn(entry: Entry, handover: Handover) -> Process {
        let mut p = Process::with_target(Target::Spawn(entry, handover));
        p.name = format!("Process-{}", entry.name());
        p
    }

    fn with_target(target: Target) -> Process {
        Process {
            target,
            name: "Process".into(),
            daemon: false,
            running: None,
            exitcode: None,
            failure: None,
            ended_pid: 0,
        }
    }

    /// Mark the process as a daemon: dropping it unjoined kills it instead of joining it.
    ///
    /// ```
    /// let p = mpshare::process::Process::new(|| ()).daemon(true);
    /// assert!(p.is_daemon());
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Process {
        self.daemon = daemon;
        self
    }

    /// True for a daemon process.
    ///
    /// ```
    /// assert!(!mpshare::process::Process::new(|| ()).is_daemon());
    /// ```
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }

    /// Name the process (Python's `name`).
    ///
    /// ```
    /// let p = mpshare::process::Process::new(|| ()).name("loader");
    /// assert_eq!(p.get_name(), "loader");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Process {
        self.name = name.into();
        self
    }

    /// The process's name.
    ///
    /// ```
    /// assert_eq!(mpshare::process::Process::new(|| ()).get_name(), "Process");
    /// ```
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Start the child.
    ///
    /// # Errors
    /// [`Error::ForkWithThreads`] for a fork process when this process has other threads
    /// (see [`start_unchecked`](Process::start_unchecked)); [`Error::ProcessState`] when
    /// already started; [`Error::SpawnFailed`] when a spawned child did not reach its entry.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| ());
    /// p.start()?;
    /// assert!(matches!(p.start(), Err(mpshare::Error::ProcessState { .. })));
    /// p.join()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn start(&mut self) -> Result<()> {
        if matches!(self.target, Target::Fork(_)) {
            super::check_single_threaded()?;
        }
        // SAFETY: a fork target is started only in a single-threaded process (checked above).
        unsafe { self.start_unchecked() }
    }

    /// Start the child without checking that this process is single-threaded.
    ///
    /// # Safety
    /// For a fork process: when this process has other threads, the closure must only do what
    /// is allowed in the child of a multi-threaded `fork` (POSIX: async-signal-safe calls; in
    /// practice no lock that another thread may hold at the moment of the fork, including the
    /// allocator's and stdio's, unless the platform makes them fork-safe). A spawn process has
    /// no such requirement.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| 0);
    /// // SAFETY: the doctest is single-threaded.
    /// unsafe { p.start_unchecked()? };
    /// p.join()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn start_unchecked(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.target, Target::Started) {
            Target::Started => Err(Error::ProcessState {
                expected: "a process that was not started",
                found: "already started",
            }),
            Target::Fork(f) => {
                // SAFETY: forwarded contract.
                let (pid, rd) = unsafe { fork_child(f) }?;
                self.started(pid, rd)
            }
            Target::Spawn(entry, handover) => {
                let (pid, rd, reader) = super::handover::start_spawn(entry, &handover)?;
                self.started(pid, rd)?;
                if let Some(r) = self.running.as_mut() {
                    r.reader = reader;
                    // Keep the handles (and so named segments' names) alive while it runs.
                    r._handover = Some(handover);
                }
                Ok(())
            }
        }
    }

    fn started(&mut self, pid: u32, status: OwnedFd) -> Result<()> {
        os::set_nonblocking(status.as_fd(), true)?;
        self.running = Some(Running {
            pid,
            status,
            reader: StatusReader::default(),
            pidfd: os::pidfd_open(pid),
            _handover: None,
        });
        Ok(())
    }

    fn finish(&mut self, code: i32) {
        if let Some(mut r) = self.running.take() {
            r.reader.drain(&r.status);
            self.failure = r.reader.message.take();
            self.exitcode = Some(code);
            // Keep the pid for pid() after the end.
            self.ended_pid = r.pid;
        }
    }

    /// Wait until the child ends (Python's `join()`).
    ///
    /// # Errors
    /// [`Error::ProcessState`] when not started.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| 4);
    /// assert!(p.join().is_err()); // not started
    /// p.start()?;
    /// p.join()?;
    /// p.join()?; // joining again returns at once
    /// assert_eq!(p.exitcode(), Some(4));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join(&mut self) -> Result<()> {
        let pid = self.live_pid()?;
        if let Some(pid) = pid {
            let code = reap(pid, true)?.unwrap_or(-1);
            self.finish(code);
        }
        Ok(())
    }

    /// Wait at most `timeout` for the child to end (Python's `join(timeout)`); true if it ended.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut p = mpshare::process::Process::new(|| std::thread::sleep(Duration::from_secs(30)));
    /// p.start()?;
    /// let t = Instant::now();
    /// assert!(!p.join_timeout(Duration::from_millis(50))?);
    /// assert!(t.elapsed() >= Duration::from_millis(50));
    /// p.kill()?;
    /// assert!(p.join_timeout(Duration::from_secs(30))?);
    /// assert_eq!(p.exitcode(), Some(-9));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<bool> {
        let Some(pid) = self.live_pid()? else {
            return Ok(true);
        };
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(50);
        loop {
            if let Some(code) = reap(pid, false)? {
                self.finish(code);
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match self.running.as_ref().and_then(|r| r.pidfd.as_ref()) {
                Some(pidfd) => {
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
                    let _ = nix::poll::poll(
                        &mut fds,
                        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                    );
                }
                None => {
                    std::thread::sleep(nap.min(left));
                    nap = (nap * 2).min(Duration::from_millis(5));
                }
            }
        }
    }

    /// `Some(pid)` while running, `None` once ended; an error before `start`.
    fn live_pid(&self) -> Result<Option<u32>> {
        match (&self.running, self.exitcode) {
            (Some(r), _) => Ok(Some(r.pid)),
            (None, Some(_)) => Ok(None),
            (None, None) => Err(Error::ProcessState {
                expected: "a started process",
                found: "not started",
            }),
        }
    }

    /// True while the child runs (Python's `is_alive()`); reaps it if it has ended.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| ());
    /// assert!(!p.is_alive());
    /// p.start()?;
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_alive(&mut self) -> bool {
        match self.running.as_ref().map(|r| r.pid) {
            None => false,
            Some(pid) => match reap(pid, false) {
                Ok(Some(code)) => {
                    self.finish(code);
                    false
                }
                Ok(None) => true,
                Err(_) => false,
            },
        }
    }

    /// The child's pid once started (Python's `pid`).
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| ());
    /// p.start()?;
    /// assert!(p.pid().is_some_and(|pid| pid != std::process::id()));
    /// p.join()?;
    /// assert!(p.pid().is_some());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.running
            .as_ref()
            .map(|r| r.pid)
            .or((self.ended_pid != 0).then_some(self.ended_pid))
    }

    /// Python's `exitcode`: `None` while running (or not started), the exit code once ended,
    /// or minus the signal number that killed it.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| Err::<(), _>("boom"));
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(mpshare::process::ERROR_EXIT_CODE));
    /// assert_eq!(p.failure(), Some("boom"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        self.exitcode
    }

    /// The panic message or error the child reported, once ended.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| ());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.failure(), None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// `Ok` if the child ended with exit code 0, else [`Error::ProcessFailed`] with its exit
    /// code and message; joins first.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| -> () { panic!("no") });
    /// p.start()?;
    /// let err = p.join_checked().unwrap_err();
    /// assert!(matches!(err, mpshare::Error::ProcessFailed { exitcode: 101, .. }), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join_checked(&mut self) -> Result<()> {
        self.join()?;
        match self.exitcode {
            Some(0) => Ok(()),
            code => {
                let code = code.unwrap_or(-1);
                Err(Error::ProcessFailed {
                    pid: self.pid().unwrap_or(0),
                    exitcode: code,
                    reason: match &self.failure {
                        Some(m) => format!("{}: {m}", describe_exit(code)),
                        None => describe_exit(code),
                    },
                })
            }
        }
    }

    fn signal(&mut self, sig: Signal) -> Result<()> {
        if let Some(pid) = self.live_pid()? {
            match kill(Pid::from_raw(pid as i32), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(Error::os(e as i32, format!("kill({pid}, {sig})"))),
            }
        }
        Ok(())
    }

    /// Send SIGTERM (Python's `terminate()`); no effect once ended.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| std::thread::sleep(std::time::Duration::from_secs(30)));
    /// p.start()?;
    /// p.terminate()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn terminate(&mut self) -> Result<()> {
        self.signal(Signal::SIGTERM)
    }

    /// Send SIGKILL (Python's `kill()`); no effect once ended.
    ///
    /// ```
    /// let mut p = mpshare::process::Process::new(|| std::thread::sleep(std::time::Duration::from_secs(30)));
    /// p.start()?;
    /// p.kill()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-9));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn kill(&mut self) -> Result<()> {
        self.signal(Signal::SIGKILL)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.running.is_some() {
            if self.daemon {
                let _ = self.kill();
            }
            let _ = self.join();
        }
    }
}
