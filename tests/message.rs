//! Request/reply encode/decode round trips, decode of captured requests, and shape errors.

use mpshare::error::ProtocolError;
use mpshare::manager::message::{
    attribute_error, broken_barrier_error, exception_to_error, key_error, queue_empty, queue_full,
    ProxyRef, Reply, Request, Token, TokenAddress,
};
use mpshare::manager::pickle::{dumps, PyValue};
use mpshare::Error;

#[test]
fn request_round_trips() {
    let mut r = Request::call(
        "7fe7c53b7dc0",
        "__setitem__",
        vec![PyValue::str("key"), PyValue::Int(42)],
    );
    assert_eq!(Request::decode(&r.encode().unwrap()).unwrap(), r);
    r.kwds.push(("timeout".into(), PyValue::Float(0.5)));
    r.kwds.push(("block".into(), PyValue::Bool(true)));
    assert_eq!(Request::decode(&r.encode().unwrap()).unwrap(), r);
    let s = Request::server(
        "create",
        vec![PyValue::str("Value"), PyValue::str("i"), PyValue::Int(7)],
    );
    assert_eq!(Request::decode(&s.encode().unwrap()).unwrap(), s);
}

#[test]
fn reply_round_trips() {
    let token = Token::new("Iterator", Token::tcp_address("127.0.0.1", 40000), "7f01");
    let replies = vec![
        Reply::Return(PyValue::None),
        Reply::Return(PyValue::list(vec![
            PyValue::Int(1),
            PyValue::from(1u128 << 90),
        ])),
        Reply::Error(key_error(PyValue::str("missing"))),
        Reply::Error(queue_empty()),
        Reply::Proxy {
            exposed: vec!["__next__".into(), "send".into()],
            token: token.clone(),
        },
        Reply::Traceback("Traceback ...\nKeyError: 1\n".into()),
        Reply::Unserializable("TypeError: cannot pickle '_thread.lock' object".into()),
        Reply::Return(ProxyRef::new("DictProxy", token).to_value()),
    ];
    for r in replies {
        assert_eq!(Reply::decode(&r.encode().unwrap()).unwrap(), r);
    }
}

#[test]
fn token_addresses() {
    for addr in [
        Token::tcp_address("::1", 1),
        TokenAddress::from_value(&PyValue::str("/tmp/pymp-x/listener-1")).unwrap(),
        TokenAddress::from_value(&PyValue::bytes(b"\0abstract".to_vec())).unwrap(),
    ] {
        let t = Token::new("dict", addr, "7f");
        let v = mpshare::manager::pickle::loads(&dumps(&t.to_value()).unwrap()).unwrap();
        assert_eq!(Token::from_value(&v).unwrap(), t);
    }
}

#[test]
fn malformed_requests_are_protocol_errors() {
    let bad = [
        (
            PyValue::tuple(vec![
                PyValue::None,
                PyValue::str("x"),
                PyValue::tuple(vec![]),
            ]),
            "4-tuple",
        ),
        (
            PyValue::tuple(vec![
                PyValue::Int(1),
                PyValue::str("x"),
                PyValue::tuple(vec![]),
                PyValue::dict(vec![]).unwrap(),
            ]),
            "ident",
        ),
        (
            PyValue::tuple(vec![
                PyValue::None,
                PyValue::Int(3),
                PyValue::tuple(vec![]),
                PyValue::dict(vec![]).unwrap(),
            ]),
            "methodname to be str, found int 3",
        ),
        (
            PyValue::tuple(vec![
                PyValue::None,
                PyValue::str("x"),
                PyValue::Int(1),
                PyValue::dict(vec![]).unwrap(),
            ]),
            "args",
        ),
        (
            PyValue::tuple(vec![
                PyValue::None,
                PyValue::str("x"),
                PyValue::tuple(vec![]),
                PyValue::None,
            ]),
            "kwds to be a dict",
        ),
        (
            PyValue::tuple(vec![
                PyValue::None,
                PyValue::str("x"),
                PyValue::tuple(vec![]),
                PyValue::dict(vec![(PyValue::Int(1), PyValue::None)]).unwrap(),
            ]),
            "kwds keys",
        ),
    ];
    for (v, needle) in bad {
        let bytes = dumps(&v).unwrap();
        match Request::decode(&bytes) {
            Err(Error::Protocol(m @ ProtocolError::Shape { .. })) => {
                assert!(m.to_string().contains(needle), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        Reply::decode(&dumps(&PyValue::Int(1)).unwrap()),
        Err(Error::Protocol(_))
    ));
}

#[test]
fn exceptions_to_errors() {
    let cases = [
        (
            key_error(PyValue::str("missing")),
            "builtins.KeyError",
            "'missing'",
        ),
        (key_error(PyValue::Int(3)), "builtins.KeyError", "3"),
        (queue_empty(), "_queue.Empty", ""),
        (queue_full(), "queue.Full", ""),
        (broken_barrier_error(), "threading.BrokenBarrierError", ""),
        (
            attribute_error("'Namespace' object has no attribute 'x'"),
            "builtins.AttributeError",
            "'Namespace' object has no attribute 'x'",
        ),
    ];
    for (exc, class, message) in cases {
        match exception_to_error(&exc) {
            Error::Remote {
                class: c,
                message: m,
            } => {
                assert_eq!(c, class);
                assert_eq!(m, message);
            }
            other => panic!("{other}"),
        }
    }
    assert!(matches!(
        Reply::Unserializable("x".into()).into_result(),
        Err(Error::RemoteTraceback(t)) if t == "Unserializable message: x\n"
    ));
}

#[test]
fn captured_requests_decode() {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_frames.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for l in text.lines().filter(|l| l.contains("_request ")) {
        let hex = l.split_whitespace().nth(3).unwrap();
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let r = Request::decode(&bytes).unwrap();
        // re-encoded in our canonical form it decodes to the same request
        assert_eq!(Request::decode(&r.encode().unwrap()).unwrap(), r);
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn serde_bridge_handles_the_full_u64_range() {
    use mpshare::manager::pickle::{from_value, loads, to_value};
    let v = to_value(&u64::MAX).unwrap();
    let back: u64 = from_value(v.clone()).unwrap();
    assert_eq!(back, u64::MAX);
    // Through the wire form as well (LONG1 with 9 bytes).
    let bytes = mpshare::manager::pickle::dumps(&v).unwrap();
    let back: u64 = from_value(loads(&bytes).unwrap()).unwrap();
    assert_eq!(back, u64::MAX);
    let neg: i64 = from_value(to_value(&i64::MIN).unwrap()).unwrap();
    assert_eq!(neg, i64::MIN);
    assert!(from_value::<u64>(to_value(&-1i64).unwrap()).is_err());
}
