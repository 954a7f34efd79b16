//! The fast path of the decoder: one pass, building [`PyValue`]s directly on the stack.
//!
//! It accepts the binary opcodes that requests and replies use (protocols 2–5) and gives up —
//! returning `None`, so the full two-phase decoder runs and reports any error —
//! on anything else: memo reads (`GET`/`BINGET`/`LONG_BINGET`), `DUP`, text opcodes, a limit
//! being approached, or malformed input. Without memo reads or `DUP` every value on the stack
//! has exactly one owner and only the top of the stack is ever mutated, so building the tree
//! directly gives exactly what the full decoder's reference-based arena gives.

use crate::managers::pickle::dict::{PyDict, PySet};
use crate::managers::pickle::limits::Limits;
use crate::managers::pickle::opcodes as op;
use crate::managers::pickle::primitives::{decode_utf8, interpret_reduce, map_global};
use crate::managers::pickle::PyValue;

/// A stack entry: the value and the height of its tree (0 for scalars and strings).
type Entry = (PyValue, u32);

struct Fast<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Entry>,
    marks: Vec<usize>,
    elements: usize,
    bytes: usize,
    memo: usize,
    limits: &'a Limits,
    max_height: u32,
}

impl<'a> Fast<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let end = self.pos.checked_add(n)?;
        let s = data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn take_len(&mut self, width: usize) -> Option<usize> {
        let b = self.take(width)?;
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(b);
        let n = usize::try_from(u64::from_le_bytes(buf)).ok()?;
        (n <= self.limits.max_bytes && n <= self.data.len() - self.pos).then_some(n)
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, v: PyValue, h: u32) -> Option<()> {
        self.elements += 1;
        if self.elements > self.limits.max_elements || h > self.max_height {
            return None;
        }
        self.stack.push((v, h));
        Some(())
    }

    fn push_bytes(&mut self, v: PyValue, n: usize) -> Option<()> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_total_bytes {
            return None;
        }
        self.push(v, 0)
    }

    fn pop(&mut self) -> Option<Entry> {
        if self.stack.len() <= self.floor() {
            return None;
        }
        self.stack.pop()
    }

    fn pop_mark(&mut self) -> Option<(Vec<PyValue>, u32)> {
        let m = self.marks.pop()?;
        let items = self.stack.split_off(m);
        let h = items.iter().map(|e| e.1).max().unwrap_or(0) + 1;
        Some((items.into_iter().map(|e| e.0).collect(), h))
    }

    fn top_mut(&mut self) -> Option<&mut Entry> {
        if self.stack.len() <= self.floor() {
            return None;
        }
        self.stack.last_mut()
    }

    /// Raise the height of the top entry to cover a child of height `child`.
    fn grow_top(&mut self, child: u32) -> Option<()> {
        let max = self.max_height;
        let top = self.top_mut()?;
        top.1 = top.1.max(child + 1);
        (top.1 <= max).then_some(())
    }

    fn str_value(&mut self, n: usize) -> Option<()> {
        let b = self.take(n)?;
        let v = decode_utf8(b).ok()?;
        self.push_bytes(v, n)
    }

    fn run(&mut self) -> Option<PyValue> {
        loop {
            let op = *self.data.get(self.pos)?;
            self.pos += 1;
            match op {
                op::PROTO => {
                    if self.take(1)?[0] > 5 {
                        return None;
                    }
                }
                op::FRAME => {
                    self.take(8)?;
                }
                op::STOP => {
                    let (v, _) = self.pop()?;
                    return Some(v);
                }
                op::MARK => {
                    if self.marks.len() + 1 >= self.limits.max_depth {
                        return None;
                    }
                    self.marks.push(self.stack.len());
                }
                op::POP => {
                    self.pop()?;
                }
                op::NONE => self.push(PyValue::None, 0)?,
                op::NEWTRUE => self.push(PyValue::Bool(true), 0)?,
                op::NEWFALSE => self.push(PyValue::Bool(false), 0)?,
                op::BININT1 => {
                    let b = self.take(1)?[0];
                    self.push(PyValue::Int(i64::from(b)), 0)?;
                }
                op::BININT2 => {
                    let b = self.take(2)?;
                    self.push(PyValue::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))), 0)?;
                }
                op::BININT => {
                    let b = self.take(4)?;
                    let i = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    self.push(PyValue::Int(i64::from(i)), 0)?;
                }
                op::LONG1 => {
                    let n = usize::from(self.take(1)?[0]);
                    let b = self.take(n)?;
                    self.push(PyValue::int_from_le_bytes(b), 0)?;
                }
                op::BINFLOAT => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(PyValue::Float(f64::from_be_bytes(a)), 0)?;
                }
                op::SHORT_BINUNICODE => {
                    let n = self.take_len(1)?;
                    self.str_value(n)?;
                }
                op::BINUNICODE => {
                    let n = self.take_len(4)?;
                    self.str_value(n)?;
                }
                op::BINUNICODE8 => {
                    let n = self.take_len(8)?;
                    self.str_value(n)?;
                }
                op::SHORT_BINBYTES | op::BINBYTES | op::BINBYTES8 | op::BYTEARRAY8 => {
                    let width = match op {
                        op::SHORT_BINBYTES => 1,
                        op::BINBYTES => 4,
                        _ => 8,
                    };
                    let n = self.take_len(width)?;
                    let b = self.take(n)?.to_vec();
                    let v = if op == op::BYTEARRAY8 {
                        PyValue::ByteArray(b)
                    } else {
                        PyValue::Bytes(b)
                    };
                    self.push_bytes(v, n)?;
                }
                op::EMPTY_TUPLE => self.push(PyValue::Tuple(Vec::new()), 1)?,
                op::TUPLE1..=op::TUPLE3 => {
                    let n = usize::from(op - op::TUPLE1 + 1);
                    if self.stack.len() < self.floor() + n {
                        return None;
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let h = items.iter().map(|e| e.1).max().unwrap_or(0) + 1;
                    self.push(PyValue::Tuple(items.into_iter().map(|e| e.0).collect()), h)?;
                }
                op::TUPLE => {
                    let (items, h) = self.pop_mark()?;
                    self.push(PyValue::Tuple(items), h)?;
                }
                op::EMPTY_LIST => self.push(PyValue::List(Vec::new()), 1)?,
                op::LIST => {
                    let (items, h) = self.pop_mark()?;
                    self.push(PyValue::List(items), h)?;
                }
                op::EMPTY_DICT => self.push(PyValue::Dict(PyDict::new()), 1)?,
                op::EMPTY_SET => self.push(PyValue::Set(PySet::new()), 1)?,
                op::FROZENSET => {
                    let (items, h) = self.pop_mark()?;
                    let s = PySet::from_items(items).ok()?;
                    self.push(PyValue::FrozenSet(s), h)?;
                }
                op::APPEND => {
                    let (v, h) = self.pop()?;
                    self.grow_top(h)?;
                    match &mut self.top_mut()?.0 {
                        PyValue::List(l) => l.push(v),
                        _ => return None,
                    }
                }
                op::APPENDS => {
                    let (items, h) = self.pop_mark()?;
                    self.grow_top(h - 1)?;
                    match &mut self.top_mut()?.0 {
                        PyValue::List(l) => l.extend(items),
                        _ => return None,
                    }
                }
                op::SETITEM => {
                    let (v, hv) = self.pop()?;
                    let (k, hk) = self.pop()?;
                    self.grow_top(hv.max(hk))?;
                    match &mut self.top_mut()?.0 {
                        PyValue::Dict(d) => {
                            d.insert(k, v).ok()?;
                        }
                        _ => return None,
                    }
                }
                op::SETITEMS => {
                    let (items, h) = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return None;
                    }
                    self.grow_top(h - 1)?;
                    match &mut self.top_mut()?.0 {
                        PyValue::Dict(d) => {
                            let mut it = items.into_iter();
                            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                                d.insert(k, v).ok()?;
                            }
                        }
                        _ => return None,
                    }
                }
                op::ADDITEMS => {
                    let (items, h) = self.pop_mark()?;
                    self.grow_top(h - 1)?;
                    match &mut self.top_mut()?.0 {
                        PyValue::Set(s) => {
                            for i in items {
                                s.insert(i).ok()?;
                            }
                        }
                        _ => return None,
                    }
                }
                op::STACK_GLOBAL => {
                    let (name, _) = self.pop()?;
                    let (module, _) = self.pop()?;
                    let (PyValue::Str(m), PyValue::Str(n)) = (&module, &name) else {
                        return None;
                    };
                    let (module, name) = map_global(m, n);
                    self.push(PyValue::Global { module, name }, 0)?;
                }
                op::GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let (module, name) = map_global(module, name);
                    self.push(PyValue::Global { module, name }, 0)?;
                }
                op::REDUCE => {
                    let (args, ha) = self.pop()?;
                    let (callable, hc) = self.pop()?;
                    let v = interpret_reduce(callable, args).ok()?;
                    self.push(v, ha.max(hc) + 1)?;
                }
                op::NEWOBJ => {
                    let (args, ha) = self.pop()?;
                    let (cls, hc) = self.pop()?;
                    let v = PyValue::NewObj {
                        cls: Box::new(cls),
                        args: Box::new(args),
                        kwargs: None,
                    };
                    self.push(v, ha.max(hc) + 1)?;
                }
                op::NEWOBJ_EX => {
                    let (kwargs, hk) = self.pop()?;
                    let (args, ha) = self.pop()?;
                    let (cls, hc) = self.pop()?;
                    let v = PyValue::NewObj {
                        cls: Box::new(cls),
                        args: Box::new(args),
                        kwargs: Some(Box::new(kwargs)),
                    };
                    self.push(v, hk.max(ha).max(hc) + 1)?;
                }
                op::BUILD => {
                    let (state, hs) = self.pop()?;
                    let (obj, ho) = self.pop()?;
                    let v = PyValue::Build {
                        obj: Box::new(obj),
                        state: Box::new(state),
                    };
                    self.push(v, hs.max(ho) + 1)?;
                }
                op::MEMOIZE | op::BINPUT | op::LONG_BINPUT => {
                    match op {
                        op::BINPUT => {
                            self.take(1)?;
                        }
                        op::LONG_BINPUT => {
                            self.take(4)?;
                        }
                        _ => {}
                    }
                    self.top_mut()?;
                    self.memo += 1;
                    if self.memo > self.limits.max_memo {
                        return None;
                    }
                }
                // Memo reads, DUP, text opcodes and the rest: the full decoder handles them.
                _ => return None,
            }
        }
    }

    /// A newline-terminated UTF-8 argument (GLOBAL).
    fn line(&mut self) -> Option<&'a str> {
        let data: &'a [u8] = self.data;
        let rest = &data[self.pos..];
        let i = rest.iter().position(|&c| c == b'\n')?;
        self.pos += i + 1;
        std::str::from_utf8(&rest[..i]).ok()
    }
}

/// Decode `data` on the fast path; `None` means "use the full decoder".
pub(crate) fn try_loads(data: &[u8], limits: &Limits) -> Option<PyValue> {
    let mut f = Fast {
        data,
        pos: 0,
        stack: Vec::with_capacity(16),
        marks: Vec::new(),
        elements: 0,
        bytes: 0,
        memo: 0,
        limits,
        // The full decoder counts depth from 0 at the root; stay two levels inside its limit.
        max_height: u32::try_from(limits.max_depth.saturating_sub(2)).unwrap_or(u32::MAX),
    };
    f.run()
}

#[cfg(test)]
mod tests {
    use super::super::loads_full;
    use super::*;
    use crate::managers::pickle::{dumps, dumps_protocol};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn same(data: &[u8]) -> bool {
        let limits = Limits::default();
        match (try_loads(data, &limits), loads_full(data, &limits)) {
            (Some(a), Ok(b)) => a.identical(&b),
            (Some(_), Err(_)) => false,
            (None, _) => true,
        }
    }

    #[test]
    fn golden_frames_agree_with_the_full_decoder() {
        let text = include_str!("../../../../tests/data/golden_frames.txt");
        let mut fast = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some(h) = line.split_whitespace().nth(3) else {
                continue;
            };
            let data = hex(h);
            assert!(same(&data), "{line}");
            fast += usize::from(try_loads(&data, &Limits::default()).is_some());
        }
        assert!(fast > 0, "no golden frame took the fast path");
    }

    #[test]
    fn encoder_output_agrees_and_takes_the_fast_path() {
        let mut d = PyDict::new();
        d.insert(
            PyValue::str("k"),
            PyValue::list(vec![PyValue::Int(1), PyValue::Float(2.5)]),
        )
        .unwrap();
        d.insert(PyValue::Int(1), PyValue::bytes(b"x".to_vec()))
            .unwrap();
        d.insert(PyValue::Bool(true), PyValue::None).unwrap(); // same key as 1
        let values = vec![
            PyValue::tuple(vec![
                PyValue::str("7f"),
                PyValue::str("__setitem__"),
                PyValue::tuple(vec![PyValue::str("key"), PyValue::Int(42)]),
                PyValue::Dict(PyDict::new()),
            ]),
            PyValue::Dict(d),
            PyValue::exception("builtins", "KeyError", vec![PyValue::str("missing")]),
            PyValue::int_from_le_bytes(&[0xff; 20]),
            PyValue::slice(PyValue::Int(0), PyValue::Int(-2), PyValue::None),
            PyValue::ByteArray(vec![1, 2, 3]),
        ];
        for v in values {
            for p in [2u8, 3, 4] {
                let b = dumps_protocol(&v, p).unwrap();
                assert!(same(&b), "{v} protocol {p}");
            }
            let b = dumps(&v).unwrap();
            let got = try_loads(&b, &Limits::default()).expect("fast path");
            assert!(got.identical(&v), "{got} != {v}");
        }
    }

    #[test]
    fn deep_nesting_and_memo_reads_fall_back() {
        let mut deep = b"\x80\x04".to_vec();
        deep.extend(std::iter::repeat_n(b']', 10_000));
        deep.extend(std::iter::repeat_n(b'a', 9_999));
        deep.push(b'.');
        assert!(try_loads(&deep, &Limits::default()).is_none());
        // [x, x] through the memo
        let memo = b"\x80\x04]\x94(\x8c\x01x\x94h\x01e.";
        assert!(try_loads(memo, &Limits::default()).is_none());
        assert!(same(memo));
    }

    #[test]
    fn random_bytes_never_disagree() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let ops = b"\x80\x04\x95NK]}()\x85\x86\x87tlaesu\x8c\x94qR\x81b\x93.\x88\x89J\x8f\x90\x91C";
        for _ in 0..20_000 {
            let mut v = Vec::new();
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(ops[(x % ops.len() as u64) as usize]);
                if x % 5 == 0 {
                    v.push((x >> 8) as u8 % 4);
                }
            }
            v.push(b'.');
            assert!(same(&v), "{v:02x?}");
        }
    }
}
