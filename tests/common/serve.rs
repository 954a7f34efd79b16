//! The real `mpshare serve` binary on a free loopback port, killed when the handle drops.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `mpshare serve`; dropping it kills and reaps the server.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Serve {
    /// SIGKILLs the server and reaps it (no clean shutdown).
    pub fn kill(&mut self) {
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

/// Starts `mpshare serve --address ADDRESS ARGS` with the authkey `key` (`127.0.0.1:0` for a
/// free port, or a fixed `host:port`, e.g. to come back on the same port after a restart) and
/// returns it with its `host:port`. Its stderr (log lines) is drained on a thread; a server
/// that exits or prints no `serving on ADDR` within 20 s is killed and the error carries the
/// command line, its first stdout line and its stderr.
pub fn try_serve_at(key: &str, address: &str, args: &[&str]) -> Result<(Serve, String), String> {
    let cmdline = format!("mpshare serve --address {address} {}", args.join(" "));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpshare"))
        .args(["serve", "--address", address])
        .args(args)
        .env("MPSHARE_AUTHKEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{cmdline}: cannot start: {e}"))?;
    let log = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().expect("stderr");
    let sink = Arc::clone(&log);
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            // Keep the last 64 KiB: the lines a failure message needs.
            if s.len() > 128 * 1024 {
                let cut = s.len() - 64 * 1024;
                let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                s.drain(..cut);
            }
        }
    });
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    match line.trim().strip_prefix("serving on ") {
        Some(addr) => Ok((Serve(child), addr.to_string())),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            // The server is gone: its stderr reaches EOF shortly (bounded anyway).
            for _ in 0..100 {
                if drain.is_finished() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let stderr = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Err(format!(
                "{cmdline}: expected `serving on ADDR` within 20 s, found {line:?}\n--- stderr\n{stderr}"
            ))
        }
    }
}

/// [`try_serve_at`], panicking with its error.
pub fn serve_at(key: &str, address: &str, args: &[&str]) -> (Serve, String) {
    try_serve_at(key, address, args).unwrap_or_else(|e| panic!("{e}"))
}
