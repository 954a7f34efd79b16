//! The shared ring every queue kind is built on: two robust locks, packed indexes, futex
//! words.
//!
//! Messages are records in a byte ring (the segment's tail): an 8-byte header (`len: u32`,
//! reserved `u32`) and the payload, padded to 8 bytes, copied in two parts at the wrap.
//!
//! **Two sides.** Producers serialise on a robust mutex of their own (in the state, on its own
//! cache lines); consumers on the segment header's robust lock. Each side owns one index word,
//! `tail` (producers) and `head` (consumers), each on its own cache lines: the byte offset of
//! the next record (low 32 bits) and the number of records ever put / taken, mod 2³² (high 32
//! bits). A put writes its record into free space, then publishes it with one release store of
//! `tail`; a get copies the record out, then frees it with one release store of `head`. That
//! single store is the commit: a producer killed before it leaves nothing visible (the bytes
//! it wrote are free space), a consumer killed before it leaves its message queued, and after
//! it the operation happened; a plain `Queue` needs no journal. The number of messages is
//! `tail.count - head.count`; the bytes in use follow from the two offsets (equal offsets with
//! a non-zero count: the ring is full). Each side keeps the other side's index as it last
//! loaded it (`head_seen`, `tail_seen`, under its own lock) and reloads it only when that
//! stale value says "full" / "empty", so a one-producer one-consumer pair shares no lock and
//! moves the index lines once per batch, not once per message.
//!
//! **Sleeping.** A sleeper reads the sequence word, registers (sleeper count), re-checks the
//! other side's index with `SeqCst`, and sleeps on the word as it read it (a waker that claims
//! the registration moves the word after that read, so the sleep cannot miss it); a committer stores its index and
//! reads the sleeper count, both `SeqCst` (its own cache lines, not written while
//! nobody sleeps): one of the two sees the other, so no wake-up is lost and no `FUTEX_WAKE` is
//! made while nobody sleeps. A waker *claims* registered sleepers (decrements the count), so
//! the commits that follow before the sleeper runs do not call the kernel again.
//!
//! **JoinableQueue.** `task_done` counts `dones`, `join`'s reaping counts `lost`; the
//! unfinished tasks are `tail.count - dones - lost` (mod 2³²); both counters change under the
//! consumer lock. Per consumer process (pid + start time, up to [`CONSUMER_SLOTS`] at once)
//! the queue records how many messages it took with `get` and has not marked done. An
//! operation that changes a slot first writes a journal (the slot's old count, and the value
//! the word whose store commits the operation — `head`, `dones` or `lost` — will have): the
//! next consumer-lock holder told `owner_died` compares that word with the journal and puts
//! the slot back unless the commit happened. `join` looks for dead consumers every
//! [`DEATH_POLL`](futex::DEATH_POLL): their outstanding tasks are added to `lost`, which
//! `join` then reports.
//!
//! **Layout.** The state starts with [`QUEUE_MAGIC`] (queue layout 2). The first word of
//! layout 1 (one lock, a journal of four counters) was the ring capacity, and its state was
//! smaller: each build refuses the other's queue segments with `BadSegment`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::shm::{ElemDesc, LockKind, Options, SegKind};
use std::sync::Arc;

use crate::synchronize::futex::{
    self, fault, Deadline, MutexCell, Peers, ProcId, ProcSlot, Region, SharedState, Spinner,
};
use crate::synchronize::raw::RawMutex;
use crate::typecode::TypeCode;
use crate::{Error, Result};

/// Bytes of a record header.
pub(crate) const REC_HEADER: usize = 8;

/// Size of the record holding a `len`-byte message.
pub(crate) fn record_len(len: usize) -> usize {
    REC_HEADER + len.next_multiple_of(8)
}

/// Consumer processes a `JoinableQueue` tracks at once; a consumer beyond them takes tasks
/// untracked (its tasks are not recovered if it dies).
pub(crate) const CONSUMER_SLOTS: usize = 64;

/// First word of a queue's state: `"MPSQ"` and queue layout 2 (two locks, packed indexes).
pub(crate) const QUEUE_MAGIC: u64 = 0x4d50_5351_0000_0002;

/// Largest ring: offsets are 32-bit.
pub(crate) const MAX_CAPACITY: usize = (u32::MAX as usize) & !7;

/// Its own pair of cache lines (the adjacent-line prefetcher pulls lines in pairs).
#[repr(C, align(128))]
struct Line<T>(T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Written by the creator only.
#[repr(C)]
struct Config {
    /// [`QUEUE_MAGIC`].
    magic: AtomicU64,
    /// Ring bytes (the segment tail).
    capacity: AtomicU64,
    /// Most messages at once; 0 = only the byte capacity limits.
    maxsize: AtomicU64,
    /// Element of a typed queue (typecode, size, align, type hash); all 0 for byte messages.
    elem_code: AtomicU32,
    elem_size: AtomicU32,
    elem_align: AtomicU32,
    _pad: AtomicU32,
    elem_hash: AtomicU64,
}

/// Producer side, under the producer lock.
#[repr(C)]
struct Producer {
    lock: MutexCell,
    /// `head` as this side last loaded it.
    head_seen: AtomicU64,
}

/// Consumer side, under the consumer (header) lock.
#[repr(C)]
struct Consumer {
    /// `tail` as this side last loaded it.
    tail_seen: AtomicU64,
    /// `task_done` calls, ever (joinable queues).
    dones: AtomicU64,
    /// Tasks of dead consumers, ever (joinable queues).
    lost: AtomicU64,
    /// Journal of the slot change in progress: which word's store commits it (0: none), the
    /// value that word has once committed, 1 + the slot index (0: none), the slot's old count.
    j_kind: AtomicU64,
    j_new: AtomicU64,
    j_slot: AtomicU64,
    j_slot_count: AtomicU64,
    /// Futex word (sequence) `join` sleeps on, and its sleeper count.
    all_done: AtomicU32,
    join_waiters: AtomicU32,
}

const J_HEAD: u64 = 1;
const J_DONES: u64 = 2;
const J_LOST: u64 = 3;

/// A futex word (sequence number) and its registered sleepers.
#[repr(C)]
struct Sleep {
    word: AtomicU32,
    waiters: AtomicU32,
}

#[repr(C)]
pub(crate) struct QState {
    config: Line<Config>,
    /// Producers' index: offset | count << 32.
    tail: Line<AtomicU64>,
    /// Consumers' index: offset | count << 32.
    head: Line<AtomicU64>,
    producer: Line<Producer>,
    consumer: Line<Consumer>,
    not_empty: Line<Sleep>,
    not_full: Line<Sleep>,
    peers: Line<Peers>,
    /// Per consumer process: tasks taken with `get` and not yet marked done (joinable queues).
    /// A slot with count 0 is free, whatever pid it names.
    consumers: [ProcSlot; CONSUMER_SLOTS],
}

// SAFETY: atomics only (a MutexCell is atomics too); zero is an empty queue, and the producer
// mutex is initialised by the creator before the segment is published.
unsafe impl SharedState for QState {}

#[inline(always)]
fn off(w: u64) -> u64 {
    w & 0xffff_ffff
}

#[inline(always)]
fn cnt(w: u64) -> u32 {
    (w >> 32) as u32
}

#[inline(always)]
fn pack(off: u64, cnt: u32) -> u64 {
    off | (u64::from(cnt) << 32)
}

/// Messages between index words `h` and `t` (`h` loaded no later than `t`).
#[inline(always)]
fn count(h: u64, t: u64) -> u64 {
    u64::from(cnt(t).wrapping_sub(cnt(h)))
}

/// Ring bytes between index words `h` and `t`.
#[inline(always)]
fn used(h: u64, t: u64, cap: u64) -> u64 {
    if cnt(h) == cnt(t) {
        return 0;
    }
    match (off(t) + cap - off(h)) % cap {
        0 => cap,
        d => d,
    }
}

/// One queue segment.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    region: Region<QState>,
    /// Consumer lock (the header's).
    lock: RawMutex,
    /// Producer lock (in the state).
    plock: RawMutex,
    spin: Spinner,
    /// Ring bytes.
    cap: u64,
    /// A `JoinableQueue`: consumers are tracked.
    joinable: bool,
    /// The `lost` count this handle (and its clones) has reported.
    lost_seen: Arc<AtomicU64>,
}

/// Holds a queue lock; unlocks on drop.
struct Held<'a>(&'a RawMutex);

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Take up to `n` registered sleepers off `sleepers`; true if there were any.
///
/// A claimed sleeper sees its sequence word moved and does not count itself out; one that
/// wakes with the word unmoved (timeout, signal, or its condition held before it slept) does
/// ([`unclaimed`]). A sleeper that saw the word move for another's claim stays counted: the
/// count may be high (an extra wake call later).
fn claim(sleepers: &AtomicU32, n: u32) -> bool {
    let mut v = sleepers.load(Ordering::SeqCst);
    while v > 0 {
        match sleepers.compare_exchange(v, v - v.min(n), Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(now) => v = now,
        }
    }
    false
}

/// After a sleep on `word` registered with `seq`: count this sleeper out unless a waker
/// claimed it (moved the word).
fn unclaimed(sleepers: &AtomicU32, word: &AtomicU32, seq: u32) {
    if word.load(Ordering::SeqCst) == seq {
        let _ = sleepers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1));
    }
}

/// Description of a typed queue's element, as stored.
fn elem_of(c: &Config) -> Option<(u32, u32, u32, u64)> {
    let size = c.elem_size.load(Ordering::Relaxed);
    (size != 0).then(|| {
        (
            c.elem_code.load(Ordering::Relaxed),
            size,
            c.elem_align.load(Ordering::Relaxed),
            c.elem_hash.load(Ordering::Relaxed),
        )
    })
}

impl Ring {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.region.segment()
    }

    pub(crate) fn build(
        name: Option<(&str, &Options)>,
        kind: SegKind,
        capacity: usize,
        maxsize: usize,
        elem: Option<ElemDesc>,
    ) -> Result<Ring> {
        let cap = capacity.next_multiple_of(8);
        if cap < record_len(1) || cap > MAX_CAPACITY {
            return Err(Error::InvalidArgument {
                what: "capacity",
                expected: format!("{} to {MAX_CAPACITY} bytes", record_len(1)),
                found: capacity.to_string(),
            });
        }
        if let Some(e) = elem {
            if record_len(e.size) > cap {
                return Err(Error::MessageTooLarge {
                    len: e.size,
                    capacity: cap,
                    max: cap - REC_HEADER,
                });
            }
        }
        let mut init = Ok(());
        let (region, lock) = Region::build(name, kind, LockKind::Lock, cap, |s: &QState| {
            let c = &s.config;
            c.magic.store(QUEUE_MAGIC, Ordering::Relaxed);
            c.capacity.store(cap as u64, Ordering::Relaxed);
            c.maxsize.store(maxsize as u64, Ordering::Relaxed);
            if let Some(e) = elem {
                c.elem_code.store(
                    e.typecode.map_or(0, |t| t.as_char() as u32),
                    Ordering::Relaxed,
                );
                c.elem_size.store(e.size as u32, Ordering::Relaxed);
                c.elem_align.store(e.align as u32, Ordering::Relaxed);
                c.elem_hash.store(e.type_hash, Ordering::Relaxed);
            }
            init = s.producer.lock.init();
        })?;
        init?;
        Self::assemble(region, lock, name.map_or("<anonymous>", |n| n.0), kind)
    }

    pub(crate) fn open(name: &str, kind: SegKind, elem: Option<ElemDesc>) -> Result<Ring> {
        let (region, lock) = Region::<QState>::attach(name, kind, Some(LockKind::Lock))?;
        Self::check_layout(&region, name)?;
        let have = elem_of(&region.state().config);
        let stored = have.map(|(c, size, align, hash)| ElemDesc {
            typecode: char::from_u32(c).and_then(|c| TypeCode::try_from(c).ok()),
            size: size as usize,
            align: align as usize,
            type_hash: hash,
            type_name: "?",
        });
        let same = match (&stored, &elem) {
            (None, None) => true,
            // Same rule as Value/Array: 'l' opens as 'q', a struct needs size, alignment and
            // type-name hash to match.
            (Some(h), Some(w)) => h.compatible(w),
            _ => false,
        };
        if !same {
            let show = |e: Option<(u32, u32, u32, u64)>| match e {
                None => format!("{kind:?} of byte messages"),
                Some((c, s, a, _)) if c != 0 => {
                    format!(
                        "{kind:?} of '{}' ({s} bytes, align {a})",
                        char::from_u32(c).unwrap_or('?')
                    )
                }
                Some((_, s, a, _)) => format!("{kind:?} of a struct ({s} bytes, align {a})"),
            };
            return Err(Error::LayoutMismatch {
                name: region.segment().name().unwrap_or(name).to_string(),
                holds: show(have),
                asked: elem.map_or_else(|| show(None), |e| format!("{kind:?} of {}", e.describe())),
            });
        }
        Self::assemble(region, lock, name, kind)
    }

    /// Refuse a queue of another layout (an older build's: its first word was the capacity).
    fn check_layout(region: &Region<QState>, name: &str) -> Result<()> {
        let magic = region.state().config.magic.load(Ordering::Relaxed);
        if magic == QUEUE_MAGIC {
            return Ok(());
        }
        let what = if magic >> 32 == QUEUE_MAGIC >> 32 {
            format!("queue layout {}", magic & 0xffff_ffff)
        } else {
            "queue layout 1 (an older mpshare build)".to_string()
        };
        Err(Error::BadSegment {
            name: region.segment().name().unwrap_or(name).to_string(),
            reason: format!(
                "{what}; this build reads queue layout {}",
                QUEUE_MAGIC & 0xffff
            ),
        })
    }

    fn assemble(
        region: Region<QState>,
        lock: Option<RawMutex>,
        name: &str,
        kind: SegKind,
    ) -> Result<Ring> {
        let bad = |reason: String| Error::BadSegment {
            name: name.to_string(),
            reason,
        };
        Self::check_layout(&region, name)?;
        let lock = lock.ok_or_else(|| bad("queue without its lock".into()))?;
        let st = region.state();
        let cap = st.config.capacity.load(Ordering::Relaxed);
        if cap as usize != region.tail_len() || cap < record_len(1) as u64 {
            return Err(bad(format!(
                "queue capacity {cap} but {} ring bytes",
                region.tail_len()
            )));
        }
        let plock = region.mutex(&st.producer.lock);
        let lost = st.consumer.lost.load(Ordering::Acquire);
        Ok(Ring {
            region,
            lock,
            plock,
            spin: Spinner::default(),
            cap,
            joinable: kind == SegKind::JoinableQueue,
            lost_seen: Arc::new(AtomicU64::new(lost)),
        })
    }

    #[inline(always)]
    fn st(&self) -> &QState {
        self.region.state()
    }

    pub(crate) fn segment_name(&self) -> Option<&str> {
        self.region.segment().name()
    }

    pub(crate) fn persist(&self) {
        self.region.segment().persist();
    }

    pub(crate) fn unlink(&self) -> Result<()> {
        self.region.segment().unlink()
    }

    /// Ring bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.st().config.maxsize.load(Ordering::Relaxed) as usize
    }

    /// Largest message that fits.
    pub(crate) fn max_message(&self) -> usize {
        self.capacity() - REC_HEADER
    }

    /// Take `lock` (spinning a little while it is held by a process on another CPU).
    #[inline]
    fn take<'a>(&'a self, lock: &'a RawMutex) -> Result<(Held<'a>, bool)> {
        let how = lock.lock_adaptive(|| self.st().peers.peer_elsewhere())?;
        Ok((Held(lock), how.owner_died()))
    }

    /// The producer lock. A producer that died holding it left nothing to repair (its record
    /// was not published); it may owe sleepers a wake-up.
    #[inline]
    fn producer(&self) -> Result<Held<'_>> {
        let (held, died) = self.take(&self.plock)?;
        if died {
            self.wake_everyone();
        }
        Ok(held)
    }

    /// The consumer lock, repairing a consumer slot a dead holder left half-changed.
    #[inline]
    fn consumer(&self) -> Result<Held<'_>> {
        let (held, died) = self.take(&self.lock)?;
        if died {
            self.recover();
        }
        Ok(held)
    }

    #[cold]
    fn recover(&self) {
        let st = self.st();
        let c = &st.consumer;
        let kind = c.j_kind.load(Ordering::Acquire);
        if kind != 0 {
            let word = match kind {
                J_HEAD => st.head.load(Ordering::Relaxed),
                J_DONES => c.dones.load(Ordering::Relaxed),
                _ => c.lost.load(Ordering::Relaxed),
            };
            let committed = word == c.j_new.load(Ordering::Relaxed);
            if !committed {
                if let Some(i) = (c.j_slot.load(Ordering::Relaxed) as usize).checked_sub(1) {
                    if let Some(s) = st.consumers.get(i) {
                        let n = c.j_slot_count.load(Ordering::Relaxed);
                        s.count.store(n as u32, Ordering::Relaxed);
                    }
                }
            }
            c.j_kind.store(0, Ordering::Release);
        }
        self.wake_everyone();
    }

    /// After a holder died: sleepers may have missed a wake-up it owed them.
    #[cold]
    fn wake_everyone(&self) {
        let st = self.st();
        for w in [&st.not_empty.word, &st.not_full.word, &st.consumer.all_done] {
            w.fetch_add(1, Ordering::SeqCst);
            futex::wake_all(w);
        }
    }

    /// Start a journaled slot change whose commit is the store of `new` into the `kind` word
    /// (consumer lock held).
    #[inline]
    fn begin(&self, kind: u64, new: u64) {
        let c = &self.st().consumer;
        c.j_new.store(new, Ordering::Relaxed);
        c.j_slot.store(0, Ordering::Relaxed);
        c.j_kind.store(kind, Ordering::Release);
    }

    /// Finish a journaled change (its commit store is done; consumer lock held).
    #[inline]
    fn end(&self) {
        self.st().consumer.j_kind.store(0, Ordering::Release);
    }

    /// The offset `rec` bytes after `pos` (both at most the capacity).
    #[inline(always)]
    fn advance(&self, pos: u64, rec: u64) -> u64 {
        let p = pos + rec;
        if p >= self.cap {
            p - self.cap
        } else {
            p
        }
    }

    /// True if a record of `rec` bytes fits after `t` with the head at `h`.
    #[inline(always)]
    fn fits(&self, h: u64, t: u64, rec: u64, maxsize: u64) -> bool {
        used(h, t, self.cap) + rec <= self.cap && (maxsize == 0 || count(h, t) < maxsize)
    }

    /// After a commit (a `SeqCst` store of an index): wake up to `n` sleepers of the other
    /// side, if any registered.
    #[inline(always)]
    fn wake(&self, s: &Sleep, n: u32) {
        // SeqCst, like the index store before it and the sleeper's registration and re-check:
        // either the sleeper sees our index, or we see its registration.
        if s.waiters.load(Ordering::SeqCst) != 0 {
            self.wake_slow(s, n);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_slow(&self, s: &Sleep, n: u32) {
        if claim(&s.waiters, n) {
            s.word.fetch_add(1, Ordering::SeqCst);
            self.st().peers.note();
            if n == 1 {
                futex::wake(&s.word, 1);
            } else {
                futex::wake_all(&s.word);
            }
        }
    }

    /// Put one message of `len` bytes written by `write(ring, pos)`, waiting per `timeout`
    /// (`Some(ZERO)`: don't wait).
    #[inline]
    pub(crate) fn put_with(
        &self,
        len: usize,
        timeout: Option<Duration>,
        write: impl Fn(&Region<QState>, u64),
    ) -> Result<()> {
        let rec = record_len(len);
        let cap = self.capacity();
        if rec > cap || len > u32::MAX as usize {
            return Err(Error::MessageTooLarge {
                len,
                capacity: cap,
                max: self.max_message(),
            });
        }
        let rec = rec as u64;
        let st = self.st();
        let maxsize = st.config.maxsize.load(Ordering::Relaxed);
        let mut deadline = None;
        let mut may_spin = timeout != Some(Duration::ZERO);
        loop {
            let g = self.producer()?;
            // Only producer-lock holders store `tail`.
            let t = st.tail.load(Ordering::Relaxed);
            let mut h = st.producer.head_seen.load(Ordering::Relaxed);
            if !self.fits(h, t, rec, maxsize) {
                h = st.head.load(Ordering::Acquire);
                st.producer.head_seen.store(h, Ordering::Relaxed);
            }
            if self.fits(h, t, rec, maxsize) {
                let pos = off(t);
                let mut hdr = [0u8; REC_HEADER];
                hdr[..4].copy_from_slice(&(len as u32).to_ne_bytes());
                self.region.ring_write(pos, &hdr);
                write(&self.region, pos + REC_HEADER as u64);
                fault::hit(fault::QUEUE_PUT_COMMIT);
                // The commit: the record becomes visible with this store.
                let next = pack(self.advance(pos, rec), cnt(t).wrapping_add(1));
                st.tail.store(next, Ordering::SeqCst);
                drop(g);
                // Claim one registered sleeper (it will not count itself out), so the puts that
                // follow before it runs do not call the kernel again.
                self.wake(&st.not_empty, 1);
                return Ok(());
            }
            let d = *deadline.get_or_insert_with(|| Deadline::after(timeout));
            if d.passed() {
                return Err(Error::QueueFull);
            }
            if may_spin {
                // Spin unregistered (consumers then skip the wake call), then re-check.
                may_spin = false;
                drop(g);
                st.peers.note();
                self.spin.spin(&st.peers, || {
                    self.fits(st.head.load(Ordering::Acquire), t, rec, maxsize)
                });
                continue;
            }
            // The word first: a waker that claims this registration moves the word after it,
            // so the sleep below returns at once instead of missing that wake-up.
            let seq = st.not_full.word.load(Ordering::SeqCst);
            st.not_full.waiters.fetch_add(1, Ordering::SeqCst);
            let h = st.head.load(Ordering::SeqCst);
            if self.fits(h, t, rec, maxsize) {
                // A get freed room after all.
                unclaimed(&st.not_full.waiters, &st.not_full.word, seq);
                continue;
            }
            drop(g);
            futex::wait(&st.not_full.word, seq, d.remaining());
            unclaimed(&st.not_full.waiters, &st.not_full.word, seq);
            may_spin = true;
        }
    }

    /// Put a byte message.
    #[inline]
    pub(crate) fn put(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        self.put_with(msg.len(), timeout, |r, pos| {
            let half = msg.len() / 2;
            r.ring_write(pos, &msg[..half]);
            fault::hit(fault::QUEUE_PUT_COPY);
            r.ring_write(pos + half as u64, &msg[half..]);
        })
    }

    /// Take the oldest message: `read(ring, pos, len)` copies it out. Waits per `timeout`.
    #[inline]
    pub(crate) fn get_with<R>(
        &self,
        timeout: Option<Duration>,
        mut read: impl FnMut(&Region<QState>, u64, usize) -> Result<R>,
    ) -> Result<R> {
        let st = self.st();
        let mut deadline = None;
        let mut may_spin = timeout != Some(Duration::ZERO);
        loop {
            let g = self.consumer()?;
            // Only consumer-lock holders store `head`.
            let h = st.head.load(Ordering::Relaxed);
            let mut t = st.consumer.tail_seen.load(Ordering::Relaxed);
            if cnt(t) == cnt(h) {
                t = st.tail.load(Ordering::Acquire);
                st.consumer.tail_seen.store(t, Ordering::Relaxed);
            }
            if cnt(t) != cnt(h) {
                let pos = off(h);
                let mut hdr = [0u8; REC_HEADER];
                self.region.ring_read(pos, &mut hdr);
                let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
                let rec = record_len(len) as u64;
                if rec > used(h, t, self.cap) {
                    return Err(Error::BadSegment {
                        name: self.segment_name().unwrap_or("<anonymous>").to_string(),
                        reason: format!("queue record of {len} bytes at offset {pos}"),
                    });
                }
                let out = read(&self.region, pos + REC_HEADER as u64, len)?;
                fault::hit(fault::QUEUE_GET_COPY);
                let next = pack(self.advance(pos, rec), cnt(h).wrapping_add(1));
                if self.joinable {
                    self.begin(J_HEAD, next);
                    self.track_get();
                }
                fault::hit(fault::QUEUE_GET_COMMIT);
                // The commit: the record's bytes are free with this store.
                st.head.store(next, Ordering::SeqCst);
                if self.joinable {
                    self.end();
                }
                drop(g);
                self.wake(&st.not_full, u32::MAX);
                return Ok(out);
            }
            let d = *deadline.get_or_insert_with(|| Deadline::after(timeout));
            if d.passed() {
                return Err(Error::QueueEmpty);
            }
            if may_spin {
                may_spin = false;
                drop(g);
                st.peers.note();
                self.spin
                    .spin(&st.peers, || cnt(st.tail.load(Ordering::Relaxed)) != cnt(h));
                continue;
            }
            // The word first (see put_with).
            let seq = st.not_empty.word.load(Ordering::SeqCst);
            st.not_empty.waiters.fetch_add(1, Ordering::SeqCst);
            if cnt(st.tail.load(Ordering::SeqCst)) != cnt(h) {
                // A put committed after all.
                unclaimed(&st.not_empty.waiters, &st.not_empty.word, seq);
                continue;
            }
            drop(g);
            futex::wait(&st.not_empty.word, seq, d.remaining());
            unclaimed(&st.not_empty.waiters, &st.not_empty.word, seq);
            may_spin = true;
        }
    }

    /// Take a byte message into `buf` (its previous contents are replaced).
    #[inline]
    pub(crate) fn get_into(&self, buf: &mut Vec<u8>, timeout: Option<Duration>) -> Result<()> {
        self.get_with(timeout, |r, pos, len| {
            buf.clear();
            buf.resize(len, 0);
            r.ring_read(pos, buf);
            Ok(())
        })
    }

    /// `head` and `tail` at one instant (no lock): `head` read on both sides of `tail` until
    /// it did not move, so the pair is one the queue was in (a few tries, then the last pair,
    /// which can only overstate what is queued).
    fn indexes(&self) -> (u64, u64) {
        let st = self.st();
        let mut h = st.head.load(Ordering::Acquire);
        for _ in 0..64 {
            let t = st.tail.load(Ordering::Acquire);
            let h2 = st.head.load(Ordering::Acquire);
            if h2 == h {
                return (h, t);
            }
            h = h2;
        }
        (h, st.tail.load(Ordering::Acquire))
    }

    /// Messages in the queue now.
    pub(crate) fn qsize(&self) -> usize {
        let (h, t) = self.indexes();
        count(h, t) as usize
    }

    /// Ring bytes in use now.
    pub(crate) fn bytes_used(&self) -> usize {
        let (h, t) = self.indexes();
        used(h, t, self.cap).min(self.cap) as usize
    }

    pub(crate) fn full(&self) -> bool {
        let (h, t) = self.indexes();
        !self.fits(h, t, record_len(0) as u64, self.maxsize() as u64)
    }

    // ---- joinable ----

    /// Tasks put and neither marked done nor lost, from `tail` and the two counters.
    fn outstanding(&self, t: u64) -> u64 {
        let c = &self.st().consumer;
        let settled = c
            .dones
            .load(Ordering::Acquire)
            .wrapping_add(c.lost.load(Ordering::Acquire)) as u32;
        // Never negative in a consistent state; clamp what a racing reader could see.
        u64::from((cnt(t).wrapping_sub(settled) as i32).max(0) as u32)
    }

    /// Journal consumer slot `i` for the change in progress (after `begin`, lock held).
    fn journal_slot(&self, i: usize) {
        let st = self.st();
        let c = st.consumers[i].count.load(Ordering::Relaxed);
        st.consumer
            .j_slot_count
            .store(u64::from(c), Ordering::Relaxed);
        st.consumer.j_slot.store(i as u64 + 1, Ordering::Release);
    }

    /// The caller's consumer slot, or a free one (count 0); `None` when all are busy (lock
    /// held).
    fn find_slot(&self, me: ProcId) -> Option<usize> {
        let mut free = None;
        for (i, s) in self.st().consumers.iter().enumerate() {
            if s.id() == Some(me) {
                return Some(i);
            }
            if free.is_none() && s.count.load(Ordering::Relaxed) == 0 {
                free = Some(i);
            }
        }
        free
    }

    /// Record one task taken by the calling process (inside the journaled change of a get).
    fn track_get(&self) {
        let me = ProcId::current();
        let Some(i) = self.find_slot(me) else {
            return; // every slot busy: this task is untracked
        };
        self.journal_slot(i);
        let s = &self.st().consumers[i];
        if s.id() != Some(me) {
            s.claim(me);
        }
        let c = s.count.load(Ordering::Relaxed);
        s.count.store(c + 1, Ordering::Relaxed);
    }

    /// Credit one `task_done`: to the caller's own outstanding tasks, else to any consumer's
    /// (the task may have been handed to the caller), so the slots never add up to more than
    /// the tasks outstanding (inside the journaled change).
    fn track_done(&self) {
        let me = ProcId::current();
        let slots = &self.st().consumers;
        let busy = |s: &ProcSlot| s.count.load(Ordering::Relaxed) > 0;
        let i = slots
            .iter()
            .position(|s| busy(s) && s.id() == Some(me))
            .or_else(|| slots.iter().position(busy));
        if let Some(i) = i {
            self.journal_slot(i);
            let s = &slots[i];
            s.count
                .store(s.count.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        }
    }

    /// Add the outstanding tasks of dead consumers to `lost` (consumer lock held); true if
    /// any were.
    fn reap(&self) -> bool {
        let st = self.st();
        let mut any = false;
        for (i, s) in st.consumers.iter().enumerate() {
            let c = s.count.load(Ordering::Relaxed);
            if c == 0 || s.id().is_some_and(|id| id.is_alive()) {
                continue;
            }
            let lost = st.consumer.lost.load(Ordering::Relaxed) + u64::from(c);
            self.begin(J_LOST, lost);
            self.journal_slot(i);
            s.count.store(0, Ordering::Relaxed);
            st.consumer.lost.store(lost, Ordering::Release);
            self.end();
            any = true;
        }
        any
    }

    /// Tasks lost to dead consumers since this handle (or a clone) last reported them.
    pub(crate) fn take_lost(&self) -> u64 {
        let lost = self.st().consumer.lost.load(Ordering::Acquire);
        let seen = self.lost_seen.swap(lost, Ordering::AcqRel);
        lost.saturating_sub(seen)
    }

    pub(crate) fn task_done(&self) -> Result<()> {
        let st = self.st();
        let g = self.consumer()?;
        let u = self.outstanding(st.tail.load(Ordering::Acquire));
        if u == 0 {
            return Err(Error::TaskDoneTooManyTimes);
        }
        let dones = st.consumer.dones.load(Ordering::Relaxed) + 1;
        if self.joinable {
            self.begin(J_DONES, dones);
            self.track_done();
        }
        st.consumer.dones.store(dones, Ordering::Release);
        if self.joinable {
            self.end();
        }
        let wake = u == 1 && st.consumer.join_waiters.load(Ordering::SeqCst) > 0;
        if wake {
            st.consumer.all_done.fetch_add(1, Ordering::SeqCst);
        }
        drop(g);
        if wake {
            futex::wake_all(&st.consumer.all_done);
        }
        Ok(())
    }

    pub(crate) fn unfinished(&self) -> u64 {
        self.outstanding(self.st().tail.load(Ordering::Acquire))
    }

    /// Wait until every message put has been marked done or lost to a dead consumer; false on
    /// timeout. Looks for dead consumers every [`DEATH_POLL`](futex::DEATH_POLL).
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<bool> {
        let st = self.st();
        let c = &st.consumer;
        let d = Deadline::after(timeout);
        loop {
            let g = self.consumer()?;
            let busy = || self.outstanding(st.tail.load(Ordering::Acquire)) != 0;
            if self.joinable && busy() && self.reap() {
                c.all_done.fetch_add(1, Ordering::SeqCst);
                futex::wake_all(&c.all_done);
            }
            if !busy() {
                return Ok(true);
            }
            if d.passed() {
                return Ok(false);
            }
            c.join_waiters.fetch_add(1, Ordering::SeqCst);
            let seq = c.all_done.load(Ordering::SeqCst);
            drop(g);
            let nap = if self.joinable {
                Some(d.slice(futex::DEATH_POLL))
            } else {
                d.remaining()
            };
            futex::wait(&c.all_done, seq, nap);
            c.join_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
