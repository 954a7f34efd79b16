//! `mpshare serve`: a manager server that stock CPython clients can use.

use std::io::Write;

use mpshare::managers::{Address, AuthKey, Server, ServerConfig};
use nix::sys::signal::{SigSet, Signal};

use crate::HELP;

pub(crate) fn serve(args: &[String]) -> Result<(), String> {
    let mut address = "127.0.0.1:50000".to_string();
    let mut env_var = "MPSHARE_AUTHKEY".to_string();
    let mut max_conn = 1024usize;
    let mut quiet = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} expects a value"))
        };
        match a.as_str() {
            "--address" => address = value("--address")?,
            "--authkey-env" => env_var = value("--authkey-env")?,
            "--max-connections" => {
                let v = value("--max-connections")?;
                max_conn = v
                    .parse()
                    .map_err(|_| format!("--max-connections: expected a number, found {v:?}"))?;
            }
            "--quiet" => quiet = true,
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            other => return Err(format!("serve: unknown argument {other:?} (see --help)")),
        }
    }
    let key = match std::env::var_os(&env_var) {
        Some(v) if !v.is_empty() => {
            use std::os::unix::ffi::OsStrExt;
            AuthKey::new(v.as_bytes().to_vec())
        }
        _ => {
            return Err(format!(
                "the authkey is required: set the environment variable {env_var} (or name another with --authkey-env)"
            ))
        }
    };
    let address: Address = address.parse().map_err(|e| format!("--address: {e}"))?;
    // Block the shutdown signals before any thread starts; a dedicated thread waits for them.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let mut cfg = ServerConfig::new(address, key);
    cfg.max_connections = max_conn;
    cfg.log_errors = !quiet;
    let server = Server::bind_with(cfg).map_err(|e| format!("cannot listen: {e}"))?;
    if let Address::Tcp(sa) = server.address() {
        if !sa.ip().is_loopback() {
            eprintln!(
                "mpshare: warning: listening on {sa}, reachable beyond this machine; anyone with the authkey can use the server"
            );
        }
    }
    println!("serving on {}", server.address());
    let _ = std::io::stdout().flush();
    let stop = server.shutdown_handle();
    std::thread::spawn(move || {
        if let Ok(sig) = signals.wait() {
            eprintln!("mpshare: {sig:?} received, shutting down");
        }
        stop.shutdown();
    });
    server.serve_forever().map_err(|e| e.to_string())?;
    eprintln!("mpshare: server stopped");
    Ok(())
}
