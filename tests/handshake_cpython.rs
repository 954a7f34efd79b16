//! The authkey handshake against stock CPython `multiprocessing.connection` (3.11, 3.12, 3.13
//! when present), in both roles, over TCP, Unix paths and abstract Unix names, with right and
//! wrong keys, and every challenge form we can send.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mpshare::error::AuthError;
use mpshare::manager::auth::{self, AuthKey, ChallengeForm, DigestName};
use mpshare::manager::connection::{Address, Connection, Listener, ListenerConfig};
use mpshare::Error;

const T: Duration = Duration::from_secs(20);

const PY_CLIENT: &str = r#"
import sys
import multiprocessing.connection as mc
from multiprocessing import AuthenticationError
kind, a, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
if kind == 'tcp':
    h, p = a.rsplit(':', 1)
    addr = (h, int(p))
elif kind == 'abstract':
    addr = '\0' + a
else:
    addr = a
try:
    c = mc.Client(addr, authkey=key)
except AuthenticationError as e:
    print('AuthenticationError:', e, file=sys.stderr)
    sys.exit(3)
c.send_bytes(b'ping')
r = c.recv_bytes()
if r != b'pong':
    print('bad reply', r, file=sys.stderr)
    sys.exit(4)
print('ok')
"#;

const PY_LISTENER: &str = r#"
import sys
import multiprocessing.connection as mc
from multiprocessing import AuthenticationError
kind, a, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
if kind == 'tcp':
    addr = ('127.0.0.1', 0)
elif kind == 'abstract':
    addr = '\0' + a
else:
    addr = a
l = mc.Listener(addr, authkey=key)
ad = l.address
if isinstance(ad, tuple):
    print('%s:%d' % ad)
elif isinstance(ad, bytes):
    print('@' + ad[1:].decode())
elif ad.startswith('\0'):
    print('@' + ad[1:])
else:
    print(ad)
sys.stdout.flush()
try:
    c = l.accept()
except AuthenticationError as e:
    print('AuthenticationError:', e, file=sys.stderr)
    sys.exit(3)
if c.recv_bytes() != b'ping':
    sys.exit(4)
c.send_bytes(b'pong')
c.close()
l.close()
print('ok')
"#;

/// A child process that is killed if the test gives up on it.
struct Kid {
    child: Option<Child>,
    stderr: mpsc::Receiver<String>,
    stdout_lines: mpsc::Receiver<String>,
}

impl Kid {
    fn spawn(python: &Path, script: &str, args: &[String]) -> Kid {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        let mut err = child.stderr.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (etx, erx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        let (otx, orx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if otx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Kid {
            child: Some(child),
            stderr: erx,
            stdout_lines: orx,
        }
    }

    fn line(&self) -> String {
        self.stdout_lines
            .recv_timeout(T)
            .expect("a line from the python child in time")
    }

    /// Wait (bounded) for exit; returns status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > T {
                let _ = child.kill();
                let _ = child.wait();
                panic!("python child did not exit within {T:?}");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let err = self.stderr.recv_timeout(T).unwrap_or_default();
        (status, err)
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tcp,
    Unix,
    Abstract,
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpshare-hs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rust_address(kind: Kind, tag: &str) -> Address {
    match kind {
        Kind::Tcp => "127.0.0.1:0".parse().unwrap(),
        Kind::Unix => Address::Unix(scratch(tag).join("s")),
        Kind::Abstract => {
            Address::Abstract(format!("mpshare-hs-{tag}-{}", std::process::id()).into_bytes())
        }
    }
}

fn py_args(kind: Kind, addr: &Address, key: &AuthKey) -> Vec<String> {
    let (k, a) = match (kind, addr) {
        (Kind::Tcp, a) => ("tcp", a.to_string()),
        (Kind::Unix, Address::Unix(p)) => ("unix", p.display().to_string()),
        (Kind::Abstract, Address::Abstract(n)) => {
            ("abstract", String::from_utf8(n.clone()).unwrap())
        }
        other => panic!("bad combination {other:?}"),
    };
    vec![k.into(), a, key.to_hex()]
}

/// (a) Rust Listener + server_handshake ↔ Python `Client`.
fn rust_server(py: &Path, kind: Kind, tag: &str, ok: bool, form: ChallengeForm) {
    let key = AuthKey::random().unwrap();
    let client_key = if ok {
        key.clone()
    } else {
        AuthKey::random().unwrap()
    };
    let l = Listener::bind(&rust_address(kind, tag), ListenerConfig::default()).unwrap();
    let addr = l.address().unwrap();
    let kid = Kid::spawn(py, PY_CLIENT, &py_args(kind, &addr, &client_key));
    let mut c = l
        .accept_timeout(T)
        .unwrap()
        .expect("python connected in time");
    c.set_read_timeout(Some(T)).unwrap();
    let r = auth::server_handshake_with(&mut c, &key, form);
    let what = format!("{py:?} {kind:?} {form:?} ok={ok}");
    if ok {
        r.unwrap_or_else(|e| panic!("{what}: handshake failed: {e}"));
        assert_eq!(c.recv_bytes().unwrap(), b"ping", "{what}");
        c.send_bytes(b"pong").unwrap();
        let (st, err) = kid.wait();
        assert!(st.success(), "{what}: python failed: {err}");
    } else {
        match r {
            Err(Error::Authentication(AuthError::DigestRejected { .. })) => {}
            other => panic!("{what}: expected Authentication error, found {other:?}"),
        }
        drop(c);
        let (st, err) = kid.wait();
        assert_eq!(st.code(), Some(3), "{what}: python stderr: {err}");
        assert!(err.contains("AuthenticationError"), "{what}: {err}");
    }
}

/// (b) Python `Listener` ↔ Rust connect + client_handshake.
fn python_server(py: &Path, kind: Kind, tag: &str, ok: bool, form: ChallengeForm) {
    let key = AuthKey::random().unwrap();
    let client_key = if ok {
        key.clone()
    } else {
        AuthKey::random().unwrap()
    };
    let want = rust_address(kind, tag);
    let kid = Kid::spawn(py, PY_LISTENER, &py_args(kind, &want, &key));
    let addr: Address = kid.line().parse().unwrap();
    if !matches!(kind, Kind::Tcp) {
        assert_eq!(addr, want);
    }
    let mut c = Connection::connect(&addr, T).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    let r = auth::client_handshake_with(&mut c, &client_key, form);
    let what = format!("{py:?} {kind:?} {form:?} ok={ok}");
    if ok {
        r.unwrap_or_else(|e| panic!("{what}: handshake failed: {e}"));
        c.send_bytes(b"ping").unwrap();
        assert_eq!(c.recv_bytes().unwrap(), b"pong", "{what}");
        let (st, err) = kid.wait();
        assert!(st.success(), "{what}: python failed: {err}");
    } else {
        match r {
            Err(Error::Authentication(AuthError::PeerRejected)) => {}
            other => panic!("{what}: expected Authentication error, found {other:?}"),
        }
        drop(c);
        let (st, err) = kid.wait();
        assert_eq!(st.code(), Some(3), "{what}: python stderr: {err}");
        assert!(err.contains("AuthenticationError"), "{what}: {err}");
    }
}

fn each_python(f: impl Fn(&str, &Path)) {
    for (v, p) in common::pythons() {
        f(&v, &p);
    }
}

#[test]
fn rust_server_python_client() {
    each_python(|v, py| {
        for kind in [Kind::Tcp, Kind::Unix, Kind::Abstract] {
            for ok in [true, false] {
                rust_server(
                    py,
                    kind,
                    &format!("rs{v}{ok}"),
                    ok,
                    ChallengeForm::default(),
                );
            }
        }
    });
}

#[test]
fn python_server_rust_client() {
    each_python(|v, py| {
        for kind in [Kind::Tcp, Kind::Unix, Kind::Abstract] {
            for ok in [true, false] {
                python_server(
                    py,
                    kind,
                    &format!("ps{v}{ok}"),
                    ok,
                    ChallengeForm::default(),
                );
            }
        }
    });
}

#[test]
fn every_challenge_form_is_answered_by_python() {
    let mut forms: Vec<ChallengeForm> = DigestName::ALL
        .into_iter()
        .map(ChallengeForm::Modern)
        .collect();
    forms.push(ChallengeForm::Legacy);
    each_python(|v, py| {
        for (i, form) in forms.iter().enumerate() {
            rust_server(py, Kind::Unix, &format!("f{v}-{i}"), true, *form);
        }
        // Our challenge to a Python server (its answer to the legacy and an exotic form).
        python_server(
            py,
            Kind::Unix,
            &format!("pf{v}-l"),
            true,
            ChallengeForm::Legacy,
        );
        python_server(
            py,
            Kind::Unix,
            &format!("pf{v}-s"),
            true,
            ChallengeForm::Modern(DigestName::Sha3_384),
        );
    });
}

/// The `{sha256}` dialect byte for byte: CPython 3.12+ challenges with `{sha256}` and answers a
/// `{sha256}` challenge with `{sha256}` + a 32-byte HMAC (3.11 sends 20-byte legacy challenges
/// and answers with raw HMAC-MD5, so this needs 3.12 and 3.13 by name). The exchange is done
/// frame by frame here so the test sees the dialect each side used.
fn sha256_exchange(py: &Path, v: &str, python_listens: bool) {
    let key = AuthKey::random().unwrap();
    let what = format!("CPython {v} (python_listens={python_listens})");
    let (kid, mut c) = if python_listens {
        let want = rust_address(Kind::Unix, &format!("sha{v}l"));
        let kid = Kid::spawn(py, PY_LISTENER, &py_args(Kind::Unix, &want, &key));
        let addr: Address = kid.line().parse().unwrap();
        let c = Connection::connect(&addr, T).unwrap();
        (kid, c)
    } else {
        let l = Listener::bind(
            &rust_address(Kind::Unix, &format!("sha{v}c")),
            ListenerConfig::default(),
        )
        .unwrap();
        let addr = l.address().unwrap();
        let kid = Kid::spawn(py, PY_CLIENT, &py_args(Kind::Unix, &addr, &key));
        let c = l
            .accept_timeout(T)
            .unwrap()
            .expect("python connected in time");
        (kid, c)
    };
    c.set_read_timeout(Some(T)).unwrap();
    let ours = |c: &mut Connection| {
        // Our {sha256} challenge; Python must answer in the same dialect.
        let mut random = [0u8; 40];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(v.len() as u8);
        }
        let body = ChallengeForm::Modern(DigestName::Sha256).body(&random);
        let mut msg = auth::CHALLENGE.to_vec();
        msg.extend_from_slice(&body);
        c.send_bytes(&msg).unwrap();
        let reply = c.recv_bytes().unwrap();
        assert!(
            reply.starts_with(b"{sha256}") && reply.len() == 8 + 32,
            "{what}: answered our {{sha256}} challenge with {} bytes: {:?}",
            reply.len(),
            String::from_utf8_lossy(&reply[..reply.len().min(12)])
        );
        assert!(auth::verify_reply(key.as_bytes(), &body, &reply), "{what}");
        c.send_bytes(auth::WELCOME).unwrap();
    };
    let theirs = |c: &mut Connection| {
        // Python's challenge: {sha256} + 40 random bytes; our answer must be welcomed.
        let msg = c.recv_bytes().unwrap();
        let body = msg
            .strip_prefix(auth::CHALLENGE)
            .unwrap_or_else(|| panic!("{what}: not a challenge: {msg:?}"));
        assert!(
            body.starts_with(b"{sha256}") && body.len() == 8 + 40,
            "{what}: challenged with {} bytes: {:?}",
            body.len(),
            String::from_utf8_lossy(&body[..body.len().min(12)])
        );
        let answer = auth::answer_for(key.as_bytes(), body).unwrap();
        assert!(answer.starts_with(b"{sha256}"));
        c.send_bytes(&answer).unwrap();
        assert_eq!(c.recv_bytes().unwrap(), auth::WELCOME, "{what}");
    };
    if python_listens {
        // A Listener challenges first, then answers.
        theirs(&mut c);
        ours(&mut c);
        c.send_bytes(b"ping").unwrap();
        assert_eq!(c.recv_bytes().unwrap(), b"pong", "{what}");
    } else {
        ours(&mut c);
        theirs(&mut c);
        assert_eq!(c.recv_bytes().unwrap(), b"ping", "{what}");
        c.send_bytes(b"pong").unwrap();
    }
    let (st, err) = kid.wait();
    assert!(st.success(), "{what}: python failed: {err}");
}

#[test]
fn sha256_dialect_with_cpython_3_12_and_3_13() {
    for v in ["3.12", "3.13"] {
        let Some(py) = common::python(v) else {
            continue;
        };
        sha256_exchange(&py, v, true);
        sha256_exchange(&py, v, false);
    }
}
