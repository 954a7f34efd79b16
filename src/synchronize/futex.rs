//! The raw-memory layer of the coordination primitives: the kernel futex calls, the typed
//! view of a primitive's shared state (atomics only), byte copies into a queue's ring, process
//! identity (pid + start time) for death detection, and the adaptive spin policy.
//!
//! Every `unsafe` of [`Semaphore`](super::Semaphore), [`Event`](super::Event),
//! [`Condition`](super::Condition), [`Barrier`](super::Barrier) and the queues is here.
//!
//! A primitive's segment is an ordinary mpshare segment (same header, same `build`/`attach`,
//! same type checks); its data area holds a `#[repr(C)]` struct of atomics (`S`), followed by a
//! tail of `tail_len` bytes (holder slots of a semaphore, party slots of a barrier, the ring of
//! a queue). Futex words are `AtomicU32`s in that struct, waited on with the shared (not
//! `FUTEX_PRIVATE_FLAG`) operations, so they work across processes that map the page at
//! different addresses.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::raw::RawMutex;
use crate::shm::{self, ElemDesc, Expect, Layout, LockKind, Options, SegKind, Segment, Target};

/// A primitive's data area is recorded as `len` 8-byte words ('Q'), so the header layout and
/// checks of Value/Array apply unchanged and the state is 8-aligned.
fn word() -> ElemDesc {
    ElemDesc::of::<u64>()
}

fn expect(kind: SegKind, lock: Option<LockKind>) -> Expect {
    Expect {
        kind,
        elem: Some(word()),
        len: None,
        lock,
    }
}
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------
// futex(2)

/// Sleep while `*word == expected`, at most `timeout` (`None`: no limit).
///
/// Returns when woken, when the value differs, on a signal, or when the timeout passes: the
/// caller re-checks its condition and its deadline (spurious returns are allowed).
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 (in shared memory kept mapped by the caller's
    // segment handle); FUTEX_WAIT only reads it and `tsp` is null or a valid timespec. Errors
    // (EAGAIN: value changed, EINTR, ETIMEDOUT) all mean "re-check", so the result is ignored.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tsp,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wake at most `n` sleepers on `word`; returns how many were woken.
pub(crate) fn wake(word: &AtomicU32, n: u32) -> usize {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: as in `wait`; FUTEX_WAKE does not touch memory beyond looking up the key.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    r.max(0) as usize
}

/// Move up to `n` sleepers of `word` to the futex queue of `to` without waking them
/// (`FUTEX_CMP_REQUEUE`), provided `*word == expected`; how many were moved, `None` when the
/// kernel refused (the value changed, or the operation is unavailable): wake them instead.
pub(crate) fn requeue(word: &AtomicU32, expected: u32, to: &AtomicU32, n: u32) -> Option<usize> {
    let n = n.min(i32::MAX as u32) as libc::c_long;
    // SAFETY: `word` and `to` are live, aligned u32s in shared mappings kept by the caller's
    // handles; FUTEX_CMP_REQUEUE only reads `word` and moves queued waiters between the two
    // (shared) futex keys. The 4th argument slot carries `nr_requeue`, as futex(2) specifies.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_CMP_REQUEUE,
            0 as libc::c_int,
            n,
            to.as_ptr(),
            expected,
        )
    };
    (r >= 0).then_some(r as usize)
}

/// Wake everybody sleeping on `word`.
pub(crate) fn wake_all(word: &AtomicU32) -> usize {
    wake(word, i32::MAX as u32)
}

/// A deadline derived from an optional timeout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// Time left (`None`: unbounded); `Some(ZERO)` once passed.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    pub(crate) fn passed(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// The next sleep: what is left, but at most `slice` (death checks happen between slices).
    pub(crate) fn slice(&self, slice: Duration) -> Duration {
        self.remaining().map_or(slice, |r| r.min(slice))
    }
}

/// How often a sleeper that depends on other processes staying alive looks for dead ones.
pub(crate) const DEATH_POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------------
// Process identity

/// A process, told apart from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcId {
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks since boot.
    pub start: u64,
}

/// State and start time from `/proc/<pid>/stat` (`None`: no such process).
fn stat(pid: u32) -> Option<(u8, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.bytes().next()?;
    // `state` is field 3, so field 22 is 19 further on.
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

static SELF_ID: AtomicU64 = AtomicU64::new(0);
static SELF_START: AtomicU64 = AtomicU64::new(0);
/// This process's pid, 0 = not looked up yet (reset in every `fork` child).
static PID: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This thread's kernel TID, 0 = not looked up yet (reset in the `fork` child).
    static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
    SELF_ID.store(0, Ordering::Relaxed);
    TID.with(|t| t.set(0));
}

/// This thread's kernel TID, cached (the `pthread_atfork` handler resets it in a fork child).
fn my_tid() -> i32 {
    let t = TID.with(|t| t.get());
    if t != 0 {
        return t;
    }
    my_pid(); // registers the fork handler
              // SAFETY: gettid takes no arguments and cannot fail.
    let t = unsafe { libc::gettid() };
    TID.with(|c| c.set(t));
    t
}

/// Does the calling thread hold `lock`? Reads the owner TID glibc keeps in the mutex
/// (`__owner`, offset 8 on 64-bit glibc, maintained by glibc and by `fast.rs` alike); every
/// mpshare lock sits at [`LOCK_OFFSET`](crate::shm::LOCK_OFFSET) of its segment. `None` where
/// that layout is not known.
pub(crate) fn held_by_caller(lock: &super::lock::AnyLock) -> Option<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    {
        const OWNER: usize = 8;
        let base = lock.raw().segment().base().as_ptr();
        // SAFETY: every mpshare lock is a pthread_mutex_t at LOCK_OFFSET of its segment, which
        // the lock handle keeps mapped; `__owner` is an aligned i32 inside it that other
        // threads write, so it is read atomically.
        let owner = unsafe {
            std::sync::atomic::AtomicI32::from_ptr(base.add(crate::shm::LOCK_OFFSET + OWNER).cast())
        }
        .load(Ordering::Relaxed);
        Some(owner == my_tid())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    {
        let _ = lock;
        None
    }
}

/// This process's pid without a system call per use (glibc no longer caches `getpid`): looked
/// up once, forgotten in `fork` children by a `pthread_atfork` handler.
#[inline]
pub(crate) fn my_pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => my_pid_slow(),
        p => p,
    }
}

#[cold]
fn my_pid_slow() -> u32 {
    // Not a `Once`: a `fork` while another thread runs a `Once` leaves the child's copy
    // "running" forever. Racing threads may both register; the handler is idempotent.
    static ATFORK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !ATFORK.load(Ordering::Acquire) {
        // SAFETY: registers a child handler that only stores to atomics (async-signal-safe);
        // the function pointer lives for the whole program.
        unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
        ATFORK.store(true, Ordering::Release);
    }
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

impl ProcId {
    /// This process (cached per pid, so a `fork` child gets its own).
    pub(crate) fn current() -> ProcId {
        let pid = my_pid();
        if SELF_ID.load(Ordering::Acquire) == u64::from(pid) + 1 {
            return ProcId {
                pid,
                start: SELF_START.load(Ordering::Acquire),
            };
        }
        let start = stat(pid).map_or(0, |s| s.1);
        SELF_START.store(start, Ordering::Release);
        SELF_ID.store(u64::from(pid) + 1, Ordering::Release);
        ProcId { pid, start }
    }

    /// Still running: the pid exists, is not a zombie, and started when recorded (a start
    /// time of 0 means unknown and trusts the pid).
    pub(crate) fn is_alive(&self) -> bool {
        match stat(self.pid) {
            None => false,
            Some((b'Z' | b'X' | b'x', _)) => false,
            Some((_, start)) => self.start == 0 || start == self.start,
        }
    }
}

/// A process slot in shared memory: `pid == 0` is free.
#[repr(C)]
#[derive(Default)]
pub(crate) struct ProcSlot {
    pub pid: AtomicU32,
    /// Per-slot counter (permits held, for a tracked semaphore).
    pub count: AtomicU32,
    pub start: AtomicU64,
}

impl ProcSlot {
    pub(crate) fn id(&self) -> Option<ProcId> {
        match self.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(ProcId {
                pid,
                start: self.start.load(Ordering::Acquire),
            }),
        }
    }

    /// Claim for `me` (start time first, so a half-claimed slot names a process that died).
    pub(crate) fn claim(&self, me: ProcId) {
        self.start.store(me.start, Ordering::Release);
        self.pid.store(me.pid, Ordering::Release);
    }

    pub(crate) fn free(&self) {
        self.count.store(0, Ordering::Release);
        self.pid.store(0, Ordering::Release);
    }
}

// SAFETY: only atomics; all-zero is a free slot.
unsafe impl SharedState for ProcSlot {}

// ---------------------------------------------------------------------------------------------
// Test fault points

/// Where a hidden test hook can freeze a process so a test can `SIGKILL` it there.
///
/// Zero cost when unused (one relaxed load of a static).
#[doc(hidden)]
pub mod fault {
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Tracked semaphore: slot recorded, count not yet decremented (lock held).
    pub const SEM_TRACKED_ACQUIRE: u32 = 1;
    /// Queue put: payload half copied into the ring (lock held).
    pub const QUEUE_PUT_COPY: u32 = 2;
    /// Queue put: tail advanced, commit not finished (lock held).
    pub const QUEUE_PUT_COMMIT: u32 = 3;
    /// Queue get: payload copied out, head not yet advanced (lock held).
    pub const QUEUE_GET_COPY: u32 = 4;
    /// Queue get: head advanced, commit not finished (lock held).
    pub const QUEUE_GET_COMMIT: u32 = 5;
    /// Condition wait: registered as a waiter, lock released, about to sleep.
    pub const CONDITION_WAIT: u32 = 6;
    /// Condition wait: woken (perhaps from the lock's futex, after a requeue), about to
    /// re-acquire the lock.
    pub const CONDITION_REACQUIRE: u32 = 7;

    static POINT: AtomicU32 = AtomicU32::new(0);

    /// Freeze this process (forever, until killed) when it reaches `point`. Test use only.
    pub fn pause_at(point: u32) {
        POINT.store(point, Ordering::Relaxed);
    }

    pub(crate) static SPIN: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(true);

    /// Turn the adaptive spin of this process's waits on or off (benchmarks compare both).
    pub fn set_spinning(enabled: bool) {
        SPIN.store(enabled, Ordering::Relaxed);
    }

    #[inline(always)]
    pub(crate) fn hit(point: u32) {
        if POINT.load(Ordering::Relaxed) == point {
            paused();
        }
    }

    #[cold]
    #[inline(never)]
    fn paused() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The shared state view

/// A `#[repr(C)]` struct that may live in shared memory and be used from many processes.
///
/// # Safety
/// Implementors consist only of atomics (or arrays/structs of them), so a shared reference is
/// sound while other processes mutate it, and the all-zero bit pattern is a valid value.
pub(crate) unsafe trait SharedState: Sized {}

// SAFETY: atomics only.
unsafe impl SharedState for AtomicU32 {}
// SAFETY: atomics only.
unsafe impl SharedState for AtomicU64 {}

/// Room for a robust mutex inside a primitive's state (a queue's producer lock): 64 bytes of
/// atomics, so the state stays atomics-only; glibc's `pthread_mutex_t` (40 bytes on x86-64,
/// 48 on aarch64) is initialised in place by the creator and only ever touched through
/// pthread calls, [`super::fast`] and the kernel, like the header's.
#[repr(C, align(64))]
pub(crate) struct MutexCell([AtomicU64; 8]);

const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() <= 64);

// SAFETY: atomics only; the all-zero pattern is valid storage (initialised before publish).
unsafe impl SharedState for MutexCell {}

impl MutexCell {
    fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.0.as_ptr().cast_mut().cast()
    }

    /// Initialise the mutex (a non-recursive robust one, like a `Lock`'s). Creator only,
    /// from the `init` of [`Region::build`], before the header is published; refused on a
    /// cell that is not all zero (an initialised mutex, possibly in use).
    pub(crate) fn init(&self) -> Result<()> {
        if self.0.iter().any(|w| w.load(Ordering::Acquire) != 0) {
            return Err(Error::InvalidArgument {
                what: "mutex cell",
                expected: "fresh (all-zero) storage".into(),
                found: "an initialised mutex".into(),
            });
        }
        // A published cell holds an initialised mutex, never all zero (glibc records its
        // robust, process-shared kind), so all-zero storage is the fresh data area of a
        // segment being built.
        // SAFETY: 64 aligned, all-zero bytes no handle uses yet, large enough for a
        // pthread_mutex_t (asserted above).
        unsafe { RawMutex::init_at(self.ptr(), false) }
    }
}

const TAIL_ALIGN: usize = 64;

fn state_len<S>() -> usize {
    std::mem::size_of::<S>().next_multiple_of(TAIL_ALIGN)
}

/// A primitive's segment: the state `S`, a tail of bytes, and the optional header lock.
pub(crate) struct Region<S> {
    seg: Arc<Segment>,
    state: *const S,
    tail: *mut u8,
    tail_len: usize,
}

impl<S> Clone for Region<S> {
    fn clone(&self) -> Self {
        Region {
            seg: self.seg.clone(),
            state: self.state,
            tail: self.tail,
            tail_len: self.tail_len,
        }
    }
}

// SAFETY: `S: SharedState` is atomics only, the tail is accessed only through the copy methods
// (under the primitive's lock) or as atomics, and `seg` keeps the mapping alive.
unsafe impl<S: SharedState> Send for Region<S> {}
// SAFETY: as above.
unsafe impl<S: SharedState> Sync for Region<S> {}

impl<S> std::fmt::Debug for Region<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.seg.name())
            .field("tail_len", &self.tail_len)
            .finish()
    }
}

/// `pos % cap`, without a division for the usual `pos < 2 * cap` (a queue's offsets).
#[inline(always)]
fn ring_offset(pos: u64, cap: usize) -> usize {
    let cap = cap as u64;
    (if pos < cap {
        pos
    } else if pos < 2 * cap {
        pos - cap
    } else {
        pos % cap
    }) as usize
}

impl<S: SharedState> Region<S> {
    /// Build a segment for a primitive of `kind` (named, with its permission options, if
    /// `name` is given) with a state, a
    /// tail of `tail_len` bytes and the header lock `lock`; `init` fills the state before the
    /// header is published.
    pub(crate) fn build(
        name: Option<(&str, &Options)>,
        kind: SegKind,
        lock: LockKind,
        tail_len: usize,
        init: impl FnOnce(&S),
    ) -> Result<(Region<S>, Option<RawMutex>)> {
        let tail_len = tail_len.next_multiple_of(8);
        let len = state_len::<S>()
            .checked_add(tail_len)
            .ok_or(Error::LengthMismatch {
                expected: isize::MAX as usize,
                found: tail_len,
            })?;
        let layout = Layout::new(kind, Some(word()), len / 8, lock);
        let target = match name {
            Some((n, opts)) => Target::Create(n, opts),
            None => Target::Anonymous,
        };
        let mut data = std::ptr::null_mut();
        let built =
            shm::build_or_attach::<RawMutex>(target, layout, &expect(kind, None), |p, _| {
                // SAFETY: `p` is the zeroed, unpublished data area of at least `len` bytes, 8-aligned
                // (segment data offset); S is atomics only, so zero is a valid S.
                init(unsafe { &*p.cast::<S>() });
                data = p;
            })?
            .0;
        Ok((Self::from_data(built.seg, data, tail_len), built.lock))
    }

    fn from_data(seg: Arc<Segment>, data: *mut u8, tail_len: usize) -> Region<S> {
        debug_assert!(data as usize % TAIL_ALIGN == 0 || data as usize % 8 == 0);
        // SAFETY: the data area is at least state_len + tail_len bytes (checked by build/attach).
        let tail = unsafe { data.add(state_len::<S>()) };
        Region {
            seg,
            state: data.cast::<S>(),
            tail,
            tail_len,
        }
    }

    /// Open the named primitive `name` of `kind` with header lock `lock`.
    pub(crate) fn attach(
        name: &str,
        kind: SegKind,
        lock: Option<LockKind>,
    ) -> Result<(Region<S>, Option<RawMutex>)> {
        let built = shm::attach::<RawMutex>(name, &expect(kind, lock))?;
        let sl = state_len::<S>();
        let bytes = built.layout.len.saturating_mul(8);
        if bytes < sl {
            return Err(Error::BadSegment {
                name: built.seg.name().unwrap_or(name).to_string(),
                reason: format!("{kind:?} state of {bytes} bytes, expected at least {sl}"),
            });
        }
        let tail_len = bytes - sl;
        Ok((Self::from_data(built.seg, built.data, tail_len), built.lock))
    }

    /// The shared state.
    #[inline(always)]
    pub(crate) fn state(&self) -> &S {
        // SAFETY: `state` points to an S-sized, 64-aligned (segment data offset) part of the
        // live mapping (kept by `seg`); S is atomics only, so shared access is sound.
        unsafe { &*self.state }
    }

    pub(crate) fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    pub(crate) fn tail_len(&self) -> usize {
        self.tail_len
    }

    /// A handle on the mutex in `cell`, a field of this region's state initialised by
    /// [`MutexCell::init`] before the segment was published.
    pub(crate) fn mutex(&self, cell: &MutexCell) -> RawMutex {
        let p = cell.ptr() as usize;
        let s = self.state as usize;
        assert!(p >= s && p + std::mem::size_of::<MutexCell>() <= s + std::mem::size_of::<S>());
        // SAFETY: the cell lies inside this region's state (asserted), in the mapping `seg`
        // keeps alive; the creator initialised it before publishing the header, which every
        // handle's build/attach waited for.
        unsafe { RawMutex::attach(self.seg.clone(), cell.ptr(), false) }
    }

    /// The tail as `n` values of an atomics-only type (slots).
    pub(crate) fn slots<T: SharedState>(&self) -> &[T] {
        let n = self.tail_len / std::mem::size_of::<T>();
        assert!(self.tail as usize % std::mem::align_of::<T>() == 0);
        // SAFETY: n * size_of::<T>() <= tail_len bytes of the live mapping, aligned (asserted),
        // T is atomics only (zero is valid) so shared access from many processes is sound.
        unsafe { std::slice::from_raw_parts(self.tail.cast::<T>(), n) }
    }

    /// Copy `src` into the tail used as a ring, starting at `pos % tail_len` and wrapping.
    ///
    /// The caller holds the primitive's lock, which orders these plain copies with the
    /// readers'; `src.len() <= tail_len`.
    pub(crate) fn ring_write(&self, pos: u64, src: &[u8]) {
        let cap = self.tail_len;
        assert!(src.len() <= cap && cap > 0);
        let off = ring_offset(pos, cap);
        let first = src.len().min(cap - off);
        // SAFETY: off + first <= cap and src.len() - first <= cap: both ranges are inside the
        // tail of the live mapping; the lock excludes other accessors of these bytes; src is
        // private memory and cannot overlap the mapping's ring range we write.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.tail.add(off), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.tail, src.len() - first);
        }
    }

    /// Copy from the ring at `pos % tail_len` (wrapping) into `dst`. Same contract as
    /// [`ring_write`](Self::ring_write).
    pub(crate) fn ring_read(&self, pos: u64, dst: &mut [u8]) {
        let cap = self.tail_len;
        assert!(dst.len() <= cap && cap > 0);
        let off = ring_offset(pos, cap);
        let first = dst.len().min(cap - off);
        // SAFETY: as in ring_write, with the copy direction reversed.
        unsafe {
            std::ptr::copy_nonoverlapping(self.tail.add(off), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.tail,
                dst.as_mut_ptr().add(first),
                dst.len() - first,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Spin policy

/// Who touched a primitive last: the adaptive spin's view of the other side.
///
/// Every operation records `(pid, cpu)` of its caller in one word. A waiter spins only when
/// the last other process it saw is running on *another* CPU (spinning on the CPU the peer
/// needs only delays it), and only for a bounded, self-tuning budget.
#[repr(C)]
#[derive(Default)]
pub(crate) struct Peers {
    /// `pid << 32 | cpu` of the two most recent distinct processes: [latest, previous].
    last: [AtomicU64; 2],
}

// SAFETY: atomics only; zero means "nobody yet".
unsafe impl SharedState for Peers {}

fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes no arguments and only reads the CPU id (vDSO/rseq).
    let c = unsafe { libc::sched_getcpu() };
    c.max(0) as u32
}

/// More than one CPU online, so a spinner can overlap with a peer on another CPU. Not this
/// process's affinity (`available_parallelism`): a process pinned to one CPU whose peer is
/// pinned to another is exactly the case spinning serves.
pub(crate) fn can_spin() -> bool {
    static CPUS: AtomicU32 = AtomicU32::new(0);
    let mut n = CPUS.load(Ordering::Relaxed);
    if n == 0 {
        n = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
            .ok()
            .flatten()
            .unwrap_or(1)
            .clamp(1, 1 << 20) as u32;
        CPUS.store(n, Ordering::Relaxed);
    }
    n > 1
}

impl Peers {
    /// Record the caller as the latest process to use the primitive.
    #[inline]
    pub(crate) fn note(&self) {
        let me = u64::from(my_pid()) << 32;
        let word = me | u64::from(current_cpu());
        let latest = self.last[0].load(Ordering::Relaxed);
        if latest == word {
            return;
        }
        if latest >> 32 != me >> 32 {
            self.last[1].store(latest, Ordering::Relaxed);
        }
        self.last[0].store(word, Ordering::Relaxed);
    }

    /// True when the most recent other process was last seen on another CPU.
    #[inline]
    pub(crate) fn peer_elsewhere(&self) -> bool {
        if !can_spin() {
            return false;
        }
        let me = u64::from(my_pid());
        let cpu = u64::from(current_cpu());
        for w in &self.last {
            let w = w.load(Ordering::Relaxed);
            if w != 0 && w >> 32 != me {
                return w & 0xffff_ffff != cpu;
            }
        }
        false
    }
}

/// Longest spin before sleeping.
pub(crate) const SPIN_MAX: Duration = Duration::from_micros(50);

/// Spin until `ready()` or the budget passes; true if ready. Checks the clock every 64 turns.
#[inline]
pub(crate) fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return ready();
        }
    }
}

/// A handle's adaptive spin budget (per handle, not shared): doubles after a spin that saw the
/// peer's signal, halves after one that did not, between [`SPIN_MIN`] and [`SPIN_MAX`].
#[derive(Debug)]
pub(crate) struct Spinner(AtomicU32);

/// Shortest spin budget.
pub(crate) const SPIN_MIN: Duration = Duration::from_micros(2);

impl Default for Spinner {
    fn default() -> Self {
        Spinner(AtomicU32::new(SPIN_MAX.as_nanos() as u32))
    }
}

impl Clone for Spinner {
    fn clone(&self) -> Self {
        Spinner::default()
    }
}

impl Spinner {
    /// Spin for `ready` if the peer runs on another CPU; true if it became ready.
    #[inline]
    pub(crate) fn spin(&self, peers: &Peers, ready: impl FnMut() -> bool) -> bool {
        if !fault::SPIN.load(Ordering::Relaxed) || !peers.peer_elsewhere() {
            return false;
        }
        let b = self.0.load(Ordering::Relaxed);
        let ok = spin_until(Duration::from_nanos(u64::from(b)), ready);
        let next = if ok {
            (b.saturating_mul(2)).min(SPIN_MAX.as_nanos() as u32)
        } else {
            (b / 2).max(SPIN_MIN.as_nanos() as u32)
        };
        self.0.store(next, Ordering::Relaxed);
        ok
    }
}

/// `name`, `persist` and `unlink` for a primitive handle with a `region` field.
macro_rules! named_methods {
    ($ty:ident, $new:literal) => {
        impl $ty {
            /// The OS name (`/name`) of a named primitive, `None` for an anonymous one.
            ///
            /// ```
            #[doc = concat!("let p = ", $new, ";")]
            /// assert_eq!(p.name(), None);
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn name(&self) -> Option<&str> {
                self.region.segment().name()
            }

            /// Keep the name in `/dev/shm` when the creator's handles drop (by default the
            /// creating process removes it).
            ///
            /// ```
            #[doc = concat!("let p = ", $new, ";")]
            /// p.persist(); // no effect on an anonymous one
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn persist(&self) {
                self.region.segment().persist();
            }

            /// Remove the name now; processes that have it open keep using it.
            ///
            /// ```
            #[doc = concat!("let p = ", $new, ";")]
            /// p.unlink()?; // nothing to do for an anonymous one
            /// # Ok::<(), mpshare::Error>(())
            /// ```
            pub fn unlink(&self) -> $crate::Result<()> {
                self.region.segment().unlink()
            }
        }
    };
}
pub(crate) use named_methods;

/// `create`, else `open` when the name exists (a creator racing us is waited for by `open`).
pub(crate) fn open_or_create<T>(
    create: impl FnOnce() -> Result<T>,
    open: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match create() {
        Err(Error::AlreadyExists { .. }) => open(),
        r => r,
    }
}
