//! CPython's `ShareableList`, byte for byte.
//!
//! The block holds (all integers native-endian `int64`, offsets in bytes):
//!
//! | at | size | what |
//! |---|---|---|
//! | 0 | 8 | N, the number of items |
//! | 8 | 8 (N+1) | allotted offsets of the items from the data start; `offsets[0] = 0` |
//! | 8 (N+2) | `offsets[N]` | data: each item in its allotted bytes (8 for int/float/bool/None; for str/bytes a multiple of 8 larger than the length) |
//! | data + `offsets[N]` | 8 N | each item's `struct` format, NUL-padded to 8 bytes: `q`, `d`, `xxxxxxx?` (bool), `xxxxxx?x` (None), `<n>s` (str/bytes) |
//! | formats + 8 N | N | each item's back-transform code: 0 int/float/bool, 1 str (UTF-8), 2 bytes, 3 None |
//!
//! CPython 3.11, 3.12 and 3.13 share this layout and these rules (their `shared_memory.py`
//! differ only in `SharedMemory`'s `track` flag). Quirks kept on purpose: a `str`/`bytes`
//! item loses its trailing NUL bytes when read; a slot keeps its allotted size forever, so a
//! longer `str` later fails ([`Error::ShareableListItemTooLarge`], Python's `ValueError:
//! bytes/str item exceeds available storage`), while any int/float/bool/None fits anywhere.
//! One deliberate difference: Python allots `8 * (len(s) // 8 + 1)` bytes for a `str` counting
//! *characters*, then silently truncates a UTF-8 encoding that is longer (and later fails to
//! decode it); mpshare allots by the encoded length when that is larger, so the string survives
//! and Python reads it back intact.

use super::SharedMemory;
use crate::{Error, Result};

/// One item of a [`ShareableList`]: the six types Python's `ShareableList` stores.
///
/// ```
/// use mpshare::shared_memory::Item;
/// assert_eq!(Item::from(3), Item::Int(3));
/// assert_eq!(Item::from("hi").to_string(), "'hi'");
/// assert_eq!(Item::from(None::<i64>), Item::None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Python `int` (struct `q`: a signed 64-bit integer).
    Int(i64),
    /// Python `float` (struct `d`).
    Float(f64),
    /// Python `bool`.
    Bool(bool),
    /// Python `str`, stored as UTF-8.
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// Python `None`.
    None,
}

impl std::fmt::Display for Item {
    /// Python's `repr` of the item (close enough for previews: floats print as Rust does).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Int(v) => write!(f, "{v}"),
            Item::Float(v) => write!(f, "{v:?}"),
            Item::Bool(true) => f.write_str("True"),
            Item::Bool(false) => f.write_str("False"),
            Item::Str(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    match c {
                        '\\' => f.write_str("\\\\")?,
                        '\'' => f.write_str("\\'")?,
                        '\n' => f.write_str("\\n")?,
                        '\r' => f.write_str("\\r")?,
                        '\t' => f.write_str("\\t")?,
                        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                            write!(f, "\\x{:02x}", c as u32)?
                        }
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            Item::Bytes(b) => {
                f.write_str("b'")?;
                for &c in b {
                    match c {
                        b'\\' => f.write_str("\\\\")?,
                        b'\'' => f.write_str("\\'")?,
                        b'\n' => f.write_str("\\n")?,
                        b'\r' => f.write_str("\\r")?,
                        b'\t' => f.write_str("\\t")?,
                        0x20..=0x7e => write!(f, "{}", c as char)?,
                        _ => write!(f, "\\x{c:02x}")?,
                    }
                }
                f.write_str("'")
            }
            Item::None => f.write_str("None"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Item {
            fn from(v: $t) -> Item {
                Item::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Item {
    fn from(v: f64) -> Item {
        Item::Float(v)
    }
}
impl From<f32> for Item {
    fn from(v: f32) -> Item {
        Item::Float(f64::from(v))
    }
}
impl From<bool> for Item {
    fn from(v: bool) -> Item {
        Item::Bool(v)
    }
}
impl From<&str> for Item {
    fn from(v: &str) -> Item {
        Item::Str(v.to_string())
    }
}
impl From<String> for Item {
    fn from(v: String) -> Item {
        Item::Str(v)
    }
}
impl From<&[u8]> for Item {
    fn from(v: &[u8]) -> Item {
        Item::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Item {
    fn from(v: Vec<u8>) -> Item {
        Item::Bytes(v)
    }
}
impl<T: Into<Item>> From<Option<T>> for Item {
    fn from(v: Option<T>) -> Item {
        v.map_or(Item::None, Into::into)
    }
}

const ALIGN: usize = 8;
const FMT_INT: [u8; 8] = *b"q\0\0\0\0\0\0\0";
const FMT_FLOAT: [u8; 8] = *b"d\0\0\0\0\0\0\0";
const FMT_BOOL: [u8; 8] = *b"xxxxxxx?";
const FMT_NONE: [u8; 8] = *b"xxxxxx?x";
const CODE_PLAIN: u8 = 0;
const CODE_STR: u8 = 1;
const CODE_BYTES: u8 = 2;
const CODE_NONE: u8 = 3;

/// A parsed format-table entry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fmt {
    Int,
    Float,
    Bool,
    Null,
    Bytes(usize),
}

fn parse_fmt(raw: [u8; 8]) -> Option<Fmt> {
    match raw {
        FMT_INT => return Some(Fmt::Int),
        FMT_FLOAT => return Some(Fmt::Float),
        FMT_BOOL => return Some(Fmt::Bool),
        FMT_NONE => return Some(Fmt::Null),
        _ => {}
    }
    // "<digits>s", NUL-padded: at most 7 digits, so no overflow.
    let mut n = 0usize;
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'0'..=b'9' => n = n * 10 + usize::from(b - b'0'),
            b's' if i > 0 && raw[i + 1..].iter().all(|&z| z == 0) => return Some(Fmt::Bytes(n)),
            _ => return None,
        }
    }
    None
}

fn fmt_text(raw: [u8; 8]) -> String {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

fn str_fmt(n: usize) -> [u8; 8] {
    let mut out = [0u8; 8];
    let text = format!("{n}s");
    out[..text.len()].copy_from_slice(text.as_bytes());
    out
}

/// Bytes CPython allots to a new item (and mpshare's wider slot for a non-ASCII `str` that
/// Python would truncate).
fn allotted(item: &Item) -> usize {
    match item {
        Item::Str(s) => {
            let chars = s.chars().count();
            let py = ALIGN * (chars / ALIGN + 1);
            if s.len() <= py {
                py
            } else {
                ALIGN * (s.len() / ALIGN + 1)
            }
        }
        Item::Bytes(b) => ALIGN * (b.len() / ALIGN + 1),
        _ => ALIGN,
    }
}

/// A fixed-length list of int/float/bool/str/bytes/None in shared memory, in the exact layout
/// of Python's `multiprocessing.shared_memory.ShareableList`.
///
/// Like Python's, it has no lock: each [`get`](Self::get) / [`set`](Self::set) is a few
/// separate copies, so a reader racing a writer of the same item can see a mix. Guard a list
/// that is written while read (an mpshare [`Lock`](crate::Lock) works from both languages).
///
/// ```
/// use mpshare::shared_memory::{Item, ShareableList};
/// let name = format!("mpshare-doc-sl-{}", std::process::id());
/// // Python: ShareableList([1, 2.5, True, "abc", b"x", None], name=name)
/// let l = ShareableList::create(&name, &[1.into(), 2.5.into(), true.into(), "abc".into(),
///                                        Item::Bytes(b"x".to_vec()), Item::None])?;
/// assert_eq!(l.format()?, "qdxxxxxxx?8s8sxxxxxx?x");
/// let same = ShareableList::open(&name)?;           // Python: ShareableList(name=name)
/// same.set(3, "abcdefg")?;                           // fits the 8 bytes allotted to "abc"
/// assert_eq!(l.get(3)?, Item::Str("abcdefg".into()));
/// assert!(same.set(3, "abcdefghi").is_err());        // Python: ValueError, exceeds storage
/// same.set(0, "xy")?;                                // an int slot takes a short str
/// assert_eq!(l.to_vec()?[0], Item::Str("xy".into()));
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct ShareableList {
    shm: SharedMemory,
    len: usize,
    /// Allotted offsets (N + 1 of them) from the data start, read once like Python does.
    offsets: Vec<usize>,
    data_at: usize,
    formats_at: usize,
    codes_at: usize,
}

impl ShareableList {
    /// Create the list `name` holding `items` (Python: `ShareableList(items, name=name)`).
    ///
    /// ```
    /// let name = format!("mpshare-doc-slc-{}", std::process::id());
    /// let l = mpshare::shared_memory::ShareableList::create(&name, &["a".into(), 1.into()])?;
    /// assert_eq!(l.shm().size(), 8 + 3 * 8 + 16 + 2 * 8 + 2); // Python's requested size
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, items: &[Item]) -> Result<ShareableList> {
        let size = Self::required_size(items)?;
        Self::init(SharedMemory::create(name, size)?, items)
    }

    /// Create a list under a fresh random `psm_` name (Python: `ShareableList(items)`).
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&[7.into()])?;
    /// assert!(l.name().unwrap().starts_with("psm_"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(items: &[Item]) -> Result<ShareableList> {
        let size = Self::required_size(items)?;
        Self::init(SharedMemory::new(size)?, items)
    }

    /// Open the existing list `name` (Python: `ShareableList(name=name)`); the block's table is
    /// checked so a damaged or foreign block is refused with [`Error::BadSegment`].
    ///
    /// ```
    /// use mpshare::{shared_memory::{ShareableList, SharedMemory}, Error};
    /// let raw = SharedMemory::new(4)?;    // too small to be a list
    /// let err = ShareableList::open(raw.name().unwrap()).unwrap_err();
    /// assert!(matches!(err, Error::BadSegment { .. }));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<ShareableList> {
        Self::from_shared_memory(SharedMemory::open(name)?)
    }

    /// Read the table of a list held by `shm`.
    ///
    /// ```
    /// use mpshare::shared_memory::ShareableList;
    /// let a = ShareableList::new(&[1.into(), 2.into()])?;
    /// let b = ShareableList::from_shared_memory(
    ///     mpshare::shared_memory::SharedMemory::open(a.name().unwrap())?)?;
    /// assert_eq!(b.len(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_shared_memory(shm: SharedMemory) -> Result<ShareableList> {
        let bad = |reason: String| Error::BadSegment {
            name: shm.name().unwrap_or("<anonymous>").to_string(),
            reason: format!("not a ShareableList: {reason}"),
        };
        let size = shm.size();
        if size < 16 {
            return Err(bad(format!(
                "{size} bytes, expected at least 16 (the length and one offset)"
            )));
        }
        let n: i64 = shm.read_pod(0)?;
        // Each item needs at least 8 (offset) + 8 (data) + 8 (format) + 1 (code) bytes.
        let max = (size - 16) / 25;
        let len = usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| {
                bad(format!(
                    "item count {n}, expected 0..={max} for a {size}-byte block"
                ))
            })?;
        let mut raw = vec![0i64; len + 1];
        shm.read(8, bytemuck::cast_slice_mut(&mut raw))?;
        let mut offsets = Vec::with_capacity(len + 1);
        let mut prev = 0usize;
        for (i, &o) in raw.iter().enumerate() {
            let o = usize::try_from(o)
                .ok()
                .filter(|&o| o >= prev && (i > 0 || o == 0))
                .ok_or_else(|| {
                    bad(format!(
                        "offset {i} is {o}, expected >= {prev} (offsets only grow, from 0)"
                    ))
                })?;
            offsets.push(o);
            prev = o;
        }
        let data_at = (len + 2) * 8;
        let formats_at = data_at + offsets[len];
        let end = formats_at
            .checked_add(9 * len)
            .filter(|&e| e <= size)
            .ok_or_else(|| {
                bad(format!(
                    "{len} items with {} data bytes need {} bytes, the block has {size}",
                    offsets[len],
                    data_at as u128 + offsets[len] as u128 + 9 * len as u128
                ))
            })?;
        debug_assert!(end <= size);
        Ok(ShareableList {
            shm,
            len,
            offsets,
            data_at,
            formats_at,
            codes_at: formats_at + 8 * len,
        })
    }

    /// Bytes of the block CPython requests for `items`.
    ///
    /// ```
    /// use mpshare::shared_memory::ShareableList;
    /// assert_eq!(ShareableList::required_size(&[])?, 16);
    /// assert_eq!(ShareableList::required_size(&[1.into()])?, 8 + 16 + 8 + 8 + 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn required_size(items: &[Item]) -> Result<usize> {
        let mut data = 0usize;
        for (index, item) in items.iter().enumerate() {
            let a = allotted(item);
            if a > 9_999_999 {
                return Err(Error::ShareableListUnsupported {
                    index,
                    reason: format!(
                        "{a} bytes allotted needs the struct format \"{a}s\", longer than the 8 characters a ShareableList format slot holds"
                    ),
                });
            }
            data += a;
        }
        Ok(8 + 8 * (items.len() + 1) + data + 9 * items.len())
    }

    fn init(shm: SharedMemory, items: &[Item]) -> Result<ShareableList> {
        let n = items.len();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0usize);
        for item in items {
            offsets.push(offsets.last().copied().unwrap_or(0) + allotted(item));
        }
        let mut head: Vec<i64> = Vec::with_capacity(n + 2);
        head.push(n as i64);
        head.extend(offsets.iter().map(|&o| o as i64));
        shm.write(0, bytemuck::cast_slice(&head))?;
        let data_at = (n + 2) * 8;
        let formats_at = data_at + offsets[n];
        let list = ShareableList {
            shm,
            len: n,
            offsets,
            data_at,
            formats_at,
            codes_at: formats_at + 8 * n,
        };
        for (i, item) in items.iter().enumerate() {
            list.store(i, item)?;
        }
        Ok(list)
    }

    /// Number of items (fixed at creation).
    ///
    /// ```
    /// assert_eq!(mpshare::shared_memory::ShareableList::new(&[])?.len(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Is the list empty?
    ///
    /// ```
    /// assert!(mpshare::shared_memory::ShareableList::new(&[])?.is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block's name without the leading `/` (Python's `l.shm.name`).
    ///
    /// ```
    /// let name = format!("mpshare-doc-sln-{}", std::process::id());
    /// let l = mpshare::shared_memory::ShareableList::create(&name, &[])?;
    /// assert_eq!(l.name(), Some(name.as_str()));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shm.name()
    }

    /// The underlying block (Python's `l.shm`): unlink, persist, or look at the raw bytes.
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&[5.into()])?;
    /// assert_eq!(l.shm().read_pod::<i64>(0)?, 1); // the item count at offset 0
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    /// Bytes allotted to item `index` (its slot; never changes).
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&["12345678".into(), 1.into()])?;
    /// assert_eq!((l.allotted(0)?, l.allotted(1)?), (16, 8));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn allotted(&self, index: usize) -> Result<usize> {
        self.check(index)?;
        Ok(self.offsets[index + 1] - self.offsets[index])
    }

    /// End of the table (the list's exact size when Python or mpshare made it).
    pub(crate) fn layout_end(&self) -> usize {
        self.codes_at + self.len
    }

    fn check(&self, index: usize) -> Result<()> {
        if index >= self.len {
            return Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        Ok(())
    }

    fn bad(&self, index: usize, reason: String) -> Error {
        Error::BadSegment {
            name: self.name().unwrap_or("<anonymous>").to_string(),
            reason: format!("ShareableList item {index}: {reason}"),
        }
    }

    fn raw_fmt(&self, index: usize) -> Result<[u8; 8]> {
        Ok(self
            .shm
            .block
            .load_u64(self.formats_at + 8 * index)?
            .to_ne_bytes())
    }

    /// Item `index` (Python: `l[index]`).
    ///
    /// ```
    /// use mpshare::{shared_memory::{Item, ShareableList}, Error};
    /// let l = ShareableList::new(&[Item::Bytes(b"ab\0\0".to_vec())])?;
    /// assert_eq!(l.get(0)?, Item::Bytes(b"ab".to_vec())); // trailing NULs go, as in Python
    /// assert!(matches!(l.get(1), Err(Error::IndexOutOfRange { index: 1, len: 1 })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<Item> {
        self.check(index)?;
        let raw = self.raw_fmt(index)?;
        let b = &self.shm.block;
        let code = b.load_u8(self.codes_at + index)?;
        let at = self.data_at + self.offsets[index];
        let fmt = parse_fmt(raw)
            .ok_or_else(|| self.bad(index, format!("unknown format {:?}", fmt_text(raw))))?;
        let item = match (fmt, code) {
            (_, CODE_NONE) => Item::None,
            (Fmt::Int, CODE_PLAIN) => Item::Int(b.load_u64(at)? as i64),
            (Fmt::Float, CODE_PLAIN) => Item::Float(f64::from_bits(b.load_u64(at)?)),
            (Fmt::Bool, CODE_PLAIN) => Item::Bool(b.load_u8(at + 7)? != 0),
            (Fmt::Null, CODE_PLAIN) => Item::Bool(b.load_u8(at + 6)? != 0),
            (Fmt::Bytes(n), code @ (CODE_PLAIN | CODE_STR | CODE_BYTES)) => {
                let mut v = b.read_to_vec(at, n)?;
                if code == CODE_PLAIN {
                    Item::Bytes(v)
                } else {
                    let keep = v.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                    v.truncate(keep);
                    if code == CODE_BYTES {
                        Item::Bytes(v)
                    } else {
                        Item::Str(String::from_utf8(v).map_err(|e| {
                            self.bad(index, format!("str item is not valid UTF-8 ({e})"))
                        })?)
                    }
                }
            }
            (f, c) => {
                return Err(self.bad(
                    index,
                    format!("format {f:?} with back-transform code {c}, expected codes 0..=3 matching the format"),
                ))
            }
        };
        Ok(item)
    }

    /// Replace item `index` (Python: `l[index] = value`). An int/float/bool/None fits any
    /// slot; a str/bytes must fit the bytes allotted to the slot at creation, else
    /// [`Error::ShareableListItemTooLarge`] and nothing is written.
    ///
    /// ```
    /// use mpshare::{shared_memory::{Item, ShareableList}, Error};
    /// let l = ShareableList::new(&["abc".into(), 1.into()])?;
    /// l.set(1, 2.5)?;
    /// let err = l.set(1, "123456789").unwrap_err();
    /// assert!(matches!(err, Error::ShareableListItemTooLarge { index: 1, expected: 8, found: 9 }));
    /// assert_eq!(l.get(1)?, Item::Float(2.5));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: impl Into<Item>) -> Result<()> {
        self.check(index)?;
        self.store(index, &value.into())
    }

    fn store(&self, index: usize, value: &Item) -> Result<()> {
        let at = self.data_at + self.offsets[index];
        let allotted = self.offsets[index + 1] - self.offsets[index];
        let (code, bytes): (u8, &[u8]) = match value {
            Item::Int(v) => return self.put(index, FMT_INT, CODE_PLAIN, at, *v as u64),
            Item::Float(v) => return self.put(index, FMT_FLOAT, CODE_PLAIN, at, v.to_bits()),
            Item::Bool(b) => {
                let v = u64::from_ne_bytes([0, 0, 0, 0, 0, 0, 0, u8::from(*b)]);
                return self.put(index, FMT_BOOL, CODE_PLAIN, at, v);
            }
            Item::None => return self.put(index, FMT_NONE, CODE_NONE, at, 0),
            Item::Str(s) => (CODE_STR, s.as_bytes()),
            Item::Bytes(b) => (CODE_BYTES, b.as_slice()),
        };
        if bytes.len() > allotted {
            return Err(Error::ShareableListItemTooLarge {
                index,
                expected: allotted,
                found: bytes.len(),
            });
        }
        // Python keeps a slot's "<n>s" format, else writes "<allotted>s".
        let current = self.raw_fmt(index)?;
        let (fmt, n) = match parse_fmt(current) {
            Some(Fmt::Bytes(n)) if n <= allotted => (current, n),
            _ => (str_fmt(allotted), allotted),
        };
        let take = bytes.len().min(n);
        let b = &self.shm.block;
        b.store_u64(self.formats_at + 8 * index, u64::from_ne_bytes(fmt))?;
        b.store_u8(self.codes_at + index, code)?;
        b.write(at, &bytes[..take])?;
        b.fill(at + take, n - take, 0)
    }

    /// Write an 8-byte item: its format, its code, then its bytes (Python's order).
    fn put(&self, index: usize, fmt: [u8; 8], code: u8, at: usize, word: u64) -> Result<()> {
        let b = &self.shm.block;
        b.store_u64(self.formats_at + 8 * index, u64::from_ne_bytes(fmt))?;
        b.store_u8(self.codes_at + index, code)?;
        b.store_u64(at, word)
    }

    /// All items, in order (Python: `list(l)`).
    ///
    /// ```
    /// use mpshare::shared_memory::{Item, ShareableList};
    /// let l = ShareableList::new(&[true.into(), Item::None])?;
    /// assert_eq!(l.to_vec()?, [Item::Bool(true), Item::None]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<Item>> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// The `struct` format of all items, joined (Python's `l.format`).
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&[1.into(), "x".into()])?;
    /// assert_eq!(l.format()?, "q8s");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn format(&self) -> Result<String> {
        let mut out = String::new();
        for i in 0..self.len {
            out.push_str(&fmt_text(self.raw_fmt(i)?));
        }
        Ok(out)
    }

    /// Position of the first item equal to `value` (Python's `l.index(value)`), `None` if absent.
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&[1.into(), "a".into()])?;
    /// assert_eq!(l.index(&"a".into())?, Some(1));
    /// assert_eq!(l.index(&2.into())?, None);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn index(&self, value: &Item) -> Result<Option<usize>> {
        for i in 0..self.len {
            if self.get(i)? == *value {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Number of items equal to `value` (Python's `l.count(value)`).
    ///
    /// ```
    /// let l = mpshare::shared_memory::ShareableList::new(&[1.into(), 1.into()])?;
    /// assert_eq!(l.count(&1.into())?, 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn count(&self, value: &Item) -> Result<usize> {
        let mut n = 0;
        for i in 0..self.len {
            n += usize::from(self.get(i)? == *value);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..s.len()].copy_from_slice(s.as_bytes());
        out
    }

    #[test]
    fn formats() {
        assert_eq!(parse_fmt(f("q")), Some(Fmt::Int));
        assert_eq!(parse_fmt(f("d")), Some(Fmt::Float));
        assert_eq!(parse_fmt(f("xxxxxxx?")), Some(Fmt::Bool));
        assert_eq!(parse_fmt(f("xxxxxx?x")), Some(Fmt::Null));
        assert_eq!(parse_fmt(f("16s")), Some(Fmt::Bytes(16)));
        assert_eq!(parse_fmt(f("9999999s")), Some(Fmt::Bytes(9_999_999)));
        for bad in ["", "s", "1s2", "12", "x", "1 s", "-8s"] {
            assert_eq!(parse_fmt(f(bad)), None, "{bad:?}");
        }
        assert_eq!(parse_fmt(*b"16s\0\0\0\0x"), None);
        assert_eq!(fmt_text(f("24s")), "24s");
        assert_eq!(str_fmt(24), f("24s"));
    }

    #[test]
    fn allotment_follows_python_unless_python_would_truncate() {
        assert_eq!(allotted(&Item::Str(String::new())), 8);
        assert_eq!(allotted(&Item::Str("1234567".into())), 8);
        assert_eq!(allotted(&Item::Str("12345678".into())), 16);
        assert_eq!(allotted(&Item::Str("éé".into())), 8); // 4 bytes fit Python's 8
        assert_eq!(allotted(&Item::Str("€€€€€€€€".into())), 32); // Python: 16, truncated
        assert_eq!(allotted(&Item::Bytes(vec![0; 8])), 16);
        assert_eq!(allotted(&Item::Int(1)), 8);
    }
}
