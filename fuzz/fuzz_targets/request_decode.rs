//! Any bytes as a manager request or reply: an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpshare::managers::wire::{Reply, Request};

fuzz_target!(|data: &[u8]| {
    let _ = Request::decode(data);
    let _ = Reply::decode(data);
});
