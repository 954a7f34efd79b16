//! What is in `/dev/shm`: the named segments that carry the mpshare header, who made them,
//! whether that process still runs, and removal of the stale ones.
//!
//! A segment is *stale* when the process that created it is gone: no process with its pid
//! runs, or one does but started at another time (the pid was reused; layout-2 headers
//! record the creator's start time). A segment some running process still maps is never
//! removed, whatever its creator.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use super::header::{self, SegKind, HEADER_SIZE};
use crate::{Error, Result};

/// Names of the segments under `/dev/shm` that carry the mpshare header.
///
/// ```
/// let v = mpshare::RawValue::<u8>::create(&format!("mpshare-doc-list-{}", std::process::id()), 1)?;
/// let names = mpshare::shm::list()?;
/// assert!(names.iter().any(|n| n.starts_with("mpshare-doc-list-")));
/// # drop(v);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn list() -> Result<Vec<String>> {
    Ok(scan()?.into_iter().map(|(name, _, _)| name).collect())
}

/// Whether the creator of a segment still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// The creating process runs (same pid and, when recorded, same start time).
    Alive,
    /// No process has that pid, or the one that has it started at another time.
    Dead,
    /// A process with that pid runs but the header records no start time (layout 1): it may
    /// be the creator or a process that reused its pid. Treated as alive.
    PidInUse,
}

/// One named segment as its header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Name without the leading `/`.
    pub name: String,
    /// File size in bytes.
    pub size: u64,
    /// Layout version of the header.
    pub version: u32,
    /// What it holds; `None` when the header is not published (still being built, or its
    /// creator died building it) or unreadable.
    pub kind: Option<SegKind>,
    /// The element typecode, if any.
    pub typecode: Option<char>,
    /// The element size in bytes (0 without an element).
    pub elem_size: usize,
    /// Length in elements.
    pub len: usize,
    /// An array's shape (`[len]` for 1-D), empty for other kinds.
    pub shape: Vec<usize>,
    /// The creator's pid (0 if unknown).
    pub creator_pid: u32,
    /// The creator's start time (clock ticks after boot), 0 if not recorded.
    pub creator_start: u64,
    /// Whether the creator runs.
    pub creator: Creator,
    /// Pids of running processes that map the segment (as far as `/proc` lets us see).
    pub mapped_by: Vec<u32>,
    /// Why the header could not be read, if it could not.
    pub problem: Option<String>,
}

impl SegmentInfo {
    /// Stale: its creator is dead and no running process maps it.
    ///
    /// ```
    /// let name = format!("mpshare-doc-stale-{}", std::process::id());
    /// let _v = mpshare::Value::create(&name, 1u8)?;
    /// let me = mpshare::shm::segments()?.into_iter().find(|s| s.name == name).unwrap();
    /// assert_eq!(me.creator, mpshare::shm::Creator::Alive);
    /// assert!(!me.is_stale());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_stale(&self) -> bool {
        self.creator == Creator::Dead && self.mapped_by.is_empty()
    }
}

impl std::fmt::Display for Creator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Creator::Alive => "alive",
            Creator::Dead => "dead",
            Creator::PidInUse => "pid-in-use",
        })
    }
}

/// One line per segment: name, kind, type, length (or shape), size, creator pid and state.
///
/// ```
/// let name = format!("mpshare-doc-row-{}", std::process::id());
/// let _a = mpshare::Array::<i32>::create(&name, 3)?;
/// let row = mpshare::shm::segments()?.into_iter().find(|s| s.name == name).unwrap().to_string();
/// assert!(row.contains("Array") && row.contains("'i'") && row.contains("alive"), "{row}");
/// # Ok::<(), mpshare::Error>(())
/// ```
impl std::fmt::Display for SegmentInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.map(SegKind::name).unwrap_or("?");
        let ty = match (self.typecode, self.elem_size) {
            (Some(c), _) => format!("'{c}'"),
            (None, 0) => "-".to_string(),
            (None, n) => format!("struct({n}B)"),
        };
        let len = if self.shape.len() > 1 {
            format!("{:?}", self.shape)
        } else {
            self.len.to_string()
        };
        write!(
            f,
            "{:<40} {:<16} {:<12} {:>10} {:>12} pid {:>8} {}",
            self.name, kind, ty, len, self.size, self.creator_pid, self.creator
        )?;
        if !self.mapped_by.is_empty() {
            write!(f, " (mapped by {:?})", self.mapped_by)?;
        }
        if let Some(p) = &self.problem {
            write!(f, " [{p}]")?;
        }
        Ok(())
    }
}

/// `(name, file length, first bytes)` of each regular file in `/dev/shm` with the magic.
fn scan() -> Result<Vec<(String, u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let dir = match std::fs::read_dir("/dev/shm") {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(Error::Os {
                context: "read_dir(/dev/shm)".into(),
                source: e,
            })
        }
    };
    for entry in dir.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue; // FIFOs, sockets, directories, symlinks
        }
        let mut head = Vec::with_capacity(HEADER_SIZE);
        let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(entry.path())
        else {
            continue;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if f.take(HEADER_SIZE as u64).read_to_end(&mut head).is_ok()
            && head.len() >= 8
            && head[..8] == header::MAGIC
        {
            out.push((entry.file_name().to_string_lossy().into_owned(), len, head));
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the process `pid` that started at `start` (0 = unknown) runs.
fn creator_state(pid: u32, start: u64) -> Creator {
    if pid == 0 {
        return Creator::Dead;
    }
    match header::start_ticks_of(&pid.to_string()) {
        None => Creator::Dead,
        Some(_) if start == 0 => Creator::PidInUse,
        Some(t) if t == start => Creator::Alive,
        Some(_) => Creator::Dead,
    }
}

/// Pids whose `/proc/<pid>/maps` shows `/dev/shm/<name>` for each name asked.
fn mappers(names: &[&str]) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); names.len()];
    let wanted: Vec<String> = names.iter().map(|n| format!("/dev/shm/{n}")).collect();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in proc_dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(maps) = std::fs::read_to_string(entry.path().join("maps")) else {
            continue;
        };
        for line in maps.lines() {
            // The path is the last field; a removed name shows " (deleted)" after it.
            let path = line.split_whitespace().nth(5).unwrap_or("");
            if let Some(i) = wanted.iter().position(|w| w == path) {
                if !out[i].contains(&pid) {
                    out[i].push(pid);
                }
            }
        }
    }
    out
}

/// Every named mpshare segment under `/dev/shm`, with what it holds, its creator, and
/// whether that creator still runs.
///
/// ```
/// let name = format!("mpshare-doc-segs-{}", std::process::id());
/// let _a = mpshare::Array::<f64>::create(&name, 10)?;
/// let info = mpshare::shm::segments()?.into_iter().find(|s| s.name == name).unwrap();
/// assert_eq!(info.kind, Some(mpshare::shm::SegKind::Array));
/// assert_eq!((info.typecode, info.len, info.creator_pid), (Some('d'), 10, std::process::id()));
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn segments() -> Result<Vec<SegmentInfo>> {
    let found = scan()?;
    let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    let maps = mappers(&names);
    let mut out = Vec::with_capacity(found.len());
    for ((name, size, head), mapped_by) in found.iter().zip(maps) {
        let mut info = SegmentInfo {
            name: name.clone(),
            size: *size,
            version: 0,
            kind: None,
            typecode: None,
            elem_size: 0,
            len: 0,
            shape: Vec::new(),
            creator_pid: 0,
            creator_start: 0,
            creator: Creator::Dead,
            mapped_by,
            problem: None,
        };
        // The version-1 part holds the pid even when the header is not published.
        if head.len() >= 56 {
            info.version = u32::from_ne_bytes([head[8], head[9], head[10], head[11]]);
            info.creator_pid = u32::from_ne_bytes([head[52], head[53], head[54], head[55]]);
        }
        match header::parse_bytes(head, *size as usize) {
            Ok(Some(layout)) => {
                info.kind = Some(layout.kind);
                info.typecode = layout.elem.and_then(|e| e.typecode).map(|t| t.as_char());
                info.elem_size = layout.elem.map(|e| e.size).unwrap_or(0);
                info.len = layout.len;
                info.shape = layout.dims();
                info.creator_start = layout.origin.start_ticks;
            }
            Ok(None) => info.problem = Some("header not published".into()),
            Err(e) => info.problem = Some(e),
        }
        info.creator = creator_state(info.creator_pid, info.creator_start);
        out.push(info);
    }
    Ok(out)
}

/// Remove (`shm_unlink`) every stale segment whose name `select` accepts, returning what was
/// removed. A segment whose creator runs, or that a running process maps, is never removed.
///
/// ```
/// // Only names of this example are considered:
/// let removed = mpshare::shm::remove_stale(|n| n.starts_with("mpshare-doc-none-"))?;
/// assert!(removed.is_empty());
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn remove_stale(select: impl Fn(&str) -> bool) -> Result<Vec<SegmentInfo>> {
    let mut removed = Vec::new();
    for info in segments()? {
        if !select(&info.name) || !info.is_stale() {
            continue;
        }
        match super::unlink(&info.name) {
            Ok(()) => removed.push(info),
            Err(Error::NotFound { .. }) => {} // removed by someone else meanwhile
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}
