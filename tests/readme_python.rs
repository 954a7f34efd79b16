//! Issue 10, defect 5: the README's Python reader, run verbatim (extracted from README.md)
//! under every CPython 3.11-3.13 present, against a `'d'` array and a `'u'` array made here.
//! It must print the values, print nothing on stderr (no `BufferError`, no resource-tracker
//! warning), and leave both segments in place after the interpreter and its resource tracker
//! have exited (gh-82300: 3.11-3.13 unlink a segment they merely attached to, unless told not
//! to).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::fork::{shm_exists, NameGuard};
use mpshare::{Array, WChar};

/// The first ```python block after the "Segment layout" heading of README.md.
fn readme_reader() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .find("## Segment layout")
        .expect("README has a Segment layout section");
    let rest = &readme[section..];
    let start = rest.find("```python\n").expect("a python block") + "```python\n".len();
    let end = rest[start..].find("```").expect("block end");
    rest[start..start + end].to_string()
}

/// Run `python script arg` with a deadline; (success, stdout, stderr).
fn run(python: &std::path::Path, script: &std::path::Path, arg: &str) -> (bool, String, String) {
    let mut child = Command::new(python)
        .arg(script)
        .arg(arg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn python");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("python did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_readme_python_reader_runs_verbatim_and_leaves_the_segment() {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mpshare-readme-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("read_array.py");
    std::fs::write(&script, readme_reader()).unwrap();

    let gd = NameGuard::new("readme-d");
    let gu = NameGuard::new("readme-u");
    let d = Array::create_from(gd.name(), &[1.5f64, -2.0, 3.25]).unwrap();
    let u = Array::create_from(gu.name(), &['h', 'é', '!'].map(WChar::from)).unwrap();

    let mut failures = Vec::new();
    for (version, python) in &pythons {
        for (name, want) in [
            (gd.name(), "d [3] [1.5, -2.0, 3.25]"),
            (gu.name(), "u [3] ['h', 'é', '!']"),
        ] {
            let (ok, out, err) = run(python, &script, name);
            if !ok || out.trim() != want || !err.trim().is_empty() {
                failures.push(format!(
                    "{version} {name}: ok={ok} stdout={out:?} stderr={err:?}"
                ));
            }
            // The resource tracker is a separate process that exits after the interpreter;
            // give it time to (wrongly) unlink before checking.
            std::thread::sleep(Duration::from_millis(300));
            if !shm_exists(name) {
                failures.push(format!("{version}: {name} was unlinked by Python"));
                panic!("{failures:#?}");
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(d.get(2).unwrap(), 3.25);
    assert_eq!(u.get(1).unwrap(), WChar::from('é'));
    let _ = std::fs::remove_dir_all(&dir);
}
