//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod fork;
#[cfg(feature = "manager")]
pub mod values;

use std::path::PathBuf;
use std::process::Command;

/// Finds a CPython interpreter for `version` ("3.11", "3.12", "3.13"): `pythonX.Y` on PATH if it
/// runs, else `python3` if it is that version, else a pyenv install under `~/.pyenv/versions`.
pub fn find_python(version: &str) -> Option<PathBuf> {
    let runs = |p: &PathBuf| -> bool {
        Command::new(p)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == version)
            .unwrap_or(false)
    };
    let mut candidates: Vec<PathBuf> = vec![
        PathBuf::from(format!("python{version}")),
        PathBuf::from("python3"),
    ];
    let home = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = home {
        if let Ok(rd) = std::fs::read_dir(root.join("versions")) {
            let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            dirs.sort();
            for d in dirs {
                let name = d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name == version || name.starts_with(&format!("{version}.")) {
                    candidates.push(d.join("bin").join(format!("python{version}")));
                }
            }
        }
    }
    candidates.into_iter().find(runs)
}

/// Every CPython of 3.11, 3.12 and 3.13 that is present, with its version; prints a line for each
/// version that is missing, so a skipped interop check says why.
pub fn pythons() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for v in ["3.11", "3.12", "3.13"] {
        match find_python(v) {
            Some(p) => out.push((v.to_string(), p)),
            None => eprintln!(
                "skipping CPython {v}: no python{v} found on PATH or under ~/.pyenv/versions"
            ),
        }
    }
    out
}
