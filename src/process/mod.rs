//! Python's `multiprocessing.process` and `multiprocessing.pool` for Rust: worker processes
//! started by `fork` or by `spawn`, a [`Pool`] mapping tasks over them, and a [`scope`] that
//! hands each forked worker `&mut` access to its own chunk of a shared array — all without
//! `unsafe` in the caller.
//!
//! | Python | mpshare |
//! |---|---|
//! | `Process(target=f)` (start method fork) | [`Process::new(f)`](Process::new) |
//! | `Process(target=f)` (start method spawn) | [`Process::spawn(entry!(f), handover)`](Process::spawn) |
//! | `p.start()`, `p.join()`, `p.join(timeout)` | [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout) |
//! | `p.is_alive()`, `p.exitcode`, `p.pid` | [`is_alive`](Process::is_alive), [`exitcode`](Process::exitcode), [`pid`](Process::pid) |
//! | `p.terminate()`, `p.kill()` | [`terminate`](Process::terminate), [`kill`](Process::kill) |
//! | `Pool(n).map(f, range(k))` | [`Pool::new(n)?.map(k, f)`](Pool::map) |
//! | `pool.close()`, `pool.join()` | [`Pool::close`], [`Pool::join`] |
//!
//! # Start methods
//!
//! * **fork** ([`Process::new`], [`scope`], [`Pool`]): the child is a copy of the parent and
//!   runs a closure, which may borrow anything of the parent (the child has its own copy;
//!   shared memory stays shared). `fork` copies only the calling thread, so a child of a
//!   multi-threaded parent may deadlock on a lock another thread held: the safe methods refuse
//!   with [`Error::ForkWithThreads`](crate::Error::ForkWithThreads) when the process has more
//!   than one thread; the `unsafe` `*_unchecked` variants are the explicit opt-in. The child
//!   never unwinds into the parent's stack and never runs the parent's destructors: the
//!   closure runs under `catch_unwind` and the child leaves with `_exit`. A panic becomes exit
//!   code [`PANIC_EXIT_CODE`] and its message reaches the parent
//!   ([`Process::failure`]).
//! * **spawn** ([`Process::spawn`]): re-executes the current program (`/proc/self/exe`, same
//!   arguments). Its `main` must call [`spawn_main`] first, which recognises a spawned child,
//!   runs the registered [`Entry`] and exits. Safe in multi-threaded programs. mpshare handles
//!   cross through a [`Handover`]: named segments by name, anonymous ones (memfd) by an
//!   inherited descriptor.
//!
//! Children of both methods ask the kernel for SIGKILL when their parent dies
//! (`PR_SET_PDEATHSIG`), so a killed parent leaves no orphan running. (Linux ties that signal
//! to the parent *thread*: start processes from a thread that outlives them.)
//!
//! ```
//! use mpshare::{process::Process, RawValue};
//! let hits = RawValue::new(0u64)?;
//! let mut p = Process::new({ let hits = hits.clone(); move || { hits.fetch_add(5); } });
//! p.start()?;
//! p.join()?;
//! assert_eq!((p.exitcode(), hits.get()), (Some(0), 5));
//! # Ok::<(), mpshare::Error>(())
//! ```

mod child;
mod chunks;
mod handover;
mod os;
mod pool;
#[allow(clippy::module_inception)]
mod process;
mod scope;

pub use child::{ChildExit, IntoExit};
pub use chunks::{chunk_range, chunk_ranges};
pub use handover::{entry, spawn_main, Entry, Handoff, Handover};
pub use pool::Pool;
pub use process::Process;
pub use scope::{scope, Scope};

/// Exit code of a child whose closure or entry panicked (Rust's own panic exit code).
///
/// ```
/// assert_eq!(mpshare::process::PANIC_EXIT_CODE, 101);
/// ```
pub const PANIC_EXIT_CODE: i32 = 101;

/// Exit code of a child whose closure or entry returned an error (as Python's uncaught
/// exception).
///
/// ```
/// assert_eq!(mpshare::process::ERROR_EXIT_CODE, 1);
/// ```
pub const ERROR_EXIT_CODE: i32 = 1;

/// Exit code of a child that found its parent already gone when it started.
///
/// ```
/// assert_eq!(mpshare::process::ORPHANED_EXIT_CODE, 125);
/// ```
pub const ORPHANED_EXIT_CODE: i32 = 125;

/// Number of threads of this process (field 20 of `/proc/self/stat`); `fork` is refused above 1.
///
/// ```
/// assert!(mpshare::process::thread_count()? >= 1);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn thread_count() -> crate::Result<usize> {
    os::thread_count()
}

/// Refuse `fork` unless this process has exactly one thread.
fn check_single_threaded() -> crate::Result<()> {
    match os::thread_count()? {
        1 => Ok(()),
        threads => Err(crate::Error::ForkWithThreads { threads }),
    }
}
