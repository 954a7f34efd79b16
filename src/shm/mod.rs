//! Shared-memory segments: anonymous ones that `fork` children inherit, and named POSIX ones
//! (`shm_open`, visible under `/dev/shm`) that unrelated processes open by name.
//!
//! Every segment starts with a 256-byte header (layout 2; layout-1 segments with a 128-byte
//! header still open; see the README's *Segment layout* section) that records what it holds,
//! who made it and when, so [`crate::Value::open`] and friends can refuse a segment that holds
//! something else and [`segments`] can tell a stale segment from a live one. Creation is
//! race-free: `O_CREAT|O_EXCL` picks one creator, which publishes the header last, and an
//! opener (or the losers of `open_or_create`) waits a bounded time until it is published. New
//! named segments get the permission bits of [`Options`] (0600 by default) exactly.
//!
//! # Hazards
//!
//! Like any shared mapping (compare `memmap2::Mmap`), a named segment can be changed by any
//! process allowed to open it, and no API of this crate can stop that:
//!
//! * a process that writes the data without taking the lock races with this process's
//!   readers and guards (values may be torn or change under an `ArrayGuard`'s slice);
//! * a process that `ftruncate`s the object shorter makes every process that maps it die with
//!   `SIGBUS` on its next access to the cut pages.
//!
//! mpshare itself never does either: it sizes a segment once, before publishing its header,
//! and never resizes or truncates it afterwards. Keep names private to your application and
//! the mode at 0600 unless a group must share the segment.

mod build;
mod header;
mod inventory;
mod name;
mod segment;

pub(crate) use header::{ElemDesc, Layout, LockKind};
pub use header::{
    SegKind, HEADER_SIZE, HEADER_V1_SIZE, LOCK_OFFSET, LOCK_SIZE, MAGIC, MAX_NDIM, VERSION,
};
pub use name::MAX_NAME_LEN;
pub use segment::unlink;
pub(crate) use segment::{register_inherited, unregister_inherited, INHERITED_PREFIX};
pub(crate) use segment::{Segment, SegmentId};

pub(crate) use build::{attach, build_or_attach, Built, Expect, HeaderLock, Target};
pub use build::{Options, OPEN_WAIT};
pub use inventory::{list, remove_stale, segments, Creator, SegmentInfo};
