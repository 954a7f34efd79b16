//! The `#[repr(C)]` header at the start of every mpshare segment.
//!
//! Layout (version 1, all integers native-endian, offsets in bytes):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `b"MPSHARE\0"` |
//! | 8 | 4 | layout version (`1`) |
//! | 12 | 4 | state: 0 = being built, 1 = ready (written last, with release ordering) |
//! | 16 | 4 | kind: 1 = Value, 2 = Array, 3 = Lock, 4 = RLock |
//! | 20 | 4 | typecode as an ASCII code (`'d'` = 100), 0 for a `Pod` struct |
//! | 24 | 4 | element size |
//! | 28 | 4 | element alignment |
//! | 32 | 8 | length in elements |
//! | 40 | 8 | data offset from the start of the segment (128, or the alignment if larger) |
//! | 48 | 4 | lock: 0 = none, 1 = Lock, 2 = RLock |
//! | 52 | 4 | creator pid |
//! | 56 | 8 | FNV-1a hash of a struct element's type name (0 for typecodes) |
//! | 64 | 64 | the lock (a glibc process-shared robust `pthread_mutex_t`, 40 bytes on x86-64) |
//! | 128 | … | data |

use std::ptr::addr_of_mut;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::typecode::TypeCode;

/// Magic bytes at offset 0.
/// ```
/// assert_eq!(&mpshare::shm::MAGIC, b"MPSHARE\0");
/// ```
pub const MAGIC: [u8; 8] = *b"MPSHARE\0";
/// Layout version written by this build.
/// ```
/// assert_eq!(mpshare::shm::VERSION, 1);
/// ```
pub const VERSION: u32 = 1;
/// Size of the header; data starts at this offset unless the element needs more alignment.
/// ```
/// assert_eq!(mpshare::shm::HEADER_SIZE, 128);
/// ```
pub const HEADER_SIZE: usize = 128;
/// Offset of the lock inside the header.
/// ```
/// assert_eq!(mpshare::shm::LOCK_OFFSET, 64);
/// ```
pub const LOCK_OFFSET: usize = 64;
/// Bytes reserved for the lock.
/// ```
/// assert_eq!(mpshare::shm::LOCK_OFFSET + mpshare::shm::LOCK_SIZE, mpshare::shm::HEADER_SIZE);
/// ```
pub const LOCK_SIZE: usize = 64;

pub(crate) const STATE_READY: u32 = 1;

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum SegKind {
    Value = 1,
    Array = 2,
    Lock = 3,
    RLock = 4,
    // Coordination primitives (issue 11): their state lives in the data area, `len` bytes of
    // it, with no element type.
    Semaphore = 5,
    BoundedSemaphore = 6,
    Event = 7,
    Condition = 8,
    Barrier = 9,
    Queue = 10,
    JoinableQueue = 11,
    SimpleQueue = 12,
}

impl SegKind {
    /// A coordination primitive: untyped state of `len` bytes in the data area.
    pub(crate) fn is_primitive(self) -> bool {
        self as u32 >= 5
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
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(std::mem::offset_of!(Header, lock) == LOCK_OFFSET);
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

/// Offset of the data for an element of alignment `align`.
pub(crate) fn data_offset(align: usize) -> usize {
    HEADER_SIZE.max(align.next_power_of_two())
}

/// What a segment holds, as read from its header.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub kind: SegKind,
    pub elem: Option<ElemDesc>,
    pub len: usize,
    pub lock: LockKind,
}

impl Layout {
    pub(crate) fn describe(&self) -> String {
        let lock = match self.lock {
            LockKind::None => "",
            LockKind::Lock => " with Lock",
            LockKind::RLock => " with RLock",
        };
        match (self.kind, &self.elem) {
            (SegKind::Value, Some(e)) => format!("Value<{}>{lock}", e.describe()),
            (SegKind::Array, Some(e)) => {
                format!("Array<{}> of {} elements{lock}", e.describe(), self.len)
            }
            (SegKind::Lock, _) => "Lock".to_string(),
            (SegKind::RLock, _) => "RLock".to_string(),
            (k, _) if k.is_primitive() => format!("{k:?}{lock}"),
            (k, _) => format!("{k:?}"),
        }
    }
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
/// `h` points to at least `HEADER_SIZE` mapped bytes.
pub(crate) unsafe fn is_ready(h: *const Header) -> bool {
    // SAFETY: as in `publish`.
    unsafe { AtomicU32::from_ptr(addr_of_mut!((*h.cast_mut()).state).cast()) }
        .load(Ordering::Acquire)
        == STATE_READY
}

/// Read and check a published header.
///
/// # Safety
/// `h` points to `HEADER_SIZE` mapped bytes and [`is_ready`] returned true (so every field was
/// written before and is never written again).
pub(crate) unsafe fn read(h: *const Header, map_len: usize) -> std::result::Result<Layout, String> {
    // SAFETY: fields are plain integers written before the release store that `is_ready`
    // acquired; nobody writes them afterwards.
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
    let hash = unsafe { (*h).type_hash };
    if magic != MAGIC {
        return Err(format!("bad magic {magic:02x?}, expected {MAGIC:02x?}"));
    }
    if version != VERSION {
        return Err(format!(
            "layout version {version}, this build reads version {VERSION}"
        ));
    }
    let kind = match kind {
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
        k => return Err(format!("unknown kind {k}")),
    };
    let lock = match lock {
        0 => LockKind::None,
        1 => LockKind::Lock,
        2 => LockKind::RLock,
        k => return Err(format!("unknown lock kind {k}")),
    };
    let elem = match kind {
        SegKind::Lock | SegKind::RLock => None,
        k if k.is_primitive() => None,
        _ => {
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
        }
    };
    let data_len = elem
        .map(|e| e.size as u64)
        .unwrap_or(if kind.is_primitive() { 1 } else { 0 })
        .checked_mul(len)
        .ok_or("length overflows")?;
    let expected_off = data_offset(align as usize) as u64;
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
    Ok(Layout {
        kind,
        elem,
        len: len as usize,
        lock,
    })
}
