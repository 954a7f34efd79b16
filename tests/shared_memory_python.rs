//! SharedMemory both ways with real CPython 3.11, 3.12 and 3.13: a block Python creates opens
//! in Rust with Python's size and bytes, a block Rust creates opens in Python, writes cross in
//! both directions, random `psm_` names work both ways, and neither side's exit unlinks a block
//! the other side owns.

mod common;
mod shared_memory_support;

use std::sync::atomic::{AtomicU64, Ordering};

use mpshare::shared_memory::SharedMemory;
use mpshare::Error;
use shared_memory_support::{hex, peers, unhex, unique, Unlinker};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn python_block_opens_in_rust_and_the_reverse_writes_cross() {
    let mut peers = peers();
    if peers.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pyblock"));
        // An odd size: Python's size is the ftruncate'd size, not a page multiple.
        let reply = peer.ok(&format!("shm_create {name} 1001"));
        assert_eq!(reply, format!("{name} 1001"), "python {}", peer.version);
        let data = pattern(1001, 7);
        peer.ok(&format!("shm_write {name} 0 {}", hex(&data)));

        let shm = SharedMemory::open(&name).expect("open Python's block");
        assert_eq!(shm.size(), 1001, "python {}", peer.version);
        assert_eq!(shm.name(), Some(name.as_str()));
        assert_eq!(shm.to_vec(), data, "python {}", peer.version);

        // Rust writes, Python sees it at once (same pages, no copy).
        shm.write(13, b"from rust").expect("write");
        assert_eq!(
            unhex(&peer.ok(&format!("shm_read {name} 13 9"))),
            b"from rust"
        );
        // Python writes a native u64; a Rust atomic sees it and adds to it; Python sees that.
        peer.ok(&format!(
            "shm_write {name} 64 {}",
            hex(&41u64.to_ne_bytes())
        ));
        let word = shm.atomic::<AtomicU64>(64).expect("aligned word");
        assert_eq!(word.fetch_add(1, Ordering::SeqCst), 41);
        assert_eq!(peer.ok(&format!("word_add {name} 64 10")), "52");
        assert_eq!(word.load(Ordering::SeqCst), 52);

        // An opener never unlinks: dropping the Rust handle leaves Python's block.
        drop(shm);
        assert!(std::path::Path::new(&format!("/dev/shm/{name}")).exists());
        peer.ok(&format!("close {name}"));
        // Rust unlinks what Python made; Python then cannot open it.
        mpshare::shm::unlink(&name).expect("unlink");
        let err = peer.cmd(&format!("shm_open {name}")).unwrap_err();
        assert!(err.starts_with("FileNotFoundError"), "{err}");
    }
}

#[test]
fn rust_block_opens_in_python_and_survives_pythons_exit() {
    let mut peers = peers();
    if peers.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("rsblock"));
        let shm = SharedMemory::create(&name, 777).expect("create");
        let data = pattern(777, 3);
        shm.write(0, &data).expect("write");
        assert_eq!(peer.ok(&format!("shm_open {name}")), "777");
        assert_eq!(unhex(&peer.ok(&format!("raw {name}"))), data);
        peer.ok(&format!("shm_write {name} 100 {}", hex(b"from python")));
        assert_eq!(shm.read_vec(100, 11).expect("read"), b"from python");
        peer.ok(&format!("close {name}"));
        assert!(
            std::path::Path::new(&format!("/dev/shm/{name}")).exists(),
            "python {} unlinked a block it only opened",
            peer.version
        );
        // The creating Rust handle unlinks on drop.
        drop(shm);
        assert!(!std::path::Path::new(&format!("/dev/shm/{name}")).exists());
    }
    // Python processes exit here; nothing they opened may vanish: checked per version above
    // while they ran; after exit, a block Rust persisted must still be there.
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("persist"));
    {
        let mut peers = shared_memory_support::peers();
        let shm = SharedMemory::create(&name, 64).expect("create");
        shm.persist();
        for p in &mut peers {
            assert_eq!(p.ok(&format!("shm_open {name}")), "64");
        }
        drop(peers); // each Python exits (its resource tracker too)
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        SharedMemory::open(&name).is_ok(),
        "a Python exit unlinked a block Rust owns"
    );
}

#[test]
fn random_psm_names_both_ways() {
    let mut peers = peers();
    if peers.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let shm = SharedMemory::new(50).expect("new");
        let name = guard.add(shm.name().expect("named"));
        assert!(name.starts_with("psm_") && name.len() == 12, "{name}");
        assert_eq!(peer.ok(&format!("shm_open {name}")), "50");
        peer.ok(&format!("close {name}"));

        let reply = peer.ok("shm_new 33");
        let (pyname, size) = reply.split_once(' ').expect("name size");
        guard.add(pyname);
        assert!(pyname.starts_with("psm_") && pyname.len() == 12, "{pyname}");
        assert_eq!(size, "33");
        let theirs = SharedMemory::open(pyname).expect("open Python's random block");
        assert_eq!(theirs.size(), 33);
        assert_eq!(theirs.name(), Some(pyname));
        // The leading slash is optional on our side, as with every mpshare name.
        assert_eq!(
            SharedMemory::open(&format!("/{pyname}"))
                .expect("with slash")
                .size(),
            33
        );
        peer.ok(&format!("close {pyname}"));
    }
}

#[test]
fn size_rules_match_python() {
    let name = unique("zero");
    assert!(matches!(
        SharedMemory::create(&name, 0),
        Err(Error::InvalidSize { found: 0, .. })
    ));
    assert!(!std::path::Path::new(&format!("/dev/shm/{name}")).exists());
    let mut peers = peers();
    for peer in &mut peers {
        let err = peer.cmd(&format!("shm_create {name} 0")).unwrap_err();
        assert!(
            err.starts_with("ValueError"),
            "python {}: {err}",
            peer.version
        );
    }
    // An existing name is refused by both.
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("exists"));
    let _shm = SharedMemory::create(&name, 8).expect("create");
    assert!(matches!(
        SharedMemory::create(&name, 8),
        Err(Error::AlreadyExists { .. })
    ));
    for peer in &mut peers {
        let err = peer.cmd(&format!("shm_create {name} 8")).unwrap_err();
        assert!(
            err.starts_with("FileExistsError"),
            "python {}: {err}",
            peer.version
        );
    }
}

#[test]
fn anonymous_block_is_shared_with_a_fork_child() {
    use common::fork::{Forked, Outcome};
    let shm = SharedMemory::anonymous(4096).expect("anonymous");
    shm.write(0, b"parent").expect("write");
    let mut child = Forked::spawn(|| {
        let ok = shm.read_vec(0, 6).map(|v| v == b"parent").unwrap_or(false);
        let _ = shm.write(100, b"child");
        if let Ok(w) = shm.atomic::<AtomicU64>(8) {
            w.fetch_add(5, Ordering::SeqCst);
        }
        if ok {
            0
        } else {
            1
        }
    });
    assert!(matches!(
        child.wait(std::time::Duration::from_secs(20)),
        Outcome::Exited(0)
    ));
    assert_eq!(shm.read_vec(100, 5).expect("read"), b"child");
    assert_eq!(shm.read_pod::<u64>(8).expect("read"), 5);
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SharedMemory>();
    check::<mpshare::ShareableList>();
    let shm = std::sync::Arc::new(SharedMemory::anonymous(64).expect("block"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let shm = shm.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    shm.atomic::<AtomicU64>(8 * t)
                        .expect("word")
                        .fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    for t in 0..4 {
        assert_eq!(shm.read_pod::<u64>(8 * t).expect("read"), 1000);
    }
}
