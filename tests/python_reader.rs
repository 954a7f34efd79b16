//! CPython reads a named `Array<f64>` through `multiprocessing.shared_memory` and the
//! documented segment layout (examples/python_reader.py), under every CPython present: the
//! values it prints match, and the segment still exists afterwards (Python did not unlink it).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mpshare::Array;

/// Run `cmd` to completion with a deadline; (status ok, stdout, stderr).
fn run_bounded(mut cmd: Command, limit: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait python") {
            Some(_) => break,
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("python did not finish within {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().expect("python output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `"key": <number>` in a flat JSON object line.
fn json_num(s: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\": ");
    let at = s.find(&pat).unwrap_or_else(|| panic!("no {key} in {s}")) + pat.len();
    let rest = &s[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {s}: {e}"))
}

#[test]
fn cpython_reads_named_array_and_leaves_it() {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python_reader.py");
    let name = format!("mpshare-test-pyreader-{}", std::process::id());
    let n = 100_000usize;
    let data: Vec<f64> = (0..n).map(|i| i as f64 * 0.25 - 7.0).collect();
    let expected_sum: f64 = data.iter().sum();
    let a = Array::create_from(&name, &data).expect("create array");
    let shm_path = format!("/dev/shm/{name}");

    for (version, py) in &pythons {
        let mut cmd = Command::new(py);
        cmd.arg(&script).arg(&name);
        let (ok, out, err) = run_bounded(cmd, Duration::from_secs(60));
        assert!(ok, "python {version} failed: {out} {err}");
        let line = out.lines().last().unwrap_or("");
        assert_eq!(
            json_num(line, "count"),
            n as f64,
            "python {version}: {line}"
        );
        let sum = json_num(line, "sum");
        assert!(
            (sum - expected_sum).abs() <= 1e-9 * expected_sum.abs().max(1.0),
            "python {version}: sum {sum} != {expected_sum}"
        );
        assert_eq!(json_num(line, "first"), data[0], "python {version}");
        assert_eq!(json_num(line, "last"), data[n - 1], "python {version}");
        assert_eq!(json_num(line, "lock"), 2.0, "RLock recorded in the header");
        assert_eq!(json_num(line, "creator_pid"), std::process::id() as f64);
        assert!(
            !err.contains("leaked shared_memory"),
            "python {version} resource_tracker complained: {err}"
        );
        // The segment survives the reader's exit (and its resource tracker).
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            Path::new(&shm_path).exists(),
            "python {version} unlinked {shm_path}"
        );
        assert_eq!(Array::<f64>::open(&name).expect("reopen").len(), n);
        // Still our data, still writable through the lock.
        a.set(0, 1.5).expect("set");
        assert_eq!(a.get(0).expect("get"), 1.5);
        a.set(0, data[0]).expect("restore");
    }
}

#[test]
fn cpython_reader_rejects_wrong_type() {
    let pythons = common::pythons();
    let Some((version, py)) = pythons.first() else {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python_reader.py");
    let name = format!("mpshare-test-pyreader-i32-{}", std::process::id());
    let _a = Array::<i32>::create(&name, 4).expect("create");
    let mut cmd = Command::new(py);
    cmd.arg(&script).arg(&name);
    let (ok, out, _) = run_bounded(cmd, Duration::from_secs(60));
    assert!(!ok, "python {version} accepted an Array<'i'>: {out}");
    assert!(out.contains("expected typecode 'd'"), "{out}");
    assert!(Path::new(&format!("/dev/shm/{name}")).exists());

    let mut cmd = Command::new(py);
    cmd.arg(&script).arg("mpshare-test-pyreader-missing-xyz");
    let (ok, out, _) = run_bounded(cmd, Duration::from_secs(60));
    assert!(!ok && out.contains("no shared-memory segment"), "{out}");
}
