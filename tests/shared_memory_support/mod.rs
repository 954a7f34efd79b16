//! A CPython peer process (tests/py/shared_memory_peer.py) driven line by line, with every
//! wait bounded, and helpers shared by the shared_memory / ShareableList interop tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use mpshare::shared_memory::Item;

/// How long one peer command may take.
pub const REPLY_WAIT: Duration = Duration::from_secs(30);

/// A running CPython peer.
pub struct Peer {
    pub version: String,
    /// The interpreter's pid (for SIGKILL tests).
    pub pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Peer {
    /// Start `python tests/py/shared_memory_peer.py`.
    pub fn start(version: &str, python: &Path) -> Peer {
        Peer::start_script(version, python, "tests/py/shared_memory_peer.py")
    }

    /// Start `python SCRIPT` (a path relative to the crate root) speaking the same protocol.
    pub fn start_script(version: &str, python: &Path, script: &str) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python peer");
        let stdout = child.stdout.take().expect("peer stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let stdin = child.stdin.take();
        let mut peer = Peer {
            version: version.to_string(),
            pid: child.id(),
            child,
            stdin,
            lines: rx,
        };
        let v = peer.ok("version");
        assert_eq!(v, version, "peer runs the wrong Python");
        peer
    }

    /// Send one command; `Ok(rest)` for "ok rest", `Err(rest)` for "err rest".
    pub fn cmd(&mut self, line: &str) -> Result<String, String> {
        let stdin = self.stdin.as_mut().expect("peer stdin");
        writeln!(stdin, "{line}").expect("write to peer");
        stdin.flush().expect("flush peer");
        let reply = self.lines.recv_timeout(REPLY_WAIT).unwrap_or_else(|e| {
            panic!(
                "python {}: no reply to {line:?} within {REPLY_WAIT:?}: {e}",
                self.version
            )
        });
        if let Some(rest) = reply.strip_prefix("ok") {
            Ok(rest.trim_start().to_string())
        } else if let Some(rest) = reply.strip_prefix("err ") {
            Err(rest.to_string())
        } else {
            panic!("python {}: bad reply {reply:?} to {line:?}", self.version)
        }
    }

    /// A command that must succeed.
    pub fn ok(&mut self, line: &str) -> String {
        let v = self.version.clone();
        self.cmd(line)
            .unwrap_or_else(|e| panic!("python {v}: {line:?} failed: {e}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = writeln!(s, "quit");
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unlinks every name it was given when dropped (errors ignored), so a failed assert leaks
/// nothing into /dev/shm.
#[derive(Default)]
pub struct Unlinker(Vec<String>);

impl Unlinker {
    pub fn add(&mut self, name: &str) -> String {
        self.0.push(name.to_string());
        name.to_string()
    }
}

impl Drop for Unlinker {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = mpshare::shm::unlink(n);
        }
    }
}

/// A unique name with "mpshare" in it, so CI's /dev/shm check sees any leak.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "mpshare-shmtest-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The peer's token for an item.
pub fn token(item: &Item) -> String {
    match item {
        Item::Int(v) => format!("i:{v}"),
        Item::Float(v) => format!("f:{:016x}", v.to_bits()),
        Item::Bool(b) => format!("t:{}", u8::from(*b)),
        Item::Str(s) => format!("s:{}", hex(s.as_bytes())),
        Item::Bytes(b) => format!("b:{}", hex(b)),
        Item::None => "n".to_string(),
    }
}

/// An item from the peer's token.
pub fn item(tok: &str) -> Item {
    if tok == "n" {
        return Item::None;
    }
    let (k, v) = tok.split_once(':').expect("token");
    match k {
        "i" => Item::Int(v.parse().expect("int")),
        "f" => Item::Float(f64::from_bits(
            u64::from_str_radix(v, 16).expect("float bits"),
        )),
        "t" => Item::Bool(v == "1"),
        "s" => Item::Str(String::from_utf8(unhex(v)).expect("utf8")),
        "b" => Item::Bytes(unhex(v)),
        _ => panic!("bad token {tok}"),
    }
}

pub fn tokens(items: &[Item]) -> String {
    items.iter().map(token).collect::<Vec<_>>().join(" ")
}

pub fn parse_items(line: &str) -> Vec<Item> {
    line.split_whitespace().map(item).collect()
}

/// Every CPython 3.11–3.13 present, each with a started peer.
pub fn peers() -> Vec<Peer> {
    super_common_pythons()
        .into_iter()
        .map(|(v, p)| Peer::start(&v, &p))
        .collect()
}

fn super_common_pythons() -> Vec<(String, PathBuf)> {
    crate::common::pythons()
}
