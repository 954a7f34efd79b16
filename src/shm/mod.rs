//! Shared-memory segments: anonymous ones that `fork` children inherit, and named POSIX ones
//! (`shm_open`, visible under `/dev/shm`) that unrelated processes open by name.
//!
//! Every segment starts with a 128-byte header (see the README's *Segment layout* section)
//! that records what it holds, so [`crate::Value::open`] and friends can refuse a segment that
//! holds something else. Creation is race-free: the creator publishes the header last, and an
//! opener waits (a bounded time) until it is published.

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
pub(crate) use segment::{Segment, SegmentId};

pub(crate) use build::{attach, build_or_attach, Built, Expect, HeaderLock, Target};
pub use build::{Options, OPEN_WAIT};
pub use inventory::list;
