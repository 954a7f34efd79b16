//! Manager round trips side by side, in one run: a raw 64-byte socket ping-pong (the floor),
//! the Rust client against the mpshare server, CPython clients against the mpshare server,
//! CPython against CPython, the Rust client against a CPython server, and pipelined Rust calls.
//! Client and server are pinned to the same CPU, then to different CPUs (waking a process on
//! the other CPU costs ~25–30 µs on the 2-core VM this was written on).
//!
//! Run: `cargo run --release --example manager_roundtrips [-- --ops N]` (needs `python3` for the
//! CPython columns; they are skipped with a note if it is missing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use mpshare::managers::auth::AuthKey;
use mpshare::managers::client::Manager;
use mpshare::managers::pickle::PyValue;
use mpshare::managers::server::Server;

const KEY_HEX: &str = "6d7073686172652d62656e63682d6b6579";

/// Pin this thread to `cpu`. Failure (fewer CPUs) is ignored: the run is then unpinned, which
/// the table says.
fn pin(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

/// Run `start` (which starts a child process) with this thread pinned to `cpu`, then restore
/// the thread's affinity: the child inherits the affinity it was started with.
fn on_cpu<R>(cpu: usize, start: impl FnOnce() -> R) -> R {
    let saved = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok();
    pin(cpu);
    let r = start();
    if let Some(set) = saved {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
    r
}

/// Start a child that prints one line (its address) and keeps serving.
fn spawn_line(cmd: Command) -> Option<(Child, String)> {
    let mut cmd = cmd;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    Some((child, line.trim().to_string()))
}

fn self_role(role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.env("MPSHARE_BENCH_ROLE", role);
    c
}

fn role_main(role: &str) -> ! {
    let key = AuthKey::from_hex(KEY_HEX).expect("key");
    match role {
        "mpshare" => {
            let server = Server::bind(&"127.0.0.1:0".parse().expect("addr"), key).expect("bind");
            println!("{}", server.address());
            std::io::stdout().flush().ok();
            let h = server.shutdown_handle();
            std::thread::spawn(move || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                h.shutdown();
            });
            let _ = server.serve_forever();
        }
        "echo" => {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("{}", l.local_addr().expect("addr"));
            std::io::stdout().flush().ok();
            std::thread::spawn(|| {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                std::process::exit(0);
            });
            if let Ok((mut s, _)) = l.accept() {
                s.set_nodelay(true).ok();
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
            }
        }
        _ => {}
    }
    std::process::exit(0)
}

const PY_SERVER: &str = r#"
import sys, os, threading
from multiprocessing.managers import SyncManager
key = bytes.fromhex(sys.argv[1])
m = SyncManager(address=("127.0.0.1", 0), authkey=key)
s = m.get_server()
print("%s:%d" % s.address, flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
s.serve_forever()
"#;

const PY_CLIENT: &str = r#"
import sys, json, time
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(":", 1)
key = bytes.fromhex(sys.argv[2]); n = int(sys.argv[3])
m = SyncManager(address=(host, int(port)), authkey=key); m.connect()
d = m.dict(); l = m.Lock(); q = m.Queue()
d["k"] = 0; l.acquire(); l.release(); q.put(0); q.get()
out = {}
t = time.perf_counter()
for i in range(n): d["k"] = i
out["dict set"] = (time.perf_counter() - t) / n
t = time.perf_counter()
for i in range(n): d["k"]
out["dict get"] = (time.perf_counter() - t) / n
t = time.perf_counter()
for i in range(n): l.acquire(); l.release()
out["lock acquire+release"] = (time.perf_counter() - t) / n / 2
t = time.perf_counter()
for i in range(n): q.put(i); q.get()
out["queue put+get"] = (time.perf_counter() - t) / n / 2
print(json.dumps(out))
"#;

const OPS: [&str; 4] = [
    "dict set",
    "dict get",
    "lock acquire+release",
    "queue put+get",
];

/// Seconds per call for each op, from the Rust client.
fn rust_client(addr: &str, n: usize) -> mpshare::Result<Vec<f64>> {
    let m = Manager::connect(&addr.parse()?, AuthKey::from_hex(KEY_HEX)?)?;
    let d = m.dict()?;
    let l = m.lock()?;
    let q = m.queue(0)?;
    d.set("k", 0)?;
    let mut out = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        d.set("k", i as i64)?;
    }
    out.push(t.elapsed().as_secs_f64() / n as f64);
    let t = Instant::now();
    for _ in 0..n {
        let _: i64 = d.get_item("k")?;
    }
    out.push(t.elapsed().as_secs_f64() / n as f64);
    let t = Instant::now();
    for _ in 0..n {
        l.acquire()?;
        l.release()?;
    }
    out.push(t.elapsed().as_secs_f64() / n as f64 / 2.0);
    let t = Instant::now();
    for i in 0..n {
        q.put(i as i64)?;
        let _: i64 = q.get()?;
    }
    out.push(t.elapsed().as_secs_f64() / n as f64 / 2.0);
    Ok(out)
}

/// Seconds per call for each op, pipelined (all calls sent back to back, replies read in
/// order; see `Manager::pipeline`).
fn rust_pipelined(addr: &str, n: usize) -> mpshare::Result<Vec<f64>> {
    let m = Manager::connect(&addr.parse()?, AuthKey::from_hex(KEY_HEX)?)?;
    let d = m.dict()?;
    let l = m.lock()?;
    let q = m.queue(0)?;
    d.set("k", 0)?;
    let k = || PyValue::str("k");
    let mut out = Vec::new();
    let mut run = |calls: &mut dyn FnMut(&mut mpshare::managers::client::Pipeline), per_op: f64| {
        let t = Instant::now();
        let mut p = m.pipeline();
        calls(&mut p);
        let replies = p.finish()?;
        let dt = t.elapsed().as_secs_f64() / n as f64 / per_op;
        if let Some(Err(e)) = replies.into_iter().find(|r| r.is_err()) {
            return Err(e);
        }
        out.push(dt);
        Ok::<(), mpshare::Error>(())
    };
    run(
        &mut |p| {
            for i in 0..n {
                p.call(&d, "__setitem__", vec![k(), PyValue::Int(i as i64)], vec![]);
            }
        },
        1.0,
    )?;
    run(
        &mut |p| {
            for _ in 0..n {
                p.call(&d, "__getitem__", vec![k()], vec![]);
            }
        },
        1.0,
    )?;
    run(
        &mut |p| {
            for _ in 0..n {
                p.call(&l, "acquire", vec![], vec![]);
                p.call(&l, "release", vec![], vec![]);
            }
        },
        2.0,
    )?;
    run(
        &mut |p| {
            for i in 0..n {
                p.call(&q, "put", vec![PyValue::Int(i as i64)], vec![]);
                p.call(&q, "get", vec![], vec![]);
            }
        },
        2.0,
    )?;
    Ok(out)
}

fn py_client(python: &str, addr: &str, n: usize, cpu: usize) -> Option<Vec<f64>> {
    let mut c = Command::new(python);
    c.args(["-c", PY_CLIENT, addr, KEY_HEX, &n.to_string()]);
    let out = on_cpu(cpu, || c.output()).ok()?;
    if !out.status.success() {
        eprintln!(
            "python client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // Tiny JSON reader for {"name": float, ...}.
    OPS.iter()
        .map(|op| {
            let key = format!("\"{op}\": ");
            let i = text.find(&key)? + key.len();
            let rest = &text[i..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim().parse::<f64>().ok()
        })
        .collect()
}

fn ping_pong(addr: &str, n: usize) -> Option<f64> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_nodelay(true).ok()?;
    let mut buf = [7u8; 64];
    for _ in 0..100 {
        s.write_all(&buf).ok()?;
        s.read_exact(&mut buf).ok()?;
    }
    let t = Instant::now();
    for _ in 0..n {
        s.write_all(&buf).ok()?;
        s.read_exact(&mut buf).ok()?;
    }
    Some(t.elapsed().as_secs_f64() / n as f64)
}

fn us(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}", v * 1e6))
        .unwrap_or_else(|| "-".into())
}

fn main() -> mpshare::Result<()> {
    if let Ok(role) = std::env::var("MPSHARE_BENCH_ROLE") {
        role_main(&role);
    }
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--ops")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let python = ["python3"].into_iter().find(|p| {
        Command::new(p)
            .arg("-c")
            .arg("pass")
            .status()
            .is_ok_and(|s| s.success())
    });
    if python.is_none() {
        println!("note: python3 not found; CPython columns are skipped");
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let pinnings: Vec<(&str, usize, usize)> = if cpus >= 2 {
        vec![("same CPU", 0, 0), ("different CPUs", 1, 0)]
    } else {
        vec![("same CPU", 0, 0)]
    };
    println!(
        "{n} calls per cell ({} pipelined); µs per call, lower is better.\n\
         raw64B: 64-byte TCP ping-pong; mps = mpshare server; CPy = CPython; pipe: Rust client, \
         pipelined.\n'x Rust' = CPy→CPy / Rust→mps; 'x pipe' = CPy→CPy / pipe→mps.\n",
        n * 4
    );
    println!(
        "{:<15} {:<21} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "pinning",
        "op",
        "raw64B",
        "Rust→mps",
        "CPy→mps",
        "CPy→CPy",
        "Rust→CPy",
        "pipe→mps",
        "pipe→CPy",
        "x Rust",
        "x pipe"
    );
    for (label, server_cpu, client_cpu) in pinnings {
        let (mut mps, mps_addr) = on_cpu(server_cpu, || spawn_line(self_role("mpshare")))
            .ok_or_else(|| std::io::Error::other("mpshare server did not start"))?;
        let (mut echo, echo_addr) = on_cpu(server_cpu, || spawn_line(self_role("echo")))
            .ok_or_else(|| std::io::Error::other("echo server did not start"))?;
        let mut cpy = python.and_then(|p| {
            let mut c = Command::new(p);
            c.args(["-c", PY_SERVER, KEY_HEX]);
            on_cpu(server_cpu, || spawn_line(c))
        });
        pin(client_cpu);
        let raw = ping_pong(&echo_addr, n);
        let rust_mps = rust_client(&mps_addr, n).ok();
        let pipe_mps = rust_pipelined(&mps_addr, n * 4).ok();
        let py_mps = python.and_then(|p| py_client(p, &mps_addr, n, client_cpu));
        let (py_cpy, rust_cpy, pipe_cpy) = match &cpy {
            Some((_, a)) => (
                python.and_then(|p| py_client(p, a, n, client_cpu)),
                rust_client(a, n).ok(),
                rust_pipelined(a, n).ok(),
            ),
            None => (None, None, None),
        };
        for (i, op) in OPS.iter().enumerate() {
            let get = |v: &Option<Vec<f64>>| v.as_ref().and_then(|v| v.get(i).copied());
            let base = get(&py_cpy);
            let ratio = |x: Option<f64>| match (base, x) {
                (Some(b), Some(x)) if x > 0.0 => format!("{:.1}x", b / x),
                _ => "-".into(),
            };
            let pipe = get(&pipe_mps);
            println!(
                "{:<15} {:<21} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
                label,
                op,
                us(raw),
                us(get(&rust_mps)),
                us(get(&py_mps)),
                us(base),
                us(get(&rust_cpy)),
                us(pipe),
                us(get(&pipe_cpy)),
                ratio(get(&rust_mps)),
                ratio(pipe)
            );
        }
        for child in [
            Some(&mut mps),
            Some(&mut echo),
            cpy.as_mut().map(|(c, _)| c),
        ]
        .into_iter()
        .flatten()
        {
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(())
}
