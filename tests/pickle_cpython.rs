//! Interop with real CPython 3.11/3.12/3.13: generated values are encoded by us, loaded by
//! `pickle.loads`, dumped again with protocols 0..=5, and every dump decodes back to an identical
//! value. One long-lived interpreter per version serves the whole run (length-prefixed stdin/stdout
//! loop, bounded reads).

mod common;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use mpshare::manager::message::{key_error, queue_empty, ProxyRef, Token};
use mpshare::manager::pickle::{dumps, dumps_protocol, loads, PySet, PyValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SCRIPT: &str = r#"
import sys, pickle, struct
r, w = sys.stdin.buffer, sys.stdout.buffer
def send(parts):
    w.write(struct.pack('<I', len(parts)))
    for p in parts:
        w.write(struct.pack('<I', len(p))); w.write(p)
    w.flush()
while True:
    h = r.read(4)
    if len(h) < 4:
        break
    data = r.read(struct.unpack('<I', h)[0])
    try:
        obj = pickle.loads(data)
        outs = [pickle.dumps(obj, protocol=p) for p in range(6)]
        send([b'ok', repr(obj).encode('utf-8', 'surrogatepass')] + outs)
    except BaseException as e:
        send([b'err', repr(e).encode('utf-8', 'surrogatepass')])
"#;

struct Py {
    version: String,
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Vec<Vec<u8>>>,
}

impl Py {
    fn start(version: &str, path: &std::path::Path) -> Py {
        let mut child = Command::new(path)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut h = [0u8; 4];
            if stdout.read_exact(&mut h).is_err() {
                return;
            }
            let n = u32::from_le_bytes(h);
            let mut parts = Vec::new();
            for _ in 0..n {
                if stdout.read_exact(&mut h).is_err() {
                    return;
                }
                let mut p = vec![0u8; u32::from_le_bytes(h) as usize];
                if stdout.read_exact(&mut p).is_err() {
                    return;
                }
                parts.push(p);
            }
            if tx.send(parts).is_err() {
                return;
            }
        });
        Py {
            version: version.to_string(),
            child,
            stdin,
            rx,
        }
    }

    /// (python repr, dumps for protocols 0..=5) or the Python error text.
    fn roundtrip(&mut self, pickle: &[u8]) -> Result<(String, Vec<Vec<u8>>), String> {
        self.stdin
            .write_all(&(pickle.len() as u32).to_le_bytes())
            .unwrap();
        self.stdin.write_all(pickle).unwrap();
        self.stdin.flush().unwrap();
        let parts = self
            .rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("python {} did not answer: {e}", self.version));
        let repr = String::from_utf8_lossy(&parts[1]).into_owned();
        if parts[0] == b"ok" {
            Ok((repr, parts[2..].to_vec()))
        } else {
            Err(repr)
        }
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interpreters() -> Vec<Py> {
    common::pythons()
        .into_iter()
        .map(|(v, p)| Py::start(&v, &p))
        .collect()
}

#[test]
fn generated_values_round_trip_through_cpython() {
    let mut pys = interpreters();
    if pys.is_empty() {
        eprintln!("skipping: no CPython 3.11/3.12/3.13 found");
        return;
    }
    for py in pys.iter_mut() {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let version = py.version.clone();
        let py = std::cell::RefCell::new(py);
        runner
            .run(&common::values::value(), |v| {
                for proto in [2u8, 3, 4] {
                    let ours = dumps_protocol(&v, proto).unwrap();
                    let (_, outs) = py.borrow_mut().roundtrip(&ours).map_err(|e| {
                        TestCaseError::fail(format!("python {version} refused: {e}"))
                    })?;
                    if proto != 4 {
                        continue;
                    }
                    for (p, bytes) in outs.iter().enumerate() {
                        let back = loads(bytes).map_err(|e| {
                            TestCaseError::fail(format!("protocol {p} from {version}: {e}"))
                        })?;
                        prop_assert!(
                            back.identical(&v),
                            "python {} protocol {}: sent {} got {}",
                            version,
                            p,
                            v,
                            back
                        );
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        println!("python {version}: 256 generated values round-tripped");
    }
}

#[test]
fn python_sees_what_we_mean() {
    let mut pys = interpreters();
    if pys.is_empty() {
        eprintln!("skipping: no CPython 3.11/3.12/3.13 found");
        return;
    }
    let token = Token::new("dict", Token::tcp_address("127.0.0.1", 5), "7f");
    let cases: Vec<(PyValue, &str)> = vec![
        (
            PyValue::dict(vec![
                (PyValue::str("a"), PyValue::Int(1)),
                (
                    PyValue::Int(2),
                    PyValue::list(vec![
                        PyValue::bytes(b"x'".to_vec()),
                        PyValue::tuple(vec![PyValue::Float(1.5)]),
                    ]),
                ),
            ])
            .unwrap(),
            "{'a': 1, 2: [b\"x'\", (1.5,)]}",
        ),
        (key_error(PyValue::str("k")), "KeyError('k')"),
        (queue_empty(), "Empty()"),
        (
            token.to_value(),
            "Token(typeid='dict', address=('127.0.0.1', 5), id='7f')",
        ),
        (PyValue::ByteArray(b"ab".to_vec()), "bytearray(b'ab')"),
        (
            PyValue::Set(PySet::from_items(vec![PyValue::Int(1)]).unwrap()),
            "{1}",
        ),
        (PyValue::FrozenSet(PySet::new()), "frozenset()"),
        (
            PyValue::from(-(1i128 << 100)),
            "-1267650600228229401496703205376",
        ),
        (
            PyValue::list(vec![
                PyValue::Float(-0.0),
                PyValue::Float(f64::INFINITY),
                PyValue::Float(1e16),
                PyValue::Float(1e-5),
            ]),
            "[-0.0, inf, 1e+16, 1e-05]",
        ),
        (
            PyValue::str("it's \"q\" \\ \u{e9}\u{1f600}\n"),
            "'it\\'s \"q\" \\\\ \u{e9}\u{1f600}\\n'",
        ),
        (
            PyValue::SurrogateStr(vec![b'a', 0xed, 0xa0, 0x80]),
            "'a\\ud800'",
        ),
        (
            PyValue::slice(PyValue::Int(0), PyValue::Int(2), PyValue::None),
            "slice(0, 2, None)",
        ),
        (PyValue::array('i', vec![1, 0, 0, 0]), "array('i', [1])"),
    ];
    for py in pys.iter_mut() {
        for (v, expected) in &cases {
            let (repr, outs) = py.roundtrip(&dumps(v).unwrap()).unwrap();
            assert_eq!(&repr, expected, "python {}", py.version);
            // (`array` is not re-pickled as array(typecode, bytes) by plain pickle)
            if v.as_array().is_none() {
                for (p, bytes) in outs.iter().enumerate().skip(2) {
                    let back = loads(bytes).unwrap();
                    assert!(
                        back.identical(v),
                        "python {} protocol {p}: {back} vs {v}",
                        py.version
                    );
                }
            }
            if v.as_array().is_none() && v.as_exception().is_none() && v.as_new_obj().is_none() {
                assert_eq!(&v.to_string(), expected);
            }
        }
    }
}

/// Reads a pickle from stdin with `pickle.Unpickler`, resolving `RebuildProxy` and `AutoProxy`
/// to recorders (a real RebuildProxy would connect to a manager), and prints what CPython
/// would have called: `func|token repr|serializer|sorted kwds`.
const REBUILD_SCRIPT: &str = r#"
import io, pickle, pickletools, sys
from multiprocessing.managers import Token
data = sys.stdin.buffer.read()
pickletools.dis(data, out=io.StringIO())  # a structurally valid pickle, or this raises
calls = []
def rebuild(func, token, serializer, kwds):
    calls.append('%s|%r|%s|%r' % (func, token, serializer, sorted(kwds.items())))
    return 'proxy'
class U(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('multiprocessing.managers', 'RebuildProxy'):
            return rebuild
        if (module, name) == ('multiprocessing.managers', 'AutoProxy'):
            return 'AutoProxy'
        if (module, name) == ('multiprocessing.managers', 'Token'):
            return Token
        raise pickle.UnpicklingError('unexpected global %s.%s' % (module, name))
obj = U(io.BytesIO(data)).load()
assert obj == 'proxy', obj
print(calls[0])
"#;

#[test]
fn rebuild_proxy_bytes_are_read_by_cpython() {
    let token = Token::new(
        "Queue",
        Token::tcp_address("127.0.0.1", 50000),
        "7f00000010a0",
    );
    let p = ProxyRef::auto(token, vec!["get".into(), "put".into()]);
    let bytes = dumps(&p.to_value()).unwrap();
    // Our own decoder agrees with our encoder.
    assert_eq!(ProxyRef::from_value(&loads(&bytes).unwrap()).unwrap(), p);
    let want = "AutoProxy|Token(typeid='Queue', address=('127.0.0.1', 50000), id='7f00000010a0')\
                |pickle|[('exposed', ('get', 'put'))]";
    for (v, py) in common::pythons() {
        let mut child = Command::new(&py)
            .args(["-c", REBUILD_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let (status, out, err) = common::wait_output(child, Duration::from_secs(60));
        assert!(status.success(), "python {v}: {err}");
        assert_eq!(out.trim(), want, "python {v}");
    }
}
