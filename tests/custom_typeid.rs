//! A Rust type registered as a custom typeid, used from CPython `BaseManager.register('Counter')`
//! (AutoProxy, incl. `get_methods`) and from raw Rust requests.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpshare::manager::auth::{self, AuthKey};
use mpshare::manager::connection::{Address, Connection};
use mpshare::manager::message::{Reply, Request};
use mpshare::manager::objects::{
    bind_args, int_arg, iterator::IteratorObject, CallCtx, CallError, ServedObject, TypeSpec,
};
use mpshare::manager::pickle::{PyDict, PyValue};
use mpshare::manager::server::{Server, ServerHandle};

const KEY: &str = "custom-key";

struct Counter(AtomicI64);

impl ServedObject for Counter {
    fn call(
        &self,
        _ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        match method {
            "increment" => {
                let b = bind_args(method, args, kwargs, &["n"], 0)?;
                let n = b[0].map(int_arg).transpose()?.unwrap_or(1);
                if n < 0 {
                    return Err(CallError::value_error("increment must be >= 0"));
                }
                Ok(PyValue::Int(self.0.fetch_add(n, Ordering::SeqCst) + n))
            }
            "get" => Ok(PyValue::Int(self.0.load(Ordering::SeqCst))),
            _ => Err(CallError::no_method("Counter", method)),
        }
    }

    fn call_object(
        &self,
        _ctx: &CallCtx,
        _method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<Arc<dyn ServedObject>, CallError> {
        let n = self.0.load(Ordering::SeqCst);
        Ok(Arc::new(IteratorObject::new(
            (0..n).map(PyValue::Int).collect(),
        )))
    }

    fn exposed(&self) -> Vec<String> {
        vec!["increment".into(), "get".into(), "digits".into()]
    }

    fn repr(&self) -> String {
        format!("Counter({})", self.0.load(Ordering::SeqCst))
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::Int(self.0.load(Ordering::SeqCst)))
    }
}

fn server() -> ServerHandle {
    let s = Server::bind(&"127.0.0.1:0".parse().unwrap(), AuthKey::from(KEY)).unwrap();
    s.register(
        TypeSpec::new("Counter", |_ctx, args, kwargs| {
            let b = bind_args("Counter", args, kwargs, &["start"], 0)?;
            let start = b[0].map(int_arg).transpose()?.unwrap_or(0);
            Ok(Arc::new(Counter(AtomicI64::new(start))))
        })
        .method_to_typeid("digits", "Iterator"),
    );
    s.spawn().unwrap()
}

fn connect(addr: &Address) -> Connection {
    let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    auth::client_handshake(&mut c, &AuthKey::from(KEY)).unwrap();
    c
}

fn roundtrip(c: &mut Connection, req: &Request) -> Reply {
    c.send_bytes(&req.encode().unwrap()).unwrap();
    Reply::decode(&c.recv_bytes().unwrap()).unwrap()
}

#[test]
fn counter_from_raw_rust_requests() {
    let h = server();
    let addr = h.address().clone();
    let mut c = connect(&addr);
    let ident = match roundtrip(
        &mut c,
        &Request::server("create", vec![PyValue::str("Counter"), PyValue::Int(3)]),
    ) {
        Reply::Return(PyValue::Tuple(t)) => {
            assert_eq!(
                t[1],
                PyValue::tuple(vec![
                    PyValue::str("increment"),
                    PyValue::str("get"),
                    PyValue::str("digits")
                ])
            );
            t[0].as_str().unwrap().to_string()
        }
        other => panic!("{other:?}"),
    };
    let mut p = connect(&addr);
    roundtrip(
        &mut p,
        &Request::server("accept_connection", vec![PyValue::str("rust")]),
    );
    assert_eq!(
        roundtrip(&mut p, &Request::call(&ident, "increment", vec![])),
        Reply::Return(PyValue::Int(4))
    );
    let mut req = Request::call(&ident, "increment", vec![]);
    req.kwds.push(("n".into(), PyValue::Int(10)));
    assert_eq!(roundtrip(&mut p, &req), Reply::Return(PyValue::Int(14)));
    match roundtrip(
        &mut p,
        &Request::call(&ident, "increment", vec![PyValue::Int(-1)]),
    ) {
        Reply::Error(e) => assert_eq!(e.as_exception().unwrap().1, "ValueError"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        roundtrip(&mut p, &Request::call(&ident, "__repr__", vec![])),
        Reply::Return(PyValue::str("Counter(14)"))
    );
    // method_to_typeid: `digits` comes back as a #PROXY to an Iterator.
    match roundtrip(&mut p, &Request::call(&ident, "digits", vec![])) {
        Reply::Proxy { exposed, token } => {
            assert_eq!(token.typeid, "Iterator");
            assert_eq!(exposed[0], "__next__");
            assert_eq!(
                roundtrip(&mut p, &Request::call(&token.id, "__next__", vec![])),
                Reply::Return(PyValue::Int(0))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn counter_from_cpython_base_manager() {
    let h = server();
    let Address::Tcp(sa) = h.address() else {
        unreachable!()
    };
    let pys = common::pythons();
    if pys.is_empty() {
        eprintln!("skipping: no CPython found");
    }
    for (v, py) in pys {
        let mut child = Command::new(&py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/py/custom_counter.py"
            ))
            .env("MPSHARE_ADDR", sa.to_string())
            .env("MPSHARE_KEY", KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (mut out, mut err) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            status.is_some_and(|s| s.success()) && out.trim_end().ends_with("OK"),
            "CPython {v}: {out}\n{err}"
        );
        eprintln!("CPython {v} custom Counter typeid: OK");
    }
}

struct Panicker;

impl ServedObject for Panicker {
    fn call(
        &self,
        _ctx: &CallCtx,
        _method: &str,
        _args: &[PyValue],
        _kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        panic!("boom");
    }

    fn exposed(&self) -> Vec<String> {
        vec!["explode".into()]
    }

    fn repr(&self) -> String {
        "Panicker".into()
    }
}

#[test]
fn a_panicking_object_gives_a_traceback_and_the_server_lives_on() {
    let h = server();
    h.register(TypeSpec::new("Panicker", |_c, _a, _k| {
        Ok(Arc::new(Panicker))
    }));
    let addr = h.address().clone();
    let mut c = connect(&addr);
    let ident = match roundtrip(
        &mut c,
        &Request::server("create", vec![PyValue::str("Panicker")]),
    ) {
        Reply::Return(PyValue::Tuple(t)) => t[0].as_str().unwrap().to_string(),
        other => panic!("{other:?}"),
    };
    let mut p = connect(&addr);
    roundtrip(
        &mut p,
        &Request::server("accept_connection", vec![PyValue::str("rust")]),
    );
    match roundtrip(&mut p, &Request::call(&ident, "explode", vec![])) {
        Reply::Traceback(t) => assert!(t.contains("boom"), "{t}"),
        other => panic!("{other:?}"),
    }
    // Same connection still usable.
    assert_eq!(
        roundtrip(&mut p, &Request::call(&ident, "__repr__", vec![])),
        Reply::Return(PyValue::str("Panicker"))
    );
}
