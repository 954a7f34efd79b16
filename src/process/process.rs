//! [`Process`]: one child process, started by `fork` (a closure) or `spawn` (an [`Entry`]).

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::child::{
    describe_exit, fork_child, reap, run_caught, ChildExit, IntoExit, StatusReader,
};
use super::handover::{Entry, Handover};
use super::os;
use crate::{Error, Result};

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
