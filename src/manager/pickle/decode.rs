//! The decoder: pickle bytes → [`PyValue`], never executing anything.
//!
//! Decoding runs in two phases. The opcode interpreter builds an arena of nodes in which the stack
//! and the memo hold *references* (like CPython's object references), so a list memoised before its
//! `APPENDS` is seen complete through a later `BINGET`, and a `BUILD` is seen through the memo. The
//! arena is then materialised into a [`PyValue`] tree under the [`Limits`] budget (shared
//! references are copied; cycles are refused).

use std::collections::HashMap;

use super::bigint;
use super::dict::{PyDict, PySet};
use super::PyValue;
use crate::{Error, Result};

/// Resource limits for [`loads_with`]. Every limit produces a clear [`Error::Pickle`].
///
/// ```
/// use mpshare::manager::pickle::{loads_with, Limits};
/// let limits = Limits { max_depth: 2, ..Limits::default() };
/// // [[[]]] is three levels deep
/// let err = loads_with(b"\x80\x04]]]aa.", &limits).unwrap_err();
/// assert!(err.to_string().contains("depth"));
/// ```
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum nesting depth of containers/objects (and of open `MARK`s). Default 200 (fits the 2 MiB
    /// default thread stack in debug builds).
    pub max_depth: usize,
    /// Maximum number of values in the result, counting every copy of a shared (memoised) value.
    /// Default 4 000 000.
    pub max_elements: usize,
    /// Maximum size of one `str`/`bytes`/`bytearray` payload. Default 512 MiB.
    pub max_bytes: usize,
    /// Maximum total size of all `str`/`bytes` payloads in the result, counting copies. Default 1 GiB.
    pub max_total_bytes: usize,
    /// Maximum number of memo entries. Default 1 000 000.
    pub max_memo: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200,
            max_elements: 4_000_000,
            max_bytes: 512 << 20,
            max_total_bytes: 1 << 30,
            max_memo: 1_000_000,
        }
    }
}

/// Decodes one pickle (protocols 0–5) with the default [`Limits`].
///
/// ```
/// use mpshare::manager::pickle::{loads, PyValue};
/// let v = loads(b"\x80\x04\x8c\x07#RETURN\x4b\x01\x86.").unwrap();
/// assert_eq!(v, PyValue::tuple(vec![PyValue::str("#RETURN"), PyValue::Int(1)]));
/// ```
pub fn loads(data: &[u8]) -> Result<PyValue> {
    loads_with(data, &Limits::default())
}

/// Decodes one pickle with explicit limits. Trailing bytes after `STOP` are ignored (like
/// `pickle.loads`).
///
/// ```
/// use mpshare::manager::pickle::{loads_with, Limits};
/// let err = loads_with(b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x10", &Limits::default());
/// assert!(err.unwrap_err().to_string().contains("BINBYTES8"));
/// ```
pub fn loads_with(data: &[u8], limits: &Limits) -> Result<PyValue> {
    if let Some(v) = super::fast::try_loads(data, limits) {
        return Ok(v);
    }
    loads_full(data, limits)
}

/// The full two-phase decoder (the fast path in `fast.rs` defers to it).
pub(crate) fn loads_full(data: &[u8], limits: &Limits) -> Result<PyValue> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        nodes: Vec::new(),
        limits,
        elements: 0,
    };
    let root = m.run()?;
    let mut mat = Materialiser {
        nodes: &m.nodes,
        state: vec![0u8; m.nodes.len()],
        limits,
        elements: 0,
        bytes: 0,
    };
    mat.item(root, 0)
}

#[derive(Clone, Copy, Debug)]
enum Item {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Ref(usize),
}

#[derive(Debug)]
enum Node {
    Leaf(PyValue),
    Tuple(Vec<Item>),
    List(Vec<Item>),
    Dict(Vec<(Item, Item)>),
    Set(Vec<Item>),
    FrozenSet(Vec<Item>),
    Reduce(Item, Item),
    NewObj(Item, Item, Option<Item>),
    Build(Item, Item),
    /// Placeholder while a node is moved.
    Empty,
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: HashMap<u64, Item>,
    nodes: Vec<Node>,
    limits: &'a Limits,
    elements: usize,
}

fn perr(msg: String) -> Error {
    Error::Pickle(msg)
}

fn opname(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
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
                    return Err(perr(format!(
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

impl<'a> Machine<'a> {
    fn op_err(&self, op: u8, what: &str) -> Error {
        perr(format!(
            "{what} at opcode {} (0x{op:02x}) at offset {}",
            opname(op),
            self.pos.saturating_sub(1)
        ))
    }

    fn take(&mut self, n: usize, op: u8) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        if n > data.len() - self.pos {
            return Err(perr(format!(
                "truncated pickle: opcode {} (0x{op:02x}) needs {n} bytes at offset {}, only {} left",
                opname(op),
                self.pos,
                data.len() - self.pos
            )));
        }
        let s = &data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn take_len(&mut self, width: usize, op: u8) -> Result<usize> {
        let b = self.take(width, op)?;
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(b);
        let n = u64::from_le_bytes(buf);
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return Err(perr(format!(
                "truncated pickle: opcode {} (0x{op:02x}) announces {n} bytes at offset {}, only {left} left",
                opname(op),
                self.pos
            )));
        }
        let n = n as usize;
        if n > self.limits.max_bytes {
            return Err(perr(format!(
                "opcode {} payload of {n} bytes exceeds the limit of {} bytes",
                opname(op),
                self.limits.max_bytes
            )));
        }
        Ok(n)
    }

    fn line(&mut self, op: u8) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let rest = &data[self.pos..];
        match rest.iter().position(|&c| c == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(perr(format!(
                "truncated pickle: opcode {} (0x{op:02x}) expects a newline-terminated argument at offset {}",
                opname(op),
                self.pos
            ))),
        }
    }

    fn line_str(&mut self, op: u8) -> Result<&'a str> {
        let l = self.line(op)?;
        std::str::from_utf8(l).map_err(|_| self.op_err(op, "non-UTF-8 text argument"))
    }

    fn count(&mut self, n: usize) -> Result<()> {
        self.elements += n;
        if self.elements > self.limits.max_elements {
            return Err(perr(format!(
                "pickle holds more than the limit of {} elements",
                self.limits.max_elements
            )));
        }
        Ok(())
    }

    fn node(&mut self, n: Node) -> Result<Item> {
        self.count(1)?;
        self.nodes.push(n);
        Ok(Item::Ref(self.nodes.len() - 1))
    }

    fn push_leaf(&mut self, v: PyValue) -> Result<()> {
        let it = self.node(Node::Leaf(v))?;
        self.stack.push(it);
        Ok(())
    }

    fn pop(&mut self, op: u8) -> Result<Item> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.op_err(op, "stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.op_err(op, "stack underflow"))
    }

    fn top(&self, op: u8) -> Result<Item> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.op_err(op, "stack underflow"));
        }
        Ok(self.stack[self.stack.len() - 1])
    }

    fn pop_mark(&mut self, op: u8) -> Result<Vec<Item>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.op_err(op, "no MARK on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, key: u64, op: u8) -> Result<()> {
        let v = self.top(op)?;
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&key) {
            return Err(perr(format!(
                "memo exceeds the limit of {} entries",
                self.limits.max_memo
            )));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, op: u8) -> Result<()> {
        let v = *self.memo.get(&key).ok_or_else(|| {
            perr(format!(
                "memo key {key} not found at opcode {} at offset {} (memo has {} entries)",
                opname(op),
                self.pos,
                self.memo.len()
            ))
        })?;
        self.count(1)?;
        self.stack.push(v);
        Ok(())
    }

    fn global_leaf(&mut self, module: &str, name: &str) -> Result<()> {
        let (m, n) = map_global(module, name);
        self.push_leaf(PyValue::Global { module: m, name: n })
    }

    fn leaf_str(&self, it: Item) -> Option<&str> {
        match it {
            Item::Ref(i) => match &self.nodes[i] {
                Node::Leaf(PyValue::Str(s)) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    fn container_mut(&mut self, it: Item, op: u8) -> Result<&mut Node> {
        match it {
            Item::Ref(i) => Ok(&mut self.nodes[i]),
            _ => Err(self.op_err(op, "target is not a container")),
        }
    }

    fn run(&mut self) -> Result<Item> {
        loop {
            let Some(&op) = self.data.get(self.pos) else {
                return Err(perr(format!(
                    "truncated pickle: no STOP opcode before the end of input ({} bytes)",
                    self.data.len()
                )));
            };
            self.pos += 1;
            match op {
                0x80 => {
                    let p = self.take(1, op)?[0];
                    if p > 5 {
                        return Err(perr(format!(
                            "unsupported pickle protocol {p}: expected 0..=5"
                        )));
                    }
                }
                0x95 => {
                    self.take(8, op)?;
                }
                b'.' => {
                    let v = self.pop(op)?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        // CPython ignores leftovers; we do too but only after a value exists.
                    }
                    return Ok(v);
                }
                b'(' => {
                    if self.marks.len() >= self.limits.max_depth {
                        return Err(perr(format!(
                            "nesting depth exceeds the limit of {} (too many open MARKs)",
                            self.limits.max_depth
                        )));
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                        self.stack.pop();
                    } else if self.marks.pop().is_none() {
                        return Err(self.op_err(op, "stack underflow"));
                    }
                }
                b'1' => {
                    self.pop_mark(op)?;
                }
                b'2' => {
                    let v = self.top(op)?;
                    self.count(1)?;
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Item::None),
                0x88 => self.stack.push(Item::Bool(true)),
                0x89 => self.stack.push(Item::Bool(false)),
                b'K' => {
                    let b = self.take(1, op)?;
                    self.stack.push(Item::Int(i64::from(b[0])));
                }
                b'M' => {
                    let b = self.take(2, op)?;
                    self.stack
                        .push(Item::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))));
                }
                b'J' => {
                    let b = self.take(4, op)?;
                    self.stack.push(Item::Int(i64::from(i32::from_le_bytes([
                        b[0], b[1], b[2], b[3],
                    ]))));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        usize::from(self.take(1, op)?[0])
                    } else {
                        let b = self.take(4, op)?;
                        let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        if n < 0 {
                            return Err(self.op_err(op, "negative byte count"));
                        }
                        let n = n as usize;
                        if n > self.data.len() - self.pos {
                            return Err(perr(format!(
                                "truncated pickle: LONG4 announces {n} bytes at offset {}, only {} left",
                                self.pos,
                                self.data.len() - self.pos
                            )));
                        }
                        n
                    };
                    let b = self.take(n, op)?;
                    match PyValue::int_from_le_bytes(b) {
                        PyValue::Int(i) => self.stack.push(Item::Int(i)),
                        v => self.push_leaf(v)?,
                    }
                }
                b'I' => {
                    let l = self.line_str(op)?;
                    match l {
                        "01" => self.stack.push(Item::Bool(true)),
                        "00" => self.stack.push(Item::Bool(false)),
                        _ => {
                            let b = bigint::parse_decimal(l)?;
                            match PyValue::int_from_le_bytes(&b) {
                                PyValue::Int(i) => self.stack.push(Item::Int(i)),
                                v => self.push_leaf(v)?,
                            }
                        }
                    }
                }
                b'L' => {
                    let l = self.line_str(op)?;
                    let l = l.strip_suffix('L').unwrap_or(l);
                    let b = bigint::parse_decimal(l)?;
                    match PyValue::int_from_le_bytes(&b) {
                        PyValue::Int(i) => self.stack.push(Item::Int(i)),
                        v => self.push_leaf(v)?,
                    }
                }
                b'F' => {
                    let l = self.line_str(op)?.trim();
                    let f = parse_float_text(l).ok_or_else(|| {
                        perr(format!("FLOAT: expected a float literal, found {l:?}"))
                    })?;
                    self.stack.push(Item::Float(f));
                }
                b'G' => {
                    let b = self.take(8, op)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.stack.push(Item::Float(f64::from_be_bytes(a)));
                }
                0x8c => {
                    let n = self.take_len(1, op)?;
                    let b = self.take(n, op)?;
                    let v = decode_utf8(b)?;
                    self.push_leaf(v)?;
                }
                b'X' => {
                    let n = self.take_len(4, op)?;
                    let b = self.take(n, op)?;
                    let v = decode_utf8(b)?;
                    self.push_leaf(v)?;
                }
                0x8d => {
                    let n = self.take_len(8, op)?;
                    let b = self.take(n, op)?;
                    let v = decode_utf8(b)?;
                    self.push_leaf(v)?;
                }
                b'V' => {
                    let l = self.line(op)?;
                    let v = raw_unicode_escape(l)?;
                    self.push_leaf(v)?;
                }
                b'S' => {
                    let l = self.line(op)?;
                    let b = parse_string_literal(l)?;
                    self.push_leaf(ascii_str(b))?;
                }
                b'T' | b'U' => {
                    let n = if op == b'U' {
                        self.take_len(1, op)?
                    } else {
                        let b = self.take(4, op)?;
                        let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        if n < 0 {
                            return Err(self.op_err(op, "negative byte count"));
                        }
                        self.pos -= 4;
                        self.take_len(4, op)?
                    };
                    let b = self.take(n, op)?.to_vec();
                    self.push_leaf(ascii_str(b))?;
                }
                b'C' => {
                    let n = self.take_len(1, op)?;
                    let b = self.take(n, op)?.to_vec();
                    self.push_leaf(PyValue::Bytes(b))?;
                }
                b'B' => {
                    let n = self.take_len(4, op)?;
                    let b = self.take(n, op)?.to_vec();
                    self.push_leaf(PyValue::Bytes(b))?;
                }
                0x8e => {
                    let n = self.take_len(8, op)?;
                    let b = self.take(n, op)?.to_vec();
                    self.push_leaf(PyValue::Bytes(b))?;
                }
                0x96 => {
                    let n = self.take_len(8, op)?;
                    let b = self.take(n, op)?.to_vec();
                    self.push_leaf(PyValue::ByteArray(b))?;
                }
                b')' => {
                    let it = self.node(Node::Tuple(Vec::new()))?;
                    self.stack.push(it);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return Err(self.op_err(op, "stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let it = self.node(Node::Tuple(items))?;
                    self.stack.push(it);
                }
                b't' => {
                    let items = self.pop_mark(op)?;
                    let it = self.node(Node::Tuple(items))?;
                    self.stack.push(it);
                }
                b']' => {
                    let it = self.node(Node::List(Vec::new()))?;
                    self.stack.push(it);
                }
                b'l' => {
                    let items = self.pop_mark(op)?;
                    let it = self.node(Node::List(items))?;
                    self.stack.push(it);
                }
                b'}' => {
                    let it = self.node(Node::Dict(Vec::new()))?;
                    self.stack.push(it);
                }
                b'd' => {
                    let items = self.pop_mark(op)?;
                    if items.len() % 2 != 0 {
                        return Err(self.op_err(op, "odd number of items for a dict"));
                    }
                    let pairs = items.chunks(2).map(|c| (c[0], c[1])).collect();
                    let it = self.node(Node::Dict(pairs))?;
                    self.stack.push(it);
                }
                0x8f => {
                    let it = self.node(Node::Set(Vec::new()))?;
                    self.stack.push(it);
                }
                0x91 => {
                    let items = self.pop_mark(op)?;
                    let it = self.node(Node::FrozenSet(items))?;
                    self.stack.push(it);
                }
                b'a' => {
                    let v = self.pop(op)?;
                    let target = self.top(op)?;
                    match self.container_mut(target, op)? {
                        Node::List(l) => l.push(v),
                        _ => return Err(self.op_err(op, "APPEND target is not a list")),
                    }
                }
                b'e' => {
                    let items = self.pop_mark(op)?;
                    let target = self.top(op)?;
                    match self.container_mut(target, op)? {
                        Node::List(l) => l.extend(items),
                        _ => return Err(self.op_err(op, "APPENDS target is not a list")),
                    }
                }
                b's' => {
                    let v = self.pop(op)?;
                    let k = self.pop(op)?;
                    let target = self.top(op)?;
                    match self.container_mut(target, op)? {
                        Node::Dict(d) => d.push((k, v)),
                        _ => return Err(self.op_err(op, "SETITEM target is not a dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark(op)?;
                    if items.len() % 2 != 0 {
                        return Err(self.op_err(op, "odd number of items for SETITEMS"));
                    }
                    let target = self.top(op)?;
                    match self.container_mut(target, op)? {
                        Node::Dict(d) => d.extend(items.chunks(2).map(|c| (c[0], c[1]))),
                        _ => return Err(self.op_err(op, "SETITEMS target is not a dict")),
                    }
                }
                0x90 => {
                    let items = self.pop_mark(op)?;
                    let target = self.top(op)?;
                    match self.container_mut(target, op)? {
                        Node::Set(s) => s.extend(items),
                        _ => return Err(self.op_err(op, "ADDITEMS target is not a set")),
                    }
                }
                b'c' => {
                    let module = self.line_str(op)?;
                    let name = self.line_str(op)?;
                    self.global_leaf(module, name)?;
                }
                0x93 => {
                    let name = self.pop(op)?;
                    let module = self.pop(op)?;
                    let (Some(m), Some(n)) = (self.leaf_str(module), self.leaf_str(name)) else {
                        return Err(self.op_err(op, "STACK_GLOBAL expects two str on the stack"));
                    };
                    let (m, n) = (m.to_string(), n.to_string());
                    self.global_leaf(&m, &n)?;
                }
                b'R' => {
                    let args = self.pop(op)?;
                    let callable = self.pop(op)?;
                    let it = self.node(Node::Reduce(callable, args))?;
                    self.stack.push(it);
                }
                0x81 => {
                    let args = self.pop(op)?;
                    let cls = self.pop(op)?;
                    let it = self.node(Node::NewObj(cls, args, None))?;
                    self.stack.push(it);
                }
                0x92 => {
                    let kwargs = self.pop(op)?;
                    let args = self.pop(op)?;
                    let cls = self.pop(op)?;
                    let it = self.node(Node::NewObj(cls, args, Some(kwargs)))?;
                    self.stack.push(it);
                }
                b'b' => {
                    let state = self.pop(op)?;
                    let obj = self.top(op)?;
                    match obj {
                        Item::Ref(i) => {
                            let old = std::mem::replace(&mut self.nodes[i], Node::Empty);
                            let moved = self.node(old)?;
                            self.nodes[i] = Node::Build(moved, state);
                        }
                        other => {
                            let it = self.node(Node::Build(other, state))?;
                            self.stack.pop();
                            self.stack.push(it);
                        }
                    }
                }
                b'o' => {
                    let mut items = self.pop_mark(op)?;
                    if items.is_empty() {
                        return Err(self.op_err(op, "OBJ needs a class"));
                    }
                    let cls = items.remove(0);
                    let args = self.node(Node::Tuple(items))?;
                    let it = self.node(Node::Reduce(cls, args))?;
                    self.stack.push(it);
                }
                b'i' => {
                    let module = self.line_str(op)?;
                    let name = self.line_str(op)?;
                    let items = self.pop_mark(op)?;
                    let (m, n) = map_global(module, name);
                    let cls = self.node(Node::Leaf(PyValue::Global { module: m, name: n }))?;
                    let args = self.node(Node::Tuple(items))?;
                    let it = self.node(Node::Reduce(cls, args))?;
                    self.stack.push(it);
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k, op)?;
                }
                b'p' => {
                    let l = self.line_str(op)?;
                    let k = l
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| perr(format!("PUT: expected a memo index, found {l:?}")))?;
                    self.memo_put(k, op)?;
                }
                b'q' => {
                    let k = u64::from(self.take(1, op)?[0]);
                    self.memo_put(k, op)?;
                }
                b'r' => {
                    let b = self.take(4, op)?;
                    let k = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    self.memo_put(k, op)?;
                }
                b'g' => {
                    let l = self.line_str(op)?;
                    let k = l
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| perr(format!("GET: expected a memo index, found {l:?}")))?;
                    self.memo_get(k, op)?;
                }
                b'h' => {
                    let k = u64::from(self.take(1, op)?[0]);
                    self.memo_get(k, op)?;
                }
                b'j' => {
                    let b = self.take(4, op)?;
                    let k = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    self.memo_get(k, op)?;
                }
                b'P' | b'Q' | 0x82 | 0x83 | 0x84 | 0x97 | 0x98 => {
                    return Err(perr(format!(
                        "unsupported opcode {} (0x{op:02x}) at offset {}: persistent ids, extension registry and out-of-band buffers are not supported",
                        opname(op),
                        self.pos - 1
                    )));
                }
                _ => {
                    return Err(perr(format!(
                        "unknown opcode 0x{op:02x} at offset {}",
                        self.pos - 1
                    )));
                }
            }
        }
    }
}

fn ascii_str(b: Vec<u8>) -> PyValue {
    match String::from_utf8(b) {
        Ok(s) if s.is_ascii() => PyValue::Str(s),
        Ok(s) => PyValue::Bytes(s.into_bytes()),
        Err(e) => PyValue::Bytes(e.into_bytes()),
    }
}

fn parse_float_text(l: &str) -> Option<f64> {
    match l {
        "nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => l.parse().ok(),
    }
}

/// Protocol 0 `UNICODE` argument: raw-unicode-escape (only `\uXXXX` and `\UXXXXXXXX` escapes;
/// other bytes are Latin-1).
fn raw_unicode_escape(l: &[u8]) -> Result<PyValue> {
    let mut cps: Vec<u32> = Vec::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        let c = l[i];
        if c == b'\\' && i + 1 < l.len() && (l[i + 1] == b'u' || l[i + 1] == b'U') {
            // count preceding backslashes: an escape only if odd
            let w = if l[i + 1] == b'u' { 4 } else { 8 };
            if i + 2 + w > l.len() {
                return Err(perr("UNICODE: truncated \\u escape".into()));
            }
            let hex = std::str::from_utf8(&l[i + 2..i + 2 + w])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| perr("UNICODE: bad \\u escape".into()))?;
            if hex > 0x10ffff {
                return Err(perr("UNICODE: \\U escape out of range".into()));
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
fn parse_string_literal(l: &[u8]) -> Result<Vec<u8>> {
    let bad = || {
        perr(format!(
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

struct Materialiser<'n> {
    nodes: &'n [Node],
    /// 0 = not visiting, 1 = on the current path (cycle detection)
    state: Vec<u8>,
    limits: &'n Limits,
    elements: usize,
    bytes: usize,
}

impl Materialiser<'_> {
    fn count(&mut self) -> Result<()> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(perr(format!(
                "decoded value exceeds the limit of {} elements (shared references are copied)",
                self.limits.max_elements
            )));
        }
        Ok(())
    }

    fn count_bytes(&mut self, n: usize) -> Result<()> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_total_bytes {
            return Err(perr(format!(
                "decoded value exceeds the limit of {} total str/bytes bytes (shared references are copied)",
                self.limits.max_total_bytes
            )));
        }
        Ok(())
    }

    fn items(&mut self, items: &[Item], depth: usize) -> Result<Vec<PyValue>> {
        let mut out = Vec::with_capacity(items.len());
        for &i in items {
            out.push(self.item(i, depth)?);
        }
        Ok(out)
    }

    #[inline(never)]
    fn leaf(&mut self, v: &PyValue) -> Result<PyValue> {
        match v {
            PyValue::Str(s) => self.count_bytes(s.len())?,
            PyValue::Bytes(b) | PyValue::ByteArray(b) | PyValue::SurrogateStr(b) => {
                self.count_bytes(b.len())?
            }
            _ => {}
        }
        Ok(v.clone())
    }

    #[inline(never)]
    fn reduce(&mut self, c: Item, a: Item, depth: usize) -> Result<PyValue> {
        let callable = self.item(c, depth)?;
        let args = self.item(a, depth)?;
        interpret_reduce(callable, args)
    }

    #[inline(never)]
    fn new_obj(&mut self, c: Item, a: Item, k: Option<Item>, depth: usize) -> Result<PyValue> {
        Ok(PyValue::NewObj {
            cls: Box::new(self.item(c, depth)?),
            args: Box::new(self.item(a, depth)?),
            kwargs: match k {
                Some(k) => Some(Box::new(self.item(k, depth)?)),
                None => None,
            },
        })
    }

    #[inline(never)]
    fn build(&mut self, o: Item, s: Item, depth: usize) -> Result<PyValue> {
        Ok(PyValue::Build {
            obj: Box::new(self.item(o, depth)?),
            state: Box::new(self.item(s, depth)?),
        })
    }

    #[inline(never)]
    fn dict(&mut self, pairs: &[(Item, Item)], depth: usize) -> Result<PyValue> {
        let mut d = PyDict::new();
        for &(k, v) in pairs {
            let k = self.item(k, depth)?;
            let v = self.item(v, depth)?;
            d.insert(k, v).map_err(|e| perr(format!("dict key: {e}")))?;
        }
        Ok(PyValue::Dict(d))
    }

    #[inline(never)]
    fn set(&mut self, items: &[Item], frozen: bool, depth: usize) -> Result<PyValue> {
        let items = self.items(items, depth)?;
        let s = PySet::from_items(items).map_err(|e| perr(format!("set element: {e}")))?;
        Ok(if frozen {
            PyValue::FrozenSet(s)
        } else {
            PyValue::Set(s)
        })
    }

    fn item(&mut self, it: Item, depth: usize) -> Result<PyValue> {
        self.count()?;
        match it {
            Item::None => Ok(PyValue::None),
            Item::Bool(b) => Ok(PyValue::Bool(b)),
            Item::Int(i) => Ok(PyValue::Int(i)),
            Item::Float(f) => Ok(PyValue::Float(f)),
            Item::Ref(i) => {
                if depth >= self.limits.max_depth {
                    return Err(perr(format!(
                        "nesting depth exceeds the limit of {}",
                        self.limits.max_depth
                    )));
                }
                if self.state[i] == 1 {
                    return Err(perr(
                        "recursive (self-referencing) structure is not supported".into(),
                    ));
                }
                self.state[i] = 1;
                let r = self.node(i, depth + 1);
                self.state[i] = 0;
                r
            }
        }
    }

    fn node(&mut self, i: usize, depth: usize) -> Result<PyValue> {
        let nodes = self.nodes;
        Ok(match &nodes[i] {
            Node::Leaf(v) => self.leaf(v)?,
            Node::Empty => return Err(perr("internal: empty node".into())),
            Node::Tuple(t) => PyValue::Tuple(self.items(t, depth)?),
            Node::List(t) => PyValue::List(self.items(t, depth)?),
            Node::Dict(pairs) => self.dict(pairs, depth)?,
            Node::Set(t) => self.set(t, false, depth)?,
            Node::FrozenSet(t) => self.set(t, true, depth)?,
            Node::Reduce(c, a) => self.reduce(*c, *a, depth)?,
            Node::NewObj(c, a, k) => self.new_obj(*c, *a, *k, depth)?,
            Node::Build(o, s) => self.build(*o, *s, depth)?,
        })
    }
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
                    .map_err(|e| perr(format!("set element: {e}")))?;
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
