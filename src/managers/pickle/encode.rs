//! The encoder: [`PyValue`] → pickle bytes (protocol 2, 3 or 4; no FRAME, no memo, text `GLOBAL`).

use super::bigint;
use super::opcodes as op;
use super::PyValue;
use crate::error::PickleError;
use crate::{Error, Result};

fn unencodable(detail: String) -> Error {
    Error::Pickle(PickleError::Unencodable { detail })
}

/// Encodes with protocol 4 (what CPython 3.8–3.13 send by default).
///
/// The output is the minimal form every checked CPython reads (`docs/protocol.md` §3): `PROTO 4`, no `FRAME`, no memo, text
/// `GLOBAL` for classes, the smallest int opcode, `MARK … SETITEMS`/`APPENDS` for non-empty
/// dicts/lists.
///
/// ```
/// use mpshare::managers::pickle::{dumps, PyValue};
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
/// use mpshare::managers::pickle::{dumps_protocol, loads, PyValue};
/// let v = PyValue::bytes(b"\x00\xff");
/// for p in [2, 3, 4] {
///     assert!(loads(&dumps_protocol(&v, p).unwrap()).unwrap().identical(&v));
/// }
/// assert!(dumps_protocol(&v, 1).is_err());
/// ```
pub fn dumps_protocol(v: &PyValue, protocol: u8) -> Result<Vec<u8>> {
    if !(2..=4).contains(&protocol) {
        return Err(Error::Pickle(PickleError::UnsupportedProtocol {
            found: protocol,
            expected: "2, 3 or 4 for encoding",
        }));
    }
    let mut e = Encoder {
        out: Vec::with_capacity(64),
        proto: protocol,
    };
    e.out.extend_from_slice(&[op::PROTO, protocol]);
    e.value(v, 0)?;
    e.out.push(op::STOP);
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
            self.out.push(op::BININT1);
            self.out.push(i as u8);
        } else if (0..=0xffff).contains(&i) {
            self.out.push(op::BININT2);
            self.out.extend_from_slice(&(i as u16).to_le_bytes());
        } else if i32::try_from(i).is_ok() {
            self.out.push(op::BININT);
            self.out.extend_from_slice(&(i as i32).to_le_bytes());
        } else {
            self.long(&bigint::i64_bytes(i));
        }
    }

    fn long(&mut self, b: &[u8]) {
        if b.len() < 256 {
            self.out.push(op::LONG1);
            self.out.push(b.len() as u8);
        } else {
            self.out.push(op::LONG4);
            self.out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(b);
    }

    fn unicode(&mut self, b: &[u8]) -> Result<()> {
        if self.proto >= 4 && b.len() < 256 {
            self.out.push(op::SHORT_BINUNICODE);
            self.out.push(b.len() as u8);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(op::BINUNICODE);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else if self.proto >= 4 {
            self.out.push(op::BINUNICODE8);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        } else {
            return Err(unencodable(format!(
                "str of {} bytes needs protocol 4",
                b.len()
            )));
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        if module.contains('\n') || name.contains('\n') {
            return Err(unencodable(format!(
                "global {module:?}.{name:?}: expected names without newlines"
            )));
        }
        self.out.push(op::GLOBAL);
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
                self.out.push(op::EMPTY_TUPLE);
            } else {
                self.global("_codecs", "encode")?;
                let s: String = b.iter().map(|&c| char::from(c)).collect();
                self.unicode(s.as_bytes())?;
                self.unicode(b"latin1")?;
                self.out.push(op::TUPLE2);
            }
            self.out.push(op::REDUCE);
            return Ok(());
        }
        if b.len() < 256 {
            self.out.push(op::SHORT_BINBYTES);
            self.out.push(b.len() as u8);
        } else if let Ok(n) = u32::try_from(b.len()) {
            self.out.push(op::BINBYTES);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else if self.proto >= 4 {
            self.out.push(op::BINBYTES8);
            self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        } else {
            return Err(unencodable(format!(
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
            self.out.push(op::MARK);
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
            return Err(Error::Pickle(PickleError::LimitExceeded {
                what: "the nesting depth of the value".into(),
                limit: MAX_ENCODE_DEPTH,
            }));
        }
        let d = depth + 1;
        match v {
            PyValue::None => self.out.push(op::NONE),
            PyValue::Bool(true) => self.out.push(op::NEWTRUE),
            PyValue::Bool(false) => self.out.push(op::NEWFALSE),
            PyValue::Int(i) => self.int(*i),
            PyValue::BigInt(b) => self.long(b.to_le_bytes()),
            PyValue::Float(f) => {
                self.out.push(op::BINFLOAT);
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            PyValue::Str(s) => self.unicode(s.as_bytes())?,
            PyValue::SurrogateStr(b) => self.unicode(b)?,
            PyValue::Bytes(b) => self.bytes(b)?,
            PyValue::ByteArray(b) => {
                self.global("builtins", "bytearray")?;
                self.bytes(b)?;
                self.out.push(op::TUPLE1);
                self.out.push(op::REDUCE);
            }
            PyValue::Tuple(t) => match t.len() {
                0 => self.out.push(op::EMPTY_TUPLE),
                1..=3 => {
                    for x in t {
                        self.value(x, d)?;
                    }
                    self.out.push(op::TUPLE1 - 1 + t.len() as u8);
                }
                _ => {
                    self.out.push(op::MARK);
                    for x in t {
                        self.value(x, d)?;
                    }
                    self.out.push(op::TUPLE);
                }
            },
            PyValue::List(l) => {
                self.out.push(op::EMPTY_LIST);
                self.batched(l.iter(), op::APPENDS, d)?;
            }
            PyValue::Dict(dict) => {
                self.out.push(op::EMPTY_DICT);
                let mut left = dict.len();
                let mut it = dict.iter();
                while left > 0 {
                    let n = left.min(1000);
                    self.out.push(op::MARK);
                    for _ in 0..n {
                        if let Some((k, v)) = it.next() {
                            self.value(k, d)?;
                            self.value(v, d)?;
                        }
                    }
                    self.out.push(op::SETITEMS);
                    left -= n;
                }
            }
            PyValue::Set(s) => {
                if self.proto >= 4 {
                    self.out.push(op::EMPTY_SET);
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), op::ADDITEMS, d)?;
                } else {
                    self.global("builtins", "set")?;
                    self.out.push(op::EMPTY_LIST);
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), op::APPENDS, d)?;
                    self.out.extend_from_slice(&[op::TUPLE1, op::REDUCE]);
                }
            }
            PyValue::FrozenSet(s) => {
                if self.proto >= 4 {
                    self.out.push(op::MARK);
                    for x in s.iter() {
                        self.value(x, d)?;
                    }
                    self.out.push(op::FROZENSET);
                } else {
                    self.global("builtins", "frozenset")?;
                    self.out.push(op::EMPTY_LIST);
                    let items: Vec<&PyValue> = s.iter().collect();
                    self.batched(items.into_iter(), op::APPENDS, d)?;
                    self.out.extend_from_slice(&[op::TUPLE1, op::REDUCE]);
                }
            }
            PyValue::Global { module, name } => self.global(module, name)?,
            PyValue::Reduce { callable, args } => {
                self.value(callable, d)?;
                self.value(args, d)?;
                self.out.push(op::REDUCE);
            }
            PyValue::NewObj { cls, args, kwargs } => match kwargs {
                None => {
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.out.push(op::NEWOBJ);
                }
                Some(kw) if self.proto >= 4 => {
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.value(kw, d)?;
                    self.out.push(op::NEWOBJ_EX);
                }
                Some(kw) => {
                    self.global("copyreg", "__newobj_ex__")?;
                    self.value(cls, d)?;
                    self.value(args, d)?;
                    self.value(kw, d)?;
                    self.out.extend_from_slice(&[op::TUPLE3, op::REDUCE]);
                }
            },
            PyValue::Build { obj, state } => {
                self.value(obj, d)?;
                self.value(state, d)?;
                self.out.push(op::BUILD);
            }
        }
        Ok(())
    }
}
