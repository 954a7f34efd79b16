//! Issue 10, segment lifecycle: race-free `open_or_create` across exec'd processes, creation
//! modes (checked with a second uid when running as root), `unlink` for named locks, layout
//! v1 segments still opening, and stale-segment inventory and removal.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::fork::{role, shm_exists, Exec, Forked, NameGuard, Outcome};
use mpshare::shm::{self, Creator, Options, SegKind};
use mpshare::{Array, Error, Lock, RLock, RawArray, RawValue, Value};

const RACE_TEST: &str = "open_or_create_child";
const RACERS: usize = 16;
const RACE_LEN: usize = 4096;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Child: wait for the start time, `open_or_create`, check the segment, count in element 0.
/// Exit 10 = created it, 0 = opened it, other = something was wrong.
#[test]
fn open_or_create_child() {
    let Some(r) = role() else { return };
    let mut parts = r.split(':');
    let (name, start) = (parts.next().unwrap(), parts.next().unwrap());
    let start: u128 = start.parse().unwrap();
    while now_ms() < start {
        std::hint::spin_loop();
    }
    let code = match Array::<u64>::open_or_create(name, RACE_LEN, &Options::default()) {
        Ok((a, created)) => {
            if created {
                a.persist(); // the name must outlive this child for the late racers
                             // The creator fills the array under the lock; openers must never see a
                             // half-built segment, only zeros or the finished pattern.
                let mut g = a.lock().unwrap();
                for (i, x) in g.iter_mut().enumerate().skip(1) {
                    *x = i as u64;
                }
            }
            let ok_shape =
                a.len() == RACE_LEN && a.typecode() == Some(mpshare::TypeCode::UnsignedLongLong);
            let mut g = a.lock().unwrap();
            g[0] += 1;
            let last = g[RACE_LEN - 1];
            let consistent = last == 0 || last == (RACE_LEN - 1) as u64;
            match (ok_shape && consistent, created) {
                (true, true) => 10,
                (true, false) => 0,
                (false, _) => 3,
            }
        }
        Err(e) => {
            eprintln!("open_or_create: {e}");
            4
        }
    };
    std::process::exit(code);
}

#[test]
fn sixteen_exec_d_processes_racing_open_or_create_make_exactly_one_creator() {
    let g = NameGuard::new("race");
    let start = now_ms() + 1500; // all children are up and spinning by then
    let role = format!("{}:{start}", g.name());
    let mut kids: Vec<Exec> = (0..RACERS).map(|_| Exec::spawn(RACE_TEST, &role)).collect();
    let outcomes: Vec<Outcome> = kids
        .iter_mut()
        .map(|k| k.wait(Duration::from_secs(60)))
        .collect();
    let creators = outcomes
        .iter()
        .filter(|o| **o == Outcome::Exited(10))
        .count();
    let openers = outcomes
        .iter()
        .filter(|o| **o == Outcome::Exited(0))
        .count();
    assert_eq!(
        (creators, openers),
        (1, RACERS - 1),
        "exactly one creator, all others opened: {outcomes:?}"
    );
    let a = Array::<u64>::open_exact(g.name(), RACE_LEN).unwrap();
    assert_eq!(a.get(0).unwrap(), RACERS as u64, "every racer counted once");
    assert_eq!(a.get(RACE_LEN - 1).unwrap(), (RACE_LEN - 1) as u64);
    // A racer asking for another type gets a precise mismatch, not a second segment.
    let e = Array::<u32>::open_or_create(g.name(), RACE_LEN, &Options::default()).unwrap_err();
    assert!(matches!(e, Error::LayoutMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("holds Array<'Q'> of 4096 elements with RLock")
            && msg.contains("asked for Array<'I'> of 4096 elements with RLock"),
        "{msg}"
    );
}

#[test]
fn open_or_create_in_threads_of_one_process() {
    let g = NameGuard::new("race-threads");
    let created: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let (v, c) = Value::open_or_create(g.name(), 7i32, &Options::default())
                        .expect("open_or_create");
                    v.update(|x| x + 1).unwrap();
                    v.persist();
                    usize::from(c)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(created, 1);
    assert_eq!(Value::<i32>::open(g.name()).unwrap().get().unwrap(), 15);
    let (l, c) = Lock::open_or_create(&format!("{}-l", g.name()), &Options::default()).unwrap();
    assert!(c);
    l.unlink().unwrap();
}

fn mode_of(name: &str) -> u32 {
    std::fs::metadata(std::path::Path::new("/dev/shm").join(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn creation_mode_is_exact_whatever_the_umask() {
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o077) };
    let g1 = NameGuard::new("mode-default");
    let g2 = NameGuard::new("mode-group");
    let g3 = NameGuard::new("mode-group-ro");
    let _a = Value::create(g1.name(), 1u8).unwrap();
    let _b = Array::<u8>::create_with(g2.name(), 4, &Options::default().mode(0o660)).unwrap();
    let _c = RLock::create_with(g3.name(), &Options::default().mode(0o640)).unwrap();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    assert_eq!(mode_of(g1.name()), 0o600);
    assert_eq!(mode_of(g2.name()), 0o660, "0o660 despite umask 077");
    assert_eq!(mode_of(g3.name()), 0o640);
}

#[test]
fn a_second_uid_opens_only_what_the_mode_allows() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root to switch to a second uid (running as a normal user)");
        return;
    }
    let private = NameGuard::new("uid-private");
    let group_rw = NameGuard::new("uid-group-rw");
    let group_ro = NameGuard::new("uid-group-ro");
    let _p = Value::create(private.name(), 1u32).unwrap();
    let _rw = Value::create_with(group_rw.name(), 2u32, &Options::default().mode(0o660)).unwrap();
    let _ro = Value::create_with(group_ro.name(), 3u32, &Options::default().mode(0o640)).unwrap();
    let names = [private.name(), group_rw.name(), group_ro.name()];
    let mut child = Forked::spawn(|| {
        // Become uid/gid 65534 (nobody) with our group (0, the segments' group) as a
        // supplementary group: "the same group, another user".
        let ok = nix::unistd::setgroups(&[nix::unistd::Gid::from_raw(0)]).is_ok()
            && nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).is_ok()
            && nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).is_ok();
        if !ok {
            return 20;
        }
        let denied = |r: mpshare::Result<Value<u32>>| matches!(r, Err(Error::Os { ref source, .. }) if source.raw_os_error() == Some(libc::EACCES));
        if !denied(Value::<u32>::open(names[0])) {
            return 21; // 0600: another user must not open it
        }
        match Value::<u32>::open(names[1]) {
            Ok(v) if v.get().ok() == Some(2) && v.set(20).is_ok() => {}
            _ => return 22, // 0660: the group reads and writes
        }
        if !denied(Value::<u32>::open(names[2])) {
            return 23; // 0640: the group cannot open read-write
        }
        0
    });
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    assert_eq!(_rw.get().unwrap(), 20);
}

#[test]
fn named_locks_unlink_like_values() {
    let g = NameGuard::new("lock-unlink");
    let l = Lock::create(g.name()).unwrap();
    assert!(shm_exists(g.name()));
    l.unlink().unwrap();
    assert!(!shm_exists(g.name()));
    assert!(matches!(Lock::open(g.name()), Err(Error::NotFound { .. })));
    drop(l.lock().unwrap()); // still mapped and usable
    let r = RLock::create(&format!("{}-r", g.name())).unwrap();
    r.unlink().unwrap();
    assert!(matches!(r.unlink(), Err(Error::NotFound { .. })));
}

/// A hand-built layout-1 segment: 128-byte header, data at 128.
fn v1_segment(kind: u32, tc: u8, size: u32, len: u64, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 128];
    h[0..8].copy_from_slice(&shm::MAGIC);
    h[8..12].copy_from_slice(&1u32.to_ne_bytes());
    h[12..16].copy_from_slice(&1u32.to_ne_bytes()); // ready
    h[16..20].copy_from_slice(&kind.to_ne_bytes());
    h[20..24].copy_from_slice(&u32::from(tc).to_ne_bytes());
    h[24..28].copy_from_slice(&size.to_ne_bytes());
    h[28..32].copy_from_slice(&size.to_ne_bytes());
    h[32..40].copy_from_slice(&len.to_ne_bytes());
    h[40..48].copy_from_slice(&128u64.to_ne_bytes());
    h[52..56].copy_from_slice(&std::process::id().to_ne_bytes());
    h.extend_from_slice(data);
    h
}

#[test]
fn layout_v1_segments_still_open() {
    let g = NameGuard::new("v1");
    let data: Vec<u8> = [1.5f64, 2.5, -3.0]
        .iter()
        .flat_map(|x| x.to_ne_bytes())
        .collect();
    std::fs::write(
        std::path::Path::new("/dev/shm").join(g.name()),
        v1_segment(2, b'd', 8, 3, &data),
    )
    .unwrap();
    let a = RawArray::<f64>::open(g.name()).unwrap();
    assert_eq!(a.to_vec(), vec![1.5, 2.5, -3.0]);
    assert_eq!(a.shape(), vec![3]);
    a.set(2, 4.0).unwrap();
    let d = mpshare::DynArray::open(g.name()).unwrap();
    assert_eq!(d.get(2).unwrap(), mpshare::Scalar::Float(4.0));
    let info = shm::segments()
        .unwrap()
        .into_iter()
        .find(|s| s.name == g.name())
        .unwrap();
    assert_eq!((info.version, info.creator_start), (1, 0));
    assert_eq!(
        info.creator,
        Creator::PidInUse,
        "v1: no start time to compare"
    );
    // New segments are layout 2, data at 256.
    let g2 = NameGuard::new("v2");
    let _v = RawValue::create(g2.name(), 9u8).unwrap();
    let bytes = std::fs::read(std::path::Path::new("/dev/shm").join(g2.name())).unwrap();
    assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 2);
    assert_eq!(u64::from_ne_bytes(bytes[40..48].try_into().unwrap()), 256);
    assert_eq!(bytes[256], 9);
}

#[test]
fn stale_segments_are_listed_and_removed_and_live_ones_kept() {
    let dead = NameGuard::new("stale-dead");
    let reused = NameGuard::new("stale-reused");
    let live = NameGuard::new("stale-live");
    // A child creates a segment, keeps the name and exits: its creator is dead.
    let dead_name = dead.name();
    let mut child = Forked::spawn(|| match Array::<i16>::create(dead_name, 5) {
        Ok(a) => {
            a.persist();
            0
        }
        Err(_) => 1,
    });
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    // A segment whose recorded creator has our pid but another start time: a reused pid.
    let _r = RawValue::create(reused.name(), 0u8).unwrap();
    _r.persist();
    drop(_r);
    let path = std::path::Path::new("/dev/shm").join(reused.name());
    let mut bytes = std::fs::read(&path).unwrap();
    let t = u64::from_ne_bytes(bytes[128..136].try_into().unwrap());
    assert!(t > 0, "layout 2 records the creator's start time");
    bytes[128..136].copy_from_slice(&(t - 1).to_ne_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let live_v = Value::create(live.name(), 1u64).unwrap();

    let mine = |n: &str| [dead.name(), reused.name(), live.name()].contains(&n);
    let infos: Vec<_> = shm::segments()
        .unwrap()
        .into_iter()
        .filter(|s| mine(&s.name))
        .collect();
    assert_eq!(infos.len(), 3, "{infos:?}");
    let by = |n: &str| infos.iter().find(|s| s.name == n).unwrap().clone();
    let d = by(dead.name());
    assert_eq!(
        (d.kind, d.typecode, d.len, d.size, d.creator),
        (Some(SegKind::Array), Some('h'), 5, 266, Creator::Dead)
    );
    assert_eq!(d.creator_pid, child.pid().as_raw() as u32);
    assert_eq!(
        by(reused.name()).creator,
        Creator::Dead,
        "pid reuse detected"
    );
    let l = by(live.name());
    assert_eq!(
        (l.creator, l.creator_pid),
        (Creator::Alive, std::process::id())
    );
    assert!(l.mapped_by.contains(&std::process::id()));

    let removed = shm::remove_stale(mine).unwrap();
    let mut names: Vec<_> = removed.iter().map(|s| s.name.clone()).collect();
    names.sort();
    let mut want = vec![dead.name().to_string(), reused.name().to_string()];
    want.sort();
    assert_eq!(names, want);
    assert!(!shm_exists(dead.name()) && !shm_exists(reused.name()));
    assert!(shm_exists(live.name()), "a live segment is never removed");
    assert_eq!(live_v.get().unwrap(), 1);
}

#[test]
fn a_stale_segment_still_mapped_by_a_running_process_is_kept() {
    let g = NameGuard::new("stale-mapped");
    let name = g.name();
    let mut child = Forked::spawn(|| match Value::create(name, 3u32) {
        Ok(v) => {
            v.persist();
            0
        }
        Err(_) => 1,
    });
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    let v = Value::<u32>::open(g.name()).unwrap(); // we map it: not removable
    let removed = shm::remove_stale(|n| n == name).unwrap();
    assert!(removed.is_empty(), "{removed:?}");
    assert!(shm_exists(g.name()));
    drop(v);
    let removed = shm::remove_stale(|n| n == name).unwrap();
    assert_eq!(removed.len(), 1);
}

#[test]
fn the_cli_lists_segments_and_removes_only_stale_ones() {
    let dead = NameGuard::new("cli-dead");
    let live = NameGuard::new("cli-live");
    let dead_name = dead.name();
    let mut child = Forked::spawn(|| match RawArray::<f32>::create(dead_name, 7) {
        Ok(a) => {
            a.persist();
            0
        }
        Err(_) => 1,
    });
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    let _v = Value::create(live.name(), 1u16).unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpshare"))
            .args(args)
            .output()
            .expect("run mpshare");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listing = cli(&["segments"]);
    let row = |n: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("{n} not listed:\n{listing}"))
            .to_string()
    };
    let d = row(dead.name());
    assert!(
        d.contains("Array") && d.contains("'f'") && d.contains(" 7 ") && d.ends_with("dead"),
        "{d}"
    );
    let l = row(live.name());
    let me = format!("pid {:>8} alive", std::process::id());
    assert!(
        l.contains("Value") && l.contains("'H'") && l.contains(&me),
        "{l}"
    );
    // Only this test's names: other tests' segments are not ours to remove.
    let prefix = dead.name().trim_end_matches("cli-dead");
    let removed = cli(&["segments", "--remove-stale", prefix]);
    assert_eq!(removed.lines().count(), 1, "{removed}");
    assert!(
        removed.starts_with(&format!("removed {}", dead.name())),
        "{removed}"
    );
    assert!(!shm_exists(dead.name()) && shm_exists(live.name()));
}

#[test]
fn errors_say_what_was_asked_and_what_was_found() {
    // Too large: the maximum is a maximum, not an "expected" length.
    let e = RawArray::<u64>::new(usize::MAX / 4).unwrap_err();
    match &e {
        Error::TooLarge {
            len,
            elem_size,
            max,
        } => {
            assert_eq!((*len, *elem_size), (usize::MAX / 4, 8));
            assert!(*max < *len && *max > 0);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(
        e.to_string().contains(&format!(
            "{} elements of 8 bytes is too large",
            usize::MAX / 4
        )),
        "{e}"
    );
    // The dynamic API on a lock says it asked for any typecode, not a guessed one.
    let g = NameGuard::new("asked-lock");
    let _l = Lock::create(g.name()).unwrap();
    let e = mpshare::DynValue::open(g.name()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("holds Lock; asked for Value of any typecode"),
        "{msg}"
    );
    let e = mpshare::DynArray::open(g.name()).unwrap_err();
    assert!(
        e.to_string()
            .contains("holds Lock; asked for Array of any typecode"),
        "{e}"
    );
    // A struct array is not "any typecode" either, and says what it holds.
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct P {
        x: f64,
    }
    impl mpshare::Element for P {}
    let gs = NameGuard::new("asked-struct");
    let _s = RawArray::<P>::create(gs.name(), 2).unwrap();
    let e = mpshare::DynArray::open(gs.name()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("holds Array<struct ? (8 bytes, align 8)> of 2 elements")
            && msg.contains("asked for Array of any typecode"),
        "{msg}"
    );
}

#[test]
fn mpshare_never_truncates_an_existing_segment() {
    let g = NameGuard::new("no-truncate");
    let a = Array::<u64>::create(g.name(), 1000).unwrap();
    a.set(999, 7).unwrap();
    let path = std::path::Path::new("/dev/shm").join(g.name());
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(size, 256 + 8 * 1000);
    // Every way of "creating" it again leaves the object as it is.
    assert!(matches!(
        Array::<u64>::create(g.name(), 10),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        RawValue::create(g.name(), 1u8),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        Array::<u64>::open_or_create(g.name(), 10, &Options::default()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        Lock::open_or_create(g.name(), &Options::default()),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(Array::<u64>::open_exact(g.name(), 10).is_err());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    assert_eq!(a.get(999).unwrap(), 7);
}
