//! Damaged or foreign blocks never panic or hang a reader: `ShareableList::open`, every `get`,
//! `format`, and `inspect` return errors (or values) for random bytes, for random corruption of
//! a valid list, and for the classic bad tables.

mod common;
mod shared_memory_support;

use mpshare::shared_memory::{inspect, Item, ShareableList, SharedMemory};
use mpshare::Error;
use proptest::prelude::*;
use shared_memory_support::{unique, Unlinker};

fn exercise(name: &str) {
    let _ = inspect(name).map(|r| r.to_string());
    if let Ok(l) = ShareableList::open(name) {
        for i in 0..l.len().min(64) {
            let _ = l.get(i);
        }
        let _ = l.format();
        let _ = l.set(0, "x");
        let _ = l.set(0, 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 1..400)) {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("hostile-rand"));
        let shm = SharedMemory::create(&name, bytes.len()).unwrap();
        shm.write(0, &bytes).unwrap();
        exercise(&name);
    }

    #[test]
    fn corrupted_valid_list(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut guard = Unlinker::default();
        let name = guard.add(&unique("hostile-flip"));
        let l = ShareableList::create(&name, &[1.into(), "hello".into(), Item::None, 2.5.into(), Item::Bytes(vec![1, 2])]).unwrap();
        let size = l.shm().size();
        for (at, b) in flips {
            l.shm().write(at.index(size), &[b]).unwrap();
        }
        exercise(&name);
    }
}

#[test]
fn classic_bad_tables() {
    let mut guard = Unlinker::default();
    let name = guard.add(&unique("hostile-table"));
    let shm = SharedMemory::create(&name, 64).unwrap();
    // A negative count.
    shm.write_pod(0, &-1i64).unwrap();
    assert!(matches!(
        ShareableList::open(&name),
        Err(Error::BadSegment { .. })
    ));
    // A count far larger than the block holds.
    shm.write_pod(0, &1_000_000i64).unwrap();
    assert!(matches!(
        ShareableList::open(&name),
        Err(Error::BadSegment { .. })
    ));
    // Offsets that shrink.
    shm.write_pod(0, &[1i64, 0, -8]).unwrap();
    assert!(matches!(
        ShareableList::open(&name),
        Err(Error::BadSegment { .. })
    ));
    // One item whose format is garbage: open works, get says what is wrong.
    shm.write_pod(0, &[1i64, 0, 8]).unwrap();
    shm.write(32, b"zz\0\0\0\0\0\0").unwrap();
    let l = ShareableList::open(&name).unwrap();
    let err = l.get(0).unwrap_err();
    assert!(err.to_string().contains("unknown format \"zz\""), "{err}");
    // A str format whose length runs past the block.
    shm.write(32, b"999s\0\0\0\0").unwrap();
    shm.write(40, &[1]).unwrap();
    assert!(matches!(l.get(0), Err(Error::BlockOutOfBounds { .. })));

    // An mpshare-looking header with absurd fields: inspect reports, never panics.
    let hn = guard.add(&unique("hostile-header"));
    let h = SharedMemory::create(&hn, 300).unwrap();
    h.write(0, b"MPSHARE\0").unwrap();
    for (at, v) in [
        (8usize, 2u32),
        (12, 1),
        (16, 2),
        (20, b'd' as u32),
        (24, u32::MAX),
        (136, 99),
    ] {
        h.write_pod(at, &v).unwrap();
    }
    h.write_pod(32, &u64::MAX).unwrap();
    h.write_pod(40, &u64::MAX).unwrap();
    let text = inspect(&hn).unwrap().to_string();
    assert!(text.contains("mpshare segment"), "{text}");
}
