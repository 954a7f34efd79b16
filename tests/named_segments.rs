//! Named segments: sharing with an unrelated (exec'd) process, layout checks with useful
//! messages, name validation, lifetime rules (creator unlinks, forked children and openers do
//! not, persist/unlink), permissions, damaged files, struct elements, and the create/open race.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::fork::{role, run_workers, shm_exists, Exec, Forked, NameGuard, Outcome};
use mpshare::{
    shm, Array, DynArray, DynValue, Element, Error, Lock, RLock, RawArray, RawValue, Scalar, Value,
};

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}
impl Element for Point {}

/// Another struct of another size.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Point3 {
    x: f64,
    y: f64,
    z: f64,
}
impl Element for Point3 {}

/// Same size and alignment as Point, different type.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Pair {
    a: f64,
    b: f64,
}
impl Element for Pair {}

const EXEC_TEST: &str = "unrelated_process_reads_and_writes_by_name";

/// Child role `rw:<value>:<array>:<dyn>:<point>`: open everything by name, check what the
/// parent wrote, write back. Exit code says which step failed (0 = all good).
fn play_rw(v: &str, a: &str, d: &str, p: &str) -> i32 {
    let Ok(v) = Value::<f64>::open(v) else {
        return 10;
    };
    if v.get().ok() != Some(3.25) {
        return 11;
    }
    if v.set(-6.5).is_err() {
        return 12;
    }
    let Ok(a) = Array::<i32>::open_exact(a, 100) else {
        return 20;
    };
    let expect: Vec<i32> = (0..100).map(|i| i * 3).collect();
    if a.to_vec().ok() != Some(expect) {
        return 21;
    }
    {
        let Ok(mut g) = a.lock() else { return 22 };
        for (i, x) in g.iter_mut().enumerate() {
            *x = -(i as i32);
        }
    }
    let Ok(d) = DynValue::open(d) else { return 30 };
    if d.typecode().as_char() != 'h' || d.get().ok() != Some(Scalar::Int(-123)) {
        return 31;
    }
    if d.set(Scalar::Int(456)).is_err() {
        return 32;
    }
    let Ok(p) = Value::<Point>::open(p) else {
        return 40;
    };
    if p.get().ok() != Some(Point { x: 1.5, y: -2.5 }) {
        return 41;
    }
    if p.update(|q| Point { x: q.y, y: q.x }).is_err() {
        return 42;
    }
    0
}

#[test]
fn unrelated_process_reads_and_writes_by_name() {
    if let Some(r) = role() {
        let parts: Vec<&str> = r.split(':').collect();
        let code = match parts.as_slice() {
            ["rw", v, a, d, p] => play_rw(v, a, d, p),
            _ => 99,
        };
        std::process::exit(code);
    }
    let (gv, ga, gd, gp) = (
        NameGuard::new("value"),
        NameGuard::new("array"),
        NameGuard::new("dyn"),
        NameGuard::new("point"),
    );
    let v = Value::create(gv.name(), 3.25f64).unwrap();
    let data: Vec<i32> = (0..100).map(|i| i * 3).collect();
    let a = Array::create_from(ga.name(), &data).unwrap();
    let d = DynValue::create(gd.name(), 'h', -123).unwrap();
    let p = Value::create(gp.name(), Point { x: 1.5, y: -2.5 }).unwrap();

    let role = format!("rw:{}:{}:{}:{}", gv.name(), ga.name(), gd.name(), gp.name());
    let mut child = Exec::spawn(EXEC_TEST, &role);
    assert_eq!(
        child.wait(Duration::from_secs(60)),
        Outcome::Exited(0),
        "exec'd child failed (10s value, 20s array, 30s dyn, 40s point)"
    );
    assert_eq!(v.get().unwrap(), -6.5);
    assert_eq!(
        a.to_vec().unwrap(),
        (0..100).map(|i| -i).collect::<Vec<i32>>()
    );
    assert_eq!(d.get().unwrap(), Scalar::Int(456));
    assert_eq!(p.get().unwrap(), Point { x: -2.5, y: 1.5 });
}

fn mismatch(e: Error) -> (String, String, String) {
    let msg = e.to_string();
    match e {
        Error::LayoutMismatch { holds, asked, .. } => (holds, asked, msg),
        other => panic!("expected LayoutMismatch, got {other:?}"),
    }
}

#[test]
fn wrong_type_is_layout_mismatch_naming_both_sides() {
    let g = NameGuard::new("wrong-type");
    let _a = Array::<f64>::create(g.name(), 100).unwrap();
    let (holds, asked, msg) = mismatch(Value::<i32>::open(g.name()).unwrap_err());
    assert!(holds.contains("Array<'d'> of 100 elements"), "{msg}");
    assert!(asked.contains("Value<'i'>"), "{msg}");
    assert!(
        msg.contains(g.name()) && msg.contains(&holds) && msg.contains(&asked),
        "{msg}"
    );
    // Same kind, other element type.
    let (holds, asked, msg) = mismatch(Array::<i32>::open(g.name()).unwrap_err());
    assert!(holds.contains("'d'") && asked.contains("'i'"), "{msg}");
    // f32 has the same size as i32 but is another type; u64 the same size as f64.
    assert!(matches!(
        Array::<u64>::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        RawValue::<f64>::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        DynValue::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        Lock::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    // The right type opens.
    assert_eq!(Array::<f64>::open(g.name()).unwrap().len(), 100);
    assert_eq!(DynArray::open(g.name()).unwrap().typecode().as_char(), 'd');
}

#[test]
fn open_exact_wrong_length_is_layout_mismatch() {
    let g = NameGuard::new("len");
    let _a = Array::<i32>::create(g.name(), 100).unwrap();
    let (holds, _, msg) = mismatch(Array::<i32>::open_exact(g.name(), 99).unwrap_err());
    assert!(holds.contains("of 100 elements"), "{msg}");
    assert!(matches!(
        RawArray::<i32>::open_exact(g.name(), 101),
        Err(Error::LayoutMismatch { .. })
    ));
    assert_eq!(Array::<i32>::open_exact(g.name(), 100).unwrap().len(), 100);
    // A lockless handle on a locked array is refused (it could alias a guard), whatever
    // the length; the unsafe opener takes it.
    assert!(matches!(
        RawArray::<i32>::open_exact(g.name(), 100),
        Err(Error::LayoutMismatch { .. })
    ));
    // SAFETY: no ArrayGuard on this segment is taken in this test.
    let raw = unsafe { RawArray::<i32>::open_ignoring_lock(g.name()) }.unwrap();
    assert_eq!(raw.len(), 100);
}

#[test]
fn value_open_on_lockless_segment_is_layout_mismatch() {
    let g = NameGuard::new("raw");
    let _r = RawValue::create(g.name(), 1i32).unwrap();
    let (holds, asked, msg) = mismatch(Value::<i32>::open(g.name()).unwrap_err());
    assert!(
        holds.contains("without a lock") && asked.contains("with a lock"),
        "{msg}"
    );
    // RawValue opens it; so does DynValue (no lock).
    assert_eq!(RawValue::<i32>::open(g.name()).unwrap().get(), 1);
    assert!(DynValue::open(g.name()).unwrap().get_lock().is_none());

    let ga = NameGuard::new("raw-array");
    let _ra = RawArray::<u8>::create(ga.name(), 4).unwrap();
    assert!(matches!(
        Array::<u8>::open(ga.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    // A locked segment opens raw (its lock ignored).
    let gl = NameGuard::new("locked");
    let _v = Value::create(gl.name(), 9u16).unwrap();
    assert_eq!(RawValue::<u16>::open(gl.name()).unwrap().get(), 9);
}

#[test]
fn lock_kinds_are_checked_on_open() {
    let gl = NameGuard::new("lock");
    let gr = NameGuard::new("rlock");
    let _l = Lock::create(gl.name()).unwrap();
    let _r = RLock::create(gr.name()).unwrap();
    assert!(matches!(
        RLock::open(gl.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        Lock::open(gr.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        Value::<u8>::open(gl.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(Lock::open(gl.name()).is_ok());
    assert!(RLock::open(gr.name()).is_ok());
    let gv = NameGuard::new("value-not-lock");
    let _v = Value::create(gv.name(), 0u8).unwrap();
    assert!(matches!(
        RLock::open(gv.name()),
        Err(Error::LayoutMismatch { .. })
    ));
}

#[test]
fn bad_names_are_invalid_name() {
    let long = "x".repeat(300);
    for bad in ["", "/", "a/b", "/a/b", long.as_str()] {
        let is_invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidName { .. }));
        assert!(is_invalid(Value::create(bad, 0i32).map(drop)), "{bad:?}");
        assert!(is_invalid(Value::<i32>::open(bad).map(drop)), "{bad:?}");
        assert!(is_invalid(RawValue::create(bad, 0u8).map(drop)), "{bad:?}");
        assert!(
            is_invalid(Array::<f64>::create(bad, 3).map(drop)),
            "{bad:?}"
        );
        assert!(is_invalid(RawArray::<f64>::open(bad).map(drop)), "{bad:?}");
        assert!(is_invalid(Lock::create(bad).map(drop)), "{bad:?}");
        assert!(is_invalid(RLock::open(bad).map(drop)), "{bad:?}");
        assert!(
            is_invalid(DynValue::create(bad, 'i', 0).map(drop)),
            "{bad:?}"
        );
        assert!(is_invalid(DynArray::open(bad).map(drop)), "{bad:?}");
        assert!(is_invalid(shm::unlink(bad)), "{bad:?}");
    }
    let e = Value::create("a/b", 0i32).unwrap_err().to_string();
    assert!(e.contains("\"a/b\""), "{e}");
}

#[test]
fn leading_slash_names_the_same_segment() {
    let g = NameGuard::new("slash");
    let a = RawValue::create(g.name(), 5u32).unwrap();
    assert_eq!(a.name(), Some(format!("/{}", g.name()).as_str()));
    let b = RawValue::<u32>::open(&format!("/{}", g.name())).unwrap();
    b.set(6);
    assert_eq!(a.get(), 6);
}

#[test]
fn create_twice_is_already_exists_and_keeps_the_first() {
    let g = NameGuard::new("twice");
    let a = Value::create(g.name(), 11i64).unwrap();
    assert!(matches!(
        Value::create(g.name(), 12i64),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        Array::<u8>::create(g.name(), 1),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        Lock::create(g.name()),
        Err(Error::AlreadyExists { .. })
    ));
    // The failed creates neither unlinked nor overwrote the first segment.
    assert_eq!(Value::<i64>::open(g.name()).unwrap().get().unwrap(), 11);
    assert_eq!(a.get().unwrap(), 11);
}

#[test]
fn open_missing_is_not_found() {
    let name = common::fork::unique_name("missing");
    assert!(matches!(
        Value::<i32>::open(&name),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        RawArray::<i32>::open(&name),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(Lock::open(&name), Err(Error::NotFound { .. })));
    assert!(matches!(DynValue::open(&name), Err(Error::NotFound { .. })));
    assert!(matches!(DynArray::open(&name), Err(Error::NotFound { .. })));
    assert!(matches!(shm::unlink(&name), Err(Error::NotFound { .. })));
    assert!(!shm_exists(&name));
}

/// Open a non-mpshare file as a Value<i32>: must return an error, bounded in time.
fn open_junk(tag: &str, bytes: &[u8]) -> (Error, Duration) {
    let g = NameGuard::new(tag);
    std::fs::write(std::path::Path::new("/dev/shm").join(g.name()), bytes).unwrap();
    let t0 = Instant::now();
    let r = Value::<i32>::open(g.name());
    let took = t0.elapsed();
    let e = r.expect_err("a junk file opened as a Value");
    println!("junk {tag}: {e} (after {took:?})");
    // At most the opener's bounded wait for a header to be published, plus slack for a
    // loaded machine.
    let bound = shm::OPEN_WAIT + Duration::from_secs(3);
    assert!(took < bound, "open of junk took {took:?} (bound {bound:?})");
    if !bytes.starts_with(&shm::MAGIC) {
        assert!(
            !shm::list().unwrap().iter().any(|n| n == g.name()),
            "shm::list lists a file without the mpshare magic"
        );
    }
    (e, took)
}

#[test]
fn junk_file_is_bad_segment() {
    let (e, _) = open_junk("junk", &[0xAB; 4096]);
    assert!(matches!(e, Error::BadSegment { .. }), "{e:?}");
    assert!(e.to_string().contains("magic"), "{e}");
}

#[test]
fn zeroed_file_is_not_initialized() {
    let (e, took) = open_junk("zeros-junk", &[0; 4096]);
    assert!(matches!(e, Error::NotInitialized { .. }), "{e:?}");
    // Not initialised means the opener waited its whole bounded wait for a header.
    assert!(took >= shm::OPEN_WAIT, "gave up after {took:?}");
}

#[test]
fn short_file_is_not_initialized_or_bad() {
    let (e, _) = open_junk("short-junk", b"hello");
    assert!(
        matches!(e, Error::NotInitialized { .. } | Error::BadSegment { .. }),
        "{e:?}"
    );
}

/// A published layout-version-1 header (right magic, state ready) with one field corrupted.
fn forged_header(kind: u32, len: u64) -> Vec<u8> {
    let mut h = vec![0u8; 256];
    h[0..8].copy_from_slice(&shm::MAGIC);
    h[8..12].copy_from_slice(&1u32.to_ne_bytes()); // version 1: data at 128
    h[12..16].copy_from_slice(&1u32.to_ne_bytes()); // ready
    h[16..20].copy_from_slice(&kind.to_ne_bytes());
    h[20..24].copy_from_slice(&u32::from(b'i').to_ne_bytes());
    h[24..28].copy_from_slice(&4u32.to_ne_bytes());
    h[28..32].copy_from_slice(&4u32.to_ne_bytes());
    h[32..40].copy_from_slice(&len.to_ne_bytes());
    h[40..48].copy_from_slice(&128u64.to_ne_bytes());
    h
}

#[test]
fn forged_headers_are_bad_segment() {
    // Sanity: the forged header itself is accepted when nothing is wrong (len 1 fits).
    let g = NameGuard::new("forged-ok-junk");
    std::fs::write(
        std::path::Path::new("/dev/shm").join(g.name()),
        forged_header(1, 1),
    )
    .unwrap();
    assert_eq!(RawValue::<i32>::open(g.name()).unwrap().get(), 0);

    let (e, took) = open_junk("kind-junk", &forged_header(99, 1));
    assert!(matches!(e, Error::BadSegment { .. }), "{e:?}");
    assert!(
        took < Duration::from_secs(1),
        "a published header needs no wait: {took:?}"
    );
    let (e, _) = open_junk("len-junk", &forged_header(1, u64::MAX / 2));
    assert!(
        matches!(e, Error::BadSegment { .. } | Error::LayoutMismatch { .. }),
        "{e:?}"
    );
    let (e, _) = open_junk("fit-junk", &forged_header(2, 1_000_000));
    assert!(
        matches!(e, Error::BadSegment { .. } | Error::LayoutMismatch { .. }),
        "{e:?}"
    );
    // Through the array API, which accepts any length, only BadSegment is right.
    let g = NameGuard::new("fit2-junk");
    std::fs::write(
        std::path::Path::new("/dev/shm").join(g.name()),
        forged_header(2, 1_000_000),
    )
    .unwrap();
    let e = RawArray::<i32>::open(g.name()).unwrap_err();
    assert!(matches!(e, Error::BadSegment { .. }), "{e:?}");
}

#[test]
fn forked_child_dropping_inherited_handle_does_not_unlink() {
    let g = NameGuard::new("fork-drop");
    let mut slot = Some(Value::create(g.name(), 77u32).unwrap());
    let mut child = Forked::spawn(|| {
        // The child's copy is its only handle: dropping it drops the segment in the child.
        drop(slot.take());
        0
    });
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    assert!(
        shm_exists(g.name()),
        "a forked child's drop unlinked the parent's segment"
    );
    assert_eq!(Value::<u32>::open(g.name()).unwrap().get().unwrap(), 77);
    // The creator's drop still unlinks.
    drop(slot);
    assert!(matches!(
        Value::<u32>::open(g.name()),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn creator_drop_unlinks_opener_drop_does_not() {
    let g = NameGuard::new("lifetime");
    let a = RawValue::create(g.name(), 1u64).unwrap();
    let b = RawValue::<u64>::open(g.name()).unwrap();
    drop(b);
    assert!(
        shm_exists(g.name()),
        "an opener's drop unlinked the segment"
    );
    let b = RawValue::<u64>::open(g.name()).unwrap();
    // Clones of the creator keep it alive until the last drops.
    let a2 = a.clone();
    drop(a);
    assert!(shm_exists(g.name()));
    drop(a2);
    assert!(!shm_exists(g.name()), "creator's drop did not unlink");
    assert!(matches!(
        RawValue::<u64>::open(g.name()),
        Err(Error::NotFound { .. })
    ));
    // An opener's mapping outlives the name.
    b.set(5);
    assert_eq!(b.get(), 5);

    let gl = NameGuard::new("lock-lifetime");
    drop(Lock::create(gl.name()).unwrap());
    assert!(!shm_exists(gl.name()));
}

#[test]
fn persist_keeps_and_unlink_removes() {
    let g = NameGuard::new("persist");
    let a = Array::create_from(g.name(), &[1u8, 2, 3]).unwrap();
    a.persist();
    drop(a);
    assert!(shm_exists(g.name()));
    assert!(shm::list().unwrap().iter().any(|n| n == g.name()));
    assert_eq!(
        Array::<u8>::open(g.name()).unwrap().to_vec().unwrap(),
        vec![1, 2, 3]
    );
    shm::unlink(g.name()).unwrap();
    assert!(!shm_exists(g.name()));
    assert!(matches!(
        Array::<u8>::open(g.name()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(shm::unlink(g.name()), Err(Error::NotFound { .. })));

    // unlink() on a handle: name gone, mapping usable, later drop does not fail.
    let g2 = NameGuard::new("unlink-handle");
    let v = Value::create(g2.name(), 1i8).unwrap();
    v.unlink().unwrap();
    assert!(!shm_exists(g2.name()));
    v.set(2).unwrap();
    assert_eq!(v.get().unwrap(), 2);
}

#[test]
fn segment_file_mode_is_0600() {
    let g = NameGuard::new("mode");
    let _v = Value::create(g.name(), 0i32).unwrap();
    let gl = NameGuard::new("mode-lock");
    let _l = RLock::create(gl.name()).unwrap();
    for n in [g.name(), gl.name()] {
        let mode = std::fs::metadata(std::path::Path::new("/dev/shm").join(n))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{n}: mode {:o}", mode & 0o777);
    }
}

#[test]
fn struct_element_round_trips_by_name_and_other_structs_are_refused() {
    let g = NameGuard::new("point");
    let a = Value::create(g.name(), Point { x: 1.0, y: 2.0 }).unwrap();
    let b = Value::<Point>::open(g.name()).unwrap();
    assert_eq!(b.get().unwrap(), Point { x: 1.0, y: 2.0 });
    b.update(|p| Point { x: p.x + 10.0, ..p }).unwrap();
    assert_eq!(a.get().unwrap(), Point { x: 11.0, y: 2.0 });
    assert!(a.typecode().is_none());

    let (holds, asked, msg) = mismatch(Value::<Point3>::open(g.name()).unwrap_err());
    assert!(
        holds.contains("16 bytes") && asked.contains("24 bytes"),
        "{msg}"
    );
    assert!(
        matches!(
            Value::<Pair>::open(g.name()),
            Err(Error::LayoutMismatch { .. })
        ),
        "a struct of the same size but another type opened"
    );
    assert!(matches!(
        Value::<f64>::open(g.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    // A struct segment has no typecode: the typecode-keyed API refuses it.
    let e = DynValue::open(g.name()).unwrap_err();
    assert!(matches!(e, Error::LayoutMismatch { .. }), "{e:?}");

    let ga = NameGuard::new("points");
    let pts: Vec<Point> = (0..10)
        .map(|i| Point {
            x: i as f64,
            y: -(i as f64),
        })
        .collect();
    let _arr = Array::create_from(ga.name(), &pts).unwrap();
    let back = Array::<Point>::open_exact(ga.name(), 10).unwrap();
    assert_eq!(back.to_vec().unwrap(), pts);
    assert!(matches!(
        Array::<Point3>::open(ga.name()),
        Err(Error::LayoutMismatch { .. })
    ));
    // A struct segment has no typecode: the typecode-keyed API refuses it.
    let e = DynArray::open(ga.name()).unwrap_err();
    assert!(matches!(e, Error::LayoutMismatch { .. }), "{e:?}");
}

const RACE_LEN: usize = 1024;

fn race_pattern(round: u64) -> Vec<u64> {
    (0..RACE_LEN as u64)
        .map(|i| (i + 1) * 0x9E37_79B9 + round)
        .collect()
}

/// Opener side of the race: retry on NotFound until the segment appears, then check that it
/// is complete. 0 = good, 1 = wrong contents, 2 = wrong length, 3 = other error, 4 = timeout.
fn open_when_created(name: &str, round: u64) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Array::<u64>::open(name) {
            Ok(a) => {
                if a.len() != RACE_LEN {
                    return 2;
                }
                return match a.to_vec() {
                    Ok(v) if v == race_pattern(round) => 0,
                    Ok(_) => 1,
                    Err(_) => 3,
                };
            }
            Err(Error::NotFound { .. }) => {}
            Err(_) => return 3,
        }
        if Instant::now() >= deadline {
            return 4;
        }
        std::hint::spin_loop();
    }
}

#[test]
fn openers_racing_a_creator_see_a_complete_segment_processes() {
    for round in 0..10u64 {
        let g = NameGuard::new("race-proc");
        let name = g.name().to_string();
        let creator_round = std::thread::spawn({
            let name = name.clone();
            move || {
                // Let the openers start spinning first.
                std::thread::sleep(Duration::from_millis(5 + round));
                Array::create_from(&name, &race_pattern(round)).unwrap()
            }
        });
        let outcomes = run_workers(8, Duration::from_secs(60), |_| {
            open_when_created(&name, round)
        });
        let created = creator_round.join().unwrap();
        assert!(
            outcomes.iter().all(|o| *o == Outcome::Exited(0)),
            "round {round}: {outcomes:?}"
        );
        drop(created);
    }
}

#[test]
fn openers_racing_a_creator_see_a_complete_segment_threads() {
    for round in 0..30u64 {
        let g = NameGuard::new("race-thread");
        let name = g.name();
        let results = std::thread::scope(|s| {
            let openers: Vec<_> = (0..8)
                .map(|_| s.spawn(|| open_when_created(name, round)))
                .collect();
            let created = Array::create_from(name, &race_pattern(round)).unwrap();
            let r: Vec<i32> = openers.into_iter().map(|h| h.join().unwrap()).collect();
            drop(created);
            r
        });
        assert!(
            results.iter().all(|c| *c == 0),
            "round {round}: {results:?}"
        );
    }
}

/// A published header claiming typecode `'i'` but recording 1-byte elements.
fn forged_inconsistent_header(len: u64) -> Vec<u8> {
    let mut h = forged_header(2, len);
    h[24..28].copy_from_slice(&1u32.to_ne_bytes()); // element size 1, but 'i' is 4 bytes
    h.resize(128 + len as usize, 0);
    h
}

/// SRC BUG (see report): `header::read` does not check that a typecode's recorded element
/// size/alignment match the typecode, and `ElemDesc::compatible` compares only typecodes, so
/// a damaged segment (`'i'` recorded with 1-byte elements) opens as `RawArray<i32>` with 4x
/// the bytes the mapping has, and reading the last element faults. Expected: BadSegment.
/// Run in a forked child so the fault cannot take the test binary down.
#[test]
fn forged_typecode_with_wrong_element_size_is_bad_segment() {
    let g = NameGuard::new("elemsize-junk");
    let len = 1u64 << 16;
    std::fs::write(
        std::path::Path::new("/dev/shm").join(g.name()),
        forged_inconsistent_header(len),
    )
    .unwrap();
    let name = g.name();
    let mut child = Forked::spawn(|| match RawArray::<i32>::open(name) {
        Err(Error::BadSegment { .. }) => 0,
        Err(Error::LayoutMismatch { .. }) => 0,
        Err(_) => 3,
        Ok(a) => match a.get(a.len() - 1) {
            Ok(_) => 1, // read past the real data without faulting (still wrong)
            Err(_) => 2,
        },
    });
    let o = child.wait(Duration::from_secs(20));
    assert_eq!(
        o,
        Outcome::Exited(0),
        "opening a segment whose header says 'i' with 1-byte elements: \
         Exited(1|2) = opened, Signaled(11|7) = opened and faulted reading the last element"
    );
}

/// SRC BUG (see report): `shm::list` opens every entry of /dev/shm for reading with a plain
/// blocking `open`, so a FIFO there blocks it forever. Expected: non-regular files are skipped.
/// Bounded: if `list` blocks, the FIFO is opened for writing to release it.
#[test]
fn list_does_not_hang_on_a_fifo() {
    let g = NameGuard::new("fifo-junk");
    let path = std::path::Path::new("/dev/shm").join(g.name());
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(shm::list().map_err(|e| e.to_string()));
    });
    let r = rx.recv_timeout(Duration::from_secs(2));
    if r.is_err() {
        // Release the blocked reader: opening for writing unblocks its open, and closing at
        // once gives its read EOF. Then the FIFO is removed.
        drop(std::fs::OpenOptions::new().write(true).open(&path));
        let _ = rx.recv_timeout(Duration::from_secs(5));
    }
    drop(g);
    let listed = r.expect("shm::list() blocked on a FIFO in /dev/shm for 2 s");
    assert!(listed.is_ok(), "{listed:?}");
}
