//! CPython's own manager tests against `mpshare serve`: for every CPython present (3.11, 3.12,
//! 3.13, and 3.14 when installed), `tests/py/cpython_conformance.py` loads the interpreter's
//! `test._test_multiprocessing`, builds the `WithManagerTest*` classes and
//! `TestSyncManagerTypes` exactly as CPython's `test_multiprocessing_fork` does, and points
//! their manager at a fresh `mpshare serve` (the real binary, one server per interpreter, the
//! interpreters in parallel). Nothing may fail; the tests it excludes, and why, are listed in the
//! script and printed here.

mod common;

use std::time::Duration;

const KEY: &str = "mpshare-conformance-key";

/// Each interpreter's run takes 10-20 s on an idle machine.
const RUN_LIMIT: Duration = Duration::from_secs(240);

#[test]
fn cpython_manager_tests_pass_against_mpshare_serve() {
    let pythons = common::conformance::interpreters();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.14 found");
        return;
    }
    let runs: Vec<_> = pythons
        .into_iter()
        .map(|(v, p)| {
            std::thread::spawn(move || {
                let (_server, addr) = common::serve::serve(KEY, &[]);
                common::conformance::run(v, p, &addr, KEY, "", RUN_LIMIT)
            })
        })
        .collect();
    let outcomes: Vec<_> = runs.into_iter().map(|h| h.join().unwrap()).collect();
    common::conformance::judge(&outcomes, "mpshare serve");
}
