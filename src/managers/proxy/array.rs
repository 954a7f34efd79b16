//! `ArrayProxy`: a shared `array.array` (`m.Array(typecode, values)`).

use serde::Serialize;

use super::{arg, typed_proxy, FromPy};
use crate::error::ProtocolError;
use crate::managers::pickle::PyValue;
use crate::managers::wire::shape;
use crate::{Error, Result};

typed_proxy! {
    /// A manager `Array` (an `array.array` on the server).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let a = m.array('i', &[1, 2, 3])?;
    /// a.set(0, 10)?;
    /// assert_eq!(a.get::<i32>(0)?, 10);
    /// assert_eq!(a.slice::<i32>(1, 3)?, vec![2, 3]);
    /// assert_eq!(a.to_vec::<i32>()?, vec![10, 2, 3]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    ArrayProxy
}

impl ArrayProxy {
    /// `len(a)`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// assert_eq!(a.len()?, 3);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.call("__len__", ())
    }

    /// `len(a) == 0`.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// assert!(!a.is_empty()?);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `a[index]` (negative counts from the end; `IndexError` out of range).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// let x: f64 = a.get(-1)?;
    /// assert_eq!(x, 3.0);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn get<T: FromPy>(&self, index: i64) -> Result<T> {
        self.call("__getitem__", (index,))
    }

    /// `a[index] = value` (`TypeError`/`OverflowError` from the server for a bad value).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// a.set(0, 7)?;
    /// assert_eq!(a.get::<i64>(0)?, 7);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn set<T: Serialize>(&self, index: i64, value: T) -> Result<()> {
        self.call_method("__setitem__", vec![index.into(), arg(&value)?], vec![])?;
        Ok(())
    }

    /// `a[start:stop]` as numbers (Python slice rules: negative bounds count from the end,
    /// bounds are clamped).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// let head: Vec<i64> = a.slice(0, 2)?;
    /// assert_eq!(head, [1, 2]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn slice<T: FromPy>(&self, start: i64, stop: i64) -> Result<Vec<T>> {
        let s = PyValue::slice(start.into(), stop.into(), PyValue::None);
        let v = self.call_method("__getitem__", vec![s], vec![])?;
        decode_array(&v)?.into_iter().map(T::from_py).collect()
    }

    /// The whole array as numbers (`#GETVALUE`, one round trip).
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?; let a = m.array('i', &[1, 2, 3])?;
    /// let all: Vec<f64> = a.to_vec()?;
    /// assert_eq!(all, [1.0, 2.0, 3.0]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_vec<T: FromPy>(&self) -> Result<Vec<T>> {
        decode_array(&self.get_value()?)?
            .into_iter()
            .map(T::from_py)
            .collect()
    }
}

fn chunks<const N: usize>(raw: &[u8], tc: char) -> Result<impl Iterator<Item = [u8; N]> + '_> {
    if raw.len() % N != 0 {
        return Err(Error::Protocol(ProtocolError::Shape {
            what: format!("array('{tc}')"),
            expected: format!("a multiple of {N} bytes"),
            found: format!("{} bytes", raw.len()),
        }));
    }
    Ok(raw.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

/// Decode CPython's `array.array(typecode, native_bytes)` value (what manager `Array` slices and
/// `#GETVALUE` return, `docs/protocol.md` §8) into numbers: ints for the integer codes, floats for
/// `'f'`/`'d'`, one-character strings for `'u'`/`'w'`. Byte order and item sizes are the
/// server's; this assumes a server of the same platform (Linux: `'l'`/`'L'` are 8 bytes).
///
/// ```
/// use mpshare::managers::{pickle::PyValue, proxy::decode_array};
/// let v = PyValue::array('h', vec![1, 0, 0xff, 0xff]);
/// assert_eq!(decode_array(&v)?, vec![PyValue::Int(1), PyValue::Int(-1)]);
/// assert!(decode_array(&PyValue::Int(1)).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn decode_array(v: &PyValue) -> Result<Vec<PyValue>> {
    let (tc, raw) = v
        .as_array()
        .ok_or_else(|| shape("array", "array.array(typecode, bytes)", v))?;
    let ch = |u: u32| {
        char::from_u32(u)
            .map(|c| PyValue::Str(c.to_string()))
            .ok_or_else(|| {
                Error::Protocol(ProtocolError::Shape {
                    what: format!("array('{tc}')"),
                    expected: "Unicode code points".into(),
                    found: format!("{u:#x}"),
                })
            })
    };
    Ok(match tc {
        'b' => raw
            .iter()
            .map(|b| PyValue::Int(i64::from(*b as i8)))
            .collect(),
        'B' => raw.iter().map(|b| PyValue::Int(i64::from(*b))).collect(),
        'h' => chunks::<2>(raw, tc)?
            .map(|c| PyValue::Int(i64::from(i16::from_ne_bytes(c))))
            .collect(),
        'H' => chunks::<2>(raw, tc)?
            .map(|c| PyValue::Int(i64::from(u16::from_ne_bytes(c))))
            .collect(),
        'i' => chunks::<4>(raw, tc)?
            .map(|c| PyValue::Int(i64::from(i32::from_ne_bytes(c))))
            .collect(),
        'I' => chunks::<4>(raw, tc)?
            .map(|c| PyValue::Int(i64::from(u32::from_ne_bytes(c))))
            .collect(),
        'l' | 'q' => chunks::<8>(raw, tc)?
            .map(|c| PyValue::Int(i64::from_ne_bytes(c)))
            .collect(),
        'L' | 'Q' => chunks::<8>(raw, tc)?
            .map(|c| PyValue::from(u64::from_ne_bytes(c)))
            .collect(),
        'f' => chunks::<4>(raw, tc)?
            .map(|c| PyValue::Float(f64::from(f32::from_ne_bytes(c))))
            .collect(),
        'd' => chunks::<8>(raw, tc)?
            .map(|c| PyValue::Float(f64::from_ne_bytes(c)))
            .collect(),
        'u' | 'w' => chunks::<4>(raw, tc)?
            .map(|c| ch(u32::from_ne_bytes(c)))
            .collect::<Result<Vec<_>>>()?,
        other => {
            return Err(Error::Protocol(ProtocolError::Shape {
                what: "array".into(),
                expected: "a typecode among b B u w h H i I l L q Q f d".into(),
                found: format!("{other:?}"),
            }))
        }
    })
}
