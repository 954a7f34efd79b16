//! Pipelined calls against the mpshare server: replies come back in order and in batches, and
//! a blocking call inside a pipeline waits (it is not mistaken for a dead client because more
//! requests are already queued behind it).

use std::time::{Duration, Instant};

use mpshare::manager::client::{ClientConfig, Manager};
use mpshare::manager::LocalManager;

/// A client of the started server with every call bounded: a lost reply fails the test with
/// `Error::Timeout` instead of hanging the suite.
fn timed(m: &LocalManager) -> Manager {
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(30)),
        server_call_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    };
    Manager::connect_with(m.address(), m.authkey().clone(), cfg).expect("connect")
}
use mpshare::manager::pickle::PyValue;

#[test]
fn pipelined_results_in_order() {
    let started = Manager::start().expect("start");
    let m = timed(&started);
    let d = m.dict().unwrap();
    let mut p = m.pipeline();
    for i in 0..5000 {
        p.call(
            &d,
            "__setitem__",
            vec![PyValue::Int(i), PyValue::Int(i * 2)],
            vec![],
        );
    }
    for i in 0..5000 {
        p.call(&d, "__getitem__", vec![PyValue::Int(i)], vec![]);
    }
    p.call(&d, "__getitem__", vec![PyValue::str("missing")], vec![]);
    let r = p.finish().unwrap();
    assert_eq!(r.len(), 10_001);
    for (i, v) in r[5000..10_000].iter().enumerate() {
        assert_eq!(v.as_ref().unwrap(), &PyValue::Int(i as i64 * 2));
    }
    assert!(r[10_000].as_ref().unwrap_err().is_key_error());
    assert_eq!(d.len().unwrap(), 5000);
}

#[test]
fn blocking_call_inside_a_pipeline_waits_for_its_turn() {
    let started = Manager::start().expect("start");
    let m = timed(&started);
    let lock = m.lock().unwrap();
    let d = m.dict().unwrap();
    lock.acquire().unwrap();
    let m2 = m.clone();
    let token = lock.token().clone();
    let dict_token = d.token().clone();
    let worker = std::thread::spawn(move || {
        // Proxies on this thread's own connection, for the same objects.
        let lock = m2
            .proxy_from_ref(&mpshare::manager::message::ProxyRef::auto(token, vec![]))
            .unwrap();
        let d = m2
            .proxy_from_ref(&mpshare::manager::message::ProxyRef::auto(
                dict_token,
                vec![],
            ))
            .unwrap();
        let t = Instant::now();
        let mut p = m2.pipeline();
        p.call(&lock, "acquire", vec![], vec![]);
        p.call(
            &d,
            "__setitem__",
            vec![PyValue::str("k"), PyValue::Int(1)],
            vec![],
        );
        p.call(&lock, "release", vec![], vec![]);
        let r = p.finish().unwrap();
        (t.elapsed(), r)
    });
    std::thread::sleep(Duration::from_millis(300));
    lock.release().unwrap();
    let (waited, r) = worker.join().unwrap();
    assert!(r.iter().all(|x| x.is_ok()), "{r:?}");
    assert_eq!(r[0].as_ref().unwrap(), &PyValue::Bool(true));
    // It waited for the release (300 ms later), and was answered soon after it.
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "acquire inside the pipeline returned after {waited:?}"
    );
    let k: i64 = d.get_item("k").unwrap();
    assert_eq!(k, 1);
}
