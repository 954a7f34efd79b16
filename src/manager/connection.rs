//! connection (in progress).
