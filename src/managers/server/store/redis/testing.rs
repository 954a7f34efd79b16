//! For the store's unit tests: a throw-away `redis-server` on a free loopback port (killed and
//! its directory removed on drop), backends on it as front-ends would have, and objects made
//! the way `create` makes them.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backend::{Backend, BackendRef};
use super::objects;
use super::refs;
use super::types::RedisObject;
use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::CallCtx;

/// A running `redis-server`, killed on drop.
pub(crate) struct TestRedis {
    child: Child,
    dir: std::path::PathBuf,
    /// `redis://127.0.0.1:PORT/0`.
    pub(crate) url: String,
    /// A backend on it (front-end `test`, lease 10 s).
    pub(crate) backend: BackendRef,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a `redis-server`; `None` (after saying why) when there is none.
pub(crate) fn redis() -> Option<TestRedis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir =
        std::env::temp_dir().join(format!("mpshare-redis-unit-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let child = match Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: cannot start redis-server: {e}");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    let url = format!("redis://127.0.0.1:{port}/0");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Backend::connect(
            std::slice::from_ref(&url),
            "t",
            "test",
            Duration::from_secs(10),
            Duration::from_secs(60),
        ) {
            Ok(b) => {
                return Some(TestRedis {
                    child,
                    dir,
                    url,
                    backend: Arc::new(b),
                })
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("redis-server on port {port} never answered: {e}"),
        }
    }
}

/// Another backend on `url`: front-end `fe` with `lease`.
pub(crate) fn backend(url: &str, fe: &str, lease: Duration) -> BackendRef {
    Arc::new(
        Backend::connect(&[url.to_string()], "t", fe, lease, Duration::from_secs(60))
            .expect("connect"),
    )
}

/// A new object of `typeid` made with `create(*args)`.
pub(crate) fn make(
    b: &BackendRef,
    typeid: &str,
    args: &[PyValue],
) -> (String, Arc<dyn RedisObject>) {
    let t = objects::lookup(typeid).expect("typeid kept in Redis");
    let inits = (t.init)(args, &PyDict::new()).expect("init");
    let ident = refs::new_ident(b).expect("ident");
    refs::create(b, t, &ident, &inits, false).expect("create");
    let obj = (t.open)(b.clone(), ident.clone());
    (ident, obj)
}

/// `o.m(*args)` from a detached caller; panics on an error.
pub(crate) fn call(o: &Arc<dyn RedisObject>, m: &str, args: &[PyValue]) -> PyValue {
    o.call(&CallCtx::detached(1), m, args, &PyDict::new())
        .unwrap_or_else(|e| panic!("{m}: {e}"))
}
