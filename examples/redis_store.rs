//! The Redis store side by side, in one run: the same Rust-client calls against an in-memory
//! `mpshare serve` and a Redis-backed one, with a bare Redis `PING` round trip (the floor the
//! store adds), then throughput with one and with two front-ends on one Redis.
//!
//! Run: `cargo run --release --features redis-store --example redis_store [-- --ops N]`. It
//! starts its own `redis-server` (from `PATH`, `/usr/bin` or `/usr/local/bin`) on a free
//! loopback port with a temporary directory, and stops it at the end.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mpshare::managers::auth::AuthKey;
use mpshare::managers::client::Manager;
use mpshare::managers::pickle::PyValue;
use mpshare::managers::server::{RedisStoreConfig, Server, ServerConfig, StoreConfig};
use mpshare::managers::Address;

const KEY: &str = "mpshare-redis-bench";

struct Redis {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_redis() -> Option<Redis> {
    let bin = [
        "redis-server",
        "/usr/bin/redis-server",
        "/usr/local/bin/redis-server",
    ]
    .into_iter()
    .find(|b| Command::new(b).arg("--version").output().is_ok())?;
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("mpshare-redis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis { child, dir, port };
    let url = r.url();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(c) = redis::Client::open(url.as_str()) {
            if let Ok(mut con) = c.get_connection() {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Some(r);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Redis {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

fn server(
    store: StoreConfig,
    id: &str,
) -> mpshare::Result<mpshare::managers::server::ServerHandle> {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse()?, AuthKey::from(KEY));
    if let StoreConfig::Redis(mut r) = store {
        r.frontend_id = Some(id.to_string());
        cfg.store = StoreConfig::Redis(r);
    }
    cfg.registry.share("counter", "dict")?;
    Server::bind_with(cfg)?.spawn()
}

/// Seconds per call: dict set, dict get, Value get, lock acquire+release, queue put+get.
fn calls(addr: &Address, n: usize) -> mpshare::Result<Vec<f64>> {
    let m = Manager::connect(addr, AuthKey::from(KEY))?;
    let d = m.dict()?;
    let v = m.value('i', 0)?;
    let l = m.lock()?;
    let q = m.queue(0)?;
    d.set("k", 0)?;
    let mut out = Vec::new();
    let mut time = |f: &mut dyn FnMut() -> mpshare::Result<()>, per: f64| {
        let t = Instant::now();
        for _ in 0..n {
            f()?;
        }
        out.push(t.elapsed().as_secs_f64() / n as f64 / per);
        Ok::<(), mpshare::Error>(())
    };
    time(&mut || d.set("k", 1), 1.0)?;
    time(&mut || d.get_item::<_, i64>("k").map(|_| ()), 1.0)?;
    time(&mut || v.get::<i64>().map(|_| ()), 1.0)?;
    time(&mut || l.acquire().and_then(|_| l.release()), 2.0)?;
    time(
        &mut || q.put(1).and_then(|_| q.get::<i64>().map(|_| ())),
        2.0,
    )?;
    Ok(out)
}

/// Seconds per call, `n` calls pipelined (sent back to back, replies read in order):
/// `d[k] = i`, then `v.value = i` (checked: the last value set is read back).
fn pipelined(addr: &Address, n: usize) -> mpshare::Result<(f64, f64)> {
    let m = Manager::connect(addr, AuthKey::from(KEY))?;
    let d = m.dict()?;
    let v = m.value('i', 0)?;
    let run = |target: &mpshare::managers::client::Proxy,
               method: &str,
               args: &dyn Fn(i64) -> Vec<PyValue>| {
        let t = Instant::now();
        let mut p = m.pipeline();
        for i in 0..n {
            p.call(target, method, args(i as i64), vec![]);
        }
        for r in p.finish()? {
            r?;
        }
        Ok::<f64, mpshare::Error>(t.elapsed().as_secs_f64() / n as f64)
    };
    let dict = run(&d, "__setitem__", &|i| {
        vec![PyValue::str("k"), PyValue::Int(i)]
    })?;
    let value = run(&v, "set", &|i| vec![PyValue::Int(i)])?;
    let last: i64 = v.get()?;
    assert_eq!(last, n as i64 - 1, "pipelined sets arrive in order");
    Ok((dict, value))
}

fn ping(url: &str, n: usize) -> Option<f64> {
    let mut con = redis::Client::open(url).ok()?.get_connection().ok()?;
    let t = Instant::now();
    for _ in 0..n {
        redis::cmd("PING").query::<String>(&mut con).ok()?;
    }
    Some(t.elapsed().as_secs_f64() / n as f64)
}

/// Calls per second from `clients` threads, each on its own connection to one of `addrs`
/// (round robin), each doing `d[k] = d.get(k)` on a dict of its own for `dur`.
fn throughput(addrs: &[Address], clients: usize, dur: Duration) -> mpshare::Result<f64> {
    let start = Instant::now() + Duration::from_millis(200);
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            std::thread::spawn(move || -> mpshare::Result<u64> {
                let m = Manager::connect(&addr, AuthKey::from(KEY))?;
                let d = m.dict()?;
                d.set("k", 0)?;
                while Instant::now() < start {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let mut done = 0u64;
                while start.elapsed() < dur {
                    d.set("k", done as i64)?;
                    let _: i64 = d.get_item("k")?;
                    done += 2;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().expect("client thread")?;
    }
    Ok(total as f64 / dur.as_secs_f64())
}

fn main() -> mpshare::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--ops")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let Some(redis) = start_redis() else {
        println!("skipped: redis-server not found or did not start");
        return Ok(());
    };
    let url = redis.url();
    let mem = server(StoreConfig::Memory, "memory")?;
    let a = server(StoreConfig::Redis(RedisStoreConfig::new(&url)), "A")?;
    let b = server(StoreConfig::Redis(RedisStoreConfig::new(&url)), "B")?;

    let ping_s = ping(&url, n).unwrap_or(f64::NAN);
    let mem_calls = calls(mem.address(), n)?;
    let redis_calls = calls(a.address(), n)?;
    println!("Call latency, Rust client, {n} calls each (µs per call; floor = in-memory + PING)");
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>14}",
        "call", "in-memory", "Redis", "PING", "Redis / floor"
    );
    let names = [
        "dict set",
        "dict get",
        "Value get",
        "lock acquire/release",
        "queue put/get",
    ];
    for (i, name) in names.iter().enumerate() {
        let floor = mem_calls[i] + ping_s;
        println!(
            "{:<24} {:>10.1} {:>10.1} {:>10.1} {:>13.2}x",
            name,
            mem_calls[i] * 1e6,
            redis_calls[i] * 1e6,
            ping_s * 1e6,
            redis_calls[i] / floor
        );
    }
    let (pm_d, pm_v) = pipelined(mem.address(), n)?;
    let (pr_d, pr_v) = pipelined(a.address(), n)?;
    for (name, m, r) in [
        ("dict set, pipelined", pm_d, pr_d),
        ("Value set, pipelined", pm_v, pr_v),
    ] {
        println!("{:<24} {:>10.2} {:>10.2}", name, m * 1e6, r * 1e6);
    }

    let dur = Duration::from_secs(2);
    println!();
    println!(
        "Throughput, dict set+get, {}s per row (calls/s)",
        dur.as_secs()
    );
    println!("{:<34} {:>12}", "setup", "calls/s");
    for clients in [1usize, 4] {
        let m = throughput(std::slice::from_ref(mem.address()), clients, dur)?;
        let one = throughput(std::slice::from_ref(a.address()), clients, dur)?;
        let two = throughput(&[a.address().clone(), b.address().clone()], clients, dur)?;
        println!(
            "{:<34} {:>12.0}",
            format!("{clients} client(s), in-memory"),
            m
        );
        println!(
            "{:<34} {:>12.0}",
            format!("{clients} client(s), 1 front-end + Redis"),
            one
        );
        println!(
            "{:<34} {:>12.0}",
            format!("{clients} client(s), 2 front-ends + Redis"),
            two
        );
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("({cpus} CPUs: clients, front-ends and Redis share them)");
    mem.shutdown();
    a.shutdown();
    b.shutdown();
    drop(redis);
    Ok(())
}
