//! `shared_memory::inspect` tells an mpshare segment (with its header, lock state and a data
//! preview), a CPython ShareableList (its items) and a raw CPython block (its size) apart.

mod common;
mod shared_memory_support;

use mpshare::shared_memory::{inspect, Item, Kind, SharedMemory};
use mpshare::{Array, Error, Value};
use shared_memory_support::{tokens, unique, Unlinker};

#[test]
fn mpshare_array_and_value() {
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("insp-arr"));
    let a =
        Array::create_from(&name, &(0..20).map(|i: i32| i * 3).collect::<Vec<_>>()).expect("array");
    let r = inspect(&name).expect("inspect");
    match &r.kind {
        Kind::Mpshare {
            kind,
            typecode,
            len,
            shape,
            lock,
            lock_owner,
            preview,
            creator_pid,
            ..
        } => {
            assert_eq!(kind, "Array<'i'>");
            assert_eq!(*typecode, Some('i'));
            assert_eq!((*len, shape.as_slice()), (20, &[20u64][..]));
            assert_eq!(*lock, "RLock"); // Array's default, as in Python
            assert_eq!(*lock_owner, None);
            assert_eq!(preview, &["0", "3", "6", "9", "12", "15", "18", "21"]);
            assert_eq!(*creator_pid, std::process::id());
        }
        other => panic!("expected an mpshare segment, found {other:?}"),
    }
    let text = r.to_string();
    assert!(
        text.contains("data: [0, 3, 6, 9, 12, 15, 18, 21, ...]"),
        "{text}"
    );
    assert!(text.contains("lock: RLock, free"), "{text}");

    // Held by this thread: the report names a holder.
    let held = a.acquire().expect("acquire");
    let r = inspect(&name).expect("inspect");
    assert!(
        matches!(r.kind, Kind::Mpshare { lock_owner: Some((tid, false)), .. } if tid != 0),
        "{r:?}"
    );
    assert!(!held.owner_died());
    a.release().expect("release");

    let vname = guard.add(&unique("insp-val"));
    let _v = Value::create(&vname, 2.5f32).expect("value");
    let text = inspect(&vname).expect("inspect").to_string();
    assert!(
        text.contains("Value<'f'>") && text.contains("data: [2.5]"),
        "{text}"
    );
}

#[test]
fn missing_segment_is_not_found() {
    assert!(matches!(
        inspect(&unique("insp-none")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn python_list_and_raw_block() {
    let mut peers = shared_memory_support::peers();
    if peers.is_empty() {
        eprintln!("skipping the CPython part: no CPython 3.11-3.13 found");
    }
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let ln = guard.add(&unique("insp-list"));
        let items = vec![
            Item::Int(1),
            Item::Str("two".into()),
            Item::None,
            Item::Float(0.5),
        ];
        peer.ok(&format!("list_create {ln} {}", tokens(&items)));
        let r = inspect(&ln).expect("inspect list");
        assert_eq!(
            r.kind,
            Kind::ShareableList {
                len: 4,
                format: "q8sxxxxxx?xd".into(),
                items: items.clone()
            },
            "python {}",
            peer.version
        );
        assert!(r.to_string().contains("[1, 'two', None, 0.5]"), "{r}");

        let bn = guard.add(&unique("insp-raw"));
        peer.ok(&format!("shm_create {bn} 3000"));
        let r = inspect(&bn).expect("inspect raw");
        assert_eq!(r.size, 3000);
        assert!(matches!(r.kind, Kind::Raw { .. }), "{r:?}");
        assert!(r.to_string().contains("raw block of 3000 bytes"), "{r}");
        peer.ok(&format!("close {ln}"));
        peer.ok(&format!("close {bn}"));
    }
}

#[test]
fn layout_v2_shape_is_reported() {
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("insp-v2"));
    let shm = SharedMemory::create(&name, 256 + 4 * 8).expect("create");
    shm.write(0, b"MPSHARE\0").expect("magic");
    for (at, v) in [
        (8usize, 2u32),
        (16, 2),
        (20, b'q' as u32),
        (24, 8),
        (28, 8),
        (136, 2),
    ] {
        shm.write_pod(at, &v).expect("u32");
    }
    shm.write_pod(32, &4u64).expect("len");
    shm.write_pod(40, &256u64).expect("offset");
    shm.write_pod(144, &[2u64, 2]).expect("shape");
    shm.write_pod(256, &[-1i64, 2, -3, 4]).expect("data");
    shm.write_pod(12, &1u32).expect("ready");
    let r = inspect(&name).expect("inspect");
    match r.kind {
        Kind::Mpshare {
            version,
            shape,
            preview,
            ..
        } => {
            assert_eq!(version, 2);
            assert_eq!(shape, [2, 2]);
            assert_eq!(preview, ["-1", "2", "-3", "4"]);
        }
        other => panic!("{other:?}"),
    }
}

/// `mpshare inspect NAME` prints the same report; a missing name exits 2 saying so.
#[test]
fn cli_inspect() {
    let bin = env!("CARGO_BIN_EXE_mpshare");
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("insp-cli"));
    let _a = Array::create_from(&name, &[7u8, 8, 9]).expect("array");
    let out = common::within(std::time::Duration::from_secs(30), {
        let name = name.clone();
        move || {
            std::process::Command::new(bin)
                .args(["inspect", &name])
                .output()
        }
    })
    .expect("run mpshare");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Array<'B'>") && text.contains("data: [7, 8, 9]"),
        "{text}"
    );

    let missing = unique("insp-cli-none");
    let out = common::within(std::time::Duration::from_secs(30), move || {
        std::process::Command::new(bin)
            .args(["inspect", &missing])
            .output()
    })
    .expect("run mpshare");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
