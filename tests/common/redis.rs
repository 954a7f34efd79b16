//! Throwaway `redis-server` (or `valkey-server`) processes for the Redis-store tests: one
//! server on a free loopback port with its own temporary directory, or a three-node Redis
//! Cluster. Every wait is bounded; dropping a handle (also while a panic unwinds) kills and
//! reaps the servers and removes their directories, and a process-exit hook SIGKILLs any server
//! still registered (a test whose thread was abandoned by `within`).
//!
//! Keep the handles on the test's own thread and pass [`RedisServer::url`] /
//! [`RedisCluster::urls`] (strings) into closures.
//!
//! No server binary: [`RedisServer::start`] prints `skipped: redis-server not found (looked at
//! …)` and returns `None`, unless `MPSHARE_REQUIRE_REDIS=1` (set by `.ci/run`) makes that a
//! panic. A cluster that cannot be formed is always a printed skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `MPSHARE_REQUIRE_REDIS=1`: a missing `redis-server` fails the test instead of skipping it.
pub const REQUIRE_ENV: &str = "MPSHARE_REQUIRE_REDIS";

/// How long a server may take to answer PING after it was started.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// True if `MPSHARE_REQUIRE_REDIS` is set to something other than empty or `0`.
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The directories searched for the server and `redis-cli`: PATH, then /usr/bin and
/// /usr/local/bin.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/bin", "/usr/local/bin"] {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first of `names` found in [`search_dirs`], or the list of places looked at.
fn find_binary(names: &[&str]) -> Result<PathBuf, String> {
    let dirs = search_dirs();
    for name in names {
        for d in &dirs {
            let p = d.join(name);
            if is_executable(&p) {
                return Ok(p);
            }
        }
    }
    Err(format!(
        "{} in {}",
        names.join(" or "),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    ))
}

/// `redis-server` or `valkey-server`: the path, or panics/prints the skip line and gives `None`.
fn server_binary() -> Option<PathBuf> {
    match find_binary(&["redis-server", "valkey-server"]) {
        Ok(p) => Some(p),
        Err(looked) => {
            let msg = format!("skipped: redis-server not found (looked at {looked})");
            if required() {
                panic!("{msg}; {REQUIRE_ENV}=1 requires it (apt-get install redis-server)");
            }
            eprintln!("{msg}");
            None
        }
    }
}

/// The matching command-line client: `valkey-cli` next to a valkey server, else `redis-cli`.
fn cli_binary(server: &Path) -> Result<PathBuf, String> {
    let sibling = |name: &str| {
        server
            .parent()
            .map(|d| d.join(name))
            .filter(|p| is_executable(p))
    };
    let valkey = server
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("valkey"));
    let names: &[&str] = if valkey {
        &["valkey-cli", "redis-cli"]
    } else {
        &["redis-cli", "valkey-cli"]
    };
    names
        .iter()
        .find_map(|n| sibling(n))
        .map(Ok)
        .unwrap_or_else(|| find_binary(names))
}

// ---------------------------------------------------------------------------------------------
// Servers still running, SIGKILLed when the test binary exits (a handle that never dropped).

static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

extern "C" fn kill_live_servers() {
    // try_lock: never block process exit on a thread that was abandoned holding the lock.
    if let Ok(pids) = LIVE.try_lock() {
        for &pid in pids.iter() {
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

fn register(pid: u32) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| unsafe {
        libc::atexit(kill_live_servers);
    });
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

fn unregister(pid: u32) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
}

// ---------------------------------------------------------------------------------------------
// A tiny RESP client over a std TcpStream.

/// One RESP reply, flattened to text: `+OK` → `OK`, `:3` → `3`, a bulk string → its bytes
/// (lossy UTF-8), nil → empty, an array → its elements one per line, an error → `Err("-…")`.
fn read_reply(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    if line.is_empty() {
        return Err("connection closed".into());
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" | ":" => Ok(rest.to_string()),
        "-" => Err(line.to_string()),
        "$" => {
            let n: i64 = rest
                .parse()
                .map_err(|_| format!("bad bulk length {line:?}"))?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
            buf.truncate(n as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        "*" => {
            let n: i64 = rest
                .parse()
                .map_err(|_| format!("bad array length {line:?}"))?;
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                items.push(read_reply(r).unwrap_or_else(|e| e));
            }
            Ok(items.join("\n"))
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}

/// Sends one command to `addr` and returns its reply (bounded: 2 s to connect, 5 s per read).
pub fn command(addr: &str, args: &[&str]) -> Result<String, String> {
    let sa: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let s = TcpStream::connect_timeout(&sa, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    (&s).write_all(req.as_bytes())
        .map_err(|e| format!("write {addr}: {e}"))?;
    read_reply(&mut BufReader::new(&s))
}

/// True if the server at `addr` answers PING with `+PONG`.
pub fn ping(addr: &str) -> bool {
    command(addr, &["PING"]).is_ok_and(|r| r == "PONG")
}

// ---------------------------------------------------------------------------------------------
// Ports and directories.

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A free port P with P + 10000 free as well (a cluster node's bus port).
fn free_cluster_port() -> u16 {
    let seed = std::process::id()
        .wrapping_mul(2654435761)
        .wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed).wrapping_mul(7919));
    for i in 0..2000u32 {
        let p = 20000 + (seed.wrapping_add(i.wrapping_mul(977)) % 25000) as u16;
        let a = TcpListener::bind(("127.0.0.1", p));
        let b = TcpListener::bind(("127.0.0.1", p + 10000));
        if a.is_ok() && b.is_ok() {
            return p;
        }
    }
    panic!("no free port pair P, P+10000 on 127.0.0.1");
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A new, empty directory under the system temp dir, unique to this process and call.
fn unique_dir(tag: &str) -> PathBuf {
    let base = std::env::temp_dir();
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let d = base.join(format!(
            "mpshare-{tag}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&d) {
            Ok(()) => return d,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", d.display()),
        }
    }
}

/// The last `n` lines of `path` (for failure messages).
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------

/// One `redis-server` on 127.0.0.1 with its own directory; killed, reaped and the directory
/// removed on drop.
pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port: `--save ''` always; with `persist`, an append-only file
    /// fsynced on every write (`--appendonly yes --appendfsync always`), so a SIGKILLed server
    /// restarted by [`restart`](Self::restart) comes back with every acknowledged write. Waits
    /// (at most 10 s) until it answers PING. `None` (printed) when there is no server binary.
    pub fn start(persist: bool) -> Option<RedisServer> {
        let extra: &[&str] = if persist {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        Self::start_with(extra, free_port)
    }

    /// Starts a server with extra arguments, on a port from `port` (retried a few times if the
    /// port was taken meanwhile).
    fn start_with(extra: &[&str], port: fn() -> u16) -> Option<RedisServer> {
        let bin = server_binary()?;
        let mut last = String::new();
        for _ in 0..3 {
            let mut s = RedisServer {
                bin: bin.clone(),
                port: port(),
                dir: unique_dir("redis"),
                extra: extra.iter().map(|s| s.to_string()).collect(),
                child: None,
            };
            match s.launch() {
                Ok(()) => return Some(s),
                Err(e) => last = e, // s drops: killed, dir removed
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// Spawns the server on `self.port` in `self.dir` and waits for PING.
    fn launch(&mut self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let port = self.port.to_string();
        let child = Command::new(&self.bin)
            .args(["--port", &port, "--bind", "127.0.0.1", "--dir"])
            .arg(&self.dir)
            .args(["--daemonize", "no", "--save", "", "--protected-mode", "no"])
            .args(&self.extra)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        register(child.id());
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if ping(&self.addr()) {
                return Ok(());
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.reap();
                return Err(format!(
                    "{} on port {} exited ({st}):\n{}",
                    self.bin.display(),
                    self.port,
                    tail(&log, 20)
                ));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "{} on port {} did not answer PING within {START_LIMIT:?}:\n{}",
                    self.bin.display(),
                    self.port,
                    tail(&log, 20)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            unregister(c.id());
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Its working directory (data files, `redis.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends one command and returns the reply (see [`command`]).
    pub fn command(&self, args: &[&str]) -> Result<String, String> {
        command(&self.addr(), args)
    }

    /// True if it answers PING.
    pub fn ping(&self) -> bool {
        ping(&self.addr())
    }

    /// SIGKILLs the server and reaps it (no shutdown, no final save).
    pub fn kill(&mut self) {
        self.reap();
    }

    /// Starts the server again on the same port and directory (after [`kill`](Self::kill); kills
    /// it first if it still runs) and waits for PING; panics with its log if it does not come
    /// back within 10 s (for example when another process took the port meanwhile).
    pub fn restart(&mut self) {
        self.reap();
        // The old socket may linger briefly; retry until the bounded wait inside launch passes.
        let deadline = Instant::now() + START_LIMIT;
        loop {
            match self.launch() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Its log so far (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.dir.join("redis.log"), lines)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.reap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of `n` primaries (no replicas) on loopback, formed with
/// `redis-cli --cluster create`; every node killed and its directory removed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `n` cluster-enabled servers (`--cluster-node-timeout 2000`), assigns the slots
    /// with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` and waits (at most
    /// 30 s) until every node reports `cluster_state:ok`. `None`, with the reason printed, if
    /// there is no server binary or the cluster cannot be formed.
    pub fn start(n: usize) -> Option<RedisCluster> {
        match Self::try_start(n) {
            Ok(c) => Some(c),
            Err(why) => {
                eprintln!("skipped: the Redis Cluster could not be formed: {why}");
                None
            }
        }
    }

    fn try_start(n: usize) -> Result<RedisCluster, String> {
        let bin = find_binary(&["redis-server", "valkey-server"])
            .map_err(|looked| format!("redis-server not found (looked at {looked})"))?;
        let cli = cli_binary(&bin).map_err(|looked| format!("redis-cli not found ({looked})"))?;
        let mut nodes = Vec::new();
        for _ in 0..n {
            let node = std::panic::catch_unwind(|| {
                RedisServer::start_with(
                    &[
                        "--appendonly",
                        "no",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                    ],
                    free_cluster_port,
                )
            })
            .map_err(|p| panic_text(&p))?
            .ok_or("redis-server not found")?;
            nodes.push(node);
        }
        let cluster = RedisCluster { nodes };
        let mut create = Command::new(&cli);
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(node.addr());
        }
        create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = create
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", cli.display()))?;
        let (status, out, err) = run_bounded(child, Duration::from_secs(30))?;
        if !status {
            return Err(format!(
                "{} --cluster create failed\n{out}\n{err}",
                cli.display()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let states: Vec<String> = cluster
                .nodes
                .iter()
                .map(|s| {
                    s.command(&["CLUSTER", "INFO"])
                        .unwrap_or_else(|e| e)
                        .lines()
                        .find(|l| l.starts_with("cluster_state:"))
                        .unwrap_or("cluster_state:?")
                        .trim()
                        .to_string()
                })
                .collect();
            if states.iter().all(|s| s == "cluster_state:ok") {
                return Ok(cluster);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not every node reports cluster_state:ok: {states:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis://127.0.0.1:P1,redis://127.0.0.1:P2,…` (the `--store` value for a cluster).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes, mutably (to kill or restart one).
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Waits for `child` (piped stdout/stderr) at most `limit`; kills it past that.
fn run_bounded(mut child: Child, limit: Duration) -> Result<(bool, String, String), String> {
    let mut o = child.stdout.take();
    let mut e = child.stderr.take();
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = o.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = e.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {limit:?}"));
            }
        }
    };
    Ok((
        status.success(),
        to.join().unwrap_or_default(),
        te.join().unwrap_or_default(),
    ))
}
