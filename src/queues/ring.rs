//! The shared ring every queue kind is built on: a robust lock, a journal, and futex words.
//!
//! Messages are records in a byte ring (the segment's tail): an 8-byte header (`len: u32`,
//! reserved `u32`) and the payload, padded to 8 bytes, copied in two parts at the wrap.
//! `head` and `tail` are byte positions that only grow (offset = position mod capacity).
//!
//! Every change happens under the header's robust [`Lock`](crate::Lock). Before changing the
//! four counters (`head`, `tail`, `count`, `unfinished`) the holder copies them to a journal
//! and marks it valid; after, it clears the mark. A holder killed in between leaves the mark
//! set, and the next locker (told `owner_died`) restores the counters from the journal: a
//! `put` that did not finish is not visible, a `get` that did not finish leaves its message
//! in the queue. Payload bytes written to free space before the commit are simply overwritten
//! later. Sleepers wait on sequence words outside the lock, so a dead process never blocks
//! the others.
//!
//! A `JoinableQueue` also records, per consumer process (pid + start time, up to
//! [`CONSUMER_SLOTS`] at once), how many messages it took with `get` and has not marked done.
//! The slot changed by an operation is journaled with the counters. `join` looks for dead
//! consumers every [`DEATH_POLL`](futex::DEATH_POLL): their outstanding tasks are taken off
//! `unfinished` and added to the `lost` counter, which `join` then reports.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::shm::{ElemDesc, LockKind, Options, SegKind};
use std::sync::Arc;

use crate::synchronize::futex::{
    self, fault, Deadline, Peers, ProcId, ProcSlot, Region, SharedState, Spinner,
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

#[repr(C)]
pub(crate) struct QState {
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
    // Counters, changed under the lock through the journal.
    head: AtomicU64,
    tail: AtomicU64,
    count: AtomicU64,
    unfinished: AtomicU64,
    /// `head`, `tail`, `count`, `unfinished`, `lost` before the change in progress.
    journal: [AtomicU64; 5],
    journal_valid: AtomicU32,
    _pad2: AtomicU32,
    /// 1 + index of the consumer slot the change in progress touches (0: none), and its count
    /// before the change.
    journal_slot: AtomicU64,
    journal_slot_count: AtomicU64,
    /// Tasks of dead consumers taken off `unfinished` (joinable queues), ever.
    lost: AtomicU64,
    // Futex words (sequence numbers) and their sleeper counts.
    not_empty: AtomicU32,
    get_waiters: AtomicU32,
    not_full: AtomicU32,
    put_waiters: AtomicU32,
    all_done: AtomicU32,
    join_waiters: AtomicU32,
    peers: Peers,
    /// Per consumer process: tasks taken with `get` and not yet marked done (joinable queues).
    /// A slot with count 0 is free, whatever pid it names.
    consumers: [ProcSlot; CONSUMER_SLOTS],
}

// SAFETY: atomics only; zero is an empty queue.
unsafe impl SharedState for QState {}

/// One queue segment.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    region: Region<QState>,
    lock: RawMutex,
    spin: Spinner,
    /// A `JoinableQueue`: consumers are tracked.
    joinable: bool,
    /// The `lost` count this handle (and its clones) has reported.
    lost_seen: Arc<AtomicU64>,
}

/// Holds the queue lock; unlocks on drop.
struct Held<'a>(&'a RawMutex);

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Take up to `n` registered sleepers off `sleepers` (lock held); true if there were any.
///
/// A claimed sleeper sees its sequence word moved and does not count itself out; one that
/// wakes with the word unmoved (timeout, signal) does ([`unclaimed`]). A sleeper that saw the
/// word move for another's claim stays counted: the count may be high (an extra wake call
/// later), never low (a lost wake-up).
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
fn elem_of(st: &QState) -> Option<(u32, u32, u32, u64)> {
    let size = st.elem_size.load(Ordering::Relaxed);
    (size != 0).then(|| {
        (
            st.elem_code.load(Ordering::Relaxed),
            size,
            st.elem_align.load(Ordering::Relaxed),
            st.elem_hash.load(Ordering::Relaxed),
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
        if cap < record_len(1) {
            return Err(Error::InvalidArgument {
                what: "capacity",
                expected: format!("at least {} bytes", record_len(1)),
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
        let (region, lock) = Region::build(name, kind, LockKind::Lock, cap, |s: &QState| {
            s.capacity.store(cap as u64, Ordering::Relaxed);
            s.maxsize.store(maxsize as u64, Ordering::Relaxed);
            if let Some(e) = elem {
                s.elem_code.store(
                    e.typecode.map_or(0, |t| t.as_char() as u32),
                    Ordering::Relaxed,
                );
                s.elem_size.store(e.size as u32, Ordering::Relaxed);
                s.elem_align.store(e.align as u32, Ordering::Relaxed);
                s.elem_hash.store(e.type_hash, Ordering::Relaxed);
            }
        })?;
        Self::assemble(region, lock, name.map_or("<anonymous>", |n| n.0), kind)
    }

    pub(crate) fn open(name: &str, kind: SegKind, elem: Option<ElemDesc>) -> Result<Ring> {
        let (region, lock) = Region::<QState>::attach(name, kind, Some(LockKind::Lock))?;
        let st = region.state();
        let have = elem_of(st);
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
        let lock = lock.ok_or_else(|| bad("queue without its lock".into()))?;
        let cap = region.state().capacity.load(Ordering::Relaxed);
        if cap as usize != region.tail_len() || cap < record_len(1) as u64 {
            return Err(bad(format!(
                "queue capacity {cap} but {} ring bytes",
                region.tail_len()
            )));
        }
        let lost = region.state().lost.load(Ordering::Acquire);
        Ok(Ring {
            region,
            lock,
            spin: Spinner::default(),
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
        self.region.tail_len()
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.st().maxsize.load(Ordering::Relaxed) as usize
    }

    /// Largest message that fits.
    pub(crate) fn max_message(&self) -> usize {
        self.capacity() - REC_HEADER
    }

    /// Lock, repairing the counters if the previous holder died mid-change.
    #[inline]
    fn locked(&self) -> Result<Held<'_>> {
        // Spin for a held lock only when the other side was last seen on another CPU (on
        // ours, the holder cannot run while we spin).
        let how = self
            .lock
            .lock_adaptive(|| self.st().peers.peer_elsewhere())?;
        let held = Held(&self.lock);
        if how.owner_died() {
            self.recover();
        }
        Ok(held)
    }

    #[cold]
    fn recover(&self) {
        let st = self.st();
        if st.journal_valid.load(Ordering::Acquire) != 0 {
            let j = &st.journal;
            st.head
                .store(j[0].load(Ordering::Relaxed), Ordering::Relaxed);
            st.tail
                .store(j[1].load(Ordering::Relaxed), Ordering::Relaxed);
            st.count
                .store(j[2].load(Ordering::Relaxed), Ordering::Relaxed);
            st.unfinished
                .store(j[3].load(Ordering::Relaxed), Ordering::Relaxed);
            st.lost
                .store(j[4].load(Ordering::Relaxed), Ordering::Relaxed);
            if let Some(i) = (st.journal_slot.load(Ordering::Relaxed) as usize).checked_sub(1) {
                if let Some(s) = st.consumers.get(i) {
                    let c = st.journal_slot_count.load(Ordering::Relaxed);
                    s.count.store(c as u32, Ordering::Relaxed);
                }
            }
            st.journal_valid.store(0, Ordering::Release);
        }
        // Sleepers may have missed a wake-up the dead holder owed them.
        st.not_empty.fetch_add(1, Ordering::SeqCst);
        st.not_full.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&st.not_empty);
        futex::wake_all(&st.not_full);
        st.all_done.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&st.all_done);
    }

    /// Start a change of the counters (lock held).
    #[inline(always)]
    fn begin(&self) {
        let st = self.st();
        st.journal[0].store(st.head.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[1].store(st.tail.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[2].store(st.count.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[3].store(st.unfinished.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[4].store(st.lost.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal_slot.store(0, Ordering::Relaxed);
        st.journal_valid.store(1, Ordering::Release);
    }

    /// Finish a change of the counters (lock held).
    #[inline(always)]
    fn commit(&self) {
        self.st().journal_valid.store(0, Ordering::Release);
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
        let st = self.st();
        let mut deadline = None;
        let mut may_spin = timeout != Some(Duration::ZERO);
        loop {
            let g = self.locked()?;
            let head = st.head.load(Ordering::Relaxed);
            let tail = st.tail.load(Ordering::Relaxed);
            let count = st.count.load(Ordering::Relaxed);
            let maxsize = st.maxsize.load(Ordering::Relaxed);
            if (tail - head) as usize + rec <= cap && (maxsize == 0 || count < maxsize) {
                let mut h = [0u8; REC_HEADER];
                h[..4].copy_from_slice(&(len as u32).to_ne_bytes());
                self.region.ring_write(tail, &h);
                write(&self.region, tail + REC_HEADER as u64);
                self.begin();
                st.tail.store(tail + rec as u64, Ordering::Relaxed);
                st.count.store(count + 1, Ordering::Relaxed);
                st.unfinished.fetch_add(1, Ordering::Relaxed);
                fault::hit(fault::QUEUE_PUT_COMMIT);
                self.commit();
                // Claim one registered sleeper (it will not count itself out), so the puts
                // that follow before it runs do not call the kernel again.
                let wake = claim(&st.get_waiters, 1);
                if wake {
                    st.not_empty.fetch_add(1, Ordering::SeqCst);
                }
                drop(g);
                if wake {
                    st.peers.note();
                    futex::wake(&st.not_empty, 1);
                }
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
                    // Unlocked: read head before tail. Both only grow and head <= tail at
                    // every instant, so this never underflows and can only overstate the
                    // bytes in use (the put re-checks under the lock).
                    let head = st.head.load(Ordering::Acquire);
                    let used = st.tail.load(Ordering::Acquire).saturating_sub(head);
                    used as usize + rec <= cap
                        && (maxsize == 0 || st.count.load(Ordering::Relaxed) < maxsize)
                });
                continue;
            }
            st.put_waiters.fetch_add(1, Ordering::SeqCst);
            let seq = st.not_full.load(Ordering::SeqCst);
            drop(g);
            futex::wait(&st.not_full, seq, d.remaining());
            unclaimed(&st.put_waiters, &st.not_full, seq);
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
            let g = self.locked()?;
            let count = st.count.load(Ordering::Relaxed);
            if count > 0 {
                let head = st.head.load(Ordering::Relaxed);
                let mut h = [0u8; REC_HEADER];
                self.region.ring_read(head, &mut h);
                let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                if record_len(len) > self.capacity() {
                    return Err(Error::BadSegment {
                        name: self.segment_name().unwrap_or("<anonymous>").to_string(),
                        reason: format!("queue record of {len} bytes at position {head}"),
                    });
                }
                let out = read(&self.region, head + REC_HEADER as u64, len)?;
                fault::hit(fault::QUEUE_GET_COPY);
                self.begin();
                st.head
                    .store(head + record_len(len) as u64, Ordering::Relaxed);
                st.count.store(count - 1, Ordering::Relaxed);
                if self.joinable {
                    self.track_get();
                }
                fault::hit(fault::QUEUE_GET_COMMIT);
                self.commit();
                let wake = claim(&st.put_waiters, u32::MAX);
                if wake {
                    st.not_full.fetch_add(1, Ordering::SeqCst);
                }
                drop(g);
                if wake {
                    st.peers.note();
                    futex::wake_all(&st.not_full);
                }
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
                    .spin(&st.peers, || st.count.load(Ordering::Relaxed) > 0);
                continue;
            }
            st.get_waiters.fetch_add(1, Ordering::SeqCst);
            let seq = st.not_empty.load(Ordering::SeqCst);
            drop(g);
            futex::wait(&st.not_empty, seq, d.remaining());
            unclaimed(&st.get_waiters, &st.not_empty, seq);
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

    /// Messages in the queue now.
    pub(crate) fn qsize(&self) -> usize {
        self.st().count.load(Ordering::Acquire) as usize
    }

    /// Ring bytes in use now.
    pub(crate) fn bytes_used(&self) -> usize {
        let st = self.st();
        let _g = self.locked();
        (st.tail.load(Ordering::Relaxed) - st.head.load(Ordering::Relaxed)) as usize
    }

    pub(crate) fn full(&self) -> bool {
        let st = self.st();
        let maxsize = st.maxsize.load(Ordering::Relaxed);
        let _g = self.locked();
        let used = st.tail.load(Ordering::Relaxed) - st.head.load(Ordering::Relaxed);
        (maxsize != 0 && st.count.load(Ordering::Relaxed) >= maxsize)
            || used as usize + record_len(0) > self.capacity()
    }

    // ---- joinable ----

    /// Journal consumer slot `i` for the change in progress (after `begin`, lock held).
    fn journal_slot(&self, i: usize) {
        let st = self.st();
        let c = st.consumers[i].count.load(Ordering::Relaxed);
        st.journal_slot_count.store(u64::from(c), Ordering::Relaxed);
        st.journal_slot.store(i as u64 + 1, Ordering::Release);
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

    /// Take the outstanding tasks of dead consumers off `unfinished` into `lost` (lock held);
    /// true if any were.
    fn reap(&self) -> bool {
        let st = self.st();
        let mut any = false;
        for (i, s) in st.consumers.iter().enumerate() {
            let c = s.count.load(Ordering::Relaxed);
            if c == 0 || s.id().is_some_and(|id| id.is_alive()) {
                continue;
            }
            self.begin();
            self.journal_slot(i);
            let u = st.unfinished.load(Ordering::Relaxed);
            st.unfinished
                .store(u.saturating_sub(u64::from(c)), Ordering::Relaxed);
            s.count.store(0, Ordering::Relaxed);
            st.lost.fetch_add(u64::from(c), Ordering::Relaxed);
            self.commit();
            any = true;
        }
        any
    }

    /// Tasks lost to dead consumers since this handle (or a clone) last reported them.
    pub(crate) fn take_lost(&self) -> u64 {
        let lost = self.st().lost.load(Ordering::Acquire);
        let seen = self.lost_seen.swap(lost, Ordering::AcqRel);
        lost.saturating_sub(seen)
    }

    pub(crate) fn task_done(&self) -> Result<()> {
        let st = self.st();
        let g = self.locked()?;
        let u = st.unfinished.load(Ordering::Relaxed);
        if u == 0 {
            return Err(Error::TaskDoneTooManyTimes);
        }
        self.begin();
        st.unfinished.store(u - 1, Ordering::Relaxed);
        if self.joinable {
            self.track_done();
        }
        self.commit();
        let wake = u == 1 && st.join_waiters.load(Ordering::SeqCst) > 0;
        if wake {
            st.all_done.fetch_add(1, Ordering::SeqCst);
        }
        drop(g);
        if wake {
            futex::wake_all(&st.all_done);
        }
        Ok(())
    }

    pub(crate) fn unfinished(&self) -> u64 {
        self.st().unfinished.load(Ordering::Acquire)
    }

    /// Wait until every message put has been marked done or lost to a dead consumer; false on
    /// timeout. Looks for dead consumers every [`DEATH_POLL`](futex::DEATH_POLL).
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<bool> {
        let st = self.st();
        let d = Deadline::after(timeout);
        loop {
            let g = self.locked()?;
            if self.joinable && st.unfinished.load(Ordering::Relaxed) != 0 && self.reap() {
                st.all_done.fetch_add(1, Ordering::SeqCst);
                futex::wake_all(&st.all_done);
            }
            if st.unfinished.load(Ordering::Relaxed) == 0 {
                return Ok(true);
            }
            if d.passed() {
                return Ok(false);
            }
            st.join_waiters.fetch_add(1, Ordering::SeqCst);
            let seq = st.all_done.load(Ordering::SeqCst);
            drop(g);
            let nap = if self.joinable {
                Some(d.slice(futex::DEATH_POLL))
            } else {
                d.remaining()
            };
            futex::wait(&st.all_done, seq, nap);
            st.join_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
