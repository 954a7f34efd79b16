//! `mpshare`: command-line tools.
//!
//! * `mpshare serve [--address ADDR] [--authkey-env VAR] [--max-connections N] [--quiet]` runs a
//!   manager server that stock CPython clients can use:
//!   `SyncManager(address=('127.0.0.1', 50000), authkey=b'...').connect()`.
//! * `mpshare segments` lists mpshare shared-memory segments; `mpshare rm NAME` removes one.

use std::io::Write;
use std::process::ExitCode;

use mpshare::manager::auth::AuthKey;
use mpshare::manager::connection::Address;
use mpshare::manager::server::{Server, ServerConfig};
use nix::sys::signal::{SigSet, Signal};

const HELP: &str = "\
mpshare — Python multiprocessing-style shared state for Rust

USAGE:
    mpshare serve [--address ADDR] [--authkey-env VAR] [--max-connections N] [--quiet]
    mpshare segments
    mpshare rm NAME
    mpshare --help

serve:
    Runs a manager server speaking CPython's multiprocessing.managers protocol. Stock Python
    clients connect with:
        from multiprocessing.managers import SyncManager
        m = SyncManager(address=('127.0.0.1', 50000), authkey=b'<key>'); m.connect()
    --address ADDR       127.0.0.1:PORT (default 127.0.0.1:50000; port 0 picks a free port),
                         /path/to.sock or unix:/path, @abstract-name. Listening beyond loopback
                         happens only when you name such an address (e.g. 0.0.0.0:50000).
    --authkey-env VAR    environment variable holding the authkey (default MPSHARE_AUTHKEY);
                         required and non-empty; its bytes are the key.
    --max-connections N  refuse connections beyond N (default 1024).
    --quiet              do not log connection errors to stderr.
    The bound address is printed on stdout as `serving on ADDR`. SIGINT/SIGTERM shut down
    cleanly.

segments:
    Lists mpshare shared-memory segments in /dev/shm.

rm NAME:
    Unlinks the shared-memory segment NAME.
";

fn serve(args: &[String]) -> Result<(), String> {
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("-h") | Some("--help") | Some("help") => {
            print!("{HELP}");
            Ok(())
        }
        Some("serve") => serve(&args[1..]),
        Some("segments") => mpshare::shm::list()
            .map(|names| names.iter().for_each(|n| println!("{n}")))
            .map_err(|e| e.to_string()),
        Some("rm") => match args.get(1) {
            Some(name) => mpshare::shm::unlink(name).map_err(|e| e.to_string()),
            None => Err("rm expects a segment NAME".to_string()),
        },
        Some(other) => Err(format!("unknown command {other:?} (see --help)")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpshare: {e}");
            ExitCode::from(2)
        }
    }
}
