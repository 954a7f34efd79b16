//! The manager path: compound objects in a server, reached through proxies, over CPython's own
//! wire protocol.

pub mod auth;
pub mod client;
pub mod connection;
pub mod message;
pub mod pickle;
pub mod proxy;
