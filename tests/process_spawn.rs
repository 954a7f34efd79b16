//! Process (start method spawn): this test binary re-executes itself; its `main` calls
//! `spawn_main` first. Exit codes, panics, errors, the handover of every handle kind (anonymous
//! by inherited descriptor, named by name), wrong types, multi-threaded parents, and a killed
//! parent taking its spawned children with it. `harness = false`: see `process_common`.

mod process_common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mpshare::process::{self, entry, Handover, Process, ERROR_EXIT_CODE, PANIC_EXIT_CODE};
use mpshare::{
    AnyLock, Array, Barrier, BoundedSemaphore, Condition, DynArray, DynValue, Error, Event,
    JoinableQueue, Lock, PodQueue, Queue, RLock, RawArray, RawValue, Scalar, Semaphore,
    SimpleQueue, Value,
};
use process_common::{running, wait_until, ShmName};

fn main() {
    process::spawn_main(&[
        entry!(exit_with),
        entry!(exit_with_value),
        entry!(panics),
        entry!(fails),
        entry!(uses_every_handle),
        entry!(uses_coordination),
        entry!(wrong_type),
        entry!(sleeps),
        entry!(spawns_and_sleeps),
    ]);
    process_common::run(&[
        ("exit_codes_panics_errors", exit_codes_panics_errors),
        (
            "handover_of_every_handle_kind",
            handover_of_every_handle_kind,
        ),
        (
            "handover_of_coordination_primitives",
            handover_of_coordination_primitives,
        ),
        (
            "wrong_type_unknown_entry_bad_handover",
            wrong_type_unknown_entry_bad_handover,
        ),
        (
            "spawn_from_a_multithreaded_parent",
            spawn_from_a_multithreaded_parent,
        ),
        (
            "killed_parent_takes_spawned_children",
            killed_parent_takes_spawned_children,
        ),
    ])
}

// ---- entries (run in the spawned children) ----

fn exit_with(h: Handover) -> i32 {
    h.get_arg("code").unwrap()
}

fn exit_with_value(h: Handover) -> i32 {
    h.get::<RawValue<u32>>("v").map_or(-1, |v| v.get() as i32)
}

fn panics(h: Handover) {
    panic!("spawned child says {}", h.arg_str("word").unwrap_or("?"));
}

fn fails(_h: Handover) -> mpshare::Result<()> {
    Err(Error::Timeout(Duration::from_millis(5)))
}

fn uses_every_handle(h: Handover) -> mpshare::Result<()> {
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(Error::HandoverFailed {
                what: what.to_string(),
                reason: "child check failed".into(),
            })
        }
    };
    let rv: RawValue<u64> = h.get("rv")?;
    check(rv.get() == 41, "rv == 41")?;
    rv.fetch_add(1);
    let again: RawValue<u64> = h.get("rv_again")?;
    check(again.get() == 42, "rv_again is rv")?;
    let v: Value<i64> = h.get("v")?;
    v.update(|x| x - 10)?;
    let ra: RawArray<f64> = h.get("ra")?;
    ra.set(2, ra.get(1)? * 2.0)?;
    let a: Array<u32> = h.get("a")?;
    a.lock()?.iter_mut().for_each(|x| *x += 1);
    // The parent holds these two: the child sees them busy.
    let lock: Lock = h.get("lock")?;
    check(lock.try_acquire()?.is_none(), "lock busy")?;
    let rlock: RLock = h.get("rlock")?;
    check(rlock.try_acquire()?.is_none(), "rlock busy")?;
    // Not held: the child takes it and leaves it for the parent to find released.
    let any: AnyLock = h.get("any")?;
    check(!any.is_recursive(), "any is a Lock")?;
    drop(any.lock()?);
    let nrv: RawValue<u32> = h.get("named_rv")?;
    nrv.set(nrv.get() + 1);
    // N-D arrays cross with their shape, anonymous (memfd) and named alike.
    let nd: Array<f64> = h.get("nd")?;
    check(nd.shape() == vec![3, 4], "nd shape [3, 4]")?;
    for (i, row) in nd.lock_nd()?.rows_mut().enumerate() {
        row.fill(i as f64);
    }
    let named_nd = RawArray::<u8>::open_nd(h.arg_str("named_nd").unwrap_or(""), &[2, 2, 2])?;
    named_nd.set(7, 7)?;
    let wrong = RawArray::<u8>::open_nd(h.arg_str("named_nd").unwrap_or(""), &[8]);
    check(
        matches!(&wrong, Err(Error::LayoutMismatch { holds, .. }) if holds.contains("[2, 2, 2]")),
        "wrong shape refused",
    )?;
    // Typecode-keyed handles: the child learns the typecode from the header.
    let dv: DynValue = h.get("dv")?;
    check(dv.typecode().as_char() == 'd', "dv is 'd'")?;
    dv.set(Scalar::Float(6.5))?;
    let da: DynArray = h.get("da")?;
    check(
        da.typecode().as_char() == 'i' && da.len() == 3,
        "da is 'i' x 3",
    )?;
    da.set(2, Scalar::Int(-7))?;
    let na: Array<i16> = h.get("named_a")?;
    na.write(0, &[-1, -2])?;
    check(na.name().is_some(), "named array keeps its name")?;
    check(rv.name().is_none(), "anonymous value stays anonymous")?;
    Ok(())
}

fn uses_coordination(h: Handover) -> mpshare::Result<()> {
    let fail = |what: &str| Error::HandoverFailed {
        what: what.to_string(),
        reason: "child check failed".into(),
    };
    let wait = Duration::from_secs(30);
    // The parent holds the bounded semaphore's only permit.
    let bsem: BoundedSemaphore = h.get("bsem")?;
    if bsem.try_acquire()? {
        return Err(fail("bsem busy"));
    }
    let q: Queue = h.get("q")?;
    let msg = q.get_timeout(wait)?;
    let jq: JoinableQueue = h.get("jq")?;
    jq.put(&msg)?;
    let sq: SimpleQueue = h.get("sq")?;
    sq.put(b"simple")?;
    let pq: PodQueue<u64> = h.get("pq")?;
    pq.put(&42)?;
    let cond: Condition = h.get("cond")?;
    {
        let _g = cond.lock()?;
        cond.notify_all()?;
    }
    let ev: Event = h.get("ev")?;
    ev.set();
    // Both sides meet at the barrier, then the child releases the semaphore.
    let bar: Barrier = h.get("bar")?;
    bar.wait_timeout(wait)?;
    let sem: Semaphore = h.get("sem")?;
    sem.release()?;
    Ok(())
}

fn wrong_type(h: Handover) -> mpshare::Result<()> {
    let _wrong: RawValue<f32> = h.get("v")?;
    Ok(())
}

fn sleeps(_h: Handover) {
    loop {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawns_and_sleeps(h: Handover) -> mpshare::Result<()> {
    let pid: RawValue<u32> = h.get("pid")?;
    let mut g = Process::spawn(entry!(sleeps), Handover::new());
    g.start()?;
    pid.store(g.pid().unwrap_or(0), Ordering::Release);
    std::mem::forget(g); // never joined: only this process's death ends it
    loop {
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- tests (run in the parent) ----

fn run(mut p: Process) -> Process {
    p.start().unwrap();
    assert!(
        p.join_timeout(Duration::from_secs(60)).unwrap(),
        "child did not end"
    );
    p
}

fn exit_codes_panics_errors() {
    let p = run(Process::spawn(
        entry!(exit_with),
        Handover::new().arg("code", 17),
    ));
    assert_eq!((p.exitcode(), p.failure()), (Some(17), None));
    let p = run(Process::spawn(
        entry!(exit_with),
        Handover::new().arg("code", 0),
    ));
    assert_eq!(p.exitcode(), Some(0));
    let p = run(Process::spawn(
        entry!(panics),
        Handover::new().arg("word", "ouch"),
    ));
    assert_eq!(p.exitcode(), Some(PANIC_EXIT_CODE));
    assert_eq!(p.failure(), Some("panicked: spawned child says ouch"));
    let mut p = run(Process::spawn(entry!(fails), Handover::new()));
    assert_eq!(p.exitcode(), Some(ERROR_EXIT_CODE));
    assert_eq!(p.failure(), Some("timed out after 5ms"));
    assert!(matches!(
        p.join_checked(),
        Err(Error::ProcessFailed { exitcode: 1, .. })
    ));
    // The handover keeps what it carries alive: a temporary handle still reaches the child.
    let h = Handover::new()
        .with("v", &RawValue::new(33u32).unwrap())
        .unwrap();
    let p = run(Process::spawn(entry!(exit_with_value), h));
    assert_eq!(p.exitcode(), Some(33));
    let name = ShmName::new("temp");
    let h = Handover::new()
        .with("v", &RawValue::create(&name.0, 34u32).unwrap())
        .unwrap();
    let p = run(Process::spawn(entry!(exit_with_value), h));
    assert_eq!(p.exitcode(), Some(34));
    // kill and terminate reach a spawned child too.
    let mut p = Process::spawn(entry!(sleeps), Handover::new());
    p.start().unwrap();
    p.terminate().unwrap();
    assert!(p.join_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(p.exitcode(), Some(-15));
}

fn handover_of_every_handle_kind() {
    let rv = RawValue::new(41u64).unwrap();
    let v = Value::new(100i64).unwrap();
    let ra = RawArray::from_slice(&[0.5f64, 1.25, 0.0]).unwrap();
    let a = Array::from_slice(&[1u32, 2, 3]).unwrap();
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let any: AnyLock = Lock::new().unwrap().into();
    let n1 = ShmName::new("rv");
    let n2 = ShmName::new("a");
    let named_rv = RawValue::create(&n1.0, 7u32).unwrap();
    let named_a = Array::<i16>::create(&n2.0, 4).unwrap();
    let nd = Array::<f64>::new_nd(&[3, 4]).unwrap();
    let dv = DynValue::new('d', 0.5).unwrap();
    let da = DynArray::new_raw('i', 3).unwrap();
    let n3 = ShmName::new("nd");
    let named_nd = RawArray::<u8>::create_nd(&n3.0, &[2, 2, 2]).unwrap();
    let h = Handover::new()
        .with("rv", &rv)
        .unwrap()
        .with("v", &v)
        .unwrap()
        .with("ra", &ra)
        .unwrap()
        .with("a", &a)
        .unwrap()
        .with("lock", &lock)
        .unwrap()
        .with("rlock", &rlock)
        .unwrap()
        .with("any", &any)
        .unwrap()
        .with("named_rv", &named_rv)
        .unwrap()
        .with("named_a", &named_a)
        .unwrap()
        .with("nd", &nd)
        .unwrap()
        .with("dv", &dv)
        .unwrap()
        .with("da", &da)
        .unwrap()
        .with("rv_again", &rv) // one segment under two keys: one descriptor
        .unwrap()
        .arg("named_nd", &n3.0);
    let held = lock.lock().unwrap();
    let rheld = rlock.lock().unwrap();
    let mut p = run(Process::spawn(entry!(uses_every_handle), h));
    drop((held, rheld));
    p.join_checked().unwrap();
    assert_eq!(rv.get(), 42);
    assert_eq!(v.get().unwrap(), 90);
    assert_eq!(ra.to_vec(), vec![0.5, 1.25, 2.5]);
    assert_eq!(a.to_vec().unwrap(), vec![2, 3, 4]);
    let g = any.try_acquire().unwrap();
    assert!(g.is_some(), "the child released `any`");
    any.release().unwrap();
    assert_eq!(named_rv.get(), 8);
    assert_eq!(named_a.to_vec().unwrap(), vec![-1, -2, 0, 0]);
    let rows: Vec<f64> = nd.to_vec().unwrap();
    assert_eq!(
        rows,
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    );
    assert_eq!(named_nd.get(7).unwrap(), 7);
    assert_eq!(dv.get().unwrap(), Scalar::Float(6.5));
    assert_eq!(da.get(2).unwrap(), Scalar::Int(-7));
    // A Value whose lock lives in another segment cannot cross: a clear error.
    let separate = Value::with_lock(0u8, &lock).unwrap();
    let err = Handover::new().with("x", &separate).unwrap_err();
    assert!(
        matches!(&err, Error::HandoverFailed { reason, .. } if reason.contains("with_lock")),
        "{err}"
    );
    // The handle reopens in the parent too (same segment).
    let h = Handover::new().with("rv", &rv).unwrap();
    h.get::<RawValue<u64>>("rv").unwrap().set(5);
    assert_eq!(rv.get(), 5);
}

fn handover_of_coordination_primitives() {
    let wait = Duration::from_secs(30);
    let sem = Semaphore::new(0).unwrap();
    let bsem = BoundedSemaphore::new(1).unwrap();
    let ev = Event::new().unwrap();
    let cond = Condition::new().unwrap();
    let bar = Barrier::new(2).unwrap();
    let q = Queue::new(1024).unwrap();
    let jq = JoinableQueue::new(1024).unwrap();
    let sq = SimpleQueue::new(1024).unwrap();
    let pq = PodQueue::<u64>::new(8).unwrap();
    let n = ShmName::new("named_ev");
    let named_ev = Event::create(&n.0).unwrap();
    let h = Handover::new()
        .with("sem", &sem)
        .unwrap()
        .with("bsem", &bsem)
        .unwrap()
        .with("ev", &ev)
        .unwrap()
        .with("cond", &cond)
        .unwrap()
        .with("bar", &bar)
        .unwrap()
        .with("q", &q)
        .unwrap()
        .with("jq", &jq)
        .unwrap()
        .with("sq", &sq)
        .unwrap()
        .with("pq", &pq)
        .unwrap();
    // A named one crosses by name (and a wrong kind is refused in the child's open).
    let _ = h.clone().with("named_ev", &named_ev).unwrap();
    assert!(bsem.try_acquire().unwrap());
    q.put(b"hello child").unwrap();
    let mut p = Process::spawn(entry!(uses_coordination), h);
    p.start().unwrap();
    assert!(ev.wait_timeout(wait), "the child set the event");
    bar.wait_timeout(wait).unwrap();
    assert!(
        sem.acquire_timeout(wait).unwrap(),
        "the child released the semaphore"
    );
    assert!(p.join_timeout(wait).unwrap());
    p.join_checked().unwrap();
    assert_eq!(jq.get_timeout(wait).unwrap(), b"hello child");
    assert_eq!(sq.get().unwrap(), b"simple");
    assert_eq!(pq.get_timeout(wait).unwrap(), 42);
    bsem.release().unwrap();
    // A Condition whose lock lives in another segment cannot cross by itself.
    let separate = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let err = Handover::new().with("c", &separate).unwrap_err();
    assert!(matches!(err, Error::HandoverFailed { .. }), "{err}");
}

fn wrong_type_unknown_entry_bad_handover() {
    let v = RawValue::new(1u32).unwrap();
    let p = run(Process::spawn(
        entry!(wrong_type),
        Handover::new().with("v", &v).unwrap(),
    ));
    assert_eq!(p.exitcode(), Some(ERROR_EXIT_CODE));
    let msg = p.failure().unwrap();
    assert!(
        msg.contains("holds Value<'I'>") && msg.contains("asked for Value<'f'>"),
        "{msg}"
    );
    // An entry the child's spawn_main does not know.
    fn not_registered(_h: Handover) {}
    let err = Process::spawn(entry!(not_registered), Handover::new())
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, Error::SpawnFailed { entry, reason } if entry == "not_registered" && reason.contains("is not registered")),
        "{err}"
    );
    let p = run(Process::spawn(entry!(wrong_type), Handover::new()));
    assert!(
        p.failure().unwrap().contains("not in the handover"),
        "{:?}",
        p.failure()
    );
}

fn spawn_from_a_multithreaded_parent() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _ = rx.recv();
    });
    assert!(wait_until(
        Duration::from_secs(10),
        || process::thread_count().unwrap() >= 2
    ));
    assert!(matches!(
        Process::new(|| ()).start(),
        Err(Error::ForkWithThreads { .. })
    ));
    let rv = RawValue::new(41u64).unwrap();
    // Spawn from the other thread as well as this one.
    let h = Handover::new().arg("code", 3);
    let from_thread = std::thread::spawn(move || {
        let mut p = Process::spawn(entry!(exit_with), h);
        p.start().unwrap();
        p.join().unwrap();
        p.exitcode()
    });
    assert_eq!(from_thread.join().unwrap(), Some(3));
    let p = run(Process::spawn(
        entry!(exit_with),
        Handover::new().with("rv", &rv).unwrap().arg("code", 4),
    ));
    assert_eq!(p.exitcode(), Some(4));
    drop(tx);
    t.join().unwrap();
}

fn killed_parent_takes_spawned_children() {
    let pid = RawValue::new(0u32).unwrap();
    let mut middle = Process::spawn(
        entry!(spawns_and_sleeps),
        Handover::new().with("pid", &pid).unwrap(),
    );
    middle.start().unwrap();
    assert!(wait_until(Duration::from_secs(60), || pid
        .load(Ordering::Acquire)
        != 0));
    let g = pid.load(Ordering::Acquire);
    std::thread::sleep(Duration::from_millis(50));
    assert!(running(g), "grandchild ended while its parent lived");
    middle.kill().unwrap();
    middle.join().unwrap();
    assert_eq!(middle.exitcode(), Some(-9));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || !running(g)),
        "spawned grandchild {g} still running after its parent was killed"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}
