//! Process (start method fork), scope and chunks: exit codes, panics, timeouts, signals, the
//! refusal in a multi-threaded parent, and a killed parent taking its children with it.
//! `harness = false`: see `process_common`.

mod process_common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mpshare::process::{self, Process, ERROR_EXIT_CODE, PANIC_EXIT_CODE};
use mpshare::{Array, Error, RawArray, RawValue};
use process_common::{running, wait_until};

fn main() {
    process::spawn_main(&[]);
    process_common::run(&[
        ("exit_codes", exit_codes),
        (
            "panic_message_and_no_parent_destructors",
            panic_message_and_no_parent_destructors,
        ),
        ("join_timeout_bounds", join_timeout_bounds),
        ("terminate_and_kill", terminate_and_kill),
        ("state_errors", state_errors),
        ("refused_with_threads", refused_with_threads),
        ("killed_parent_takes_children", killed_parent_takes_children),
        (
            "scope_chunks_of_a_locked_array",
            scope_chunks_of_a_locked_array,
        ),
        ("scope_reports_failed_worker", scope_reports_failed_worker),
        ("chunk_ranges_cover", chunk_ranges_cover),
    ])
}

fn exit_codes() {
    let shared = RawValue::new(0u32).unwrap();
    let cases: Vec<(Process, i32, Option<&str>)> = vec![
        (
            Process::new({
                let s = shared.clone();
                move || s.set(7)
            }),
            0,
            None,
        ),
        (Process::new(|| 42), 42, None),
        (
            Process::new(|| Err::<(), _>("bad input")),
            ERROR_EXIT_CODE,
            Some("bad input"),
        ),
        (
            Process::new(|| -> mpshare::Result<()> { Err(Error::Timeout(Duration::from_secs(1))) }),
            ERROR_EXIT_CODE,
            Some("timed out after 1s"),
        ),
    ];
    for (mut p, code, message) in cases {
        assert_eq!(p.exitcode(), None);
        p.start().unwrap();
        assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
        assert_eq!(p.exitcode(), Some(code));
        assert_eq!(p.failure(), message);
        assert_eq!(p.join_checked().is_ok(), code == 0);
    }
    assert_eq!(shared.get(), 7, "the child wrote shared memory");
}

struct CountsDrops(RawValue<u32>);
impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1);
    }
}

fn panic_message_and_no_parent_destructors() {
    let drops = RawValue::new(0u32).unwrap();
    let guard = CountsDrops(drops.clone()); // lives on the parent's stack across the fork
    let mut p = Process::new(|| -> () { panic!("worker {} gave up", 3) });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(PANIC_EXIT_CODE));
    assert_eq!(p.failure(), Some("panicked: worker 3 gave up"));
    let err = p.join_checked().unwrap_err();
    assert!(
        matches!(&err, Error::ProcessFailed { exitcode: 101, reason, .. } if reason.contains("worker 3 gave up")),
        "{err}"
    );
    // The child unwound only its closure: it never dropped the parent's `guard`.
    assert_eq!(drops.get(), 0);
    drop(guard);
    assert_eq!(drops.get(), 1);
}

fn join_timeout_bounds() {
    let mut p = Process::new(|| std::thread::sleep(Duration::from_millis(400)));
    p.start().unwrap();
    assert!(p.is_alive());
    let t = Instant::now();
    assert!(!p.join_timeout(Duration::from_millis(100)).unwrap());
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_millis(350), "{waited:?}");
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    // Ends by itself about 300 ms later; a generous upper bound.
    let t = Instant::now();
    assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(p.exitcode(), Some(0));
    assert!(!p.is_alive());
    // A finished process joins at once.
    assert!(p.join_timeout(Duration::ZERO).unwrap());
}

fn terminate_and_kill() {
    for (sig, expected) in [("term", -15), ("kill", -9)] {
        let mut p = Process::new(|| -> () {
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        p.start().unwrap();
        let pid = p.pid().unwrap();
        assert!(running(pid));
        if sig == "term" {
            p.terminate().unwrap();
        } else {
            p.kill().unwrap();
        }
        assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
        assert_eq!(p.exitcode(), Some(expected));
        assert_eq!(p.pid(), Some(pid));
        let err = p.join_checked().unwrap_err();
        assert!(err.to_string().contains("killed by SIG"), "{err}");
        // Signalling an ended process is a no-op.
        p.kill().unwrap();
    }
}

fn state_errors() {
    let mut p = Process::new(|| ());
    assert!(matches!(p.join(), Err(Error::ProcessState { .. })));
    assert!(matches!(p.terminate(), Err(Error::ProcessState { .. })));
    assert!(!p.is_alive());
    p.start().unwrap();
    assert!(matches!(p.start(), Err(Error::ProcessState { .. })));
    p.join().unwrap();
    assert!(matches!(p.start(), Err(Error::ProcessState { .. })));
}

fn refused_with_threads() {
    assert_eq!(process::thread_count().unwrap(), 1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _ = rx.recv();
    });
    assert!(wait_until(
        Duration::from_secs(10),
        || process::thread_count().unwrap() == 2
    ));
    let err = Process::new(|| ()).start().unwrap_err();
    assert!(
        matches!(err, Error::ForkWithThreads { threads: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("2 threads, expected 1"), "{err}");
    let err = process::Pool::new(2)
        .unwrap()
        .map(4, |i| i as u32)
        .unwrap_err();
    assert!(matches!(err, Error::ForkWithThreads { .. }), "{err}");
    let err = process::scope(|s| s.fork(|| ())).unwrap().unwrap_err();
    assert!(matches!(err, Error::ForkWithThreads { .. }), "{err}");
    // The explicit, unsafe opt-in forks anyway.
    let hit = RawValue::new(0u32).unwrap();
    let mut p = Process::new({
        let hit = hit.clone();
        move || hit.set(1)
    });
    // SAFETY: the child only stores to shared memory (no lock the other thread may hold).
    unsafe { p.start_unchecked() }.unwrap();
    p.join_checked().unwrap();
    assert_eq!(hit.get(), 1);
    // SAFETY: as above; the pool's worker loop allocates, which glibc supports after fork.
    let pool = unsafe { process::Pool::new(2).unwrap().allow_threads() };
    let r = pool.map(3, |i| i as u32 * 2).unwrap();
    assert_eq!(
        r.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![0, 2, 4]
    );
    drop(tx);
    t.join().unwrap();
    assert!(wait_until(
        Duration::from_secs(10),
        || process::thread_count().unwrap() == 1
    ));
    Process::new(|| ()).start().unwrap();
}

fn killed_parent_takes_children() {
    // The middle process starts a grandchild that would run forever, publishes its pid and
    // waits; SIGKILL of the middle process must end the grandchild too.
    let grandchild = RawValue::new(0u32).unwrap();
    let mut middle = Process::new({
        let grandchild = grandchild.clone();
        move || -> () {
            let mut g = Process::new(|| -> () {
                loop {
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            g.start().unwrap();
            grandchild.store(g.pid().unwrap(), Ordering::Release);
            std::mem::forget(g); // never joined: only the parent's death ends it
            loop {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    middle.start().unwrap();
    assert!(wait_until(Duration::from_secs(30), || grandchild
        .load(Ordering::Acquire)
        != 0));
    let g = grandchild.load(Ordering::Acquire);
    assert!(running(g));
    // Give it a moment: it must still be running while its parent lives.
    std::thread::sleep(Duration::from_millis(50));
    assert!(running(g), "grandchild ended while its parent lived");
    middle.kill().unwrap();
    middle.join().unwrap();
    assert_eq!(middle.exitcode(), Some(-9));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || !running(g)),
        "grandchild {g} still running after its parent was killed"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}

fn scope_chunks_of_a_locked_array() {
    let a = Array::<u64>::new(1003).unwrap();
    let workers = 4;
    let pids = RawArray::<u32>::new(workers).unwrap();
    {
        let mut g = a.lock().unwrap();
        let chunk = 1003usize.div_ceil(workers);
        process::scope(|s| {
            for (w, part) in g.chunks_mut(chunk).enumerate() {
                let pids = &pids;
                s.fork(move || {
                    pids.set(w, std::process::id()).unwrap();
                    for (k, x) in part.iter_mut().enumerate() {
                        *x = (w * chunk + k) as u64 * 3;
                    }
                })
                .unwrap();
            }
            assert_eq!(s.workers(), workers);
        })
        .unwrap();
        // Joined: the guard's slice shows every worker's writes.
        assert!(g.iter().enumerate().all(|(i, x)| *x == i as u64 * 3));
    }
    let pids = pids.to_vec();
    assert!(pids.iter().all(|p| *p != 0 && *p != std::process::id()));
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), workers, "one process per chunk: {pids:?}");
    assert_eq!(a.get(1002).unwrap(), 3006);
}

fn scope_reports_failed_worker() {
    let done = RawValue::new(0u32).unwrap();
    let t = Instant::now();
    let r = process::scope(|s| {
        s.fork(|| -> () { panic!("chunk 1 is bad") }).unwrap();
        s.fork(|| {
            std::thread::sleep(Duration::from_millis(100));
            done.fetch_add(1);
        })
        .unwrap();
        "closure value"
    });
    // The scope joined both (the slow one finished) before returning the failure.
    assert_eq!(done.get(), 1);
    assert!(t.elapsed() >= Duration::from_millis(100));
    let err = r.unwrap_err();
    assert!(
        matches!(&err, Error::ProcessFailed { exitcode: 101, reason, .. } if reason.contains("chunk 1 is bad")),
        "{err}"
    );
    assert_eq!(process::scope(|_| 5).unwrap(), 5);
}

fn chunk_ranges_cover() {
    for len in [0usize, 1, 7, 100, 1001] {
        for n in 1..=9 {
            let r = process::chunk_ranges(len, n);
            assert_eq!(r.len(), n);
            assert_eq!(r[0].start, 0);
            assert_eq!(r[n - 1].end, len);
            for w in r.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            let (min, max) = (
                r.iter().map(|c| c.len()).min().unwrap(),
                r.iter().map(|c| c.len()).max().unwrap(),
            );
            assert!(max - min <= 1, "{len} {n}: {r:?}");
        }
    }
}
