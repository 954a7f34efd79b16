//! Rust manager client against a stock CPython `SyncManager` server (started here with
//! `python3 tests/py/cpython_server.py`): proxy-call round trips (dict `__setitem__` /
//! `__getitem__`, Lock acquire+release, Queue put+get), pipelined dict sets, and the one-shot
//! `create` + `decref` pair. Skipped with a message when `python3` is missing.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mpshare::managers::auth::AuthKey;
use mpshare::managers::client::Manager;
use mpshare::managers::pickle::PyValue;

const KEY: &str = "bench-key";

fn start_server(unix: Option<&str>) -> Option<(Child, Manager)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/cpython_server.py");
    let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
    let mut args = vec![script.to_string(), hex, "600".to_string()];
    args.extend(unix.map(str::to_string));
    let mut child = match Command::new("python3")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipping manager_client bench: cannot run python3: {e}");
            return None;
        }
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let addr = match unix {
        Some(path) => format!("unix:{path}").parse().ok()?,
        None => {
            let port: u16 = line
                .split("\"address\": [\"127.0.0.1\", ")
                .nth(1)?
                .split(']')
                .next()?
                .trim()
                .parse()
                .ok()?;
            format!("127.0.0.1:{port}").parse().ok()?
        }
    };
    let m = Manager::connect(&addr, AuthKey::from(KEY)).ok()?;
    Some((child, m))
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mpshare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("mgr.sock");
    bench_on(c, "manager_client_cpython_tcp", None);
    bench_on(c, "manager_client_cpython_unix", sock.to_str());
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_on(c: &mut Criterion, group: &str, unix: Option<&str>) {
    let Some((mut child, m)) = start_server(unix) else {
        return;
    };
    let mut g = c.benchmark_group(group);
    g.sample_size(20).measurement_time(Duration::from_secs(3));

    let d = m.dict().unwrap();
    d.set("k", 1).unwrap();
    g.bench_function("dict_setitem", |b| {
        b.iter(|| d.set(black_box("k"), black_box(42i64)).unwrap())
    });
    g.bench_function("dict_getitem", |b| {
        b.iter(|| black_box(d.get_item::<_, i64>(black_box("k")).unwrap()))
    });

    let l = m.lock().unwrap();
    g.bench_function("lock_acquire_release", |b| {
        b.iter(|| {
            l.acquire().unwrap();
            l.release().unwrap();
        })
    });

    let q = m.queue(0).unwrap();
    g.bench_function("queue_put_get", |b| {
        b.iter(|| {
            q.put(black_box(7i64)).unwrap();
            black_box(q.get::<i64>().unwrap());
        })
    });

    const N: u64 = 1000;
    g.throughput(Throughput::Elements(N));
    g.bench_function("pipelined_dict_set_x1000", |b| {
        b.iter(|| {
            let mut p = m.pipeline();
            for i in 0..N as i64 {
                p.call(
                    &d,
                    "__setitem__",
                    vec![PyValue::Int(i), PyValue::Int(i)],
                    vec![],
                );
            }
            black_box(p.finish().unwrap());
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("create_and_drop_dict_oneshot", |b| {
        b.iter(|| drop(black_box(m.dict().unwrap())))
    });
    g.finish();

    drop((d, l, q));
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

criterion_group!(benches, bench);
criterion_main!(benches);
