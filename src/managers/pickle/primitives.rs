//! The pieces both decoders share: `str` payloads (UTF-8 with `surrogatepass`, protocol 0's
//! raw-unicode-escape and Python 2 string literals), the Python 2 → 3 renames of globals, and
//! the reduce calls that stand for plain values (`bytearray(...)`, `set([...])`, ...).

use super::dict::PySet;
use super::PyValue;
use crate::error::PickleError;
use crate::{Error, Result};

/// A payload that is not what its opcode says.
pub(crate) fn invalid(detail: String) -> Error {
    Error::Pickle(PickleError::Invalid { detail })
}

/// Decodes `surrogatepass` UTF-8: a `Str` when valid Unicode, a `SurrogateStr` when it only has
/// lone surrogates, an error otherwise.
pub(crate) fn decode_utf8(b: &[u8]) -> Result<PyValue> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyValue::Str(s.to_string())),
        Err(_) => {
            // Accept the generalised form where 3-byte sequences may encode U+D800..U+DFFF.
            let mut i = 0;
            while i < b.len() {
                let c = b[i];
                let len = match c {
                    0x00..=0x7f => 1,
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => 0,
                };
                let ok = len > 0
                    && i + len <= b.len()
                    && b[i + 1..i + len].iter().all(|x| x & 0xc0 == 0x80)
                    && match len {
                        3 => {
                            let cp = (u32::from(c & 0x0f) << 12)
                                | (u32::from(b[i + 1] & 0x3f) << 6)
                                | u32::from(b[i + 2] & 0x3f);
                            cp >= 0x800
                        }
                        4 => {
                            let cp = (u32::from(c & 0x07) << 18)
                                | (u32::from(b[i + 1] & 0x3f) << 12)
                                | (u32::from(b[i + 2] & 0x3f) << 6)
                                | u32::from(b[i + 3] & 0x3f);
                            (0x10000..=0x10ffff).contains(&cp)
                        }
                        _ => true,
                    };
                if !ok {
                    return Err(invalid(format!(
                        "invalid UTF-8 in a str at byte {i}: expected UTF-8 (surrogatepass), found {:02x?}",
                        &b[i..(i + 4).min(b.len())]
                    )));
                }
                i += len;
            }
            Ok(PyValue::SurrogateStr(b.to_vec()))
        }
    }
}

/// Python 2 module and class names mapped to Python 3's, as `pickle`'s `fix_imports` does.
pub(crate) fn map_global(module: &str, name: &str) -> (String, String) {
    let (m, n) = match (module, name) {
        ("__builtin__", "xrange") => ("builtins", "range"),
        ("__builtin__", "unicode") | ("__builtin__", "basestring") => ("builtins", "str"),
        ("__builtin__", "long") => ("builtins", "int"),
        ("__builtin__", "unichr") => ("builtins", "chr"),
        ("__builtin__", "reduce") => ("functools", "reduce"),
        ("__builtin__", "intern") => ("sys", "intern"),
        ("exceptions", "StandardError") => ("builtins", "Exception"),
        ("__builtin__", n) | ("exceptions", n) => ("builtins", n),
        ("copy_reg", n) => ("copyreg", n),
        ("Queue", n) => ("queue", n),
        ("thread", n) => ("_thread", n),
        (m, n) => (m, n),
    };
    (m.to_string(), n.to_string())
}

pub(crate) fn ascii_str(b: Vec<u8>) -> PyValue {
    match String::from_utf8(b) {
        Ok(s) if s.is_ascii() => PyValue::Str(s),
        Ok(s) => PyValue::Bytes(s.into_bytes()),
        Err(e) => PyValue::Bytes(e.into_bytes()),
    }
}

pub(crate) fn parse_float_text(l: &str) -> Option<f64> {
    match l {
        "nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => l.parse().ok(),
    }
}

/// Protocol 0 `UNICODE` argument: raw-unicode-escape (only `\uXXXX` and `\UXXXXXXXX` escapes;
/// other bytes are Latin-1).
pub(crate) fn raw_unicode_escape(l: &[u8]) -> Result<PyValue> {
    let mut cps: Vec<u32> = Vec::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        let c = l[i];
        if c == b'\\' && i + 1 < l.len() && (l[i + 1] == b'u' || l[i + 1] == b'U') {
            // count preceding backslashes: an escape only if odd
            let w = if l[i + 1] == b'u' { 4 } else { 8 };
            if i + 2 + w > l.len() {
                return Err(invalid("UNICODE: truncated \\u escape".into()));
            }
            let hex = std::str::from_utf8(&l[i + 2..i + 2 + w])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("UNICODE: bad \\u escape".into()))?;
            if hex > 0x10ffff {
                return Err(invalid("UNICODE: \\U escape out of range".into()));
            }
            cps.push(hex);
            i += 2 + w;
        } else {
            cps.push(u32::from(c));
            i += 1;
        }
    }
    Ok(from_code_points(&cps))
}

/// A `str` from code points, using `SurrogateStr` when lone surrogates are present.
pub(crate) fn from_code_points(cps: &[u32]) -> PyValue {
    if let Some(s) = cps
        .iter()
        .map(|&c| char::from_u32(c))
        .collect::<Option<String>>()
    {
        return PyValue::Str(s);
    }
    let mut b = Vec::new();
    for &c in cps {
        match char::from_u32(c) {
            Some(ch) => {
                let mut buf = [0u8; 4];
                b.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            None => {
                b.push(0xe0 | ((c >> 12) as u8 & 0x0f));
                b.push(0x80 | ((c >> 6) as u8 & 0x3f));
                b.push(0x80 | (c as u8 & 0x3f));
            }
        }
    }
    PyValue::SurrogateStr(b)
}

/// Protocol 0 `STRING` argument: a Python 2 `repr()` of a byte string.
pub(crate) fn parse_string_literal(l: &[u8]) -> Result<Vec<u8>> {
    let bad = || {
        invalid(format!(
            "STRING: expected a quoted literal, found {:?}",
            String::from_utf8_lossy(l)
        ))
    };
    if l.len() < 2 || l[0] != l[l.len() - 1] || (l[0] != b'\'' && l[0] != b'"') {
        return Err(bad());
    }
    let body = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = body.get(i + 1) else {
            return Err(bad());
        };
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + u32::from(body[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            b'x' => {
                let h = body.get(i..i + 2).ok_or_else(bad)?;
                let v = std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(bad)?;
                out.push(v);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Turns the few well-known constructor calls back into plain values (bytearray, bytes and sets
/// as older protocols write them); everything else stays a graph.
pub(crate) fn interpret_reduce(callable: PyValue, args: PyValue) -> Result<PyValue> {
    if let (Some((m, n)), Some(a)) = (callable.as_global(), args.as_tuple()) {
        match (m, n, a) {
            ("builtins", "bytearray", []) => return Ok(PyValue::ByteArray(Vec::new())),
            ("builtins", "bytearray", [PyValue::Bytes(b)]) => {
                return Ok(PyValue::ByteArray(b.clone()))
            }
            ("builtins", "bytearray", [PyValue::Str(s), PyValue::Str(enc)])
            | ("_codecs", "encode", [PyValue::Str(s), PyValue::Str(enc)])
                if enc == "latin-1" || enc == "latin1" =>
            {
                if let Some(b) = s
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect::<Option<Vec<u8>>>()
                {
                    return Ok(if n == "bytearray" {
                        PyValue::ByteArray(b)
                    } else {
                        PyValue::Bytes(b)
                    });
                }
            }
            ("builtins", "bytes", []) => return Ok(PyValue::Bytes(Vec::new())),
            ("builtins", "set", []) => return Ok(PyValue::Set(PySet::new())),
            ("builtins", "frozenset", []) => return Ok(PyValue::FrozenSet(PySet::new())),
            ("builtins", "set" | "frozenset", [PyValue::List(items)]) => {
                let s = PySet::from_items(items.iter().cloned())
                    .map_err(|e| invalid(format!("set element: {e}")))?;
                return Ok(if n == "set" {
                    PyValue::Set(s)
                } else {
                    PyValue::FrozenSet(s)
                });
            }
            _ => {}
        }
    }
    Ok(PyValue::Reduce {
        callable: Box::new(callable),
        args: Box::new(args),
    })
}
