//! Every ctypes typecode through the dynamic API (range checks instead of wrapping, kind
//! checks), `'c'` and `'u'` specifics, `TypeCode` parsing, typed `Value<T>` for every element
//! type, and property tests of `Scalar` encode/decode.

mod common;

use common::fork::NameGuard;
use mpshare::typecode::Kind;
use mpshare::{
    Array, CChar, DynArray, DynValue, Element, Error, RawArray, RawValue, Scalar, TypeCode, Value,
    WChar,
};
use proptest::prelude::*;

fn is_out_of_range(r: Result<impl Sized, Error>) -> bool {
    matches!(r, Err(Error::ValueOutOfRange { .. }))
}

fn is_wrong_kind(r: Result<impl Sized, Error>) -> bool {
    matches!(r, Err(Error::WrongValueKind { .. }))
}

/// What `get` returns for an integer `v` stored in `code`.
fn int_back(code: TypeCode, v: i128) -> Scalar {
    if code == TypeCode::Char {
        Scalar::Byte(v as u8)
    } else {
        Scalar::Int(v)
    }
}

#[test]
fn integer_codes_round_trip_min_max_and_refuse_one_past() {
    for code in TypeCode::ALL {
        let Some((lo, hi)) = code.int_range() else {
            continue;
        };
        let c = code.as_char();
        for v in [lo, hi, 0, 1, hi / 2] {
            let dv = DynValue::new(c, Scalar::Int(v)).unwrap();
            assert_eq!(dv.get().unwrap(), int_back(code, v), "'{c}' new({v})");
            dv.set(Scalar::Int(lo)).unwrap();
            assert_eq!(dv.get().unwrap(), int_back(code, lo), "'{c}' set({lo})");
            dv.set(Scalar::Int(hi)).unwrap();
            assert_eq!(dv.get().unwrap(), int_back(code, hi), "'{c}' set({hi})");
        }
        for bad in [lo - 1, hi + 1, i128::MIN, i128::MAX] {
            assert!(
                is_out_of_range(DynValue::new(c, Scalar::Int(bad))),
                "'{c}' new({bad})"
            );
            let dv = DynValue::new(c, Scalar::Int(hi)).unwrap();
            let e = dv.set(Scalar::Int(bad)).unwrap_err();
            assert!(
                matches!(e, Error::ValueOutOfRange { .. }),
                "'{c}' set({bad}): {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&bad.to_string()) && msg.contains(c), "{msg}");
            // Not wrapped: the old value is still there.
            assert_eq!(
                dv.get().unwrap(),
                int_back(code, hi),
                "'{c}' after failed set"
            );
            let arr = DynArray::new(c, 2).unwrap();
            assert!(
                is_out_of_range(arr.set(1, Scalar::Int(bad))),
                "'{c}' array set({bad})"
            );
            assert!(is_out_of_range(DynArray::from_scalars(
                c,
                &[Scalar::Int(bad)]
            )));
        }
    }
}

#[test]
fn floats_and_other_kinds_into_integer_codes_are_wrong_kind() {
    for code in TypeCode::ALL {
        let c = code.as_char();
        match code.kind() {
            Kind::Signed | Kind::Unsigned => {
                for bad in [
                    Scalar::Float(1.0),
                    Scalar::Float(0.5),
                    Scalar::Char('a'),
                    Scalar::Byte(1),
                ] {
                    assert!(is_wrong_kind(DynValue::new(c, bad)), "'{c}' <- {bad:?}");
                    let dv = DynValue::new(c, Scalar::Int(7)).unwrap();
                    assert!(is_wrong_kind(dv.set(bad)), "'{c}' set {bad:?}");
                    assert_eq!(dv.get().unwrap(), Scalar::Int(7));
                }
            }
            Kind::Float => {
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Char('a'))));
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Byte(1))));
                // Integers are accepted into float codes, as in Python.
                assert_eq!(
                    DynValue::new(c, Scalar::Int(3)).unwrap().get().unwrap(),
                    Scalar::Float(3.0)
                );
            }
            Kind::Char => {
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Float(1.0))));
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Char('a'))));
            }
            Kind::WChar => {
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Int(65))));
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Float(1.0))));
                assert!(is_wrong_kind(DynValue::new(c, Scalar::Byte(65))));
            }
        }
    }
    let e = DynValue::new('i', 1.5f64).unwrap_err().to_string();
    assert!(e.contains("'i'") && e.contains("1.5"), "{e}");
}

#[test]
fn float_codes_round_trip_extremes() {
    for x in [
        f64::MIN,
        f64::MAX,
        f64::MIN_POSITIVE,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0 / 3.0,
    ] {
        let v = DynValue::new('d', x).unwrap();
        assert_eq!(v.get().unwrap(), Scalar::Float(x));
    }
    for x in [f32::MIN, f32::MAX, f32::MIN_POSITIVE, f32::EPSILON, -0.0] {
        let v = DynValue::new('f', x).unwrap();
        assert_eq!(v.get().unwrap(), Scalar::Float(x as f64));
    }
    // 'f' stores an f32: the value is rounded, as ctypes does.
    let v = DynValue::new('f', 0.1f64).unwrap();
    assert_eq!(v.get().unwrap(), Scalar::Float(0.1f32 as f64));
    assert!(
        matches!(DynValue::new('d', f64::NAN).unwrap().get().unwrap(), Scalar::Float(x) if x.is_nan())
    );
}

#[test]
fn every_code_through_dyn_array() {
    for code in TypeCode::ALL {
        let c = code.as_char();
        let (lo, hi) = match code.kind() {
            Kind::Float => (Scalar::Float(-2.5), Scalar::Float(1e30)),
            Kind::WChar => (Scalar::Char('\0'), Scalar::Char('\u{10FFFF}')),
            Kind::Char => (Scalar::Byte(0), Scalar::Byte(255)),
            _ => {
                let (l, h) = code.int_range().unwrap();
                (Scalar::Int(l), Scalar::Int(h))
            }
        };
        let hi_back = match (code, hi) {
            (TypeCode::Float, Scalar::Float(x)) => Scalar::Float(x as f32 as f64),
            _ => hi,
        };
        let a = DynArray::from_scalars(c, &[lo, hi]).unwrap();
        assert_eq!(a.typecode(), code);
        assert_eq!(a.to_vec().unwrap(), vec![lo, hi_back], "'{c}'");
        let b = DynArray::new(c, 3).unwrap();
        b.set(2, hi).unwrap();
        assert_eq!(b.get(2).unwrap(), hi_back, "'{c}'");
        assert_eq!(b.read(1..3).unwrap()[1], hi_back);
        assert!(matches!(
            b.get(3),
            Err(Error::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(matches!(b.set(3, lo), Err(Error::IndexOutOfRange { .. })));
        assert!(matches!(b.read(2..4), Err(Error::RangeOutOfBounds { .. })));
        let raw = DynArray::new_raw(c, 1).unwrap();
        assert!(raw.get_lock().is_none());
        raw.set(0, lo).unwrap();
        assert_eq!(raw.get(0).unwrap(), lo);
    }
    assert!(matches!(
        DynArray::new('x', 1),
        Err(Error::InvalidTypeCode { found: 'x' })
    ));
    assert!(matches!(
        DynValue::new('z', 1),
        Err(Error::InvalidTypeCode { found: 'z' })
    ));
}

#[test]
fn char_arrays_value_raw_set_value() {
    let a = Array::<CChar>::new(6).unwrap();
    a.set_value(b"abc").unwrap();
    assert_eq!(a.value().unwrap(), b"abc");
    assert_eq!(a.raw().unwrap(), b"abc\0\0\0");
    // A shorter value writes its bytes and one NUL; the rest is untouched (as in ctypes).
    a.set_value(b"x").unwrap();
    assert_eq!(a.value().unwrap(), b"x");
    assert_eq!(a.raw().unwrap(), b"x\0c\0\0\0");
    // Exactly full: no room for a NUL, value is every byte.
    a.set_value(b"abcdef").unwrap();
    assert_eq!(a.value().unwrap(), b"abcdef");
    assert!(matches!(
        a.set_value(b"abcdefg"),
        Err(Error::TooLong {
            capacity: 6,
            found: 7
        })
    ));
    assert_eq!(
        a.value().unwrap(),
        b"abcdef",
        "failed set_value changed the array"
    );
    a.set_value(b"").unwrap();
    assert_eq!(a.value().unwrap(), b"");

    let r = RawArray::<CChar>::new(4).unwrap();
    r.set_value(b"hi").unwrap();
    assert_eq!((r.value(), r.raw()), (b"hi".to_vec(), b"hi\0\0".to_vec()));
    r.set_value(b"wxyz").unwrap();
    assert_eq!(r.value(), b"wxyz");
    assert!(r.set_value(b"12345").is_err());
    assert_eq!(r.raw(), b"wxyz");
    // Bytes with the high bit set.
    r.set_value(&[0xff, 0x80]).unwrap();
    assert_eq!(r.value(), vec![0xff, 0x80]);

    let d = DynArray::new('c', 2).unwrap();
    d.set(0, Scalar::Byte(b'q')).unwrap();
    d.set(1, Scalar::Int(255)).unwrap();
    assert_eq!(
        d.to_vec().unwrap(),
        vec![Scalar::Byte(b'q'), Scalar::Byte(255)]
    );
}

#[test]
fn wchar_arrays_hold_any_char() {
    let text = "héllo €😀\u{10FFFF}";
    let chars: Vec<WChar> = text.chars().map(WChar::from).collect();
    let a = Array::from_slice(&chars).unwrap();
    let back: String = a
        .to_vec()
        .unwrap()
        .into_iter()
        .map(|w| w.to_char().unwrap())
        .collect();
    assert_eq!(back, text);
    assert_eq!(a.typecode(), Some(TypeCode::WChar));
    let d =
        DynArray::from_scalars('u', &text.chars().map(Scalar::Char).collect::<Vec<_>>()).unwrap();
    assert_eq!(d.len(), text.chars().count());
    assert_eq!(d.get(6).unwrap(), Scalar::Char('€'));
    // Any 32-bit pattern may be stored in a WChar; reading an invalid one is no panic.
    let raw = RawArray::from_slice(&[WChar(0xD800), WChar(u32::MAX)]).unwrap();
    assert_eq!(raw.get(0).unwrap().to_char(), None);
    assert_eq!(raw.get(1).unwrap(), WChar(u32::MAX));
    let g = NameGuard::new("wchar");
    let _n = RawArray::create_from(g.name(), &[WChar(0xD800)]).unwrap();
    let dv = DynArray::open(g.name()).unwrap();
    assert!(matches!(dv.get(0).unwrap(), Scalar::Char(_)));
}

#[test]
fn typecode_try_from_all_and_bad() {
    let codes = "cbBuhHiIlLqQfd";
    assert_eq!(TypeCode::ALL.len(), 14);
    for (c, t) in codes.chars().zip(TypeCode::ALL) {
        assert_eq!(TypeCode::try_from(c).unwrap(), t);
        assert_eq!(t.as_char(), c);
        assert_eq!(TypeCode::try_from(c.to_string().as_str()).unwrap(), t);
        assert_eq!(t.to_string(), format!("'{c}'"));
    }
    for bad in ['x', 'D', 'C', '\0', 'é'] {
        let e = TypeCode::try_from(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidTypeCode { found } if found == bad));
        let msg = e.to_string();
        for c in codes.chars() {
            assert!(msg.contains(&format!("'{c}'")), "{msg} does not list '{c}'");
        }
    }
    assert!(TypeCode::try_from("").is_err());
    assert!(TypeCode::try_from("dd").is_err());
    assert!(TypeCode::Long.same_layout(TypeCode::LongLong));
    assert!(!TypeCode::Float.same_layout(TypeCode::Int));
}

fn typed_round_trip<T: Element + PartialEq + std::fmt::Debug>(code: char, lo: T, hi: T) {
    let t = TypeCode::try_from(code).unwrap();
    assert_eq!(
        T::TYPECODE.map(|x| x.size()),
        Some(std::mem::size_of::<T>())
    );
    assert!(T::TYPECODE.unwrap().same_layout(t), "'{code}'");
    let v = Value::new(lo).unwrap();
    assert_eq!(v.get().unwrap(), lo);
    v.set(hi).unwrap();
    assert_eq!(v.get().unwrap(), hi);
    assert_eq!(v.update(|_| lo).unwrap(), lo);
    assert!(v.typecode().unwrap().same_layout(t));
    let r = RawValue::new(hi).unwrap();
    assert_eq!(r.get(), hi);
    let a = Array::from_slice(&[lo, hi]).unwrap();
    assert_eq!(a.to_vec().unwrap(), vec![lo, hi]);

    // Named typed segment, read through the dynamic API under its typecode.
    let g = NameGuard::new("typed");
    let _n = Value::create(g.name(), hi).unwrap();
    let d = DynValue::open(g.name()).unwrap();
    assert!(
        d.typecode().same_layout(t),
        "'{code}' opened as {:?}",
        d.typecode()
    );
    let bytes = d.get().unwrap().encode(d.typecode()).unwrap();
    assert_eq!(bytes, bytemuck::bytes_of(&hi), "'{code}'");
}

#[test]
fn typed_values_for_every_element_type() {
    typed_round_trip('c', CChar(0), CChar(255));
    typed_round_trip('b', i8::MIN, i8::MAX);
    typed_round_trip('B', u8::MIN, u8::MAX);
    typed_round_trip('u', WChar::from('\0'), WChar::from('\u{10FFFF}'));
    typed_round_trip('h', i16::MIN, i16::MAX);
    typed_round_trip('H', u16::MIN, u16::MAX);
    typed_round_trip('i', i32::MIN, i32::MAX);
    typed_round_trip('I', u32::MIN, u32::MAX);
    typed_round_trip('q', i64::MIN, i64::MAX);
    typed_round_trip('Q', u64::MIN, u64::MAX);
    typed_round_trip('f', f32::MIN, f32::MAX);
    typed_round_trip('d', f64::MIN, f64::MAX);
}

#[test]
fn long_codes_keep_their_letter_and_open_typed() {
    let g = NameGuard::new("long");
    let _l = DynValue::create(g.name(), 'l', i64::MIN).unwrap();
    assert_eq!(DynValue::open(g.name()).unwrap().typecode(), TypeCode::Long);
    assert_eq!(
        Value::<i64>::open(g.name()).unwrap().get().unwrap(),
        i64::MIN
    );
    let g2 = NameGuard::new("ulong");
    let _u = DynArray::create(g2.name(), 'L', 2).unwrap();
    let d = DynArray::open(g2.name()).unwrap();
    assert_eq!(d.typecode(), TypeCode::UnsignedLong);
    d.set(1, Scalar::Int(u64::MAX as i128)).unwrap();
    assert_eq!(
        Array::<u64>::open(g2.name()).unwrap().get(1).unwrap(),
        u64::MAX
    );
    assert!(is_out_of_range(d.set(0, Scalar::Int(-1))));
}

/// Integer codes with their ranges.
fn int_codes() -> Vec<(TypeCode, i128, i128)> {
    TypeCode::ALL
        .into_iter()
        .filter_map(|t| t.int_range().map(|(lo, hi)| (t, lo, hi)))
        .collect()
}

proptest! {
    #[test]
    fn in_range_ints_round_trip(idx in 0usize..11, raw in any::<i128>()) {
        let codes = int_codes();
        let (code, lo, hi) = codes[idx % codes.len()];
        let v = lo + raw.rem_euclid(hi - lo + 1);
        let bytes = Scalar::Int(v).encode(code).unwrap();
        prop_assert_eq!(bytes.len(), code.size());
        prop_assert_eq!(Scalar::decode(code, &bytes).unwrap(), int_back(code, v));
    }

    #[test]
    fn out_of_range_ints_are_refused(idx in 0usize..11, raw in any::<u64>(), below in any::<bool>()) {
        let codes = int_codes();
        let (code, lo, hi) = codes[idx % codes.len()];
        let v = if below { lo - 1 - raw as i128 } else { hi + 1 + raw as i128 };
        prop_assert!(is_out_of_range(Scalar::Int(v).encode(code)));
    }

    #[test]
    fn floats_round_trip(x in any::<f64>(), y in any::<f32>()) {
        prop_assume!(!x.is_nan() && !y.is_nan());
        let d = Scalar::Float(x).encode(TypeCode::Double).unwrap();
        prop_assert_eq!(Scalar::decode(TypeCode::Double, &d).unwrap(), Scalar::Float(x));
        let f = Scalar::Float(y as f64).encode(TypeCode::Float).unwrap();
        prop_assert_eq!(f.clone(), y.to_ne_bytes().to_vec());
        prop_assert_eq!(Scalar::decode(TypeCode::Float, &f).unwrap(), Scalar::Float(y as f64));
    }

    #[test]
    fn chars_and_bytes_round_trip(c in any::<char>(), b in any::<u8>()) {
        let w = Scalar::Char(c).encode(TypeCode::WChar).unwrap();
        prop_assert_eq!(Scalar::decode(TypeCode::WChar, &w).unwrap(), Scalar::Char(c));
        let bb = Scalar::Byte(b).encode(TypeCode::Char).unwrap();
        prop_assert_eq!(Scalar::decode(TypeCode::Char, &bb).unwrap(), Scalar::Byte(b));
    }

    #[test]
    fn decode_then_encode_is_identity(idx in 0usize..14, bytes in proptest::collection::vec(any::<u8>(), 8)) {
        let code = TypeCode::ALL[idx];
        let b = &bytes[..code.size()];
        let s = Scalar::decode(code, b).unwrap();
        let skip = match s {
            Scalar::Float(x) => x.is_nan(),
            Scalar::Char(c) => c == char::REPLACEMENT_CHARACTER,
            _ => false,
        };
        if !skip {
            prop_assert_eq!(s.encode(code).unwrap(), b.to_vec());
        }
        // Wrong lengths are errors, not panics.
        prop_assert!(Scalar::decode(code, &bytes[..code.size() - 1]).is_err());
    }
}
