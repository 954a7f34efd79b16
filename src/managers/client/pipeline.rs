//! Pipelined proxy calls: queue many requests, send them back to back on the thread's proxy
//! connection, then read the replies in order.
//!
//! A manager server answers the requests of one connection strictly in order (CPython serves
//! each connection on its own thread with a `recv`/`send` loop), so a client may write several
//! requests before reading. [`Pipeline::finish`] keeps a **bounded window** of unanswered
//! calls: at most `batch` calls (default [`DEFAULT_PIPELINE_BATCH`] = 256) and at most
//! [`PIPELINE_CHUNK_BYTES`] (64 KiB) of request frames (a single larger request is sent alone).
//! It fills the window, reads one reply, tops the window up, and so on. Bounding the unanswered
//! request bytes by 64 KiB — less than a loopback/Unix socket's receive buffer — means our writes
//! always complete even while the server is itself blocked writing large replies we have not
//! read yet, so the exchange cannot deadlock on full socket buffers.
//!
//! TCP note: a CPython server leaves Nagle's algorithm on, so when this client stops sending
//! (the end of a pipeline) and delays its ACKs, the server may hold its last replies for one
//! delayed-ACK period (about 40 ms on Linux) — once per [`Pipeline::finish`]. Pipelines pay off
//! most over Unix sockets, or for long batches over TCP.
//!
//! A blocking call inside a pipeline (e.g. `Queue.get` on an empty queue) stalls the calls
//! queued after it, exactly as on a plain connection.

use serde::Serialize;

use super::Manager;
use super::{args_of, Proxy};
use crate::error::ProtocolError;
use crate::managers::pickle::PyValue;
use crate::managers::wire::{Reply, Request};
use crate::{Error, Result};

/// Default number of calls sent before their replies are read.
/// ```
/// assert_eq!(mpshare::managers::client::pipeline::DEFAULT_PIPELINE_BATCH, 256);
/// ```
pub const DEFAULT_PIPELINE_BATCH: usize = 256;

/// Most request bytes sent before reading replies (unless a single request is larger).
/// ```
/// assert_eq!(mpshare::managers::client::pipeline::PIPELINE_CHUNK_BYTES, 65536);
/// ```
pub const PIPELINE_CHUNK_BYTES: usize = 64 * 1024;

enum Slot {
    Frame(Vec<u8>),
    Failed(Error),
}

/// A batch of proxy calls sent back to back on the calling thread's proxy connection
/// (see the [module docs](self) for the chunking rule). Created by [`Manager::pipeline`].
///
/// ```
/// use mpshare::managers::pickle::PyValue;
/// # let m = mpshare::managers::client::Manager::start()?;
/// let d = m.dict()?;
/// let mut p = m.pipeline();
/// p.call(&d, "__setitem__", vec![PyValue::str("a"), PyValue::Int(1)], vec![]);
/// p.call(&d, "__getitem__", vec![PyValue::str("a")], vec![]);
/// p.call(&d, "__getitem__", vec![PyValue::str("missing")], vec![]);
/// let r = p.finish()?;
/// assert_eq!(r[1].as_ref().unwrap(), &PyValue::Int(1));
/// assert!(r[2].is_err()); // KeyError
/// # Ok::<(), mpshare::Error>(())
/// ```
pub struct Pipeline {
    manager: Manager,
    slots: Vec<Slot>,
    batch: usize,
}

impl Pipeline {
    pub(crate) fn new(manager: Manager) -> Pipeline {
        Pipeline {
            manager,
            slots: Vec::new(),
            batch: DEFAULT_PIPELINE_BATCH,
        }
    }

    /// Set the number of calls per chunk (at least 1).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let p = m.pipeline().with_batch(64);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn with_batch(mut self, batch: usize) -> Pipeline {
        self.batch = batch.max(1);
        self
    }

    /// Number of queued calls.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// assert_eq!(m.pipeline().len(), 0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no call is queued.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// assert!(m.pipeline().is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Queue `proxy.method(*args, **kwargs)`. A call that cannot be queued (the proxy belongs
    /// to another manager client, or an argument cannot be pickled) gets its error in its slot
    /// of [`Pipeline::finish`]'s result and is not sent.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let l = m.list()?;
    /// let mut p = m.pipeline();
    /// p.call(&l, "append", vec![PyValue::Int(1)], vec![]).call(&l, "__len__", vec![], vec![]);
    /// assert_eq!(p.finish()?[1].as_ref().unwrap(), &PyValue::Int(1));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn call(
        &mut self,
        proxy: &Proxy,
        method: &str,
        args: Vec<PyValue>,
        kwargs: Vec<(String, PyValue)>,
    ) -> &mut Self {
        let slot = if !proxy.manager().same_client(&self.manager) {
            Slot::Failed(Error::ForeignProxy {
                ident: proxy.token().id.clone(),
            })
        } else {
            let mut req = Request::call(&proxy.token().id, method, args);
            req.kwds = kwargs.into();
            match req.encode() {
                Ok(f) => Slot::Frame(f),
                Err(e) => Slot::Failed(e),
            }
        };
        self.slots.push(slot);
        self
    }

    /// Queue `proxy.method(*args)` with serde arguments (a tuple; `()` for none).
    ///
    /// ```no_run
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// let mut p = m.pipeline();
    /// p.push(&d, "__setitem__", ("k", 1))?;
    /// p.finish()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn push<A: Serialize>(&mut self, proxy: &Proxy, method: &str, args: A) -> Result<()> {
        let args = args_of(&args)?;
        self.call(proxy, method, args, vec![]);
        Ok(())
    }

    /// Send every queued call and read the replies, in order. The outer error is a transport
    /// failure (the thread's proxy connection is then discarded and the state of the calls
    /// is unknown); the inner results are each call's outcome (`#ERROR` →
    /// [`Error::Remote`], ...). A `#PROXY` reply (e.g. `__iter__`) is released again (decref)
    /// and reported as an [`Error::Protocol`]: use [`Proxy::call_proxy`] for those calls.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let results = m.pipeline().finish()?;
    /// assert!(results.is_empty());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn finish(self) -> Result<Vec<Result<PyValue>>> {
        let Pipeline {
            manager,
            slots,
            batch,
        } = self;
        let frames: Vec<&[u8]> = slots
            .iter()
            .filter_map(|s| match s {
                Slot::Frame(f) => Some(f.as_slice()),
                Slot::Failed(_) => None,
            })
            .collect();
        let raw: Vec<Vec<u8>> = if frames.is_empty() {
            Vec::new()
        } else {
            manager.with_connection(|conn| {
                // Sliding window: at most `batch` calls and PIPELINE_CHUNK_BYTES of request
                // bytes unanswered (so neither side can block on a full socket buffer). Requests
                // are queued and sent with one system call per refill; after at least one reply,
                // every reply already buffered is taken, then the window is refilled. Refilling
                // right after reading also sends the TCP ACK of those replies, which keeps a
                // Nagle-enabled server (CPython) from holding back its next replies.
                let mut out = Vec::with_capacity(frames.len());
                let mut in_flight: std::collections::VecDeque<usize> =
                    std::collections::VecDeque::new();
                let mut in_flight_bytes = 0usize;
                let mut next = 0usize;
                while out.len() < frames.len() {
                    while next < frames.len()
                        && in_flight.len() < batch
                        && (in_flight.is_empty()
                            || in_flight_bytes + frames[next].len() + 4 <= PIPELINE_CHUNK_BYTES)
                    {
                        conn.queue_bytes(frames[next]);
                        in_flight.push_back(frames[next].len() + 4);
                        in_flight_bytes += frames[next].len() + 4;
                        next += 1;
                    }
                    conn.flush()?;
                    loop {
                        out.push(conn.recv_bytes()?);
                        if let Some(n) = in_flight.pop_front() {
                            in_flight_bytes -= n;
                        }
                        let keep_reading = !in_flight.is_empty()
                            && (next == frames.len() || conn.has_buffered_frame());
                        if !keep_reading {
                            break;
                        }
                    }
                }
                Ok(out)
            })?
        };
        let mut raw = raw.into_iter();
        let mut results = Vec::with_capacity(slots.len());
        for (index, s) in slots.into_iter().enumerate() {
            results.push(match s {
                Slot::Failed(e) => Err(e),
                Slot::Frame(_) => match raw.next() {
                    Some(bytes) => decode_reply(&manager, &bytes),
                    None => Err(Error::Protocol(ProtocolError::MissingReply { index })),
                },
            });
        }
        Ok(results)
    }
}

fn decode_reply(manager: &Manager, bytes: &[u8]) -> Result<PyValue> {
    match Reply::decode(bytes)? {
        Reply::Proxy { exposed, token } => {
            let id = token.id.clone();
            // Adopt and release at once so that the server-side object does not leak.
            drop(Proxy::adopt(manager.clone(), token, exposed));
            Err(Error::Protocol(ProtocolError::UnexpectedReply {
                method: "pipelined call".into(),
                expected: "a value (a pipeline cannot hold a proxy: use Proxy::call_proxy)",
                found: format!("#PROXY {id}"),
            }))
        }
        other => other.into_result(),
    }
}
