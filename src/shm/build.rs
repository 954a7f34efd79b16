//! Building a typed segment (header, optional lock, data) and attaching to one by name.
//!
//! The lock in the header is initialised through [`HeaderLock`], which the lock layer
//! implements, so this bottom layer never names the lock type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::header::{self, ElemDesc, Layout, LockKind, SegKind, HEADER_SIZE, LOCK_OFFSET};
use super::segment::Segment;
use crate::{Error, Result};

/// A lock that lives at [`LOCK_OFFSET`] in a segment header (implemented by the lock layer).
pub(crate) trait HeaderLock: Sized {
    /// Initialise the lock in place.
    ///
    /// # Safety
    /// `ptr` is aligned for `pthread_mutex_t`, points to `LOCK_SIZE` writable bytes inside
    /// `seg`, and no other thread or process uses that memory until the header is published.
    unsafe fn init_in(
        seg: &Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Result<Self>;

    /// Attach to a lock another process initialised.
    ///
    /// # Safety
    /// `ptr` points to a lock initialised by [`HeaderLock::init_in`] inside `seg`, and the
    /// header was published after that initialisation.
    unsafe fn attach_in(
        seg: &Arc<Segment>,
        ptr: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Self;
}

/// How long `open` waits for a creator to finish building a named segment.
/// ```
/// assert_eq!(mpshare::shm::OPEN_WAIT.as_secs(), 2);
/// ```
pub const OPEN_WAIT: Duration = Duration::from_secs(2);

/// A built or attached segment: mapping, optional header lock, and the data pointer.
pub(crate) struct Built<L> {
    pub seg: Arc<Segment>,
    pub lock: Option<L>,
    pub data: *mut u8,
    pub layout: Layout,
}

fn data_bytes(layout: &Layout) -> Result<usize> {
    // Coordination primitives keep `len` bytes of untyped state.
    let untyped = if layout.kind.is_primitive() { 1 } else { 0 };
    let size = layout.elem.map(|e| e.size).unwrap_or(untyped);
    size.checked_mul(layout.len).ok_or(Error::LengthMismatch {
        expected: isize::MAX as usize / size.max(1),
        found: layout.len,
    })
}

/// Build a segment for `layout` (named if `name` is given), initialise its lock, let `fill`
/// write the data (zeroed memory of the right size), then publish the header.
pub(crate) fn build<L: HeaderLock>(
    name: Option<&str>,
    layout: Layout,
    fill: impl FnOnce(*mut u8, usize),
) -> Result<Built<L>> {
    let align = layout.elem.map(|e| e.align).unwrap_or(1);
    let off = header::data_offset(align);
    let bytes = data_bytes(&layout)?;
    let total = off
        .checked_add(bytes)
        .filter(|t| *t <= isize::MAX as usize)
        .ok_or(Error::LengthMismatch {
            expected: (isize::MAX as usize - off) / layout.elem.map(|e| e.size).unwrap_or(1).max(1),
            found: layout.len,
        })?;
    let seg = Arc::new(match name {
        Some(n) => Segment::create_named(n, total)?,
        None => Segment::anonymous(total)?,
    });
    let base = seg.base().as_ptr();
    let h = base.cast::<header::Header>();
    // SAFETY: the segment is fresh, zeroed, at least HEADER_SIZE bytes (off >= HEADER_SIZE), page
    // aligned, and unpublished, so no other process reads it yet.
    unsafe { header::write(h, &layout) };
    let lock = match layout.lock {
        LockKind::None => None,
        kind => {
            // SAFETY: LOCK_OFFSET..LOCK_OFFSET+LOCK_SIZE lies in the header, 8-aligned, unpublished.
            let p = unsafe { base.add(LOCK_OFFSET) }.cast::<libc::pthread_mutex_t>();
            // SAFETY: as above: exclusive, aligned, large enough (checked at compile time).
            Some(unsafe { L::init_in(&seg, p, kind == LockKind::RLock) }?)
        }
    };
    // SAFETY: off + bytes <= total = mapping length.
    let data = unsafe { base.add(off) };
    fill(data, bytes);
    // SAFETY: header written above, in the live mapping.
    unsafe { header::publish(h) };
    Ok(Built {
        seg,
        lock,
        data,
        layout,
    })
}

/// What an opener asks for.
pub(crate) struct Expect {
    pub kind: SegKind,
    pub elem: Option<ElemDesc>,
    /// Required length, if the caller named one.
    pub len: Option<usize>,
    /// Required lock, or `None` to accept any (raw access).
    pub lock: Option<LockKind>,
}

impl Expect {
    fn describe(&self) -> String {
        Layout {
            kind: self.kind,
            elem: self.elem,
            len: self.len.unwrap_or(0),
            lock: self.lock.unwrap_or(LockKind::None),
        }
        .describe()
        .replace(" of 0 elements", "")
    }
}

/// Open the named segment `name` and check that it holds what `expect` says.
pub(crate) fn attach<L: HeaderLock>(name: &str, expect: &Expect) -> Result<Built<L>> {
    let seg = Segment::open_named(name, HEADER_SIZE, OPEN_WAIT)?;
    let os = seg.name().unwrap_or(name).to_string();
    let base = seg.base().as_ptr();
    let h = base.cast::<header::Header>();
    let start = Instant::now();
    // SAFETY: the mapping is at least HEADER_SIZE bytes (open_named waited for that).
    while !unsafe { header::is_ready(h) } {
        if start.elapsed() >= OPEN_WAIT {
            // SAFETY: as above; a non-mpshare file never becomes ready, so look at its magic.
            let magic = unsafe { std::ptr::read_volatile(base.cast::<[u8; 8]>()) };
            if magic != [0; 8] && magic != header::MAGIC {
                return Err(Error::BadSegment {
                    name: os,
                    reason: format!("bad magic {magic:02x?}, expected {:02x?}", header::MAGIC),
                });
            }
            return Err(Error::NotInitialized {
                name: os,
                waited: OPEN_WAIT,
            });
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: published header in a mapping of seg.len() bytes.
    let layout = unsafe { header::read(h, seg.len()) }.map_err(|reason| Error::BadSegment {
        name: os.clone(),
        reason,
    })?;
    let mismatch = |layout: &Layout| Error::LayoutMismatch {
        name: os.clone(),
        holds: layout.describe(),
        asked: expect.describe(),
    };
    let kind_ok = layout.kind == expect.kind;
    let elem_ok = match (&layout.elem, &expect.elem) {
        (Some(a), Some(b)) => a.compatible(b),
        (None, None) => true,
        _ => false,
    };
    let len_ok = expect.len.is_none_or(|l| l == layout.len);
    let lock_ok = expect.lock.is_none_or(|l| l == layout.lock);
    if !(kind_ok && elem_ok && len_ok && lock_ok) {
        let mut shown = layout.clone();
        if let (Some(e), Some(x)) = (shown.elem.as_mut(), expect.elem.as_ref()) {
            if x.typecode.is_none() && e.typecode.is_none() {
                e.type_name = "?";
            }
        }
        return Err(mismatch(&shown));
    }
    let seg = Arc::new(seg);
    let lock = match layout.lock {
        LockKind::None => None,
        kind => {
            // SAFETY: the header is published, so the creator initialised the mutex at LOCK_OFFSET.
            let p = unsafe { base.add(LOCK_OFFSET) }.cast::<libc::pthread_mutex_t>();
            // SAFETY: as above.
            Some(unsafe { L::attach_in(&seg, p, kind == LockKind::RLock) })
        }
    };
    let align = layout.elem.map(|e| e.align).unwrap_or(1);
    // SAFETY: header::read checked that data_offset + len * size fits the mapping.
    let data = unsafe { base.add(header::data_offset(align)) };
    Ok(Built {
        seg,
        lock,
        data,
        layout,
    })
}
