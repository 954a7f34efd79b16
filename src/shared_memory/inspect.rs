//! What a named segment holds, for `mpshare inspect NAME`.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Item, ShareableList, SharedMemory};
use crate::Result;

/// How many elements or items a preview shows.
const PREVIEW: usize = 8;

/// What [`inspect`] found in a segment.
///
/// ```
/// use mpshare::shared_memory::{inspect, Kind, SharedMemory};
/// let raw = SharedMemory::new(10)?;
/// raw.write(0, b"\x01\x02")?;
/// match inspect(raw.name().unwrap())?.kind {
///     Kind::Raw { head } => assert_eq!(&head[..3], [1, 2, 0]),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// A segment with the mpshare header (a Value, Array, lock, ...).
    Mpshare {
        /// Header layout version (1 or 2).
        version: u32,
        /// Whether the creator finished building it.
        ready: bool,
        /// What it holds, e.g. `Array<'d'>` or `Lock`.
        kind: String,
        /// Typecode character, if the elements are a ctypes typecode.
        typecode: Option<char>,
        /// Element size in bytes (0 for locks).
        elem_size: u32,
        /// Number of elements.
        len: u64,
        /// Shape (v2; `[len]` for a v1 array, empty for a Value).
        shape: Vec<u64>,
        /// Byte offset of the data.
        data_offset: u64,
        /// `none`, `Lock` or `RLock`.
        lock: &'static str,
        /// The lock word: `None` if free, else the owner's thread id (and whether the owner
        /// died holding it).
        lock_owner: Option<(u32, bool)>,
        /// Pid of the creator.
        creator_pid: u32,
        /// The first elements, rendered.
        preview: Vec<String>,
    },
    /// A CPython `ShareableList`.
    ShareableList {
        /// Number of items.
        len: usize,
        /// Its `struct` format (Python's `l.format`).
        format: String,
        /// The first items.
        items: Vec<Item>,
    },
    /// Any other block: only its size and first bytes mean anything.
    Raw {
        /// The first bytes.
        head: Vec<u8>,
    },
}

/// The report of [`inspect`]; `Display` prints it for people.
///
/// ```
/// let l = mpshare::ShareableList::new(&[true.into()])?;
/// let r = mpshare::shared_memory::inspect(l.name().unwrap())?;
/// assert_eq!((r.name.as_str(), r.size), (l.name().unwrap(), l.shm().size()));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The segment name without the leading `/`.
    pub name: String,
    /// Size in bytes.
    pub size: usize,
    /// What it holds.
    pub kind: Kind,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4])))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map_or(0, |s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8])))
}

fn render(code: Option<char>, b: &[u8]) -> String {
    macro_rules! num {
        ($t:ty) => {
            <$t>::from_ne_bytes(b.try_into().unwrap_or([0; std::mem::size_of::<$t>()])).to_string()
        };
    }
    match (code, b.len()) {
        (Some('c'), 1) => Item::Bytes(b.to_vec()).to_string(),
        (Some('b'), 1) => num!(i8),
        (Some('B'), 1) => num!(u8),
        (Some('u'), 4) => char::from_u32(u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
            .map_or_else(|| "'\u{fffd}'".to_string(), |c| format!("{c:?}")),
        (Some('h'), 2) => num!(i16),
        (Some('H'), 2) => num!(u16),
        (Some('i'), 4) => num!(i32),
        (Some('I'), 4) => num!(u32),
        (Some('l' | 'q'), 8) => num!(i64),
        (Some('L' | 'Q'), 8) => num!(u64),
        (Some('f'), 4) => format!("{:?}", f32::from_ne_bytes(b.try_into().unwrap_or([0; 4]))),
        (Some('d'), 8) => format!("{:?}", f64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))),
        _ => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn mpshare_kind(shm: &SharedMemory, head: &[u8]) -> Kind {
    let version = u32_at(head, 8);
    let ready = u32_at(head, 12) == 1;
    let kind_code = u32_at(head, 16);
    let tc = u32_at(head, 20);
    let typecode = char::from_u32(tc).filter(|_| tc != 0);
    let elem_size = u32_at(head, 24);
    let len = u64_at(head, 32);
    let data_offset = u64_at(head, 40);
    let lock = match u32_at(head, 48) {
        0 => "none",
        1 => "Lock",
        2 => "RLock",
        _ => "unknown",
    };
    let creator_pid = u32_at(head, 52);
    let kind_name = match kind_code {
        1 => "Value",
        2 => "Array",
        3 => "Lock",
        4 => "RLock",
        5 => "Semaphore",
        6 => "BoundedSemaphore",
        7 => "Event",
        8 => "Condition",
        9 => "Barrier",
        10 => "Queue",
        11 => "JoinableQueue",
        12 => "SimpleQueue",
        _ => "unknown kind",
    };
    let kind = match (kind_code, typecode) {
        (1 | 2, Some(c)) => format!("{kind_name}<'{c}'>"),
        (1 | 2, None) => format!("{kind_name}<struct of {elem_size} bytes>"),
        _ => kind_name.to_string(),
    };
    let shape = if version >= 2 {
        let ndim = (u32_at(head, 136) as usize).min(8);
        (0..ndim).map(|d| u64_at(head, 144 + 8 * d)).collect()
    } else if kind_code == 2 {
        vec![len]
    } else {
        Vec::new()
    };
    // glibc's robust mutex keeps the owner's tid in its first word, bit 30 = owner died.
    let lock_owner = match shm.atomic::<AtomicU32>(crate::shm::LOCK_OFFSET) {
        Ok(w) if lock != "none" => {
            let v = w.load(Ordering::Relaxed);
            let tid = v & 0x3fff_ffff;
            (tid != 0 || v & 0x4000_0000 != 0).then_some((tid, v & 0x4000_0000 != 0))
        }
        _ => None,
    };
    let mut preview = Vec::new();
    if ready && (kind_code == 1 || kind_code == 2) && elem_size > 0 {
        for i in 0..len.min(PREVIEW as u64) {
            let at = i
                .checked_mul(u64::from(elem_size))
                .and_then(|o| o.checked_add(data_offset));
            match at
                .and_then(|at| usize::try_from(at).ok())
                .and_then(|at| shm.read_vec(at, elem_size as usize).ok())
            {
                Some(b) => preview.push(render(typecode, &b)),
                None => break,
            }
        }
    }
    Kind::Mpshare {
        version,
        ready,
        kind,
        typecode,
        elem_size,
        len,
        shape,
        data_offset,
        lock,
        lock_owner,
        creator_pid,
        preview,
    }
}

/// Open the segment `name` read-only in spirit (nothing is written) and report what it holds:
/// an mpshare header and a preview of its data, a Python `ShareableList` and its first items,
/// or a raw block's size.
///
/// ```
/// use mpshare::shared_memory::{inspect, Kind, ShareableList};
/// let l = ShareableList::new(&[1.into(), "two".into()])?;
/// let report = inspect(l.name().unwrap())?;
/// assert!(matches!(report.kind, Kind::ShareableList { len: 2, .. }));
/// assert!(report.to_string().contains("'two'"));
///
/// let name = format!("mpshare-doc-inspect-{}", std::process::id());
/// let a = mpshare::Array::create_from(&name, &[1.5f64, 2.5])?;
/// let text = inspect(&name)?.to_string();
/// assert!(text.contains("Array<'d'>") && text.contains("1.5, 2.5"), "{text}");
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn inspect(name: &str) -> Result<Inspection> {
    let shm = SharedMemory::open(name)?;
    let size = shm.size();
    let head = shm.read_vec(0, size.min(256))?;
    let kind = if head.starts_with(&crate::shm::MAGIC) {
        mpshare_kind(&shm, &head)
    } else {
        match ShareableList::from_shared_memory(shm) {
            // A zeroed block parses as an empty list: insist on the exact size a list has.
            Ok(l) if l.layout_end() == size => {
                let items: Result<Vec<Item>> =
                    (0..l.len().min(PREVIEW)).map(|i| l.get(i)).collect();
                match (items, l.format()) {
                    (Ok(items), Ok(format)) => Kind::ShareableList {
                        len: l.len(),
                        format,
                        items,
                    },
                    _ => Kind::Raw {
                        head: head[..head.len().min(32)].to_vec(),
                    },
                }
            }
            _ => Kind::Raw {
                head: head[..head.len().min(32)].to_vec(),
            },
        }
    };
    Ok(Inspection {
        name: name.strip_prefix('/').unwrap_or(name).to_string(),
        size,
        kind,
    })
}

impl fmt::Display for Inspection {
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::new(5)?;
    /// let text = mpshare::shared_memory::inspect(shm.name().unwrap())?.to_string();
    /// assert!(text.contains("raw block of 5 bytes"), "{text}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = |shown: usize, total: u64| if (shown as u64) < total { ", ..." } else { "" };
        match &self.kind {
            Kind::Mpshare {
                version,
                ready,
                kind,
                len,
                shape,
                data_offset,
                lock,
                lock_owner,
                creator_pid,
                preview,
                ..
            } => {
                writeln!(
                    f,
                    "{}: mpshare segment, {} bytes, layout v{version}{}",
                    self.name,
                    self.size,
                    if *ready { "" } else { " (not ready)" }
                )?;
                writeln!(f, "  holds: {kind}, {len} element(s), shape {shape:?}")?;
                writeln!(
                    f,
                    "  data at byte {data_offset}; created by pid {creator_pid}"
                )?;
                match (lock, lock_owner) {
                    (&"none", _) => writeln!(f, "  lock: none")?,
                    (l, None) => writeln!(f, "  lock: {l}, free")?,
                    (l, Some((tid, died))) => writeln!(
                        f,
                        "  lock: {l}, held by thread {tid}{}",
                        if *died { " (owner died)" } else { "" }
                    )?,
                }
                write!(
                    f,
                    "  data: [{}{}]",
                    preview.join(", "),
                    more(preview.len(), *len)
                )
            }
            Kind::ShareableList { len, format, items } => {
                writeln!(
                    f,
                    "{}: Python ShareableList, {} bytes, {len} item(s), format {format:?}",
                    self.name, self.size
                )?;
                let shown: Vec<String> = items.iter().map(Item::to_string).collect();
                write!(
                    f,
                    "  items: [{}{}]",
                    shown.join(", "),
                    more(items.len(), *len as u64)
                )
            }
            Kind::Raw { head } => {
                writeln!(f, "{}: raw block of {} bytes", self.name, self.size)?;
                let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
                write!(
                    f,
                    "  first bytes: {}{}",
                    hex.join(" "),
                    if head.len() < self.size { " ..." } else { "" }
                )
            }
        }
    }
}
