//! Any bytes into the pickle decoder: never a panic, never past the limits; what decodes
//! re-encodes and decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpshare::managers::pickle::{dumps, loads_with, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_elements: 100_000,
        max_total_bytes: 1 << 20,
        ..Limits::default()
    };
    if let Ok(v) = loads_with(data, &limits) {
        // Whatever decodes encodes again, and decodes to the identical value (same types, same
        // float bits, same sharing), not merely the same display text.
        let bytes = dumps(&v).expect("a decoded value encodes");
        let again = loads_with(&bytes, &Limits::default()).expect("our own encoding decodes");
        assert!(again.identical(&v), "round trip changed {v} into {again}");
    }
});
