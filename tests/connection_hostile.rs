//! Hostile peers: random bytes into the frame reader and into both handshake roles never panic
//! and always return in bounded time; silent and trickling peers are cut off by the handshake
//! timeout; oversized handshake frames are refused.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use mpshare::error::AuthError;
use mpshare::manager::auth::{self, AuthKey};
use mpshare::manager::connection::{
    Address, Connection, ConnectionConfig, Listener, ListenerConfig,
};
use mpshare::Error;
use proptest::prelude::*;

const BOUND: Duration = Duration::from_secs(10);

/// Read timeout of the fed connections: far above [`QUICK`], so a reader that waits for data
/// that never comes shows up as a `Timeout` (and a slow one as a broken bound).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound for consuming at most a few KiB that are already in the socket, then EOF.
const QUICK: Duration = Duration::from_secs(2);

const MAX_FRAME: u64 = 1 << 20;

fn cfg() -> ConnectionConfig {
    ConnectionConfig {
        max_frame: MAX_FRAME,
        handshake_timeout: Duration::from_secs(3),
        ..ConnectionConfig::default()
    }
}

/// A Rust connection whose peer is a raw socket that sends `bytes` and then closes its write
/// side (it keeps reading so our writes never block).
fn fed(bytes: Vec<u8>) -> (Connection, thread::JoinHandle<()>) {
    let (mut raw, ours) = UnixStream::pair().unwrap();
    let mut c = Connection::from_unix(ours, cfg()).unwrap();
    c.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    c.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    let t = thread::spawn(move || {
        let _ = raw.write_all(&bytes);
        let _ = raw.shutdown(Shutdown::Write);
        raw.set_read_timeout(Some(BOUND)).unwrap();
        let mut sink = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut raw, &mut sink) {
            if n == 0 {
                break;
            }
        }
    });
    (c, t)
}

/// How reading a stream must end once its bytes are used up.
#[derive(Debug, PartialEq)]
enum End {
    /// EOF exactly between frames.
    Closed,
    /// EOF inside a header or payload, or a negative length other than the -1 escape.
    Protocol,
    /// A length above the maximum (nothing read or allocated for it).
    TooLarge { len: u64, max: u64 },
}

/// The frames a correct reader returns from `bytes` followed by EOF, and how it then ends
/// (CPython's framing: a big-endian i32 length, or -1 and a big-endian u64 length).
fn model(bytes: &[u8], max: u64) -> (Vec<Vec<u8>>, End) {
    let mut frames = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.is_empty() {
            return (frames, End::Closed);
        }
        if rest.len() < 4 {
            return (frames, End::Protocol);
        }
        let n = i32::from_be_bytes(rest[..4].try_into().unwrap());
        let (len, header) = if n == -1 {
            if rest.len() < 12 {
                return (frames, End::Protocol);
            }
            (u64::from_be_bytes(rest[4..12].try_into().unwrap()), 12)
        } else if n < 0 {
            return (frames, End::Protocol);
        } else {
            (n as u64, 4)
        };
        if len > max {
            return (frames, End::TooLarge { len, max });
        }
        if ((rest.len() - header) as u64) < len {
            return (frames, End::Protocol);
        }
        let len = len as usize;
        frames.push(rest[header..header + len].to_vec());
        rest = &rest[header + len..];
    }
}

/// Reads `bytes` through a real socket and checks the frames and the ending against [`model`],
/// and that it took less than [`QUICK`].
fn read_matches_model(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let (want_frames, want_end) = model(&bytes, MAX_FRAME);
    let (mut c, t) = fed(bytes);
    let start = Instant::now();
    let mut frames = Vec::new();
    let err = loop {
        match c.recv_bytes() {
            Ok(f) => frames.push(f),
            Err(e) => break e,
        }
        prop_assert!(frames.len() <= want_frames.len(), "more frames than sent");
    };
    let took = start.elapsed();
    prop_assert_eq!(frames, want_frames);
    let end = match err {
        Error::ConnectionClosed => End::Closed,
        Error::Protocol(_) => End::Protocol,
        Error::FrameTooLarge { len, max } => End::TooLarge { len, max },
        other => return Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    };
    prop_assert_eq!(end, want_end);
    prop_assert!(took < QUICK, "took {:?}", took);
    drop(c);
    t.join().unwrap();
    Ok(())
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Pieces of a plausible-looking handshake stream.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| frame(&b)),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| {
            let mut p = b"#CHALLENGE#".to_vec();
            p.extend_from_slice(&b);
            frame(&p)
        }),
        (0usize..5, proptest::collection::vec(any::<u8>(), 0..60)).prop_map(|(i, b)| {
            let names = ["{md5}", "{sha256}", "{sha384}", "{sha3_256}", "{sha3_384}"];
            let mut p = b"#CHALLENGE#".to_vec();
            p.extend_from_slice(names[i].as_bytes());
            p.extend_from_slice(&b);
            frame(&p)
        }),
        Just(frame(b"#WELCOME#")),
        Just(frame(b"#FAILURE#")),
        Just(vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 9]),
        any::<i32>().prop_map(|n| n.to_be_bytes().to_vec()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(piece(), 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_into_recv_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_matches_model(bytes)?;
    }

    #[test]
    fn structured_junk_into_recv_bytes(bytes in stream()) {
        read_matches_model(bytes)?;
    }

    #[test]
    fn junk_into_every_handshake_role(bytes in stream(), role in 0u8..4) {
        let (mut c, t) = fed(bytes);
        let key = AuthKey::from("key");
        let before = c.read_timeout();
        let start = Instant::now();
        let r = match role {
            0 => auth::server_handshake(&mut c, &key),
            1 => auth::client_handshake(&mut c, &key),
            2 => auth::deliver_challenge(&mut c, &key),
            _ => auth::answer_challenge(&mut c, &key),
        };
        let took = start.elapsed();
        // The peer has closed its side, so every role ends on what it read, never on the
        // 3 s handshake timeout.
        prop_assert!(!matches!(r, Err(Error::Timeout(_))), "role {} timed out", role);
        prop_assert!(took < QUICK, "role {} took {:?}", role, took);
        // Junk never authenticates (it cannot know the HMAC of our random challenge), except
        // answer_challenge, which only needs the peer to say #WELCOME#.
        if role != 3 {
            prop_assert!(r.is_err(), "role {} accepted junk", role);
        }
        prop_assert_eq!(c.read_timeout(), before);
        drop(c);
        t.join().unwrap();
    }
}

#[test]
fn silent_peer_cut_off_by_handshake_timeout() {
    let cfg = ListenerConfig {
        connection: ConnectionConfig {
            handshake_timeout: Duration::from_millis(300),
            ..ConnectionConfig::default()
        },
        ..ListenerConfig::default()
    };
    let l = Listener::bind(&"127.0.0.1:0".parse().unwrap(), cfg).unwrap();
    let Address::Tcp(sa) = l.address().unwrap() else {
        unreachable!()
    };
    let _silent = TcpStream::connect_timeout(&sa, BOUND).unwrap();
    let mut s = l.accept_timeout(BOUND).unwrap().unwrap();
    let start = Instant::now();
    let r = auth::server_handshake(&mut s, &AuthKey::from("k"));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    let took = start.elapsed();
    // The 300 ms handshake timeout, not earlier, and not much later.
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The previous (blocking) read timeout is restored.
    assert_eq!(s.read_timeout(), None);

    // Client role against a server that accepts and says nothing.
    let quiet = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let qa = Address::Tcp(quiet.local_addr().unwrap());
    let mut c = Connection::connect_with(
        &qa,
        BOUND,
        ConnectionConfig {
            handshake_timeout: Duration::from_millis(300),
            ..ConnectionConfig::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let r = auth::client_handshake(&mut c, &AuthKey::from("k"));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    let took = start.elapsed();
    // The 300 ms handshake timeout, not earlier, and not much later.
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn trickling_peer_cut_off_by_handshake_deadline() {
    let (mut raw, ours) = UnixStream::pair().unwrap();
    let mut c = Connection::from_unix(
        ours,
        ConnectionConfig {
            handshake_timeout: Duration::from_millis(300),
            ..ConnectionConfig::default()
        },
    )
    .unwrap();
    let t = thread::spawn(move || {
        let mut msg = frame(b"#CHALLENGE#{sha256}0123456789012345678901234567890123456789");
        msg.truncate(msg.len() - 1);
        for b in msg.iter().cycle().take(200) {
            if raw.write_all(&[*b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    let start = Instant::now();
    let r = auth::answer_challenge(&mut c, &AuthKey::from("k"));
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    // The trickle would last 4 s; the 300 ms deadline ends it.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(c);
    t.join().unwrap();
}

#[test]
fn oversized_handshake_frames_refused() {
    // A challenge of 257 bytes to the answerer.
    let mut big = b"#CHALLENGE#{sha256}".to_vec();
    big.resize(257, b'x');
    let (mut c, t) = fed(frame(&big));
    let r = auth::answer_challenge(&mut c, &AuthKey::from("k"));
    assert!(
        matches!(r, Err(Error::FrameTooLarge { len: 257, max: 256 })),
        "{r:?}"
    );
    drop(c);
    t.join().unwrap();

    // A reply of 300 bytes to our challenge (the peer sees no verdict, like CPython).
    let (mut c, t) = fed(frame(&[0u8; 300]));
    let r = auth::deliver_challenge(&mut c, &AuthKey::from("k"));
    assert!(
        matches!(r, Err(Error::FrameTooLarge { len: 300, max: 256 })),
        "{r:?}"
    );
    drop(c);
    t.join().unwrap();

    // Exactly 256 bytes is a legal frame (rejected for its content, not its size).
    let mut edge = b"#CHALLENGE#".to_vec();
    edge.resize(256, b'y');
    let (mut c, t) = fed(frame(&edge));
    let r = auth::answer_challenge(&mut c, &AuthKey::from("k"));
    assert!(matches!(r, Err(Error::Authentication(_))), "{r:?}");
    drop(c);
    t.join().unwrap();
}

#[test]
fn wrong_key_fails_on_both_sides_in_process() {
    let (mut s, mut c) = Connection::pair().unwrap();
    let t = thread::spawn(move || auth::client_handshake(&mut c, &AuthKey::from("b")));
    let rs = auth::server_handshake(&mut s, &AuthKey::from("a"));
    let rc = t.join().unwrap();
    match (rs, rc) {
        (
            Err(Error::Authentication(AuthError::DigestRejected { .. })),
            Err(Error::Authentication(AuthError::PeerRejected)),
        ) => {}
        other => panic!("expected Authentication errors on both sides, found {other:?}"),
    }
}
