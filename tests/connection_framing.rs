//! Framing of `multiprocessing.connection` over TCP, Unix paths and abstract Unix names:
//! round trips, partial reads, the large-frame escape, bad headers, size limits, EOF, timeouts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::net::Shutdown;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use mpshare::error::ProtocolError;
use mpshare::manager::connection::{
    Address, Connection, ConnectionConfig, Listener, ListenerConfig,
};
use mpshare::Error;

const T: Duration = Duration::from_secs(10);

/// The system allocator, noting the largest single allocation (or reallocation) made by a
/// thread while it is measuring (see [`largest_allocation`]).
struct Measuring;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: no panic during thread teardown; const-initialised cells never allocate.
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; `note` only
// reads and writes two thread-local cells and never allocates.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above; `ptr` and `layout` come from this allocator (i.e. from `System`).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Measuring = Measuring;

/// Runs `f` and returns its result and the largest single allocation this thread made in it.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    MEASURING.with(|m| m.set(true));
    let r = f();
    MEASURING.with(|m| m.set(false));
    (r, LARGEST.with(|l| l.get()))
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "mpshare-framing-{tag}-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn addresses(tag: &str) -> Vec<Address> {
    vec![
        "127.0.0.1:0".parse().unwrap(),
        Address::Unix(tmpdir(tag).join("s.sock")),
        Address::Abstract(format!("mpshare-framing-{tag}-{}", std::process::id()).into_bytes()),
    ]
}

/// A connected (server, client) pair over `addr`, both with bounded read/write timeouts.
fn connected(addr: &Address) -> (Listener, Connection, Connection) {
    let l = Listener::bind(addr, ListenerConfig::default()).unwrap();
    let a = l.address().unwrap();
    let mut c = Connection::connect(&a, T).unwrap();
    let mut s = l.accept_timeout(T).unwrap().expect("accepted");
    for x in [&mut c, &mut s] {
        x.set_read_timeout(Some(T)).unwrap();
        x.set_write_timeout(Some(T)).unwrap();
    }
    (l, s, c)
}

#[test]
fn round_trips_all_transports() {
    let sizes = [0usize, 1, 16384, 16385, 1 << 20];
    for addr in addresses("rt") {
        let (_l, mut s, mut c) = connected(&addr);
        let writer = thread::spawn(move || {
            for &n in &sizes {
                let payload: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
                c.send_bytes(&payload).unwrap();
                let echo = c.recv_bytes().unwrap();
                assert_eq!(echo, payload, "echo of {n} bytes");
            }
            c
        });
        for &n in &sizes {
            let got = s.recv_bytes().unwrap();
            assert_eq!(got.len(), n, "{addr}: frame of {n} bytes");
            s.send_bytes(&got).unwrap();
        }
        let mut c = writer.join().unwrap();
        // Many small frames back to back come out one by one.
        for i in 0..200u32 {
            c.send_bytes(&i.to_le_bytes()).unwrap();
        }
        for i in 0..200u32 {
            assert_eq!(s.recv_bytes().unwrap(), i.to_le_bytes());
        }
        drop(c);
        assert!(
            matches!(s.recv_bytes(), Err(Error::ConnectionClosed)),
            "{addr}: clean EOF"
        );
    }
}

#[test]
fn addresses_reported() {
    for addr in addresses("addr") {
        let (l, s, c) = connected(&addr);
        let bound = l.address().unwrap();
        match (&addr, &bound) {
            (Address::Tcp(_), Address::Tcp(b)) => assert_ne!(b.port(), 0),
            (a, b) => assert_eq!(a, b),
        }
        assert_eq!(c.peer_addr().unwrap(), bound);
        assert_eq!(s.local_addr().unwrap(), bound);
        let round: Address = bound.to_string().parse().unwrap();
        assert_eq!(round, bound);
    }
}

#[test]
fn address_parsing() {
    assert!(matches!("localhost:5000".parse::<Address>(), Ok(Address::Tcp(a)) if a.port() == 5000));
    assert_eq!(
        "unix-abstract:x".parse::<Address>().unwrap(),
        Address::Abstract(b"x".to_vec())
    );
    assert_eq!(
        "/a/b".parse::<Address>().unwrap(),
        Address::Unix("/a/b".into())
    );
    assert!(matches!("[::1]:80".parse::<Address>(), Ok(Address::Tcp(a)) if a.is_ipv6()));
    assert!(matches!(
        "nonsense".parse::<Address>(),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        "unix:".parse::<Address>(),
        Err(Error::InvalidAddress { .. })
    ));
}

#[test]
fn one_byte_chunks_read_whole() {
    let l = Listener::bind(&"127.0.0.1:0".parse().unwrap(), ListenerConfig::default()).unwrap();
    let Address::Tcp(sa) = l.address().unwrap() else {
        unreachable!()
    };
    let writer = thread::spawn(move || {
        let mut raw = std::net::TcpStream::connect_timeout(&sa, T).unwrap();
        raw.set_nodelay(true).unwrap();
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&payload);
        // A second frame in escape form, also trickled.
        frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5]);
        frame.extend_from_slice(b"hello");
        for b in frame {
            raw.write_all(&[b]).unwrap();
            thread::sleep(Duration::from_micros(200));
        }
        raw
    });
    let mut s = l.accept_timeout(T).unwrap().unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let got = s.recv_bytes().unwrap();
    assert_eq!(got, (0..300u32).map(|i| i as u8).collect::<Vec<_>>());
    assert_eq!(s.recv_bytes().unwrap(), b"hello");
    let _raw = writer.join().unwrap();
}

/// A Unix pair where one side is a raw socket we write bytes to directly.
fn raw_pair(max: u64) -> (std::os::unix::net::UnixStream, Connection) {
    let (raw, other) = std::os::unix::net::UnixStream::pair().unwrap();
    let cfg = ConnectionConfig {
        max_frame: max,
        ..ConnectionConfig::default()
    };
    let mut c = Connection::from_unix(other, cfg).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    (raw, c)
}

#[test]
fn escape_header_reads_as_payload() {
    let (mut raw, mut c) = raw_pair(1 << 20);
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5])
        .unwrap();
    raw.write_all(b"hello").unwrap();
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(c.recv_bytes().unwrap(), b"hello");
    assert_eq!(c.recv_bytes().unwrap(), b"");
}

#[test]
fn negative_length_is_protocol_error() {
    for n in [-2i32, i32::MIN, -1000] {
        let (mut raw, mut c) = raw_pair(1 << 20);
        raw.write_all(&n.to_be_bytes()).unwrap();
        raw.write_all(b"junk").unwrap();
        match c.recv_bytes() {
            Err(Error::Protocol(ProtocolError::BadFrameHeader { found })) => assert_eq!(found, n),
            other => panic!("expected Protocol error for {n}, found {other:?}"),
        }
        // The connection stays unusable afterwards.
        assert!(matches!(c.recv_bytes(), Err(Error::Protocol(_))));
    }
}

#[test]
fn oversized_frame_refused_without_allocation() {
    let (mut raw, mut c) = raw_pair(64 << 20);
    let start = Instant::now();
    // 2 GiB - 1 announced, nothing sent: must fail at once (not allocate, not wait).
    raw.write_all(&0x7fff_ffffu32.to_be_bytes()).unwrap();
    let (r, largest) = largest_allocation(|| c.recv_bytes());
    assert!(
        largest < 64 << 10,
        "refusing the frame allocated {largest} bytes"
    );
    match r {
        Err(Error::FrameTooLarge { len, max }) => {
            assert_eq!(len, 0x7fff_ffff);
            assert_eq!(max, 64 << 20);
        }
        other => panic!("expected FrameTooLarge, found {other:?}"),
    }
    // The escape form with an absurd length too.
    let (mut raw2, mut c2) = raw_pair(64 << 20);
    raw2.write_all(&[0xff; 4]).unwrap();
    raw2.write_all(&u64::MAX.to_be_bytes()).unwrap();
    let (r, largest) = largest_allocation(|| c2.recv_bytes());
    assert!(
        matches!(r, Err(Error::FrameTooLarge { len: u64::MAX, .. })),
        "{r:?}"
    );
    assert!(
        largest < 64 << 10,
        "refusing the frame allocated {largest} bytes"
    );
    assert!(start.elapsed() < T, "refusal must not wait for data");
}

#[test]
fn big_announced_frame_within_max_is_not_committed_up_front() {
    // 60 MiB announced, 10 bytes sent, then EOF: a Protocol error, and no allocation anywhere
    // near the announced size (memory grows with the data that arrives, from a 1 MiB start).
    let (mut raw, mut c) = raw_pair(64 << 20);
    raw.write_all(&(60u32 << 20).to_be_bytes()).unwrap();
    raw.write_all(&[1; 10]).unwrap();
    drop(raw);
    let (r, largest) = largest_allocation(|| c.recv_bytes());
    assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
    assert!(
        largest <= 4 << 20,
        "60 MiB announced, 10 bytes sent: the reader allocated {largest} bytes at once"
    );
    // The same frame sent in full is received (the measurement sees its growth up to 60 MiB).
    let (mut raw, mut c) = raw_pair(64 << 20);
    let sender = thread::spawn(move || {
        raw.write_all(&(60u32 << 20).to_be_bytes()).unwrap();
        raw.write_all(&vec![7u8; 60 << 20]).unwrap();
    });
    let (r, largest) = largest_allocation(|| c.recv_bytes());
    sender.join().unwrap();
    let data = r.unwrap();
    assert_eq!(data.len(), 60 << 20);
    assert!(data.iter().all(|&b| b == 7));
    assert!(
        largest >= 60 << 20,
        "measured {largest}: the allocator is not measuring"
    );
}

#[test]
fn eof_mid_frame_is_error() {
    // Mid-header.
    let (mut raw, mut c) = raw_pair(1 << 20);
    raw.write_all(&[0, 0]).unwrap();
    drop(raw);
    assert!(matches!(c.recv_bytes(), Err(Error::Protocol(_))));
    // Mid-payload (small and large frames).
    for n in [10u32, 100_000] {
        let (mut raw, mut c) = raw_pair(1 << 20);
        raw.write_all(&n.to_be_bytes()).unwrap();
        raw.write_all(&[0; 5]).unwrap();
        drop(raw);
        match c.recv_bytes() {
            Err(Error::Protocol(m @ ProtocolError::ClosedMidFrame { .. })) => {
                assert!(m.to_string().contains("mid-frame"), "{m}")
            }
            other => panic!("expected Protocol error, found {other:?}"),
        }
    }
    // Clean EOF at a frame boundary.
    let (raw, mut c) = raw_pair(1 << 20);
    drop(raw);
    assert!(matches!(c.recv_bytes(), Err(Error::ConnectionClosed)));
}

#[test]
fn timeouts_return() {
    let (raw, mut c) = raw_pair(1 << 20);
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    assert!(matches!(c.recv_bytes(), Err(Error::Timeout(_))));
    assert!(start.elapsed() < T);
    // A timeout between frames leaves the connection usable.
    let mut raw = raw;
    raw.write_all(&[0, 0, 0, 2, b'o', b'k']).unwrap();
    assert_eq!(c.recv_bytes().unwrap(), b"ok");
    // A timeout in a partial header too (bytes are kept).
    raw.write_all(&[0, 0]).unwrap();
    assert!(matches!(c.recv_bytes(), Err(Error::Timeout(_))));
    raw.write_all(&[0, 1, b'!']).unwrap();
    assert_eq!(c.recv_bytes().unwrap(), b"!");
    // Deadline reads stop even when bytes trickle in.
    let mut trickler = raw.try_clone().unwrap();
    let t = thread::spawn(move || {
        let _ = trickler.write_all(&[0, 0, 0, 100]);
        for _ in 0..40 {
            if trickler.write_all(&[1]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
    });
    let start = Instant::now();
    let r = c.recv_bytes_deadline(256, Instant::now() + Duration::from_millis(100));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_millis(300));
    t.join().unwrap();
    // Write timeout: fill the socket buffer of a peer that never reads.
    let (_raw2, mut c2) = raw_pair(1 << 20);
    c2.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let big = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut timed_out = false;
    for _ in 0..64 {
        match c2.send_bytes(&big) {
            Ok(()) => {}
            Err(Error::Timeout(_)) => {
                timed_out = true;
                break;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(timed_out);
    assert!(start.elapsed() < T);
}

#[test]
fn shutdown_and_clone() {
    let (mut a, mut b) = Connection::pair().unwrap();
    b.set_read_timeout(Some(T)).unwrap();
    let mut w = a.try_clone().unwrap();
    w.send_bytes(b"from clone").unwrap();
    a.send_bytes(b"from original").unwrap();
    assert_eq!(b.recv_bytes().unwrap(), b"from clone");
    assert_eq!(b.recv_bytes().unwrap(), b"from original");
    // A reader blocked in another thread is woken by shutdown.
    let reader = thread::spawn(move || b.recv_bytes());
    thread::sleep(Duration::from_millis(20));
    a.shutdown(Shutdown::Both).unwrap();
    assert!(matches!(
        reader.join().unwrap(),
        Err(Error::ConnectionClosed)
    ));
    assert!(matches!(w.send_bytes(b"x"), Err(Error::ConnectionClosed)));
}

#[test]
fn unix_listener_path_rules() {
    let dir = tmpdir("path");
    // A regular file is never clobbered.
    let file = dir.join("file");
    std::fs::write(&file, b"precious").unwrap();
    let r = Listener::bind(&Address::Unix(file.clone()), ListenerConfig::default());
    assert!(matches!(r, Err(Error::InvalidAddress { .. })), "{r:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    // A live socket is not replaced; a stale one is.
    let sock = dir.join("s.sock");
    let l = Listener::bind(&Address::Unix(sock.clone()), ListenerConfig::default()).unwrap();
    assert!(Listener::bind(&Address::Unix(sock.clone()), ListenerConfig::default()).is_err());
    drop(l);
    assert!(!sock.exists(), "path unlinked on drop");
    {
        let _stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    }
    assert!(sock.exists());
    let l = Listener::bind(&Address::Unix(sock.clone()), ListenerConfig::default()).unwrap();
    drop(l);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn burst_of_connects_survives() {
    for addr in addresses("burst") {
        let l = Listener::bind(&addr, ListenerConfig::default()).unwrap();
        let a = l.address().unwrap();
        let clients: Vec<_> = (0..64)
            .map(|i| {
                let a = a.clone();
                thread::spawn(move || {
                    let mut c = Connection::connect(&a, T).unwrap();
                    c.set_read_timeout(Some(T)).unwrap();
                    c.send_bytes(&[i as u8]).unwrap();
                    c.recv_bytes().unwrap()
                })
            })
            .collect();
        // Accept only after all have had time to queue up.
        thread::sleep(Duration::from_millis(100));
        for _ in 0..64 {
            let mut s = l.accept_timeout(T).unwrap().expect("queued connection");
            s.set_read_timeout(Some(T)).unwrap();
            let b = s.recv_bytes().unwrap();
            s.send_bytes(&b).unwrap();
        }
        for c in clients {
            assert_eq!(c.join().unwrap().len(), 1);
        }
    }
}
