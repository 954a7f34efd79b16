//! python/mpshare_segments.py under every CPython 3.11–3.13 present: it reads and writes mpshare
//! Values and Arrays, its lock excludes a Rust holder and the reverse (timed both ways, plus a
//! lost-update count across the two languages), it reports owner-died after a SIGKILL of a
//! Python holder (seen by Rust) and of a Rust holder (seen by Python), it parses a layout-v2
//! header with a shape, and `as_numpy()` is a zero-copy view (skipped, saying why, without
//! numpy).

mod common;
mod shared_memory_support;

use std::time::{Duration, Instant};

use common::fork::{Forked, Outcome};
use mpshare::shared_memory::SharedMemory;
use mpshare::{Array, Value};
use shared_memory_support::{unique, Peer, Unlinker};

fn peers() -> Vec<Peer> {
    let out: Vec<Peer> = common::pythons()
        .into_iter()
        .map(|(v, p)| Peer::start_script(&v, &p, "tests/py/segments_peer.py"))
        .collect();
    if out.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
    }
    out
}

#[test]
fn python_reads_and_writes_values_and_arrays() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let an = guard.add(&unique("pyside-arr"));
        let vn = guard.add(&unique("pyside-val"));
        let a = Array::create_from(&an, &[1.5f64, -2.0, 3.25]).expect("array");
        let val = Value::create(&vn, -7i16).expect("value");
        let info = peer.ok(&format!("info {an}"));
        let f: Vec<&str> = info.split(' ').collect();
        assert_eq!(&f[..3], ["Array", "d", "3"], "python {v}: {info}");
        assert_eq!(f[4], "3", "python {v}: shape of a 1-D array: {info}");
        assert_eq!(peer.ok(&format!("all {an}")), "1.5 -2.0 3.25");
        peer.ok(&format!("set {an} 1 8.5"));
        peer.ok(&format!("set {an} -1 0.125"));
        assert_eq!(a.to_vec().expect("read"), [1.5, 8.5, 0.125]);
        assert_eq!(peer.ok(&format!("value {vn}")), "-7", "python {v}");
        peer.ok(&format!("setvalue {vn} 300"));
        assert_eq!(val.get().expect("get"), 300);
        let err = peer.cmd(&format!("get {an} 3")).unwrap_err();
        assert!(err.starts_with("IndexError"), "{err}");
        let err = peer.cmd(&format!("setvalue {vn} 40000")).unwrap_err();
        assert!(err.starts_with("error"), "'h' refuses 40000: {err}"); // struct.error
        peer.ok(&format!("close {an}"));
        peer.ok(&format!("close {vn}"));
        // Python's exit leaves both (it opened them untracked).
        drop(peer);
        assert!(Array::<f64>::open(&an).is_ok());
    }
}

#[test]
fn python_lock_excludes_rust_and_the_reverse() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-lock"));
        let a = Array::create_from(&name, &[0i64; 4]).expect("array");
        peer.ok(&format!("info {name}"));

        // Rust holds: Python's bounded acquire fails after its timeout, not before.
        let held = a.acquire().expect("rust acquire");
        assert!(!held.owner_died());
        let t = Instant::now();
        assert_eq!(peer.ok(&format!("acquire {name} 0.3")), "0 0", "python {v}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(10),
            "python {v} waited {took:?}"
        );
        a.release().expect("rust release");
        assert_eq!(peer.ok(&format!("acquire {name} 5")), "1 0", "python {v}");

        // Python holds: Rust's bounded acquire fails after its timeout.
        let t = Instant::now();
        let got = a
            .get_lock()
            .acquire_timeout(Duration::from_millis(300))
            .expect("acquire_timeout");
        let took = t.elapsed();
        assert!(got.is_none(), "python {v} holds the lock, Rust got it");
        assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(10));
        peer.ok(&format!("release {name}"));
        let got = a
            .get_lock()
            .acquire_timeout(Duration::from_secs(5))
            .expect("acquire_timeout")
            .expect("free after Python released");
        assert!(!got.owner_died());
        a.release().expect("release");
        // Releasing what it does not hold is refused in Python too.
        let err = peer.cmd(&format!("release {name}")).unwrap_err();
        assert!(err.starts_with("RuntimeError"), "{err}");
        peer.ok(&format!("close {name}"));
    }
}

#[test]
fn no_lost_updates_between_python_and_rust_holders() {
    for mut peer in peers() {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-count"));
        let counter = Value::create(&name, 0i64).expect("value");
        peer.ok(&format!("info {name}"));
        let n = 3000;
        let rust = {
            let name = name.clone();
            std::thread::spawn(move || {
                let c = Value::<i64>::open(&name).expect("open");
                for _ in 0..n {
                    c.update(|x| x + 1).expect("update");
                }
            })
        };
        peer.ok(&format!("add_locked {name} {n}"));
        rust.join().expect("rust thread");
        assert_eq!(
            counter.get().expect("get"),
            2 * n,
            "python {}: lost updates",
            peer.version
        );
        peer.ok(&format!("close {name}"));
    }
}

#[test]
fn owner_died_after_sigkill_of_a_python_holder() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-pydies"));
        let a = Array::create_from(&name, &[1u32, 2, 3]).expect("array");
        assert_eq!(peer.ok(&format!("acquire {name} 5")), "1 0");
        // SAFETY-free: kill(2) on the pid of a child we spawned and have not reaped.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(peer.pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill python");
        drop(peer); // reaps it (bounded)
        let got = a
            .get_lock()
            .acquire_timeout(Duration::from_secs(5))
            .expect("acquire after owner death")
            .expect("robust lock handed on");
        assert!(got.owner_died(), "python {v}: owner death not reported");
        a.release().expect("release");
        let again = a.acquire().expect("acquire");
        assert!(!again.owner_died(), "reported once only");
        a.release().expect("release");
    }
}

#[test]
fn owner_died_after_sigkill_of_a_rust_holder() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-rsdies"));
        let a = Array::create_from(&name, &[0i32; 2]).expect("array");
        let held = mpshare::RawValue::new(0i32).expect("flag");
        let mut child = Forked::spawn(|| {
            let Ok(_held) = a.acquire() else { return 1 };
            held.set(1); // tell the parent: held
            std::thread::sleep(Duration::from_secs(60));
            0
        });
        let t = Instant::now();
        while held.get() != 1 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "child never took the lock"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            peer.ok(&format!("acquire {name} 0.1")),
            "0 0",
            "child holds it"
        );
        assert!(matches!(child.kill(), Outcome::Signaled(9)));
        assert_eq!(
            peer.ok(&format!("acquire {name} 5")),
            "1 1",
            "python {v}: owner death not reported"
        );
        peer.ok(&format!("release {name}"));
        assert_eq!(peer.ok(&format!("acquire {name} 5")), "1 0");
        peer.ok(&format!("release {name}"));
        peer.ok(&format!("close {name}"));
    }
}

/// A layout-v2 header written by hand (shape [2, 3], data at 256), as the next writer will.
fn v2_segment(name: &str) -> SharedMemory {
    let shm = SharedMemory::create(name, 256 + 6 * 8).expect("create");
    shm.write(0, b"MPSHARE\0").expect("magic");
    let u32s: [(usize, u32); 8] = [
        (8, 2),            // version
        (16, 2),           // Array
        (20, b'd' as u32), // typecode
        (24, 8),           // element size
        (28, 8),           // alignment
        (48, 0),           // no lock
        (52, std::process::id()),
        (136, 2), // ndim
    ];
    for (at, v) in u32s {
        shm.write_pod(at, &v).expect("u32");
    }
    shm.write_pod(32, &6u64).expect("len");
    shm.write_pod(40, &256u64).expect("data offset");
    shm.write_pod(144, &[2u64, 3]).expect("shape");
    let data: Vec<f64> = (0..6).map(|i| i as f64).collect();
    shm.write_pod(256, &<[f64; 6]>::try_from(data).expect("6"))
        .expect("data");
    shm.write_pod(12, &1u32).expect("ready");
    shm
}

#[test]
fn python_module_reads_layout_v2_with_a_shape() {
    for mut peer in peers() {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-v2"));
        let _shm = v2_segment(&name);
        assert_eq!(peer.ok(&format!("info {name}")), "Array d 6 2 2,3 256");
        assert_eq!(peer.ok(&format!("all {name}")), "0.0 1.0 2.0 3.0 4.0 5.0");
        let err = peer.cmd(&format!("acquire {name} 0.1")).unwrap_err();
        assert!(
            err.starts_with("TypeError"),
            "no lock in this segment: {err}"
        );
        let np = peer.ok(&format!("numpy {name}"));
        if let Some(reason) = np.strip_prefix("skip ") {
            eprintln!("python {}: numpy part skipped: {reason}", peer.version);
        } else {
            assert_eq!(np, "15.0 2x3 'float64'", "python {}", peer.version);
        }
        peer.ok(&format!("close {name}"));
    }
}

#[test]
fn as_numpy_is_a_zero_copy_view() {
    for mut peer in peers() {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-np"));
        let a = Array::create_from(&name, &[1.0f64, 2.0, 3.0, 4.0]).expect("array");
        let out = peer.ok(&format!("numpy {name} 3 9.5"));
        if let Some(reason) = out.strip_prefix("skip ") {
            eprintln!(
                "python {}: skipped: {reason} (python/install_numpy.sh installs it)",
                peer.version
            );
            continue;
        }
        assert_eq!(out, "10.0 4 'float64'", "python {}", peer.version);
        assert_eq!(
            a.get(3).expect("get"),
            9.5,
            "numpy wrote through to shared memory"
        );
        peer.ok(&format!("close {name}"));
    }
}

/// Standalone Lock (error-checking) and RLock (recursive) segments: Python re-acquiring a Lock
/// it holds is refused (not a self-deadlock), an RLock re-enters, and Rust is excluded meanwhile.
#[test]
fn python_module_on_lock_and_rlock_segments() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let ln = guard.add(&unique("pyside-L"));
        let rn = guard.add(&unique("pyside-R"));
        let lock = mpshare::Lock::create(&ln).expect("lock");
        let rlock = mpshare::RLock::create(&rn).expect("rlock");
        assert!(
            peer.ok(&format!("info {ln}")).starts_with("Lock "),
            "python {v}"
        );
        assert_eq!(peer.ok(&format!("acquire {ln} 5")), "1 0");
        let err = peer.cmd(&format!("acquire {ln} 1")).unwrap_err();
        assert!(
            err.starts_with("RuntimeError deadlock avoided"),
            "python {v}: {err}"
        );
        assert!(
            lock.try_acquire().expect("try").is_none(),
            "Python holds it"
        );
        peer.ok(&format!("release {ln}"));
        assert!(lock.try_acquire().expect("try").is_some());
        lock.release().expect("release");

        assert_eq!(peer.ok(&format!("acquire {rn} 5")), "1 0");
        assert_eq!(peer.ok(&format!("acquire {rn} 5")), "1 0", "re-entered");
        peer.ok(&format!("release {rn}"));
        assert!(
            rlock.try_acquire().expect("try").is_none(),
            "still held once"
        );
        peer.ok(&format!("release {rn}"));
        assert!(rlock.try_acquire().expect("try").is_some());
        rlock.release().expect("release");
        peer.ok(&format!("close {ln}"));
        peer.ok(&format!("close {rn}"));
    }
}

/// A layout-v1 header (as mpshare 0.1 wrote it: 128-byte header, data at 128, no shape) still
/// opens now that writers write v2.
#[test]
fn python_module_reads_layout_v1() {
    for mut peer in peers() {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-v1"));
        let shm = SharedMemory::create(&name, 128 + 3 * 4).expect("create");
        shm.write(0, b"MPSHARE\0").expect("magic");
        for (at, v) in [(8usize, 1u32), (16, 2), (20, b'i' as u32), (24, 4), (28, 4)] {
            shm.write_pod(at, &v).expect("u32");
        }
        shm.write_pod(32, &3u64).expect("len");
        shm.write_pod(40, &128u64).expect("offset");
        shm.write_pod(128, &[-5i32, 6, 7]).expect("data");
        shm.write_pod(12, &1u32).expect("ready");
        assert_eq!(peer.ok(&format!("info {name}")), "Array i 3 1 3 128");
        assert_eq!(peer.ok(&format!("all {name}")), "-5 6 7");
        peer.ok(&format!("set {name} 0 99"));
        assert_eq!(shm.read_pod::<i32>(128).expect("read"), 99);
        peer.ok(&format!("close {name}"));
    }
}

/// `python3 python/mpshare_segments.py NAME` (the single file run as a script) describes a
/// segment and exits 1 on a missing one.
#[test]
fn module_runs_as_a_script() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/mpshare_segments.py");
    for (v, py) in common::pythons() {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-cli"));
        let _a = Array::create_from(&name, &[0.5f64, 1.5]).expect("array");
        let mut cmd = std::process::Command::new(&py);
        cmd.arg(&script).arg(&name);
        let out = common::within(Duration::from_secs(60), move || cmd.output()).expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "python {v}: {text}");
        assert!(
            text.contains("Array<'d'>") && text.contains("[0.5, 1.5]"),
            "python {v}: {text}"
        );
        let mut cmd = std::process::Command::new(&py);
        cmd.arg(&script).arg(unique("pyside-cli-none"));
        let out = common::within(Duration::from_secs(60), move || cmd.output()).expect("run");
        assert_eq!(out.status.code(), Some(1), "python {v}");
    }
}

/// CPython registers blocks it merely opens with its resource tracker and unlinks them at exit;
/// the module's `open_shared_memory` / `open_shareable_list` leave a Rust-made block alone.
#[test]
fn module_openers_leave_rust_blocks_to_rust() {
    use mpshare::shared_memory::ShareableList;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    for (v, py) in common::pythons() {
        let mut guard = Unlinker::default();
        let ln = guard.add(&unique("pyside-keep-l"));
        let bn = guard.add(&unique("pyside-keep-b"));
        let list = ShareableList::create(&ln, &[1.into(), "x".into()]).expect("list");
        let _block = SharedMemory::create(&bn, 32).expect("block");
        let script = format!(
            "import sys; sys.path.insert(0, {dir:?}); import mpshare_segments as m\n\
             l = m.open_shareable_list({ln:?}); print(list(l)); l.shm.close()\n\
             b = m.open_shared_memory({bn:?}); print(b.size); b.close()\n",
            dir = dir.display().to_string()
        );
        let mut cmd = std::process::Command::new(&py);
        cmd.args(["-c", &script]);
        let out = common::within(Duration::from_secs(60), move || cmd.output()).expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python {v}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text, "[1, 'x']\n32\n", "python {v}");
        std::thread::sleep(Duration::from_millis(300)); // the tracker acts after the exit
        assert!(
            common::fork::shm_exists(&ln) && common::fork::shm_exists(&bn),
            "python {v} unlinked a Rust block"
        );
        assert_eq!(
            list.get(1).expect("get"),
            mpshare::shared_memory::Item::Str("x".into())
        );
    }
}

/// A real N-D array from the layout-v2 writer: the module reports its shape, `as_numpy()` has
/// it, and a write through numpy lands at the C-order index Rust expects.
#[test]
fn python_module_sees_the_shape_of_an_nd_array() {
    for mut peer in peers() {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyside-nd"));
        let a = Array::<f64>::create_nd(&name, &[2, 3]).expect("nd array");
        a.write(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("write");
        let info = peer.ok(&format!("info {name}"));
        let f: Vec<&str> = info.split(' ').collect();
        assert_eq!(
            (f[0], f[1], f[2], f[3], f[4]),
            ("Array", "d", "6", "2", "2,3"),
            "python {v}: {info}"
        );
        let out = peer.ok(&format!("numpy {name} 4 50.0"));
        if let Some(reason) = out.strip_prefix("skip ") {
            eprintln!("python {v}: numpy part skipped: {reason}");
        } else {
            assert_eq!(out, "21.0 2x3 'float64'", "python {v}");
            assert_eq!(a.get(4).expect("get"), 50.0, "row 1, column 1 in C order");
        }
        peer.ok(&format!("close {name}"));
    }
}
