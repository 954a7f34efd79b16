//! What is in `/dev/shm`: the named segments that carry the mpshare header.

use super::header;
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
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
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
        let mut magic = [0u8; 8];
        let ok = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(entry.path())
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok();
        if ok && magic == header::MAGIC {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}
