//! The authkey handshake of `multiprocessing.connection` (mutual HMAC challenge), compatible
//! with CPython 3.11 (legacy 20-byte challenges, raw HMAC-MD5) and 3.12+ (`{sha256}` challenges,
//! `{name}`-prefixed replies); see `docs/protocol.md` §2.
//!
//! The acceptor runs [`server_handshake`] (challenge first, then answer), the connecting side
//! runs [`client_handshake`] (answer first, then challenge).
//!
//! ```
//! use mpshare::managers::{auth::{self, AuthKey}, connection::Connection};
//! let (mut server, mut client) = Connection::pair()?;
//! let key = AuthKey::random()?;
//! let k2 = key.clone();
//! let t = std::thread::spawn(move || auth::client_handshake(&mut client, &k2));
//! auth::server_handshake(&mut server, &key)?;
//! t.join().unwrap()?;
//! # Ok::<(), mpshare::Error>(())
//! ```

use std::fmt;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};

use crate::error::{AuthError, OsContext};
use crate::managers::connection::{Connection, HANDSHAKE_FRAME_CAP};
use crate::{Error, Result};

/// First bytes of a challenge message.
/// ```
/// assert_eq!(mpshare::managers::auth::CHALLENGE.len(), 11);
/// ```
pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// Verdict sent when the reply was right.
/// ```
/// assert_eq!(mpshare::managers::auth::WELCOME, b"#WELCOME#");
/// ```
pub const WELCOME: &[u8] = b"#WELCOME#";
/// Verdict sent when the reply was wrong.
/// ```
/// assert_eq!(mpshare::managers::auth::FAILURE, b"#FAILURE#");
/// ```
pub const FAILURE: &[u8] = b"#FAILURE#";

/// Random bytes in a modern challenge body (after the `{name}` prefix).
const MODERN_NONCE: usize = 40;
/// Length of a legacy (3.11) challenge body.
const LEGACY_BODY: usize = 20;

/// A shared secret for the handshake (raw bytes, like Python's `authkey`).
///
/// `Debug` does not show the key. Comparison is constant-time.
///
/// ```
/// use mpshare::managers::auth::AuthKey;
/// let k = AuthKey::from_hex("00ff10")?;
/// assert_eq!(k.as_bytes(), &[0x00, 0xff, 0x10]);
/// assert_eq!(k.to_hex(), "00ff10");
/// assert_eq!(format!("{k:?}"), "AuthKey(<redacted, 3 bytes>)");
/// assert_eq!(AuthKey::from("abc").as_bytes(), b"abc");
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone)]
pub struct AuthKey(Vec<u8>);

impl AuthKey {
    /// A key from raw bytes.
    ///
    /// ```
    /// let k = mpshare::managers::auth::AuthKey::new(b"secret".to_vec());
    /// assert_eq!(k.len(), 6);
    /// ```
    pub fn new(bytes: impl Into<Vec<u8>>) -> AuthKey {
        AuthKey(bytes.into())
    }

    /// 32 random bytes from the OS (what CPython gives a new process as its authkey).
    ///
    /// ```
    /// let a = mpshare::managers::auth::AuthKey::random()?;
    /// let b = mpshare::managers::auth::AuthKey::random()?;
    /// assert_eq!(a.len(), 32);
    /// assert!(a != b);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn random() -> Result<AuthKey> {
        let mut k = vec![0u8; 32];
        fill_random(&mut k)?;
        Ok(AuthKey(k))
    }

    /// A key from hexadecimal text (as Python's `bytes.hex()` writes it).
    ///
    /// ```
    /// use mpshare::managers::auth::AuthKey;
    /// assert!(AuthKey::from_hex("abc").is_err());
    /// assert!(AuthKey::from_hex("zz").is_err());
    /// assert_eq!(AuthKey::from_hex("4142")?.as_bytes(), b"AB");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_hex(hex: &str) -> Result<AuthKey> {
        let hex = hex.trim();
        if hex.len() % 2 != 0 {
            return Err(Error::InvalidAuthKey {
                expected: "an even number of hex digits",
                found: format!("{} digits", hex.len()),
            });
        }
        let digit = |c: u8| -> Result<u8> {
            match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(Error::InvalidAuthKey {
                    expected: "hex digits",
                    found: format!("{:?}", c as char),
                }),
            }
        };
        hex.as_bytes()
            .chunks(2)
            .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Result<Vec<u8>>>()
            .map(AuthKey)
    }

    /// The key in lowercase hex.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::auth::AuthKey::new(vec![1, 171]).to_hex(), "01ab");
    /// ```
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The raw key bytes.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::auth::AuthKey::from(b"k".as_slice()).as_bytes(), b"k");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Key length in bytes.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::auth::AuthKey::from("four").len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty (CPython accepts an empty key; higher layers should not).
    ///
    /// ```
    /// assert!(mpshare::managers::auth::AuthKey::from("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey(<redacted, {} bytes>)", self.0.len())
    }
}

impl PartialEq for AuthKey {
    fn eq(&self, other: &AuthKey) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for AuthKey {}

impl From<Vec<u8>> for AuthKey {
    fn from(v: Vec<u8>) -> AuthKey {
        AuthKey(v)
    }
}

impl From<&[u8]> for AuthKey {
    fn from(v: &[u8]) -> AuthKey {
        AuthKey(v.to_vec())
    }
}

impl From<&str> for AuthKey {
    fn from(v: &str) -> AuthKey {
        AuthKey(v.as_bytes().to_vec())
    }
}

impl From<String> for AuthKey {
    fn from(v: String) -> AuthKey {
        AuthKey(v.into_bytes())
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf)
        .map_err(|e| std::io::Error::other(e.to_string()))
        .os_context("getrandom")
}

/// The HMAC digests of CPython 3.12+'s handshake (`_ALLOWED_DIGESTS`).
///
/// ```
/// use mpshare::managers::auth::DigestName;
/// assert_eq!(DigestName::from_name(b"sha3_256"), Some(DigestName::Sha3_256));
/// assert_eq!(DigestName::Sha256.name(), "sha256");
/// assert_eq!(DigestName::Md5.mac(b"key", b"msg").len(), 16);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestName {
    /// HMAC-MD5 (16 bytes).
    Md5,
    /// HMAC-SHA256 (32 bytes), what 3.12+ challenges with.
    Sha256,
    /// HMAC-SHA384 (48 bytes).
    Sha384,
    /// HMAC-SHA3-256 (32 bytes).
    Sha3_256,
    /// HMAC-SHA3-384 (48 bytes).
    Sha3_384,
}

impl DigestName {
    /// All allowed digests.
    /// ```
    /// assert_eq!(mpshare::managers::auth::DigestName::ALL.len(), 5);
    /// ```
    pub const ALL: [DigestName; 5] = [
        DigestName::Md5,
        DigestName::Sha256,
        DigestName::Sha384,
        DigestName::Sha3_256,
        DigestName::Sha3_384,
    ];

    /// Python's name (`hashlib` spelling) of the digest.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::auth::DigestName::Sha3_384.name(), "sha3_384");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DigestName::Md5 => "md5",
            DigestName::Sha256 => "sha256",
            DigestName::Sha384 => "sha384",
            DigestName::Sha3_256 => "sha3_256",
            DigestName::Sha3_384 => "sha3_384",
        }
    }

    /// The digest called `name`, if it is one of the allowed five.
    ///
    /// ```
    /// use mpshare::managers::auth::DigestName;
    /// assert_eq!(DigestName::from_name(b"sha512"), None);
    /// ```
    pub fn from_name(name: &[u8]) -> Option<DigestName> {
        DigestName::ALL
            .into_iter()
            .find(|d| d.name().as_bytes() == name)
    }

    /// `HMAC-<digest>(key, msg)`.
    ///
    /// ```
    /// use mpshare::managers::auth::DigestName;
    /// assert_eq!(DigestName::Sha384.mac(b"", b"").len(), 48);
    /// ```
    pub fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
            // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
            match <M as KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            DigestName::Md5 => run::<Hmac<md5::Md5>>(key, msg),
            DigestName::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg),
            DigestName::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg),
            DigestName::Sha3_256 => run::<Hmac<sha3::Sha3_256>>(key, msg),
            DigestName::Sha3_384 => run::<Hmac<sha3::Sha3_384>>(key, msg),
        }
    }

    /// Constant-time check that `mac` is `HMAC-<digest>(key, msg)`.
    ///
    /// ```
    /// use mpshare::managers::auth::DigestName;
    /// let m = DigestName::Sha256.mac(b"k", b"m");
    /// assert!(DigestName::Sha256.verify(b"k", b"m", &m));
    /// assert!(!DigestName::Sha256.verify(b"x", b"m", &m));
    /// ```
    pub fn verify(self, key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
        fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
            match <M as KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.verify_slice(tag).is_ok()
                }
                Err(_) => false,
            }
        }
        match self {
            DigestName::Md5 => run::<Hmac<md5::Md5>>(key, msg, mac),
            DigestName::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg, mac),
            DigestName::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg, mac),
            DigestName::Sha3_256 => run::<Hmac<sha3::Sha3_256>>(key, msg, mac),
            DigestName::Sha3_384 => run::<Hmac<sha3::Sha3_384>>(key, msg, mac),
        }
    }
}

/// The form of challenge this side sends.
///
/// ```
/// use mpshare::managers::auth::{ChallengeForm, DigestName};
/// assert_eq!(ChallengeForm::default(), ChallengeForm::Modern(DigestName::Sha256));
/// assert_eq!(ChallengeForm::Legacy.body(&[0; 40]).len(), 20);
/// assert_eq!(ChallengeForm::default().body(&[0; 40]).len(), 48);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeForm {
    /// `{name}` + 40 random bytes (CPython 3.12+; 3.11 answers it too with raw HMAC-MD5).
    /// The default is `{sha256}`.
    Modern(DigestName),
    /// 20 random bytes, as CPython ≤ 3.11 sends; every version answers it with raw HMAC-MD5.
    Legacy,
}

impl Default for ChallengeForm {
    fn default() -> Self {
        ChallengeForm::Modern(DigestName::Sha256)
    }
}

impl ChallengeForm {
    /// The challenge body for this form built from `random` (the first 40 bytes are used for
    /// the modern form, 20 for the legacy one; missing bytes are zero).
    ///
    /// ```
    /// use mpshare::managers::auth::{ChallengeForm, DigestName};
    /// let b = ChallengeForm::Modern(DigestName::Md5).body(&[1; 40]);
    /// assert!(b.starts_with(b"{md5}"));
    /// ```
    pub fn body(self, random: &[u8]) -> Vec<u8> {
        let take = |n: usize| {
            let mut v = random[..random.len().min(n)].to_vec();
            v.resize(n, 0);
            v
        };
        match self {
            ChallengeForm::Legacy => take(LEGACY_BODY),
            ChallengeForm::Modern(d) => {
                let mut b = format!("{{{}}}", d.name()).into_bytes();
                b.extend_from_slice(&take(MODERN_NONCE));
                b
            }
        }
    }
}

/// Parse `{name}` at the start of `msg` (closing brace within the first 10 bytes, as CPython's
/// `_get_digest_name_and_payload`): the digest and what follows the prefix.
fn split_digest_prefix(msg: &[u8]) -> Option<(DigestName, &[u8])> {
    if msg.first() != Some(&b'{') {
        return None;
    }
    let limit = msg.len().min(10);
    let close = msg[1..limit].iter().position(|&c| c == b'}')? + 1;
    let d = DigestName::from_name(&msg[1..close])?;
    Some((d, &msg[close + 1..]))
}

/// Whether `reply` is a correct answer to `body` under `key` (CPython 3.12+ verify rule).
///
/// ```
/// use mpshare::managers::auth::{answer_for, verify_reply};
/// let body = b"{sha256}0123456789012345678901234567890123456789";
/// let reply = answer_for(b"key", body)?;
/// assert!(verify_reply(b"key", body, &reply));
/// assert!(!verify_reply(b"other", body, &reply));
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn verify_reply(key: &[u8], body: &[u8], reply: &[u8]) -> bool {
    if reply.len() == 16 || reply.len() == 20 {
        return DigestName::Md5.verify(key, body, reply);
    }
    match split_digest_prefix(reply) {
        Some((d, mac)) => d.verify(key, body, mac),
        None => false,
    }
}

/// The reply to challenge `body` under `key` (CPython 3.12+ answer rule, `docs/protocol.md` §2): a 20-byte body
/// gets raw HMAC-MD5, a `{name}`-prefixed body gets `{name}` + HMAC over the whole body.
///
/// ```
/// use mpshare::managers::auth::answer_for;
/// assert_eq!(answer_for(b"k", &[0; 20])?.len(), 16);
/// assert!(answer_for(b"k", &[0; 19]).is_err());
/// assert!(answer_for(b"k", b"{sha512}0123456789012345678901234567890123456789").is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn answer_for(key: &[u8], body: &[u8]) -> Result<Vec<u8>> {
    if body.len() < LEGACY_BODY {
        return Err(Error::Authentication(AuthError::UnsupportedChallenge {
            expected: "at least 20 bytes",
            found: format!("{} bytes", body.len()),
        }));
    }
    if body.len() == LEGACY_BODY {
        return Ok(DigestName::Md5.mac(key, body));
    }
    match split_digest_prefix(body) {
        Some((d, _)) => {
            let mut out = format!("{{{}}}", d.name()).into_bytes();
            out.extend_from_slice(&d.mac(key, body));
            Ok(out)
        }
        None => Err(Error::Authentication(AuthError::UnsupportedChallenge {
            expected: "a 20-byte body or a {md5|sha256|sha384|sha3_256|sha3_384} prefix",
            found: format!(
                "{} bytes starting {:?}",
                body.len(),
                String::from_utf8_lossy(&body[..body.len().min(12)])
            ),
        })),
    }
}

/// Run one handshake `steps` under the connection's handshake budget
/// ([`ConnectionConfig::handshake_timeout`](crate::managers::connection::ConnectionConfig::handshake_timeout)):
/// one deadline for every frame of the exchange however the peer trickles its bytes, writes
/// bounded by the same budget, the connection's own timeouts restored afterwards, and a timeout
/// anywhere reported as [`Error::Timeout`] of the whole budget.
fn within_budget(
    conn: &mut Connection,
    steps: impl FnOnce(&mut Connection, Instant) -> Result<()>,
) -> Result<()> {
    let budget = conn.config().handshake_timeout;
    let deadline = Instant::now() + budget;
    let g = TimeoutGuard::new(conn)?;
    steps(g.conn, deadline).map_err(|e| match e {
        Error::Timeout(_) => Error::Timeout(budget),
        e => e,
    })
}

/// Restores the connection's timeouts when the handshake ends, whatever the outcome.
struct TimeoutGuard<'a> {
    conn: &'a mut Connection,
    read: Option<std::time::Duration>,
    write: Option<std::time::Duration>,
}

impl<'a> TimeoutGuard<'a> {
    fn new(conn: &'a mut Connection) -> Result<TimeoutGuard<'a>> {
        let read = conn.read_timeout();
        let write = conn.write_timeout();
        let t = conn.config().handshake_timeout;
        conn.set_write_timeout(Some(t))?;
        Ok(TimeoutGuard { conn, read, write })
    }
}

impl Drop for TimeoutGuard<'_> {
    fn drop(&mut self) {
        let _ = self.conn.set_write_timeout(self.write);
        let _ = self.conn.set_read_timeout(self.read);
    }
}

fn preview(b: &[u8]) -> String {
    let shown = &b[..b.len().min(24)];
    format!(
        "{:?}{}",
        String::from_utf8_lossy(shown),
        if b.len() > shown.len() { "…" } else { "" }
    )
}

fn deliver(
    conn: &mut Connection,
    key: &AuthKey,
    form: ChallengeForm,
    deadline: Instant,
) -> Result<()> {
    let mut random = [0u8; MODERN_NONCE];
    fill_random(&mut random)?;
    let body = form.body(&random);
    let mut msg = Vec::with_capacity(CHALLENGE.len() + body.len());
    msg.extend_from_slice(CHALLENGE);
    msg.extend_from_slice(&body);
    conn.send_bytes(&msg)?;
    let reply = conn.recv_bytes_deadline(HANDSHAKE_FRAME_CAP, deadline)?;
    if verify_reply(key.as_bytes(), &body, &reply) {
        conn.send_bytes(WELCOME)?;
        Ok(())
    } else {
        // Like CPython: tell the peer, then fail. The peer may already be gone.
        let _ = conn.send_bytes(FAILURE);
        Err(Error::Authentication(AuthError::DigestRejected {
            reply_len: reply.len(),
        }))
    }
}

fn answer(conn: &mut Connection, key: &AuthKey, deadline: Instant) -> Result<()> {
    let msg = conn.recv_bytes_deadline(HANDSHAKE_FRAME_CAP, deadline)?;
    let body = msg.strip_prefix(CHALLENGE).ok_or_else(|| {
        Error::Authentication(AuthError::NotAChallenge {
            found: preview(&msg),
        })
    })?;
    let reply = answer_for(key.as_bytes(), body)?;
    conn.send_bytes(&reply)?;
    let verdict = conn.recv_bytes_deadline(HANDSHAKE_FRAME_CAP, deadline)?;
    if verdict == WELCOME {
        Ok(())
    } else if verdict == FAILURE {
        Err(Error::Authentication(AuthError::PeerRejected))
    } else {
        Err(Error::Authentication(AuthError::UnexpectedVerdict {
            found: preview(&verdict),
        }))
    }
}

/// Challenge the peer (send `#CHALLENGE#` + `{sha256}` + 40 random bytes), check its reply and
/// send `#WELCOME#` or `#FAILURE#`. Frames are capped at 256 bytes and the whole exchange at the
/// connection's [`handshake_timeout`](crate::managers::connection::ConnectionConfig::handshake_timeout).
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey}, connection::Connection};
/// let (mut a, mut b) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::answer_challenge(&mut b, &AuthKey::from("k")));
/// auth::deliver_challenge(&mut a, &AuthKey::from("k"))?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn deliver_challenge(conn: &mut Connection, key: &AuthKey) -> Result<()> {
    deliver_challenge_with(conn, key, ChallengeForm::default())
}

/// [`deliver_challenge`] with a chosen challenge form (e.g. [`ChallengeForm::Legacy`] for
/// peers older than 3.12 that expect 20-byte challenges).
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey, ChallengeForm}, connection::Connection};
/// let (mut a, mut b) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::answer_challenge(&mut b, &AuthKey::from("k")));
/// auth::deliver_challenge_with(&mut a, &AuthKey::from("k"), ChallengeForm::Legacy)?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn deliver_challenge_with(
    conn: &mut Connection,
    key: &AuthKey,
    form: ChallengeForm,
) -> Result<()> {
    within_budget(conn, |c, deadline| deliver(c, key, form, deadline))
}

/// Answer the peer's challenge (CPython 3.12+ answer rule) and require `#WELCOME#` back.
///
/// ```
/// use mpshare::{Error, managers::{auth::{self, AuthKey}, connection::Connection}};
/// let (mut a, mut b) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::answer_challenge(&mut b, &AuthKey::from("wrong")));
/// assert!(matches!(auth::deliver_challenge(&mut a, &AuthKey::from("k")), Err(Error::Authentication(_))));
/// assert!(matches!(t.join().unwrap(), Err(Error::Authentication(_))));
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn answer_challenge(conn: &mut Connection, key: &AuthKey) -> Result<()> {
    within_budget(conn, |c, deadline| answer(c, key, deadline))
}

/// The acceptor's side of the mutual handshake: challenge, then answer.
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey}, connection::Connection};
/// let (mut s, mut c) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::client_handshake(&mut c, &AuthKey::from("k")));
/// auth::server_handshake(&mut s, &AuthKey::from("k"))?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn server_handshake(conn: &mut Connection, key: &AuthKey) -> Result<()> {
    server_handshake_with(conn, key, ChallengeForm::default())
}

/// [`server_handshake`] with a chosen challenge form.
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey, ChallengeForm, DigestName}, connection::Connection};
/// let (mut s, mut c) = Connection::pair()?;
/// let form = ChallengeForm::Modern(DigestName::Sha3_384);
/// let t = std::thread::spawn(move || auth::client_handshake_with(&mut c, &AuthKey::from("k"), form));
/// auth::server_handshake_with(&mut s, &AuthKey::from("k"), form)?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn server_handshake_with(
    conn: &mut Connection,
    key: &AuthKey,
    form: ChallengeForm,
) -> Result<()> {
    within_budget(conn, |c, deadline| {
        deliver(c, key, form, deadline)?;
        answer(c, key, deadline)
    })
}

/// The connecting side of the mutual handshake: answer, then challenge.
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey}, connection::Connection};
/// let (mut s, mut c) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::server_handshake(&mut s, &AuthKey::from("k")));
/// auth::client_handshake(&mut c, &AuthKey::from("k"))?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn client_handshake(conn: &mut Connection, key: &AuthKey) -> Result<()> {
    client_handshake_with(conn, key, ChallengeForm::default())
}

/// [`client_handshake`] with a chosen challenge form.
///
/// ```
/// use mpshare::managers::{auth::{self, AuthKey, ChallengeForm}, connection::Connection};
/// let (mut s, mut c) = Connection::pair()?;
/// let t = std::thread::spawn(move || auth::server_handshake(&mut s, &AuthKey::from("k")));
/// auth::client_handshake_with(&mut c, &AuthKey::from("k"), ChallengeForm::Legacy)?;
/// t.join().unwrap()?;
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn client_handshake_with(
    conn: &mut Connection,
    key: &AuthKey,
    form: ChallengeForm,
) -> Result<()> {
    within_budget(conn, |c, deadline| {
        answer(c, key, deadline)?;
        deliver(c, key, form, deadline)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        AuthKey::from_hex(s).unwrap().as_bytes().to_vec()
    }

    #[test]
    fn prefix_parsing() {
        assert_eq!(
            split_digest_prefix(b"{md5}xx").map(|p| p.0),
            Some(DigestName::Md5)
        );
        assert_eq!(
            split_digest_prefix(b"{sha3_384}x").map(|p| p.0),
            Some(DigestName::Sha3_384)
        );
        assert!(split_digest_prefix(b"{sha3_3844}x").is_none());
        assert!(split_digest_prefix(b"{").is_none());
        assert!(split_digest_prefix(b"").is_none());
        assert!(split_digest_prefix(b"sha256}").is_none());
    }

    #[test]
    fn hmac_known_answers() {
        // RFC 2104 / RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?".
        let m = b"what do ya want for nothing?";
        assert_eq!(
            DigestName::Md5.mac(b"Jefe", m),
            hex("750c783e6ab0b503eaa86e310a5db738")
        );
        assert_eq!(
            DigestName::Sha256.mac(b"Jefe", m),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn reply_rules() {
        let body = [7u8; 20];
        let r = answer_for(b"k", &body).unwrap();
        assert!(verify_reply(b"k", &body, &r));
        let mut r20 = r.clone();
        r20.extend_from_slice(&[0; 4]);
        assert!(!verify_reply(b"k", &body, &r20));
        for d in DigestName::ALL {
            let body = ChallengeForm::Modern(d).body(&[3; 40]);
            let r = answer_for(b"k", &body).unwrap();
            assert!(r.starts_with(format!("{{{}}}", d.name()).as_bytes()));
            assert!(verify_reply(b"k", &body, &r));
            // Raw MD5 over the full body is accepted too.
            assert!(verify_reply(b"k", &body, &DigestName::Md5.mac(b"k", &body)));
        }
    }
}
