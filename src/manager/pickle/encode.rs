//! The encoder: [`PyValue`] → pickle bytes (protocol 2, 3 or 4; no FRAME, no memo, text `GLOBAL`).

use super::bigint;
use super::PyValue;
use crate::{Error, Result};

/// Encodes with protocol 4 (what CPython 3.8–3.13 send by default).
///
/// The output is the minimal form of the spec §3.2: `PROTO 4`, no `FRAME`, no memo, text
/// `GLOBAL` for classes, the smallest int opcode, `MARK … SETITEMS`/`APPENDS` for non-empty
/// dicts/lists.
///
/// ```
/// use mpshare::manager::pickle::{dumps, PyValue};
/// let v = PyValue::tuple(vec![PyValue::str("#RETURN"), PyValue::None]);
/// assert_eq!(dumps(&v).unwrap(), b"\x80\x04\x8c\x07#RETURNN\x86.");
/// ```
pub fn dumps(v: &PyValue) -> Result<Vec<u8>> {
    dumps_protocol(v, 4)
}

/// Encodes with the given protocol (2, 3 or 4). Protocol 2 writes `bytes` as CPython does
/// (`_codecs.encode(latin-1 str, 'latin1')`), and protocols below 4 write sets via
/// `builtins.set([...])`.
///
/// ```
/// use mpshare::manager::pickle::{dumps_protocol, loads, PyValue};
/// let v = PyValue::bytes(b"\x00\xff");
/// for p in [2, 3, 4] {
///     assert!(loads(&dumps_protocol(&v, p).unwrap()).unwrap().identical(&v));
/// }
/// assert!(dumps_protocol(&v, 1).is_err());
/// ```
pub fn dumps_protocol(v: &PyValue, protocol: u8) -> Result<Vec<u8>> {
    if !(2..=4).contains(&protocol) {
        return Err(Error::Pickle(format!(
            "unsupported protocol {protocol} for encoding: expected 2, 3 or 4"
        )));
    }
    let mut e = Encoder {
        out: Vec::with_capacity(64),
        proto: protocol,
    };
    e.out.extend_from_slice(&[0x80, protocol]);
    e.value(v, 0)?;
    e.out.push(b'.');
    Ok(e.out)
}

/// Nesting limit for encoding (values built in Rust can be arbitrarily deep).
const MAX_ENCODE_DEPTH: usize = 1000;

struct Encoder {
    out: Vec<u8>,
    proto: u8,
}

impl Encoder {
    fn int(&mut self, i: i64) {
        if (0..=0xff).contains(&i) {
            self.out.push(b'K');
            self.out.push(i as u8);
        } else if (0..=0xffff).contains(&i) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(i as u16).to_le_bytes());
        } else if i32::try_from(i).is_ok() {
            self.out.push(b'J');
            self.out.extend_from_slice(&(i as i32).to_le_bytes());
        } else {
            self.long(&bigint::i64_bytes(i));
        }
    }

    fn long(&mut self, b: &[u8]) {
        if b.len() < 256 {
            self.out.push(0x8a);
            self.out.push(b.len() as u8);
        } else {
            self.out.push(0x8b);
            self.out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(b);
    }

    fn unicode(&mut self, b: &[u8]) -> Result<()> {
        if self.proto >= 4 && b.len() < 256 {
            self.out.push(0x8c);
            self.out.push(b.len() as u8);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(b'X');
            self.out.extend_from_slice(&n.to_le_bytes());
        } else if self.proto >= 4 {
            self.out.push(0x8d);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        } else {
            return Err(Error::Pickle(format!(
                "str of {} bytes needs protocol 4",
                b.len()
            )));
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        if module.contains('\n') || name.contains('\n') {
            return Err(Error::Pickle(format!(
                "global {module:?}.{name:?}: expected names without newlines"
            )));
        }
        self.out.push(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> Result<()> {
        if self.proto < 3 {
            if b.is_empty() {
                self.global("builtins", "bytes")?;
                self.out.push(b')');
            } else {
                self.global("_codecs", "encode")?;
                let s: String = b.iter().map(|&c| char::from(c)).collect();
                self.unicode(s.as_bytes())?;
                self.unicode(b"latin1")?;
                self.out.push(0x86);
            }
            self.out.push(b'R');
            return Ok(());
        }
        if b.len() < 256 {
            self.out.push(b'C');
            self.out.push(b.len() as u8);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(b'B');
            self.out.extend_from_slice(&n.to_le_bytes());
        } else if self.proto >= 4 {
            self.out.push(0x8e);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        } else {
            return Err(Error::Pickle(format!(
                "bytes of {} bytes needs protocol 4",
                b.len()
            )));
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn batched<'v>(
        &mut self,
        items: impl ExactSizeIterator<Item = &'v PyValue>,
        op: u8,
        depth: usize,
    ) -> Result<()> {
        let mut left = items.len();
        let mut it = items;
        while left > 0 {
            let n = left.min(1000);
            self.out.push(b'(');
            for _ in 0..n {
                if let Some(x) = it.next() {
                    self.value(x, depth)?;
                }
            }
            self.out.push(op);
            left -= n;
        }
        Ok(())
    }

    fn value(&mut self, v: &PyValue, depth: usize) -> Result<()> {
        if depth > MAX_ENCODE_DEPTH {
            return Err(Error::Pickle(format!(
                "value nested deeper than {MAX_ENCODE_DEPTH} levels"
            )));
        }
        let d = depth + 1;
        match v {
            PyValue::None => self.out.push(b'N'),
            PyValue::Bool(true) => self.out.push(0x88),
            PyValue::Bool(false) => self.out.push(0x89),
            PyValue::Int(i) => self.int(*i),
            PyValue::BigInt(b) => self.long(b.to_le_bytes()),
            PyValue::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            PyValue::Str(s) => self.unicode(s.as_bytes())?,
            PyValue::SurrogateStr(b) => self.unicode(b)?,
            PyValue::Bytes(b) => self.bytes(b)?,
            PyValue::ByteArray(b) => {
                self.global("builtins", "bytearray")?;
                self.bytes(b)?;
                self.out.push(0x85);
                self.out.push(b'R');
            }
            PyValue::Tuple(t) => match t.len() {
                0 => self.out.push(b')'),
                1..=3 => {
                    for x in t {
                        self.value(x, d)?;
                    }
                    self.out.push(0x84 + t.len() as u8);
                }
                _ => {
                    self.out.push(b'(');
                    for x in t {
                        self.value(x, d)?;
                    }
                    self.out.push(b't');
                }
            },
            PyValue::List(l) => {
                self.out.push(b']');
                self.batched(l.iter(), b'e', d)?;
            }
            PyValue::Dict(dict) => {
                self.out.push(b'}');
                let mut left = dict.len();
                let mut it = dict.iter();
                while left > 0 {
                    let n = left.min(1000);
                    self.out.push(b'(');
                    for _ in 0..n {
                        if let Some((k, v)) = it.next() {
                            self.value(k, d)?;
                            self.value(v, d)?;
                        }
                    }
                    self.out.push(b'u');
                    left -= n;
                }
            }
            PyValue::Set(s) => {
                if self.proto >= 4 {
                    self.out.push(0x8f);
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), 0x90, d)?;
                } else {
                    self.global("builtins", "set")?;
                    self.out.push(b']');
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), b'e', d)?;
                    self.out.extend_from_slice(&[0x85, b'R']);
                }
            }
            PyValue::FrozenSet(s) => {
                if self.proto >= 4 {
                    self.out.push(b'(');
                    for x in s.iter() {
                        self.value(x, d)?;
                    }
                    self.out.push(0x91);
                } else {
                    self.global("builtins", "frozenset")?;
                    self.out.push(b']');
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), b'e', d)?;
                    self.out.extend_from_slice(&[0x85, b'R']);
                }
            }
            PyValue::Global { module, name } => self.global(module, name)?,
            PyValue::Reduce { callable, args } => {
                self.value(callable, d)?;
                self.value(args, d)?;
                self.out.push(b'R');
            }
            PyValue::NewObj { cls, args, kwargs } => match kwargs {
                None => {
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.out.push(0x81);
                }
                Some(kw) if self.proto >= 4 => {
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.value(kw, d)?;
                    self.out.push(0x92);
                }
                Some(kw) => {
                    self.global("copyreg", "__newobj_ex__")?;
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.value(kw, d)?;
                    self.out.extend_from_slice(&[0x87, b'R']);
                }
            },
            PyValue::Build { obj, state } => {
                self.value(obj, d)?;
                self.value(state, d)?;
                self.out.push(b'b');
            }
        }
        Ok(())
    }
}
