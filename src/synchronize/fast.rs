//! Uncontended fast paths for glibc's process-shared robust mutexes.
//!
//! glibc sends every robust mutex through `__pthread_mutex_lock_full`, a general routine with a
//! switch over every mutex kind; on this machine that costs ~13 ns per uncontended
//! lock + unlock, while the work itself (a CAS, an exchange and a dozen plain stores) takes ~5.
//! This module does exactly that work inline, **on glibc's own data**: the same `pthread_mutex_t`
//! fields (`__lock` holding the owner's TID, `__count`, `__owner`, `__nusers`, `__list`) and the
//! same per-thread robust list that glibc registered with the kernel (`set_robust_list`), in the
//! same order, with the same `list_op_pending` protocol. A mutex locked here and one locked by
//! glibc are indistinguishable, so the kernel's death handling (it marks a dead owner's mutexes
//! `FUTEX_OWNER_DIED` and wakes a waiter) and glibc's slow paths (waiting, `EOWNERDEAD`,
//! timeouts, errors) work unchanged. Anything but the two uncontended cases — acquiring a free
//! mutex, and re-entering or releasing one this thread holds with no waiter to wake — returns
//! `false` and the caller uses the pthread call.
//!
//! The fast path is used only where the layout is known: 64-bit glibc on Linux, a thread whose
//! registered robust list head reports the `futex_offset` this layout implies (checked once per
//! thread), and a mutex whose `__kind` is the process-shared robust recursive or error-checking
//! kind. Elsewhere every call falls back to glibc.
//!
//! The thread's kernel TID is cached in a thread-local and cleared in the child of every `fork`
//! (a `pthread_atfork` handler), as glibc does for its own cached TID.

#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
mod imp {
    use std::cell::Cell;
    use std::sync::atomic::{compiler_fence, AtomicI32, AtomicU32, AtomicUsize, Ordering};

    /// glibc's `struct __pthread_mutex_s` on 64-bit Linux (x86_64, aarch64, ...).
    #[repr(C)]
    struct MutexData {
        lock: AtomicU32,
        count: AtomicU32,
        owner: AtomicI32,
        nusers: AtomicU32,
        kind: AtomicI32,
        spins: AtomicU32,
        /// `__list.__prev`
        prev: AtomicUsize,
        /// `__list.__next`: the robust-list entry the kernel follows.
        next: AtomicUsize,
    }

    const _: () =
        assert!(std::mem::size_of::<MutexData>() <= std::mem::size_of::<libc::pthread_mutex_t>());
    const _: () =
        assert!(std::mem::align_of::<MutexData>() <= std::mem::align_of::<libc::pthread_mutex_t>());

    /// `futex_offset` of a robust list whose entries are this layout's `__list.__next`.
    const FUTEX_OFFSET: isize = -(std::mem::offset_of!(MutexData, next) as isize);

    /// The kernel's `struct robust_list_head`, as glibc embeds it in its thread descriptor
    /// (preceded by `robust_prev`, which serves as the head's `__prev`).
    #[repr(C)]
    struct RobustHead {
        list: AtomicUsize,
        futex_offset: isize,
        list_op_pending: AtomicUsize,
    }

    const FUTEX_WAITERS: u32 = 0x8000_0000;
    const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
    const PTHREAD_MUTEX_NOTRECOVERABLE: i32 = 0x7fff_fffe;
    // glibc's internal kinds: type | PTHREAD_MUTEX_ROBUST_NORMAL_NP (16) |
    // PTHREAD_MUTEX_PSHARED_BIT (128).
    const KIND_ROBUST_RECURSIVE_PSHARED: i32 = libc::PTHREAD_MUTEX_RECURSIVE | 16 | 128;
    const KIND_ROBUST_ERRORCHECK_PSHARED: i32 = libc::PTHREAD_MUTEX_ERRORCHECK | 16 | 128;

    /// A robust-list node as glibc links them: `{ __prev, __next }`, addressed through its
    /// `__next` (the pointer the list holds).
    #[inline]
    fn node_prev(entry: usize) -> *const AtomicUsize {
        ((entry & !1) - 8) as *const AtomicUsize
    }
    #[inline]
    fn node_next(entry: usize) -> *const AtomicUsize {
        (entry & !1) as *const AtomicUsize
    }

    /// This thread's TID and robust list head (0: not looked up yet; `head == 1`: the fast
    /// path is unavailable in this thread).
    #[derive(Clone, Copy)]
    struct Ctx {
        tid: u32,
        head: usize,
    }

    thread_local! {
        static CTX: Cell<Ctx> = const { Cell::new(Ctx { tid: 0, head: 0 }) };
    }

    extern "C" fn forget_tid_in_child() {
        // The child of fork has a new TID; its robust list head is at the same address and
        // glibc has re-registered it, but look both up again.
        let _ = CTX.try_with(|c| c.set(Ctx { tid: 0, head: 0 }));
    }

    #[cold]
    #[inline(never)]
    fn lookup() -> Ctx {
        // Not a `Once`: a `fork` while another thread runs a `Once` leaves the child's copy
        // "running" forever, and the child's first lock would hang. Registering twice is
        // harmless (the handler is idempotent), so racing threads may both register; a thread
        // caches its TID only after a registration has completed, so every fork that could copy
        // a cached TID into a child runs the handler.
        static ATFORK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !ATFORK.load(std::sync::atomic::Ordering::Acquire) {
            // SAFETY: registers a handler that only writes a thread-local `Cell`.
            unsafe { libc::pthread_atfork(None, None, Some(forget_tid_in_child)) };
            ATFORK.store(true, std::sync::atomic::Ordering::Release);
        }
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        let mut head: *mut RobustHead = std::ptr::null_mut();
        let mut len: libc::size_t = 0;
        // SAFETY: get_robust_list(0, ...) writes the calling thread's head pointer and length
        // into the two out-parameters.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_get_robust_list,
                0 as libc::c_long,
                &mut head as *mut *mut RobustHead,
                &mut len as *mut libc::size_t,
            )
        };
        let usable = rc == 0
            && !head.is_null()
            && len == std::mem::size_of::<RobustHead>()
            // SAFETY: the kernel returned the head glibc registered for this live thread; it
            // lives in the thread descriptor for the thread's lifetime. futex_offset is
            // written once by glibc at thread start.
            && unsafe { (*head).futex_offset } == FUTEX_OFFSET;
        let ctx = Ctx {
            tid,
            head: if usable && tid & !FUTEX_TID_MASK == 0 {
                head as usize
            } else {
                1
            },
        };
        let _ = CTX.try_with(|c| c.set(ctx));
        ctx
    }

    /// This thread's TID and robust list head, if the fast path may be used.
    #[inline]
    fn ctx() -> Option<(u32, &'static RobustHead)> {
        let mut c = CTX.try_with(|c| c.get()).ok()?;
        if c.tid == 0 {
            c = lookup();
        }
        if c.head <= 1 {
            return None;
        }
        // SAFETY: `head` is the calling thread's registered robust list head (validated in
        // `lookup`), valid for as long as this thread runs; only this thread and (after its
        // death) the kernel touch it.
        Some((c.tid, unsafe { &*(c.head as *const RobustHead) }))
    }

    #[inline]
    fn kind_ok(d: &MutexData, recursive: bool) -> bool {
        let want = if recursive {
            KIND_ROBUST_RECURSIVE_PSHARED
        } else {
            KIND_ROBUST_ERRORCHECK_PSHARED
        };
        d.kind.load(Ordering::Relaxed) == want
    }

    /// Lock `m` if it is free (or, for a recursive mutex, held by this thread). `false`: not
    /// done, use `pthread_mutex_lock`/`trylock`.
    ///
    /// # Safety
    /// `m` points to an initialised process-shared robust mutex (recursive iff `recursive`)
    /// that stays mapped for the call, and, while this thread holds it, until it is unlocked.
    #[inline(always)]
    pub(crate) unsafe fn lock(m: *mut libc::pthread_mutex_t, recursive: bool) -> bool {
        // SAFETY: the caller's contract is `lock_bits`'s.
        unsafe { lock_bits(m, recursive, 0) }
    }

    /// [`lock`] for a thread that may have been woken from the mutex's futex queue, where more
    /// sleepers may wait (a [`Condition`](crate::Condition) waiter requeued onto the mutex):
    /// the free mutex is taken with `FUTEX_WAITERS` set, as glibc's robust lock does after a
    /// futex wait, so the next unlock wakes the next sleeper.
    ///
    /// # Safety
    /// As for [`lock`].
    #[inline]
    pub(crate) unsafe fn lock_after_wake(m: *mut libc::pthread_mutex_t, recursive: bool) -> bool {
        // SAFETY: the caller's contract is `lock_bits`'s.
        unsafe { lock_bits(m, recursive, FUTEX_WAITERS) }
    }

    /// Announce to the kernel, through this thread's `list_op_pending`, that the calling thread
    /// is about to acquire `m` (what glibc does before it sleeps on a robust mutex): if the
    /// thread dies before it holds `m`, the kernel wakes one of `m`'s futex sleepers when `m`
    /// is free, so a wake-up handed to this thread is not lost. The next lock of `m` (either
    /// path) clears it. `false`: the fast path is unavailable in this thread (nothing done).
    ///
    /// # Safety
    /// As for [`lock`]; the calling thread does not hold `m`, and acquires `m` (or calls
    /// [`clear_pending`]) before any other robust-mutex operation.
    #[inline]
    pub(crate) unsafe fn announce_acquire(m: *mut libc::pthread_mutex_t, recursive: bool) -> bool {
        let Some((_, head)) = ctx() else {
            return false;
        };
        // SAFETY: as in `lock`.
        let d = unsafe { &*(m as *const MutexData) };
        if !kind_ok(d, recursive) {
            return false;
        }
        head.list_op_pending
            .store(&d.next as *const AtomicUsize as usize, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        true
    }

    /// Withdraw an [`announce_acquire`] (the acquisition will go through glibc, which sets and
    /// clears it again, or is abandoned).
    pub(crate) fn clear_pending() {
        if let Some((_, head)) = ctx() {
            compiler_fence(Ordering::SeqCst);
            head.list_op_pending.store(0, Ordering::Relaxed);
        }
    }

    /// [`lock`], taking a free mutex as `tid | bits`.
    ///
    /// # Safety
    /// As for [`lock`].
    #[inline(always)]
    unsafe fn lock_bits(m: *mut libc::pthread_mutex_t, recursive: bool, bits: u32) -> bool {
        let Some((tid, head)) = ctx() else {
            return false;
        };
        // SAFETY: `m` is a valid mutex (caller's contract) and MutexData mirrors glibc's
        // layout of it (size and alignment asserted above); every field is accessed atomically.
        let d = unsafe { &*(m as *const MutexData) };
        if !kind_ok(d, recursive) {
            return false;
        }
        let word = d.lock.load(Ordering::Relaxed);
        if word == 0 {
            let entry = &d.next as *const AtomicUsize as usize;
            // As glibc: announce the operation to the kernel before trying.
            head.list_op_pending.store(entry, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            if d.lock
                .compare_exchange(0, tid | bits, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                head.list_op_pending.store(0, Ordering::Relaxed);
                return false;
            }
            if d.owner.load(Ordering::Relaxed) == PTHREAD_MUTEX_NOTRECOVERABLE {
                // Give it back and let glibc report ENOTRECOVERABLE.
                if d.lock.swap(0, Ordering::Release) & FUTEX_WAITERS != 0 {
                    wake(d);
                }
                head.list_op_pending.store(0, Ordering::Relaxed);
                return false;
            }
            d.count.store(1, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            // ENQUEUE_MUTEX: push at the front of this thread's robust list.
            let first = head.list.load(Ordering::Relaxed);
            // SAFETY: `first` is the list's first entry (another held robust mutex's
            // `__list.__next`, or the head itself, whose `__prev` slot is glibc's
            // `robust_prev`); both are live and only this thread writes them.
            unsafe { (*node_prev(first)).store(entry, Ordering::Relaxed) };
            d.next.store(first, Ordering::Relaxed);
            d.prev
                .store(head as *const RobustHead as usize, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            head.list.store(entry, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            head.list_op_pending.store(0, Ordering::Relaxed);
            d.owner.store(tid as i32, Ordering::Relaxed);
            d.nusers.store(
                d.nusers.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
            return true;
        }
        if recursive && word & FUTEX_TID_MASK == tid {
            // Held by this thread: count one more level (glibc reports overflow).
            let c = d.count.load(Ordering::Relaxed);
            if c == u32::MAX {
                return false;
            }
            d.count.store(c + 1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Release one level of `m` if this thread holds it. `false`: not done, use
    /// `pthread_mutex_unlock` (which reports `EPERM` for a non-owner).
    ///
    /// # Safety
    /// As for [`lock`].
    #[inline(always)]
    pub(crate) unsafe fn unlock(m: *mut libc::pthread_mutex_t, recursive: bool) -> bool {
        let Some((tid, head)) = ctx() else {
            return false;
        };
        // SAFETY: as in `lock`.
        let d = unsafe { &*(m as *const MutexData) };
        if !kind_ok(d, recursive)
            || d.lock.load(Ordering::Relaxed) & FUTEX_TID_MASK != tid
            || d.owner.load(Ordering::Relaxed) != tid as i32
        {
            // Not ours, or taken over from a dead owner and not yet made consistent.
            return false;
        }
        if recursive {
            let c = d.count.load(Ordering::Relaxed);
            if c > 1 {
                d.count.store(c - 1, Ordering::Relaxed);
                return true;
            }
            if c != 1 {
                return false;
            }
            d.count.store(0, Ordering::Relaxed);
        }
        let entry = &d.next as *const AtomicUsize as usize;
        head.list_op_pending.store(entry, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        // DEQUEUE_MUTEX: unlink from this thread's robust list.
        let next = d.next.load(Ordering::Relaxed);
        let prev = d.prev.load(Ordering::Relaxed);
        // SAFETY: `next` and `prev` are this mutex's neighbours in this thread's robust list
        // (set when this thread enqueued it, updated only by this thread since): live entries
        // of mutexes this thread holds, or the list head and its `robust_prev` slot.
        unsafe {
            (*node_prev(next)).store(prev, Ordering::Relaxed);
            (*node_next(prev)).store(next, Ordering::Relaxed);
        }
        compiler_fence(Ordering::SeqCst);
        d.prev.store(0, Ordering::Relaxed);
        d.next.store(0, Ordering::Relaxed);
        d.owner.store(0, Ordering::Relaxed);
        d.nusers.store(
            d.nusers.load(Ordering::Relaxed).wrapping_sub(1),
            Ordering::Relaxed,
        );
        if d.lock.swap(0, Ordering::Release) & FUTEX_WAITERS != 0 {
            wake(d);
        }
        compiler_fence(Ordering::SeqCst);
        head.list_op_pending.store(0, Ordering::Relaxed);
        true
    }

    #[cold]
    #[inline(never)]
    fn wake(d: &MutexData) {
        // SAFETY: FUTEX_WAKE on a valid futex word; shared (not FUTEX_PRIVATE), as glibc does
        // for robust mutexes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                &d.lock as *const AtomicU32,
                libc::FUTEX_WAKE,
                1 as libc::c_int,
            )
        };
    }

    /// How many levels of `m` the calling thread holds (0 if it does not hold it), or `None`
    /// where the layout is unknown (the fast path is off).
    ///
    /// # Safety
    /// As for [`lock`].
    pub(crate) unsafe fn levels_held(
        m: *mut libc::pthread_mutex_t,
        recursive: bool,
    ) -> Option<u32> {
        let (tid, _) = ctx()?;
        // SAFETY: as in `lock`.
        let d = unsafe { &*(m as *const MutexData) };
        if !kind_ok(d, recursive) {
            return None;
        }
        if d.lock.load(Ordering::Relaxed) & FUTEX_TID_MASK != tid {
            return Some(0);
        }
        // `__count` is the recursion depth of a recursive mutex; an error-checking one is
        // held once.
        Some(if recursive {
            d.count.load(Ordering::Relaxed)
        } else {
            1
        })
    }

    /// Whether the fast path is available in the calling thread.
    #[cfg(test)]
    pub(crate) fn available() -> bool {
        ctx().is_some()
    }

    /// The calling thread's robust list is empty.
    #[cfg(test)]
    pub(crate) fn robust_list_empty() -> bool {
        match ctx() {
            Some((_, head)) => head.list.load(Ordering::Relaxed) == head as *const _ as usize,
            None => true,
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
mod imp {
    pub(crate) unsafe fn lock(_: *mut libc::pthread_mutex_t, _: bool) -> bool {
        false
    }
    pub(crate) unsafe fn unlock(_: *mut libc::pthread_mutex_t, _: bool) -> bool {
        false
    }
    pub(crate) unsafe fn levels_held(_: *mut libc::pthread_mutex_t, _: bool) -> Option<u32> {
        None
    }
    pub(crate) unsafe fn lock_after_wake(_: *mut libc::pthread_mutex_t, _: bool) -> bool {
        false
    }
    pub(crate) unsafe fn announce_acquire(_: *mut libc::pthread_mutex_t, _: bool) -> bool {
        false
    }
    pub(crate) fn clear_pending() {}
    #[cfg(test)]
    pub(crate) fn available() -> bool {
        false
    }
    #[cfg(test)]
    pub(crate) fn robust_list_empty() -> bool {
        true
    }
}

pub(crate) use imp::{announce_acquire, clear_pending, levels_held, lock, lock_after_wake, unlock};
#[cfg(test)]
use imp::{available, robust_list_empty};

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` process-shared robust mutexes in one anonymous shared page (recursive or
    /// error-checking), unmapped on drop.
    struct Mutexes {
        base: *mut libc::pthread_mutex_t,
        n: usize,
    }

    impl Mutexes {
        fn new(n: usize, recursive: bool) -> Mutexes {
            // SAFETY: a fresh anonymous shared mapping, initialised here before any use.
            unsafe {
                let base = libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                ) as *mut libc::pthread_mutex_t;
                assert_ne!(base as *mut libc::c_void, libc::MAP_FAILED);
                let mut a: libc::pthread_mutexattr_t = std::mem::zeroed();
                libc::pthread_mutexattr_init(&mut a);
                libc::pthread_mutexattr_setpshared(&mut a, libc::PTHREAD_PROCESS_SHARED);
                libc::pthread_mutexattr_setrobust(&mut a, libc::PTHREAD_MUTEX_ROBUST);
                let kind = if recursive {
                    libc::PTHREAD_MUTEX_RECURSIVE
                } else {
                    libc::PTHREAD_MUTEX_ERRORCHECK
                };
                libc::pthread_mutexattr_settype(&mut a, kind);
                for i in 0..n {
                    assert_eq!(libc::pthread_mutex_init(base.add(i), &a), 0);
                }
                libc::pthread_mutexattr_destroy(&mut a);
                Mutexes { base, n }
            }
        }
        fn get(&self, i: usize) -> *mut libc::pthread_mutex_t {
            assert!(i < self.n);
            // SAFETY: i < n, inside the page.
            unsafe { self.base.add(i) }
        }
        fn glibc_lock(&self, i: usize) -> i32 {
            // SAFETY: an initialised mutex in a live mapping.
            unsafe { libc::pthread_mutex_lock(self.get(i)) }
        }
        fn glibc_trylock(&self, i: usize) -> i32 {
            // SAFETY: as above.
            unsafe { libc::pthread_mutex_trylock(self.get(i)) }
        }
        fn glibc_unlock(&self, i: usize) -> i32 {
            // SAFETY: as above.
            unsafe { libc::pthread_mutex_unlock(self.get(i)) }
        }
        fn fast_lock(&self, i: usize, recursive: bool) -> bool {
            // SAFETY: as above; the mapping outlives every hold in these tests.
            unsafe { lock(self.get(i), recursive) }
        }
        fn fast_unlock(&self, i: usize, recursive: bool) -> bool {
            // SAFETY: as above.
            unsafe { unlock(self.get(i), recursive) }
        }
    }

    impl Drop for Mutexes {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`, no longer used.
            unsafe { libc::munmap(self.base as *mut libc::c_void, 4096) };
        }
    }

    const FAST: bool = cfg!(all(
        target_os = "linux",
        target_env = "gnu",
        target_pointer_width = "64"
    ));

    #[test]
    fn fast_path_is_taken_where_the_layout_is_known() {
        assert_eq!(available(), FAST);
        let m = Mutexes::new(2, true);
        assert_eq!(m.fast_lock(0, true), FAST);
        assert_eq!(m.fast_lock(0, true), FAST, "re-entry");
        if FAST {
            assert!(!robust_list_empty());
            assert!(m.fast_unlock(0, true));
            assert!(m.fast_unlock(0, true));
            assert!(robust_list_empty());
            // Not held: the fast path declines and glibc says EPERM.
            assert!(!m.fast_unlock(0, true));
            assert_eq!(m.glibc_unlock(0), libc::EPERM);
            // Wrong kind (asked as error-checking): declines.
            assert!(!m.fast_lock(1, false));
        }
    }

    #[test]
    fn fast_and_glibc_paths_share_the_robust_list() {
        for recursive in [true, false] {
            let m = Mutexes::new(4, recursive);
            // Interleave: 0 fast, 1 glibc, 2 fast, 3 glibc; release in a different order,
            // each by the other path where possible.
            assert_eq!(m.fast_lock(0, recursive), FAST);
            if !FAST {
                return;
            }
            assert_eq!(m.glibc_lock(1), 0);
            assert!(m.fast_lock(2, recursive));
            assert_eq!(m.glibc_lock(3), 0);
            assert!(!robust_list_empty());
            assert_eq!(m.glibc_unlock(2), 0, "glibc releases a fast-locked mutex");
            assert!(
                m.fast_unlock(1, recursive),
                "fast path releases a glibc-locked mutex"
            );
            assert!(m.fast_unlock(3, recursive));
            assert_eq!(m.glibc_unlock(0), 0);
            assert!(robust_list_empty(), "every node unlinked");
            // All free again, for another thread too.
            let base = m.base as usize;
            std::thread::spawn(move || {
                for i in 0..4 {
                    let p = (base as *mut libc::pthread_mutex_t).wrapping_add(i);
                    // SAFETY: the mapping outlives this joined thread.
                    unsafe {
                        assert_eq!(libc::pthread_mutex_trylock(p), 0);
                        assert_eq!(libc::pthread_mutex_unlock(p), 0);
                    }
                }
            })
            .join()
            .unwrap();
        }
    }

    #[test]
    fn a_forked_child_that_exits_holding_fast_locks_marks_them_owner_dead() {
        if !FAST {
            return;
        }
        let m = Mutexes::new(3, true);
        // Fill this thread's cached TID before forking: the child must not reuse it.
        assert!(m.fast_lock(0, true));
        assert!(m.fast_unlock(0, true));
        // SAFETY: the child only takes locks and leaves with _exit.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let ok = m.fast_lock(0, true)
                    && m.glibc_lock(1) == 0
                    && m.fast_lock(2, true)
                    && m.fast_lock(2, true);
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).expect("waitpid");
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
                for i in 0..3 {
                    assert_eq!(m.glibc_trylock(i), libc::EOWNERDEAD, "mutex {i}");
                    // SAFETY: held by us after EOWNERDEAD.
                    assert_eq!(unsafe { libc::pthread_mutex_consistent(m.get(i)) }, 0);
                    assert!(m.fast_unlock(i, true), "consistent again, ours to release");
                    assert!(m.fast_lock(i, true));
                    assert!(m.fast_unlock(i, true));
                }
                assert!(robust_list_empty());
            }
        }
    }

    #[test]
    fn a_waiter_is_woken_by_a_fast_unlock() {
        if !FAST {
            return;
        }
        let m = Mutexes::new(1, false);
        assert!(m.fast_lock(0, false));
        let base = m.base as usize;
        let waiter = std::thread::spawn(move || {
            // SAFETY: the mapping outlives this joined thread.
            unsafe {
                let p = base as *mut libc::pthread_mutex_t;
                let rc = libc::pthread_mutex_lock(p);
                libc::pthread_mutex_unlock(p);
                rc
            }
        });
        // Let the waiter reach the futex (it sets FUTEX_WAITERS), bounded.
        let word = m.base as *const std::sync::atomic::AtomicU32;
        let t0 = std::time::Instant::now();
        // SAFETY: `__lock` is the first field of the mutex.
        while unsafe { &*word }.load(std::sync::atomic::Ordering::Relaxed) & 0x8000_0000 == 0
            && t0.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(m.fast_unlock(0, false));
        assert_eq!(waiter.join().unwrap(), 0);
    }
}
