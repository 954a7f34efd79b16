//! Reference costs of the connection layer: the full mutual authkey handshake, and a 64-byte
//! frame ping-pong round trip over a Unix socket and TCP loopback (the floor a manager request
//! is measured against).

use std::hint::black_box;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::managers::auth::{self, AuthKey};
use mpshare::managers::connection::{Address, Connection, Listener, ListenerConfig};

fn handshake(c: &mut Criterion) {
    let key = AuthKey::random().unwrap();
    // The server role lives in a long-running thread; each iteration hands it a fresh pair.
    let (tx, rx) = mpsc::channel::<Connection>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let k2 = key.clone();
    let server = thread::spawn(move || {
        for mut s in rx {
            auth::server_handshake(&mut s, &k2).unwrap();
            done_tx.send(()).unwrap();
        }
    });
    let mut g = c.benchmark_group("handshake");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    g.bench_function("mutual_sha256_unix_socketpair", |b| {
        b.iter(|| {
            let (s, mut cl) = Connection::pair().unwrap();
            tx.send(s).unwrap();
            auth::client_handshake(&mut cl, &key).unwrap();
            done_rx.recv().unwrap();
        })
    });
    g.finish();
    drop(tx);
    server.join().unwrap();
}

fn echo_pair(addr: &Address) -> (Connection, thread::JoinHandle<()>) {
    let l = Listener::bind(addr, ListenerConfig::default()).unwrap();
    let a = l.address().unwrap();
    let t = thread::spawn(move || {
        let mut s = l.accept().unwrap();
        while let Ok(m) = s.recv_bytes() {
            if s.send_bytes(&m).is_err() {
                break;
            }
        }
    });
    (Connection::connect(&a, Duration::from_secs(5)).unwrap(), t)
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("roundtrip_64B");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    let payload = [0x5au8; 64];
    let name = format!("mpshare-bench-{}", std::process::id()).into_bytes();
    let dir = std::env::temp_dir().join(format!("mpshare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (label, addr) in [
        ("unix", Address::Unix(dir.join("s"))),
        ("unix_abstract", Address::Abstract(name)),
        ("tcp_loopback", "127.0.0.1:0".parse().unwrap()),
    ] {
        let (mut conn, t) = echo_pair(&addr);
        g.bench_function(label, |b| {
            b.iter(|| {
                conn.send_bytes(&payload).unwrap();
                black_box(conn.recv_bytes().unwrap());
            })
        });
        drop(conn);
        t.join().unwrap();
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, handshake, ping_pong);
criterion_main!(benches);
