//! Issue #14, pipelined calls on the Redis store: a front-end sends a run of pipelined simple
//! calls to Redis as one pipeline. Whatever the batching, the replies must be exactly those of
//! the in-memory store, in order, errors included: the same mixed pipeline (planned calls,
//! calls that cannot be planned, failing calls in the middle) runs against both and every
//! reply is compared.

mod common;

use common::redis::RedisServer;
use common::serve::serve_at;

use std::time::Duration;

use mpshare::managers::client::{ClientConfig, Proxy};
use mpshare::managers::pickle::PyValue;
use mpshare::managers::{AuthKey, Manager};

const KEY: &str = "mpshare-redis-pipeline";

fn connect(addr: &str) -> Manager {
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    Manager::connect_with(&addr.parse().expect("address"), AuthKey::from(KEY), cfg)
        .expect("connect")
}

/// Runs the mixed pipeline against the server at `addr`; every reply as text.
fn replies(addr: &str) -> Vec<String> {
    let m = connect(addr);
    let d = m.dict().unwrap();
    let l = m.list().unwrap();
    let v = m.value('i', 0).unwrap();
    let ns = m.namespace().unwrap();
    let s = |x: &str| PyValue::str(x);
    let i = PyValue::Int;
    let calls: Vec<(&Proxy, &str, Vec<PyValue>)> = {
        let mut c: Vec<(&Proxy, &str, Vec<PyValue>)> = Vec::new();
        for n in 0..50 {
            c.push((&d, "__setitem__", vec![i(n % 7), i(n)]));
            c.push((&d, "__getitem__", vec![i(n % 11)])); // KeyError for 7..=10
            c.push((&l, "append", vec![i(n)]));
            c.push((&l, "__getitem__", vec![i(n * 3 - 60)])); // IndexError at first
            c.push((&v, "set", vec![i(n)]));
            c.push((&v, "get", vec![]));
            c.push((&d, "__contains__", vec![PyValue::Float((n % 9) as f64)]));
            c.push((&d, "get", vec![i(n % 9), s("dflt")]));
            if n % 10 == 0 {
                // Not planned: these end the run and are called on their own.
                c.push((&d, "keys", vec![]));
                c.push((&l, "sort", vec![]));
                c.push((&d, "pop", vec![i(3)]));
            }
            c.push((&d, "__len__", vec![]));
            c.push((&l, "__len__", vec![]));
            c.push((&ns, "__setattr__", vec![s("x"), i(n)]));
            c.push((&ns, "__getattribute__", vec![s("x")]));
            c.push((&ns, "__getattribute__", vec![s("missing")])); // AttributeError
            c.push((&d, "__getitem__", vec![PyValue::List(vec![])])); // unhashable: TypeError
        }
        c
    };
    let mut p = m.pipeline();
    for (proxy, method, args) in &calls {
        p.call(proxy, method, args.clone(), vec![]);
    }
    let out: Vec<String> = p
        .finish()
        .expect("pipeline")
        .into_iter()
        .map(|r| match r {
            Ok(v) => format!("ok {v}"),
            Err(e) => format!("err {e}"),
        })
        .collect();
    assert_eq!(out.len(), calls.len());
    out
}

#[test]
fn a_pipeline_on_the_redis_store_answers_exactly_like_the_memory_store() {
    let Some(redis) = RedisServer::start(false) else {
        return;
    };
    let (_mem, addr_mem) = serve_at(KEY, "127.0.0.1:0", &["--quiet"]);
    let (_red, addr_red) = serve_at(KEY, "127.0.0.1:0", &["--store", &redis.url(), "--quiet"]);
    let want = replies(&addr_mem);
    let got = replies(&addr_red);
    let errors = want.iter().filter(|r| r.starts_with("err")).count();
    assert!(
        errors > 50,
        "the pipeline must fail in the middle often ({errors} errors)"
    );
    for (n, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(g, w, "reply {n} differs (Redis store vs memory store)");
    }
}
