//! A `log` backend for the command line: one line per record on stderr
//! (`mpshare: LEVEL message`), the level from `RUST_LOG` (default `info`).

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("mpshare: {} {}", r.level(), r.args());
        }
    }

    fn flush(&self) {}
}

/// The level `RUST_LOG` names (its last plain level word, so `RUST_LOG=mpshare=debug` works
/// too); `info` when unset or unreadable.
fn level_from_env() -> LevelFilter {
    let v = std::env::var("RUST_LOG").unwrap_or_default();
    v.rsplit(',')
        .filter_map(|d| d.rsplit('=').next())
        .find_map(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Info)
}

/// Installs the logger (once).
pub(crate) fn init() {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level_from_env());
    }
}
