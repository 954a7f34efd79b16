//! Mapped shared memory: anonymous (inherited by `fork`) and named (`shm_open`).
//!
//! This module and `crate::synchronize::raw`, `crate::synchronize::fast` and `crate::sharedctypes::cell` are the only places that touch raw
//! memory. A [`Segment`] owns one `MAP_SHARED` mapping; the pages stay valid while any clone of
//! the `Arc<Segment>` lives. Only the process that created a named segment unlinks it on drop:
//! the creator's pid is recorded, so a forked child that inherits the handle never unlinks the
//! parent's segment.

use std::ffi::CString;
use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use memmap2::MmapRaw;

use super::name::os_name;
use crate::{Error, Result};

/// One shared mapping.
pub(crate) struct Segment {
    /// Unmapped on drop, unless a thread of this process still holds the header's lock (then
    /// the mapping is leaked on purpose: that thread's robust list points into it).
    map: ManuallyDrop<MmapRaw>,
    /// OS name (`/name`) of a named segment.
    name: Option<String>,
    /// The pid that unlinks a named segment on drop (the creator).
    owner_pid: Option<u32>,
    unlink_on_drop: AtomicBool,
    /// `(st_dev, st_ino)` of the shm object or memfd: the same for every mapping of it.
    id: SegmentId,
    /// The header carries a robust mutex at `LOCK_OFFSET` (set before the segment is shared).
    header_lock: bool,
    /// The memfd of an anonymous segment, kept open so a spawned child can inherit it
    /// (handover, `crate::process`).
    memfd: Option<OwnedFd>,
}

/// The identity of a shared-memory object: `(st_dev, st_ino)` of its file. Every mapping of one
/// object (clones, re-opens by name, `fork` children) has the same identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SegmentId {
    pub dev: u64,
    pub ino: u64,
}

fn identity(file: &File, what: &str) -> Result<SegmentId> {
    let m = file.metadata().map_err(|e| Error::Os {
        context: format!("fstat({what})"),
        source: e,
    })?;
    Ok(SegmentId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// Is `tid` a live thread of this process? (`tgkill` with signal 0 only checks.)
fn thread_of_this_process(tid: u32) -> bool {
    // SAFETY: tgkill with signal 0 sends nothing; it only reports whether the thread exists in
    // our thread group.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid as libc::pid_t, 0) == 0 }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("len", &self.map.len())
            .field("owner_pid", &self.owner_pid)
            .finish()
    }
}

fn cstring(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::InvalidName {
        name: name.to_string(),
        reason: "contains a NUL byte",
    })
}

/// Size a fresh file and reserve its pages, so a full `/dev/shm` fails here with ENOSPC
/// instead of SIGBUS on first touch.
fn size_file(file: &File, size: usize, what: &str) -> Result<()> {
    file.set_len(size as u64).map_err(|e| Error::Os {
        context: format!("ftruncate({what}, {size})"),
        source: e,
    })?;
    // SAFETY: posix_fallocate only reads its integer arguments; the fd is open and owned by `file`.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    // EOPNOTSUPP/EINVAL: the filesystem cannot reserve; the set_len above still sized it.
    if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
        return Err(Error::os(rc, format!("posix_fallocate({what}, {size})")));
    }
    Ok(())
}

fn map(file: &File, what: &str) -> Result<MmapRaw> {
    // MmapRaw maps with MAP_SHARED and PROT_READ|PROT_WRITE; no reference into the memory is
    // created, so other processes writing the file is not undefined behaviour for us.
    MmapRaw::map_raw(file).map_err(|e| Error::Os {
        context: format!("mmap({what})"),
        source: e,
    })
}

impl Segment {
    /// A new zeroed anonymous shared segment of `size` bytes, inherited by `fork` children.
    ///
    /// Backed by a `memfd`, so nothing is left in `/dev/shm` even if the process crashes.
    pub(crate) fn anonymous(size: usize) -> Result<Segment> {
        let size = size.max(1);
        // SAFETY: the name is a valid NUL-terminated C string; flags are valid.
        let fd = unsafe { libc::memfd_create(c"mpshare".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os("memfd_create"));
        }
        // SAFETY: memfd_create returned a fresh fd that nothing else owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        size_file(&file, size, "memfd")?;
        let map = map(&file, "memfd")?;
        Ok(Segment {
            map: ManuallyDrop::new(map),
            name: None,
            owner_pid: None,
            unlink_on_drop: AtomicBool::new(false),
            id: identity(&file, "memfd")?,
            header_lock: false,
            memfd: Some(OwnedFd::from(file)),
        })
    }

    /// Create the named segment `name` (`O_CREAT|O_EXCL`, permission bits exactly `mode`,
    /// whatever the umask) of `size` zeroed bytes.
    pub(crate) fn create_named(name: &str, size: usize, mode: u32) -> Result<Segment> {
        let os = os_name(name)?;
        let c = cstring(&os)?;
        // SAFETY: `c` is a valid C string; flags and mode are plain integers.
        let fd = unsafe {
            libc::shm_open(
                c.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
                0o600 as libc::mode_t,
            )
        };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EEXIST) => Error::AlreadyExists { name: os },
                Some(libc::ENAMETOOLONG) => Error::InvalidName {
                    name: name.to_string(),
                    reason: "too long for this system",
                },
                _ => Error::Os {
                    context: format!("shm_open({os:?}, O_CREAT|O_EXCL)"),
                    source: err,
                },
            });
        }
        // SAFETY: shm_open returned a fresh fd that nothing else owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let made = set_mode(&file, mode, &os)
            .and_then(|_| size_file(&file, size.max(1), &os))
            .and_then(|_| Ok((map(&file, &os)?, identity(&file, &os)?)));
        let (map, id) = match made {
            Ok(m) => m,
            Err(e) => {
                let _ = unlink_os(&c);
                return Err(e);
            }
        };
        Ok(Segment {
            map: ManuallyDrop::new(map),
            name: Some(os),
            owner_pid: Some(std::process::id()),
            unlink_on_drop: AtomicBool::new(true),
            id,
            header_lock: false,
            memfd: None,
        })
    }

    /// Open the existing named segment `name`, waiting up to `wait` for its creator to size it
    /// to at least `min_size` bytes.
    pub(crate) fn open_named(name: &str, min_size: usize, wait: Duration) -> Result<Segment> {
        let os = os_name(name)?;
        if let Some(file) = inherited(&os)? {
            // An anonymous segment handed to this spawned child: map the inherited memfd.
            if (file.metadata()?.len() as usize) < min_size {
                return Err(Error::NotInitialized {
                    name: os,
                    waited: Duration::ZERO,
                });
            }
            let map = map(&file, &os)?;
            return Ok(Segment {
                map: ManuallyDrop::new(map),
                id: identity(&file, &os)?,
                name: None,
                owner_pid: None,
                unlink_on_drop: AtomicBool::new(false),
                header_lock: false,
                memfd: Some(OwnedFd::from(file)),
            });
        }
        let c = cstring(&os)?;
        // SAFETY: `c` is a valid C string; flags are plain integers.
        let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC, 0) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ENOENT) => Error::NotFound { name: os },
                _ => Error::Os {
                    context: format!("shm_open({os:?})"),
                    source: err,
                },
            });
        }
        // SAFETY: shm_open returned a fresh fd that nothing else owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let start = Instant::now();
        loop {
            let len = file.metadata().map_err(|e| Error::Os {
                context: format!("fstat({os:?})"),
                source: e,
            })?;
            if len.len() as usize >= min_size {
                break;
            }
            if start.elapsed() >= wait {
                return Err(Error::NotInitialized {
                    name: os,
                    waited: wait,
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let map = map(&file, &os)?;
        Ok(Segment {
            map: ManuallyDrop::new(map),
            id: identity(&file, &os)?,
            name: Some(os),
            owner_pid: None,
            unlink_on_drop: AtomicBool::new(false),
            header_lock: false,
            memfd: None,
        })
    }

    /// Base address of the mapping (page aligned, never null).
    pub(crate) fn base(&self) -> NonNull<u8> {
        // A successful mmap never returns null.
        NonNull::new(self.map.as_mut_ptr()).expect("mmap returned null")
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The OS name (`/name`) of a named segment.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Remove the name now (the memory stays mapped for everyone who has it).
    pub(crate) fn unlink(&self) -> Result<()> {
        self.unlink_on_drop.store(false, Ordering::Relaxed);
        match &self.name {
            Some(n) => unlink(n),
            None => Ok(()),
        }
    }

    /// The memfd behind an anonymous segment (for handing it to a spawned child).
    pub(crate) fn memfd(&self) -> Option<BorrowedFd<'_>> {
        self.memfd.as_ref().map(|f| f.as_fd())
    }

    /// Keep the name when this handle drops.
    pub(crate) fn persist(&self) {
        self.unlink_on_drop.store(false, Ordering::Relaxed);
    }

    /// The identity of the shared-memory object behind this mapping.
    pub(crate) fn id(&self) -> SegmentId {
        self.id
    }

    /// Record that the header holds a robust mutex (before the segment is shared).
    pub(crate) fn set_header_lock(&mut self) {
        self.header_lock = true;
    }

    /// True when a thread of this process holds the header's mutex.
    fn lock_held_here(&self) -> bool {
        if !self.header_lock || self.map.len() < super::header::HEADER_V1_SIZE {
            return false;
        }
        // SAFETY: the mapping is live and at least HEADER_V1_SIZE bytes; the header was
        // published (a lock is only recorded on a built or attached segment).
        let tid = unsafe { super::header::lock_owner_tid(self.base().as_ptr().cast()) };
        tid != 0 && thread_of_this_process(tid)
    }
}

/// Set the permission bits of a fresh shm object exactly (`shm_open`'s mode is masked by the
/// umask).
fn set_mode(file: &File, mode: u32, what: &str) -> Result<()> {
    // SAFETY: fchmod only reads its integer arguments; the fd is open and owned by `file`.
    if unsafe { libc::fchmod(file.as_raw_fd(), mode as libc::mode_t) } != 0 {
        return Err(Error::last_os(format!("fchmod({what}, {mode:#o})")));
    }
    Ok(())
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.unlink_on_drop.load(Ordering::Relaxed) && self.owner_pid == Some(std::process::id())
        {
            if let Some(n) = &self.name {
                if let Ok(c) = CString::new(n.as_str()) {
                    let _ = unlink_os(&c);
                }
            }
        }
        if self.lock_held_here() {
            // A thread of this process holds the mutex in this mapping (acquired, then every
            // handle dropped): its robust list links the mutex, and glibc, the fast path and
            // the kernel (at thread exit) will write there. Keep the pages mapped for the
            // rest of the process's life rather than let those writes hit unmapped memory.
            return;
        }
        // SAFETY: `map` is dropped exactly once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.map) };
    }
}

// ---- Handover of anonymous segments to spawned children (issue 13, `crate::process`) ----
// A spawned child inherits the memfd of an anonymous segment under a fixed descriptor number;
// `crate::process` registers it here under a reserved name, and `open_named` maps that
// descriptor instead of calling `shm_open`, so every type's ordinary `open` attaches to it.

/// Reserved name prefix of inherited anonymous segments (`/mpshare-inherited-fd-<n>`).
pub(crate) const INHERITED_PREFIX: &str = "mpshare-inherited-fd-";

static INHERITED: std::sync::Mutex<Vec<(String, OwnedFd)>> = std::sync::Mutex::new(Vec::new());

/// Register the inherited descriptor `fd` as the anonymous segment reachable by
/// `open_named(INHERITED_PREFIX + n)`; returns that name.
pub(crate) fn register_inherited(fd: OwnedFd) -> String {
    let name = format!("{INHERITED_PREFIX}{}", fd.as_raw_fd());
    let mut table = INHERITED.lock().unwrap_or_else(|p| p.into_inner());
    let os = format!("/{name}");
    table.retain(|(n, _)| *n != os);
    table.push((os, fd));
    name
}

/// Forget the registration `name` made by [`register_inherited`] (closing its descriptor).
pub(crate) fn unregister_inherited(name: &str) {
    let os = format!("/{}", name.trim_start_matches('/'));
    let mut table = INHERITED.lock().unwrap_or_else(|p| p.into_inner());
    table.retain(|(n, _)| *n != os);
}

/// A private duplicate of the inherited descriptor registered as `os`, if any.
fn inherited(os: &str) -> Result<Option<File>> {
    if !os[1..].starts_with(INHERITED_PREFIX) {
        return Ok(None);
    }
    let table = INHERITED.lock().unwrap_or_else(|p| p.into_inner());
    match table.iter().find(|(n, _)| n == os) {
        None => Err(Error::NotFound {
            name: os.to_string(),
        }),
        Some((_, fd)) => Ok(Some(File::from(fd.try_clone().map_err(|e| Error::Os {
            context: format!("dup({os})"),
            source: e,
        })?))),
    }
}

fn unlink_os(c: &CString) -> std::io::Result<()> {
    // SAFETY: `c` is a valid C string.
    if unsafe { libc::shm_unlink(c.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Remove the named segment `name` from the system (`shm_unlink`).
///
/// Processes that have it mapped keep their mapping; new `open`s fail.
///
/// ```
/// use mpshare::{shm, RawValue};
/// let name = format!("mpshare-doc-unlink-{}", std::process::id());
/// let v = RawValue::<i32>::create(&name, 1)?;
/// shm::unlink(&name)?;
/// assert!(matches!(RawValue::<i32>::open(&name), Err(mpshare::Error::NotFound { .. })));
/// assert_eq!(v.get(), 1); // still mapped here
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn unlink(name: &str) -> Result<()> {
    let os = os_name(name)?;
    let c = cstring(&os)?;
    unlink_os(&c).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound { name: os.clone() },
        _ => Error::Os {
            context: format!("shm_unlink({os:?})"),
            source: e,
        },
    })
}
