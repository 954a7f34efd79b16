//! Phase one of the full decoder: the opcode interpreter, building the arena.

use std::collections::HashMap;

use super::arena::{Item, Node};
use crate::error::PickleError;
use crate::managers::pickle::limits::Limits;
use crate::managers::pickle::opcodes::{self as op, name as opname};
use crate::managers::pickle::primitives::invalid;
use crate::managers::pickle::primitives::{
    ascii_str, decode_utf8, map_global, parse_float_text, parse_string_literal, raw_unicode_escape,
};
use crate::managers::pickle::{bigint, PyValue};
use crate::{Error, Result};

fn perr(e: PickleError) -> Error {
    Error::Pickle(e)
}

fn truncated(detail: String) -> Error {
    perr(PickleError::Truncated { detail })
}

fn limit(what: &str, limit: usize) -> Error {
    perr(PickleError::LimitExceeded {
        what: what.to_string(),
        limit,
    })
}

/// Run the interpreter over `data`: the root item and the arena it refers into.
pub(super) fn interpret(data: &[u8], limits: &Limits) -> Result<(Item, Vec<Node>)> {
    interpret_mode(data, limits, false)
}

/// Most open `MARK`s when values are kept as sent (memory stays bounded by `max_elements`).
pub(super) const KEEP_MAX_MARKS: usize = 100_000;

/// [`interpret`] for values the server keeps as sent (`keep`): objects filled by
/// `APPEND(S)`/`SETITEM(S)` (`OrderedDict`, `defaultdict`, `deque`, ...) become
/// [`Node::Appends`]/[`Node::SetItems`], and nesting may go beyond `max_depth` (up to
/// [`KEEP_MAX_MARKS`] open marks).
pub(super) fn interpret_mode(
    data: &[u8],
    limits: &Limits,
    keep: bool,
) -> Result<(Item, Vec<Node>)> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        nodes: Vec::new(),
        limits,
        elements: 0,
        keep,
    };
    let root = m.run()?;
    Ok((root, m.nodes))
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
    keep: bool,
}

impl<'a> Machine<'a> {
    fn op_err(&self, op: u8, problem: &'static str) -> Error {
        perr(PickleError::Misuse {
            problem,
            opcode: opname(op),
            op,
            offset: self.pos.saturating_sub(1),
        })
    }

    fn take(&mut self, n: usize, op: u8) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        if n > data.len() - self.pos {
            return Err(truncated(format!(
                "opcode {} (0x{op:02x}) needs {n} bytes at offset {}, only {} left",
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
            return Err(truncated(format!(
                "opcode {} (0x{op:02x}) announces {n} bytes at offset {}, only {left} left",
                opname(op),
                self.pos
            )));
        }
        let n = n as usize;
        if n > self.limits.max_bytes {
            return Err(limit(
                &format!("opcode {} payload of {n} bytes", opname(op)),
                self.limits.max_bytes,
            ));
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
            None => Err(truncated(format!(
                "opcode {} (0x{op:02x}) expects a newline-terminated argument at offset {}",
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
            return Err(limit("the number of elements", self.limits.max_elements));
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
            return Err(limit("the memo", self.limits.max_memo));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, op: u8) -> Result<()> {
        let v = *self.memo.get(&key).ok_or_else(|| {
            perr(PickleError::MissingMemo {
                key,
                opcode: opname(op),
                offset: self.pos,
                memo_len: self.memo.len(),
            })
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

    /// `APPEND(S)`/`SETITEM(S)` on an object (keep mode): the object's node `i` becomes an
    /// `Appends`/`SetItems` wrapper around it, so references to `i` see the filled object.
    fn fill_object(
        &mut self,
        target: Item,
        op: u8,
        items: Vec<Item>,
        pairs: bool,
        what: &'static str,
    ) -> Result<()> {
        let Item::Ref(i) = target else {
            return Err(self.op_err(op, what));
        };
        if !self.keep {
            return Err(self.op_err(op, what));
        }
        match &mut self.nodes[i] {
            Node::Appends(_, l) if !pairs => {
                l.extend(items);
                return Ok(());
            }
            Node::SetItems(_, d) if pairs => {
                d.extend(items.chunks(2).map(|c| (c[0], c[1])));
                return Ok(());
            }
            Node::Reduce(..)
            | Node::NewObj(..)
            | Node::Build(..)
            | Node::Appends(..)
            | Node::SetItems(..) => {}
            _ => return Err(self.op_err(op, what)),
        }
        let old = std::mem::replace(&mut self.nodes[i], Node::Empty);
        let moved = self.node(old)?;
        self.nodes[i] = if pairs {
            Node::SetItems(moved, items.chunks(2).map(|c| (c[0], c[1])).collect())
        } else {
            Node::Appends(moved, items)
        };
        Ok(())
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
                return Err(truncated(format!(
                    "no STOP opcode before the end of input ({} bytes)",
                    self.data.len()
                )));
            };
            self.pos += 1;
            match op {
                op::STOP => {
                    let v = self.pop(op)?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        // CPython ignores leftovers; we do too but only after a value exists.
                    }
                    return Ok(v);
                }
                op::PROTO | op::FRAME | op::MARK | op::POP | op::POP_MARK | op::DUP => {
                    self.control(op)?
                }
                op::NONE
                | op::NEWTRUE
                | op::NEWFALSE
                | op::BININT1
                | op::BININT2
                | op::BININT
                | op::LONG1
                | op::LONG4
                | op::INT
                | op::LONG
                | op::FLOAT
                | op::BINFLOAT => self.scalar(op)?,
                op::SHORT_BINUNICODE
                | op::BINUNICODE
                | op::BINUNICODE8
                | op::UNICODE
                | op::STRING
                | op::BINSTRING
                | op::SHORT_BINSTRING
                | op::SHORT_BINBYTES
                | op::BINBYTES
                | op::BINBYTES8
                | op::BYTEARRAY8 => self.text(op)?,
                op::EMPTY_TUPLE
                | op::TUPLE1..=op::TUPLE3
                | op::TUPLE
                | op::EMPTY_LIST
                | op::LIST
                | op::EMPTY_DICT
                | op::DICT
                | op::EMPTY_SET
                | op::FROZENSET
                | op::APPEND
                | op::APPENDS
                | op::SETITEM
                | op::SETITEMS
                | op::ADDITEMS => self.container(op)?,
                op::GLOBAL
                | op::STACK_GLOBAL
                | op::REDUCE
                | op::NEWOBJ
                | op::NEWOBJ_EX
                | op::BUILD
                | op::OBJ
                | op::INST => self.object(op)?,
                op::MEMOIZE
                | op::PUT
                | op::BINPUT
                | op::LONG_BINPUT
                | op::GET
                | op::BINGET
                | op::LONG_BINGET => self.memo(op)?,
                op::PERSID
                | op::BINPERSID
                | op::EXT1
                | op::EXT2
                | op::EXT4
                | op::NEXT_BUFFER
                | op::READONLY_BUFFER => {
                    return Err(perr(PickleError::UnsupportedOpcode {
                        opcode: opname(op),
                        op,
                        offset: self.pos - 1,
                    }));
                }
                _ => {
                    return Err(perr(PickleError::UnknownOpcode {
                        op,
                        offset: self.pos - 1,
                    }));
                }
            }
        }
    }

    /// Framing and stack control: `PROTO`, `FRAME`, `MARK`, `POP`, `POP_MARK`, `DUP`.
    fn control(&mut self, op: u8) -> Result<()> {
        match op {
            op::PROTO => {
                let p = self.take(1, op)?[0];
                if p > 5 {
                    return Err(perr(PickleError::UnsupportedProtocol {
                        found: p,
                        expected: "0..=5",
                    }));
                }
            }
            op::FRAME => {
                self.take(8, op)?;
            }
            op::MARK => {
                let max = if self.keep {
                    self.limits.max_depth.max(KEEP_MAX_MARKS)
                } else {
                    self.limits.max_depth
                };
                if self.marks.len() >= max {
                    return Err(limit("nesting depth (open MARKs)", max));
                }
                self.marks.push(self.stack.len());
            }
            op::POP => {
                if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                    self.stack.pop();
                } else if self.marks.pop().is_none() {
                    return Err(self.op_err(op, "stack underflow"));
                }
            }
            op::POP_MARK => {
                self.pop_mark(op)?;
            }
            op::DUP => {
                let v = self.top(op)?;
                self.count(1)?;
                self.stack.push(v);
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }

    /// `None`, booleans, ints and floats.
    fn scalar(&mut self, op: u8) -> Result<()> {
        match op {
            op::NONE => self.stack.push(Item::None),
            op::NEWTRUE => self.stack.push(Item::Bool(true)),
            op::NEWFALSE => self.stack.push(Item::Bool(false)),
            op::BININT1 => {
                let b = self.take(1, op)?;
                self.stack.push(Item::Int(i64::from(b[0])));
            }
            op::BININT2 => {
                let b = self.take(2, op)?;
                self.stack
                    .push(Item::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))));
            }
            op::BININT => {
                let b = self.take(4, op)?;
                self.stack.push(Item::Int(i64::from(i32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ]))));
            }
            op::LONG1 | op::LONG4 => {
                let n = if op == op::LONG1 {
                    usize::from(self.take(1, op)?[0])
                } else {
                    let b = self.take(4, op)?;
                    let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if n < 0 {
                        return Err(self.op_err(op, "negative byte count"));
                    }
                    let n = n as usize;
                    if n > self.data.len() - self.pos {
                        return Err(truncated(format!(
                            "LONG4 announces {n} bytes at offset {}, only {} left",
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
            op::INT => {
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
            op::LONG => {
                let l = self.line_str(op)?;
                let l = l.strip_suffix('L').unwrap_or(l);
                let b = bigint::parse_decimal(l)?;
                match PyValue::int_from_le_bytes(&b) {
                    PyValue::Int(i) => self.stack.push(Item::Int(i)),
                    v => self.push_leaf(v)?,
                }
            }
            op::FLOAT => {
                let l = self.line_str(op)?.trim();
                let f = parse_float_text(l).ok_or_else(|| {
                    invalid(format!("FLOAT: expected a float literal, found {l:?}"))
                })?;
                self.stack.push(Item::Float(f));
            }
            op::BINFLOAT => {
                let b = self.take(8, op)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                self.stack.push(Item::Float(f64::from_be_bytes(a)));
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }

    /// `str`, `bytes` and `bytearray` payloads (binary and protocol 0 text forms).
    fn text(&mut self, op: u8) -> Result<()> {
        match op {
            op::SHORT_BINUNICODE => {
                let n = self.take_len(1, op)?;
                let b = self.take(n, op)?;
                let v = decode_utf8(b)?;
                self.push_leaf(v)?;
            }
            op::BINUNICODE => {
                let n = self.take_len(4, op)?;
                let b = self.take(n, op)?;
                let v = decode_utf8(b)?;
                self.push_leaf(v)?;
            }
            op::BINUNICODE8 => {
                let n = self.take_len(8, op)?;
                let b = self.take(n, op)?;
                let v = decode_utf8(b)?;
                self.push_leaf(v)?;
            }
            op::UNICODE => {
                let l = self.line(op)?;
                let v = raw_unicode_escape(l)?;
                self.push_leaf(v)?;
            }
            op::STRING => {
                let l = self.line(op)?;
                let b = parse_string_literal(l)?;
                self.push_leaf(ascii_str(b))?;
            }
            op::BINSTRING | op::SHORT_BINSTRING => {
                let n = if op == op::SHORT_BINSTRING {
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
            op::SHORT_BINBYTES => {
                let n = self.take_len(1, op)?;
                let b = self.take(n, op)?.to_vec();
                self.push_leaf(PyValue::Bytes(b))?;
            }
            op::BINBYTES => {
                let n = self.take_len(4, op)?;
                let b = self.take(n, op)?.to_vec();
                self.push_leaf(PyValue::Bytes(b))?;
            }
            op::BINBYTES8 => {
                let n = self.take_len(8, op)?;
                let b = self.take(n, op)?.to_vec();
                self.push_leaf(PyValue::Bytes(b))?;
            }
            op::BYTEARRAY8 => {
                let n = self.take_len(8, op)?;
                let b = self.take(n, op)?.to_vec();
                self.push_leaf(PyValue::ByteArray(b))?;
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }

    /// Tuples, lists, dicts, sets: building them and filling them.
    fn container(&mut self, op: u8) -> Result<()> {
        match op {
            op::EMPTY_TUPLE => {
                let it = self.node(Node::Tuple(Vec::new()))?;
                self.stack.push(it);
            }
            op::TUPLE1..=op::TUPLE3 => {
                let n = usize::from(op - op::TUPLE1 + 1);
                let floor = self.marks.last().copied().unwrap_or(0);
                if self.stack.len() < floor + n {
                    return Err(self.op_err(op, "stack underflow"));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                let it = self.node(Node::Tuple(items))?;
                self.stack.push(it);
            }
            op::TUPLE => {
                let items = self.pop_mark(op)?;
                let it = self.node(Node::Tuple(items))?;
                self.stack.push(it);
            }
            op::EMPTY_LIST => {
                let it = self.node(Node::List(Vec::new()))?;
                self.stack.push(it);
            }
            op::LIST => {
                let items = self.pop_mark(op)?;
                let it = self.node(Node::List(items))?;
                self.stack.push(it);
            }
            op::EMPTY_DICT => {
                let it = self.node(Node::Dict(Vec::new()))?;
                self.stack.push(it);
            }
            op::DICT => {
                let items = self.pop_mark(op)?;
                if items.len() % 2 != 0 {
                    return Err(self.op_err(op, "odd number of items for a dict"));
                }
                let pairs = items.chunks(2).map(|c| (c[0], c[1])).collect();
                let it = self.node(Node::Dict(pairs))?;
                self.stack.push(it);
            }
            op::EMPTY_SET => {
                let it = self.node(Node::Set(Vec::new()))?;
                self.stack.push(it);
            }
            op::FROZENSET => {
                let items = self.pop_mark(op)?;
                let it = self.node(Node::FrozenSet(items))?;
                self.stack.push(it);
            }
            op::APPEND => {
                let v = self.pop(op)?;
                let target = self.top(op)?;
                match self.container_mut(target, op)? {
                    Node::List(l) => l.push(v),
                    _ => {
                        self.fill_object(target, op, vec![v], false, "APPEND target is not a list")?
                    }
                }
            }
            op::APPENDS => {
                let items = self.pop_mark(op)?;
                let target = self.top(op)?;
                match self.container_mut(target, op)? {
                    Node::List(l) => l.extend(items),
                    _ => {
                        self.fill_object(target, op, items, false, "APPENDS target is not a list")?
                    }
                }
            }
            op::SETITEM => {
                let v = self.pop(op)?;
                let k = self.pop(op)?;
                let target = self.top(op)?;
                match self.container_mut(target, op)? {
                    Node::Dict(d) => d.push((k, v)),
                    _ => self.fill_object(
                        target,
                        op,
                        vec![k, v],
                        true,
                        "SETITEM target is not a dict",
                    )?,
                }
            }
            op::SETITEMS => {
                let items = self.pop_mark(op)?;
                if items.len() % 2 != 0 {
                    return Err(self.op_err(op, "odd number of items for SETITEMS"));
                }
                let target = self.top(op)?;
                match self.container_mut(target, op)? {
                    Node::Dict(d) => d.extend(items.chunks(2).map(|c| (c[0], c[1]))),
                    _ => {
                        self.fill_object(target, op, items, true, "SETITEMS target is not a dict")?
                    }
                }
            }
            op::ADDITEMS => {
                let items = self.pop_mark(op)?;
                let target = self.top(op)?;
                match self.container_mut(target, op)? {
                    Node::Set(s) => s.extend(items),
                    _ => return Err(self.op_err(op, "ADDITEMS target is not a set")),
                }
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }

    /// Globals and object construction: `GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `NEWOBJ(_EX)`, `BUILD`, `OBJ`, `INST` (recorded, never executed).
    fn object(&mut self, op: u8) -> Result<()> {
        match op {
            op::GLOBAL => {
                let module = self.line_str(op)?;
                let name = self.line_str(op)?;
                self.global_leaf(module, name)?;
            }
            op::STACK_GLOBAL => {
                let name = self.pop(op)?;
                let module = self.pop(op)?;
                let (Some(m), Some(n)) = (self.leaf_str(module), self.leaf_str(name)) else {
                    return Err(self.op_err(op, "STACK_GLOBAL expects two str on the stack"));
                };
                let (m, n) = (m.to_string(), n.to_string());
                self.global_leaf(&m, &n)?;
            }
            op::REDUCE => {
                let args = self.pop(op)?;
                let callable = self.pop(op)?;
                let it = self.node(Node::Reduce(callable, args))?;
                self.stack.push(it);
            }
            op::NEWOBJ => {
                let args = self.pop(op)?;
                let cls = self.pop(op)?;
                let it = self.node(Node::NewObj(cls, args, None))?;
                self.stack.push(it);
            }
            op::NEWOBJ_EX => {
                let kwargs = self.pop(op)?;
                let args = self.pop(op)?;
                let cls = self.pop(op)?;
                let it = self.node(Node::NewObj(cls, args, Some(kwargs)))?;
                self.stack.push(it);
            }
            op::BUILD => {
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
            op::OBJ => {
                let mut items = self.pop_mark(op)?;
                if items.is_empty() {
                    return Err(self.op_err(op, "OBJ needs a class"));
                }
                let cls = items.remove(0);
                let args = self.node(Node::Tuple(items))?;
                let it = self.node(Node::Reduce(cls, args))?;
                self.stack.push(it);
            }
            op::INST => {
                let module = self.line_str(op)?;
                let name = self.line_str(op)?;
                let items = self.pop_mark(op)?;
                let (m, n) = map_global(module, name);
                let cls = self.node(Node::Leaf(PyValue::Global { module: m, name: n }))?;
                let args = self.node(Node::Tuple(items))?;
                let it = self.node(Node::Reduce(cls, args))?;
                self.stack.push(it);
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }

    /// The memo: `MEMOIZE`, `PUT`s and `GET`s.
    fn memo(&mut self, op: u8) -> Result<()> {
        match op {
            op::MEMOIZE => {
                let k = self.memo.len() as u64;
                self.memo_put(k, op)?;
            }
            op::PUT => {
                let l = self.line_str(op)?;
                let k = l
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| invalid(format!("PUT: expected a memo index, found {l:?}")))?;
                self.memo_put(k, op)?;
            }
            op::BINPUT => {
                let k = u64::from(self.take(1, op)?[0]);
                self.memo_put(k, op)?;
            }
            op::LONG_BINPUT => {
                let b = self.take(4, op)?;
                let k = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                self.memo_put(k, op)?;
            }
            op::GET => {
                let l = self.line_str(op)?;
                let k = l
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| invalid(format!("GET: expected a memo index, found {l:?}")))?;
                self.memo_get(k, op)?;
            }
            op::BINGET => {
                let k = u64::from(self.take(1, op)?[0]);
                self.memo_get(k, op)?;
            }
            op::LONG_BINGET => {
                let b = self.take(4, op)?;
                let k = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                self.memo_get(k, op)?;
            }
            _ => return Err(self.op_err(op, "opcode dispatched to the wrong family")),
        }
        Ok(())
    }
}
