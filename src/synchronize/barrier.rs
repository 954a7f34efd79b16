//! [`Barrier`]: Python's `multiprocessing.Barrier` in one futex word, with death detection.
//!
//! The word packs the arrivals of the current generation (bits 0..16), the generation (bits
//! 16..31) and a broken flag (bit 31). Arriving is one compare-and-swap; the last arrival
//! starts the next generation and wakes everybody. Each process that waits records itself
//! (pid + start time + the generation it last arrived in) in a slot, under the robust header
//! lock; sleepers look every 20 ms for a recorded party of
//! this or the previous generation that died, and break the barrier if they find one —
//! Python's barrier waits forever instead.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::futex::{
    self, named_methods, Deadline, Peers, ProcId, ProcSlot, Region, SharedState, Spinner,
    DEATH_POLL,
};
use super::raw::RawMutex;
use crate::shm::{LockKind, Options, SegKind};
use crate::{Error, Result};

const COUNT_MASK: u32 = 0xffff;
const GEN_SHIFT: u32 = 16;
const GEN_MASK: u32 = 0x7fff;
const BROKEN: u32 = 1 << 31;

/// Most parties of one barrier.
///
/// ```
/// assert_eq!(mpshare::synchronize::barrier::MAX_PARTIES, 65535);
/// ```
pub const MAX_PARTIES: u32 = COUNT_MASK;

const REASONS: [&str; 3] = ["aborted", "timed out", "a party died"];
const ABORTED: u32 = 0;
const TIMED_OUT: u32 = 1;
const PARTY_DIED: u32 = 2;

fn count(w: u32) -> u32 {
    w & COUNT_MASK
}
fn generation(w: u32) -> u32 {
    (w >> GEN_SHIFT) & GEN_MASK
}
fn with_gen(g: u32) -> u32 {
    (g & GEN_MASK) << GEN_SHIFT
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct BarrierState {
    word: AtomicU32,
    parties: AtomicU32,
    /// Waiters in (or about to enter) the futex sleep: the last arrival wakes only if any.
    sleepers: AtomicU32,
    /// Why it broke last (index into `REASONS`), written before the broken bit.
    reason: AtomicU32,
    peers: Peers,
}

// SAFETY: atomics only.
unsafe impl SharedState for BarrierState {}

/// An interprocess barrier (Python's `multiprocessing.Barrier`) that breaks, instead of
/// hanging, when a party dies.
///
/// ```
/// use mpshare::Barrier;
/// let b = Barrier::new(1)?;               // Python: Barrier(1)
/// assert_eq!(b.wait()?, 0);                // the arrival index
/// assert_eq!((b.parties(), b.n_waiting(), b.broken()), (1, 0, false));
/// b.abort();
/// assert!(matches!(b.wait(), Err(mpshare::Error::BrokenBarrier { .. })));
/// b.reset();
/// assert_eq!(b.wait()?, 0);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Barrier {
    region: Region<BarrierState>,
    lock: RawMutex,
    /// `pid + 1` of the process whose slot index is cached in `slot`.
    slot_pid: std::sync::Arc<AtomicU32>,
    slot: std::sync::Arc<AtomicU32>,
    spin: Spinner,
}

impl Barrier {
    /// The segment behind this handle (handover to spawned children, `crate::process`).
    pub(crate) fn segment(&self) -> &crate::shm::Segment {
        self.region.segment()
    }

    /// A new anonymous barrier for `parties` parties, shared with `fork` children.
    ///
    /// ```
    /// assert!(matches!(mpshare::Barrier::new(0), Err(mpshare::Error::InvalidArgument { .. })));
    /// assert_eq!(mpshare::Barrier::new(3)?.parties(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0 or more than [`MAX_PARTIES`] parties.
    pub fn new(parties: u32) -> Result<Barrier> {
        Self::build(None, parties)
    }

    /// Create the named barrier `name` for `parties` parties.
    ///
    /// ```
    /// let name = format!("mpshare-doc-barrier-{}", std::process::id());
    /// let a = mpshare::Barrier::create(&name, 2)?;
    /// assert_eq!(mpshare::Barrier::open(&name)?.parties(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create(name: &str, parties: u32) -> Result<Barrier> {
        Self::create_with(name, parties, &Options::default())
    }

    /// [`create`](Self::create) with [`Options`] (the permission bits).
    ///
    /// ```
    /// let name = format!("mpshare-doc-barrier-mode-{}", std::process::id());
    /// let opts = mpshare::shm::Options::default().mode(0o660);
    /// assert_eq!(mpshare::Barrier::create_with(&name, 3, &opts)?.parties(), 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn create_with(name: &str, parties: u32, opts: &Options) -> Result<Barrier> {
        Self::build(Some((name, opts)), parties)
    }

    /// Open the named barrier `name`.
    ///
    /// ```
    /// let r = mpshare::Barrier::open("mpshare-doc-no-such-barrier");
    /// assert!(matches!(r, Err(mpshare::Error::NotFound { .. })));
    /// ```
    pub fn open(name: &str) -> Result<Barrier> {
        let (region, lock) = Region::attach(name, SegKind::Barrier, Some(LockKind::Lock))?;
        Self::assemble(region, lock, name)
    }

    /// Open the named barrier `name`, creating it for `parties` parties if it does not exist.
    ///
    /// ```
    /// let name = format!("mpshare-doc-barrier-ooc-{}", std::process::id());
    /// let a = mpshare::Barrier::open_or_create(&name, 2)?;
    /// let b = mpshare::Barrier::open_or_create(&name, 5)?; // opens: 2 parties
    /// assert_eq!(b.parties(), 2);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn open_or_create(name: &str, parties: u32) -> Result<Barrier> {
        futex::open_or_create(|| Self::create(name, parties), || Self::open(name))
    }

    fn build(name: Option<(&str, &Options)>, parties: u32) -> Result<Barrier> {
        if parties == 0 || parties > MAX_PARTIES {
            return Err(Error::InvalidArgument {
                what: "parties",
                expected: format!("1..={MAX_PARTIES}"),
                found: parties.to_string(),
            });
        }
        let slots = (parties as usize * 2).clamp(8, 1024);
        let (region, lock) = Region::build(
            name,
            SegKind::Barrier,
            LockKind::Lock,
            slots * std::mem::size_of::<ProcSlot>(),
            |s: &BarrierState| s.parties.store(parties, Ordering::Relaxed),
        )?;
        Self::assemble(region, lock, name.map_or("<anonymous>", |n| n.0))
    }

    fn assemble(
        region: Region<BarrierState>,
        lock: Option<RawMutex>,
        name: &str,
    ) -> Result<Barrier> {
        let lock = lock.ok_or_else(|| Error::BadSegment {
            name: name.to_string(),
            reason: "barrier without a lock".into(),
        })?;
        let p = region.state().parties.load(Ordering::Relaxed);
        if p == 0 || p > MAX_PARTIES {
            return Err(Error::BadSegment {
                name: name.to_string(),
                reason: format!("barrier of {p} parties"),
            });
        }
        Ok(Barrier {
            region,
            lock,
            slot_pid: Default::default(),
            slot: Default::default(),
            spin: Spinner::default(),
        })
    }

    fn st(&self) -> &BarrierState {
        self.region.state()
    }

    /// The number of parties (Python's `parties`).
    ///
    /// ```
    /// assert_eq!(mpshare::Barrier::new(4)?.parties(), 4);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn parties(&self) -> u32 {
        self.st().parties.load(Ordering::Relaxed)
    }

    /// Parties currently waiting (Python's `n_waiting`).
    ///
    /// ```
    /// assert_eq!(mpshare::Barrier::new(2)?.n_waiting(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        let w = self.st().word.load(Ordering::Acquire);
        if w & BROKEN != 0 {
            0
        } else {
            count(w)
        }
    }

    /// True when broken (Python's `broken`).
    ///
    /// ```
    /// let b = mpshare::Barrier::new(2)?;
    /// b.abort();
    /// assert!(b.broken());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn broken(&self) -> bool {
        self.st().word.load(Ordering::Acquire) & BROKEN != 0
    }

    /// Break the barrier: current and future waiters get [`Error::BrokenBarrier`] until
    /// [`reset`](Self::reset) (Python's `abort()`).
    ///
    /// ```
    /// let b = mpshare::Barrier::new(2)?;
    /// b.abort();
    /// assert!(b.wait_timeout(std::time::Duration::from_secs(1)).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn abort(&self) {
        self.st().reason.store(ABORTED, Ordering::SeqCst);
        self.st().word.fetch_or(BROKEN, Ordering::SeqCst);
        futex::wake_all(&self.st().word);
    }

    /// Return to the initial state; parties waiting now get [`Error::BrokenBarrier`] (Python's
    /// `reset()`). Also forgets recorded parties that have died.
    ///
    /// ```
    /// let b = mpshare::Barrier::new(1)?;
    /// b.abort();
    /// b.reset();
    /// assert!(!b.broken());
    /// assert_eq!(b.wait()?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn reset(&self) {
        let st = self.st();
        let mut w = st.word.load(Ordering::Acquire);
        loop {
            // Two generations on: a waiter of the old one tells a reset (gen + 2) from a trip
            // (gen + 1).
            let new = with_gen(generation(w) + 2);
            match st
                .word
                .compare_exchange(w, new, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        futex::wake_all(&st.word);
        if let Ok(how) = self.lock.lock() {
            let _ = how;
            for s in self.region.slots::<ProcSlot>() {
                if s.id().is_some_and(|id| !id.is_alive()) {
                    s.free();
                }
            }
            let _ = self.lock.unlock();
        }
    }

    /// Wait until all parties have called `wait`; returns this party's arrival index, 0 for the
    /// first to arrive up to `parties - 1` for the last (Python's `wait()`).
    ///
    /// ```
    /// let b = mpshare::Barrier::new(2)?;
    /// let c = b.clone();
    /// let t = std::thread::spawn(move || c.wait());
    /// let mine = b.wait()?;
    /// let theirs = t.join().unwrap()?;
    /// assert_eq!(mine + theirs, 1); // one got 0, the other 1
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::BrokenBarrier`] when the barrier is or becomes broken: aborted, reset while
    /// waiting, or a recorded party died.
    pub fn wait(&self) -> Result<u32> {
        self.wait_inner(None)
    }

    /// [`wait`](Self::wait) at most `timeout`; on timeout the barrier breaks, for everybody,
    /// as in Python.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = mpshare::Barrier::new(2)?;
    /// let r = b.wait_timeout(Duration::from_millis(10));
    /// assert!(matches!(r, Err(mpshare::Error::BrokenBarrier { reason: "timed out" })));
    /// assert!(b.broken());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.wait_inner(Some(timeout))
    }

    /// Declare this process a party now, before its first [`wait`](Self::wait).
    ///
    /// A process is otherwise known to the barrier from its first `wait` on; one that dies
    /// before ever reaching the barrier would leave the others waiting (until their timeout,
    /// or forever without one, as in Python). After `join_party`, its death breaks the barrier
    /// for the waiters of this round and the next.
    ///
    /// ```
    /// let b = mpshare::Barrier::new(1)?;
    /// b.join_party(); // e.g. first thing in a forked worker
    /// assert_eq!(b.wait()?, 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join_party(&self) {
        self.register(generation(self.st().word.load(Ordering::Acquire)));
    }

    /// Record this process as a party (once per process), with the generation it arrives in.
    fn register(&self, g: u32) {
        let me = ProcId::current();
        let slots = self.region.slots::<ProcSlot>();
        if self.slot_pid.load(Ordering::Relaxed) == me.pid + 1 {
            let s = &slots[self.slot.load(Ordering::Relaxed) as usize];
            if s.pid.load(Ordering::Relaxed) == me.pid {
                s.count.store(g + 1, Ordering::Relaxed);
                return;
            }
        }
        let Ok(how) = self.lock.lock() else { return };
        let _ = how;
        let cur = generation(self.st().word.load(Ordering::Acquire));
        let pick = slots
            .iter()
            .position(|s| s.id() == Some(me))
            .or_else(|| slots.iter().position(|s| s.id().is_none()))
            .or_else(|| {
                // Full: reuse the slot of a dead party that is not part of the current round.
                slots.iter().position(|s| {
                    !recent(s.count.load(Ordering::Relaxed), cur)
                        && s.id().is_some_and(|id| !id.is_alive())
                })
            });
        if let Some(i) = pick {
            let s = &slots[i];
            if s.id() != Some(me) {
                s.claim(me);
            }
            s.count.store(g + 1, Ordering::Relaxed);
            self.slot.store(i as u32, Ordering::Relaxed);
            self.slot_pid.store(me.pid + 1, Ordering::Relaxed);
        }
        let _ = self.lock.unlock();
    }

    /// A recorded party of generation `g` or `g - 1` that died.
    fn party_died(&self, g: u32) -> bool {
        let me = futex::my_pid();
        self.region.slots::<ProcSlot>().iter().any(|s| {
            s.id().is_some_and(|id| {
                id.pid != me && recent(s.count.load(Ordering::Relaxed), g) && !id.is_alive()
            })
        })
    }

    /// Break generation `g` (if it is still current) and wake everybody.
    fn break_gen(&self, g: u32, why: u32) {
        let st = self.st();
        st.reason.store(why, Ordering::SeqCst);
        let mut w = st.word.load(Ordering::Acquire);
        while generation(w) == g && w & BROKEN == 0 {
            match st
                .word
                .compare_exchange(w, w | BROKEN, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        futex::wake_all(&st.word);
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> Result<u32> {
        let st = self.st();
        let parties = st.parties.load(Ordering::Relaxed);
        let deadline = Deadline::after(timeout);
        st.peers.note();
        let mut w = st.word.load(Ordering::Acquire);
        let (my_gen, index) = loop {
            if w & BROKEN != 0 {
                return Err(Error::BrokenBarrier {
                    reason: "broken (aborted, timed out or a party died) and not reset",
                });
            }
            let (c, g) = (count(w), generation(w));
            if c + 1 >= parties {
                match st.word.compare_exchange(
                    w,
                    with_gen(g + 1),
                    Ordering::SeqCst,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        if st.sleepers.load(Ordering::SeqCst) > 0 {
                            futex::wake_all(&st.word);
                        }
                        self.register(g);
                        return Ok(c);
                    }
                    Err(now) => w = now,
                }
            } else {
                match st
                    .word
                    .compare_exchange(w, w + 1, Ordering::SeqCst, Ordering::Acquire)
                {
                    Ok(_) => break (g, c),
                    Err(now) => w = now,
                }
            }
        };
        self.register(my_gen);
        let outcome = |w: u32| -> Option<Result<u32>> {
            if generation(w) != my_gen {
                return Some(if generation(w) == (my_gen + 1) & GEN_MASK {
                    Ok(index)
                } else {
                    Err(Error::BrokenBarrier {
                        reason: "reset while waiting",
                    })
                });
            }
            if w & BROKEN != 0 {
                let why = st.reason.load(Ordering::SeqCst) as usize;
                return Some(Err(Error::BrokenBarrier {
                    reason: REASONS.get(why).copied().unwrap_or("aborted"),
                }));
            }
            None
        };
        self.spin.spin(&st.peers, || {
            outcome(st.word.load(Ordering::Acquire)).is_some()
        });
        loop {
            let w = st.word.load(Ordering::Acquire);
            if let Some(r) = outcome(w) {
                return r;
            }
            if deadline.passed() {
                self.break_gen(my_gen, TIMED_OUT);
                if let Some(Ok(i)) = outcome(st.word.load(Ordering::Acquire)) {
                    return Ok(i); // tripped just before the break
                }
                return Err(Error::BrokenBarrier {
                    reason: "timed out",
                });
            }
            let slice = deadline.slice(DEATH_POLL);
            let t = std::time::Instant::now();
            st.sleepers.fetch_add(1, Ordering::SeqCst);
            futex::wait(&st.word, w, Some(slice));
            st.sleepers.fetch_sub(1, Ordering::SeqCst);
            if t.elapsed() >= slice
                && outcome(st.word.load(Ordering::Acquire)).is_none()
                && self.party_died(my_gen)
            {
                self.break_gen(my_gen, PARTY_DIED);
                if let Some(Ok(i)) = outcome(st.word.load(Ordering::Acquire)) {
                    return Ok(i);
                }
                return Err(Error::BrokenBarrier {
                    reason: "a party died",
                });
            }
        }
    }
}

/// A slot's recorded arrival (`gen + 1`, 0 = none) is in generation `g` or `g - 1`.
fn recent(arrived: u32, g: u32) -> bool {
    arrived != 0 && {
        let a = (arrived - 1) & GEN_MASK;
        a == g || (a + 1) & GEN_MASK == g
    }
}

named_methods!(Barrier, "mpshare::Barrier::new(2)?");
