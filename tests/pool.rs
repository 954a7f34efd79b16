//! Pool: results in order, per-task panics and errors, killed workers reported (never waited
//! on), chunks of a shared array. `harness = false`: see `process_common`.

mod process_common;

use std::time::{Duration, Instant};

use mpshare::process::{self, Pool};
use mpshare::{Array, Error, RawArray};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn main() {
    process::spawn_main(&[]);
    process_common::run(&[
        (
            "results_in_order_across_workers",
            results_in_order_across_workers,
        ),
        ("panics_and_errors_per_task", panics_and_errors_per_task),
        ("killed_worker_is_reported", killed_worker_is_reported),
        ("all_workers_dead", all_workers_dead),
        ("chunks_of_a_shared_array", chunks_of_a_shared_array),
        ("close_join_and_edges", close_join_and_edges),
    ])
}

fn results_in_order_across_workers() {
    let pool = Pool::new(3).unwrap();
    // Uneven task lengths, so that workers finish out of order.
    let r = pool
        .map(200, |i| {
            if i % 7 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            [i as u64 * i as u64, std::process::id() as u64]
        })
        .unwrap();
    assert_eq!(r.len(), 200);
    let mut pids = Vec::new();
    for (i, x) in r.into_iter().enumerate() {
        let [sq, pid] = x.unwrap();
        assert_eq!(sq, (i * i) as u64);
        assert_ne!(pid, std::process::id() as u64);
        pids.push(pid);
    }
    pids.sort();
    pids.dedup();
    assert!(pids.len() > 1 && pids.len() <= 3, "{pids:?}");
}

fn panics_and_errors_per_task() {
    let pool = Pool::new(2).unwrap();
    let r = pool
        .try_map(6, |i| match i {
            1 => panic!("task one panics"),
            4 => Err(format!("task {i} refuses")),
            _ => Ok(i as i32 * 10),
        })
        .unwrap();
    for (i, x) in r.iter().enumerate() {
        match (i, x) {
            (
                1,
                Err(Error::TaskFailed {
                    task: 1,
                    panicked: true,
                    message,
                }),
            ) => {
                assert_eq!(message, "task one panics")
            }
            (
                4,
                Err(
                    e @ Error::TaskFailed {
                        task: 4,
                        panicked: false,
                        ..
                    },
                ),
            ) => {
                assert_eq!(e.to_string(), "task 4 failed: task 4 refuses")
            }
            (i, Ok(v)) if i != 1 && i != 4 => assert_eq!(*v, i as i32 * 10),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn killed_worker_is_reported() {
    let pool = Pool::new(2).unwrap();
    let t = Instant::now();
    let r = pool
        .map(20, |i| {
            if i == 5 {
                let _ = kill(Pid::this(), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(1));
            i as u16
        })
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(30));
    for (i, x) in r.iter().enumerate() {
        if i == 5 {
            match x {
                Err(Error::WorkerDied { task: 5, pid, how }) => {
                    assert_ne!(*pid, std::process::id());
                    assert_eq!(how, "killed by SIGKILL");
                }
                other => panic!("task 5: {other:?}"),
            }
        } else {
            // The surviving worker ran every other task.
            assert_eq!(*x.as_ref().unwrap(), i as u16);
        }
    }
}

fn all_workers_dead() {
    let pool = Pool::new(2).unwrap();
    let r = pool
        .map(6, |i| {
            if i < 2 {
                std::process::abort();
            }
            1u8
        })
        .unwrap();
    for (i, x) in r.iter().enumerate() {
        match (i, x) {
            (0 | 1, Err(Error::WorkerDied { how, .. })) => assert_eq!(how, "killed by SIGABRT"),
            (_, Err(Error::TaskNotRun { task })) => assert_eq!(*task, i),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn chunks_of_a_shared_array() {
    let rows = 64;
    let cols = 100;
    let a = Array::<f64>::new(rows * cols).unwrap();
    let seen = RawArray::<u32>::new(rows).unwrap();
    let pool = Pool::new(2).unwrap();
    let sums = {
        let mut g = a.lock().unwrap();
        pool.map_chunks(&mut g, cols, |row, chunk| {
            seen.fetch_add(row, 1).unwrap();
            for (c, x) in chunk.iter_mut().enumerate() {
                *x = (row * cols + c) as f64;
            }
            chunk.iter().sum::<f64>()
        })
        .unwrap()
    };
    assert_eq!(sums.len(), rows);
    for (row, s) in sums.into_iter().enumerate() {
        let expect: f64 = (0..cols).map(|c| (row * cols + c) as f64).sum();
        assert_eq!(s.unwrap(), expect);
    }
    assert_eq!(seen.to_vec(), vec![1; rows], "each chunk ran exactly once");
    let v = a.to_vec().unwrap();
    assert!(v.iter().enumerate().all(|(i, x)| *x == i as f64));
    // A last chunk shorter than chunk_len.
    let mut g = a.lock().unwrap();
    let lens = pool
        .map_chunks(&mut g[..250], 100, |_, c| c.len() as u32)
        .unwrap();
    assert_eq!(
        lens.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
}

fn close_join_and_edges() {
    assert!(matches!(Pool::new(0), Err(Error::ProcessState { .. })));
    let mut pool = Pool::new(4).unwrap();
    assert!(pool.map(0, |_| 1u8).unwrap().is_empty());
    assert_eq!(pool.map(1, |_| 9u8).unwrap()[0].as_ref().unwrap(), &9);
    assert!(matches!(
        pool.map_chunks(&mut [1u8; 4], 0, |_, _| ()),
        Err(Error::ProcessState { .. })
    ));
    assert!(pool.join().is_err(), "join before close");
    pool.close();
    pool.join().unwrap();
    assert!(matches!(
        pool.map(1, |_| ()),
        Err(Error::ProcessState { .. })
    ));
}
