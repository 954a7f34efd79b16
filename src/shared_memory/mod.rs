//! Python's `multiprocessing.shared_memory` for Rust: raw named blocks and `ShareableList`,
//! byte-compatible with CPython 3.11–3.13.
//!
//! * [`SharedMemory`] is a named block of bytes **without** the mpshare header, opened and
//!   created exactly as CPython's `SharedMemory` does (`shm_open` of `"/" + name`,
//!   `O_CREAT|O_EXCL`, mode 0600, `ftruncate(size)`, size read back with `fstat`). A block made
//!   by Python opens here and the reverse. [`SharedMemory::anonymous`] is an unnamed block for
//!   `fork` children.
//! * [`ShareableList`] reads and writes CPython's `ShareableList` format (int, float, bool,
//!   str, bytes, None), including its size rules and its error for a `str`/`bytes` that does not
//!   fit its slot.
//! * [`inspect`] tells what a named segment holds: an mpshare Value/Array/lock, a
//!   `ShareableList`, or a raw block.
//!
//! ```
//! use mpshare::shared_memory::SharedMemory;
//! let name = format!("mpshare-doc-shm-{}", std::process::id());
//! let a = SharedMemory::create(&name, 16)?;          // Python: SharedMemory(name, create=True, size=16)
//! a.write(0, b"hello")?;                              // shm.buf[:5] = b"hello"
//! let b = SharedMemory::open(&name)?;                 // SharedMemory(name)
//! assert_eq!(b.size(), 16);
//! assert_eq!(b.read_vec(0, 5)?, b"hello");
//! # Ok::<(), mpshare::Error>(())
//! ```
//!
//! # Who unlinks
//!
//! A block stays in `/dev/shm` until someone unlinks it. The handle that **created** a block
//! unlinks it when dropped (in the creating process only, so a forked child never removes its
//! parent's block), unless [`SharedMemory::persist`] was called; handles from
//! [`SharedMemory::open`] never unlink on drop. This is what Python 3.13's
//! `SharedMemory(..., track=True)` does through its resource tracker for the creator. But
//! CPython 3.11–3.13 by default also register blocks they merely *open* (`SharedMemory(name)`,
//! `ShareableList(name=name)`) with the resource tracker, which unlinks them when that Python
//! process exits: a Python process that opens a Rust-made block should pass `track=False`
//! (3.13, `SharedMemory` only) or call `resource_tracker.unregister(shm._name,
//! "shared_memory")`; `python/mpshare_segments.py` has `open_shared_memory(name)` and
//! `open_shareable_list(name)` doing just that.
//!
//! # Soundness of access
//!
//! Other processes write the block at any time, so the safe API copies
//! ([`SharedMemory::read`], [`SharedMemory::write`], [`SharedMemory::read_pod`]) in relaxed
//! atomic units, and [`SharedMemory::atomic`] hands out `&AtomicU64` (and friends) for aligned
//! words. Plain typed views ([`SharedMemory::as_slice`], [`SharedMemory::as_mut_slice`]) and
//! [`SharedMemory::as_ptr`] are for callers who can promise exclusivity by other means.
//! The size is fixed when a handle maps the block: another process that `ftruncate`s the file
//! smaller makes later access to the lost pages fault with `SIGBUS`, exactly as it would under
//! Python's `SharedMemory`; neither side resizes a block it did not create.

mod inspect;
mod list;
mod raw;
#[cfg(feature = "manager")]
pub(crate) mod tracker;

use std::time::Duration;

pub use inspect::{inspect, Inspection, Kind};
pub use list::{Item, ShareableList};
use raw::Block;
pub use raw::SharedAtomic;

use crate::shm::Segment;
use crate::{Error, Result};

/// Prefix of the random names Python's `SharedMemory()` picks (`psm_` + 8 hex digits).
/// ```
/// assert_eq!(mpshare::shared_memory::RANDOM_NAME_PREFIX, "psm_");
/// ```
pub const RANDOM_NAME_PREFIX: &str = "psm_";

/// How long [`SharedMemory::open`] waits for a block that exists but still has size 0 (its
/// creator is between `shm_open` and `ftruncate`).
/// ```
/// assert!(mpshare::shared_memory::OPEN_EMPTY_WAIT.as_millis() >= 100);
/// ```
pub const OPEN_EMPTY_WAIT: Duration = Duration::from_millis(500);

/// A raw block of shared bytes, compatible with Python's `multiprocessing.shared_memory.
/// SharedMemory`.
///
/// ```
/// use mpshare::shared_memory::SharedMemory;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let shm = SharedMemory::new(4096)?;                 // Python: SharedMemory(create=True, size=4096)
/// assert!(shm.name().unwrap().starts_with("psm_"));
/// shm.atomic::<AtomicU64>(8)?.fetch_add(5, Ordering::SeqCst);
/// assert_eq!(shm.read_pod::<u64>(8)?, 5);
/// assert!(shm.atomic::<AtomicU64>(3).is_err());     // misaligned
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug)]
pub struct SharedMemory {
    block: Block,
}

fn random_name() -> Result<String> {
    // The kernel's random source directly: the shared-memory core does not depend on the
    // `getrandom` crate (only the manager feature does).
    let mut rnd = [0u8; 4];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(|e| Error::Os {
            context: "open /dev/urandom".into(),
            source: e,
        })?,
        &mut rnd,
    )
    .map_err(|e| Error::Os {
        context: "read /dev/urandom".into(),
        source: e,
    })?;
    let mut name = String::from(RANDOM_NAME_PREFIX);
    for b in rnd {
        name.push_str(&format!("{b:02x}"));
    }
    Ok(name)
}

fn positive(size: usize) -> Result<()> {
    if size == 0 {
        return Err(Error::InvalidSize {
            expected: "a positive number of bytes",
            found: 0,
        });
    }
    Ok(())
}

impl SharedMemory {
    /// Create the block `name` (without or with a leading `/`) of `size` zeroed bytes; fails
    /// with [`Error::AlreadyExists`] if the name is taken. Python:
    /// `SharedMemory(name, create=True, size=size)`.
    ///
    /// ```
    /// use mpshare::{shared_memory::SharedMemory, Error};
    /// let name = format!("mpshare-doc-create-{}", std::process::id());
    /// let shm = SharedMemory::create(&name, 10)?;
    /// assert_eq!((shm.name(), shm.size()), (Some(name.as_str()), 10));
    /// assert!(matches!(SharedMemory::create(&name, 10), Err(Error::AlreadyExists { .. })));
    /// assert!(matches!(SharedMemory::create("x", 0), Err(Error::InvalidSize { found: 0, .. })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, size: usize) -> Result<SharedMemory> {
        positive(size)?;
        Ok(SharedMemory {
            block: Block::new(Segment::create_named(name, size, 0o600)?),
        })
    }

    /// Create a block with a fresh random name (`psm_` and 8 hex digits, as Python picks).
    /// Python: `SharedMemory(create=True, size=size)`.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::new(100)?;
    /// assert_eq!(shm.name().unwrap().len(), 12);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(size: usize) -> Result<SharedMemory> {
        positive(size)?;
        loop {
            match Segment::create_named(&random_name()?, size, 0o600) {
                Ok(seg) => {
                    return Ok(SharedMemory {
                        block: Block::new(seg),
                    })
                }
                Err(Error::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Open the existing block `name`; its size is what `fstat` reports, as in Python.
    /// Python: `SharedMemory(name)`.
    ///
    /// ```
    /// use mpshare::{shared_memory::SharedMemory, Error};
    /// let err = SharedMemory::open("mpshare-doc-no-such-block").unwrap_err();
    /// assert!(matches!(err, Error::NotFound { .. }));
    /// ```
    pub fn open(name: &str) -> Result<SharedMemory> {
        let seg = Segment::open_named(name, 1, OPEN_EMPTY_WAIT).map_err(|e| match e {
            Error::NotInitialized { .. } => Error::InvalidSize {
                expected: "a block of at least 1 byte (Python cannot map an empty one either)",
                found: 0,
            },
            e => e,
        })?;
        Ok(SharedMemory {
            block: Block::new(seg),
        })
    }

    /// An unnamed block of `size` zeroed bytes that `fork` children share (a `memfd`; nothing
    /// appears in `/dev/shm`).
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(64)?;
    /// assert_eq!((shm.name(), shm.size()), (None, 64));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn anonymous(size: usize) -> Result<SharedMemory> {
        positive(size)?;
        Ok(SharedMemory {
            block: Block::new(Segment::anonymous(size)?),
        })
    }

    /// The name without the leading `/` (as Python's `.name`), `None` for an anonymous block.
    ///
    /// ```
    /// let name = format!("/mpshare-doc-name-{}", std::process::id());
    /// let shm = mpshare::shared_memory::SharedMemory::create(&name, 1)?;
    /// assert_eq!(shm.name(), Some(&name[1..]));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.block
            .segment()
            .name()
            .map(|n| n.strip_prefix('/').unwrap_or(n))
    }

    /// Size in bytes (Python's `.size`).
    ///
    /// ```
    /// assert_eq!(mpshare::shared_memory::SharedMemory::anonymous(3)?.size(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.block.len()
    }

    /// Remove the name now (Python's `.unlink()`); mappings stay valid, new opens fail.
    ///
    /// ```
    /// use mpshare::{shared_memory::SharedMemory, Error};
    /// let shm = SharedMemory::new(8)?;
    /// shm.unlink()?;
    /// assert!(matches!(SharedMemory::open(shm.name().unwrap()), Err(Error::NotFound { .. })));
    /// shm.write(0, &[1])?; // still mapped here
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn unlink(&self) -> Result<()> {
        match self.name() {
            Some(n) => {
                self.block.segment().persist();
                crate::shm::unlink(n)
            }
            None => Ok(()),
        }
    }

    /// Keep the block when this (creating) handle drops, so it outlives this process.
    ///
    /// ```
    /// use mpshare::shared_memory::SharedMemory;
    /// let shm = SharedMemory::new(8)?;
    /// let name = shm.name().unwrap().to_string();
    /// shm.persist();
    /// drop(shm);
    /// SharedMemory::open(&name)?.unlink()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn persist(&self) {
        self.block.segment().persist();
    }

    /// Unmap this handle (Python's `.close()`); the same as dropping it.
    ///
    /// ```
    /// mpshare::shared_memory::SharedMemory::anonymous(8)?.close();
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn close(self) {}

    /// Copy `dst.len()` bytes at `offset` out of the block.
    ///
    /// ```
    /// use mpshare::{shared_memory::SharedMemory, Error};
    /// let shm = SharedMemory::anonymous(4)?;
    /// shm.write(1, &[7, 8])?;
    /// let mut out = [0u8; 4];
    /// shm.read(0, &mut out)?;
    /// assert_eq!(out, [0, 7, 8, 0]);
    /// assert!(matches!(shm.read(2, &mut out), Err(Error::BlockOutOfBounds { size: 4, .. })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        self.block.read(offset, dst)
    }

    /// Copy `len` bytes at `offset` into a new vector.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(4)?;
    /// assert_eq!(shm.read_vec(0, 4)?, vec![0; 4]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.block.read_to_vec(offset, len)
    }

    /// The whole block, copied (Python's `bytes(shm.buf)`).
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(2)?;
    /// shm.write(0, b"hi")?;
    /// assert_eq!(shm.to_vec(), b"hi");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        // In bounds by construction.
        self.block.read_to_vec(0, self.size()).unwrap_or_default()
    }

    /// Copy `src` into the block at `offset`.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(2)?;
    /// assert!(shm.write(1, b"ab").is_err()); // would run past the end
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn write(&self, offset: usize, src: &[u8]) -> Result<()> {
        self.block.write(offset, src)
    }

    /// Set `len` bytes at `offset` to `byte`.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(3)?;
    /// shm.fill(1, 2, 0xff)?;
    /// assert_eq!(shm.to_vec(), [0, 0xff, 0xff]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.block.fill(offset, len, byte)
    }

    /// Copy a plain-data value out of the block at `offset` (any alignment), in native byte
    /// order (Python: `struct.unpack_from("=q", shm.buf, offset)`).
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(16)?;
    /// shm.write_pod(3, &1.5f64)?;
    /// assert_eq!(shm.read_pod::<f64>(3)?, 1.5);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn read_pod<T: bytemuck::Pod>(&self, offset: usize) -> Result<T> {
        let mut v = T::zeroed();
        self.block.read(offset, bytemuck::bytes_of_mut(&mut v))?;
        Ok(v)
    }

    /// Copy a plain-data value into the block at `offset` (any alignment), native byte order.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(8)?;
    /// shm.write_pod(0, &[1u16, 2, 3, 4])?;
    /// assert_eq!(shm.read_pod::<u16>(6)?, 4);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn write_pod<T: bytemuck::Pod>(&self, offset: usize, v: &T) -> Result<()> {
        self.block.write(offset, bytemuck::bytes_of(v))
    }

    /// The atomic at `offset`, which must be aligned for `A` (`AtomicU64` needs a multiple of
    /// 8). Python sees the same bytes as a plain native integer.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(8)?;
    /// let a = shm.atomic::<AtomicU32>(4)?;
    /// assert_eq!(a.compare_exchange(0, 9, Ordering::AcqRel, Ordering::Acquire), Ok(0));
    /// assert_eq!(shm.read_pod::<u32>(4)?, 9);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn atomic<A: SharedAtomic>(&self, offset: usize) -> Result<&A> {
        self.block.atomic(offset)
    }

    /// Base address of the mapping (page aligned), valid while `self` lives. Reading or
    /// writing through it is up to the caller's own synchronisation.
    ///
    /// ```
    /// let shm = mpshare::shared_memory::SharedMemory::anonymous(8)?;
    /// assert_eq!(shm.as_ptr() as usize % 4096, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.block.as_ptr()
    }
}
