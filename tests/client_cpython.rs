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
        let cfg = ClientConfig {
            // Tests never block forever: a lost reply fails the test instead of hanging it.
            call_timeout: Some(Duration::from_secs(30)),
            ..ClientConfig::default()
        };
        Manager::connect_with(&self.address, AuthKey::from(KEY), cfg).expect("connect")
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

/// Runs `f` against a fresh server of every present CPython version.
fn each_server(f: impl Fn(&Server, &Manager)) {
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipping: no CPython 3.11/3.12/3.13 found");
        return;
    }
    for (version, path) in pythons {
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
