//! The `#[repr(C)]` header at the start of every mpshare segment.
//!
//! Layout version 2 (written by this build; all integers native-endian, offsets in bytes).
//! Version 1 segments (a 128-byte header, data at 128) are still read: their first 128 bytes
//! mean the same, their shape is `[length]` and their creator's start time is unknown.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `b"MPSHARE\0"` |
//! | 8 | 4 | layout version (`2`; `1` is read too) |
//! | 12 | 4 | state: 0 = being built, 1 = ready (written last, with release ordering) |
//! | 16 | 4 | kind: 1 Value, 2 Array, 3 Lock, 4 RLock, 5 Semaphore, 6 BoundedSemaphore, 7 Event, 8 Condition, 9 Barrier, 10 Queue, 11 JoinableQueue, 12 SimpleQueue |
//! | 20 | 4 | typecode as an ASCII code (`'d'` = 100), 0 for a `Pod` struct or no element |
//! | 24 | 4 | element size (0: no element) |
//! | 28 | 4 | element alignment |
//! | 32 | 8 | length in elements (the product of the shape for arrays) |
//! | 40 | 8 | data offset from the start of the segment (256, or the alignment if larger; v1: 128) |
//! | 48 | 4 | lock: 0 = none, 1 = Lock, 2 = RLock |
//! | 52 | 4 | creator pid |
//! | 56 | 8 | FNV-1a hash of a struct element's type name (0 for typecodes) |
//! | 64 | 64 | the lock (a glibc process-shared robust `pthread_mutex_t`, 40 bytes on x86-64) |
//! | 128 | 8 | creator start time: field 22 of `/proc/<pid>/stat` (clock ticks after boot); 0 = unknown |
//! | 136 | 4 | ndim: 0 for a Value, a lock or a primitive; 1.. [`MAX_NDIM`] for an array |
//! | 140 | 4 | reserved, 0 |
//! | 144 | 64 | shape: 8 × u64, C order (row-major), unused dimensions 0 |
//! | 208 | 48 | reserved, 0 |
//! | 256 | … | data |

use std::ptr::addr_of_mut;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::typecode::TypeCode;

/// Magic bytes at offset 0.
/// ```
/// assert_eq!(&mpshare::shm::MAGIC, b"MPSHARE\0");
/// ```
pub const MAGIC: [u8; 8] = *b"MPSHARE\0";
/// Layout version written by this build (version 1 is still read).
/// ```
/// assert_eq!(mpshare::shm::VERSION, 2);
/// ```
pub const VERSION: u32 = 2;
/// Size of the version-2 header; data starts at this offset unless the element needs more
/// alignment.
/// ```
/// assert_eq!(mpshare::shm::HEADER_SIZE, 256);
/// ```
pub const HEADER_SIZE: usize = 256;
/// Size of a version-1 header (and of the part of the version-2 header that means the same).
/// ```
/// assert_eq!(mpshare::shm::LOCK_OFFSET + mpshare::shm::LOCK_SIZE, mpshare::shm::HEADER_V1_SIZE);
/// ```
pub const HEADER_V1_SIZE: usize = 128;
/// Offset of the lock inside the header.
/// ```
/// assert_eq!(mpshare::shm::LOCK_OFFSET, 64);
/// ```
pub const LOCK_OFFSET: usize = 64;
/// Bytes reserved for the lock.
/// ```
/// assert_eq!(mpshare::shm::LOCK_SIZE, 64);
/// ```
pub const LOCK_SIZE: usize = 64;
/// Most dimensions a shared array records in its header.
/// ```
/// assert_eq!(mpshare::shm::MAX_NDIM, 8);
/// ```
pub const MAX_NDIM: usize = 8;

pub(crate) const STATE_READY: u32 = 1;

/// What a segment holds (the header's `kind` field).
///
/// Kinds 5 to 12 are the coordination primitives and queues; they carry no element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum SegKind {
    /// A [`Value`](crate::Value) or [`RawValue`](crate::RawValue).
    Value = 1,
    /// An [`Array`](crate::Array) or [`RawArray`](crate::RawArray).
    Array = 2,
    /// A [`Lock`](crate::Lock).
    Lock = 3,
    /// An [`RLock`](crate::RLock).
    RLock = 4,
    /// A semaphore.
    Semaphore = 5,
    /// A bounded semaphore.
    BoundedSemaphore = 6,
    /// An event.
    Event = 7,
    /// A condition variable.
    Condition = 8,
    /// A barrier.
    Barrier = 9,
    /// A queue.
    Queue = 10,
    /// A joinable queue.
    JoinableQueue = 11,
    /// A simple queue.
    SimpleQueue = 12,
}

impl SegKind {
    /// The kind recorded as `k`, if known.
    ///
    /// ```
    /// use mpshare::shm::SegKind;
    /// assert_eq!(SegKind::from_u32(2), Some(SegKind::Array));
    /// assert_eq!(SegKind::from_u32(13), None);
    /// ```
    pub fn from_u32(k: u32) -> Option<SegKind> {
        Some(match k {
            1 => SegKind::Value,
            2 => SegKind::Array,
            3 => SegKind::Lock,
            4 => SegKind::RLock,
            5 => SegKind::Semaphore,
            6 => SegKind::BoundedSemaphore,
            7 => SegKind::Event,
            8 => SegKind::Condition,
            9 => SegKind::Barrier,
            10 => SegKind::Queue,
            11 => SegKind::JoinableQueue,
            12 => SegKind::SimpleQueue,
            _ => return None,
        })
    }

    /// The kind's name, as Python spells the type.
    ///
    /// ```
    /// assert_eq!(mpshare::shm::SegKind::BoundedSemaphore.name(), "BoundedSemaphore");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SegKind::Value => "Value",
            SegKind::Array => "Array",
            SegKind::Lock => "Lock",
            SegKind::RLock => "RLock",
            SegKind::Semaphore => "Semaphore",
            SegKind::BoundedSemaphore => "BoundedSemaphore",
            SegKind::Event => "Event",
            SegKind::Condition => "Condition",
            SegKind::Barrier => "Barrier",
            SegKind::Queue => "Queue",
            SegKind::JoinableQueue => "JoinableQueue",
            SegKind::SimpleQueue => "SimpleQueue",
        }
    }

    /// Value and Array hold elements of a type; the others do not have to.
    pub(crate) fn needs_elem(self) -> bool {
        matches!(self, SegKind::Value | SegKind::Array)
    }
}

/// Lock stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum LockKind {
    None = 0,
    Lock = 1,
    RLock = 2,
}

#[repr(C)]
pub(crate) struct Header {
    pub magic: [u8; 8],
    pub version: u32,
    pub state: AtomicU32,
    pub kind: u32,
    pub typecode: u32,
    pub elem_size: u32,
    pub elem_align: u32,
    pub len: u64,
    pub data_offset: u64,
    pub lock_kind: u32,
    pub creator_pid: u32,
    pub type_hash: u64,
    pub lock: [u64; LOCK_SIZE / 8],
    // Version 2 from here.
    pub creator_start: u64,
    pub ndim: u32,
    pub reserved0: u32,
    pub shape: [u64; MAX_NDIM],
    pub reserved: [u64; 6],
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(std::mem::offset_of!(Header, lock) == LOCK_OFFSET);
const _: () = assert!(std::mem::offset_of!(Header, creator_start) == HEADER_V1_SIZE);
const _: () = assert!(std::mem::offset_of!(Header, ndim) == 136);
const _: () = assert!(std::mem::offset_of!(Header, shape) == 144);
const _: () = assert!(std::mem::offset_of!(Header, reserved) == 208);
const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() <= LOCK_SIZE);
const _: () = assert!(std::mem::align_of::<libc::pthread_mutex_t>() <= 8);

/// Element description, checked on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElemDesc {
    pub typecode: Option<TypeCode>,
    pub size: usize,
    pub align: usize,
    pub type_hash: u64,
    pub type_name: &'static str,
}

impl ElemDesc {
    pub(crate) fn of<T: crate::Element>() -> ElemDesc {
        let full = std::any::type_name::<T>();
        let short = full.rsplit("::").next().unwrap_or(full);
        ElemDesc {
            typecode: T::TYPECODE,
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
            type_hash: if T::TYPECODE.is_some() {
                0
            } else {
                fnv1a(short.as_bytes())
            },
            type_name: short,
        }
    }

    pub(crate) fn of_code(code: TypeCode) -> ElemDesc {
        ElemDesc {
            typecode: Some(code),
            size: code.size(),
            align: code.align(),
            type_hash: 0,
            type_name: code.rust_type(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self.typecode {
            Some(t) => format!("'{}'", t.as_char()),
            None => format!(
                "struct {} ({} bytes, align {})",
                self.type_name, self.size, self.align
            ),
        }
    }

    /// Same element layout (`'l'` opens as `'q'`).
    pub(crate) fn compatible(&self, other: &ElemDesc) -> bool {
        match (self.typecode, other.typecode) {
            (Some(a), Some(b)) => {
                a.same_layout(b) && self.size == other.size && self.align == other.align
            }
            (None, None) => {
                self.size == other.size
                    && self.align == other.align
                    && self.type_hash == other.type_hash
            }
            _ => false,
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Offset of the data for an element of alignment `align` (layout version 2).
pub(crate) fn data_offset(align: usize) -> usize {
    data_offset_v(VERSION, align)
}

fn data_offset_v(version: u32, align: usize) -> usize {
    let header = if version == 1 {
        HEADER_V1_SIZE
    } else {
        HEADER_SIZE
    };
    header.max(align.next_power_of_two())
}

/// Who created a segment, as its header records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Origin {
    /// Layout version of the header.
    pub version: u32,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat` at creation; 0 = unknown (version 1).
    pub start_ticks: u64,
}

/// What a segment holds, as read from its header (or asked for when building one).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub kind: SegKind,
    pub elem: Option<ElemDesc>,
    pub len: usize,
    pub lock: LockKind,
    /// An array's dimensions (C order, product = `len`); `None` = one dimension of `len` when
    /// building an array, no dimensions for other kinds. Read back as `Some` for every array.
    pub shape: Option<Vec<usize>>,
    /// Filled in by [`read`]; ignored by [`write`] (which records the calling process).
    pub origin: Origin,
}

impl Layout {
    /// A layout of `kind` with no shape (1-D for arrays) and no origin yet.
    pub(crate) fn new(kind: SegKind, elem: Option<ElemDesc>, len: usize, lock: LockKind) -> Self {
        Layout {
            kind,
            elem,
            len,
            lock,
            shape: None,
            origin: Origin::default(),
        }
    }

    /// Where the data starts in a segment of this layout (by its layout version).
    pub(crate) fn data_offset(&self) -> usize {
        let align = self.elem.map(|e| e.align).unwrap_or(1);
        // Version 0: a layout being built (not read back), so this build's version.
        let version = if self.origin.version == 0 {
            VERSION
        } else {
            self.origin.version
        };
        data_offset_v(version, align)
    }

    /// The dimensions recorded for this layout: the shape, `[len]` for a 1-D array, `[]` else.
    pub(crate) fn dims(&self) -> Vec<usize> {
        match (&self.shape, self.kind) {
            (Some(s), _) => s.clone(),
            (None, SegKind::Array) => vec![self.len],
            (None, _) => Vec::new(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        let lock = match self.lock {
            LockKind::None => "",
            LockKind::Lock => " with Lock",
            LockKind::RLock => " with RLock",
        };
        match (self.kind, &self.elem) {
            (SegKind::Value, Some(e)) => format!("Value<{}>{lock}", e.describe()),
            (SegKind::Array, Some(e)) => match &self.shape {
                Some(s) if s.len() > 1 => format!(
                    "Array<{}> of shape {s:?} ({} elements){lock}",
                    e.describe(),
                    self.len
                ),
                _ => format!("Array<{}> of {} elements{lock}", e.describe(), self.len),
            },
            (k, _) => k.name().to_string(),
        }
    }
}

/// The start time of the calling process: field 22 of `/proc/self/stat` (clock ticks after
/// boot), cached per pid (a `fork` child looks its own up); 0 if unreadable.
///
/// Atomics, not a mutex: a `fork` child of a multi-threaded process must never find the cache
/// locked by a thread that does not exist in the child.
pub(crate) fn self_start_ticks() -> u64 {
    use std::sync::atomic::AtomicU64;
    static PID: AtomicU32 = AtomicU32::new(0);
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    if PID.load(Ordering::Acquire) == pid {
        return TICKS.load(Ordering::Relaxed);
    }
    // Threads racing here compute the same value for the same pid.
    let t = start_ticks_of("self").unwrap_or(0);
    TICKS.store(t, Ordering::Relaxed);
    PID.store(pid, Ordering::Release);
    t
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat`, `None` if the process does not exist.
pub(crate) fn start_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3 (state); field 22 is the 20th of them.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Write a header into fresh zeroed memory, leaving `state` at 0 (the caller publishes it with
/// [`publish`] once the lock and data are initialised).
///
/// # Safety
/// `h` points to `HEADER_SIZE` writable bytes of a mapping that no other process reads before
/// [`publish`] is called.
pub(crate) unsafe fn write(h: *mut Header, layout: &Layout) {
    let (tc, size, align, hash) = match &layout.elem {
        Some(e) => (
            e.typecode.map(|t| t.as_char() as u32).unwrap_or(0),
            e.size as u32,
            e.align as u32,
            e.type_hash,
        ),
        None => (0, 0, 1, 0),
    };
    let dims = layout.dims();
    let mut shape = [0u64; MAX_NDIM];
    for (d, s) in shape.iter_mut().zip(&dims) {
        *d = *s as u64;
    }
    // SAFETY: the caller guarantees exclusive access to HEADER_SIZE writable bytes at `h`;
    // addr_of_mut! never creates a reference.
    unsafe {
        addr_of_mut!((*h).magic).write(MAGIC);
        addr_of_mut!((*h).version).write(VERSION);
        addr_of_mut!((*h).kind).write(layout.kind as u32);
        addr_of_mut!((*h).typecode).write(tc);
        addr_of_mut!((*h).elem_size).write(size);
        addr_of_mut!((*h).elem_align).write(align);
        addr_of_mut!((*h).len).write(layout.len as u64);
        addr_of_mut!((*h).data_offset).write(data_offset(align as usize) as u64);
        addr_of_mut!((*h).lock_kind).write(layout.lock as u32);
        addr_of_mut!((*h).creator_pid).write(std::process::id());
        addr_of_mut!((*h).type_hash).write(hash);
        addr_of_mut!((*h).creator_start).write(self_start_ticks());
        addr_of_mut!((*h).ndim).write(dims.len().min(MAX_NDIM) as u32);
        addr_of_mut!((*h).shape).write(shape);
    }
}

/// Mark the header ready (release), after everything else in the segment is initialised.
///
/// # Safety
/// `h` points to a header written by [`write`] in a live mapping.
pub(crate) unsafe fn publish(h: *const Header) {
    // SAFETY: `state` is a naturally aligned u32 inside the live mapping; all accesses to it
    // from any process are atomic.
    unsafe { AtomicU32::from_ptr(addr_of_mut!((*h.cast_mut()).state).cast()) }
        .store(STATE_READY, Ordering::Release);
}

/// Is the header published? (acquire)
///
/// # Safety
/// `h` points to at least `HEADER_V1_SIZE` mapped bytes.
pub(crate) unsafe fn is_ready(h: *const Header) -> bool {
    // SAFETY: as in `publish`.
    unsafe { AtomicU32::from_ptr(addr_of_mut!((*h.cast_mut()).state).cast()) }
        .load(Ordering::Acquire)
        == STATE_READY
}

/// The owner TID recorded in the header's lock word (`__lock` of glibc's mutex: the owner's
/// TID in the low 30 bits), 0 when free.
///
/// # Safety
/// `h` points to at least `HEADER_V1_SIZE` mapped bytes of a published header with a lock.
pub(crate) unsafe fn lock_owner_tid(h: *const Header) -> u32 {
    // SAFETY: the lock word is the first u32 of the mutex at LOCK_OFFSET (8-aligned), in the
    // mapping; every process accesses it atomically.
    let word = unsafe { AtomicU32::from_ptr(addr_of_mut!((*h.cast_mut()).lock).cast()) }
        .load(Ordering::Relaxed);
    word & 0x3fff_ffff
}

/// Read and check a published header of version 1 or 2.
///
/// # Safety
/// `h` points to `map_len` mapped bytes (at least `HEADER_V1_SIZE`) and [`is_ready`] returned
/// true (so every field was written before and is never written again).
pub(crate) unsafe fn read(h: *const Header, map_len: usize) -> std::result::Result<Layout, String> {
    // SAFETY: fields are plain integers written before the release store that `is_ready`
    // acquired; nobody writes them afterwards. Only the version-1 part is read here.
    let (magic, version, kind, tc, size, align, len, off, lock) = unsafe {
        (
            (*h).magic,
            (*h).version,
            (*h).kind,
            (*h).typecode,
            (*h).elem_size,
            (*h).elem_align,
            (*h).len,
            (*h).data_offset,
            (*h).lock_kind,
        )
    };
    // SAFETY: as above.
    let (hash, pid) = unsafe { ((*h).type_hash, (*h).creator_pid) };
    if magic != MAGIC {
        return Err(format!("bad magic {magic:02x?}, expected {MAGIC:02x?}"));
    }
    if version != 1 && version != VERSION {
        return Err(format!(
            "layout version {version}, this build reads versions 1 and {VERSION}"
        ));
    }
    if version >= 2 && map_len < HEADER_SIZE {
        return Err(format!(
            "a version-{version} header needs {HEADER_SIZE} bytes, the segment has {map_len}"
        ));
    }
    let kind = SegKind::from_u32(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
    let lock = match lock {
        0 => LockKind::None,
        1 => LockKind::Lock,
        2 => LockKind::RLock,
        k => return Err(format!("unknown lock kind {k}")),
    };
    let elem = if size == 0 && !kind.needs_elem() {
        None
    } else {
        let typecode = if tc == 0 {
            None
        } else {
            let c = char::from_u32(tc).ok_or_else(|| format!("bad typecode {tc}"))?;
            Some(TypeCode::try_from(c).map_err(|e| e.to_string())?)
        };
        if !align.is_power_of_two() || size == 0 {
            return Err(format!("bad element size {size} / alignment {align}"));
        }
        if let Some(t) = typecode {
            if size as usize != t.size() || align as usize != t.align() {
                return Err(format!(
                    "typecode '{}' recorded with element size {size} / alignment {align}, expected {} / {}",
                    t.as_char(),
                    t.size(),
                    t.align()
                ));
            }
        }
        Some(ElemDesc {
            typecode,
            size: size as usize,
            align: align as usize,
            type_hash: hash,
            type_name: typecode.map(|t| t.rust_type()).unwrap_or("?"),
        })
    };
    let data_len = elem
        .map(|e| e.size as u64)
        .unwrap_or(0)
        .checked_mul(len)
        .ok_or("length overflows")?;
    let expected_off = data_offset_v(version, align.max(1) as usize) as u64;
    if off != expected_off {
        return Err(format!("data offset {off}, expected {expected_off}"));
    }
    if off
        .checked_add(data_len)
        .is_none_or(|end| end > map_len as u64)
    {
        return Err(format!(
            "{len} elements of {size} bytes do not fit a {map_len}-byte segment"
        ));
    }
    let (shape, start_ticks) = if version == 1 {
        ((kind == SegKind::Array).then(|| vec![len as usize]), 0)
    } else {
        // SAFETY: as above; version 2 guarantees HEADER_SIZE bytes (checked against map_len).
        let (ndim, raw, start) = unsafe { ((*h).ndim, (*h).shape, (*h).creator_start) };
        let ndim = ndim as usize;
        if ndim > MAX_NDIM {
            return Err(format!("ndim {ndim}, at most {MAX_NDIM}"));
        }
        let dims: Vec<usize> = raw[..ndim].iter().map(|d| *d as usize).collect();
        let shape = match kind {
            SegKind::Array => {
                if ndim == 0 {
                    return Err("an array with ndim 0".into());
                }
                let product = dims.iter().try_fold(1u64, |p, d| p.checked_mul(*d as u64));
                if product != Some(len) {
                    return Err(format!(
                        "shape {dims:?} does not multiply to the length {len}"
                    ));
                }
                Some(dims)
            }
            _ if ndim == 0 => None,
            _ => return Err(format!("a {} with ndim {ndim}", kind.name())),
        };
        (shape, start)
    };
    Ok(Layout {
        kind,
        elem,
        len: len as usize,
        lock,
        shape,
        origin: Origin {
            version,
            pid,
            start_ticks,
        },
    })
}

/// Parse the first bytes of a segment file (`bytes`, up to [`HEADER_SIZE`] of them) whose
/// total size is `file_len`: `Ok(None)` while the header is not published yet.
pub(crate) fn parse_bytes(
    bytes: &[u8],
    file_len: usize,
) -> std::result::Result<Option<Layout>, String> {
    if bytes.len() < HEADER_V1_SIZE {
        return Err(format!(
            "{} bytes, a header needs at least {HEADER_V1_SIZE}",
            bytes.len()
        ));
    }
    // An aligned, zeroed private copy: the parse below never touches shared memory.
    let mut buf = [0u64; HEADER_SIZE / 8];
    let n = bytes.len().min(HEADER_SIZE);
    bytemuck::cast_slice_mut::<u64, u8>(&mut buf)[..n].copy_from_slice(&bytes[..n]);
    let h = buf.as_ptr().cast::<Header>();
    // SAFETY: `buf` is HEADER_SIZE private bytes, aligned for Header (u64), alive for the
    // calls; nobody else writes it.
    if !unsafe { is_ready(h) } {
        return Ok(None);
    }
    // SAFETY: as above. `read` checks the recorded sizes against `file_len`; the version-2
    // fields it reads lie inside `buf` even when the file is shorter (they are then zero).
    unsafe { read(h, file_len) }.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read() {
        let t = self_start_ticks();
        assert!(t > 0);
        assert_eq!(start_ticks_of(&std::process::id().to_string()), Some(t));
        assert_eq!(start_ticks_of("999999999"), None);
    }
}
