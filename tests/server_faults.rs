//! Fault tolerance of the manager server: dead clients release what they hold and never take
//! what they were waiting for; hostile or broken peers do not disturb correct clients; shutdown
//! wakes blocked clients.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mpshare::manager::auth::{self, AuthKey};
use mpshare::manager::connection::{Address, Connection};
use mpshare::manager::message::{ProxyRef, Reply, Request, Token, TokenAddress};
use mpshare::manager::pickle::PyValue;
use mpshare::manager::server::{Server, ServerConfig, ServerHandle};
use mpshare::Error;

const KEY: &str = "faults-key";

fn key() -> AuthKey {
    AuthKey::from(KEY)
}

fn spawn_with(f: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), key());
    f(&mut cfg);
    Server::bind_with(cfg).unwrap().spawn().unwrap()
}

fn spawn() -> ServerHandle {
    spawn_with(|_| {})
}

fn connect(addr: &Address) -> Connection {
    let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    auth::client_handshake(&mut c, &key()).unwrap();
    c
}

fn roundtrip(c: &mut Connection, req: &Request) -> Reply {
    c.send_bytes(&req.encode().unwrap()).unwrap();
    Reply::decode(&c.recv_bytes().unwrap()).unwrap()
}

fn server_fn(addr: &Address, method: &str, args: Vec<PyValue>) -> Reply {
    let mut c = connect(addr);
    roundtrip(&mut c, &Request::server(method, args))
}

fn create(addr: &Address, typeid: &str, args: Vec<PyValue>) -> String {
    let mut a = vec![PyValue::str(typeid)];
    a.extend(args);
    match server_fn(addr, "create", a) {
        Reply::Return(PyValue::Tuple(t)) => t[0].as_str().unwrap().to_string(),
        other => panic!("create {typeid}: {other:?}"),
    }
}

fn proxy_conn(addr: &Address) -> Connection {
    let mut c = connect(addr);
    let r = roundtrip(
        &mut c,
        &Request::server("accept_connection", vec![PyValue::str("test")]),
    );
    assert_eq!(r, Reply::Return(PyValue::None));
    c
}

fn call(c: &mut Connection, ident: &str, method: &str, args: Vec<PyValue>) -> Reply {
    roundtrip(c, &Request::call(ident, method, args))
}

fn objects(addr: &Address) -> i64 {
    match server_fn(addr, "number_of_objects", vec![]) {
        Reply::Return(PyValue::Int(n)) => n,
        other => panic!("{other:?}"),
    }
}

fn python() -> Option<(String, std::path::PathBuf)> {
    common::any_python()
}

/// Asserts that the server closes `c` (a clean end of stream, or a reset: both are
/// `ConnectionClosed`) soon: the read timeout is far above the bound, so a server that merely
/// stops answering fails here instead of passing as "an error".
fn assert_closed_by_server(c: &mut Connection, what: &str) {
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let t0 = Instant::now();
    let r = c.recv_bytes();
    let took = t0.elapsed();
    assert!(
        matches!(r, Err(Error::ConnectionClosed)),
        "{what}: expected the server to close the connection, found {r:?} after {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "{what}: closed only after {took:?}"
    );
}

/// Starts `block_call.py` and waits until it printed `expect`.
fn start_py(py: &Path, addr: &Address, typeid: &str, ident: &str, op: &str, expect: &str) -> Child {
    let Address::Tcp(sa) = addr else {
        unreachable!()
    };
    let mut child = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/block_call.py"))
        .env("MPSHARE_ADDR", sa.to_string())
        .env("MPSHARE_KEY", KEY)
        .env("MPSHARE_TYPEID", typeid)
        .env("MPSHARE_IDENT", ident)
        .env("MPSHARE_OP", op)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) if l.trim() == expect => child,
        other => {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.wait();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("block_call.py {op}: expected {expect}, got {other:?}\n{err}");
        }
    }
}

fn sigkill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigkilled_lock_holder_is_released_quickly() {
    let Some((v, py)) = python() else { return };
    let h = spawn();
    let addr = h.address().clone();
    let lock = create(&addr, "Lock", vec![]);
    let mut holder = start_py(&py, &addr, "Lock", &lock, "hold", "HELD");
    let mut c = proxy_conn(&addr);
    assert_eq!(
        call(&mut c, &lock, "acquire", vec![PyValue::Bool(false)]),
        Reply::Return(PyValue::Bool(false))
    );
    let t0 = Instant::now();
    sigkill(&mut holder);
    let r = call(
        &mut c,
        &lock,
        "acquire",
        vec![PyValue::Bool(true), PyValue::Float(5.0)],
    );
    let took = t0.elapsed();
    assert_eq!(r, Reply::Return(PyValue::Bool(true)));
    eprintln!("CPython {v} lock holder SIGKILLed: another client acquired the lock after {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn client_killed_while_blocked_in_acquire_never_takes_the_lock() {
    let h = spawn();
    let addr = h.address().clone();
    let lock = create(&addr, "Lock", vec![]);
    let mut a = proxy_conn(&addr);
    assert_eq!(
        call(&mut a, &lock, "acquire", vec![]),
        Reply::Return(PyValue::Bool(true))
    );
    // Raw client B blocks in acquire(), then vanishes.
    let mut b = proxy_conn(&addr);
    b.send_bytes(&Request::call(&lock, "acquire", vec![]).encode().unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(b);
    // A CPython client killed while blocked, too.
    let mut py_child =
        python().map(|(_, py)| start_py(&py, &addr, "Lock", &lock, "acquire", "CALLING"));
    std::thread::sleep(Duration::from_millis(300));
    if let Some(c) = py_child.as_mut() {
        sigkill(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        call(&mut a, &lock, "release", vec![]),
        Reply::Return(PyValue::None)
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut c = proxy_conn(&addr);
    assert_eq!(
        call(&mut c, &lock, "acquire", vec![PyValue::Bool(false)]),
        Reply::Return(PyValue::Bool(true)),
        "a dead waiter took the lock"
    );
}

#[test]
fn client_killed_while_blocked_in_get_does_not_swallow_the_next_item() {
    let h = spawn();
    let addr = h.address().clone();
    let q = create(&addr, "Queue", vec![]);
    let mut b = proxy_conn(&addr);
    b.send_bytes(&Request::call(&q, "get", vec![]).encode().unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(b);
    let mut py_child = python().map(|(_, py)| start_py(&py, &addr, "Queue", &q, "get", "CALLING"));
    std::thread::sleep(Duration::from_millis(300));
    if let Some(c) = py_child.as_mut() {
        sigkill(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut a = proxy_conn(&addr);
    assert_eq!(
        call(&mut a, &q, "put", vec![PyValue::Int(7)]),
        Reply::Return(PyValue::None)
    );
    let mut c = proxy_conn(&addr);
    let mut req = Request::call(&q, "get", vec![]);
    req.kwds.push(("timeout".into(), PyValue::Float(5.0)));
    assert_eq!(roundtrip(&mut c, &req), Reply::Return(PyValue::Int(7)));
}

#[test]
fn held_rlock_semaphore_condition_are_released_on_disconnect() {
    let h = spawn();
    let addr = h.address().clone();
    for typeid in ["RLock", "Semaphore", "BoundedSemaphore", "Condition"] {
        let id = create(&addr, typeid, vec![]);
        let mut a = proxy_conn(&addr);
        assert_eq!(
            call(&mut a, &id, "acquire", vec![]),
            Reply::Return(PyValue::Bool(true))
        );
        let mut b = proxy_conn(&addr);
        assert_eq!(
            call(&mut b, &id, "acquire", vec![PyValue::Bool(false)]),
            Reply::Return(PyValue::Bool(false)),
            "{typeid}"
        );
        drop(a);
        assert_eq!(
            call(
                &mut b,
                &id,
                "acquire",
                vec![PyValue::Bool(true), PyValue::Float(2.0)]
            ),
            Reply::Return(PyValue::Bool(true)),
            "{typeid} not released when its holder disconnected"
        );
    }
}

fn assert_serving(addr: &Address) {
    assert_eq!(
        server_fn(addr, "dummy", vec![]),
        Reply::Return(PyValue::None)
    );
    let d = create(addr, "dict", vec![]);
    let mut c = proxy_conn(addr);
    call(
        &mut c,
        &d,
        "__setitem__",
        vec![PyValue::str("k"), PyValue::Int(1)],
    );
    assert_eq!(
        call(&mut c, &d, "__getitem__", vec![PyValue::str("k")]),
        Reply::Return(PyValue::Int(1))
    );
}

fn tcp(addr: &Address) -> TcpStream {
    let Address::Tcp(sa) = addr else {
        unreachable!()
    };
    let s = TcpStream::connect(sa).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn garbage_and_huge_frames_do_not_disturb_others() {
    let h = spawn();
    let addr = h.address().clone();
    // Before authentication, each of these is answered by the server closing the connection
    // (after its challenge), soon: garbage, a 2 GiB length prefix, an escape header claiming
    // 2^60 bytes.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3][..],
        &[0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0][..],
    ] {
        let mut s = tcp(&addr);
        let _ = s.write_all(junk);
        let t0 = Instant::now();
        let mut sink = Vec::new();
        let r = s.read_to_end(&mut sink);
        let took = t0.elapsed();
        assert!(
            r.is_ok()
                || r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "{junk:?}: expected the server to close, found {r:?} after {took:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{junk:?}: closed after {took:?}"
        );
    }
    assert_serving(&addr);
    // After authentication: a 2 GiB prefix, then garbage pickles on a proxy connection.
    let c = connect(&addr);
    let _ = nix::unistd::write(&c, &[0x7f, 0xff, 0xff, 0xff, 0, 0]);
    let mut c2 = c;
    assert_closed_by_server(&mut c2, "2 GiB length prefix after authentication");
    let mut p = proxy_conn(&addr);
    p.send_bytes(b"\x80\x04this is not a pickle").unwrap();
    match Reply::decode(&p.recv_bytes().unwrap()).unwrap() {
        Reply::Traceback(_) => {}
        other => panic!("expected #TRACEBACK, got {other:?}"),
    }
    // A malicious pickle (a global call) is only data: the request shape is wrong → #TRACEBACK.
    p.send_bytes(b"\x80\x04cos\nsystem\n\x8c\x04true\x85R.")
        .unwrap();
    assert!(matches!(
        Reply::decode(&p.recv_bytes().unwrap()).unwrap(),
        Reply::Traceback(_)
    ));
    assert_serving(&addr);
}

#[test]
fn wrong_authkey_and_rapid_connects() {
    let h = spawn();
    let addr = h.address().clone();
    let mut c = Connection::connect(&addr, Duration::from_secs(5)).unwrap();
    let r = auth::client_handshake(&mut c, &AuthKey::from("wrong"));
    assert!(matches!(r, Err(Error::Authentication(_))), "{r:?}");
    for _ in 0..50 {
        drop(tcp(&addr));
    }
    for _ in 0..10 {
        let mut c = Connection::connect(&addr, Duration::from_secs(5)).unwrap();
        let _ = c.send_bytes(b"x");
    }
    assert_serving(&addr);
}

#[test]
fn silent_unauthenticated_connection_is_closed() {
    let h = spawn_with(|c| c.handshake_timeout = Duration::from_millis(500));
    let addr = h.address().clone();
    let mut s = tcp(&addr);
    let t0 = Instant::now();
    // Read the challenge, then say nothing.
    let mut buf = vec![0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert!(
        n > 4 && buf[4..n].starts_with(b"#CHALLENGE#"),
        "expected a challenge frame, found {:?}",
        &buf[..n]
    );
    assert_serving(&addr);
    // The server closes it (EOF or reset, not our 10 s read timeout) once its 500 ms handshake
    // timeout has passed.
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    let took = t0.elapsed();
    eprintln!("silent connection closed after {took:?}: {r:?}");
    assert!(
        r.is_ok()
            || r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{r:?}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn connections_beyond_the_limit_are_refused_politely() {
    let h = spawn_with(|c| c.max_connections = 2);
    let addr = h.address().clone();
    let a = proxy_conn(&addr);
    let _b = proxy_conn(&addr);
    let mut c = Connection::connect(&addr, Duration::from_secs(5)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let msg = c.recv_bytes_capped(256).unwrap();
    assert!(msg.starts_with(b"#FAILURE# server busy"), "{msg:?}");
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.active_connections() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        server_fn(&addr, "dummy", vec![]),
        Reply::Return(PyValue::None)
    );
}

#[test]
fn shutdown_wakes_a_blocked_client() {
    let h = spawn();
    let addr = h.address().clone();
    let q = create(&addr, "Queue", vec![]);
    let mut c = proxy_conn(&addr);
    c.send_bytes(&Request::call(&q, "get", vec![]).encode().unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    h.shutdown();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let r = c.recv_bytes();
    let took = t0.elapsed();
    eprintln!("blocked client woken {took:?} after shutdown: {r:?}");
    // Woken by the server closing its connection, not by our own read timeout.
    assert!(matches!(r, Err(Error::ConnectionClosed)), "{r:?}");
    assert!(took < Duration::from_secs(2), "woken after {took:?}");
    h.join();
}

#[test]
fn shutdown_request_replies_once_and_stops() {
    let h = spawn();
    let addr = h.address().clone();
    let mut idle = proxy_conn(&addr);
    let mut c = connect(&addr);
    assert_eq!(
        roundtrip(&mut c, &Request::server("shutdown", vec![])),
        Reply::Return(PyValue::None)
    );
    assert_closed_by_server(&mut c, "one reply, then close");
    assert_closed_by_server(&mut idle, "other connections are closed");
    h.join();
    let r = Connection::connect(&addr, Duration::from_secs(1));
    assert!(r.is_err(), "still accepting after shutdown");
}

#[test]
fn errors_are_tracebacks_where_cpython_sends_them() {
    let h = spawn();
    let addr = h.address().clone();
    assert!(
        matches!(server_fn(&addr, "bogus", vec![]), Reply::Traceback(t) if t.contains("'bogus' unrecognized"))
    );
    assert!(matches!(
        server_fn(&addr, "create", vec![PyValue::str("Nope")]),
        Reply::Traceback(_)
    ));
    assert!(matches!(
        server_fn(&addr, "incref", vec![PyValue::str("nope")]),
        Reply::Traceback(_)
    ));
    assert!(matches!(
        server_fn(&addr, "decref", vec![PyValue::str("nope")]),
        Reply::Traceback(_)
    ));
    let lock = create(&addr, "Lock", vec![]);
    let mut c = proxy_conn(&addr);
    assert!(matches!(
        call(&mut c, "nope", "x", vec![]),
        Reply::Traceback(_)
    ));
    assert!(
        matches!(call(&mut c, &lock, "nope", vec![]), Reply::Traceback(t) if t.contains("not in exposed"))
    );
    assert!(matches!(
        call(&mut c, &lock, "#GETVALUE", vec![]),
        Reply::Unserializable(_)
    ));
    assert!(matches!(
        call(&mut c, &lock, "__repr__", vec![]),
        Reply::Return(PyValue::Str(_))
    ));
    // Server functions on a proxy connection: ident None is not an object.
    assert!(matches!(
        roundtrip(&mut c, &Request::server("dummy", vec![])),
        Reply::Traceback(_)
    ));
    // get_methods and the dict create reply mirror CPython.
    let tok = Token::new("Lock", TokenAddress::Unspecified, &lock);
    assert_eq!(
        server_fn(&addr, "get_methods", vec![tok.to_value()]),
        Reply::Return(PyValue::tuple(vec![
            PyValue::str("acquire"),
            PyValue::str("release")
        ]))
    );
    match server_fn(&addr, "create", vec![PyValue::str("dict")]) {
        Reply::Return(PyValue::Tuple(t)) => {
            let names = t[1].as_tuple().unwrap();
            // CPython 3.14's list (3.11-3.13 report 17 names; their DictProxy ignores it).
            assert_eq!(names.len(), 22);
            assert_eq!(names[21], PyValue::str("__iter__"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stored_proxies_keep_their_referents_alive() {
    let h = spawn();
    let addr = h.address().clone();
    let l = create(&addr, "list", vec![]);
    let d = create(&addr, "dict", vec![]);
    assert_eq!(objects(&addr), 2);
    let token = match &addr {
        Address::Tcp(sa) => Token::new("list", Token::tcp_address("localhost", sa.port()), &l),
        _ => unreachable!(),
    };
    let proxy = ProxyRef::new("ListProxy", token).to_value();
    let mut c = proxy_conn(&addr);
    call(
        &mut c,
        &d,
        "__setitem__",
        vec![PyValue::str("l"), proxy.clone()],
    );
    // Drop the creator's reference: the dict keeps the list alive.
    assert_eq!(
        server_fn(&addr, "decref", vec![PyValue::str(l.clone())]),
        Reply::Return(PyValue::None)
    );
    assert_eq!(objects(&addr), 2);
    call(&mut c, &l, "append", vec![PyValue::Int(1)]);
    // Read back unchanged.
    match call(&mut c, &d, "__getitem__", vec![PyValue::str("l")]) {
        Reply::Return(v) => assert!(v.identical(&proxy)),
        other => panic!("{other:?}"),
    }
    // Overwrite: the list goes away.
    call(
        &mut c,
        &d,
        "__setitem__",
        vec![PyValue::str("l"), PyValue::None],
    );
    assert_eq!(objects(&addr), 1);
    // A dropped container releases its referents too.
    let l2 = create(&addr, "list", vec![]);
    let tok2 = Token::new("list", TokenAddress::Unspecified, &l2);
    call(
        &mut c,
        &d,
        "update",
        vec![PyValue::dict(vec![(
            PyValue::str("x"),
            ProxyRef::new("ListProxy", tok2).to_value(),
        )])
        .unwrap()],
    );
    server_fn(&addr, "decref", vec![PyValue::str(l2)]);
    assert_eq!(objects(&addr), 2);
    server_fn(&addr, "decref", vec![PyValue::str(d)]);
    assert_eq!(objects(&addr), 0);
    // Proxies passed as creation arguments are pinned too: m.list([q]).
    let q = create(&addr, "Queue", vec![]);
    let qref = ProxyRef::auto(
        Token::new("Queue", TokenAddress::Unspecified, &q),
        vec!["get".into()],
    )
    .to_value();
    let l3 = create(&addr, "list", vec![PyValue::list(vec![qref])]);
    server_fn(&addr, "decref", vec![PyValue::str(q)]);
    assert_eq!(objects(&addr), 2, "the list keeps the queue alive");
    server_fn(&addr, "decref", vec![PyValue::str(l3)]);
    assert_eq!(objects(&addr), 0);
}

#[test]
fn a_waiter_dying_just_before_the_handover_takes_nothing() {
    // No pause between the waiter's death and the put/release: the handover itself must notice.
    let h = spawn();
    let addr = h.address().clone();
    let q = create(&addr, "Queue", vec![]);
    let lock = create(&addr, "Lock", vec![]);
    let mut live = proxy_conn(&addr);
    for i in 0..20 {
        let mut b = proxy_conn(&addr);
        b.send_bytes(&Request::call(&q, "get", vec![]).encode().unwrap())
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(b);
        assert_eq!(
            call(&mut live, &q, "put", vec![PyValue::Int(i)]),
            Reply::Return(PyValue::None)
        );
        let mut req = Request::call(&q, "get", vec![]);
        req.kwds.push(("timeout".into(), PyValue::Float(5.0)));
        assert_eq!(
            roundtrip(&mut live, &req),
            Reply::Return(PyValue::Int(i)),
            "round {i}"
        );

        assert_eq!(
            call(&mut live, &lock, "acquire", vec![]),
            Reply::Return(PyValue::Bool(true))
        );
        let mut b = proxy_conn(&addr);
        b.send_bytes(&Request::call(&lock, "acquire", vec![]).encode().unwrap())
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(b);
        call(&mut live, &lock, "release", vec![]);
        // The dead waiter never owned the lock, so it is free at once (no disconnect cleanup
        // needed to get it back).
        assert_eq!(
            call(
                &mut live,
                &lock,
                "acquire",
                vec![PyValue::Bool(true), PyValue::Float(5.0)]
            ),
            Reply::Return(PyValue::Bool(true)),
            "round {i}"
        );
        call(&mut live, &lock, "release", vec![]);
    }
}

/// A tiny deterministic generator (xorshift) for the mutation loop.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_requests_never_break_the_server() {
    let h = spawn();
    let addr = h.address().clone();
    let d = create(&addr, "dict", vec![]);
    let l = create(&addr, "list", vec![PyValue::list(vec![PyValue::Int(1)])]);
    let a = create(
        &addr,
        "Array",
        vec![PyValue::str("i"), PyValue::list(vec![PyValue::Int(1)])],
    );
    let seeds: Vec<Vec<u8>> = [
        Request::call(&d, "__setitem__", vec![PyValue::str("k"), PyValue::Int(1)]),
        Request::call(&d, "get", vec![PyValue::str("k")]),
        Request::call(
            &l,
            "__getitem__",
            vec![PyValue::slice(
                PyValue::Int(0),
                PyValue::None,
                PyValue::Int(-1),
            )],
        ),
        Request::call(&l, "insert", vec![PyValue::Int(-5), PyValue::Float(0.5)]),
        Request::call(&a, "__setitem__", vec![PyValue::Int(0), PyValue::Int(7)]),
    ]
    .iter()
    .map(|r| r.encode().unwrap())
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut p = proxy_conn(&addr);
    let mut answered = 0;
    for _ in 0..3000 {
        let mut m = seeds[(rng.next() % seeds.len() as u64) as usize].clone();
        for _ in 0..(1 + rng.next() % 3) {
            let i = (rng.next() % m.len() as u64) as usize;
            match rng.next() % 3 {
                0 => m[i] = rng.next() as u8,
                1 => {
                    m.remove(i);
                }
                _ => m.insert(i, rng.next() as u8),
            }
            if m.is_empty() {
                m.push(b'.');
            }
        }
        if p.send_bytes(&m).is_err() {
            p = proxy_conn(&addr);
            continue;
        }
        match p.recv_bytes() {
            Ok(b) => {
                Reply::decode(&b).expect("a well-formed reply");
                answered += 1;
            }
            // The server may close a connection whose call it abandoned; reconnect.
            Err(_) => p = proxy_conn(&addr),
        }
    }
    eprintln!("{answered} of 3000 mutated requests answered");
    assert!(answered > 2000);
    assert_serving(&addr);
}
