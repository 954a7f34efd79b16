//! Python's `multiprocessing.managers`: compound objects in a server, reached through proxies,
//! over CPython's own wire protocol (cargo feature `manager`, on by default).
//!
//! The everyday names are here: [`Manager`] (a client, or [`Manager::start`] for a server on a
//! background thread like Python's `Manager()`), [`Server`] and [`ServerConfig`], [`AuthKey`]
//! and [`Address`].
//!
//! ```
//! use mpshare::managers::Manager;
//! let m = Manager::start()?;
//! let d = m.dict()?;
//! d.set("answer", 42)?;
//! assert_eq!(d.get_item::<_, i64>("answer")?, 42);
//! # Ok::<(), mpshare::Error>(())
//! ```
//!
//! The layers, bottom up:
//!
//! * [`connection`] and [`auth`]: sockets, the length-prefixed framing and the HMAC authkey
//!   handshake;
//! * [`pickle`] and [`wire`]: the value model, a pickle codec that never executes code, and
//!   the typed requests, replies and tokens;
//! * [`sdk`], [`objects`] and [`server`]: what a served type implements (`ServedObject`,
//!   `TypeSpec`, `CallCtx`, argument helpers), the built-in `SyncManager` typeids, and the
//!   server;
//! * [`client`] and [`proxy`]: the client with the generic [`Proxy`](client::Proxy) handle, and
//!   the typed proxies (`DictProxy`, `QueueProxy`, ...).
//!
//! The protocol notes the code relies on (framing, handshake, messages, pickle subset, CPython
//! versions checked) are in `docs/protocol.md` of the repository.

pub mod auth;
pub mod client;
pub mod connection;
pub mod objects;
pub mod pickle;
pub mod proxy;
pub mod sdk;
pub mod server;
mod start;
pub mod wire;

pub use auth::AuthKey;
pub use client::Manager;
pub use connection::Address;
pub use server::{Server, ServerConfig};
pub use start::LocalManager;

/// The wire layer's old name (`managers::message`), kept so existing code compiles.
#[doc(hidden)]
pub use wire as message;
