//! Python's ctypes typecodes, the element trait and dynamic scalars.
//!
//! | code | C type | Rust type | size |
//! |------|--------|-----------|------|
//! | `'c'` | `char` | [`CChar`] | 1 |
//! | `'b'` | `signed char` | `i8` | 1 |
//! | `'B'` | `unsigned char` | `u8` | 1 |
//! | `'u'` | `wchar_t` | [`WChar`] | 4 |
//! | `'h'` | `short` | `i16` | 2 |
//! | `'H'` | `unsigned short` | `u16` | 2 |
//! | `'i'` | `int` | `i32` | 4 |
//! | `'I'` | `unsigned int` | `u32` | 4 |
//! | `'l'` | `long` | `i64` | 8 |
//! | `'L'` | `unsigned long` | `u64` | 8 |
//! | `'q'` | `long long` | `i64` | 8 |
//! | `'Q'` | `unsigned long long` | `u64` | 8 |
//! | `'f'` | `float` | `f32` | 4 |
//! | `'d'` | `double` | `f64` | 8 |
//!
//! `'l'`/`'q'` and `'L'`/`'Q'` share a Rust type (Linux is LP64); a segment made with either opens
//! as the other.

use std::fmt;

use crate::{Error, Result};

/// One of the 14 ctypes typecodes of `multiprocessing.sharedctypes`.
///
/// ```
/// use mpshare::TypeCode;
/// let t = TypeCode::try_from('d')?;
/// assert_eq!(t, TypeCode::Double);
/// assert_eq!((t.size(), t.align(), t.as_char()), (8, 8, 'd'));
/// assert!(TypeCode::try_from('z').is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TypeCode {
    /// `'c'`: a one-byte char ([`CChar`]).
    Char = b'c',
    /// `'b'`: `i8`.
    SignedChar = b'b',
    /// `'B'`: `u8`.
    UnsignedChar = b'B',
    /// `'u'`: `wchar_t`, a UTF-32 code unit on Linux ([`WChar`]).
    WChar = b'u',
    /// `'h'`: `i16`.
    Short = b'h',
    /// `'H'`: `u16`.
    UnsignedShort = b'H',
    /// `'i'`: `i32`.
    Int = b'i',
    /// `'I'`: `u32`.
    UnsignedInt = b'I',
    /// `'l'`: C `long`, `i64` on LP64.
    Long = b'l',
    /// `'L'`: C `unsigned long`, `u64` on LP64.
    UnsignedLong = b'L',
    /// `'q'`: `i64`.
    LongLong = b'q',
    /// `'Q'`: `u64`.
    UnsignedLongLong = b'Q',
    /// `'f'`: `f32`.
    Float = b'f',
    /// `'d'`: `f64`.
    Double = b'd',
}

/// What kind of numbers a typecode holds.
///
/// ```
/// use mpshare::{TypeCode, typecode::Kind};
/// assert_eq!(TypeCode::Int.kind(), Kind::Signed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A byte character (`'c'`).
    Char,
    /// A wide character (`'u'`).
    WChar,
    /// A signed integer.
    Signed,
    /// An unsigned integer.
    Unsigned,
    /// An IEEE-754 float.
    Float,
}

impl TypeCode {
    /// All 14 typecodes, in Python's documentation order.
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::ALL.len(), 14);
    /// ```
    pub const ALL: [TypeCode; 14] = [
        TypeCode::Char,
        TypeCode::SignedChar,
        TypeCode::UnsignedChar,
        TypeCode::WChar,
        TypeCode::Short,
        TypeCode::UnsignedShort,
        TypeCode::Int,
        TypeCode::UnsignedInt,
        TypeCode::Long,
        TypeCode::UnsignedLong,
        TypeCode::LongLong,
        TypeCode::UnsignedLongLong,
        TypeCode::Float,
        TypeCode::Double,
    ];

    /// The typecode character.
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::UnsignedShort.as_char(), 'H');
    /// ```
    pub const fn as_char(self) -> char {
        self as u8 as char
    }

    /// Size of one element in bytes.
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::WChar.size(), 4);
    /// ```
    pub const fn size(self) -> usize {
        match self {
            TypeCode::Char | TypeCode::SignedChar | TypeCode::UnsignedChar => 1,
            TypeCode::Short | TypeCode::UnsignedShort => 2,
            TypeCode::WChar | TypeCode::Int | TypeCode::UnsignedInt | TypeCode::Float => 4,
            TypeCode::Long
            | TypeCode::UnsignedLong
            | TypeCode::LongLong
            | TypeCode::UnsignedLongLong
            | TypeCode::Double => 8,
        }
    }

    /// Alignment of one element in bytes (equal to its size for all ctypes codes).
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::Double.align(), 8);
    /// ```
    pub const fn align(self) -> usize {
        self.size()
    }

    /// What kind of numbers the code holds.
    ///
    /// ```
    /// use mpshare::{TypeCode, typecode::Kind};
    /// assert_eq!(TypeCode::Double.kind(), Kind::Float);
    /// ```
    pub const fn kind(self) -> Kind {
        match self {
            TypeCode::Char => Kind::Char,
            TypeCode::WChar => Kind::WChar,
            TypeCode::SignedChar
            | TypeCode::Short
            | TypeCode::Int
            | TypeCode::Long
            | TypeCode::LongLong => Kind::Signed,
            TypeCode::UnsignedChar
            | TypeCode::UnsignedShort
            | TypeCode::UnsignedInt
            | TypeCode::UnsignedLong
            | TypeCode::UnsignedLongLong => Kind::Unsigned,
            TypeCode::Float | TypeCode::Double => Kind::Float,
        }
    }

    /// The name of the Rust element type.
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::Long.rust_type(), "i64");
    /// ```
    pub const fn rust_type(self) -> &'static str {
        match self {
            TypeCode::Char => "CChar",
            TypeCode::SignedChar => "i8",
            TypeCode::UnsignedChar => "u8",
            TypeCode::WChar => "WChar",
            TypeCode::Short => "i16",
            TypeCode::UnsignedShort => "u16",
            TypeCode::Int => "i32",
            TypeCode::UnsignedInt => "u32",
            TypeCode::Long | TypeCode::LongLong => "i64",
            TypeCode::UnsignedLong | TypeCode::UnsignedLongLong => "u64",
            TypeCode::Float => "f32",
            TypeCode::Double => "f64",
        }
    }

    /// True when two codes have the same Rust element type (`'l'` and `'q'`, for example).
    ///
    /// ```
    /// use mpshare::TypeCode;
    /// assert!(TypeCode::Long.same_layout(TypeCode::LongLong));
    /// assert!(!TypeCode::Int.same_layout(TypeCode::UnsignedInt));
    /// ```
    pub const fn same_layout(self, other: TypeCode) -> bool {
        self.size() == other.size() && self.kind() as u8 == other.kind() as u8
    }

    /// The inclusive range of integers a code accepts, or `None` for floats and `'u'`.
    ///
    /// ```
    /// assert_eq!(mpshare::TypeCode::SignedChar.int_range(), Some((-128, 127)));
    /// ```
    pub const fn int_range(self) -> Option<(i128, i128)> {
        match self {
            TypeCode::Char | TypeCode::UnsignedChar => Some((0, u8::MAX as i128)),
            TypeCode::SignedChar => Some((i8::MIN as i128, i8::MAX as i128)),
            TypeCode::Short => Some((i16::MIN as i128, i16::MAX as i128)),
            TypeCode::UnsignedShort => Some((0, u16::MAX as i128)),
            TypeCode::Int => Some((i32::MIN as i128, i32::MAX as i128)),
            TypeCode::UnsignedInt => Some((0, u32::MAX as i128)),
            TypeCode::Long | TypeCode::LongLong => Some((i64::MIN as i128, i64::MAX as i128)),
            TypeCode::UnsignedLong | TypeCode::UnsignedLongLong => Some((0, u64::MAX as i128)),
            TypeCode::WChar | TypeCode::Float | TypeCode::Double => None,
        }
    }
}

impl TryFrom<char> for TypeCode {
    type Error = Error;

    fn try_from(c: char) -> Result<Self> {
        TypeCode::ALL
            .iter()
            .copied()
            .find(|t| t.as_char() == c)
            .ok_or(Error::InvalidTypeCode { found: c })
    }
}

impl TryFrom<&str> for TypeCode {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => TypeCode::try_from(c),
            (Some(c), Some(_)) => Err(Error::InvalidTypeCode { found: c }),
            (None, _) => Err(Error::InvalidTypeCode { found: '\0' }),
        }
    }
}

impl fmt::Display for TypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.as_char())
    }
}

/// A one-byte C `char`, the element of typecode `'c'` (Python's `bytes` of length 1).
///
/// ```
/// use mpshare::CChar;
/// assert_eq!(CChar::from(b'x').0, b'x');
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(transparent)]
pub struct CChar(pub u8);

impl From<u8> for CChar {
    fn from(b: u8) -> Self {
        CChar(b)
    }
}

/// A `wchar_t` (UTF-32 code unit on Linux), the element of typecode `'u'`.
///
/// Any 32-bit pattern may be stored, as in C; [`WChar::to_char`] checks it.
///
/// ```
/// use mpshare::WChar;
/// let w = WChar::from('é');
/// assert_eq!(w.to_char(), Some('é'));
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(transparent)]
pub struct WChar(pub u32);

impl WChar {
    /// The character, if the code unit is a valid Unicode scalar value.
    ///
    /// ```
    /// assert_eq!(mpshare::WChar(0xD800).to_char(), None);
    /// ```
    pub fn to_char(self) -> Option<char> {
        char::from_u32(self.0)
    }
}

impl From<char> for WChar {
    fn from(c: char) -> Self {
        WChar(c as u32)
    }
}

/// A type that can live in a shared cell: plain old data with no pointers.
///
/// Implemented for the Rust types of the 14 typecodes. Implement it (with no items) for your
/// own `#[derive(bytemuck::Pod, bytemuck::Zeroable)] #[repr(C)]` struct to share it: that is the
/// Rust form of a `ctypes.Structure`. Such types have no typecode; named segments record their
/// size, alignment and type name instead.
///
/// ```
/// use mpshare::{Element, RawValue};
/// #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
/// #[repr(C)]
/// struct Point { x: f64, y: f64 }
/// impl Element for Point {}
///
/// let p = RawValue::new(Point { x: 1.0, y: 2.0 })?;
/// assert_eq!(p.get().y, 2.0);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub trait Element: bytemuck::Pod + Send + Sync + 'static {
    /// The typecode, for the 14 primitive element types; `None` for structs.
    const TYPECODE: Option<TypeCode> = None;
}

macro_rules! element {
    ($($t:ty => $code:expr),* $(,)?) => {
        $(impl Element for $t { const TYPECODE: Option<TypeCode> = Some($code); })*
    };
}

element! {
    CChar => TypeCode::Char,
    i8 => TypeCode::SignedChar,
    u8 => TypeCode::UnsignedChar,
    WChar => TypeCode::WChar,
    i16 => TypeCode::Short,
    u16 => TypeCode::UnsignedShort,
    i32 => TypeCode::Int,
    u32 => TypeCode::UnsignedInt,
    i64 => TypeCode::LongLong,
    u64 => TypeCode::UnsignedLongLong,
    f32 => TypeCode::Float,
    f64 => TypeCode::Double,
}

/// Evaluate `$body` with the type name `$t` bound to the Rust element type of the typecode
/// `$code` (a [`TypeCode`] value): the one typecode dispatch of the crate, used by the
/// dynamic API ([`crate::DynArray`], [`crate::DynValue`]) and available to the manager's
/// array.
///
/// ```ignore
/// let size = with_element_type!(TypeCode::Short, E => std::mem::size_of::<E>());
/// assert_eq!(size, 2);
/// ```
macro_rules! with_element_type {
    ($code:expr, $t:ident => $body:expr) => {
        match $code {
            $crate::TypeCode::Char => {
                type $t = $crate::CChar;
                $body
            }
            $crate::TypeCode::SignedChar => {
                type $t = i8;
                $body
            }
            $crate::TypeCode::UnsignedChar => {
                type $t = u8;
                $body
            }
            $crate::TypeCode::WChar => {
                type $t = $crate::WChar;
                $body
            }
            $crate::TypeCode::Short => {
                type $t = i16;
                $body
            }
            $crate::TypeCode::UnsignedShort => {
                type $t = u16;
                $body
            }
            $crate::TypeCode::Int => {
                type $t = i32;
                $body
            }
            $crate::TypeCode::UnsignedInt => {
                type $t = u32;
                $body
            }
            $crate::TypeCode::Long | $crate::TypeCode::LongLong => {
                type $t = i64;
                $body
            }
            $crate::TypeCode::UnsignedLong | $crate::TypeCode::UnsignedLongLong => {
                type $t = u64;
                $body
            }
            $crate::TypeCode::Float => {
                type $t = f32;
                $body
            }
            $crate::TypeCode::Double => {
                type $t = f64;
                $body
            }
        }
    };
}
pub(crate) use with_element_type;

/// A dynamically typed element value, for the typecode-keyed API.
///
/// ```
/// use mpshare::{Scalar, TypeCode};
/// let bytes = Scalar::Int(300).encode(TypeCode::SignedChar);
/// assert!(bytes.is_err()); // 300 does not fit 'b'; ctypes would silently wrap it
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// An integer (for all integer codes).
    Int(i128),
    /// A float (for `'f'` and `'d'`).
    Float(f64),
    /// A byte (for `'c'`).
    Byte(u8),
    /// A character (for `'u'`).
    Char(char),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Byte(b) => write!(f, "b'{}'", std::ascii::escape_default(*b)),
            Scalar::Char(c) => write!(f, "{c:?}"),
        }
    }
}

impl Scalar {
    /// Encode the value as the native bytes of `code`, checking range and kind.
    ///
    /// Integers into `'f'`/`'d'` are accepted (as Python does); floats into integer codes are not.
    ///
    /// ```
    /// use mpshare::{Scalar, TypeCode};
    /// assert_eq!(Scalar::Int(-2).encode(TypeCode::Short)?, (-2i16).to_ne_bytes().to_vec());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn encode(self, code: TypeCode) -> Result<Vec<u8>> {
        let tc = code.as_char();
        let wrong = |expected: &'static str| Error::WrongValueKind {
            typecode: tc,
            expected,
            found: format!("{self:?}"),
        };
        match code.kind() {
            Kind::Float => {
                let x = match self {
                    Scalar::Float(x) => x,
                    Scalar::Int(i) => i as f64,
                    _ => return Err(wrong("a float or an integer")),
                };
                Ok(if code == TypeCode::Float {
                    (x as f32).to_ne_bytes().to_vec()
                } else {
                    x.to_ne_bytes().to_vec()
                })
            }
            Kind::WChar => match self {
                Scalar::Char(c) => Ok((c as u32).to_ne_bytes().to_vec()),
                _ => Err(wrong("a character")),
            },
            Kind::Char => match self {
                Scalar::Byte(b) => Ok(vec![b]),
                Scalar::Int(i) if (0..=255).contains(&i) => Ok(vec![i as u8]),
                Scalar::Int(i) => Err(Error::ValueOutOfRange {
                    typecode: tc,
                    value: i.to_string(),
                    expected: "a byte 0..=255".into(),
                }),
                _ => Err(wrong("a byte")),
            },
            Kind::Signed | Kind::Unsigned => {
                let i = match self {
                    Scalar::Int(i) => i,
                    _ => return Err(wrong("an integer")),
                };
                let (lo, hi) = code.int_range().unwrap_or((0, 0));
                if i < lo || i > hi {
                    return Err(Error::ValueOutOfRange {
                        typecode: tc,
                        value: i.to_string(),
                        expected: format!("an integer in {lo}..={hi}"),
                    });
                }
                let le = i.to_le_bytes();
                let mut out = le[..code.size()].to_vec();
                if cfg!(target_endian = "big") {
                    out.reverse();
                }
                Ok(out)
            }
        }
    }

    /// Decode native bytes of `code` into a scalar.
    ///
    /// ```
    /// use mpshare::{Scalar, TypeCode};
    /// assert_eq!(Scalar::decode(TypeCode::Int, &7i32.to_ne_bytes())?, Scalar::Int(7));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn decode(code: TypeCode, bytes: &[u8]) -> Result<Scalar> {
        if bytes.len() != code.size() {
            return Err(Error::LengthMismatch {
                expected: code.size(),
                found: bytes.len(),
            });
        }
        let mut b8 = [0u8; 8];
        b8[..bytes.len()].copy_from_slice(bytes);
        Ok(match code {
            TypeCode::Char => Scalar::Byte(bytes[0]),
            TypeCode::WChar => {
                let u = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                Scalar::Char(char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER))
            }
            TypeCode::SignedChar => Scalar::Int(bytes[0] as i8 as i128),
            TypeCode::UnsignedChar => Scalar::Int(bytes[0] as i128),
            TypeCode::Short => Scalar::Int(i16::from_ne_bytes([bytes[0], bytes[1]]) as i128),
            TypeCode::UnsignedShort => {
                Scalar::Int(u16::from_ne_bytes([bytes[0], bytes[1]]) as i128)
            }
            TypeCode::Int => {
                Scalar::Int(i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i128)
            }
            TypeCode::UnsignedInt => {
                Scalar::Int(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i128)
            }
            TypeCode::Long | TypeCode::LongLong => Scalar::Int(i64::from_ne_bytes(b8) as i128),
            TypeCode::UnsignedLong | TypeCode::UnsignedLongLong => {
                Scalar::Int(u64::from_ne_bytes(b8) as i128)
            }
            TypeCode::Float => {
                Scalar::Float(f32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64)
            }
            TypeCode::Double => Scalar::Float(f64::from_ne_bytes(b8)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_matches_sizes_and_codes() {
        for t in TypeCode::ALL {
            let (size, code) = with_element_type!(t, E => (std::mem::size_of::<E>(), E::TYPECODE));
            assert_eq!(size, t.size(), "{t}");
            assert!(code.is_some_and(|c| c.same_layout(t)), "{t}");
        }
    }

    #[test]
    fn every_code_round_trips_its_char() {
        for t in TypeCode::ALL {
            assert_eq!(TypeCode::try_from(t.as_char()).unwrap(), t);
        }
    }

    #[test]
    fn invalid_code_lists_valid_ones() {
        let e = TypeCode::try_from('x').unwrap_err().to_string();
        assert!(e.contains("'x'") && e.contains("'d'"), "{e}");
    }

    #[test]
    fn range_checks() {
        assert!(Scalar::Int(300).encode(TypeCode::SignedChar).is_err());
        assert!(Scalar::Int(-1).encode(TypeCode::UnsignedInt).is_err());
        assert!(Scalar::Float(1.5).encode(TypeCode::Int).is_err());
        assert_eq!(
            Scalar::Int(255).encode(TypeCode::UnsignedChar).unwrap(),
            vec![255]
        );
        for t in TypeCode::ALL {
            if let Some((lo, hi)) = t.int_range() {
                for v in [lo, hi] {
                    let b = Scalar::Int(v).encode(t).unwrap();
                    let back = Scalar::decode(t, &b).unwrap();
                    if t == TypeCode::Char {
                        assert_eq!(back, Scalar::Byte(v as u8));
                    } else {
                        assert_eq!(back, Scalar::Int(v));
                    }
                }
            }
        }
    }
}
