//! The segment tracker of CPython's `SharedMemoryServer` (`multiprocessing.managers`): names
//! that `SharedMemoryManager` clients ask the manager server to own, unlinked when released or
//! when the server shuts down.

use std::sync::Mutex;

/// Names tracked by one manager server (duplicates allowed, as in CPython's list).
#[derive(Debug, Default)]
pub(crate) struct SegmentTracker {
    names: Mutex<Vec<String>>,
}

/// Why `release` failed, as the Python exception CPython's server would raise.
#[derive(Debug, PartialEq)]
pub(crate) struct ReleaseError {
    pub class: &'static str,
    pub message: String,
}

impl SegmentTracker {
    fn names(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `track_segment(name)`.
    pub(crate) fn track(&self, name: &str) {
        self.names().push(name.to_string());
    }

    /// `list_segments()`.
    pub(crate) fn list(&self) -> Vec<String> {
        self.names().clone()
    }

    /// `release_segment(name)`: forget one entry, then unlink the block.
    pub(crate) fn release(&self, name: &str) -> Result<(), ReleaseError> {
        {
            let mut names = self.names();
            let Some(at) = names.iter().position(|n| n == name) else {
                return Err(ReleaseError {
                    class: "ValueError",
                    message: "list.remove(x): x not in list".into(),
                });
            };
            names.remove(at);
        }
        crate::shm::unlink(name).map_err(|e| match e {
            crate::Error::NotFound { name } => ReleaseError {
                class: "FileNotFoundError",
                message: format!("[Errno 2] No such file or directory: '{name}'"),
            },
            other => ReleaseError {
                class: "OSError",
                message: other.to_string(),
            },
        })
    }

    /// At shutdown: unlink every tracked block (one already gone is skipped, where CPython's
    /// server would stop at it and leave the rest).
    pub(crate) fn unlink_all(&self) {
        let names = std::mem::take(&mut *self.names());
        for n in names {
            let _ = crate::shm::unlink(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_memory::SharedMemory;

    #[test]
    fn track_release_list_unlink_all() {
        let t = SegmentTracker::default();
        let a = SharedMemory::new(8).unwrap();
        let b = SharedMemory::new(8).unwrap();
        let (an, bn) = (a.name().unwrap().to_string(), b.name().unwrap().to_string());
        t.track(&an);
        t.track(&bn);
        assert_eq!(t.list(), [an.clone(), bn.clone()]);
        t.release(&an).unwrap();
        assert!(SharedMemory::open(&an).is_err());
        assert_eq!(t.release(&an).unwrap_err().class, "ValueError");
        t.track(&an);
        assert_eq!(t.release(&an).unwrap_err().class, "FileNotFoundError");
        t.unlink_all();
        assert!(t.list().is_empty());
        assert!(SharedMemory::open(&bn).is_err());
    }
}
