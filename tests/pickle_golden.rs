//! Golden tests: frames captured from stock CPython 3.11/3.12/3.13 managers decode to the right
//! values, and the minimal byte strings of `docs/protocol.md` §3 are produced exactly.

use std::collections::HashMap;
use std::path::PathBuf;

use mpshare::manager::connection::Address;
use mpshare::manager::message::{ProxyRef, Reply, Request, Token, TokenAddress};
use mpshare::manager::pickle::{dumps, loads, PyValue};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The named frames in tests/data/golden_frames.txt (copied from the captures in tests/data/captures).
fn local_frames() -> HashMap<String, Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_frames.txt");
    let text = std::fs::read_to_string(&path).expect("tests/data/golden_frames.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts[0].to_string(), unhex(parts[3]))
        })
        .collect()
}

/// One recorded conversation between a stock CPython manager server and a stock client
/// (`tests/data/captures/*.txt`, see the README there).
struct Capture {
    name: String,
    server: String,
    client: String,
    authkey: Vec<u8>,
    /// (connection, direction `S>C` or `C>S`, payload) in recorded order.
    frames: Vec<(u64, String, Vec<u8>)>,
}

impl Capture {
    /// `major.minor` of the server or client.
    fn minor(v: &str) -> String {
        v.split('.').take(2).collect::<Vec<_>>().join(".")
    }

    /// The frames of each connection, in order.
    fn conns(&self) -> Vec<Vec<(&str, &[u8])>> {
        let mut ids: Vec<u64> = self.frames.iter().map(|f| f.0).collect();
        ids.sort();
        ids.dedup();
        ids.iter()
            .map(|id| {
                self.frames
                    .iter()
                    .filter(|f| f.0 == *id)
                    .map(|f| (f.1.as_str(), f.2.as_slice()))
                    .collect()
            })
            .collect()
    }

    /// (request, reply) pairs after each connection's handshake (6 frames).
    fn exchanges(&self) -> Vec<(Request, Reply)> {
        let mut out = Vec::new();
        for conn in self.conns() {
            let rest = &conn[6.min(conn.len())..];
            for pair in rest.windows(2) {
                if pair[0].0 == "C>S" && pair[1].0 == "S>C" {
                    if let (Ok(q), Ok(r)) = (Request::decode(pair[0].1), Reply::decode(pair[1].1)) {
                        out.push((q, r));
                    }
                }
            }
        }
        out
    }
}

fn captures() -> Vec<Capture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let mut c = Capture {
                name: String::new(),
                server: String::new(),
                client: String::new(),
                authkey: Vec::new(),
                frames: Vec::new(),
            };
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let parts: Vec<&str> = line.split_whitespace().collect();
                match parts.as_slice() {
                    ["name", n] => c.name = n.to_string(),
                    ["server_python", v] => c.server = v.to_string(),
                    ["client_python", v] => c.client = v.to_string(),
                    ["authkey", k] => c.authkey = unhex(k),
                    ["family", _] => {}
                    ["frame", conn, dir, _seq, hex] => {
                        c.frames
                            .push((conn.parse().unwrap(), dir.to_string(), unhex(hex)))
                    }
                    ["frame", conn, dir, _seq] => {
                        c.frames
                            .push((conn.parse().unwrap(), dir.to_string(), Vec::new()))
                    }
                    other => panic!("{}: bad line {other:?}", f.display()),
                }
            }
            assert!(!c.frames.is_empty(), "{}: no frames", f.display());
            c
        })
        .collect()
}

#[test]
fn captures_cover_cpython_3_11_3_12_and_3_13() {
    let caps = captures();
    for v in ["3.11", "3.12", "3.13"] {
        let as_server = caps
            .iter()
            .filter(|c| Capture::minor(&c.server) == v)
            .count();
        let as_client = caps
            .iter()
            .filter(|c| Capture::minor(&c.client) == v)
            .count();
        println!("CPython {v}: {as_server} captures as server, {as_client} as client");
        assert!(
            as_server > 0 && as_client > 0,
            "no capture with CPython {v}"
        );
        // A whole SyncManager scenario with this version on both sides.
        assert!(
            caps.iter().any(|c| c.name.starts_with("sync-")
                && Capture::minor(&c.server) == v
                && Capture::minor(&c.client) == v),
            "no sync scenario for {v}"
        );
    }
}

#[test]
fn every_captured_frame_decodes() {
    let mut total = 0;
    let mut per_version: HashMap<String, usize> = HashMap::new();
    for c in captures() {
        for conn in c.conns() {
            // the first 6 frames of each connection are the authkey handshake (not pickles)
            for (dir, payload) in conn.into_iter().skip(6) {
                assert_eq!(payload.first(), Some(&0x80), "{}: not a pickle", c.name);
                let v =
                    loads(payload).unwrap_or_else(|e| panic!("{}: {e}\n{payload:02x?}", c.name));
                // Everything re-encodes and decodes to the same value.
                let again = loads(&dumps(&v).unwrap()).unwrap();
                assert!(again.identical(&v), "{}: re-encode changed {v}", c.name);
                // Requests go client to server, replies the other way.
                if dir == "C>S" {
                    Request::from_value(v)
                        .unwrap_or_else(|e| panic!("{}: not a request: {e}", c.name));
                } else {
                    Reply::from_value(v).unwrap_or_else(|e| panic!("{}: not a reply: {e}", c.name));
                }
                let sender = if dir == "C>S" { &c.client } else { &c.server };
                *per_version.entry(Capture::minor(sender)).or_default() += 1;
                total += 1;
            }
        }
    }
    println!("decoded {total} captured pickle frames: {per_version:?}");
    assert!(total > 1000, "expected > 1000 frames, found {total}");
    for v in ["3.11", "3.12", "3.13"] {
        assert!(
            per_version.get(v).copied().unwrap_or(0) > 100,
            "{v}: {per_version:?}"
        );
    }
}

#[test]
fn every_captured_handshake_verifies_byte_for_byte() {
    use mpshare::manager::auth::{
        answer_for, verify_reply, DigestName, CHALLENGE, FAILURE, WELCOME,
    };
    let (mut checked, mut refused) = (0, 0);
    for c in captures() {
        'conn: for conn in c.conns() {
            // S>C challenge, C>S answer, S>C verdict; then the client challenges the server.
            for (k, challenger, answerer) in [(0, &c.server, &c.client), (3, &c.client, &c.server)]
            {
                let body = conn[k].1.strip_prefix(CHALLENGE).expect("a challenge");
                let answer = conn[k + 1].1;
                if Capture::minor(challenger).as_str() >= "3.12" {
                    assert!(
                        body.starts_with(b"{sha256}") && body.len() == 48,
                        "{}",
                        c.name
                    );
                } else {
                    assert_eq!(body.len(), 20, "{}: 3.11 challenge", c.name);
                }
                if conn[k + 2].1 == FAILURE {
                    // A client that used another key (the scenario does this once): refused,
                    // and our check refuses it too.
                    assert!(!verify_reply(&c.authkey, body, answer), "{}", c.name);
                    refused += 1;
                    continue 'conn;
                }
                assert_eq!(conn[k + 2].1, WELCOME, "{}", c.name);
                // 3.12+ answer with our rule; 3.11 with raw HMAC-MD5 over the whole body.
                let expected = if Capture::minor(answerer).as_str() >= "3.12" {
                    answer_for(&c.authkey, body).unwrap()
                } else {
                    DigestName::Md5.mac(&c.authkey, body)
                };
                assert_eq!(
                    answer,
                    expected.as_slice(),
                    "{} ({answerer} answering)",
                    c.name
                );
                assert!(verify_reply(&c.authkey, body, answer), "{}", c.name);
                checked += 1;
            }
        }
    }
    println!("{checked} captured challenges verified, {refused} refused as recorded");
    assert!(checked > 100 && refused > 0);
}

#[test]
fn same_scenario_same_meaning_in_every_version() {
    let caps = captures();
    let sync: Vec<&Capture> = caps
        .iter()
        .filter(|c| c.name.starts_with("sync-"))
        .collect();
    let versions: Vec<String> = sync.iter().map(|c| Capture::minor(&c.server)).collect();
    assert_eq!(versions, ["3.11", "3.12", "3.13"]);
    for c in sync {
        let ex = c.exchanges();
        let find = |pred: &dyn Fn(&Request) -> bool| -> &Reply {
            &ex.iter()
                .find(|(q, _)| pred(q))
                .unwrap_or_else(|| panic!("{}: request not found", c.name))
                .1
        };
        // create('dict') → 17 exposed names, __iter__ twice.
        let Reply::Return(PyValue::Tuple(t)) =
            find(&|q| q.method == "create" && q.args.first() == Some(&PyValue::str("dict")))
        else {
            panic!("{}: create dict reply", c.name)
        };
        let names = t[1].as_tuple().unwrap();
        assert_eq!(names.len(), 17, "{}", c.name);
        assert_eq!(
            names
                .iter()
                .filter(|n| n.as_str() == Some("__iter__"))
                .count(),
            2
        );
        // d['missing'] → KeyError('missing').
        let r = find(&|q| {
            q.method == "__getitem__" && q.args.first() == Some(&PyValue::str("missing"))
        });
        match r.clone().into_result().unwrap_err() {
            mpshare::Error::Remote { class, message } => {
                assert_eq!(
                    (class.as_str(), message.as_str()),
                    ("builtins.KeyError", "'missing'"),
                    "{}",
                    c.name
                )
            }
            other => panic!("{}: {other}", c.name),
        }
        // iter(d) → #PROXY of an Iterator.
        let Reply::Proxy { exposed, token } = find(&|q| q.method == "__iter__") else {
            panic!("{}: __iter__ reply", c.name)
        };
        assert_eq!(
            exposed,
            &["__next__", "send", "throw", "close"],
            "{}",
            c.name
        );
        assert_eq!(token.typeid, "Iterator");
        // ns.missing → AttributeError naming the attribute.
        let r = find(&|q| {
            q.method == "__getattribute__" && q.args.first() == Some(&PyValue::str("missing"))
        });
        let Reply::Error(e) = r else {
            panic!("{}: {r:?}", c.name)
        };
        let (m, n, args) = e.as_exception().unwrap();
        assert_eq!((m, n), ("builtins", "AttributeError"), "{}", c.name);
        assert!(
            args[0].as_str().unwrap().contains("'missing'"),
            "{}",
            c.name
        );
        if Capture::minor(&c.server).as_str() >= "3.12" {
            // 3.12+ pickle the exception's state too: {'name': 'missing', 'obj': ...}.
            let PyValue::Build { state, .. } = e else {
                panic!("{}: no BUILD state: {e}", c.name)
            };
            let d = state.as_dict().unwrap();
            assert_eq!(
                d.get_str("name"),
                Some(&PyValue::str("missing")),
                "{}",
                c.name
            );
        }
        // q.get(timeout=0.1) on an empty queue → _queue.Empty.
        let r = find(&|q| q.method == "get" && q.kwarg("timeout").is_some());
        match r.clone().into_result().unwrap_err() {
            mpshare::Error::Remote { class, .. } => assert_eq!(class, "_queue.Empty", "{}", c.name),
            other => panic!("{}: {other}", c.name),
        }
    }
}

#[test]
fn create_dict_reply_has_17_names_with_iter_twice() {
    let f = local_frames();
    let v = loads(&f["create_dict_reply"]).unwrap();
    let reply = Reply::from_value(v).unwrap();
    let Reply::Return(PyValue::Tuple(t)) = reply else {
        panic!("not a #RETURN tuple")
    };
    assert!(t[0].as_str().is_some());
    let names: Vec<&str> = t[1]
        .as_tuple()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 17);
    assert_eq!(names.iter().filter(|n| **n == "__iter__").count(), 2);
    assert_eq!(names[0], "__contains__");
    assert_eq!(names[16], "__iter__");
}

#[test]
fn create_request_decodes() {
    let f = local_frames();
    let r = Request::decode(&f["create_dict_request"]).unwrap();
    assert_eq!(r.ident, None);
    assert_eq!(r.method, "create");
    assert_eq!(r.args, vec![PyValue::str("dict")]);
    assert!(r.kwds.is_empty());
}

#[test]
fn key_error_reply() {
    let f = local_frames();
    let r = Reply::decode(&f["keyerror_reply"]).unwrap();
    let Reply::Error(ref e) = r else {
        panic!("not #ERROR")
    };
    assert_eq!(e.to_string(), "KeyError('missing')");
    match r.into_result().unwrap_err() {
        mpshare::Error::Remote { class, message } => {
            assert_eq!(class, "builtins.KeyError");
            assert_eq!(message, "'missing'");
        }
        other => panic!("{other}"),
    }
    let r = Reply::decode(&f["queue_empty_reply"]).unwrap();
    match r.into_result().unwrap_err() {
        mpshare::Error::Remote { class, message } => {
            assert_eq!(class, "_queue.Empty");
            assert_eq!(message, "");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn attribute_error_312_with_state() {
    let f = local_frames();
    let r = Reply::decode(&f["attributeerror_312"]).unwrap();
    let Reply::Error(e) = r else { panic!() };
    let (m, n, args) = e.as_exception().unwrap();
    assert_eq!((m, n), ("builtins", "AttributeError"));
    assert_eq!(
        args[0].as_str(),
        Some("'Namespace' object has no attribute 'missing'")
    );
    // the state dict refers to the args tuple through the memo
    let PyValue::Build { state, .. } = &e else {
        panic!()
    };
    let d = state.as_dict().unwrap();
    assert_eq!(d.get_str("name"), Some(&PyValue::str("missing")));
    assert!(d
        .get_str("args")
        .unwrap()
        .identical(&PyValue::tuple(args.to_vec())));
}

#[test]
fn proxy_reply_token() {
    let f = local_frames();
    let r = Reply::decode(&f["proxy_reply"]).unwrap();
    let Reply::Proxy { exposed, token } = r else {
        panic!()
    };
    assert_eq!(exposed, ["__next__", "send", "throw", "close"]);
    assert_eq!(token.typeid, "Iterator");
    match &token.address {
        TokenAddress::Addr(Address::Tcp(sa)) => assert_eq!(sa.ip().to_string(), "127.0.0.1"),
        other => panic!("expected a TCP token address, found {other:?}"),
    }
    assert_eq!(token.id.len(), 12);
}

#[test]
fn rebuild_proxy_auto_proxy() {
    let f = local_frames();
    let r = Request::decode(&f["rebuildproxy_request"]).unwrap();
    assert_eq!(r.method, "__setitem__");
    assert_eq!(r.args[0], PyValue::str("q"));
    assert!(ProxyRef::is_proxy(&r.args[1]));
    let p = ProxyRef::from_value(&r.args[1]).unwrap();
    assert_eq!(p.func, "AutoProxy");
    assert_eq!(p.serializer, "pickle");
    assert_eq!(p.token.typeid, "Queue");
    let exposed = p.kwds.get_str("exposed").unwrap().as_tuple().unwrap();
    assert_eq!(exposed.len(), 9);
    assert_eq!(exposed[0].as_str(), Some("empty"));
    // re-emitted, it decodes to the same thing
    let again = loads(&dumps(&p.to_value()).unwrap()).unwrap();
    assert_eq!(ProxyRef::from_value(&again).unwrap(), p);
}

#[test]
fn types_request_values() {
    let f = local_frames();
    let r = Request::decode(&f["types_request"]).unwrap();
    let d = r.args[1].as_dict().unwrap();
    assert_eq!(d.get_str("int"), Some(&PyValue::Int(7)));
    assert_eq!(d.get_str("neg"), Some(&PyValue::Int(-2)));
    assert_eq!(d.get_str("i16"), Some(&PyValue::Int(40000)));
    assert_eq!(d.get_str("i32"), Some(&PyValue::Int(-70000)));
    assert_eq!(d.get_str("big"), Some(&PyValue::from(1u128 << 70)));
    assert_eq!(d.get_str("float"), Some(&PyValue::Float(1.5)));
    assert_eq!(d.get_str("str"), Some(&PyValue::str("héllo")));
    assert_eq!(d.get_str("bytes"), Some(&PyValue::bytes(vec![0, 1])));
    assert!(d
        .get_str("tuple")
        .unwrap()
        .identical(&PyValue::tuple(vec![PyValue::Int(1), PyValue::str("x")])));
    assert!(d
        .get_str("list")
        .unwrap()
        .identical(&PyValue::list(vec![PyValue::Int(1), PyValue::Int(2)])));
}

#[test]
fn value_array_slice_keys() {
    let f = local_frames();
    let Reply::Return(v) = Reply::decode(&f["value_getvalue_reply"]).unwrap() else {
        panic!()
    };
    let (m, n, state) = v.as_new_obj().unwrap();
    assert_eq!((m, n), ("multiprocessing.managers", "Value"));
    assert_eq!(
        state.as_dict().unwrap().get_str("_typecode"),
        Some(&PyValue::str("i"))
    );

    let Reply::Return(a) = Reply::decode(&f["array_reply"]).unwrap() else {
        panic!()
    };
    assert_eq!(a.as_array(), Some(('i', &[1u8, 0, 0, 0, 2, 0, 0, 0][..])));

    let r = Request::decode(&f["slice_request"]).unwrap();
    let (start, stop, step) = r.args[0].as_slice().unwrap();
    assert_eq!(
        (start, stop, step),
        (&PyValue::Int(0), &PyValue::Int(2), &PyValue::None)
    );

    let Reply::Return(k) = Reply::decode(&f["keys_list_reply"]).unwrap() else {
        panic!()
    };
    let (m, n, args) = k.as_reduce().unwrap();
    assert_eq!((m, n), ("builtins", "list"));
    assert_eq!(args.len(), 1);
}

#[test]
fn traceback_reply() {
    let f = local_frames();
    let r = Reply::decode(&f["traceback_reply"]).unwrap();
    let Reply::Traceback(t) = &r else { panic!() };
    assert!(t.starts_with("Traceback (most recent call last)"));
    assert!(matches!(
        r.into_result(),
        Err(mpshare::Error::RemoteTraceback(_))
    ));
}

#[test]
fn canonical_bytes_of_spec_3_2() {
    let d = |v: &PyValue| dumps(v).unwrap();
    assert_eq!(
        Request::server("dummy", vec![]).encode().unwrap(),
        unhex("80 04 28 4e 8c 05 64756d6d79 29 7d 74 2e")
    );
    assert_eq!(
        Request::server("create", vec![PyValue::str("dict")])
            .encode()
            .unwrap(),
        unhex("80 04 28 4e 8c 06 63 72 65 61 74 65 8c 04 64 69 63 74 85 7d 74 2e")
    );
    assert_eq!(
        Request::server("accept_connection", vec![PyValue::str("MainProcess")])
            .encode()
            .unwrap(),
        unhex("80 04 28 4e 8c 11 61 63 63 65 70 74 5f 63 6f 6e 6e 65 63 74 69 6f 6e 8c 0b 4d 61 69 6e 50 72 6f 63 65 73 73 85 7d 74 2e")
    );
    assert_eq!(
        Request::call("7f0000001000", "__setitem__", vec![PyValue::str("a"), PyValue::Int(1)])
            .encode()
            .unwrap(),
        unhex("80 04 28 8c 0c 37 66 30 30 30 30 30 30 31 30 30 30 8c 0b 5f 5f 73 65 74 69 74 65 6d 5f 5f 8c 01 61 4b 01 86 7d 74 2e")
    );
    let mut get = Request::call("7f0000001040", "get", vec![]);
    get.kwds.push(("timeout".into(), PyValue::Float(0.1)));
    assert_eq!(
        get.encode().unwrap(),
        unhex("80 04 28 8c 0c 37 66 30 30 30 30 30 30 31 30 34 30 8c 03 67 65 74 29 7d 28 8c 07 74 69 6d 65 6f 75 74 47 3f b9 99 99 99 99 99 9a 75 74 2e")
    );
    assert_eq!(
        Reply::Return(PyValue::None).encode().unwrap(),
        unhex("80 04 8c 07 2352455455524e 4e 86 2e")
    );
    assert_eq!(
        Reply::Return(PyValue::Int(1)).encode().unwrap(),
        unhex("80 04 8c 07 2352455455524e 4b 01 86 2e")
    );
    assert_eq!(
        Reply::Return(PyValue::tuple(vec![
            PyValue::str("7f0000001000"),
            PyValue::tuple(vec![PyValue::str("acquire"), PyValue::str("release")])
        ]))
        .encode()
        .unwrap(),
        unhex("80 04 8c 07 23 52 45 54 55 52 4e 8c 0c 37 66 30 30 30 30 30 30 31 30 30 30 8c 07 61 63 71 75 69 72 65 8c 07 72 65 6c 65 61 73 65 86 86 86 2e")
    );
    let mut ke = unhex("80 04 8c 06 234552524f52 63");
    ke.extend_from_slice(b"builtins\nKeyError\n");
    ke.extend_from_slice(&unhex("8c 07"));
    ke.extend_from_slice(b"missing");
    ke.extend_from_slice(&unhex("85 52 86 2e"));
    assert_eq!(
        Reply::Error(mpshare::manager::message::key_error(PyValue::str(
            "missing"
        )))
        .encode()
        .unwrap(),
        ke
    );
    assert_eq!(
        Reply::Error(mpshare::manager::message::queue_empty())
            .encode()
            .unwrap(),
        unhex(
            "80 04 8c 06 23 45 52 52 4f 52 63 5f 71 75 65 75 65 0a 45 6d 70 74 79 0a 29 52 86 2e"
        )
    );
    let token = Token::new(
        "dict",
        Token::tcp_address("127.0.0.1", 50000),
        "7f0000001000",
    );
    assert_eq!(
        d(&token.to_value()),
        unhex("80 04 63 6d 75 6c 74 69 70 72 6f 63 65 73 73 69 6e 67 2e 6d 61 6e 61 67 65 72 73 0a 54 6f 6b 65 6e 0a 29 81 8c 04 64 69 63 74 8c 09 31 32 37 2e 30 2e 30 2e 31 4d 50 c3 86 8c 0c 37 66 30 30 30 30 30 30 31 30 30 30 87 62 2e")
    );
    let proxy = Reply::Proxy {
        exposed: vec![
            "__next__".into(),
            "send".into(),
            "throw".into(),
            "close".into(),
        ],
        token: Token::new(
            "Iterator",
            Token::tcp_address("127.0.0.1", 50000),
            "7f0000001080",
        ),
    };
    assert_eq!(
        proxy.encode().unwrap(),
        unhex("80 04 8c 06 23 50 52 4f 58 59 28 8c 08 5f 5f 6e 65 78 74 5f 5f 8c 04 73 65 6e 64 8c 05 74 68 72 6f 77 8c 05 63 6c 6f 73 65 74 63 6d 75 6c 74 69 70 72 6f 63 65 73 73 69 6e 67 2e 6d 61 6e 61 67 65 72 73 0a 54 6f 6b 65 6e 0a 29 81 8c 08 49 74 65 72 61 74 6f 72 8c 09 31 32 37 2e 30 2e 30 2e 31 4d 50 c3 86 8c 0c 37 66 30 30 30 30 30 30 31 30 38 30 87 62 86 86 2e")
    );
    let tb = "Traceback (most recent call last):\nKeyError: 1\n";
    assert_eq!(
        Reply::Traceback(tb.into()).encode().unwrap(),
        unhex("80 04 8c 0a 23 54 52 41 43 45 42 41 43 4b 8c 2f 54 72 61 63 65 62 61 63 6b 20 28 6d 6f 73 74 20 72 65 63 65 6e 74 20 63 61 6c 6c 20 6c 61 73 74 29 3a 0a 4b 65 79 45 72 72 6f 72 3a 20 31 0a 86 2e")
    );
}

#[test]
fn int_opcode_choice() {
    let cases: [(PyValue, &str); 8] = [
        (PyValue::Int(0), "4b 00"),
        (PyValue::Int(255), "4b ff"),
        (PyValue::Int(256), "4d 00 01"),
        (PyValue::Int(65535), "4d ff ff"),
        (PyValue::Int(65536), "4a 00 00 01 00"),
        (PyValue::Int(-2), "4a fe ff ff ff"),
        (PyValue::Int(1 << 31), "8a 05 00 00 00 80 00"),
        (
            PyValue::from(1u128 << 70),
            "8a 09 00 00 00 00 00 00 00 00 40",
        ),
    ];
    for (v, hex) in cases {
        let mut expected = vec![0x80, 4];
        expected.extend(unhex(hex));
        expected.push(b'.');
        assert_eq!(dumps(&v).unwrap(), expected, "{v}");
    }
    assert_eq!(
        dumps(&PyValue::Float(1.5)).unwrap(),
        unhex("80 04 47 3f f8 00 00 00 00 00 00 2e")
    );
}
