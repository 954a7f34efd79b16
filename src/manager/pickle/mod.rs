//! Pickle codec.
