//! Values the server only stores are kept exactly as the client sent them.
//!
//! A server never runs client code, so what it stores (dict/list/Namespace/Value items, queue
//! items) need not be understood — only sent back unchanged. [`loads_request`] decodes a request
//! `(ident, method, args, kwds)` like [`loads_with`](super::loads_with), except that each
//! argument (and keyword value) whose object graph a [`PyValue`] tree cannot hold exactly is
//! kept as a self-contained pickle of that graph, wrapped as the value `pickle.loads(b'...')`:
//!
//! * shared references to one mutable object (a list holding the same inner list twice) and
//!   cycles (a list containing itself), which a tree would copy or refuse;
//! * objects filled by `APPENDS`/`SETITEMS` (`OrderedDict`, `defaultdict`, `deque`, `Counter`
//!   subclasses, user classes deriving from list/dict);
//! * nesting deeper than [`Limits::max_depth`].
//!
//! A CPython client unpickling the reply calls `pickle.loads` on those bytes and gets the very
//! object graph it sent (same types, same sharing, same cycles). Everything else stays a plain
//! tree, so what the server must understand (dict keys, list items compared by `index`/`count`/
//! `remove`/`sort`, `range` arguments) is interpreted as before; a kept value compares equal only
//! to a kept value with the same bytes and is not hashable (see [`kept_parts`] for the
//! containers the server can still look into).

use super::arena::{Item, Node};
use super::machine;
use super::materialise::Materialiser;
use crate::managers::pickle::dict::PyDict;
use crate::managers::pickle::limits::Limits;
use crate::managers::pickle::{dumps_protocol, PyValue};
use crate::{Error, Result};

/// The callable a kept value is wrapped in: `pickle.loads(blob)`.
pub(crate) const KEPT_CALLABLE: (&str, &str) = ("pickle", "loads");

fn perr(msg: String) -> Error {
    Error::Pickle(crate::error::PickleError::Invalid { detail: msg })
}

/// Decodes a request, keeping the arguments a tree cannot hold exactly (see the module docs).
pub(crate) fn loads_request(data: &[u8], limits: &Limits) -> Result<PyValue> {
    if let Some(v) = super::fast::try_loads(data, limits) {
        // No memo reads: every value has one owner, no sharing, no cycles.
        return Ok(v);
    }
    let (root, nodes) = machine::interpret_mode(data, limits, true)?;
    let mut k = Keeper::new(&nodes, limits);
    if let Item::Ref(r) = root {
        if let Node::Tuple(parts) = &nodes[r] {
            if parts.len() == 4 {
                let ident = k.mat.item(parts[0], 0)?;
                let method = k.mat.item(parts[1], 0)?;
                let args = match parts[2] {
                    Item::Ref(a) => match &nodes[a] {
                        Node::Tuple(items) => PyValue::Tuple(
                            items
                                .iter()
                                .map(|&it| k.kept(it))
                                .collect::<Result<Vec<_>>>()?,
                        ),
                        _ => k.mat.item(parts[2], 0)?,
                    },
                    other => k.mat.item(other, 0)?,
                };
                let kwds = match parts[3] {
                    Item::Ref(d) => match &nodes[d] {
                        Node::Dict(pairs) => {
                            let mut out = PyDict::new();
                            for &(key, v) in pairs {
                                let key = k.mat.item(key, 0)?;
                                let v = k.kept(v)?;
                                out.insert(key, v)
                                    .map_err(|e| perr(format!("keyword name: {e}")))?;
                            }
                            PyValue::Dict(out)
                        }
                        _ => k.mat.item(parts[3], 0)?,
                    },
                    other => k.mat.item(other, 0)?,
                };
                return Ok(PyValue::Tuple(vec![ident, method, args, kwds]));
            }
        }
    }
    k.mat.item(root, 0)
}

/// True when `v` is a value kept as sent (`pickle.loads(b'...')`).
///
/// ```
/// use mpshare::managers::pickle::{is_kept, PyValue};
/// assert!(!is_kept(&PyValue::list(vec![])));
/// ```
pub fn is_kept(v: &PyValue) -> bool {
    kept_bytes(v).is_some()
}

/// The self-contained pickle of a kept value.
pub(crate) fn kept_bytes(v: &PyValue) -> Option<&[u8]> {
    match v.as_reduce() {
        Some((m, n, [PyValue::Bytes(b)])) if (m, n) == KEPT_CALLABLE => Some(b),
        _ => None,
    }
}

/// The proxies (`RebuildProxy(...)` values) inside a kept value, so the objects they name stay
/// pinned while it is stored (empty when there are none; a byte search rules most values out).
pub(crate) fn kept_proxies(v: &PyValue) -> Vec<PyValue> {
    const NAME: &[u8] = b"RebuildProxy";
    let Some(blob) = kept_bytes(v) else {
        return Vec::new();
    };
    if !blob.windows(NAME.len()).any(|w| w == NAME) {
        return Vec::new();
    }
    let limits = Limits::default();
    let Ok((_, nodes)) = machine::interpret_mode(blob, &limits, true) else {
        return Vec::new();
    };
    let mut mat = Materialiser::new(&nodes, &limits);
    let mut out = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Node::Reduce(Item::Ref(c), _) = n {
            if matches!(&nodes[*c], Node::Leaf(PyValue::Global { module, name })
                if module == "multiprocessing.managers" && name == "RebuildProxy")
            {
                if let Ok(p) = mat.item(Item::Ref(i), 0) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// What the server can see inside a kept container.
#[derive(Debug)]
pub enum KeptParts {
    /// The items of a list, tuple, set, frozenset or list-filled object (`deque`, a list
    /// subclass), each a tree or itself kept.
    Items(Vec<PyValue>),
    /// The pairs of a dict or dict-filled object (`OrderedDict`, `defaultdict`, a dict
    /// subclass); keys are trees, values trees or kept.
    Pairs(Vec<(PyValue, PyValue)>),
}

/// Looks into a kept value: `None` when `v` is not kept or its outermost object holds no
/// items; `Some(Err)` when it cannot be decoded within `limits`.
///
/// ```
/// use mpshare::managers::pickle::{kept_parts, KeptParts, Limits};
/// # use mpshare::managers::pickle::PyValue;
/// assert!(kept_parts(&PyValue::Int(1), &Limits::default()).is_none());
/// ```
pub fn kept_parts(v: &PyValue, limits: &Limits) -> Option<Result<KeptParts>> {
    let blob = kept_bytes(v)?;
    let (root, nodes) = match machine::interpret_mode(blob, limits, true) {
        Ok(x) => x,
        Err(e) => return Some(Err(e)),
    };
    let Item::Ref(r) = root else {
        return None;
    };
    let mut k = Keeper::new(&nodes, limits);
    let r = match &nodes[r] {
        Node::List(items)
        | Node::Tuple(items)
        | Node::Set(items)
        | Node::FrozenSet(items)
        | Node::Appends(_, items) => items
            .iter()
            .map(|&it| k.kept(it))
            .collect::<Result<Vec<_>>>()
            .map(KeptParts::Items),
        Node::Dict(pairs) | Node::SetItems(_, pairs) => pairs
            .iter()
            .map(|&(a, b)| Ok((k.mat.item(a, 0)?, k.kept(b)?)))
            .collect::<Result<Vec<_>>>()
            .map(KeptParts::Pairs),
        _ => return None,
    };
    Some(r)
}

/// A short description of a kept value's outermost object for messages and `repr`:
/// `list`, `dict`, or the class `module.name` of an object.
pub(crate) fn kept_type(v: &PyValue) -> Option<String> {
    let blob = kept_bytes(v)?;
    let (root, nodes) = machine::interpret_mode(blob, &Limits::default(), true).ok()?;
    let mut it = root;
    loop {
        let Item::Ref(r) = it else {
            return Some("object".into());
        };
        match &nodes[r] {
            Node::List(_) => return Some("list".into()),
            Node::Tuple(_) => return Some("tuple".into()),
            Node::Dict(_) => return Some("dict".into()),
            Node::Set(_) => return Some("set".into()),
            Node::FrozenSet(_) => return Some("frozenset".into()),
            Node::Appends(b, _) | Node::SetItems(b, _) | Node::Build(b, _) => it = *b,
            Node::Reduce(c, _) | Node::NewObj(c, _, _) => {
                return Some(match c {
                    Item::Ref(c) => match &nodes[*c] {
                        Node::Leaf(PyValue::Global { module, name }) => {
                            if module == "builtins" {
                                name.clone()
                            } else {
                                format!("{module}.{name}")
                            }
                        }
                        _ => "object".into(),
                    },
                    _ => "object".into(),
                })
            }
            _ => return Some("object".into()),
        }
    }
}

struct Keeper<'n> {
    nodes: &'n [Node],
    mat: Materialiser<'n>,
    max_depth: usize,
    /// Per node: `generation * 4 + state` (1 on the current path, 2 done) of the last check.
    mark: Vec<u32>,
    /// Per node (valid when done in this generation): its graph holds an identity-relevant
    /// (mutable) object.
    has_mut: Vec<bool>,
    generation: u32,
}

impl<'n> Keeper<'n> {
    fn new(nodes: &'n [Node], limits: &'n Limits) -> Keeper<'n> {
        Keeper {
            nodes,
            mat: Materialiser::new(nodes, limits),
            max_depth: limits.max_depth,
            mark: vec![0; nodes.len()],
            has_mut: vec![false; nodes.len()],
            generation: 0,
        }
    }

    /// The value of `it`: a tree when one holds it exactly, else kept as sent.
    fn kept(&mut self, it: Item) -> Result<PyValue> {
        if self.tree_safe(it) {
            return self.mat.item(it, 0);
        }
        let blob = encode_graph(self.nodes, it)?;
        Ok(PyValue::reduce(
            PyValue::global(KEPT_CALLABLE.0, KEPT_CALLABLE.1),
            vec![PyValue::Bytes(blob)],
        ))
    }

    /// No cycle, no mutable object reached twice, no filled object, not too deep.
    fn tree_safe(&mut self, root: Item) -> bool {
        let Item::Ref(r) = root else {
            return true;
        };
        self.generation += 1;
        let g = self.generation * 4;
        if !enterable(&self.nodes[r]) {
            return false;
        }
        // (node, next child index, subtree holds something mutable)
        let mut stack: Vec<(usize, usize, bool)> = vec![(r, 0, false)];
        self.mark[r] = g + 1;
        while let Some(top) = stack.len().checked_sub(1) {
            let (n, ci, _) = stack[top];
            match child(&self.nodes[n], ci) {
                Some(c) => {
                    stack[top].1 += 1;
                    let Item::Ref(c) = c else { continue };
                    let m = self.mark[c];
                    if m == g + 1 {
                        return false; // a cycle
                    }
                    if m == g + 2 {
                        if self.has_mut[c] {
                            return false; // a mutable object reached twice
                        }
                        continue;
                    }
                    if stack.len() + 1 >= self.max_depth || !enterable(&self.nodes[c]) {
                        return false;
                    }
                    self.mark[c] = g + 1;
                    stack.push((c, 0, false));
                }
                None => {
                    let (n, _, sub) = stack[top];
                    stack.pop();
                    let m = sub || identity_relevant(self.nodes, n);
                    self.mark[n] = g + 2;
                    self.has_mut[n] = m;
                    if let Some(parent) = stack.last_mut() {
                        parent.2 |= m;
                    }
                }
            }
        }
        true
    }
}

/// Nodes a tree can hold (the filled-object wrappers cannot).
fn enterable(n: &Node) -> bool {
    !matches!(n, Node::Appends(..) | Node::SetItems(..) | Node::Empty)
}

/// The `i`-th reference held by a node.
fn child(n: &Node, i: usize) -> Option<Item> {
    match n {
        Node::Leaf(_) | Node::Empty => None,
        Node::Tuple(t) | Node::List(t) | Node::Set(t) | Node::FrozenSet(t) => t.get(i).copied(),
        Node::Dict(p) => p.get(i / 2).map(|&(k, v)| if i % 2 == 0 { k } else { v }),
        Node::Reduce(a, b) | Node::Build(a, b) => [a, b].get(i).map(|x| **x),
        Node::NewObj(a, b, k) => match i {
            0 => Some(*a),
            1 => Some(*b),
            2 => *k,
            _ => None,
        },
        Node::Appends(b, t) => {
            if i == 0 {
                Some(*b)
            } else {
                t.get(i - 1).copied()
            }
        }
        Node::SetItems(b, p) => {
            if i == 0 {
                Some(*b)
            } else {
                let j = i - 1;
                p.get(j / 2).map(|&(k, v)| if j % 2 == 0 { k } else { v })
            }
        }
    }
}

/// Classes whose instances are values (immutable): sharing one is harmless.
const VALUE_CLASSES: &[(&str, &str)] = &[
    ("builtins", "complex"),
    ("builtins", "range"),
    ("builtins", "slice"),
    ("builtins", "frozenset"),
    ("builtins", "bytes"),
    ("_codecs", "encode"),
    ("decimal", "Decimal"),
    ("_pydecimal", "Decimal"),
    ("fractions", "Fraction"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("multiprocessing.managers", "RebuildProxy"),
];

/// Objects whose identity matters when shared: lists, dicts, sets, bytearrays, instances.
fn identity_relevant(nodes: &[Node], n: usize) -> bool {
    match &nodes[n] {
        Node::List(_) | Node::Dict(_) | Node::Set(_) => true,
        Node::Leaf(v) => matches!(v, PyValue::ByteArray(_)),
        Node::Reduce(c, _) | Node::NewObj(c, _, _) => match c {
            Item::Ref(c) => match &nodes[*c] {
                Node::Leaf(PyValue::Global { module, name }) => {
                    !VALUE_CLASSES.iter().any(|(m, k)| m == module && k == name)
                }
                _ => true,
            },
            _ => true,
        },
        Node::Build(..) | Node::Appends(..) | Node::SetItems(..) | Node::Empty => true,
        Node::Tuple(_) | Node::FrozenSet(_) => false,
    }
}

mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const POP: u8 = b'0';
    pub const POP_MARK: u8 = b'1';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const EMPTY_LIST: u8 = b']';
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_SET: u8 = 0x8f;
    pub const FROZENSET: u8 = 0x91;
    pub const APPENDS: u8 = b'e';
    pub const SETITEMS: u8 = b'u';
    pub const ADDITEMS: u8 = 0x90;
    pub const REDUCE: u8 = b'R';
    pub const NEWOBJ: u8 = 0x81;
    pub const NEWOBJ_EX: u8 = 0x92;
    pub const BUILD: u8 = b'b';
    pub const LONG_BINPUT: u8 = b'r';
    pub const LONG_BINGET: u8 = b'j';
}

enum Task {
    Visit(Item),
    Op(u8),
    /// Memoise as `n` unless it already is.
    PutIfAbsent(usize),
    /// End of a tuple/frozenset: `op`, unless a recursive reference already built it.
    SeqEnd(usize, u8),
    /// End of a REDUCE/NEWOBJ: memoise, unless a recursive reference already built it.
    ObjEnd(usize),
}

/// A self-contained protocol-4 pickle of the graph under `root`, memoising every container
/// and object so shared references and cycles come back as they were.
pub(crate) fn encode_graph(nodes: &[Node], root: Item) -> Result<Vec<u8>> {
    let mut out = vec![0x80, 4];
    let mut memo: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    // A moved object (the inner node of a BUILD/APPENDS/SETITEMS wrapper) → its wrapper.
    let mut owner: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut tasks = vec![Task::Visit(root)];
    // Every node is emitted about once; a recursive tuple twice. More means a malformed graph.
    let mut budget = nodes.len().saturating_mul(4).saturating_add(64);
    let put = |out: &mut Vec<u8>,
               memo: &mut std::collections::HashMap<usize, u32>,
               owner: &std::collections::HashMap<usize, usize>,
               n: usize|
     -> Result<()> {
        let idx = u32::try_from(memo.len())
            .map_err(|_| perr("kept value: too many memo entries".into()))?;
        out.push(op::LONG_BINPUT);
        out.extend_from_slice(&idx.to_le_bytes());
        memo.insert(n, idx);
        let mut m = n;
        while let Some(&w) = owner.get(&m) {
            memo.entry(w).or_insert(idx);
            m = w;
        }
        Ok(())
    };
    let get = |out: &mut Vec<u8>, idx: u32| {
        out.push(op::LONG_BINGET);
        out.extend_from_slice(&idx.to_le_bytes());
    };
    while let Some(t) = tasks.pop() {
        match t {
            Task::Op(o) => out.push(o),
            Task::PutIfAbsent(n) => {
                if !memo.contains_key(&n) {
                    put(&mut out, &mut memo, &owner, n)?;
                }
            }
            Task::SeqEnd(n, o) => match memo.get(&n) {
                Some(&idx) => {
                    out.push(op::POP_MARK);
                    get(&mut out, idx);
                }
                None => {
                    out.push(o);
                    put(&mut out, &mut memo, &owner, n)?;
                }
            },
            Task::ObjEnd(n) => match memo.get(&n) {
                Some(&idx) => {
                    out.push(op::POP);
                    get(&mut out, idx);
                }
                None => put(&mut out, &mut memo, &owner, n)?,
            },
            Task::Visit(it) => {
                budget = budget.checked_sub(1).ok_or_else(|| {
                    perr("kept value: malformed object graph (unbounded recursion)".into())
                })?;
                let n = match it {
                    Item::None => {
                        out.push(b'N');
                        continue;
                    }
                    Item::Bool(b) => {
                        leaf(&mut out, &PyValue::Bool(b))?;
                        continue;
                    }
                    Item::Int(i) => {
                        leaf(&mut out, &PyValue::Int(i))?;
                        continue;
                    }
                    Item::Float(f) => {
                        leaf(&mut out, &PyValue::Float(f))?;
                        continue;
                    }
                    Item::Ref(n) => n,
                };
                if let Some(&idx) = memo.get(&n) {
                    get(&mut out, idx);
                    continue;
                }
                match &nodes[n] {
                    Node::Empty => return Err(perr("kept value: internal empty node".into())),
                    Node::Leaf(v) => {
                        leaf(&mut out, v)?;
                        if matches!(v, PyValue::ByteArray(_)) {
                            put(&mut out, &mut memo, &owner, n)?;
                        }
                    }
                    Node::Tuple(items) if items.is_empty() => out.push(op::EMPTY_TUPLE),
                    Node::Tuple(items) | Node::FrozenSet(items) => {
                        let o = if matches!(nodes[n], Node::Tuple(_)) {
                            op::TUPLE
                        } else {
                            op::FROZENSET
                        };
                        tasks.push(Task::SeqEnd(n, o));
                        tasks.extend(items.iter().rev().map(|&i| Task::Visit(i)));
                        tasks.push(Task::Op(op::MARK));
                    }
                    Node::List(items) => {
                        out.push(op::EMPTY_LIST);
                        put(&mut out, &mut memo, &owner, n)?;
                        batches(&mut tasks, items, op::APPENDS);
                    }
                    Node::Set(items) => {
                        out.push(op::EMPTY_SET);
                        put(&mut out, &mut memo, &owner, n)?;
                        batches(&mut tasks, items, op::ADDITEMS);
                    }
                    Node::Dict(pairs) => {
                        out.push(op::EMPTY_DICT);
                        put(&mut out, &mut memo, &owner, n)?;
                        pair_batches(&mut tasks, pairs);
                    }
                    Node::Reduce(c, a) => {
                        tasks.push(Task::ObjEnd(n));
                        tasks.push(Task::Op(op::REDUCE));
                        tasks.push(Task::Visit(*a));
                        tasks.push(Task::Visit(*c));
                    }
                    Node::NewObj(c, a, k) => {
                        tasks.push(Task::ObjEnd(n));
                        match k {
                            Some(k) => {
                                tasks.push(Task::Op(op::NEWOBJ_EX));
                                tasks.push(Task::Visit(*k));
                            }
                            None => tasks.push(Task::Op(op::NEWOBJ)),
                        }
                        tasks.push(Task::Visit(*a));
                        tasks.push(Task::Visit(*c));
                    }
                    Node::Build(o, s) => {
                        if let Item::Ref(inner) = o {
                            owner.insert(*inner, n);
                        }
                        tasks.push(Task::Op(op::BUILD));
                        tasks.push(Task::Visit(*s));
                        tasks.push(Task::PutIfAbsent(n));
                        tasks.push(Task::Visit(*o));
                    }
                    Node::Appends(b, items) => {
                        if let Item::Ref(inner) = b {
                            owner.insert(*inner, n);
                        }
                        batches(&mut tasks, items, op::APPENDS);
                        tasks.push(Task::PutIfAbsent(n));
                        tasks.push(Task::Visit(*b));
                    }
                    Node::SetItems(b, pairs) => {
                        if let Item::Ref(inner) = b {
                            owner.insert(*inner, n);
                        }
                        pair_batches(&mut tasks, pairs);
                        tasks.push(Task::PutIfAbsent(n));
                        tasks.push(Task::Visit(*b));
                    }
                }
            }
        }
    }
    out.push(op::STOP);
    Ok(out)
}

/// Pushes `MARK items OP` in batches of 1000 (so they run first-to-last).
fn batches(tasks: &mut Vec<Task>, items: &[Item], o: u8) {
    for chunk in items.chunks(1000).rev() {
        tasks.push(Task::Op(o));
        tasks.extend(chunk.iter().rev().map(|&i| Task::Visit(i)));
        tasks.push(Task::Op(op::MARK));
    }
}

fn pair_batches(tasks: &mut Vec<Task>, pairs: &[(Item, Item)]) {
    for chunk in pairs.chunks(1000).rev() {
        tasks.push(Task::Op(op::SETITEMS));
        for &(k, v) in chunk.iter().rev() {
            tasks.push(Task::Visit(v));
            tasks.push(Task::Visit(k));
        }
        tasks.push(Task::Op(op::MARK));
    }
}

/// A scalar, string, bytes or global, as the encoder writes it (without PROTO and STOP).
fn leaf(out: &mut Vec<u8>, v: &PyValue) -> Result<()> {
    let b = dumps_protocol(v, 4)?;
    out.extend_from_slice(&b[2..b.len() - 1]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::pickle::loads;

    /// `pickle.dumps(x, 4)` from CPython 3.12 for `l = [1]; x = [l, l]`.
    const SHARED: &[u8] = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94K\x01ah\x01e.";
    /// `l = []; l.append(l)`.
    const CYCLE: &[u8] = b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.";

    fn request(arg: &[u8]) -> Vec<u8> {
        // ('id', 'append', (ARG,), {}) with ARG's opcodes spliced in (memo indices shifted by
        // none: ARG's PUTs come first in the memo).
        let body = &arg[11..arg.len() - 1];
        let mut r = vec![0x80, 4, b'(', 0x8c, 2, b'i', b'd', 0x8c, 6];
        r.extend_from_slice(b"append");
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x85, b'}', b't', b'.']);
        r
    }

    #[test]
    fn shared_and_cyclic_arguments_are_kept_and_decode_to_the_same_graph() {
        for (name, arg) in [("shared", SHARED), ("cycle", CYCLE)] {
            let req = loads_request(&request(arg), &Limits::default()).unwrap();
            let args = req.as_tuple().unwrap()[2].as_tuple().unwrap();
            assert!(is_kept(&args[0]), "{name}: {req:?}");
            let blob = kept_bytes(&args[0]).unwrap();
            // The kept graph has the same shape: decoding it keeps it again, identically.
            let (root, nodes) = machine::interpret_mode(blob, &Limits::default(), true).unwrap();
            let again = encode_graph(&nodes, root).unwrap();
            assert_eq!(again, blob, "{name}");
        }
        // The shared inner list is one object: a plain decode copies it.
        assert_eq!(loads(SHARED).unwrap().to_string(), "[[1], [1]]");
    }

    #[test]
    fn plain_arguments_stay_trees() {
        let req = loads_request(
            b"\x80\x04(\x8c\x02id\x8c\x06append]\x94(K\x01K\x02h\x00e\x85}t.",
            &Limits::default(),
        );
        // h\x00 refers to the list itself: a cycle → kept.
        assert!(is_kept(
            &req.unwrap().as_tuple().unwrap()[2].as_tuple().unwrap()[0]
        ));
        let req = loads_request(
            b"\x80\x04(\x8c\x02id\x8c\x06append](K\x01K\x02e\x85}t.",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(req.as_tuple().unwrap()[2].to_string(), "([1, 2],)");
    }
}
