//! Start method spawn: the registered [`Entry`] functions, [`spawn_main`], and the
//! [`Handover`] that carries mpshare handles into the spawned child.
//!
//! # The handover, documented
//!
//! The parent passes four environment variables to the re-executed program:
//!
//! | variable | value |
//! |---|---|
//! | `MPSHARE_SPAWN_ENTRY` | the entry's name |
//! | `MPSHARE_SPAWN_STATUS_FD` | descriptor of the status pipe's write end |
//! | `MPSHARE_SPAWN_PARENT` | the parent's pid |
//! | `MPSHARE_HANDOVER` | the handover items, one per line |
//!
//! Each handover line is tab-separated (`\`, tab and newline escaped as `\\`, `\t`, `\n`):
//! `h <key> <segment name> <descriptor or ->` for a handle, `a <key> <text>` for an argument.
//! A named segment crosses by its name (the child opens it like any unrelated process). An
//! anonymous segment (a memfd, which no name reaches) crosses as a descriptor: only in the
//! child, between `fork` and `exec`, its `FD_CLOEXEC` flag is cleared, so the program inherits
//! it under the same number; [`spawn_main`] adopts it under the reserved name
//! `mpshare-inherited-fd-<n>`, which the handle's ordinary `open` then maps. The segment's
//! header is checked as for any `open`, so a wrong type is a clear error in the child.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::child::{reap, report, run_caught, ChildExit, StatusReader, READY};
use super::os;
use crate::shm::Segment;
use crate::{
    AnyLock, Array, Barrier, BoundedSemaphore, Condition, DynArray, DynValue, Element, Error,
    Event, JoinableQueue, Lock, PodQueue, Queue, RLock, RawArray, RawValue, Result, Semaphore,
    SimpleQueue, Value,
};

const ENTRY_ENV: &str = "MPSHARE_SPAWN_ENTRY";
const STATUS_ENV: &str = "MPSHARE_SPAWN_STATUS_FD";
const PARENT_ENV: &str = "MPSHARE_SPAWN_PARENT";
const HANDOVER_ENV: &str = "MPSHARE_HANDOVER";

/// How long [`Process::start`](super::Process::start) waits for a spawned child to reach its
/// entry.
const READY_WAIT: Duration = Duration::from_secs(60);

/// A function a spawned child can run, registered by name: make one with [`entry!`].
///
/// ```
/// use mpshare::process::{entry, Entry, Handover};
/// fn hello(_h: Handover) {}
/// let e: Entry = entry!(hello);
/// assert_eq!(e.name(), "hello");
/// ```
#[derive(Clone, Copy)]
pub struct Entry {
    name: &'static str,
    run: fn(Handover) -> ChildExit,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).finish()
    }
}

impl Entry {
    /// An entry named `name` running `run` (use [`entry!`], which names it after the function).
    ///
    /// ```
    /// use mpshare::process::{ChildExit, Entry, Handover, IntoExit};
    /// fn run(_h: Handover) -> ChildExit { 0.into_exit() }
    /// assert_eq!(Entry::new("job", run).name(), "job");
    /// ```
    pub const fn new(name: &'static str, run: fn(Handover) -> ChildExit) -> Entry {
        Entry { name, run }
    }

    /// The entry's name.
    ///
    /// ```
    /// fn f(_h: mpshare::process::Handover) -> i32 { 0 }
    /// assert_eq!(mpshare::process::entry!(f).name(), "f");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __process_entry {
    ($f:path) => {
        $crate::process::Entry::new(stringify!($f), |h: $crate::process::Handover| {
            $crate::process::IntoExit::into_exit($f(h))
        })
    };
}
/// An [`Entry`] for the function `f(Handover) -> R` (`R`: see
/// [`IntoExit`](super::IntoExit)), named after it.
///
/// ```
/// fn worker(h: mpshare::process::Handover) -> mpshare::Result<()> { Ok(()) }
/// let e = mpshare::process::entry!(worker);
/// assert_eq!(e.name(), "worker");
/// ```
#[doc(inline)]
pub use crate::__process_entry as entry;

/// Call first in `main`: in a child started by [`Process::spawn`](super::Process::spawn) it
/// runs the requested entry from `entries` and exits the process with its exit code (never
/// returning); in any other process it returns at once.
///
/// ```
/// fn worker(_h: mpshare::process::Handover) {}
/// // Not a spawned child: returns immediately.
/// mpshare::process::spawn_main(&[mpshare::process::entry!(worker)]);
/// ```
pub fn spawn_main(entries: &[Entry]) {
    let Some((name, parent)) = spawn_request() else {
        return;
    };
    IN_SPAWNED_CHILD.store(true, std::sync::atomic::Ordering::Relaxed);
    let status = std::env::var(STATUS_ENV)
        .ok()
        .and_then(|s| s.parse::<RawFd>().ok())
        .and_then(|fd| os::adopt_inherited_fd(fd).ok());
    let handover = std::env::var(HANDOVER_ENV).unwrap_or_default();
    if let Some(fd) = &status {
        let _ = os::set_cloexec(fd.as_fd(), true);
    }
    // Set before exec; check again that the parent did not die in between.
    os::die_with_parent(parent);
    let exit = match (
        entries.iter().find(|e| e.name == name),
        Handover::decode(&handover),
    ) {
        (None, _) => ChildExit {
            code: 2,
            message: Some(format!(
                "spawn entry {name:?} is not registered: spawn_main knows {:?}",
                entries.iter().map(|e| e.name).collect::<Vec<_>>()
            )),
        },
        (Some(_), Err(e)) => ChildExit {
            code: 2,
            message: Some(format!("bad handover: {e}")),
        },
        (Some(entry), Ok(h)) => {
            if let Some(fd) = &status {
                let _ = super::child::write_all(fd.as_fd(), &[READY]);
            }
            let run = entry.run;
            run_caught(move || run(h))
        }
    };
    if let Some(fd) = &status {
        report(fd, &exit);
    }
    os::flush_std();
    std::process::exit(exit.code)
}

/// Set once [`spawn_main`] took the role of a spawned child.
static IN_SPAWNED_CHILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The entry this process was spawned to run, and its parent's pid: only when the variables
/// are set *and* name this process's actual parent (the variables stay in the environment, so
/// a program this child starts by other means inherits them, but has another parent).
fn spawn_request() -> Option<(String, u32)> {
    let name = std::env::var(ENTRY_ENV).ok()?;
    let parent = std::env::var(PARENT_ENV).ok()?.parse::<u32>().ok()?;
    (nix::unistd::getppid().as_raw() as u32 == parent).then_some((name, parent))
}

/// Start `entry` in a re-executed copy of this program; returns its pid, the status pipe's
/// read end and what was read from it, once the child reached its entry.
pub(crate) fn start_spawn(
    entry: Entry,
    handover: &Handover,
) -> Result<(u32, OwnedFd, StatusReader)> {
    if spawn_request().is_some() && !IN_SPAWNED_CHILD.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::SpawnFailed {
            entry: entry.name.into(),
            reason: "this process was spawned by mpshare but its main did not call \
                     mpshare::process::spawn_main first"
                .into(),
        });
    }
    let (rd, wr) = os::pipe()?;
    let mut args = std::env::args_os();
    let arg0 = args
        .next()
        .unwrap_or_else(|| OsString::from("mpshare-child"));
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0(arg0)
        .args(args)
        .env(ENTRY_ENV, entry.name)
        .env(STATUS_ENV, os::raw(&wr).to_string())
        .env(PARENT_ENV, std::process::id().to_string())
        .env(HANDOVER_ENV, handover.encode())
        .stdin(Stdio::null());
    let mut keep = handover.fds();
    keep.push(os::raw(&wr));
    os::prepare_spawn(&mut cmd, keep);
    os::flush_std();
    let child = cmd.spawn().map_err(|e| Error::SpawnFailed {
        entry: entry.name.into(),
        reason: format!("exec /proc/self/exe: {e}"),
    })?;
    let pid = child.id();
    drop(child); // the pid is reaped with waitpid by the Process
    drop(wr);
    os::set_nonblocking(rd.as_fd(), true)?;
    let mut reader = StatusReader::default();
    let deadline = Instant::now() + READY_WAIT;
    loop {
        reader.drain(&rd);
        if reader.ready {
            return Ok((pid, rd, reader));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if reader.eof || left.is_zero() {
            if !reader.eof {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let code = reap(pid, true)?.unwrap_or(-1);
            reader.drain(&rd);
            return Err(Error::SpawnFailed {
                entry: entry.name.into(),
                reason: match reader.message {
                    Some(m) => m,
                    None if !reader.eof => format!("not ready within {READY_WAIT:?}; killed"),
                    None => format!(
                        "the child {} before reaching spawn_main (does main call \
                         mpshare::process::spawn_main first?)",
                        super::child::describe_exit(code)
                    ),
                },
            });
        }
        let ms = left.as_millis().clamp(1, 100) as i32;
        let mut fds = [PollFd::new(rd.as_fd(), PollFlags::POLLIN)];
        let _ = nix::poll::poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
    }
}

/// A clone of a handed-over handle, kept so that its segment (its memfd, its name) lives as
/// long as the handover.
type KeepAlive = std::sync::Arc<dyn std::any::Any + Send + Sync>;

#[derive(Clone)]
enum Item {
    Handle {
        name: String,
        fd: Option<RawFd>,
        _keep: Option<KeepAlive>,
    },
    Arg(String),
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Handle { name, fd, .. } => f
                .debug_struct("Handle")
                .field("name", name)
                .field("fd", fd)
                .finish(),
            Item::Arg(a) => f.debug_tuple("Arg").field(a).finish(),
        }
    }
}

/// What a spawned child receives: mpshare handles and text arguments, by key.
///
/// The parent builds it with [`with`](Handover::with) / [`arg`](Handover::arg); the child's
/// entry gets it and reopens each handle with [`get`](Handover::get).
///
/// ```
/// use mpshare::process::Handover;
/// let counter = mpshare::Value::new(0i64)?;
/// let h = Handover::new().with("counter", &counter)?.arg("rounds", 10);
/// assert_eq!(h.get_arg::<u32>("rounds")?, 10);
/// assert_eq!(h.keys(), vec!["counter", "rounds"]);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Handover {
    items: Vec<(String, Item)>,
}

/// mpshare handles that can cross into a spawned child through a [`Handover`].
///
/// Implemented for [`RawValue`], [`Value`], [`RawArray`], [`Array`] (with its N-D shape),
/// [`DynValue`], [`DynArray`], [`Lock`], [`RLock`], [`AnyLock`], [`Semaphore`],
/// [`BoundedSemaphore`], [`Event`], [`Condition`], [`Barrier`], [`Queue`], [`JoinableQueue`],
/// [`SimpleQueue`] and [`PodQueue`].
pub trait Handoff: sealed::Sealed {}

pub(crate) mod sealed {
    use std::os::fd::RawFd;

    use crate::Result;

    pub trait Sealed: Sized + Clone + Send + Sync + 'static {
        /// The name the child opens, and the descriptor it must inherit for an anonymous one.
        fn token(&self) -> Result<(String, Option<RawFd>)>;
        /// Reopen in the child.
        fn reopen(name: &str) -> Result<Self>;
    }
}

fn seg_token(seg: &Segment, what: &str) -> Result<(String, Option<RawFd>)> {
    if let Some(n) = seg.name() {
        return Ok((n.trim_start_matches('/').to_string(), None));
    }
    match seg.memfd() {
        Some(fd) => Ok((
            format!("{}{}", crate::shm::INHERITED_PREFIX, fd.as_raw_fd()),
            Some(fd.as_raw_fd()),
        )),
        None => Err(Error::HandoverFailed {
            what: what.to_string(),
            reason: "an anonymous segment without its descriptor".into(),
        }),
    }
}

fn same_segment(a: &Segment, b: &Segment) -> bool {
    a.base() == b.base()
}

macro_rules! handoff {
    ($([$($g:tt)*] $ty:ty => |$s:ident| $seg:expr, $what:literal;)*) => {$(
        impl<$($g)*> sealed::Sealed for $ty {
            fn token(&self) -> Result<(String, Option<RawFd>)> {
                let $s = self;
                seg_token($seg, $what)
            }
            fn reopen(name: &str) -> Result<Self> {
                <$ty>::open(name)
            }
        }
        impl<$($g)*> Handoff for $ty {}
    )*};
}

handoff! {
    [T: Element] RawValue<T> => |s| s.segment(), "RawValue";
    [T: Element] RawArray<T> => |s| s.segment(), "RawArray";
    [] Lock => |s| AnyLock::from(s).raw().segment(), "Lock";
    [] RLock => |s| AnyLock::from(s).raw().segment(), "RLock";
    [] Semaphore => |s| s.segment(), "Semaphore";
    [] BoundedSemaphore => |s| s.segment(), "BoundedSemaphore";
    [] Event => |s| s.segment(), "Event";
    [] Barrier => |s| s.segment(), "Barrier";
    [] Queue => |s| s.segment(), "Queue";
    [] JoinableQueue => |s| s.segment(), "JoinableQueue";
    [] SimpleQueue => |s| s.segment(), "SimpleQueue";
    [T: Element] PodQueue<T> => |s| s.segment(), "PodQueue";
}

impl sealed::Sealed for Condition {
    fn token(&self) -> Result<(String, Option<RawFd>)> {
        let (data, lock) = self.segments();
        if !same_segment(data, lock) {
            return Err(Error::HandoverFailed {
                what: "Condition".into(),
                reason: "its lock lives in another segment (made with Condition::with_lock); \
                         hand over the lock too and reopen with Condition::open_with_lock"
                    .into(),
            });
        }
        seg_token(data, "Condition")
    }
    fn reopen(name: &str) -> Result<Self> {
        Condition::open(name)
    }
}
impl Handoff for Condition {}

macro_rules! handoff_locked {
    ($($ty:ident),*) => {$(
        impl<T: Element> sealed::Sealed for $ty<T> {
            fn token(&self) -> Result<(String, Option<RawFd>)> {
                let data = self.raw.segment();
                if !same_segment(data, self.get_lock().raw().segment()) {
                    return Err(Error::HandoverFailed {
                        what: stringify!($ty).into(),
                        reason: format!(
                            "its lock lives in another segment (made with {}::with_lock); \
                             hand over the {} from get_obj() and the lock separately",
                            stringify!($ty),
                            concat!("Raw", stringify!($ty)),
                        ),
                    });
                }
                seg_token(data, stringify!($ty))
            }
            fn reopen(name: &str) -> Result<Self> {
                $ty::<T>::open(name)
            }
        }
        impl<T: Element> Handoff for $ty<T> {}
    )*};
}

handoff_locked!(Value, Array);

macro_rules! handoff_dyn {
    ($($ty:ident),*) => {$(
        impl sealed::Sealed for $ty {
            fn token(&self) -> Result<(String, Option<RawFd>)> {
                let (data, lock) = self.segments();
                if lock.is_some_and(|l| !same_segment(data, l)) {
                    return Err(Error::HandoverFailed {
                        what: stringify!($ty).into(),
                        reason: "its lock lives in another segment".into(),
                    });
                }
                seg_token(data, stringify!($ty))
            }
            fn reopen(name: &str) -> Result<Self> {
                $ty::open(name)
            }
        }
        impl Handoff for $ty {}
    )*};
}

handoff_dyn!(DynValue, DynArray);

impl sealed::Sealed for AnyLock {
    fn token(&self) -> Result<(String, Option<RawFd>)> {
        seg_token(self.raw().segment(), "AnyLock")
    }
    fn reopen(name: &str) -> Result<Self> {
        match RLock::open(name) {
            Ok(l) => Ok(l.into()),
            Err(Error::LayoutMismatch { .. }) => Lock::open(name).map(Into::into),
            Err(e) => Err(e),
        }
    }
}
impl Handoff for AnyLock {}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains(['\t', '\n', '\\']) {
        return Err(Error::HandoverFailed {
            what: format!("key {key:?}"),
            reason: "keys are non-empty and hold no tab, newline or backslash".into(),
        });
    }
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Handover {
    /// An empty handover.
    ///
    /// ```
    /// assert!(mpshare::process::Handover::new().keys().is_empty());
    /// ```
    pub fn new() -> Handover {
        Handover::default()
    }

    fn put(&mut self, key: &str, item: Item) -> Result<()> {
        check_key(key)?;
        self.items.retain(|(k, _)| k != key);
        self.items.push((key.to_string(), item));
        Ok(())
    }

    /// Add the handle `handle` under `key`. The handover keeps a clone of it, so its segment
    /// stays alive (and a named one keeps its name) as long as the handover.
    ///
    /// # Errors
    /// [`Error::HandoverFailed`] for a bad key, or a [`Value`]/[`Array`] whose lock lives in
    /// another segment.
    ///
    /// ```
    /// let lock = mpshare::Lock::new()?;
    /// let h = mpshare::process::Handover::new().with("lock", &lock)?;
    /// assert!(h.clone().with("bad\tkey", &lock).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn with(mut self, key: &str, handle: &impl Handoff) -> Result<Handover> {
        let (name, fd) = handle.token()?;
        let keep: KeepAlive = std::sync::Arc::new(handle.clone());
        self.put(
            key,
            Item::Handle {
                name,
                fd,
                _keep: Some(keep),
            },
        )?;
        Ok(self)
    }

    /// Add the text argument `value` under `key` (replacing an earlier one). A key that
    /// cannot be used (empty, or with a tab, newline or backslash) is ignored.
    ///
    /// ```
    /// let h = mpshare::process::Handover::new().arg("worker", 3).arg("mode", "fast");
    /// assert_eq!(h.get_arg::<usize>("worker")?, 3);
    /// assert_eq!(h.arg_str("mode"), Some("fast"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn arg(mut self, key: &str, value: impl ToString) -> Handover {
        let _ = self.put(key, Item::Arg(value.to_string()));
        self
    }

    /// The keys, in the order they were added.
    ///
    /// ```
    /// assert_eq!(mpshare::process::Handover::new().arg("a", 1).keys(), vec!["a"]);
    /// ```
    pub fn keys(&self) -> Vec<&str> {
        self.items.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn item(&self, key: &str) -> Result<&Item> {
        self.items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, i)| i)
            .ok_or_else(|| Error::HandoverFailed {
                what: format!("key {key:?}"),
                reason: format!("not in the handover (keys: {:?})", self.keys()),
            })
    }

    /// Reopen the handle under `key` as a `T` (in the spawned child; in the parent it opens
    /// the same segment again).
    ///
    /// # Errors
    /// [`Error::HandoverFailed`] for a missing key or an argument; the `open` errors of `T`
    /// ([`Error::LayoutMismatch`] when the segment holds something else).
    ///
    /// ```
    /// use mpshare::{process::Handover, RawValue};
    /// let v = RawValue::new(5u32)?;
    /// let h = Handover::new().with("v", &v)?;
    /// assert!(h.get::<RawValue<u64>>("v").is_err()); // wrong type: refused by the header
    /// assert!(h.get::<RawValue<u32>>("missing").is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: Handoff>(&self, key: &str) -> Result<T> {
        match self.item(key)? {
            Item::Handle { name, fd, .. } => {
                if let Some(fd) = fd {
                    // In the parent (or a fork child) the descriptor is this process's own:
                    // reach it through a duplicate registered for the time of the open.
                    let registered = crate::shm::register_inherited(os::dup(*fd)?);
                    let r = T::reopen(&registered);
                    crate::shm::unregister_inherited(&registered);
                    return r;
                }
                T::reopen(name)
            }
            Item::Arg(_) => Err(Error::HandoverFailed {
                what: format!("key {key:?}"),
                reason: "holds a text argument, not a handle (use get_arg)".into(),
            }),
        }
    }

    /// The text argument under `key`, if any.
    ///
    /// ```
    /// assert_eq!(mpshare::process::Handover::new().arg_str("x"), None);
    /// ```
    pub fn arg_str(&self, key: &str) -> Option<&str> {
        match self.item(key) {
            Ok(Item::Arg(s)) => Some(s),
            _ => None,
        }
    }

    /// The text argument under `key`, parsed.
    ///
    /// # Errors
    /// [`Error::HandoverFailed`] when missing or not parseable as `T`.
    ///
    /// ```
    /// let h = mpshare::process::Handover::new().arg("n", "x");
    /// assert!(h.get_arg::<u8>("n").is_err());
    /// ```
    pub fn get_arg<T: FromStr>(&self, key: &str) -> Result<T> {
        let s = self.arg_str(key).ok_or_else(|| Error::HandoverFailed {
            what: format!("key {key:?}"),
            reason: format!("no text argument under it (keys: {:?})", self.keys()),
        })?;
        s.parse().map_err(|_| Error::HandoverFailed {
            what: format!("key {key:?}"),
            reason: format!("expected a {}, found {s:?}", std::any::type_name::<T>()),
        })
    }

    /// Descriptors the child must inherit.
    fn fds(&self) -> Vec<RawFd> {
        self.items
            .iter()
            .filter_map(|(_, i)| match i {
                Item::Handle { fd: Some(fd), .. } => Some(*fd),
                _ => None,
            })
            .collect()
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        for (k, item) in &self.items {
            match item {
                Item::Handle { name, fd, .. } => out.push_str(&format!(
                    "h\t{}\t{}\t{}\n",
                    escape(k),
                    escape(name),
                    fd.map_or("-".to_string(), |f| f.to_string())
                )),
                Item::Arg(v) => out.push_str(&format!("a\t{}\t{}\n", escape(k), escape(v))),
            }
        }
        out
    }

    /// Parse the text form and adopt the inherited descriptors it names.
    fn decode(text: &str) -> Result<Handover> {
        let bad = |line: &str| Error::HandoverFailed {
            what: "handover".into(),
            reason: format!("malformed line {line:?}"),
        };
        let mut h = Handover::new();
        // A segment handed over under several keys arrives as one descriptor: adopt it once.
        let mut adopted: Vec<(RawFd, String)> = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["h", k, name, fd] => {
                    let fd = match *fd {
                        "-" => None,
                        n => Some(n.parse::<RawFd>().map_err(|_| bad(line))?),
                    };
                    let mut name = unescape(name);
                    if let Some(fd) = fd {
                        name = match adopted.iter().find(|(f, _)| *f == fd) {
                            Some((_, n)) => n.clone(),
                            None => {
                                let n = crate::shm::register_inherited(os::adopt_inherited_fd(fd)?);
                                adopted.push((fd, n.clone()));
                                n
                            }
                        };
                    }
                    h.items.push((
                        unescape(k),
                        Item::Handle {
                            name,
                            fd: None,
                            _keep: None,
                        },
                    ));
                }
                ["a", k, v] => h.items.push((unescape(k), Item::Arg(unescape(v)))),
                _ => return Err(bad(line)),
            }
        }
        Ok(h)
    }
}
