//! Issue #14: `mpshare serve --store rediss://…` (feature `redis-store-tls`) against a
//! `redis-server` that speaks TLS only (`--port 0 --tls-port P`), its certificate signed by a
//! private CA made here with `openssl`:
//!
//! * two front-ends trusting the CA (`--store-ca`) serve one named dict: a stock CPython client
//!   writes it through one and another reads it through the other;
//! * without `--store-ca` (the system's roots do not know the CA) a front-end refuses to start
//!   with an error naming the untrusted certificate and `--store-ca`, promptly; so does one
//!   whose `--store-ca` holds a key instead of a certificate, naming the file;
//! * mutual TLS (`--tls-auth-clients yes`): a front-end with `--store-cert`/`--store-key` serves,
//!   one without is refused.
//!
//! Skipped, with the reason printed, without `openssl`, `redis-server` (a panic with
//! `MPSHARE_REQUIRE_REDIS=1`) or a redis-server built with TLS. Every wait is bounded and
//! every process started here is killed on drop.

mod common;
mod redis_support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis_support::KEY;

/// `NAME` in PATH, /usr/bin or /usr/local/bin.
fn find(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/bin".into());
    dirs.push("/usr/local/bin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A directory of its own under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let d = std::env::temp_dir().join(format!("mpshare-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the temp dir");
        TempDir(d)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl ARGS` in `dir` (at most 30 s); the error carries its output.
fn openssl(bin: &Path, dir: &Path, args: &[&str]) -> Result<(), String> {
    let child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let (status, out, err) = common::wait_output(child, Duration::from_secs(30));
    if status.success() {
        Ok(())
    } else {
        Err(format!("openssl {args:?} failed ({status})\n{out}\n{err}"))
    }
}

/// A private CA (`ca.pem`), a server certificate for 127.0.0.1 (`server.pem`, `server.key`)
/// and a client certificate (`client.pem`, `client.key`), all P-256, in a temp dir.
fn make_pki() -> Option<TempDir> {
    let Some(bin) = find("openssl") else {
        eprintln!("skipped: openssl not found (looked in PATH, /usr/bin, /usr/local/bin)");
        return None;
    };
    let dir = TempDir::new("tls");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let run = |args: &[&str]| openssl(&bin, &dir.0, args).unwrap_or_else(|e| panic!("{e}"));
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mpshare test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    for (name, cn, ext) in [
        (
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "client",
            "/CN=mpshare front-end",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=clientAuth\n",
        ),
    ] {
        std::fs::write(dir.0.join(format!("{name}.ext")), ext).expect("write ext");
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", cn]);
        run(&req);
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ]);
    }
    Some(dir)
}

/// A `redis-server` listening with TLS only, on 127.0.0.1; killed and reaped on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl TlsRedis {
    /// Starts one with the certificates of `pki` and `--tls-auth-clients AUTH`; waits (at most
    /// 10 s) for its port. `None` (printed) without a redis-server or without TLS in it.
    fn start(pki: &TempDir, auth: &str) -> Option<TlsRedis> {
        let Some(bin) = find("redis-server").or_else(|| find("valkey-server")) else {
            let msg = "skipped: redis-server not found (looked in PATH, /usr/bin, /usr/local/bin)";
            if common::redis::required() {
                panic!("{msg}; {}=1 requires it", common::redis::REQUIRE_ENV);
            }
            eprintln!("{msg}");
            return None;
        };
        let mut last = String::new();
        for _ in 0..3 {
            let dir = TempDir::new("tls-redis");
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let log = std::fs::File::create(dir.0.join("redis.log")).expect("redis.log");
            let child = Command::new(&bin)
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--protected-mode", "no", "--dir"])
                .arg(&dir.0)
                .args(["--tls-cert-file", &pki.path("server.pem")])
                .args(["--tls-key-file", &pki.path("server.key")])
                .args(["--tls-ca-cert-file", &pki.path("ca.pem")])
                .args(["--tls-auth-clients", auth])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start redis-server");
            let mut r = TlsRedis {
                child,
                port,
                _dir: dir,
            };
            let deadline = Instant::now() + common::redis::START_LIMIT;
            loop {
                let up = TcpStream::connect_timeout(
                    &([127, 0, 0, 1], port).into(),
                    Duration::from_millis(500),
                )
                .is_ok();
                if up {
                    return Some(r);
                }
                if let Ok(Some(st)) = r.child.try_wait() {
                    last = format!(
                        "exited ({st}): {}",
                        std::fs::read_to_string(r._dir.0.join("redis.log")).unwrap_or_default()
                    );
                    break;
                }
                if Instant::now() >= deadline {
                    last = "did not listen within 10 s".to_string();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // r drops: killed, reaped, its directory removed; try another port.
        }
        if last.contains("TLS") && !last.contains("Address already in use") {
            eprintln!("skipped: this redis-server does not speak TLS: {last}");
            return None;
        }
        panic!("the TLS redis-server did not start: {last}");
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mpshare serve --store URL ARGS` is expected to refuse to start: its error (stderr), after
/// checking it exited within 15 s rather than hanging.
fn refused(url: &str, args: &[&str]) -> String {
    let t0 = Instant::now();
    let mut all = vec!["--store", url];
    all.extend(args);
    let err = match common::serve::try_serve_at(KEY, "127.0.0.1:0", &all) {
        Ok((_serve, addr)) => {
            panic!("mpshare serve {all:?} started (on {addr}): expected a refusal")
        }
        Err(e) => e,
    };
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "mpshare serve {all:?} took {:.1?} to give up: expected a prompt refusal\n{err}",
        t0.elapsed()
    );
    eprintln!("refused as expected in {:.2?}: {err}", t0.elapsed());
    err
}

#[test]
fn two_frontends_share_a_named_dict_over_tls() {
    let Some(pki) = make_pki() else { return };
    let Some(redis) = TlsRedis::start(&pki, "optional") else {
        return;
    };
    let pythons = common::pythons();
    if pythons.is_empty() {
        eprintln!("skipped: no CPython 3.11-3.13 found");
        return;
    }
    let url = redis.url();
    let ca = pki.path("ca.pem");
    let (_a, addr_a) = redis_support::frontend(&url, &["--store-ca", &ca]);
    let (_b, addr_b) = redis_support::frontend(&url, &["--store-ca", &ca]);
    for (i, (version, python)) in pythons.iter().enumerate() {
        let (rv, reader) = &pythons[(i + 1) % pythons.len()];
        let tag = format!("tls{version}");
        redis_support::role(version, python, &addr_a, &["write", &tag]);
        redis_support::role(rv, reader, &addr_b, &["read", &tag]);
    }
}

#[test]
fn an_untrusted_store_certificate_or_a_bad_pem_file_is_refused_at_start() {
    let Some(pki) = make_pki() else { return };
    let Some(redis) = TlsRedis::start(&pki, "optional") else {
        return;
    };
    let url = redis.url();

    // The system's roots do not know the private CA.
    let err = refused(&url, &[]);
    assert!(
        err.contains("not trusted") && err.contains("--store-ca"),
        "expected the untrusted certificate and --store-ca in the error, found:\n{err}"
    );

    // A key where the CA certificate belongs.
    let key = pki.path("server.key");
    let err = refused(&url, &["--store-ca", &key]);
    assert!(
        err.contains(&format!(
            "expected a PEM certificate in {key}, found a PEM PRIVATE KEY"
        )),
        "expected the PEM error naming {key}, found:\n{err}"
    );

    // A file that is not there.
    let missing = pki.path("no-such-ca.pem");
    let err = refused(&url, &["--store-ca", &missing]);
    assert!(
        err.contains(&format!("cannot read the CA certificate file {missing}")),
        "expected the unreadable file named, found:\n{err}"
    );

    // A client certificate without its key.
    let err = refused(
        &url,
        &[
            "--store-ca",
            &pki.path("ca.pem"),
            "--store-cert",
            &pki.path("client.pem"),
        ],
    );
    assert!(
        err.contains("--store-key"),
        "expected --store-key in the error, found:\n{err}"
    );

    // A CA file for a plain redis:// URL.
    let plain = format!("redis://127.0.0.1:{}/0", redis.port);
    let err = refused(&plain, &["--store-ca", &pki.path("ca.pem")]);
    assert!(
        err.contains("needs a rediss:// URL"),
        "expected `needs a rediss:// URL`, found:\n{err}"
    );
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let Some(pki) = make_pki() else { return };
    let Some(redis) = TlsRedis::start(&pki, "yes") else {
        return;
    };
    let url = redis.url();
    let ca = pki.path("ca.pem");

    let err = refused(&url, &["--store-ca", &ca]);
    assert!(
        err.contains("--store-cert"),
        "expected --store-cert in the error, found:\n{err}"
    );

    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let (_a, addr_a) = redis_support::frontend(
        &url,
        &[
            "--store-ca",
            &ca,
            "--store-cert",
            &cert,
            "--store-key",
            &key,
        ],
    );
    if let Some((version, python)) = common::any_python() {
        redis_support::role(&version, &python, &addr_a, &["write", "mtls"]);
        redis_support::role(&version, &python, &addr_a, &["read", "mtls"]);
    }
}
