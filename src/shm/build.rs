//! Building a typed segment (header, optional lock, data) and attaching to one by name.
//!
//! The lock in the header is initialised through [`HeaderLock`], which the lock layer
//! implements, so this bottom layer never names the lock type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::header::{
    self, ElemDesc, Layout, LockKind, SegKind, HEADER_V1_SIZE, LOCK_OFFSET, MAX_NDIM,
};
use super::segment::Segment;
use crate::{Error, Result};

/// How a named segment is created: one set of defaults for every type.
///
/// ```
/// use mpshare::shm::Options;
/// assert_eq!(Options::default().mode, 0o600);
/// let group = Options::default().mode(0o660);
/// assert_eq!(group.mode, 0o660);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Permission bits of a new named segment, applied exactly (not masked by the umask).
    /// `0o600` by default: only the creating user. `0o660` lets the group read and write
    /// (opening needs write access: the lock lives in the segment); `0o640` lets the group
    /// see it in `/dev/shm` but not open it.
    pub mode: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { mode: 0o600 }
    }
}

impl Options {
    /// These options with permission bits `mode` (only the `0o777` bits are kept).
    ///
    /// ```
    /// assert_eq!(mpshare::shm::Options::default().mode(0o1640).mode, 0o640);
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }
}

/// Where a segment comes from.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// An anonymous `memfd`, inherited by `fork` children.
    Anonymous,
    /// Create `name`; fail if it exists.
    Create(&'a str, &'a Options),
    /// Create `name`, or open it if it exists (and check it holds the same layout).
    OpenOrCreate(&'a str, &'a Options),
}

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

/// Total segment size for `layout`, or [`Error::TooLarge`].
fn total_size(layout: &Layout) -> Result<usize> {
    let size = layout.elem.map(|e| e.size).unwrap_or(0);
    let align = layout.elem.map(|e| e.align).unwrap_or(1);
    let off = header::data_offset(align);
    let max = (isize::MAX as usize - off) / size.max(1);
    if layout.len > max {
        return Err(Error::TooLarge {
            len: layout.len,
            elem_size: size,
            max,
        });
    }
    Ok(off + size * layout.len)
}

/// Check an N-D shape against the length.
fn check_shape(layout: &Layout) -> Result<()> {
    let Some(shape) = &layout.shape else {
        return Ok(());
    };
    let bad = |reason| {
        Err(Error::InvalidShape {
            shape: shape.clone(),
            reason,
        })
    };
    if layout.kind != SegKind::Array {
        return bad("only arrays have a shape");
    }
    if shape.is_empty() || shape.len() > MAX_NDIM {
        return bad("an array has 1 to 8 dimensions");
    }
    let product = shape.iter().try_fold(1usize, |p, d| p.checked_mul(*d));
    if product != Some(layout.len) {
        return bad("the dimensions do not multiply to the length");
    }
    Ok(())
}

/// Build a segment for `layout` where `target` says (for [`Target::OpenOrCreate`], attach
/// instead when the name exists, checking the layout against `expect`), initialise its lock,
/// let `fill` write the data (zeroed memory of the right size), then publish the header.
///
/// Returns the segment and whether this call created it. Race-free: `O_CREAT|O_EXCL` picks
/// exactly one creator; everyone else waits (bounded) for the header it publishes last.
pub(crate) fn build_or_attach<L: HeaderLock>(
    target: Target<'_>,
    layout: Layout,
    expect: &Expect,
    fill: impl FnOnce(*mut u8, usize),
) -> Result<(Built<L>, bool)> {
    let Target::OpenOrCreate(name, opts) = target else {
        return Ok((build(target, layout, fill)?, true));
    };
    check_shape(&layout)?;
    let total = total_size(&layout)?;
    // Bounded: each round creates, attaches, or saw the name vanish in between.
    let mut last = None;
    for _ in 0..16 {
        match Segment::create_named(name, total, opts.mode) {
            Ok(seg) => return Ok((init(seg, layout, fill)?, true)),
            Err(Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        match attach(name, expect) {
            Err(e @ Error::NotFound { .. }) => last = Some(e),
            r => return r.map(|b| (b, false)),
        }
    }
    Err(last.unwrap_or(Error::NotFound {
        name: name.to_string(),
    }))
}

/// Build a segment for `layout` where `target` says, initialise its lock, let `fill` write
/// the data (zeroed memory of the right size), then publish the header.
pub(crate) fn build<L: HeaderLock>(
    target: Target<'_>,
    layout: Layout,
    fill: impl FnOnce(*mut u8, usize),
) -> Result<Built<L>> {
    check_shape(&layout)?;
    let total = total_size(&layout)?;
    let seg = match target {
        Target::Anonymous => Segment::anonymous(total)?,
        Target::Create(n, o) | Target::OpenOrCreate(n, o) => {
            Segment::create_named(n, total, o.mode)?
        }
    };
    init(seg, layout, fill)
}

/// Write the header, initialise the lock, fill the data and publish a fresh segment.
fn init<L: HeaderLock>(
    mut seg: Segment,
    layout: Layout,
    fill: impl FnOnce(*mut u8, usize),
) -> Result<Built<L>> {
    let align = layout.elem.map(|e| e.align).unwrap_or(1);
    let off = header::data_offset(align);
    let bytes = total_size(&layout)? - off;
    if layout.lock != LockKind::None {
        seg.set_header_lock();
    }
    let seg = Arc::new(seg);
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
        let mut d = Layout::new(
            self.kind,
            self.elem,
            self.len.unwrap_or(0),
            self.lock.unwrap_or(LockKind::None),
        )
        .describe()
        .replace(" of 0 elements", "");
        if self.kind.needs_elem() && self.elem.is_none() {
            d = format!("{} of any typecode", self.kind.name());
        }
        d
    }
}

/// Open the named segment `name` and check that it holds what `expect` says.
pub(crate) fn attach<L: HeaderLock>(name: &str, expect: &Expect) -> Result<Built<L>> {
    let mut seg = Segment::open_named(name, HEADER_V1_SIZE, OPEN_WAIT)?;
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
        // "Any typecode" (the dynamic API): a primitive element, not a struct.
        (Some(a), None) => expect.kind.needs_elem() && a.typecode.is_some(),
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
    if layout.lock != LockKind::None {
        seg.set_header_lock();
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
    // SAFETY: header::read checked that the recorded data offset + len * size fits the
    // mapping (and the offset is the one its layout version implies).
    let data = unsafe { base.add(layout.data_offset()) };
    Ok(Built {
        seg,
        lock,
        data,
        layout,
    })
}
