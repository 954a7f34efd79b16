//! The operating-system calls of the process module: `fork`, `_exit`, the parent-death signal,
//! descriptor flags and `pidfd`s. All of the module's `unsafe` is here.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::{Error, Result};

/// Number of threads of this process (field 20 of `/proc/self/stat`).
pub(crate) fn thread_count() -> Result<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| Error::Os {
        context: "read /proc/self/stat".into(),
        source: e,
    })?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    // Fields after ')' start at field 3, so field 20 is the 18th of them.
    rest.split_whitespace()
        .nth(17)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| Error::Os {
            context: format!("parse /proc/self/stat: no thread count in {stat:?}"),
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        })
}

/// Flush Rust's standard output, so a forked child does not inherit (and print again) what
/// the parent has buffered.
pub(crate) fn flush_std() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Fork; the child runs `child` (which must not return normally: it ends with [`exit_now`])
/// and never comes back here. Returns the child's pid in the parent.
///
/// # Safety
/// If this process has other threads, the child may only do what is safe after `fork` in a
/// multi-threaded program (no locks another thread may hold: no allocation, no stdio).
pub(crate) unsafe fn fork(child: impl FnOnce() -> std::convert::Infallible) -> Result<u32> {
    flush_std();
    // SAFETY: forwarded contract; the child branch never returns into the caller's frames
    // (`child` returns `Infallible`, and exit_now is called if it somehow unwinds).
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::os(e as i32, "fork"))? {
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw() as u32),
        nix::unistd::ForkResult::Child => {
            // An unwinding panic must not leave this frame: the stack below belongs to a copy
            // of the parent.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
            exit_now(super::PANIC_EXIT_CODE)
        }
    }
}

/// End this process at once with `code`: no destructors, no `atexit` handlers, no unwinding
/// (`_exit`). Standard output is flushed first.
pub(crate) fn exit_now(code: i32) -> ! {
    flush_std();
    // SAFETY: _exit has no preconditions; it ends the process without running any user code.
    unsafe { libc::_exit(code) }
}

/// Ask the kernel to SIGKILL this process when its parent dies, and leave at once if the
/// parent (`parent_pid`) already died before the request took effect.
pub(crate) fn die_with_parent(parent_pid: u32) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) reads only its integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } as u32 != parent_pid {
        exit_now(super::ORPHANED_EXIT_CODE);
    }
}

/// A pipe whose both ends are close-on-exec.
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::os(e as i32, "pipe2"))
}

/// Set or clear `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| Error::os(e as i32, "fcntl(F_GETFL)"))?;
    let mut flags = OFlag::from_bits_truncate(flags);
    flags.set(OFlag::O_NONBLOCK, on);
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(|e| Error::os(e as i32, "fcntl(F_SETFL)"))?;
    Ok(())
}

/// Set or clear `FD_CLOEXEC` on `fd`.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let flag = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    fcntl(fd, FcntlArg::F_SETFD(flag)).map_err(|e| Error::os(e as i32, "fcntl(F_SETFD)"))?;
    Ok(())
}

/// Take ownership of the descriptor number `fd` that this process inherited, after checking
/// that it is open.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::Os {
            context: format!("inherited descriptor {fd}"),
            source: std::io::Error::from_raw_os_error(libc::EBADF),
        });
    }
    // SAFETY: the descriptor is open, and it was handed to this process for it alone (the
    // handover names each descriptor once; callers adopt each name once).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A `pidfd` for `pid` (Linux 5.3+), readable once the process has ended.
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: the pidfd_open syscall reads only its integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the syscall returned a fresh descriptor that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Prepare `cmd` so that in the child (between `fork` and `exec`): the descriptors `keep`
/// lose `FD_CLOEXEC` (so the program inherits them), and the child asks for SIGKILL when this
/// process dies.
pub(crate) fn prepare_spawn(cmd: &mut Command, keep: Vec<RawFd>) {
    let parent = std::process::id();
    // SAFETY: the hook runs in the child between fork and exec and only makes
    // async-signal-safe system calls (fcntl, prctl, getppid) on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &keep {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("parent died during spawn"));
            }
            Ok(())
        });
    }
}

/// The raw number of a descriptor (for the handover's text form).
pub(crate) fn raw(fd: &impl AsRawFd) -> RawFd {
    fd.as_raw_fd()
}

/// A close-on-exec duplicate of this process's descriptor `fd`.
pub(crate) fn dup(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table and returns a fresh descriptor.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(Error::last_os(format!("fcntl({fd}, F_DUPFD_CLOEXEC)")));
    }
    // SAFETY: `new` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
