//! ShareableList both ways with real CPython 3.11, 3.12 and 3.13: a list Python made is read
//! and written by Rust and the reverse; the bytes Rust writes equal the bytes Python writes for
//! the same items; replacing a str/bytes within its slot works and a too-long one fails on both
//! sides alike; and a property test drives random lists and random replacements through both.

mod common;
mod shared_memory_support;

use std::cell::RefCell;

use mpshare::shared_memory::{Item, ShareableList};
use mpshare::Error;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use shared_memory_support::{item, parse_items, peers, token, tokens, unhex, unique, Unlinker};

fn sample() -> Vec<Item> {
    vec![
        Item::Int(-3),
        Item::Int(i64::MAX),
        Item::Float(1.5),
        Item::Float(-0.0),
        Item::Bool(true),
        Item::Bool(false),
        Item::Str("howdy".into()),
        Item::Str("12345678".into()), // exactly 8: gets 16 bytes
        Item::Str(String::new()),
        Item::Str("é€ü".into()),
        Item::Bytes(b"\x00\x01bin".to_vec()),
        Item::Bytes(Vec::new()),
        Item::None,
    ]
}

/// What Python (and Rust) read back: trailing NULs of str/bytes are gone.
fn as_read(items: &[Item]) -> Vec<Item> {
    items
        .iter()
        .map(|i| match i {
            Item::Str(s) => Item::Str(s.trim_end_matches('\0').to_string()),
            Item::Bytes(b) => {
                let keep = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
                Item::Bytes(b[..keep].to_vec())
            }
            other => other.clone(),
        })
        .collect()
}

#[test]
fn python_list_read_and_written_by_rust() {
    let mut peers = peers();
    if peers.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    for peer in &mut peers {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("pylist"));
        let items = sample();
        let py_bytes = unhex(&peer.ok(&format!("list_create {name} {}", tokens(&items))));
        let l = ShareableList::open(&name).expect("open Python's list");
        assert_eq!(l.shm().to_vec(), py_bytes, "python {v}");
        assert_eq!(l.len(), items.len());
        assert_eq!(l.to_vec().expect("read"), as_read(&items), "python {v}");
        assert_eq!(
            l.format().expect("format"),
            peer.ok(&format!("list_format {name}")),
            "python {v}"
        );

        // Rust writes; Python reads every kind of replacement.
        l.set(0, "str!").expect("int slot takes a short str"); // format becomes "8s"
        l.set(2, Item::None).expect("None anywhere");
        l.set(4, 42).expect("int in a bool slot");
        l.set(7, "abcdefghijklmnop")
            .expect("16 bytes fit the 16 allotted"); // exactly full
        l.set(6, Item::Bytes(b"raw".to_vec()))
            .expect("bytes in a str slot");
        l.set(12, 2.25).expect("float in a None slot");
        let err = l.set(9, "this is far too long").unwrap_err();
        assert!(
            matches!(
                err,
                Error::ShareableListItemTooLarge {
                    index: 9,
                    expected: 8,
                    found: 20
                }
            ),
            "{err}"
        );
        let expect = vec![
            Item::Str("str!".into()),
            Item::Int(i64::MAX),
            Item::None,
            Item::Float(-0.0),
            Item::Int(42),
            Item::Bool(false),
            Item::Bytes(b"raw".to_vec()),
            Item::Str("abcdefghijklmnop".into()),
            Item::Str(String::new()),
            Item::Str("é€ü".into()),
            Item::Bytes(b"\x00\x01bin".to_vec()),
            Item::Bytes(Vec::new()),
            Item::Float(2.25),
        ];
        assert_eq!(
            parse_items(&peer.ok(&format!("list_get {name}"))),
            expect,
            "python {v}"
        );
        assert_eq!(l.to_vec().expect("read"), expect);
        assert_eq!(
            l.format().expect("format"),
            peer.ok(&format!("list_format {name}")),
            "python {v}"
        );
        // Python's own rule for the same too-long str.
        let err = peer
            .cmd(&format!(
                "list_set {name} 9 {}",
                token(&Item::Str("this is far too long".into()))
            ))
            .unwrap_err();
        assert_eq!(err, "ValueError bytes/str item exceeds available storage");
        peer.ok(&format!("close {name}"));
    }
}

#[test]
fn rust_list_read_and_written_by_python_byte_identical() {
    let mut peers = peers();
    if peers.is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    for peer in &mut peers {
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let ours = guard.add(&unique("rslist"));
        let theirs = guard.add(&unique("pytwin"));
        let items = sample();
        let l = ShareableList::create(&ours, &items).expect("create");
        let py_bytes = unhex(&peer.ok(&format!("list_create {theirs} {}", tokens(&items))));
        assert_eq!(l.shm().to_vec(), py_bytes, "python {v}: bytes differ");
        assert_eq!(
            parse_items(&peer.ok(&format!("list_get {ours}"))),
            as_read(&items),
            "python {v}"
        );
        // Python writes into the Rust list; Rust reads.
        peer.ok(&format!(
            "list_set {ours} 1 {}",
            token(&Item::Str("py".into()))
        ));
        peer.ok(&format!("list_set {ours} 7 {}", token(&Item::Bool(true))));
        peer.ok(&format!(
            "list_set {ours} 9 {}",
            token(&Item::Str("héllo!".into()))
        ));
        assert_eq!(l.get(1).expect("get"), Item::Str("py".into()));
        assert_eq!(l.get(7).expect("get"), Item::Bool(true));
        assert_eq!(l.get(9).expect("get"), Item::Str("héllo!".into()));
        // A str into the bool slot 7 now: Python reuses the slot's allotted 16 bytes.
        l.set(7, "0123456789abcde").expect("fits 16");
        assert_eq!(
            item(&peer.ok(&format!("list_item {ours} 7"))),
            Item::Str("0123456789abcde".into())
        );
        assert_eq!(
            l.format().expect("format"),
            peer.ok(&format!("list_format {ours}"))
        );
        peer.ok(&format!("close {ours}"));
        peer.ok(&format!("close {theirs}"));
    }
}

#[test]
fn random_named_lists_both_ways_and_empty_list() {
    let mut peers = peers();
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let l = ShareableList::new(&[Item::Int(1)]).expect("new");
        let name = guard.add(l.name().expect("named"));
        assert!(name.starts_with("psm_"));
        assert_eq!(peer.ok(&format!("list_get {name}")), "i:1");
        let pyname = peer.ok("list_new");
        guard.add(&pyname);
        let empty = ShareableList::open(&pyname).expect("open empty");
        assert!(empty.is_empty());
        assert_eq!(empty.shm().size(), 16);
        peer.ok(&format!("close {name}"));
        peer.ok(&format!("close {pyname}"));
    }
}

#[test]
fn non_ascii_str_python_would_truncate_survives_in_rust_lists() {
    let mut peers = peers();
    for peer in &mut peers {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("euro"));
        let s = "€€€€€€€€"; // 8 chars, 24 bytes: Python allots 16 and truncates its own copy
        let l = ShareableList::create(&name, &[s.into()]).expect("create");
        assert_eq!(l.allotted(0).expect("allotted"), 32);
        assert_eq!(
            item(&peer.ok(&format!("list_item {name} 0"))),
            Item::Str(s.into())
        );
        // Python's own list of the same str cannot be read back, by Python or by us.
        let theirs = guard.add(&unique("euro-py"));
        peer.ok(&format!(
            "list_create {theirs} {}",
            token(&Item::Str(s.into()))
        ));
        let err = peer.cmd(&format!("list_item {theirs} 0")).unwrap_err();
        assert!(err.starts_with("UnicodeDecodeError"), "{err}");
        let ours = ShareableList::open(&theirs).expect("open");
        assert!(matches!(ours.get(0), Err(Error::BadSegment { .. })));
        peer.ok(&format!("close {name}"));
        peer.ok(&format!("close {theirs}"));
    }
}

fn item_strategy() -> impl Strategy<Value = Item> {
    prop_oneof![
        any::<i64>().prop_map(Item::Int),
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(f64::INFINITY),
            Just(-0.0)
        ]
        .prop_map(Item::Float),
        any::<bool>().prop_map(Item::Bool),
        "[a-z0-9 ]{0,20}".prop_map(Item::Str),
        "[a\\x00é€😀]{0,12}".prop_map(Item::Str),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Item::Bytes),
        Just(Item::None),
    ]
}

/// Would Python store this item intact (its str allotment counts characters)?
fn python_safe(i: &Item) -> bool {
    match i {
        Item::Str(s) => s.len() <= 8 * (s.chars().count() / 8 + 1),
        _ => true,
    }
}

#[test]
fn proptest_random_lists_against_python() {
    let peers = RefCell::new(peers());
    if peers.borrow().is_empty() {
        eprintln!("skipping: no CPython 3.11-3.13 found");
        return;
    }
    let turn = RefCell::new(0usize);
    let strategy = (
        proptest::collection::vec(item_strategy(), 0..12),
        proptest::collection::vec((any::<prop::sample::Index>(), item_strategy()), 0..6),
    );
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(items, sets)| {
        let mut peers = peers.borrow_mut();
        let n = peers.len();
        let k = *turn.borrow() % n;
        *turn.borrow_mut() += 1;
        let peer = &mut peers[k];
        let v = peer.version.clone();
        let mut guard = Unlinker::default();
        let ours = guard.add(&unique("prop-rs"));
        let theirs = guard.add(&unique("prop-py"));

        // Rust -> Python.
        let l =
            ShareableList::create(&ours, &items).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            parse_items(&peer.ok(&format!("list_get {ours}"))),
            as_read(&items),
            "python {} reading a Rust list",
            v
        );
        // Python -> Rust: the same items; bytes identical when Python stores them intact.
        let py_bytes = unhex(&peer.ok(&format!("list_create {theirs} {}", tokens(&items))));
        let p = ShareableList::open(&theirs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if items.iter().all(python_safe) {
            prop_assert_eq!(
                l.shm().to_vec(),
                py_bytes.clone(),
                "python {}: bytes differ",
                v
            );
            prop_assert_eq!(
                p.to_vec().map_err(|e| TestCaseError::fail(e.to_string()))?,
                as_read(&items)
            );
        }
        for i in 0..items.len() {
            let py = peer.cmd(&format!("list_item {theirs} {i}"));
            let rs = p.get(i);
            match (py, rs) {
                (Ok(t), Ok(it)) => prop_assert_eq!(token(&item(&t)), token(&it)),
                (Err(_), Err(_)) => {}
                (py, rs) => prop_assert!(false, "item {}: python {:?}, rust {:?}", i, py, rs),
            }
        }
        // Random replacements: Rust into Python's list, Python into Rust's; same outcome (when
        // both lists have the same slots, i.e. Python stored every item intact).
        for (idx, new) in &sets {
            if items.is_empty() || !items.iter().all(python_safe) {
                break;
            }
            let i = idx.index(items.len());
            let rs = p.set(i, new.clone());
            let py = peer.cmd(&format!("list_set {ours} {i} {}", token(new)));
            match (&rs, &py) {
                (Ok(()), Ok(_)) => {}
                (Err(Error::ShareableListItemTooLarge { .. }), Err(e))
                    if e == "ValueError bytes/str item exceeds available storage" => {}
                _ => prop_assert!(false, "set {} {:?}: rust {:?}, python {:?}", i, new, rs, py),
            }
            if rs.is_ok() {
                let want = token(&as_read(std::slice::from_ref(new))[0]);
                prop_assert_eq!(
                    token(&item(&peer.ok(&format!("list_item {theirs} {i}")))),
                    want.clone()
                );
                prop_assert_eq!(
                    token(&l.get(i).map_err(|e| TestCaseError::fail(e.to_string()))?),
                    want
                );
            }
        }
        if sets.iter().all(|(_, it)| python_safe(it)) && items.iter().all(python_safe) {
            prop_assert_eq!(
                l.format().map_err(|e| TestCaseError::fail(e.to_string()))?,
                peer.ok(&format!("list_format {ours}"))
            );
        }
        peer.ok(&format!("close {ours}"));
        peer.ok(&format!("close {theirs}"));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
