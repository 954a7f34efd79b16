//! # mpshare
//!
//! Python's `multiprocessing` shared state for Rust processes.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod error;
pub mod manager;

pub use error::{Error, Result};
