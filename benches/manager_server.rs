//! Costs of our manager server seen by a raw Rust client: one proxy call on an open connection
//! (TCP loopback and Unix socket), and the full cycle a CPython client runs for `m.dict()` plus
//! dropping the proxy (create, incref, decref, decref: four one-shot connections, each with the
//! mutual handshake).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpshare::managers::auth::{self, AuthKey};
use mpshare::managers::connection::{Address, Connection};
use mpshare::managers::pickle::PyValue;
use mpshare::managers::server::Server;
use mpshare::managers::wire::{Reply, Request};

fn connect(addr: &Address, key: &AuthKey) -> Connection {
    let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
    auth::client_handshake(&mut c, key).unwrap();
    c
}

fn rt(c: &mut Connection, r: &Request) -> Reply {
    c.send_bytes(&r.encode().unwrap()).unwrap();
    Reply::decode(&c.recv_bytes().unwrap()).unwrap()
}

fn one_shot(addr: &Address, key: &AuthKey, r: &Request) -> Reply {
    rt(&mut connect(addr, key), r)
}

fn server_bench(c: &mut Criterion) {
    let key = AuthKey::from("bench");
    let dir = std::env::temp_dir().join(format!("mpshare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tcp = Server::bind(&"127.0.0.1:0".parse().unwrap(), key.clone())
        .unwrap()
        .spawn()
        .unwrap();
    let unix = Server::bind(&Address::Unix(dir.join("s.sock")), key.clone())
        .unwrap()
        .spawn()
        .unwrap();
    let mut g = c.benchmark_group("manager_server");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    for (name, h) in [("tcp", &tcp), ("unix", &unix)] {
        let addr = h.address().clone();
        let ident = match one_shot(
            &addr,
            &key,
            &Request::server(
                "create",
                vec![
                    PyValue::str("dict"),
                    PyValue::dict(vec![(PyValue::str("a"), PyValue::Int(1))]).unwrap(),
                ],
            ),
        ) {
            Reply::Return(PyValue::Tuple(t)) => t[0].as_str().unwrap().to_string(),
            other => panic!("{other:?}"),
        };
        let mut p = connect(&addr, &key);
        rt(
            &mut p,
            &Request::server("accept_connection", vec![PyValue::str("bench")]),
        );
        let get = Request::call(&ident, "__getitem__", vec![PyValue::str("a")]);
        g.bench_function(format!("dict_getitem_call_{name}"), |b| {
            b.iter(|| black_box(rt(&mut p, &get)))
        });
        g.bench_function(format!("dict_create_incref_decref_decref_{name}"), |b| {
            b.iter(|| {
                let id = match one_shot(
                    &addr,
                    &key,
                    &Request::server("create", vec![PyValue::str("dict")]),
                ) {
                    Reply::Return(PyValue::Tuple(t)) => t[0].clone(),
                    other => panic!("{other:?}"),
                };
                one_shot(&addr, &key, &Request::server("incref", vec![id.clone()]));
                one_shot(&addr, &key, &Request::server("decref", vec![id.clone()]));
                black_box(one_shot(&addr, &key, &Request::server("decref", vec![id])))
            })
        });
    }
    g.finish();
    drop(tcp);
    drop(unix);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, server_bench);
criterion_main!(benches);
