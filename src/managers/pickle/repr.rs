//! `Display` for [`PyValue`]: Python's `repr()`.

use std::fmt::{self, Display, Write};

use super::bigint;
use super::PyValue;

/// Python's `repr(float)`.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let mut s = String::from(sign);
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        s
    } else if exp >= 0 {
        let e = exp as usize;
        let mut int_part = String::new();
        let mut frac = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i <= e {
                int_part.push(c);
            } else {
                frac.push(c);
            }
        }
        while int_part.len() < e + 1 {
            int_part.push('0');
        }
        if frac.is_empty() {
            frac.push('0');
        }
        format!("{sign}{int_part}.{frac}")
    } else {
        let zeros = "0".repeat((-exp - 1) as usize);
        format!("{sign}0.{zeros}{digits}")
    }
}

fn printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || (0xd800..=0xdfff).contains(&u)
        || u == 0x1680
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x206f).contains(&u)
        || u == 0x3000
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xe000..=0xf8ff).contains(&u)
        || u >= 0xf0000)
}

/// Python's `repr(str)` from code points (which may include lone surrogates).
fn str_repr(cps: impl Iterator<Item = u32> + Clone) -> String {
    let has_sq = cps.clone().any(|c| c == u32::from(b'\''));
    let has_dq = cps.clone().any(|c| c == u32::from(b'"'));
    let q = if has_sq && !has_dq { '"' } else { '\'' };
    let mut s = String::new();
    s.push(q);
    for u in cps {
        match char::from_u32(u) {
            Some('\\') => s.push_str("\\\\"),
            Some('\n') => s.push_str("\\n"),
            Some('\r') => s.push_str("\\r"),
            Some('\t') => s.push_str("\\t"),
            Some(c) if c == q => {
                s.push('\\');
                s.push(c);
            }
            Some(c) if printable(c) => s.push(c),
            _ => {
                if u < 0x100 {
                    let _ = write!(s, "\\x{u:02x}");
                } else if u < 0x10000 {
                    let _ = write!(s, "\\u{u:04x}");
                } else {
                    let _ = write!(s, "\\U{u:08x}");
                }
            }
        }
    }
    s.push(q);
    s
}

/// Code points of `surrogatepass` UTF-8 (invalid sequences shown as U+FFFD).
pub(crate) fn wtf8_code_points(b: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (len, init) = match c {
            0x00..=0x7f => (1, u32::from(c)),
            0xc0..=0xdf => (2, u32::from(c & 0x1f)),
            0xe0..=0xef => (3, u32::from(c & 0x0f)),
            0xf0..=0xf7 => (4, u32::from(c & 0x07)),
            _ => (1, 0xfffd),
        };
        if i + len > b.len() {
            out.push(0xfffd);
            break;
        }
        let mut cp = init;
        for k in 1..len {
            cp = (cp << 6) | u32::from(b[i + k] & 0x3f);
        }
        out.push(cp);
        i += len;
    }
    out
}

fn bytes_repr(b: &[u8]) -> String {
    let has_sq = b.contains(&b'\'');
    let has_dq = b.contains(&b'"');
    let q = if has_sq && !has_dq { b'"' } else { b'\'' };
    let mut s = String::from("b");
    s.push(q as char);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c == q => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push(q as char);
    s
}

fn join(f: &mut fmt::Formatter<'_>, items: &[PyValue]) -> fmt::Result {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

thread_local! {
    /// How deep `kept_repr` is nested (a value containing itself stops at `...`).
    static KEPT_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The repr of a value kept as sent: the value's own repr when it is a plain tree, else
/// `Type([items])` / `Type({pairs})` from what the server can see, `...` for a recursion.
fn kept_repr(v: &PyValue, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let depth = KEPT_DEPTH.with(|d| d.get());
    if depth >= 3 {
        return f.write_str("...");
    }
    KEPT_DEPTH.with(|d| d.set(depth + 1));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            KEPT_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    let _reset = Reset;
    if let Some(tree) = super::kept_bytes(v).and_then(|b| super::loads(b).ok()) {
        return write!(f, "{tree}");
    }
    let ty = super::kept_type(v).unwrap_or_else(|| "object".into());
    let short = ty.rsplit('.').next().unwrap_or(&ty).to_string();
    match super::kept_parts(v, &super::Limits::default()) {
        Some(Ok(super::KeptParts::Items(items))) => {
            let open = if ty == "list" { "[" } else { "([" };
            let close = if ty == "list" { "]" } else { "])" };
            if ty != "list" {
                f.write_str(&short)?;
            }
            f.write_str(open)?;
            join(f, &items)?;
            f.write_str(close)
        }
        Some(Ok(super::KeptParts::Pairs(pairs))) => {
            if ty != "dict" {
                write!(f, "{short}(")?;
            }
            f.write_str("{")?;
            for (i, (k, x)) in pairs.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {x}")?;
            }
            f.write_str("}")?;
            if ty != "dict" {
                f.write_str(")")?;
            }
            Ok(())
        }
        _ => write!(f, "<{ty} object>"),
    }
}

impl Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::None => f.write_str("None"),
            PyValue::Bool(true) => f.write_str("True"),
            PyValue::Bool(false) => f.write_str("False"),
            PyValue::Int(i) => write!(f, "{i}"),
            PyValue::BigInt(b) => f.write_str(&bigint::to_decimal(b.to_le_bytes())),
            PyValue::Float(x) => f.write_str(&float_repr(*x)),
            PyValue::Str(s) => f.write_str(&str_repr(s.chars().map(|c| c as u32))),
            PyValue::SurrogateStr(b) => f.write_str(&str_repr(wtf8_code_points(b).into_iter())),
            PyValue::Bytes(b) => f.write_str(&bytes_repr(b)),
            PyValue::ByteArray(b) => write!(f, "bytearray({})", bytes_repr(b)),
            PyValue::Tuple(t) => {
                f.write_str("(")?;
                join(f, t)?;
                if t.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            PyValue::List(t) => {
                f.write_str("[")?;
                join(f, t)?;
                f.write_str("]")
            }
            PyValue::Dict(d) => {
                f.write_str("{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            PyValue::Set(s) | PyValue::FrozenSet(s) => {
                let frozen = matches!(self, PyValue::FrozenSet(_));
                let name = if frozen { "frozenset" } else { "set" };
                if s.is_empty() {
                    return write!(f, "{name}()");
                }
                if frozen {
                    f.write_str("frozenset(")?;
                }
                f.write_str("{")?;
                for (i, x) in s.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("}")?;
                if frozen {
                    f.write_str(")")?;
                }
                Ok(())
            }
            PyValue::Global { module, name } => write!(f, "<class '{module}.{name}'>"),
            PyValue::Reduce { .. } if super::is_kept(self) => kept_repr(self, f),
            PyValue::Reduce { callable, args } => {
                match callable.as_global() {
                    Some((_, name)) => f.write_str(name)?,
                    None => write!(f, "{callable}")?,
                }
                match args.as_tuple() {
                    Some(t) => {
                        f.write_str("(")?;
                        join(f, t)?;
                        f.write_str(")")
                    }
                    None => write!(f, "(*{args})"),
                }
            }
            PyValue::NewObj { cls, .. } => match cls.as_global() {
                Some((m, n)) => write!(f, "<{m}.{n} object>"),
                None => write!(f, "<{cls} object>"),
            },
            PyValue::Build { obj, state } => {
                if let Some((m, n, st)) = self.as_new_obj() {
                    match (m, n, st) {
                        ("multiprocessing.managers", "Token", PyValue::Tuple(t))
                            if t.len() == 3 =>
                        {
                            return write!(
                                f,
                                "Token(typeid={}, address={}, id={})",
                                t[0], t[1], t[2]
                            );
                        }
                        ("multiprocessing.managers", "Value", PyValue::Dict(d)) => {
                            if let (Some(tc), Some(v)) =
                                (d.get_str("_typecode"), d.get_str("_value"))
                            {
                                return write!(f, "Value({tc}, {v})");
                            }
                        }
                        ("multiprocessing.managers", "Namespace", PyValue::Dict(d)) => {
                            f.write_str("Namespace(")?;
                            let mut first = true;
                            for (k, v) in d.iter() {
                                if let Some(k) = k.as_str() {
                                    if k.starts_with('_') {
                                        continue;
                                    }
                                    if !first {
                                        f.write_str(", ")?;
                                    }
                                    first = false;
                                    write!(f, "{k}={v}")?;
                                }
                            }
                            return f.write_str(")");
                        }
                        _ => {}
                    }
                }
                if obj.as_reduce().is_some() {
                    return write!(f, "{obj}");
                }
                write!(f, "{obj}")?;
                let _ = state;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        for (x, s) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (1e300, "1e+300"),
            (2.5e-300, "2.5e-300"),
        ] {
            assert_eq!(float_repr(x), s);
        }
    }

    #[test]
    fn strings() {
        assert_eq!(PyValue::str("it's").to_string(), "\"it's\"");
        assert_eq!(PyValue::str("a\nb\\").to_string(), "'a\\nb\\\\'");
        assert_eq!(PyValue::bytes(b"\x00a'").to_string(), "b\"\\x00a'\"");
        assert_eq!(
            PyValue::SurrogateStr(vec![0x61, 0xed, 0xa0, 0x80]).to_string(),
            "'a\\ud800'"
        );
    }
}
