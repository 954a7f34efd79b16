//! `mpshare`: command-line tools.
//!
//! * `mpshare serve [--address ADDR] [--authkey-env VAR] [--max-connections N] [--quiet]` runs a
//!   manager server that stock CPython clients can use:
//!   `SyncManager(address=('127.0.0.1', 50000), authkey=b'...').connect()`.
//! * `mpshare segments` lists mpshare shared-memory segments; `mpshare rm NAME` removes one.
//!
//! `serve` needs the cargo feature `manager` (on by default); the segment commands work without.

use std::process::ExitCode;

#[cfg(feature = "manager")]
mod serve;

const HELP: &str = "\
mpshare — Python multiprocessing-style shared state for Rust

USAGE:
    mpshare serve [--address ADDR] [--authkey-env VAR] [--max-connections N] [--quiet]
                  [--object NAME=TYPEID]... [--config FILE]
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
    --object NAME=TYPEID serve one object of TYPEID (Queue, dict, list, RLock, Lock, Event,
                         Namespace, ...) under typeid NAME: every client's m.NAME() returns a
                         proxy of that same object, as CPython's
                         register(NAME, callable=lambda: obj). Clients declare it with
                         register(NAME) on their BaseManager subclass. Repeatable.
    --config FILE        TOML file: address, authkey_env, max_connections,
                         handshake_timeout_secs, max_frame, quiet, [objects] NAME = \"TYPEID\",
                         [limits] max_depth/max_elements/max_bytes/max_total_bytes/max_memo.
                         Command-line options override the file.
    The bound address is printed on stdout as `serving on ADDR`. SIGINT/SIGTERM shut down
    cleanly.

segments:
    Lists mpshare shared-memory segments in /dev/shm.

rm NAME:
    Unlinks the shared-memory segment NAME.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("-h") | Some("--help") | Some("help") => {
            print!("{HELP}");
            Ok(())
        }
        #[cfg(feature = "manager")]
        Some("serve") => serve::serve(&args[1..]),
        #[cfg(not(feature = "manager"))]
        Some("serve") => Err("serve: this mpshare was built without the `manager` feature".into()),
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
