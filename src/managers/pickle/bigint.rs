//! Arbitrary-precision integers stored as little-endian two's-complement bytes (pickle's own
//! `LONG1`/`LONG4` representation), with just the arithmetic the codec needs.

use crate::error::PickleError;
use crate::{Error, Result};

/// An integer outside the `i64` range, kept as normalised little-endian two's-complement bytes
/// (the exact payload of pickle's `LONG1`/`LONG4` opcodes).
///
/// Values built through [`PyValue::int_from_le_bytes`](super::PyValue::int_from_le_bytes) or the
/// `From<i128>`/`From<u128>` conversions become [`PyValue::Int`](super::PyValue::Int) when they fit
/// `i64`, so a `PyBigInt` never holds an `i64`-sized value and equality is byte equality.
///
/// ```
/// use mpshare::managers::pickle::PyValue;
/// let v = PyValue::from(1u128 << 70);
/// let big = v.as_bigint().unwrap();
/// assert_eq!(big.to_le_bytes(), &[0, 0, 0, 0, 0, 0, 0, 0, 0x40]);
/// assert_eq!(v.to_string(), "1180591620717411303424");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PyBigInt {
    bytes: Vec<u8>,
}

impl PyBigInt {
    /// Wraps already-normalised bytes that do not fit `i64` (crate-internal invariant).
    pub(crate) fn from_normalised(bytes: Vec<u8>) -> Self {
        PyBigInt { bytes }
    }

    /// The normalised little-endian two's-complement bytes.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// let v = PyValue::from(-(1i128 << 64));
    /// assert_eq!(v.as_bigint().unwrap().to_le_bytes(), &[0, 0, 0, 0, 0, 0, 0, 0, 0xff]);
    /// ```
    pub fn to_le_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when the value is negative.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert!(PyValue::from(-(1i128 << 80)).as_bigint().unwrap().is_negative());
    /// ```
    pub fn is_negative(&self) -> bool {
        self.bytes.last().is_some_and(|b| b & 0x80 != 0)
    }

    /// The value as `i128` when it fits.
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::from(1i128 << 100).as_bigint().unwrap().to_i128(), Some(1i128 << 100));
    /// ```
    pub fn to_i128(&self) -> Option<i128> {
        if self.bytes.len() > 16 {
            return None;
        }
        let fill = if self.is_negative() { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[..self.bytes.len()].copy_from_slice(&self.bytes);
        Some(i128::from_le_bytes(buf))
    }

    /// The value as `u128` when it fits (non-negative and at most 128 bits).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::from(u128::MAX).as_bigint().unwrap().to_u128(), Some(u128::MAX));
    /// ```
    pub fn to_u128(&self) -> Option<u128> {
        if self.is_negative() {
            return None;
        }
        let mut b = self.bytes.as_slice();
        if b.len() == 17 && b[16] == 0 {
            b = &b[..16];
        }
        if b.len() > 16 {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..b.len()].copy_from_slice(b);
        Some(u128::from_le_bytes(buf))
    }

    /// The value as `f64` (rounded like Python's `float(int)` for values up to 2**1024, else an
    /// error like Python's `OverflowError`).
    ///
    /// ```
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(PyValue::from(1u128 << 70).as_bigint().unwrap().to_f64().unwrap(), 2f64.powi(70));
    /// ```
    pub fn to_f64(&self) -> Result<f64> {
        let neg = self.is_negative();
        let mag = magnitude(&self.bytes);
        let mut f = 0f64;
        for b in mag.iter().rev() {
            f = f * 256.0 + f64::from(*b);
        }
        if f.is_infinite() {
            return Err(Error::Conversion(
                "int too large to convert to float".to_string(),
            ));
        }
        Ok(if neg { -f } else { f })
    }
}

/// Removes redundant sign-extension bytes. Empty input means 0.
pub(crate) fn normalise(mut b: Vec<u8>) -> Vec<u8> {
    while b.len() > 1 {
        let last = b[b.len() - 1];
        let prev = b[b.len() - 2];
        if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
            b.pop();
        } else {
            break;
        }
    }
    if b.len() == 1 && b[0] == 0 {
        b.clear();
    }
    b
}

/// Sign-extends normalised bytes to an i64 when they fit.
pub(crate) fn fits_i64(b: &[u8]) -> Option<i64> {
    if b.len() > 8 {
        return None;
    }
    let fill = if b.last().is_some_and(|x| x & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut buf = [fill; 8];
    buf[..b.len()].copy_from_slice(b);
    Some(i64::from_le_bytes(buf))
}

/// Two's-complement bytes of an i64, normalised (0 is empty).
pub(crate) fn i64_bytes(v: i64) -> Vec<u8> {
    normalise(v.to_le_bytes().to_vec())
}

/// Magnitude (absolute value) of normalised two's-complement bytes, as unsigned LE bytes.
pub(crate) fn magnitude(b: &[u8]) -> Vec<u8> {
    if b.last().is_some_and(|x| x & 0x80 != 0) {
        negate(b)
    } else {
        b.to_vec()
    }
}

/// Two's-complement negation over the given width plus one extra byte.
fn negate(b: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = b.iter().map(|x| !x).collect();
    let fill = if b.last().is_some_and(|x| x & 0x80 != 0) {
        0x00
    } else {
        0xff
    };
    out.push(fill);
    let mut carry = 1u16;
    for byte in out.iter_mut() {
        let s = u16::from(*byte) + carry;
        *byte = s as u8;
        carry = s >> 8;
        if carry == 0 {
            break;
        }
    }
    out
}

/// Normalised two's complement of `sign * magnitude` (magnitude as unsigned LE bytes).
pub(crate) fn from_magnitude(mag: &[u8], neg: bool) -> Vec<u8> {
    let mut pos = mag.to_vec();
    pos.push(0);
    let pos = normalise(pos);
    if neg && !pos.is_empty() {
        normalise(negate(&pos))
    } else {
        pos
    }
}

/// Two's-complement bytes of an integral float outside the i64 range (`None` if not integral/finite).
pub(crate) fn from_f64(f: f64) -> Option<Vec<u8>> {
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    let bits = f.to_bits();
    let neg = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        return Some(Vec::new()); // zero or subnormal (only zero is integral)
    }
    let mant = frac | (1u64 << 52);
    let shift = exp - 1075;
    if shift <= 0 {
        let v = mant >> (-shift) as u32;
        let mut m = v.to_le_bytes().to_vec();
        m.push(0);
        return Some(from_magnitude(&m, neg));
    }
    let shift = shift as usize;
    let byte_shift = shift / 8;
    let bit_shift = shift % 8;
    let wide = u128::from(mant) << bit_shift;
    let mut m = vec![0u8; byte_shift];
    m.extend_from_slice(&wide.to_le_bytes());
    Some(from_magnitude(&m, neg))
}

/// Decimal rendering of normalised two's-complement bytes.
pub(crate) fn to_decimal(b: &[u8]) -> String {
    if let Some(v) = fits_i64(b) {
        return v.to_string();
    }
    let neg = b.last().is_some_and(|x| x & 0x80 != 0);
    let mag = magnitude(b);
    // u32 limbs, little-endian
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .map(|c| {
            let mut buf = [0u8; 4];
            buf[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(buf)
        })
        .collect();
    let mut parts: Vec<u32> = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        parts.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    match parts.split_last() {
        None => s.push('0'),
        Some((first, rest)) => {
            s.push_str(&first.to_string());
            for p in rest.iter().rev() {
                s.push_str(&format!("{p:09}"));
            }
        }
    }
    s
}

/// Parses an optionally signed decimal integer of any size into normalised two's-complement bytes.
pub(crate) fn parse_decimal(s: &str) -> Result<Vec<u8>> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::Pickle(PickleError::Invalid {
            detail: format!("expected a decimal integer, found {s:?}"),
        }));
    }
    let mut limbs: Vec<u32> = vec![0];
    for c in digits.bytes() {
        let mut carry = u64::from(c - b'0');
        for l in limbs.iter_mut() {
            let cur = u64::from(*l) * 10 + carry;
            *l = cur as u32;
            carry = cur >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    let mag: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    Ok(from_magnitude(&mag, neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "255",
            "-128",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "1180591620717411303424",
            "-340282366920938463463374607431768211456",
        ] {
            assert_eq!(to_decimal(&parse_decimal(s).unwrap()), s);
        }
    }

    #[test]
    fn normalise_examples() {
        assert_eq!(normalise(vec![0xff, 0x00]), vec![0xff, 0x00]);
        assert_eq!(normalise(vec![0x7f, 0x00]), vec![0x7f]);
        assert_eq!(normalise(vec![0x80, 0xff]), vec![0x80]);
        assert_eq!(normalise(vec![0x00]), Vec::<u8>::new());
        assert_eq!(i64_bytes(-2), vec![0xfe]);
    }

    #[test]
    fn float_to_big() {
        assert_eq!(
            from_f64(2f64.powi(70)).unwrap(),
            parse_decimal("1180591620717411303424").unwrap()
        );
        assert_eq!(from_f64(-(2f64.powi(63))).unwrap(), i64_bytes(i64::MIN));
        assert_eq!(from_f64(5.0).unwrap(), i64_bytes(5));
    }
}
