//! The manager path: compound objects in a server, reached through proxies, over CPython's own
//! wire protocol.
//!
//! * [`connection`] and [`auth`]: framing and the HMAC authkey handshake;
//! * [`pickle`] and [`message`]: the value model, a pickle codec that never executes code, and
//!   the request/reply shapes;
//! * [`server`] and [`objects`]: the server with the SyncManager typeids and user types;
//! * [`client`] and [`proxy`]: the Rust client and typed proxies; [`client::Manager::start`]
//!   runs a server on a background thread, like Python's `Manager()`.

pub mod auth;
pub mod client;
pub mod connection;
pub mod message;
pub mod objects;
pub mod pickle;
pub mod proxy;
pub mod server;
mod start;

pub use start::LocalManager;
