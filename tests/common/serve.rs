//! The real `mpshare serve` binary on a free loopback port, killed when the handle drops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `mpshare serve`; dropping it kills and reaps the server.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mpshare serve --address 127.0.0.1:0 ARGS` with the authkey `key`; returns it and
/// its `host:port` (read from its `serving on ADDR` line within 20 s).
pub fn serve(key: &str, args: &[&str]) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args(["serve", "--address", "127.0.0.1:0"])
        .args(args)
        .env("MPSHARE_AUTHKEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mpshare serve");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("mpshare serve prints its address within 20 s");
    let addr = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("expected `serving on ADDR`, found {line:?}"))
        .to_string();
    (Serve(child), addr)
}
