//! `mpshare`: command-line tools.
//!
//! * `mpshare serve [--address ADDR] [--authkey-env VAR] [--max-connections N] [--quiet]
//!   [--object NAME=TYPEID]... [--config FILE]` runs a manager server that stock CPython clients
//!   can use: `SyncManager(address=('127.0.0.1', 50000), authkey=b'...').connect()`.
//! * `mpshare segments [--remove-stale [PREFIX]]` lists mpshare shared-memory segments (kind,
//!   type, length, size, creator pid, whether the creator runs) or removes the stale ones;
//!   `mpshare rm NAME` removes one.
//! * `mpshare inspect NAME` prints what a segment holds (mpshare header and data preview, a
//!   Python ShareableList's items, or a raw block's size).
//!
//! `serve` needs the cargo feature `manager` (on by default); the segment commands work without.
//! Log lines go to stderr, filtered by `RUST_LOG` (`error`, `warn`, `info` — the default —,
//! `debug`, `trace`, `off`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "manager")]
mod logger;
#[cfg(feature = "manager")]
mod serve;

/// Python multiprocessing-style shared state for Rust.
#[derive(Parser, Debug)]
#[command(
    name = "mpshare",
    version,
    about = "mpshare — Python multiprocessing-style shared state for Rust",
    after_help = "Example:\n    MPSHARE_AUTHKEY=secret mpshare serve --address 127.0.0.1:50000 --object get_queue=Queue\n\nLog lines go to stderr, filtered by RUST_LOG (error, warn, info [default], debug, trace, off)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a manager server speaking CPython's multiprocessing.managers protocol.
    ///
    /// Stock Python clients connect with
    /// `SyncManager(address=('127.0.0.1', 50000), authkey=b'<key>').connect()`. The bound address
    /// is printed on stdout as `serving on ADDR`; SIGINT/SIGTERM shut down cleanly. It also
    /// answers CPython's SharedMemoryManager (track_segment, release_segment, list_segments)
    /// and unlinks the blocks it tracks when it shuts down.
    Serve(Box<ServeArgs>),
    /// List mpshare shared-memory segments in /dev/shm: name, kind, type, length, size in bytes,
    /// creator pid and whether the creator still runs (pid and start time compared).
    Segments {
        /// Remove the segments (whose names start with PREFIX) whose creator is dead and that
        /// no running process maps, printing each one removed. A live segment is never removed.
        #[arg(long, value_name = "PREFIX", num_args = 0..=1, default_missing_value = "")]
        remove_stale: Option<String>,
    },
    /// Unlink the shared-memory segment NAME.
    Rm {
        /// The segment's name.
        name: String,
    },
    /// Print what the shared-memory segment NAME holds: an mpshare header (kind, typecode,
    /// shape, lock state) and its first elements, a Python ShareableList's items, or a raw
    /// block's size and first bytes. Writes nothing.
    Inspect {
        /// The segment's name.
        name: String,
    },
}

/// Options of `mpshare serve` (command-line options override the `--config` file).
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// 127.0.0.1:PORT (default 127.0.0.1:50000; port 0 picks a free port), /path/to.sock or
    /// unix:/path, @abstract-name. Listening beyond loopback happens only when you name such an
    /// address (e.g. 0.0.0.0:50000).
    #[arg(long, value_name = "ADDR")]
    pub(crate) address: Option<String>,
    /// Environment variable holding the authkey (default MPSHARE_AUTHKEY); required and
    /// non-empty; its bytes are the key.
    #[arg(long, value_name = "VAR")]
    pub(crate) authkey_env: Option<String>,
    /// Refuse connections beyond N (default 1024).
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<usize>,
    /// Do not log connection errors.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Serve one object of TYPEID (Queue, dict, list, set, RLock, Lock, Event, Namespace, ...)
    /// under typeid NAME: every client's m.NAME() returns a proxy of that same object, as
    /// CPython's register(NAME, callable=lambda: obj). Clients declare it with register(NAME).
    /// Repeatable.
    #[arg(long, value_name = "NAME=TYPEID")]
    pub(crate) object: Vec<String>,
    /// TOML file: address, authkey_env, max_connections, handshake_timeout_secs, max_frame,
    /// quiet, [objects] NAME = "TYPEID", [limits] max_depth/max_elements/max_bytes/
    /// max_total_bytes/max_memo.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where objects live: `memory` (default, in this process) or `redis://HOST:PORT/DB`
    /// (also rediss://, unix://; several comma-separated URLs or redis+cluster://HOST:PORT for
    /// a Redis Cluster). Front-ends on one store with one --key-prefix serve the same objects
    /// (needs the `redis-store` feature; rediss:// needs `redis-store-tls`).
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Key prefix in the Redis store (default mpshare).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) key_prefix: Option<String>,
    /// This front-end's name in the store (default: its listening address).
    #[arg(long, value_name = "ID")]
    pub(crate) frontend_id: Option<String>,
    /// Lease of locks held through this front-end, in ms (default 10000): if it dies, its
    /// clients' locks are released after the lease.
    #[arg(long, value_name = "MS")]
    pub(crate) lease_ms: Option<u64>,
    /// How long the references of a front-end that stopped answering are kept, in ms (default
    /// 60000); then objects only it referenced are deleted.
    #[arg(long, value_name = "MS")]
    pub(crate) orphan_grace_ms: Option<u64>,
    /// PEM file of the CA certificate(s) to trust for a rediss:// store, instead of the
    /// system's roots (a store whose certificate a private CA signed; needs the
    /// `redis-store-tls` feature).
    #[arg(long, value_name = "FILE")]
    pub(crate) store_ca: Option<PathBuf>,
    /// PEM file of the client certificate for mutual TLS with a rediss:// store (with
    /// --store-key).
    #[arg(long, value_name = "FILE")]
    pub(crate) store_cert: Option<PathBuf>,
    /// PEM file of the private key of --store-cert.
    #[arg(long, value_name = "FILE")]
    pub(crate) store_key: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "manager")]
        Command::Serve(args) => {
            logger::init();
            serve::serve(&args)
        }
        #[cfg(not(feature = "manager"))]
        Command::Serve(_) => {
            Err("serve: this mpshare was built without the `manager` feature".to_string())
        }
        Command::Segments { remove_stale: None } => mpshare::shm::segments()
            .map(|all| all.iter().for_each(|s| println!("{s}")))
            .map_err(|e| e.to_string()),
        Command::Segments {
            remove_stale: Some(prefix),
        } => mpshare::shm::remove_stale(|n| n.starts_with(prefix.as_str()))
            .map(|gone| gone.iter().for_each(|s| println!("removed {s}")))
            .map_err(|e| e.to_string()),
        Command::Rm { name } => mpshare::shm::unlink(&name).map_err(|e| e.to_string()),
        Command::Inspect { name } => mpshare::shared_memory::inspect(&name)
            .map(|report| println!("{report}"))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpshare: {e}");
            ExitCode::from(2)
        }
    }
}
