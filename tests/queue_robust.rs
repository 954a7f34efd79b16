//! Queues under SIGKILL: a producer killed mid-put (payload half copied; record written but
//! its index store not done), a consumer killed mid-get (payload copied; consumer slot changed
//! but the head store not done), a consumer killed while blocked, all while other processes
//! keep using the queue. Survivors keep working; nothing committed is lost or duplicated; no torn message is
//! ever visible.

mod common;

use std::time::{Duration, Instant};

use common::fork::{wait_until, Forked, Outcome};
use mpshare::synchronize::fault;
use mpshare::{Error, JoinableQueue, Queue};

const KILLED: Outcome = Outcome::Signaled(libc::SIGKILL);

/// A child that freezes at `point` during its first queue operation after `before` puts.
fn frozen_producer(q: &Queue, point: u32, before: u32) -> Forked {
    let q = q.clone();
    Forked::spawn(move || {
        for i in 0..before {
            q.put(format!("committed {i}").as_bytes()).unwrap();
        }
        fault::pause_at(point);
        let _ = q.put(&[0xEE; 300]); // torn if it were ever visible
        1
    })
}

/// Give the frozen child time to reach its pause point, where it holds the producer lock.
/// Nothing a consumer does waits for that lock (each side has its own), so there is nothing
/// to probe: the child pauses right after its `before` puts, which the caller waited for.
fn until_lock_held(_q: &Queue) {
    std::thread::sleep(Duration::from_millis(100));
}

fn check_producer_killed_at(point: u32) {
    let q = Queue::new(4096).unwrap();
    let mut child = frozen_producer(&q, point, 5);
    assert!(wait_until(Duration::from_secs(10), || q.qsize() >= 5));
    until_lock_held(&q);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(child.kill(), KILLED);
    let t = Instant::now();
    for i in 0..5 {
        assert_eq!(
            q.get_timeout(Duration::from_secs(5)).unwrap(),
            format!("committed {i}").as_bytes()
        );
    }
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(q.get_nowait(), Err(Error::QueueEmpty)),
        "the unfinished put is not visible"
    );
    assert_eq!(q.qsize(), 0);
    assert_eq!(q.bytes_used(), 0);
    // The queue keeps working, through the ring's wrap.
    for i in 0..200u32 {
        q.put(&i.to_le_bytes().repeat(10)).unwrap();
        assert_eq!(q.get().unwrap(), i.to_le_bytes().repeat(10));
    }
}

#[test]
fn producer_killed_mid_copy() {
    check_producer_killed_at(fault::QUEUE_PUT_COPY);
}

#[test]
fn producer_killed_mid_commit() {
    check_producer_killed_at(fault::QUEUE_PUT_COMMIT);
}

fn check_consumer_killed_at(point: u32) {
    let q = JoinableQueue::new(4096).unwrap();
    for i in 0..3u8 {
        q.put(&[i; 40]).unwrap();
    }
    let mut child = {
        let q = q.clone();
        Forked::spawn(move || {
            fault::pause_at(point);
            let _ = q.get();
            1
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(child.kill(), KILLED);
    // The message the consumer was taking is still first: nothing lost, nothing duplicated.
    for i in 0..3u8 {
        assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), vec![i; 40]);
        if i < 2 {
            q.task_done().unwrap();
        }
    }
    assert!(matches!(q.get_nowait(), Err(Error::QueueEmpty)));
    // The dead consumer's unfinished get is not counted as its task: nothing is "lost", join
    // keeps waiting for the task this process holds.
    assert!(!q.join_timeout(Duration::from_millis(100)).unwrap());
    q.task_done().unwrap();
    assert!(
        q.join_timeout(Duration::from_secs(1)).unwrap(),
        "unfinished count intact"
    );
}

#[test]
fn consumer_killed_mid_copy() {
    check_consumer_killed_at(fault::QUEUE_GET_COPY);
}

#[test]
fn consumer_killed_mid_commit() {
    check_consumer_killed_at(fault::QUEUE_GET_COMMIT);
}

#[test]
fn a_dead_lock_holder_does_not_block_a_waiting_consumer() {
    // One consumer process already blocked in get(); a producer dies holding the queue lock;
    // a live producer's message reaches the blocked consumer.
    let q = Queue::new(4096).unwrap();
    let mut consumer = {
        let q = q.clone();
        Forked::spawn(move || match q.get_timeout(Duration::from_secs(20)) {
            Ok(m) if m == b"live" => 0,
            Ok(_) => 2,
            Err(_) => 1,
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let mut dead = frozen_producer(&q, fault::QUEUE_PUT_COPY, 0);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(dead.kill(), KILLED);
    let t = Instant::now();
    q.put(b"live").unwrap();
    assert_eq!(consumer.wait(Duration::from_secs(10)), Outcome::Exited(0));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn consumers_killed_while_blocked_leave_the_others_working() {
    let q = Queue::new(4096).unwrap();
    let mut victims: Vec<Forked> = (0..2)
        .map(|_| {
            let q = q.clone();
            Forked::spawn(move || {
                let _ = q.get();
                1
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    for v in &mut victims {
        assert_eq!(v.kill(), KILLED);
    }
    let mut live = {
        let q = q.clone();
        Forked::spawn(move || {
            for i in 0..100u32 {
                match q.get_timeout(Duration::from_secs(10)) {
                    Ok(m) if m == i.to_le_bytes() => {}
                    _ => return 1,
                }
            }
            0
        })
    };
    for i in 0..100u32 {
        q.put(&i.to_le_bytes()).unwrap();
    }
    assert_eq!(live.wait(Duration::from_secs(10)), Outcome::Exited(0));
}

#[test]
fn producers_do_not_wait_for_a_consumer_holding_its_lock() {
    // Producers and consumers have a lock each: a consumer frozen mid-get (consumer lock held)
    // does not stop puts; once it is killed, the next consumer finds every message in order.
    let q = Queue::new(4096).unwrap();
    q.put(b"first").unwrap();
    let mut child = {
        let q = q.clone();
        Forked::spawn(move || {
            fault::pause_at(fault::QUEUE_GET_COPY);
            let _ = q.get();
            1
        })
    };
    // Time for the child to freeze at its pause point, consumer lock held.
    std::thread::sleep(Duration::from_millis(100));
    let mut producer = {
        let q = q.clone();
        Forked::spawn(move || {
            for i in 0..20u32 {
                if q.put_timeout(&i.to_le_bytes(), Duration::from_secs(10))
                    .is_err()
                {
                    return 1;
                }
            }
            0
        })
    };
    assert_eq!(producer.wait(Duration::from_secs(20)), Outcome::Exited(0));
    assert_eq!(q.qsize(), 21);
    assert_eq!(child.kill(), KILLED);
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), b"first");
    for i in 0..20u32 {
        assert_eq!(
            q.get_timeout(Duration::from_secs(5)).unwrap(),
            i.to_le_bytes()
        );
    }
    assert!(matches!(q.get_nowait(), Err(Error::QueueEmpty)));
}
