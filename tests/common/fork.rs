//! Fork and re-exec helpers for the shared-memory integration tests.
//!
//! Rules these helpers enforce:
//! * a forked child runs one closure returning an exit code and leaves with `_exit` (never
//!   returns into the test harness); a panic in it becomes exit code 101;
//! * every wait is bounded: a child that overruns is SIGKILLed and reaped, and a [`Forked`] or
//!   [`Exec`] handle that is dropped unreaped (a failed assert in the parent) kills its child;
//! * segment names are `mpshare-test-<pid>-<counter>-<tag>`, and [`NameGuard`] unlinks them even
//!   when an assert fails.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mpshare::RawValue;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Env var that tells a re-exec'd test binary which child role to play.
pub const ROLE_ENV: &str = "MPSHARE_CHILD_ROLE";

/// Exit code of a forked child whose closure panicked.
pub const PANICKED: i32 = 101;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique, recognisable segment name: `mpshare-test-<pid>-<n>-<tag>`.
pub fn unique_name(tag: &str) -> String {
    format!(
        "mpshare-test-{}-{}-{tag}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Unlinks a named segment when dropped (errors ignored), so failed asserts do not leak.
/// Create it *before* the segment.
pub struct NameGuard(pub String);

impl NameGuard {
    /// A guard for a fresh [`unique_name`].
    pub fn new(tag: &str) -> NameGuard {
        NameGuard(unique_name(tag))
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        let _ = mpshare::shm::unlink(&self.0);
    }
}

/// True if `/dev/shm/<name>` exists.
pub fn shm_exists(name: &str) -> bool {
    std::path::Path::new("/dev/shm").join(name).exists()
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal (number).
    Signaled(i32),
    /// Did not finish in time; it was SIGKILLed and reaped.
    TimedOut,
}

/// A forked child running a closure.
pub struct Forked {
    pid: Pid,
    reaped: bool,
}

impl Forked {
    /// Fork; the child runs `f` and `_exit`s with its result (101 if it panicked).
    pub fn spawn(f: impl FnOnce() -> i32) -> Forked {
        // SAFETY: the child only runs `f` (which touches shared memory through mpshare handles
        // and does little else) and leaves with `_exit`, never returning into the harness.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                let code =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(PANICKED);
                // SAFETY: _exit ends the process at once, skipping the parent's atexit handlers
                // and destructors of the copied test-harness state.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Forked {
                pid: child,
                reaped: false,
            },
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Non-blocking reap: `Some(outcome)` if the child has ended.
    pub fn try_wait(&mut self) -> Option<Outcome> {
        if self.reaped {
            return None;
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => {
                self.reaped = true;
                Some(Outcome::Exited(code))
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                self.reaped = true;
                Some(Outcome::Signaled(sig as i32))
            }
            Ok(_) => None,
            Err(e) => panic!("waitpid({}): {e}", self.pid),
        }
    }

    /// Wait at most `timeout`; an overrunning child is SIGKILLed, reaped, and `TimedOut` returned.
    pub fn wait(&mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(o) = self.try_wait() {
                return o;
            }
            if Instant::now() >= deadline {
                self.kill();
                return Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// SIGKILL the child and reap it (bounded: a SIGKILLed process always ends).
    pub fn kill(&mut self) -> Outcome {
        if self.reaped {
            return Outcome::Signaled(Signal::SIGKILL as i32);
        }
        let _ = kill(self.pid, Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(o) = self.try_wait() {
                return o;
            }
            assert!(
                Instant::now() < deadline,
                "SIGKILLed child {} did not end",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// Run `n` forked workers that start together (after a [`Gate`] opens) and wait for all,
/// each bounded by `timeout`. Returns each worker's outcome.
pub fn run_workers(n: usize, timeout: Duration, work: impl Fn(usize) -> i32) -> Vec<Outcome> {
    let gate = Gate::new();
    let arrived = RawValue::new(0u32).expect("barrier");
    let mut kids: Vec<Forked> = (0..n)
        .map(|i| {
            let (gate, arrived, work) = (&gate, &arrived, &work);
            Forked::spawn(move || {
                if !gate.wait(Duration::from_secs(30)) {
                    return 90;
                }
                // Barrier: start the work only when every worker is running, so they overlap.
                arrived.fetch_add(1);
                let deadline = Instant::now() + Duration::from_secs(30);
                while arrived.load(Ordering::Acquire) < n as u32 {
                    if Instant::now() >= deadline {
                        return 91;
                    }
                    std::hint::spin_loop();
                }
                work(i)
            })
        })
        .collect();
    gate.open();
    let deadline = Instant::now() + timeout;
    kids.iter_mut()
        .map(|k| k.wait(deadline.saturating_duration_since(Instant::now())))
        .collect()
}

/// A start gate in shared memory: children spin until the parent opens it.
pub struct Gate(RawValue<u32>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate(RawValue::new(0).expect("gate"))
    }

    /// Open the gate.
    pub fn open(&self) {
        self.0.store(1, Ordering::Release);
    }

    /// Child side: wait until open; false if `timeout` passed first.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.0.load(Ordering::Acquire) == 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

/// Poll `cond` every millisecond until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The child role this process was started for, if any.
pub fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// An unrelated process: this test binary re-exec'd to run only `test`, with `role` in
/// [`ROLE_ENV`]. Killed and reaped on drop if still running.
pub struct Exec {
    child: Child,
    reaped: bool,
}

impl Exec {
    /// Start `current_exe --exact <test> --nocapture --test-threads=1` with the role set.
    pub fn spawn(test: &str, role: &str) -> Exec {
        let exe = std::env::current_exe().expect("current_exe");
        let child = Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE_ENV, role)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn test binary");
        Exec {
            child,
            reaped: false,
        }
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn outcome(status: std::process::ExitStatus) -> Outcome {
        match (status.code(), status.signal()) {
            (Some(c), _) => Outcome::Exited(c),
            (None, Some(s)) => Outcome::Signaled(s),
            (None, None) => Outcome::Exited(-1),
        }
    }

    /// Non-blocking reap.
    pub fn try_wait(&mut self) -> Option<Outcome> {
        if self.reaped {
            return None;
        }
        match self.child.try_wait().expect("try_wait") {
            Some(s) => {
                self.reaped = true;
                Some(Self::outcome(s))
            }
            None => None,
        }
    }

    /// Wait at most `timeout`, then SIGKILL and reap (`TimedOut`).
    pub fn wait(&mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(o) = self.try_wait() {
                return o;
            }
            if Instant::now() >= deadline {
                self.kill();
                return Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) -> Outcome {
        if self.reaped {
            return Outcome::Signaled(Signal::SIGKILL as i32);
        }
        let _ = self.child.kill();
        let s = self.child.wait().expect("wait");
        self.reaped = true;
        Self::outcome(s)
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
