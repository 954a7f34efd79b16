//! The manager path: compound objects in a server, reached through proxies, over CPython's own
//! wire protocol.

pub mod auth;
pub mod connection;
pub mod message;
pub mod objects;
pub mod pickle;
pub mod server;
