//! Any byte stream into the frame reader (with a small maximum): frames or errors, never a
//! panic or an allocation beyond the maximum.
#![no_main]
use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mpshare::managers::connection::Connection;

fuzz_target!(|data: &[u8]| {
    let Ok((mut a, b)) = std::os::unix::net::UnixStream::pair() else { return };
    let _ = a.write_all(&data[..data.len().min(64 * 1024)]);
    drop(a);
    let Ok(mut conn) = Connection::from_unix(b, Default::default()) else { return };
    conn.set_max_frame(1 << 16);
    for _ in 0..64 {
        if conn.recv_bytes().is_err() {
            break;
        }
    }
});
