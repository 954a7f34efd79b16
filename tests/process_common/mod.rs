//! A small test runner for the process tests, which need a single-threaded `main` (libtest
//! runs tests on threads, and the safe fork API refuses a multi-threaded parent) and a `main`
//! that calls `spawn_main` first (spawned children re-execute the test binary).
//!
//! Every test runs in a forked child of the runner, bounded by a timeout (killed past it), so
//! a hanging test fails instead of hanging the suite. Arguments that do not start with `-`
//! filter tests by substring, as libtest does.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use mpshare::process::Process;

/// One test: a name and a body that panics on failure.
pub type Test = (&'static str, fn());

/// Upper bound for one test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `tests` (after `spawn_main`, which the caller does first) and exit.
pub fn run(tests: &[Test]) -> ! {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        std::process::exit(0);
    }
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    let t0 = Instant::now();
    for (name, body) in selected.iter().copied() {
        let t = Instant::now();
        let body = *body;
        let mut p = Process::new(body).daemon(true);
        let ok = match p.start() {
            Err(e) => Err(format!("could not start: {e}")),
            Ok(()) => match p.join_timeout(TEST_TIMEOUT) {
                Ok(true) => match p.exitcode() {
                    Some(0) => Ok(()),
                    code => Err(format!(
                        "exit code {code:?}: {}",
                        p.failure().unwrap_or("(no message)")
                    )),
                },
                Ok(false) => {
                    let _ = p.kill();
                    let _ = p.join();
                    Err(format!("timed out after {TEST_TIMEOUT:?}"))
                }
                Err(e) => Err(format!("join: {e}")),
            },
        };
        match ok {
            Ok(()) => println!("test {name} ... ok ({:.2}s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; finished in {:.2}s",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        t0.elapsed().as_secs_f64()
    );
    std::process::exit(if failed.is_empty() { 0 } else { 1 })
}

/// A unique segment name, removed from `/dev/shm` when dropped.
pub struct ShmName(pub String);

impl ShmName {
    pub fn new(tag: &str) -> ShmName {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        ShmName(format!(
            "mpshare-test-proc-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = mpshare::shm::unlink(&self.0);
    }
}

/// Poll `cond` every millisecond until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// True while `pid` exists and is not a zombie.
pub fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}
