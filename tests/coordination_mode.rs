//! `create_with(.., &Options)` of the coordination primitives and queues: the permission bits
//! of the named segment are exactly the requested mode, whatever the umask; `create` keeps
//! the default `0o600`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::fork::NameGuard;
use mpshare::shm::Options;
use mpshare::{
    Barrier, BoundedSemaphore, Condition, Event, JoinableQueue, PodQueue, Queue, Semaphore,
    SimpleQueue,
};

fn mode_of(name: &str) -> u32 {
    std::fs::metadata(std::path::Path::new("/dev/shm").join(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn primitives_and_queues_are_created_with_the_requested_mode() {
    let g: Vec<NameGuard> = (0..10)
        .map(|i| NameGuard::new(&format!("cmode{i}")))
        .collect();
    let n = |i: usize| g[i].name();
    let rw = Options::default().mode(0o660);
    let ro = Options::default().mode(0o640);
    // SAFETY: umask only swaps the process's file-creation mask (the only test in this binary).
    let old = unsafe { libc::umask(0o077) };
    let _a = Semaphore::create_with(n(0), 1, &rw).unwrap();
    let _b = BoundedSemaphore::create_with(n(1), 1, &ro).unwrap();
    let _c = Event::create_with(n(2), &rw).unwrap();
    let _d = Condition::create_with(n(3), &ro).unwrap();
    let _e = Barrier::create_with(n(4), 2, &rw).unwrap();
    let _f = Queue::create_with(n(5), 256, &ro).unwrap();
    let _g = JoinableQueue::create_with(n(6), 256, &rw).unwrap();
    let _h = SimpleQueue::create_with(n(7), 256, &ro).unwrap();
    let _i = PodQueue::<u32>::create_with(n(8), 4, &rw).unwrap();
    let _j = Event::create(n(9)).unwrap();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let want = [
        0o660, 0o640, 0o660, 0o640, 0o660, 0o640, 0o660, 0o640, 0o660, 0o600,
    ];
    for (i, w) in want.into_iter().enumerate() {
        assert_eq!(mode_of(n(i)), w, "segment {i} ({})", n(i));
    }
    // Still what they claim to be.
    assert_eq!(Barrier::open(n(4)).unwrap().parties(), 2);
    assert!(matches!(
        Queue::open(n(6)),
        Err(mpshare::Error::LayoutMismatch { .. })
    ));
    assert_eq!(JoinableQueue::open(n(6)).unwrap().capacity(), 256);
}
