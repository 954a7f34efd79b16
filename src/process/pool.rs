//! [`Pool`]: forked workers mapping a function over task indices or chunks.

use std::fmt::Display;
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::child::{describe_exit, panic_message, reap, write_all};
use super::os;
use crate::{Error, RawValue, Result};

// Frames, worker -> parent: b'S' task (u64 LE): task started; b'O' task, u32 LE length,
// result bytes; b'F' task, u8 (1 = panic, 0 = error), u32 LE length, UTF-8 message.
const STARTED: u8 = b'S';
const DONE: u8 = b'O';
const FAILED: u8 = b'F';

/// A pool of forked worker processes (Python's `multiprocessing.Pool`).
///
/// Each [`map`](Pool::map) forks the workers (at most one per task), which take task indices
/// from a shared counter until none is left and send each result back over a pipe; results
/// come back in task order, one `Result` per task: a task that panicked or returned an error is
/// [`Error::TaskFailed`], a task whose worker died (killed, crashed) is [`Error::WorkerDied`],
/// and the pool never waits on a dead worker. The mapped function may borrow anything of the
/// caller (each worker has a copy of the caller's memory; shared memory stays shared).
/// Results are [`bytemuck::Pod`] values (numbers, arrays of numbers, `Pod` structs, `()`).
///
/// Workers are forked, so a map is refused with [`Error::ForkWithThreads`] when this process
/// has other threads, unless the pool was made with the `unsafe`
/// [`allow_threads`](Pool::allow_threads).
///
/// ```
/// use mpshare::process::Pool;
/// let pool = Pool::new(2)?;
/// let squares = pool.map(5, |i| (i * i) as u64)?;
/// let squares: Vec<u64> = squares.into_iter().collect::<mpshare::Result<_>>()?;
/// assert_eq!(squares, vec![0, 1, 4, 9, 16]);
///
/// let r = pool.map(3, |i| if i == 1 { panic!("bad task") } else { i as u32 })?;
/// assert_eq!(*r[0].as_ref().unwrap(), 0);
/// assert!(matches!(&r[1], Err(mpshare::Error::TaskFailed { task: 1, panicked: true, .. })));
/// assert_eq!(*r[2].as_ref().unwrap(), 2);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    processes: usize,
    closed: bool,
    allow_threads: bool,
}

/// What a task sends back: the result's bytes, or (panicked, message).
type TaskOut = std::result::Result<Vec<u8>, (bool, String)>;

struct Worker {
    pid: u32,
    rx: Option<OwnedFd>,
    buf: Vec<u8>,
    current: Option<usize>,
}

impl Pool {
    /// A pool of `processes` workers.
    ///
    /// # Errors
    /// [`Error::ProcessState`] for zero processes.
    ///
    /// ```
    /// assert_eq!(mpshare::process::Pool::new(3)?.processes(), 3);
    /// assert!(mpshare::process::Pool::new(0).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(processes: usize) -> Result<Pool> {
        if processes == 0 {
            return Err(Error::ProcessState {
                expected: "a pool of at least one process",
                found: "zero processes",
            });
        }
        Ok(Pool {
            processes,
            closed: false,
            allow_threads: false,
        })
    }

    /// The number of workers.
    ///
    /// ```
    /// assert_eq!(mpshare::process::Pool::new(1)?.processes(), 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// Let this pool fork even when this process has other threads.
    ///
    /// # Safety
    /// The mapped functions must only do what is allowed in the child of a multi-threaded
    /// `fork` (see [`Process::start_unchecked`](super::Process::start_unchecked)); the pool's
    /// own worker loop allocates (results, messages), which glibc's allocator supports after
    /// `fork`.
    ///
    /// ```
    /// // SAFETY: the doctest is single-threaded.
    /// let pool = unsafe { mpshare::process::Pool::new(1)?.allow_threads() };
    /// assert_eq!(pool.map(1, |_| 1u8)?[0].as_ref().ok(), Some(&1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn allow_threads(mut self) -> Pool {
        self.allow_threads = true;
        self
    }

    /// Python's `close()`: no more maps on this pool.
    ///
    /// ```
    /// let mut pool = mpshare::process::Pool::new(1)?;
    /// pool.close();
    /// assert!(matches!(pool.map(1, |_| ()), Err(mpshare::Error::ProcessState { .. })));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Python's `terminate()`: as [`close`](Pool::close) (no worker outlives a map call, so
    /// there is nothing to stop).
    ///
    /// ```
    /// let mut pool = mpshare::process::Pool::new(1)?;
    /// pool.terminate();
    /// pool.join()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn terminate(&mut self) {
        self.closed = true;
    }

    /// Python's `join()`: wait for the workers to exit. Workers live only during a map call
    /// (every map reaps its workers before returning), so this returns at once.
    ///
    /// # Errors
    /// [`Error::ProcessState`] when the pool was not closed first, as in Python.
    ///
    /// ```
    /// let mut pool = mpshare::process::Pool::new(1)?;
    /// assert!(pool.join().is_err());
    /// pool.close();
    /// pool.join()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn join(&mut self) -> Result<()> {
        if !self.closed {
            return Err(Error::ProcessState {
                expected: "a closed pool",
                found: "an open pool (call close() first)",
            });
        }
        Ok(())
    }

    /// Run `f(i)` for every task `i` in `0..tasks` on the workers; results in task order.
    ///
    /// # Errors
    /// The outer error: the pool is closed, fork refused ([`Error::ForkWithThreads`]), or an
    /// OS error. Per task: [`Error::TaskFailed`] (panicked), [`Error::WorkerDied`],
    /// [`Error::TaskNotRun`] (every worker died first).
    ///
    /// ```
    /// let pool = mpshare::process::Pool::new(2)?;
    /// let r = pool.map(4, |i| [i as u32; 2])?;
    /// assert_eq!(r[3].as_ref().unwrap(), &[3, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn map<R, F>(&self, tasks: usize, f: F) -> Result<Vec<Result<R>>>
    where
        R: bytemuck::Pod,
        F: Fn(usize) -> R,
    {
        self.try_map(tasks, |i| Ok::<R, std::convert::Infallible>(f(i)))
    }

    /// As [`map`](Pool::map) for a function that returns a `Result`: an `Err` becomes
    /// [`Error::TaskFailed`] with `panicked: false` and the error's message.
    ///
    /// ```
    /// let pool = mpshare::process::Pool::new(2)?;
    /// let r = pool.try_map(3, |i| if i == 2 { Err(format!("no {i}")) } else { Ok(i as u8) })?;
    /// let err = r[2].as_ref().unwrap_err();
    /// assert!(matches!(err, mpshare::Error::TaskFailed { task: 2, panicked: false, .. }));
    /// assert!(err.to_string().contains("no 2"), "{err}");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn try_map<R, E, F>(&self, tasks: usize, f: F) -> Result<Vec<Result<R>>>
    where
        R: bytemuck::Pod,
        E: Display,
        F: Fn(usize) -> std::result::Result<R, E>,
    {
        let raw = self.run(tasks, |i| match f(i) {
            Ok(r) => Ok(bytemuck::bytes_of(&r).to_vec()),
            Err(e) => Err((false, e.to_string())),
        })?;
        Ok(raw
            .into_iter()
            .map(|r| r.map(|bytes| bytemuck::pod_read_unaligned(&bytes)))
            .collect())
    }

    /// Split `data` into chunks of `chunk_len` elements (the last may be shorter) and run
    /// `f(i, chunk)` for each chunk `i` on the workers, each chunk given as `&mut [T]` to the
    /// one worker that runs that task. With `data` borrowed from an
    /// [`ArrayGuard`](crate::ArrayGuard), the workers write the shared array in place, and the
    /// parent sees it when `map_chunks` returns.
    ///
    /// # Errors
    /// As [`map`](Pool::map); [`Error::ProcessState`] for `chunk_len == 0`.
    ///
    /// ```
    /// use mpshare::{process::Pool, Array};
    /// let a = Array::<u32>::new(10)?;
    /// let sums = Pool::new(2)?.map_chunks(&mut a.lock()?, 4, |i, chunk| {
    ///     chunk.fill(i as u32 + 1);
    ///     chunk.iter().sum::<u32>()
    /// })?;
    /// let sums: Vec<u32> = sums.into_iter().collect::<mpshare::Result<_>>()?;
    /// assert_eq!(sums, vec![4, 8, 6]); // chunks of 4, 4 and 2
    /// assert_eq!(a.to_vec()?, vec![1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn map_chunks<T, R, F>(
        &self,
        data: &mut [T],
        chunk_len: usize,
        f: F,
    ) -> Result<Vec<Result<R>>>
    where
        R: bytemuck::Pod,
        F: Fn(usize, &mut [T]) -> R,
    {
        if chunk_len == 0 {
            return Err(Error::ProcessState {
                expected: "a chunk length of at least 1",
                found: "0",
            });
        }
        let len = data.len();
        let tasks = len.div_ceil(chunk_len);
        let raw = self.run(tasks, |i| {
            let chunk = &mut data[i * chunk_len..((i + 1) * chunk_len).min(len)];
            Ok(bytemuck::bytes_of(&f(i, chunk)).to_vec())
        })?;
        Ok(raw
            .into_iter()
            .map(|r| r.map(|bytes| bytemuck::pod_read_unaligned(&bytes)))
            .collect())
    }

    /// The engine: fork the workers, feed them task indices through a shared counter, gather
    /// their frames. `task` runs only in the workers; each index runs at most once.
    fn run(
        &self,
        tasks: usize,
        mut task: impl FnMut(usize) -> TaskOut,
    ) -> Result<Vec<Result<Vec<u8>>>> {
        if self.closed {
            return Err(Error::ProcessState {
                expected: "an open pool",
                found: "a closed pool",
            });
        }
        if !self.allow_threads {
            super::check_single_threaded()?;
        }
        let mut results: Vec<Option<Result<Vec<u8>>>> = (0..tasks).map(|_| None).collect();
        if tasks == 0 {
            return Ok(Vec::new());
        }
        let next = RawValue::new(0u64)?;
        let parent = std::process::id();
        let mut workers = Vec::new();
        for _ in 0..self.processes.min(tasks) {
            let (rx, tx) = os::pipe()?;
            let (next, task) = (&next, &mut task);
            // SAFETY: single-threaded (checked above) or the caller opted in with the unsafe
            // allow_threads; the worker runs the task loop and leaves with _exit.
            let spawned = unsafe {
                os::fork(move || {
                    os::die_with_parent(parent);
                    worker_loop(&tx, next, tasks, task);
                    os::exit_now(0)
                })
            };
            match spawned {
                Ok(pid) => workers.push(Worker {
                    pid,
                    rx: Some(rx),
                    buf: Vec::new(),
                    current: None,
                }),
                Err(e) if workers.is_empty() => return Err(e),
                Err(_) => break, // run with the workers we have
            }
            // `tx` was moved into the closure and dropped here in the parent: only the worker
            // holds the write end, so its death is an end-of-file.
        }
        for w in &workers {
            if let Some(rx) = &w.rx {
                os::set_nonblocking(rx.as_fd(), true)?;
            }
        }
        gather(&mut workers, &mut results)?;
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(task, r)| r.unwrap_or(Err(Error::TaskNotRun { task })))
            .collect())
    }
}

fn worker_loop(
    tx: &OwnedFd,
    next: &RawValue<u64>,
    tasks: usize,
    task: &mut impl FnMut(usize) -> TaskOut,
) {
    loop {
        let i = next.fetch_add(1) as usize;
        if i >= tasks {
            return;
        }
        let mut frame = vec![STARTED];
        frame.extend_from_slice(&(i as u64).to_le_bytes());
        if write_all(tx.as_fd(), &frame).is_err() {
            return;
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(i)))
            .unwrap_or_else(|p| Err((true, panic_message(&*p))));
        let mut frame = Vec::new();
        match out {
            Ok(bytes) => {
                frame.push(DONE);
                frame.extend_from_slice(&(i as u64).to_le_bytes());
                frame.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                frame.extend_from_slice(&bytes);
            }
            Err((panicked, msg)) => {
                frame.push(FAILED);
                frame.extend_from_slice(&(i as u64).to_le_bytes());
                frame.push(u8::from(panicked));
                frame.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                frame.extend_from_slice(msg.as_bytes());
            }
        }
        if write_all(tx.as_fd(), &frame).is_err() {
            return;
        }
    }
}

/// Read frames until every worker's pipe is closed, then reap the workers.
fn gather(workers: &mut [Worker], results: &mut [Option<Result<Vec<u8>>>]) -> Result<()> {
    loop {
        let open: Vec<usize> = (0..workers.len())
            .filter(|&w| workers[w].rx.is_some())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .map(|&w| {
                    PollFd::new(
                        workers[w].rx.as_ref().map(|f| f.as_fd()).expect("open"),
                        PollFlags::POLLIN,
                    )
                })
                .collect();
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::os(e as i32, "poll(pool workers)")),
            }
        }
        for w in open {
            let eof = read_frames(&mut workers[w], results);
            if eof {
                let worker = &mut workers[w];
                worker.rx = None;
                let code = reap(worker.pid, true)?.unwrap_or(-1);
                if let Some(task) = worker.current.take() {
                    results[task] = Some(Err(Error::WorkerDied {
                        task,
                        pid: worker.pid,
                        how: describe_exit(code),
                    }));
                }
            }
        }
    }
}

/// Read what `w` has sent and record complete frames; true at end-of-file.
fn read_frames(w: &mut Worker, results: &mut [Option<Result<Vec<u8>>>]) -> bool {
    let Some(rx) = &w.rx else { return true };
    let mut chunk = [0u8; 8192];
    let mut eof = false;
    loop {
        match nix::unistd::read(rx.as_fd(), &mut chunk) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => w.buf.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    let mut at = 0;
    let buf = &w.buf;
    let u64_at = |p: usize| {
        buf.get(p..p + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    let u32_at = |p: usize| {
        buf.get(p..p + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    loop {
        match buf.get(at) {
            Some(&STARTED) => match u64_at(at + 1) {
                Some(task) => {
                    w.current = Some(task);
                    at += 9;
                }
                None => break,
            },
            Some(&DONE) => match (u64_at(at + 1), u32_at(at + 9)) {
                (Some(task), Some(n)) if buf.len() >= at + 13 + n => {
                    if let Some(slot) = results.get_mut(task) {
                        *slot = Some(Ok(buf[at + 13..at + 13 + n].to_vec()));
                    }
                    w.current = None;
                    at += 13 + n;
                }
                _ => break,
            },
            Some(&FAILED) => match (u64_at(at + 1), buf.get(at + 9), u32_at(at + 10)) {
                (Some(task), Some(&panicked), Some(n)) if buf.len() >= at + 14 + n => {
                    let message = String::from_utf8_lossy(&buf[at + 14..at + 14 + n]).into_owned();
                    if let Some(slot) = results.get_mut(task) {
                        *slot = Some(Err(Error::TaskFailed {
                            task,
                            panicked: panicked == 1,
                            message,
                        }));
                    }
                    w.current = None;
                    at += 14 + n;
                }
                _ => break,
            },
            None => break,
            Some(_) => {
                // Not a frame: the worker wrote garbage to its pipe; stop reading it.
                at = buf.len();
                eof = true;
                break;
            }
        }
    }
    w.buf.drain(..at);
    eof
}
