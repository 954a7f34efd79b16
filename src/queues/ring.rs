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

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::shm::{ElemDesc, LockKind, SegKind};
use crate::synchronize::futex::{self, fault, Deadline, Peers, Region, SharedState, Spinner};
use crate::synchronize::raw::RawMutex;
use crate::typecode::TypeCode;
use crate::{Error, Result};

/// Bytes of a record header.
pub(crate) const REC_HEADER: usize = 8;

/// Size of the record holding a `len`-byte message.
pub(crate) fn record_len(len: usize) -> usize {
    REC_HEADER + len.next_multiple_of(8)
}

#[repr(C)]
#[derive(Default)]
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
    journal: [AtomicU64; 4],
    journal_valid: AtomicU32,
    // Futex words (sequence numbers) and their sleeper counts.
    not_empty: AtomicU32,
    get_waiters: AtomicU32,
    not_full: AtomicU32,
    put_waiters: AtomicU32,
    all_done: AtomicU32,
    join_waiters: AtomicU32,
    peers: Peers,
}

// SAFETY: atomics only; zero is an empty queue.
unsafe impl SharedState for QState {}

/// One queue segment.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    region: Region<QState>,
    lock: RawMutex,
    spin: Spinner,
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
        name: Option<&str>,
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
        Self::assemble(region, lock, name.unwrap_or("<anonymous>"))
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
        Self::assemble(region, lock, name)
    }

    fn assemble(region: Region<QState>, lock: Option<RawMutex>, name: &str) -> Result<Ring> {
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
        Ok(Ring {
            region,
            lock,
            spin: Spinner::default(),
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
        let how = self.lock.lock()?;
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
            st.journal_valid.store(0, Ordering::Release);
        }
        // Sleepers may have missed a wake-up the dead holder owed them.
        st.not_empty.fetch_add(1, Ordering::SeqCst);
        st.not_full.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&st.not_empty);
        futex::wake_all(&st.not_full);
    }

    /// Start a change of the counters (lock held).
    #[inline(always)]
    fn begin(&self) {
        let st = self.st();
        st.journal[0].store(st.head.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[1].store(st.tail.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[2].store(st.count.load(Ordering::Relaxed), Ordering::Relaxed);
        st.journal[3].store(st.unfinished.load(Ordering::Relaxed), Ordering::Relaxed);
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
                    let used = st.tail.load(Ordering::Relaxed) - st.head.load(Ordering::Relaxed);
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

    pub(crate) fn task_done(&self) -> Result<()> {
        let st = self.st();
        let g = self.locked()?;
        let u = st.unfinished.load(Ordering::Relaxed);
        if u == 0 {
            return Err(Error::TaskDoneTooManyTimes);
        }
        self.begin();
        st.unfinished.store(u - 1, Ordering::Relaxed);
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

    /// Wait until every message put has been marked done; false on timeout.
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<bool> {
        let st = self.st();
        let d = Deadline::after(timeout);
        loop {
            let g = self.locked()?;
            if st.unfinished.load(Ordering::Relaxed) == 0 {
                return Ok(true);
            }
            if d.passed() {
                return Ok(false);
            }
            st.join_waiters.fetch_add(1, Ordering::SeqCst);
            let seq = st.all_done.load(Ordering::SeqCst);
            drop(g);
            futex::wait(&st.all_done, seq, d.remaining());
            st.join_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
