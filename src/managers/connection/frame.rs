//! The frame header of `multiprocessing.connection`: a signed big-endian `i32` payload length,
//! or the escape `ff ff ff ff` followed by a big-endian `u64` length for payloads longer than
//! `0x7fffffff` bytes. One codec, used by the sender, by the receiver and by the check for a
//! whole buffered frame.

/// The longest header: the 4-byte escape and the 8-byte length.
pub(super) const MAX_HEADER: usize = 12;

/// The header for a payload of `len` bytes, and its length (4, or 12 with the escape).
pub(super) fn encode(len: usize) -> ([u8; MAX_HEADER], usize) {
    let mut header = [0u8; MAX_HEADER];
    if len <= 0x7fff_ffff {
        header[..4].copy_from_slice(&(len as u32).to_be_bytes());
        (header, 4)
    } else {
        header[..4].copy_from_slice(&[0xff; 4]);
        header[4..12].copy_from_slice(&(len as u64).to_be_bytes());
        (header, 12)
    }
}

/// What the first bytes of a frame say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Header {
    /// At least this many header bytes are needed to know the length.
    Incomplete(usize),
    /// A payload of `len` bytes follows a header of `size` bytes.
    Frame {
        /// Header bytes (4 or 12).
        size: usize,
        /// Payload bytes.
        len: u64,
    },
    /// A negative length other than the `-1` escape.
    Bad(i32),
}

/// Read the header at the start of `buf`.
pub(super) fn decode(buf: &[u8]) -> Header {
    let Some(first) = buf.first_chunk::<4>() else {
        return Header::Incomplete(4);
    };
    match i32::from_be_bytes(*first) {
        -1 => match buf.get(4..12).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(l) => Header::Frame {
                size: 12,
                len: u64::from_be_bytes(l),
            },
            None => Header::Incomplete(12),
        },
        n if n < 0 => Header::Bad(n),
        n => Header::Frame {
            size: 4,
            len: n as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_the_one_codec() {
        for len in [0usize, 1, 300, 0x7fff_ffff, 0x8000_0000, 1 << 40] {
            let (h, n) = encode(len);
            assert_eq!(
                decode(&h[..n]),
                Header::Frame {
                    size: n,
                    len: len as u64
                }
            );
            assert_eq!(decode(&h[..n - 1]), Header::Incomplete(n));
        }
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xfe]), Header::Bad(-2));
        assert_eq!(decode(&[]), Header::Incomplete(4));
    }
}
