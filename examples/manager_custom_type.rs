//! Serves a custom typeid, `Counter`, to stock CPython clients.
//!
//! Run: `MPSHARE_AUTHKEY=secret cargo run --example manager_custom_type -- 127.0.0.1:50000`
//! (the address defaults to `127.0.0.1:0`, which prints the chosen port; `--once` stops after
//! 5 seconds, for CI).
//!
//! Python client (stock CPython 3.11+, no extra packages):
//!
//! ```python
//! from multiprocessing.managers import BaseManager
//!
//! class CounterManager(BaseManager):
//!     pass
//!
//! CounterManager.register('Counter')          # AutoProxy: methods come from the server
//! m = CounterManager(address=('127.0.0.1', 50000), authkey=b'secret')
//! m.connect()
//! c = m.Counter(10)                            # Counter(start=10) on the server
//! print(c.increment(), c.increment(5), c.get())  # 11 16 16
//! print(c)                                     # Counter(16)
//! c.increment(-1)                              # raises ValueError
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mpshare::managers::auth::AuthKey;
use mpshare::managers::pickle::{PyDict, PyValue};
use mpshare::managers::sdk::{bind_args, int_arg, CallCtx, CallError, ServedObject, TypeSpec};
use mpshare::managers::server::Server;

/// A counter living in the server.
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
            "get" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(PyValue::Int(self.0.load(Ordering::SeqCst)))
            }
            _ => Err(CallError::no_method("Counter", method)),
        }
    }

    fn exposed(&self) -> Vec<String> {
        vec!["increment".into(), "get".into()]
    }

    fn repr(&self) -> String {
        format!("Counter({})", self.0.load(Ordering::SeqCst))
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        Ok(PyValue::Int(self.0.load(Ordering::SeqCst)))
    }
}

fn main() -> mpshare::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let key = std::env::var("MPSHARE_AUTHKEY").unwrap_or_else(|_| "secret".into());
    let server = Server::bind(&addr.parse()?, AuthKey::from(key.as_str()))?;
    server.register(TypeSpec::new("Counter", |_ctx, args, kwargs| {
        let b = bind_args("Counter", args, kwargs, &["start"], 0)?;
        let start = b[0].map(int_arg).transpose()?.unwrap_or(0);
        Ok(Arc::new(Counter(AtomicI64::new(start))))
    }));
    println!("serving Counter on {}", server.address());
    if once {
        let stop = server.shutdown_handle();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(5));
            stop.shutdown();
        });
    }
    server.serve_forever()
}
