//! `JoinableQueue::join` and consumers that die between `get` and `task_done`: the queue
//! records each consumer process's outstanding tasks, so `join` does not wait forever on a
//! dead one; it returns `Error::TasksLost { count }` once every other task is done.

mod common;

use std::time::{Duration, Instant};

use common::fork::{wait_until, Forked, Outcome};
use mpshare::{Error, JoinableQueue};

const KILLED: Outcome = Outcome::Signaled(libc::SIGKILL);

/// A child that takes `n` tasks and then hangs without marking them done.
fn hanging_consumer(q: &JoinableQueue, n: usize) -> Forked {
    let q = q.clone();
    Forked::spawn(move || {
        for _ in 0..n {
            q.get_timeout(Duration::from_secs(10)).unwrap();
        }
        std::thread::sleep(Duration::from_secs(3600));
        1
    })
}

#[test]
fn join_reports_the_task_of_a_consumer_killed_before_task_done() {
    let q = JoinableQueue::new(4096).unwrap();
    for i in 0..3u8 {
        q.put(&[i; 8]).unwrap();
    }
    let mut child = hanging_consumer(&q, 1);
    assert!(wait_until(Duration::from_secs(10), || q.qsize() == 2));
    for _ in 0..2 {
        q.get().unwrap();
        q.task_done().unwrap();
    }
    // The consumer is alive and holds its task: join waits (the whole timeout).
    let t = Instant::now();
    assert!(!q.join_timeout(Duration::from_millis(100)).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(q.unfinished_tasks(), 1);

    assert_eq!(child.kill(), KILLED);
    let t = Instant::now();
    let r = q.join_timeout(Duration::from_secs(10));
    assert!(
        matches!(r, Err(Error::TasksLost { count: 1 })),
        "expected TasksLost {{ count: 1 }}, found {r:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(q.unfinished_tasks(), 0);
    // Reported once; the queue keeps working.
    q.join().unwrap();
    q.put(b"more").unwrap();
    assert_eq!(q.get().unwrap(), b"more");
    q.task_done().unwrap();
    assert!(q.join_timeout(Duration::ZERO).unwrap());
    assert!(matches!(q.task_done(), Err(Error::TaskDoneTooManyTimes)));
}

#[test]
fn a_joiner_blocked_in_another_process_is_released() {
    let q = JoinableQueue::new(4096).unwrap();
    for i in 0..2u8 {
        q.put(&[i; 8]).unwrap();
    }
    let mut consumer = hanging_consumer(&q, 2);
    assert!(wait_until(Duration::from_secs(10), || q.qsize() == 0));
    let mut joiner = {
        let q = q.clone();
        Forked::spawn(move || match q.join() {
            Err(Error::TasksLost { count: 2 }) => 7,
            Ok(()) => 2,
            Err(_) => 3,
        })
    };
    // The joiner stays blocked while the consumer lives.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(joiner.try_wait(), None);
    assert_eq!(consumer.kill(), KILLED);
    let t = Instant::now();
    assert_eq!(joiner.wait(Duration::from_secs(10)), Outcome::Exited(7));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // This handle learns of the loss too.
    assert!(matches!(q.join(), Err(Error::TasksLost { count: 2 })));
}

#[test]
fn a_consumer_that_exits_without_task_done_loses_its_task() {
    let q = JoinableQueue::new(4096).unwrap();
    q.put(b"a").unwrap();
    q.put(b"b").unwrap();
    let mut child = {
        let q = q.clone();
        Forked::spawn(move || {
            q.get().unwrap();
            q.task_done().unwrap(); // done: not lost
            q.get().unwrap(); // exits holding this one
            0
        })
    };
    assert_eq!(child.wait(Duration::from_secs(10)), Outcome::Exited(0));
    let r = q.join_timeout(Duration::from_secs(10));
    assert!(matches!(r, Err(Error::TasksLost { count: 1 })), "{r:?}");
}

#[test]
fn task_done_by_another_process_is_credited_to_the_getter() {
    // Python allows handing a task on: one process gets, another marks it done.
    let q = JoinableQueue::new(4096).unwrap();
    q.put(b"job").unwrap();
    q.get().unwrap();
    let mut helper = {
        let q = q.clone();
        Forked::spawn(move || i32::from(q.task_done().is_err()))
    };
    assert_eq!(helper.wait(Duration::from_secs(10)), Outcome::Exited(0));
    // The helper has exited; nothing is lost and this process holds nothing.
    assert!(q.join_timeout(Duration::from_secs(1)).unwrap());
    q.put(b"next").unwrap();
    q.get().unwrap();
    q.task_done().unwrap();
    assert!(q.join_timeout(Duration::ZERO).unwrap());
}
