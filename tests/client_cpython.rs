//! The Rust manager client against stock CPython `SyncManager` servers (3.11, 3.12, 3.13 when
//! present): every typeid, remote exception mapping, refcounting, pipelining and blocking calls
//! across threads.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mpshare::manager::auth::AuthKey;
use mpshare::manager::client::{ClientConfig, Manager};
use mpshare::manager::connection::Address;
use mpshare::manager::message::ProxyRef;
use mpshare::manager::pickle::PyValue;
use mpshare::manager::proxy::Returned;
use mpshare::Error;

const KEY: &str = "rust-client-test-key";

/// A CPython server child; killed (bounded) when dropped.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    address: Address,
    version: String,
}

impl Server {
    fn start(python: &Path, version: &str) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cpython_server.py");
        let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
        let mut child = Command::new(python)
            .arg(&script)
            .arg(&hex)
            .arg("120")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python server");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server printed its address within 30 s");
        // {"address": ["127.0.0.1", 12345], ...}
        let port: u16 = line
            .split("\"address\": [\"127.0.0.1\", ")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected server line {line:?}"));
        Server {
            child,
            stdin,
            address: format!("127.0.0.1:{port}").parse().unwrap(),
            version: version.to_string(),
        }
    }

    fn manager(&self) -> Manager {
        Manager::connect_with(&self.address, AuthKey::from(KEY), timed()).expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the script exits
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client settings for every test: a lost reply fails the test instead of hanging it.
fn timed() -> ClientConfig {
    ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        server_call_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    }
}

/// Runs `f` against a fresh server of every present CPython version (a missing one is skipped,
/// or fails the test under `MPSHARE_REQUIRE_PYTHONS`).
fn each_server(f: impl Fn(&Server, &Manager)) {
    for (version, path) in common::pythons() {
        let server = Server::start(&path, &version);
        let m = server.manager();
        eprintln!("CPython {version} server at {}", server.address);
        f(&server, &m);
    }
}

fn remote_class(e: &Error) -> String {
    match e {
        Error::Remote { class, .. } => class.clone(),
        other => format!("not remote: {other}"),
    }
}

#[test]
fn connect_and_server_functions() {
    each_server(|s, m| {
        m.dummy().unwrap();
        assert_eq!(m.number_of_objects().unwrap(), 0, "{}", s.version);
        let d = m.dict().unwrap();
        assert_eq!(m.number_of_objects().unwrap(), 1);
        let info = m.debug_info().unwrap();
        assert!(info.contains(&d.token().id), "{info}");
        let methods = m.get_methods(d.token()).unwrap();
        assert!(methods.contains(&"__getitem__".to_string()));
        assert!(d.exposed().contains(&"keys".to_string()));
        // Unknown server function → #TRACEBACK.
        let e = m
            .server_call("no_such_function", vec![], vec![])
            .unwrap_err();
        assert!(matches!(e, Error::RemoteTraceback(_)), "{e}");
        // Wrong authkey → authentication error.
        let bad = Manager::connect(&s.address, AuthKey::from("wrong"));
        assert!(matches!(bad, Err(Error::Authentication(_))), "{bad:?}");
    });
}

#[test]
fn dict_ops_keyerror_and_iteration() {
    each_server(|_s, m| {
        let d = m.dict().unwrap();
        d.set("a", 1).unwrap();
        d.set("b", vec![1, 2]).unwrap();
        d.set(3, "three").unwrap();
        assert_eq!(d.get_item::<_, i64>("a").unwrap(), 1);
        assert_eq!(d.get_item::<_, Vec<i32>>("b").unwrap(), vec![1, 2]);
        assert_eq!(d.get_item::<_, String>(&3).unwrap(), "three");
        assert_eq!(d.get::<_, i64>("zz").unwrap(), None);
        let e = d.get_item::<_, i64>("missing").unwrap_err();
        assert!(e.is_key_error(), "{e}");
        assert_eq!(remote_class(&e), "builtins.KeyError");
        assert!(matches!(&e, Error::Remote { message, .. } if message == "'missing'"));
        assert!(d.contains("a").unwrap());
        assert!(!d.contains("zz").unwrap());
        assert_eq!(d.len().unwrap(), 3);
        let mut keys: Vec<PyValue> = d.keys().unwrap();
        keys.sort_by_key(|k| k.to_string());
        assert_eq!(keys.len(), 3);
        let values: Vec<PyValue> = d.values().unwrap();
        assert_eq!(values.len(), 3);
        d.del(&3).unwrap();
        assert!(d.del("nope").unwrap_err().is_key_error());
        let items: Vec<(String, PyValue)> = d.items().unwrap();
        assert_eq!(items[0], ("a".to_string(), PyValue::Int(1)));
        assert_eq!(d.setdefault::<_, _, i64>("c", 7).unwrap(), 7);
        assert_eq!(d.setdefault::<_, _, i64>("c", 9).unwrap(), 7);
        assert_eq!(d.pop::<_, i64>("c").unwrap(), 7);
        assert_eq!(d.pop_or::<_, _, i64>("c", -1).unwrap(), -1);
        d.update(&vec![("x", 10), ("y", 20)]).unwrap();
        let copy: PyValue = d.copy().unwrap();
        assert_eq!(copy.as_dict().map(|d| d.len()), Some(4));
        d.set("b", 2).unwrap();
        let typed: std::collections::HashMap<String, i64> = d.copy().unwrap();
        assert_eq!(typed["y"], 20);
        // Iteration through an Iterator proxy; it is released afterwards.
        let before = m.number_of_objects().unwrap();
        {
            let it = d.iter().unwrap();
            assert_eq!(it.token().typeid, "Iterator");
            assert_eq!(m.number_of_objects().unwrap(), before + 1);
            let keys: Vec<PyValue> = it.collect::<Result<_, _>>().unwrap();
            assert_eq!(keys, vec!["a".into(), "b".into(), "x".into(), "y".into()]);
        }
        assert_eq!(m.number_of_objects().unwrap(), before);
        assert!(matches!(
            d.invoke("__iter__", vec![], vec![]).unwrap(),
            Returned::Proxy(_)
        ));
        assert!(d.repr().unwrap().starts_with("{'a': 1"));
        assert!(d.get_value().unwrap().as_dict().is_some());
        let (k, _v): (String, PyValue) = d.popitem().unwrap();
        assert_eq!(k, "y");
        d.clear().unwrap();
        assert!(d.is_empty().unwrap());
        assert!(d.popitem::<PyValue, PyValue>().unwrap_err().is_key_error());
        // Not exposed → #TRACEBACK.
        let e = d.call_method("nonexistent", vec![], vec![]).unwrap_err();
        assert!(
            matches!(&e, Error::RemoteTraceback(t) if t.contains("not in exposed")),
            "{e}"
        );
        // Unhashable key → TypeError.
        let e = d.set(vec![1], 1).unwrap_err();
        assert!(e.is_remote("TypeError"), "{e}");
        // Initial content.
        let mut init = std::collections::BTreeMap::new();
        init.insert("k", 1);
        let d2 = m.dict_from(&init).unwrap();
        assert_eq!(d2.get_item::<_, i64>("k").unwrap(), 1);
    });
}

#[test]
fn list_ops_and_indexerror() {
    each_server(|_s, m| {
        let l = m.list().unwrap();
        l.append(3).unwrap();
        l.extend(&[1, 2]).unwrap();
        assert_eq!(l.len().unwrap(), 3);
        assert_eq!(l.get::<i64>(0).unwrap(), 3);
        assert_eq!(l.get::<i64>(-1).unwrap(), 2);
        let e = l.get::<i64>(10).unwrap_err();
        assert!(e.is_index_error(), "{e}");
        assert!(
            matches!(&e, Error::Remote { message, .. } if message == "list index out of range")
        );
        l.set(0, 5).unwrap();
        l.insert(0, 0).unwrap();
        assert_eq!(l.to_vec::<i64>().unwrap(), vec![0, 5, 1, 2]);
        assert_eq!(l.index(5).unwrap(), 1);
        assert!(l.index(99).unwrap_err().is_remote("ValueError"));
        assert_eq!(l.count(1).unwrap(), 1);
        assert!(l.contains(2).unwrap());
        l.sort().unwrap();
        assert_eq!(l.to_vec::<i64>().unwrap(), vec![0, 1, 2, 5]);
        l.reverse().unwrap();
        assert_eq!(l.to_vec::<i64>().unwrap(), vec![5, 2, 1, 0]);
        // sort(reverse=True) on an unsorted list.
        l.set(0, 1).unwrap();
        l.set(2, 5).unwrap();
        assert_eq!(l.to_vec::<i64>().unwrap(), vec![1, 2, 5, 0]);
        l.sort_reverse().unwrap();
        assert_eq!(l.to_vec::<i64>().unwrap(), vec![5, 2, 1, 0]);
        l.remove(2).unwrap();
        assert_eq!(l.pop::<i64>().unwrap(), 0);
        assert_eq!(l.pop_at::<i64>(0).unwrap(), 5);
        l.del(0).unwrap();
        assert!(l.is_empty().unwrap());
        assert!(l.pop::<i64>().unwrap_err().is_index_error());
        // sort() on several unsorted strings; mixed types are a TypeError, as in Python.
        l.extend(&["pear", "apple", "fig"]).unwrap();
        l.sort().unwrap();
        assert_eq!(l.to_vec::<String>().unwrap(), vec!["apple", "fig", "pear"]);
        l.append(1).unwrap();
        assert!(l.sort().unwrap_err().is_remote("TypeError"));
        let l2 = m.list_from(&["a", "b"]).unwrap();
        assert_eq!(l2.to_vec::<String>().unwrap(), vec!["a", "b"]);
        assert_eq!(l2.repr().unwrap(), "['a', 'b']");
    });
}

#[test]
fn namespace_and_attributeerror() {
    each_server(|s, m| {
        let ns = m.namespace().unwrap();
        ns.set("x", 5).unwrap();
        ns.set("name", "n").unwrap();
        assert_eq!(ns.get::<i64>("x").unwrap(), 5);
        assert_eq!(ns.get::<String>("name").unwrap(), "n");
        let e = ns.get::<i64>("missing").unwrap_err();
        assert!(e.is_attribute_error(), "{} {e}", s.version);
        assert!(
            e.to_string()
                .contains("'Namespace' object has no attribute 'missing'"),
            "{e}"
        );
        ns.del("x").unwrap();
        assert!(ns.get::<i64>("x").unwrap_err().is_attribute_error());
        assert!(ns.del("x").unwrap_err().is_attribute_error());
    });
}

#[test]
fn value_and_array() {
    each_server(|_s, m| {
        let v = m.value('i', 7).unwrap();
        assert_eq!(v.get::<i64>().unwrap(), 7);
        v.set(8).unwrap();
        assert_eq!(v.get::<i64>().unwrap(), 8);
        // No type checking on a manager Value.
        v.set("text").unwrap();
        assert_eq!(v.get::<String>().unwrap(), "text");
        let d = m.value('d', 1.5).unwrap();
        assert_eq!(d.get::<f64>().unwrap(), 1.5);

        let a = m.array('i', &[1, 2, 3, -4]).unwrap();
        assert_eq!(a.len().unwrap(), 4);
        assert_eq!(a.get::<i32>(3).unwrap(), -4);
        a.set(0, 10).unwrap();
        assert_eq!(a.slice::<i32>(0, 2).unwrap(), vec![10, 2]);
        assert_eq!(a.slice::<i32>(-2, 100).unwrap(), vec![3, -4]);
        assert_eq!(a.to_vec::<i64>().unwrap(), vec![10, 2, 3, -4]);
        let e = a.get::<i32>(9).unwrap_err();
        assert!(e.is_index_error(), "{e}");
        assert!(a.set(0, "x").unwrap_err().is_remote("TypeError"));
        for (tc, vals) in [('d', "[0.5, -2.25]"), ('f', "[0.5, -2.25]")] {
            let a = m.array(tc, &[0.5, -2.25]).unwrap();
            assert_eq!(format!("{:?}", a.to_vec::<f64>().unwrap()), vals);
        }
        for tc in ['b', 'B', 'h', 'H', 'I', 'l', 'L', 'q', 'Q'] {
            let a = m.array(tc, &[1u8, 2, 127]).unwrap();
            assert_eq!(
                a.slice::<u64>(0, 3).unwrap(),
                vec![1, 2, 127],
                "typecode {tc}"
            );
        }
        let big = m.array('Q', &[u64::MAX]).unwrap();
        // (Decoded as PyValue: the serde bridge does not yet turn a big int into u64.)
        let v = big.to_vec::<PyValue>().unwrap();
        assert_eq!(v[0].to_string(), u64::MAX.to_string());
        let neg = m.array('q', &[i64::MIN]).unwrap();
        assert_eq!(neg.to_vec::<i64>().unwrap(), vec![i64::MIN]);
    });
}

#[test]
fn queue_empty_full_and_joinable() {
    each_server(|_s, m| {
        let q = m.queue(0).unwrap();
        q.put(42).unwrap();
        q.put(("job", 1)).unwrap();
        assert_eq!(q.qsize().unwrap(), 2);
        assert!(!q.empty().unwrap());
        assert_eq!(q.get::<i64>().unwrap(), 42);
        assert_eq!(q.get::<(String, i64)>().unwrap(), ("job".to_string(), 1));
        let t0 = Instant::now();
        let e = q
            .get_timeout::<i64>(Duration::from_millis(100))
            .unwrap_err();
        assert!(e.is_empty_error(), "{e}");
        assert_eq!(remote_class(&e), "_queue.Empty");
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(90) && waited < Duration::from_secs(3),
            "get(timeout=0.1) raised Empty after {waited:?}"
        );
        assert!(q.get_nowait::<i64>().unwrap_err().is_empty_error());

        let b = m.queue(1).unwrap();
        b.put_nowait(1).unwrap();
        assert!(b.full().unwrap());
        let e = b.put_nowait(2).unwrap_err();
        assert!(e.is_full_error(), "{e}");
        assert_eq!(remote_class(&e), "queue.Full");
        let t0 = Instant::now();
        assert!(b
            .put_timeout(2, Duration::from_millis(50))
            .unwrap_err()
            .is_full_error());
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(45) && waited < Duration::from_secs(3),
            "put(timeout=0.05) raised Full after {waited:?}"
        );

        let j = m.joinable_queue().unwrap();
        j.put("a").unwrap();
        j.put("b").unwrap();
        let j2 = j.try_clone().unwrap();
        let worker = thread::spawn(move || {
            for _ in 0..2 {
                let _: String = j2.get().unwrap();
                j2.task_done().unwrap();
            }
        });
        j.join().unwrap();
        worker.join().unwrap();
        assert!(j.task_done().unwrap_err().is_remote("ValueError"));
    });
}

#[test]
fn locks_and_semaphores() {
    each_server(|_s, m| {
        let l = m.lock().unwrap();
        l.acquire().unwrap();
        assert!(!l.try_acquire().unwrap());
        let t0 = Instant::now();
        assert!(!l.acquire_timeout(Duration::from_millis(50)).unwrap());
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(45) && waited < Duration::from_secs(3),
            "acquire(timeout=0.05) returned after {waited:?}"
        );
        l.release().unwrap();
        let e = l.release().unwrap_err();
        assert!(e.is_remote("RuntimeError"), "{e}");
        assert!(e.to_string().contains("release unlocked lock"), "{e}");
        {
            let _g = l.guard().unwrap();
            assert!(!l.try_acquire().unwrap());
        }
        assert!(l.try_acquire().unwrap());
        l.release().unwrap();

        // RLock: re-entrant in one thread; another thread cannot release it.
        let r = m.rlock().unwrap();
        r.acquire().unwrap();
        r.acquire().unwrap();
        let r2 = r.try_clone().unwrap();
        let other = thread::spawn(move || {
            let e = r2.release().unwrap_err();
            assert!(e.is_remote("RuntimeError"), "{e}");
            assert!(!r2.try_acquire().unwrap());
        });
        other.join().unwrap();
        r.release().unwrap();
        r.release().unwrap();
        assert!(r.release().unwrap_err().is_remote("RuntimeError"));

        let s = m.semaphore(2).unwrap();
        assert!(s.try_acquire().unwrap());
        assert!(s.try_acquire().unwrap());
        assert!(!s.try_acquire().unwrap());
        s.release().unwrap();
        s.release().unwrap();
        s.release().unwrap(); // plain Semaphore: unbounded

        let b = m.bounded_semaphore(1).unwrap();
        let g = b.guard().unwrap();
        g.release().unwrap();
        let e = b.release().unwrap_err();
        assert!(e.is_remote("builtins.ValueError"), "{e}");
        assert!(e.to_string().contains("released too many times"), "{e}");
    });
}

#[test]
fn condition_wait_notify_across_threads() {
    each_server(|_s, m| {
        let c = m.condition().unwrap();
        let flag = m.value('i', 0).unwrap();
        let (c2, flag2) = (c.try_clone().unwrap(), flag.try_clone().unwrap());
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let _g = c2.guard().unwrap();
            ready_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while flag2.get::<i64>().unwrap() == 0 {
                assert!(Instant::now() < deadline, "not notified");
                c2.wait(Some(Duration::from_secs(5))).unwrap();
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        {
            let _g = c.guard().unwrap(); // waiter released the lock inside wait
            flag.set(1).unwrap();
            c.notify(1).unwrap();
        }
        waiter.join().unwrap();
        // Not held → RuntimeError.
        assert!(c.notify_all().unwrap_err().is_remote("RuntimeError"));
        assert!(c
            .wait(Some(Duration::from_millis(1)))
            .unwrap_err()
            .is_remote("RuntimeError"));
        let g = c.guard().unwrap();
        let t0 = Instant::now();
        assert!(!c.wait(Some(Duration::from_millis(20))).unwrap());
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(15) && waited < Duration::from_secs(3),
            "wait(0.02) returned after {waited:?}"
        );
        c.notify_all().unwrap();
        g.release().unwrap();
    });
}

#[test]
fn event_wait_set_across_threads() {
    each_server(|_s, m| {
        let e = m.event().unwrap();
        assert!(!e.is_set().unwrap());
        let t0 = Instant::now();
        assert!(!e.wait(Some(Duration::from_millis(30))).unwrap());
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(25) && waited < Duration::from_secs(3),
            "wait(0.03) returned after {waited:?}"
        );
        let e2 = e.try_clone().unwrap();
        let waiter = thread::spawn(move || e2.wait(Some(Duration::from_secs(10))).unwrap());
        thread::sleep(Duration::from_millis(50));
        e.set().unwrap();
        assert!(waiter.join().unwrap());
        assert!(e.is_set().unwrap());
        e.clear().unwrap();
        assert!(!e.is_set().unwrap());
    });
}

#[test]
fn barrier_across_threads_and_abort() {
    each_server(|_s, m| {
        let b = m.barrier(2).unwrap();
        assert_eq!(b.parties().unwrap(), 2);
        assert_eq!(b.n_waiting().unwrap(), 0);
        assert!(!b.broken().unwrap());
        let b2 = b.try_clone().unwrap();
        let other = thread::spawn(move || b2.wait(Some(Duration::from_secs(10))).unwrap());
        let mine = b.wait(Some(Duration::from_secs(10))).unwrap();
        let theirs = other.join().unwrap();
        let mut idx = [mine, theirs];
        idx.sort();
        assert_eq!(idx, [0, 1]);

        let b3 = b.try_clone().unwrap();
        let waiter = thread::spawn(move || b3.wait(Some(Duration::from_secs(10))));
        let deadline = Instant::now() + Duration::from_secs(10);
        while b.n_waiting().unwrap() == 0 {
            assert!(Instant::now() < deadline);
            thread::sleep(Duration::from_millis(10));
        }
        b.abort().unwrap();
        let e = waiter.join().unwrap().unwrap_err();
        assert!(e.is_broken_barrier(), "{e}");
        assert_eq!(remote_class(&e), "threading.BrokenBarrierError");
        assert!(b.broken().unwrap());
        assert!(b.wait(None).unwrap_err().is_broken_barrier());
        b.reset().unwrap();
        assert!(!b.broken().unwrap());
    });
}

#[test]
fn refcounts_return_to_baseline() {
    each_server(|_s, m| {
        let base = m.number_of_objects().unwrap();
        {
            let _d = m.dict().unwrap();
            let _l = m.list().unwrap();
            let q = m.queue(0).unwrap();
            let q2 = q.try_clone().unwrap();
            assert_eq!(m.number_of_objects().unwrap(), base + 3);
            drop(q);
            assert_eq!(
                m.number_of_objects().unwrap(),
                base + 3,
                "q2 still holds it"
            );
            drop(q2);
            assert_eq!(m.number_of_objects().unwrap(), base + 2);
        }
        assert_eq!(m.number_of_objects().unwrap(), base);
        // Proxies created in other threads, dropped there.
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let m = m.clone();
                thread::spawn(move || {
                    let d = m.dict().unwrap();
                    d.set("i", i).unwrap();
                    assert_eq!(d.get_item::<_, i64>("i").unwrap(), i);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(m.number_of_objects().unwrap(), base);
        // A stored proxy reference: the server pins it (manager-owned), we can rebuild it.
        let d = m.dict().unwrap();
        let q = m.queue(0).unwrap();
        q.put(5).unwrap();
        d.set_value("q".into(), q.to_ref().to_value()).unwrap();
        let r = ProxyRef::from_value(&d.get_item_value("q".into()).unwrap()).unwrap();
        assert_eq!(r.token.id, q.token().id);
        let q_again = m.proxy_from_ref(&r).unwrap();
        assert_eq!(q_again.call::<i64>("get", ()).unwrap(), 5);
    });
}

#[test]
fn pipelined_dict_sets_then_get() {
    each_server(|_s, m| {
        let d = m.dict().unwrap();
        let mut p = m.pipeline();
        for i in 0..1000i64 {
            p.push(&d, "__setitem__", (i, i * 2)).unwrap();
        }
        p.call(&d, "__getitem__", vec![PyValue::Int(999)], vec![]);
        p.call(&d, "__getitem__", vec![PyValue::Int(-1)], vec![]);
        p.call(&d, "__len__", vec![], vec![]);
        let r = p.finish().unwrap();
        assert_eq!(r.len(), 1003);
        assert!(r[..1000].iter().all(|x| matches!(x, Ok(PyValue::None))));
        assert_eq!(r[1000].as_ref().unwrap(), &PyValue::Int(1998));
        assert!(r[1001].as_ref().unwrap_err().is_key_error());
        assert_eq!(r[1002].as_ref().unwrap(), &PyValue::Int(1000));
        // The connection is still in step afterwards.
        assert_eq!(d.get_item::<_, i64>(&500).unwrap(), 1000);
        // Large values: chunking by bytes keeps this from deadlocking.
        let big = "x".repeat(100_000);
        let mut p = m.pipeline().with_batch(8);
        for i in 0..20 {
            p.push(&d, "__setitem__", (format!("big{i}"), &big))
                .unwrap();
            p.push(&d, "__getitem__", (format!("big{i}"),)).unwrap();
        }
        let r = p.finish().unwrap();
        assert!(r.iter().all(|x| x.is_ok()));
        assert_eq!(r[1].as_ref().unwrap().as_str().map(str::len), Some(100_000));
        // A proxy of another client → error in its slot, not sent.
        let other = Manager::connect_with(m.address(), AuthKey::from(KEY), timed()).unwrap();
        let foreign = other.list().unwrap();
        let mut p = m.pipeline();
        p.call(&foreign, "__len__", vec![], vec![]);
        p.call(&d, "__len__", vec![], vec![]);
        let r = p.finish().unwrap();
        assert!(matches!(r[0], Err(Error::ForeignProxy { .. })));
        assert_eq!(r[1].as_ref().unwrap(), &PyValue::Int(1020));
        // #PROXY in a pipeline is released, not leaked.
        let base = m.number_of_objects().unwrap();
        let mut p = m.pipeline();
        p.call(&d, "__iter__", vec![], vec![]);
        assert!(p.finish().unwrap()[0].is_err());
        assert_eq!(m.number_of_objects().unwrap(), base);
        assert!(m.pipeline().finish().unwrap().is_empty());
    });
}

#[test]
fn blocking_get_answered_by_put_from_another_thread() {
    each_server(|_s, m| {
        let q = m.queue(0).unwrap();
        let q2 = q.try_clone().unwrap();
        let getter = thread::Builder::new()
            .name("worker-get".into())
            .spawn(move || {
                let t0 = Instant::now();
                let v: String = q2.get().unwrap();
                (v, t0.elapsed())
            })
            .unwrap();
        thread::sleep(Duration::from_millis(200));
        q.put("hello").unwrap(); // this thread's own connection is not blocked
        let (v, waited) = getter.join().unwrap();
        assert_eq!(v, "hello");
        // It waited for the put (200 ms later), and was answered soon after it.
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    });
}

#[test]
fn shutdown_is_tolerated() {
    each_server(|s, m| {
        // Live proxies of several kinds, each with its thread connection in use.
        let d = m.dict().unwrap();
        d.set("k", 1).unwrap();
        let q = m.queue(0).unwrap();
        q.put(1).unwrap();
        let l = m.lock().unwrap();
        assert_eq!(m.number_of_objects().unwrap(), 3);
        let t0 = Instant::now();
        m.shutdown().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "shutdown took {:?}",
            t0.elapsed()
        );
        // The server stops accepting within a few seconds.
        let deadline = Instant::now() + Duration::from_secs(5);
        let quick = ClientConfig {
            connect_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            ..timed()
        };
        while Manager::connect_with(&s.address, AuthKey::from(KEY), quick.clone()).is_ok() {
            assert!(Instant::now() < deadline, "server still up after shutdown");
            thread::sleep(Duration::from_millis(50));
        }
        // A call on a proxy now fails with an error, in bounded time.
        let t0 = Instant::now();
        let r = d.get_item::<_, i64>("k");
        assert!(matches!(r, Err(Error::ConnectionClosed)), "{r:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // Dropping the proxies (each sends a decref to a server that is gone) neither panics
        // nor hangs: every step of that decref is bounded.
        let t0 = Instant::now();
        drop((d, q, l));
        let took = t0.elapsed();
        eprintln!(
            "CPython {}: three proxies dropped after shutdown in {took:?}",
            s.version
        );
        assert!(
            took < Duration::from_secs(5),
            "dropping proxies took {took:?}"
        );
    });
}

#[test]
fn queue_shutdown_against_cpython_3_13() {
    // queue.Queue.shutdown is new in 3.13, so only a 3.13 server exposes it.
    let Some(py) = common::python("3.13") else {
        return;
    };
    let server = Server::start(&py, "3.13");
    let m = server.manager();
    let q = m.queue(0).unwrap();
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.shutdown(false).unwrap();
    let e = q.put(3).unwrap_err();
    assert!(e.is_remote("queue.ShutDown"), "{e}");
    assert_eq!(q.get::<i64>().unwrap(), 1);
    assert_eq!(q.get::<i64>().unwrap(), 2);
    let e = q.get::<i64>().unwrap_err();
    assert!(e.is_remote("queue.ShutDown"), "{e}");
    // A blocked get in another thread is woken with ShutDown.
    let q2 = m.queue(0).unwrap();
    let q3 = q2.try_clone().unwrap();
    let waiter = thread::spawn(move || {
        let t0 = Instant::now();
        (q3.get_timeout::<i64>(Duration::from_secs(20)), t0.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    q2.shutdown(false).unwrap();
    let (r, waited) = waiter.join().unwrap();
    let e = r.unwrap_err();
    assert!(e.is_remote("queue.ShutDown"), "{e}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // immediate=True drops what is left.
    let q4 = m.queue(0).unwrap();
    for i in 0..5 {
        q4.put(i).unwrap();
    }
    q4.shutdown(true).unwrap();
    assert_eq!(q4.qsize().unwrap(), 0);
    assert!(q4
        .get_nowait::<i64>()
        .unwrap_err()
        .is_remote("queue.ShutDown"));
}
