//! `mpshare serve`: a manager server that stock CPython clients can use.

use std::io::Write;

use mpshare::managers::server::ServerFile;
use mpshare::managers::{Address, AuthKey, Server, ServerConfig};
use nix::sys::signal::{SigSet, Signal};

use crate::ServeArgs;

pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    let address = args.address.clone();
    let env_var = args.authkey_env.clone();
    let max_conn = args.max_connections;
    let quiet = args.quiet;
    let mut objects: Vec<(String, String)> = Vec::new();
    for v in &args.object {
        let (name, typeid) = v.split_once('=').ok_or_else(|| {
            format!("--object: expected NAME=TYPEID (e.g. get_queue=Queue), found {v:?}")
        })?;
        objects.push((name.trim().to_string(), typeid.trim().to_string()));
    }
    let config = args.config.clone();
    let file = match &config {
        Some(path) => ServerFile::load(path).map_err(|e| e.to_string())?,
        None => ServerFile::default(),
    };
    let address = address
        .or_else(|| file.address.clone())
        .unwrap_or_else(|| "127.0.0.1:50000".to_string());
    let env_var = env_var
        .or_else(|| file.authkey_env.clone())
        .unwrap_or_else(|| "MPSHARE_AUTHKEY".to_string());
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
    cfg.log_errors = true;
    file.apply(&mut cfg).map_err(|e| e.to_string())?;
    if let Some(n) = max_conn {
        cfg.max_connections = n;
    }
    if quiet {
        cfg.log_errors = false;
    }
    store_config(args, &mut cfg)?;
    // --object after the file's [objects]: the command line wins for a name in both.
    for (name, typeid) in &objects {
        cfg.registry
            .share(name, typeid)
            .map_err(|e| format!("--object: {e}"))?;
    }
    let server = Server::bind_with(cfg).map_err(|e| match e {
        mpshare::Error::Store { .. } => format!("cannot use the store: {e}"),
        e => format!("cannot listen: {e}"),
    })?;
    if let Address::Tcp(sa) = server.address() {
        if !sa.ip().is_loopback() {
            log::warn!(
                "listening on {sa}, reachable beyond this machine; anyone with the authkey can use the server"
            );
        }
    }
    let mut shared: Vec<&String> = file
        .objects
        .keys()
        .chain(objects.iter().map(|(n, _)| n))
        .collect();
    shared.sort();
    shared.dedup();
    if !shared.is_empty() && !quiet {
        eprintln!(
            "mpshare: shared objects: {}",
            shared
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("serving on {}", server.address());
    log::info!(
        "serving on {} (mpshare {})",
        server.address(),
        env!("CARGO_PKG_VERSION")
    );
    let _ = std::io::stdout().flush();
    let stop = server.shutdown_handle();
    std::thread::spawn(move || {
        if let Ok(sig) = signals.wait() {
            log::info!("{sig:?} received, shutting down");
        }
        stop.shutdown();
    });
    server.serve_forever().map_err(|e| e.to_string())?;
    log::info!("server stopped");
    Ok(())
}

/// `--store` and the Redis options (over the `[store]` table of `--config`).
#[cfg_attr(not(feature = "redis-store"), allow(unused_variables))]
fn store_config(args: &ServeArgs, cfg: &mut ServerConfig) -> Result<(), String> {
    use mpshare::managers::server::StoreConfig;
    let redis_opts = args.key_prefix.is_some()
        || args.frontend_id.is_some()
        || args.lease_ms.is_some()
        || args.orphan_grace_ms.is_some()
        || args.store_ca.is_some()
        || args.store_cert.is_some()
        || args.store_key.is_some();
    for (what, v) in [
        ("--lease-ms", args.lease_ms),
        ("--orphan-grace-ms", args.orphan_grace_ms),
    ] {
        if v == Some(0) {
            return Err(format!(
                "{what}: expected a positive number of milliseconds, found 0"
            ));
        }
    }
    match args.store.as_deref() {
        Some("memory") => cfg.store = StoreConfig::Memory,
        #[cfg(feature = "redis-store")]
        Some(url) => {
            cfg.store = StoreConfig::Redis(mpshare::managers::server::RedisStoreConfig::new(url))
        }
        #[cfg(not(feature = "redis-store"))]
        Some(url) => {
            return Err(format!(
                "--store {url}: this mpshare was built without the `redis-store` feature (expected `memory`)"
            ))
        }
        None => {}
    }
    match &mut cfg.store {
        #[cfg(feature = "redis-store")]
        StoreConfig::Redis(r) => {
            if let Some(p) = &args.key_prefix {
                r.prefix = p.clone();
            }
            if args.frontend_id.is_some() {
                r.frontend_id = args.frontend_id.clone();
            }
            if let Some(ms) = args.lease_ms {
                r.lease = std::time::Duration::from_millis(ms);
            }
            if let Some(ms) = args.orphan_grace_ms {
                r.orphan_grace = std::time::Duration::from_millis(ms);
            }
            for (opt, field) in [
                (&args.store_ca, &mut r.ca),
                (&args.store_cert, &mut r.cert),
                (&args.store_key, &mut r.key),
            ] {
                if opt.is_some() {
                    field.clone_from(opt);
                }
            }
            Ok(())
        }
        _ if redis_opts => Err(
            "--key-prefix, --frontend-id, --lease-ms, --orphan-grace-ms, --store-ca, --store-cert and --store-key need --store redis://..."
                .to_string(),
        ),
        _ => Ok(()),
    }
}
