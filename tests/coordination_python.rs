//! The coordination primitives answer like CPython's own classes: the same scenarios run in
//! CPython's multiprocessing (every CPython 3.11-3.13 present) and in mpshare, and the observable
//! results (return values, which calls raise, sizes) are compared. Plus a queue shared with an
//! unrelated process (this test binary re-exec'd) that opens it by name.

mod common;

use std::process::Command;
use std::time::Duration;

use common::fork::{role, Exec, NameGuard, Outcome};
use mpshare::{
    Barrier, BoundedSemaphore, Condition, Error, Event, JoinableQueue, Queue, Semaphore,
    SimpleQueue,
};

/// Each line: `name=value` for one observation.
const PYTHON: &str = r#"
import multiprocessing as mp, queue, threading
ctx = mp.get_context("fork")
def raises(f, exc):
    try:
        f()
    except exc:
        return "raises"
    return "ok"
out = []
s = ctx.Semaphore(2)
out.append(("sem_try1", s.acquire(False)))
out.append(("sem_try2", s.acquire(False)))
out.append(("sem_try3", s.acquire(False)))
out.append(("sem_timeout", s.acquire(timeout=0.01)))
s.release(); s.release(); s.release()
out.append(("sem_value_after_extra_release", s.get_value()))
b = ctx.BoundedSemaphore(1)
out.append(("bsem_over_release", raises(b.release, ValueError)))
e = ctx.Event()
out.append(("event_initial", e.is_set()))
out.append(("event_wait_timeout", e.wait(0.01)))
e.set()
out.append(("event_wait_set", e.wait(0.01)))
e.clear()
out.append(("event_cleared", e.is_set()))
c = ctx.Condition()
out.append(("cond_wait_unowned", raises(c.wait, (RuntimeError, AssertionError))))
out.append(("cond_notify_unowned", raises(c.notify, (RuntimeError, AssertionError))))
with c:
    out.append(("cond_wait_timeout", c.wait(0.01)))
    out.append(("cond_wait_for_true", c.wait_for(lambda: True, 0.01)))
    out.append(("cond_wait_for_false", c.wait_for(lambda: False, 0.01)))
br = ctx.Barrier(1)
out.append(("barrier_index", br.wait()))
out.append(("barrier_parties", br.parties))
br.abort()
out.append(("barrier_broken", br.broken))
out.append(("barrier_wait_broken", raises(br.wait, threading.BrokenBarrierError)))
br.reset()
out.append(("barrier_reset_broken", br.broken))
b2 = ctx.Barrier(2)
out.append(("barrier_timeout", raises(lambda: b2.wait(0.01), threading.BrokenBarrierError)))
out.append(("barrier_broken_after_timeout", b2.broken))
q = ctx.Queue(2)
q.put(b"a"); q.put(b"b")
out.append(("queue_full", q.full()))
out.append(("queue_put_nowait_full", raises(lambda: q.put_nowait(b"c"), queue.Full)))
out.append(("queue_get", q.get()))
out.append(("queue_get2", q.get(timeout=1)))
out.append(("queue_empty", q.empty()))
out.append(("queue_get_nowait_empty", raises(q.get_nowait, queue.Empty)))
out.append(("queue_get_timeout_empty", raises(lambda: q.get(timeout=0.01), queue.Empty)))
q.close()
out.append(("queue_put_closed", raises(lambda: q.put(b"x"), ValueError)))
jq = ctx.JoinableQueue()
jq.put(b"t")
jq.get()
jq.task_done()
out.append(("jq_task_done_too_many", raises(jq.task_done, ValueError)))
sq = ctx.SimpleQueue()
out.append(("sq_empty", sq.empty()))
sq.put(b"z")
out.append(("sq_get", sq.get()))
for k, v in out:
    print("%s=%s" % (k, v if isinstance(v, str) else repr(v)))
"#;

fn raises<T>(r: mpshare::Result<T>) -> String {
    if r.is_err() { "raises" } else { "ok" }.to_string()
}

fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

fn py_bytes(b: &[u8]) -> String {
    format!("b'{}'", String::from_utf8_lossy(b))
}

fn ours() -> mpshare::Result<Vec<(&'static str, String)>> {
    let t = Duration::from_millis(10);
    let mut out = Vec::new();
    let s = Semaphore::new(2)?;
    out.push(("sem_try1", py_bool(s.try_acquire()?)));
    out.push(("sem_try2", py_bool(s.try_acquire()?)));
    out.push(("sem_try3", py_bool(s.try_acquire()?)));
    out.push(("sem_timeout", py_bool(s.acquire_timeout(t)?)));
    s.release()?;
    s.release()?;
    s.release()?;
    out.push(("sem_value_after_extra_release", s.get_value().to_string()));
    let b = BoundedSemaphore::new(1)?;
    out.push(("bsem_over_release", raises(b.release())));
    let e = Event::new()?;
    out.push(("event_initial", py_bool(e.is_set())));
    out.push(("event_wait_timeout", py_bool(e.wait_timeout(t))));
    e.set();
    out.push(("event_wait_set", py_bool(e.wait_timeout(t))));
    e.clear();
    out.push(("event_cleared", py_bool(e.is_set())));
    let c = Condition::new()?;
    out.push(("cond_wait_unowned", raises(c.wait())));
    out.push(("cond_notify_unowned", raises(c.notify(1))));
    {
        let _g = c.lock()?;
        out.push(("cond_wait_timeout", py_bool(c.wait_timeout(t)?.notified())));
        out.push((
            "cond_wait_for_true",
            py_bool(c.wait_for(|| true, Some(t))?.notified()),
        ));
        out.push((
            "cond_wait_for_false",
            py_bool(c.wait_for(|| false, Some(t))?.notified()),
        ));
    }
    let br = Barrier::new(1)?;
    out.push(("barrier_index", br.wait()?.to_string()));
    out.push(("barrier_parties", br.parties().to_string()));
    br.abort();
    out.push(("barrier_broken", py_bool(br.broken())));
    out.push(("barrier_wait_broken", raises(br.wait())));
    br.reset();
    out.push(("barrier_reset_broken", py_bool(br.broken())));
    let b2 = Barrier::new(2)?;
    out.push(("barrier_timeout", raises(b2.wait_timeout(t))));
    out.push(("barrier_broken_after_timeout", py_bool(b2.broken())));
    let q = Queue::with_maxsize(4096, 2)?;
    q.put(b"a")?;
    q.put(b"b")?;
    out.push(("queue_full", py_bool(q.full())));
    out.push(("queue_put_nowait_full", raises(q.put_nowait(b"c"))));
    out.push(("queue_get", py_bytes(&q.get()?)));
    out.push((
        "queue_get2",
        py_bytes(&q.get_timeout(Duration::from_secs(1))?),
    ));
    out.push(("queue_empty", py_bool(q.empty())));
    out.push(("queue_get_nowait_empty", raises(q.get_nowait())));
    out.push(("queue_get_timeout_empty", raises(q.get_timeout(t))));
    q.close();
    out.push(("queue_put_closed", raises(q.put(b"x"))));
    let jq = JoinableQueue::new(4096)?;
    jq.put(b"t")?;
    jq.get()?;
    jq.task_done()?;
    out.push(("jq_task_done_too_many", raises(jq.task_done())));
    let sq = SimpleQueue::new(4096)?;
    out.push(("sq_empty", py_bool(sq.empty())));
    sq.put(b"z")?;
    out.push(("sq_get", py_bytes(&sq.get()?)));
    Ok(out)
}

#[test]
fn same_observations_as_cpython() {
    let mine = ours().unwrap();
    let pys = common::pythons();
    assert!(
        !pys.is_empty(),
        "no CPython 3.11-3.13 found to compare with"
    );
    for (version, py) in pys {
        let out = Command::new(&py).args(["-c", PYTHON]).output().unwrap();
        assert!(
            out.status.success(),
            "python {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let theirs: Vec<(String, String)> = text
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        assert_eq!(theirs.len(), mine.len(), "python {version}:\n{text}");
        for ((pk, pv), (mk, mv)) in theirs.iter().zip(&mine) {
            assert_eq!(pk, mk);
            assert_eq!(pv, mv, "{pk}: CPython {version} says {pv}, mpshare {mv}");
        }
    }
}

const ROLE_PRODUCER: &str = "coord-queue-producer";

#[test]
fn queue_with_an_unrelated_process() {
    if let Some(r) = role() {
        // The re-exec'd process: open the queue by name (its name passed in the role).
        if let Some(name) = r.strip_prefix(&format!("{ROLE_PRODUCER}:")) {
            let q = Queue::open(name).unwrap();
            for i in 0..1000u32 {
                q.put(&i.to_le_bytes()).unwrap();
            }
        }
        return;
    }
    let g = NameGuard::new("coordq");
    let q = Queue::create(g.name(), 1024).unwrap();
    let mut child = Exec::spawn(
        "queue_with_an_unrelated_process",
        &format!("{ROLE_PRODUCER}:{}", g.name()),
    );
    for i in 0..1000u32 {
        assert_eq!(
            q.get_timeout(Duration::from_secs(20)).unwrap(),
            i.to_le_bytes()
        );
    }
    assert_eq!(child.wait(Duration::from_secs(20)), Outcome::Exited(0));
    assert!(matches!(q.get_nowait(), Err(Error::QueueEmpty)));
}
