//! Queue, JoinableQueue, SimpleQueue and PodQueue between real processes: Python's methods
//! (put/get with blocking, timeouts and _nowait forms, qsize/empty/full, close, task_done/join),
//! FIFO order through the ring's wrap, exact totals for N producers x M items, messages that
//! can never fit, and named open/type/kind checks.

mod common;

use std::time::{Duration, Instant};

use common::fork::{run_workers, Forked, NameGuard, Outcome};
use mpshare::queues::record_len;
use mpshare::{Error, JoinableQueue, PodQueue, Queue, RawValue, SimpleQueue};

fn msg(i: u32) -> Vec<u8> {
    // Variable lengths 0..=40, content derived from i.
    let len = (i as usize * 7) % 41;
    (0..len).map(|k| (i as usize + k) as u8).collect()
}

#[test]
fn fifo_through_many_wraps_with_variable_lengths() {
    let q = Queue::new(256).unwrap();
    let mut next_put = 0u32;
    let mut next_get = 0u32;
    while next_get < 5000 {
        // Fill until full, then drain a few: positions wrap the 256-byte ring many times.
        while q.put_nowait(&msg(next_put)).is_ok() {
            next_put += 1;
        }
        assert!(q.qsize() > 0);
        for _ in 0..3 {
            match q.get_nowait() {
                Ok(m) => {
                    assert_eq!(m, msg(next_get), "message {next_get}");
                    next_get += 1;
                }
                Err(Error::QueueEmpty) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    while let Ok(m) = q.get_nowait() {
        assert_eq!(m, msg(next_get));
        next_get += 1;
    }
    assert_eq!(next_get, next_put);
    assert!(q.empty() && q.bytes_used() == 0);
}

#[test]
fn python_semantics() {
    let q = Queue::with_maxsize(1024, 2).unwrap();
    assert!(q.empty() && !q.full());
    q.put(b"").unwrap(); // empty messages are messages
    q.put(b"b").unwrap();
    assert!(q.full());
    assert_eq!(q.qsize(), 2);
    let t = Instant::now();
    assert!(matches!(
        q.put_timeout(b"c", Duration::from_millis(30)),
        Err(Error::QueueFull)
    ));
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(matches!(q.put_nowait(b"c"), Err(Error::QueueFull)));
    assert_eq!(q.get().unwrap(), b"");
    assert_eq!(q.get_timeout(Duration::from_secs(1)).unwrap(), b"b");
    let t = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(30)),
        Err(Error::QueueEmpty)
    ));
    let el = t.elapsed();
    assert!(el >= Duration::from_millis(30) && el < Duration::from_secs(2));
    // Too large for the ring: an immediate error, even with a blocking put.
    let big = vec![0u8; 1024];
    let t = Instant::now();
    assert!(matches!(
        q.put(&big),
        Err(Error::MessageTooLarge {
            len: 1024,
            capacity: 1024,
            max: 1016
        })
    ));
    assert!(t.elapsed() < Duration::from_secs(1));
    q.put(&big[..1016]).unwrap();
    assert_eq!(q.get().unwrap().len(), 1016);
    // close(): this handle stops; another handle (another process in Python) does not.
    let other = q.clone();
    q.close();
    assert!(matches!(q.put(b"x"), Err(Error::QueueClosed)));
    assert!(matches!(q.get_nowait(), Err(Error::QueueClosed)));
    assert!(
        matches!(other.put(b"x"), Err(Error::QueueClosed)),
        "clones share close()"
    );
    let fresh = Queue::new(64).unwrap();
    assert!(matches!(Queue::new(8), Err(Error::InvalidArgument { .. })));
    assert_eq!(fresh.capacity(), 64);
}

#[test]
fn exact_totals_n_producers_m_consumers() {
    const PRODUCERS: u64 = 3;
    const CONSUMERS: u64 = 2;
    const ITEMS: u64 = 3000;
    let q = JoinableQueue::new(2048).unwrap();
    let sum = RawValue::new(0u64).unwrap();
    let count = RawValue::new(0u64).unwrap();
    let order_errors = RawValue::new(0u64).unwrap();
    let outcomes = run_workers(
        (PRODUCERS + CONSUMERS) as usize,
        Duration::from_secs(120),
        |i| {
            let i = i as u64;
            if i < PRODUCERS {
                for k in 0..ITEMS {
                    let v = i * 1_000_000 + k;
                    let mut m = v.to_le_bytes().to_vec();
                    m.resize(8 + (k % 24) as usize, 0xAB);
                    q.put(&m).unwrap();
                }
                0
            } else {
                let mut last = [None::<u64>; PRODUCERS as usize];
                let mut buf = Vec::new();
                loop {
                    match q.get_into_timeout(&mut buf, Duration::from_secs(2)) {
                        Ok(()) => {
                            let v = u64::from_le_bytes(buf[..8].try_into().unwrap());
                            let (p, k) = ((v / 1_000_000) as usize, v % 1_000_000);
                            if buf.len() != 8 + (k % 24) as usize
                                || buf[8..].iter().any(|b| *b != 0xAB)
                            {
                                order_errors.fetch_add(1);
                            }
                            // FIFO per producer, as seen by one consumer.
                            if last[p].is_some_and(|l| l >= k) {
                                order_errors.fetch_add(1);
                            }
                            last[p] = Some(k);
                            sum.fetch_add(v);
                            count.fetch_add(1);
                            q.task_done().unwrap();
                        }
                        Err(Error::QueueEmpty) => return 0,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        },
    );
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Exited(0)),
        "{outcomes:?}"
    );
    let want: u64 = (0..PRODUCERS)
        .map(|p| (0..ITEMS).map(|k| p * 1_000_000 + k).sum::<u64>())
        .sum();
    assert_eq!(count.get(), PRODUCERS * ITEMS);
    assert_eq!(sum.get(), want);
    assert_eq!(order_errors.get(), 0);
    assert!(q.join_timeout(Duration::from_secs(1)).unwrap());
    assert_eq!(q.unfinished_tasks(), 0);
}

#[test]
fn blocking_put_and_get_wake_across_processes() {
    let q = Queue::with_maxsize(4096, 1).unwrap();
    q.put(b"first").unwrap();
    let mut producer = {
        let q = q.clone();
        Forked::spawn(move || {
            // Blocks until the parent takes "first".
            match q.put_timeout(b"second", Duration::from_secs(10)) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get().unwrap(), b"first");
    assert_eq!(producer.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), b"second");
    let mut consumer = {
        let q = q.clone();
        Forked::spawn(move || match q.get_timeout(Duration::from_secs(10)) {
            Ok(m) if m == b"third" => 0,
            _ => 1,
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    q.put(b"third").unwrap();
    assert_eq!(consumer.wait(Duration::from_secs(10)), Outcome::Exited(0));
}

#[test]
fn joinable_join_waits_for_task_done_in_another_process() {
    let q = JoinableQueue::new(1024).unwrap();
    for i in 0..10u8 {
        q.put(&[i]).unwrap();
    }
    assert!(!q.join_timeout(Duration::from_millis(10)).unwrap());
    let mut worker = {
        let q = q.clone();
        Forked::spawn(move || {
            for _ in 0..10 {
                let _ = q.get().unwrap();
                std::thread::sleep(Duration::from_millis(2));
                q.task_done().unwrap();
            }
            0
        })
    };
    let t = Instant::now();
    assert!(q.join_timeout(Duration::from_secs(10)).unwrap());
    assert!(
        t.elapsed() >= Duration::from_millis(15),
        "join returned before the work was done"
    );
    assert_eq!(worker.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert!(matches!(q.task_done(), Err(Error::TaskDoneTooManyTimes)));
}

#[test]
fn simple_queue_and_pod_queue() {
    let s = SimpleQueue::new(128).unwrap();
    assert!(s.empty());
    s.put(b"a").unwrap();
    assert_eq!(s.get().unwrap(), b"a");
    s.close();
    assert!(matches!(s.get_nowait(), Err(Error::QueueClosed)));

    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Job {
        id: u64,
        weight: f32,
        _pad: u32,
    }
    impl mpshare::Element for Job {}
    let q = PodQueue::<Job>::new(16).unwrap();
    let mut child = {
        let q = q.clone();
        Forked::spawn(move || {
            for id in 0..1000 {
                q.put(&Job {
                    id,
                    weight: id as f32 / 2.0,
                    _pad: 0,
                })
                .unwrap();
            }
            0
        })
    };
    for id in 0..1000 {
        let j = q.get_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            j,
            Job {
                id,
                weight: id as f32 / 2.0,
                _pad: 0
            }
        );
    }
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert_eq!(q.as_bytes_queue().capacity(), 16 * record_len(16));
}

#[test]
fn named_open_and_kind_checks() {
    let g = NameGuard::new("queue");
    let a = Queue::create(g.name(), 4096).unwrap();
    let mut child = {
        let name = g.name().to_string();
        Forked::spawn(move || {
            let q = Queue::open(&name).unwrap();
            q.put(b"from an opener").unwrap();
            0
        })
    };
    assert_eq!(
        a.get_timeout(Duration::from_secs(10)).unwrap(),
        b"from an opener"
    );
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    let err = JoinableQueue::open(g.name()).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds Queue; asked for JoinableQueue"),
        "{err}"
    );
    assert!(matches!(
        SimpleQueue::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    let err = PodQueue::<u64>::open(g.name()).unwrap_err();
    assert!(
        err.to_string().contains("holds Queue of byte messages"),
        "{err}"
    );
    assert_eq!(
        Queue::open_or_create(g.name(), 64).unwrap().capacity(),
        4096
    );
    drop(a);
    assert!(!common::fork::shm_exists(g.name()));

    let g2 = NameGuard::new("podq");
    let _p = PodQueue::<u32>::create(g2.name(), 4).unwrap();
    assert!(PodQueue::<i32>::open(g2.name()).is_err(), "'I' is not 'i'");
    assert!(PodQueue::<u32>::open(g2.name()).is_ok());
    assert!(matches!(
        Queue::open(g2.name()),
        Err(Error::LayoutMismatch { .. })
    ));
}

#[cfg(feature = "manager")]
#[test]
fn serde_values_cross_processes_as_pickles() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Job {
        id: u32,
        name: String,
        weights: Vec<f64>,
    }
    let q = Queue::new(8192).unwrap();
    let mut child = {
        let q = q.clone();
        Forked::spawn(move || {
            for id in 0..100 {
                let job = Job {
                    id,
                    name: format!("job-{id}"),
                    weights: vec![id as f64; (id % 5) as usize],
                };
                q.put_value(&job).unwrap();
            }
            0
        })
    };
    for id in 0..100 {
        let j: Job = q.get_value_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(j.id, id);
        assert_eq!(j.name, format!("job-{id}"));
        assert_eq!(j.weights.len(), (id % 5) as usize);
    }
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    // A message that is not a pickle is an error, not a panic.
    q.put(b"not a pickle").unwrap();
    assert!(q.get_value::<Job>().is_err());
}

#[test]
fn a_queue_of_another_layout_is_refused() {
    // Layout 1 (one lock, journaled counters) began its state with the ring capacity where
    // layout 2 keeps its magic word; the state starts at the segment's data offset (256).
    use std::os::unix::fs::FileExt;
    let g = NameGuard::new("qlayout");
    let q = Queue::create(g.name(), 4096).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/shm/{}", g.name()))
        .unwrap();
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 256).unwrap();
    file.write_all_at(&4096u64.to_ne_bytes(), 256).unwrap();
    let err = Queue::open(g.name()).unwrap_err();
    assert!(matches!(err, Error::BadSegment { .. }), "{err}");
    assert!(err.to_string().contains("queue layout 1"), "{err}");
    // The current layout opens.
    file.write_all_at(&magic, 256).unwrap();
    let b = Queue::open(g.name()).unwrap();
    q.put(b"still a queue").unwrap();
    assert_eq!(b.get().unwrap(), b"still a queue");
}

#[test]
fn a_ring_beyond_32_bit_offsets_is_refused() {
    let err = Queue::new((u32::MAX as usize) + 1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                what: "capacity",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn sleepers_never_miss_a_commit() {
    // A tiny ring and no spinning: both sides go to sleep all the time, and each commit races
    // the other side's registration. A lost wake-up shows as a get or put that times out.
    mpshare::synchronize::fault::set_spinning(false);
    let q = Queue::new(record_len(8) * 2).unwrap();
    const N: u64 = 50_000;
    let mut producer = {
        let q = q.clone();
        Forked::spawn(move || {
            for i in 0..N {
                if q.put_timeout(&i.to_le_bytes(), Duration::from_secs(20))
                    .is_err()
                {
                    return 1;
                }
            }
            0
        })
    };
    let mut buf = Vec::new();
    for i in 0..N {
        q.get_into_timeout(&mut buf, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(buf, i.to_le_bytes());
    }
    assert_eq!(producer.wait(Duration::from_secs(20)), Outcome::Exited(0));
    mpshare::synchronize::fault::set_spinning(true);
}
