//! Phase two of the full decoder: the arena becomes a [`PyValue`] tree under the [`Limits`]
//! budget (shared references are copied; cycles are refused).

use super::arena::{Item, Node};
use crate::error::PickleError;
use crate::managers::pickle::dict::{PyDict, PySet};
use crate::managers::pickle::limits::Limits;
use crate::managers::pickle::primitives::{interpret_reduce, invalid};
use crate::managers::pickle::PyValue;
use crate::{Error, Result};

fn limit(what: &str, limit: usize) -> Error {
    Error::Pickle(PickleError::LimitExceeded {
        what: what.to_string(),
        limit,
    })
}

/// The value `root` stands for in `nodes`.
pub(super) fn materialise(nodes: &[Node], root: Item, limits: &Limits) -> Result<PyValue> {
    Materialiser::new(nodes, limits).item(root, 0)
}

/// One budget for several values of one arena (the arguments of a request).
pub(super) struct Materialiser<'n> {
    nodes: &'n [Node],
    /// 0 = not visiting, 1 = on the current path (cycle detection)
    state: Vec<u8>,
    limits: &'n Limits,
    elements: usize,
    bytes: usize,
}

impl<'n> Materialiser<'n> {
    pub(super) fn new(nodes: &'n [Node], limits: &'n Limits) -> Materialiser<'n> {
        Materialiser {
            nodes,
            state: vec![0u8; nodes.len()],
            limits,
            elements: 0,
            bytes: 0,
        }
    }

    fn count(&mut self) -> Result<()> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(limit(
                "the number of elements (shared references copied)",
                self.limits.max_elements,
            ));
        }
        Ok(())
    }

    fn count_bytes(&mut self, n: usize) -> Result<()> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_total_bytes {
            return Err(limit(
                "the total str/bytes size (shared references copied)",
                self.limits.max_total_bytes,
            ));
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
            d.insert(k, v)
                .map_err(|e| invalid(format!("dict key: {e}")))?;
        }
        Ok(PyValue::Dict(d))
    }

    #[inline(never)]
    fn set(&mut self, items: &[Item], frozen: bool, depth: usize) -> Result<PyValue> {
        let items = self.items(items, depth)?;
        let s = PySet::from_items(items).map_err(|e| invalid(format!("set element: {e}")))?;
        Ok(if frozen {
            PyValue::FrozenSet(s)
        } else {
            PyValue::Set(s)
        })
    }

    pub(super) fn item(&mut self, it: Item, depth: usize) -> Result<PyValue> {
        self.count()?;
        match it {
            Item::None => Ok(PyValue::None),
            Item::Bool(b) => Ok(PyValue::Bool(b)),
            Item::Int(i) => Ok(PyValue::Int(i)),
            Item::Float(f) => Ok(PyValue::Float(f)),
            Item::Ref(i) => {
                if depth >= self.limits.max_depth {
                    return Err(limit("nesting depth", self.limits.max_depth));
                }
                if self.state[i] == 1 {
                    return Err(invalid(
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
            Node::Appends(..) | Node::SetItems(..) => {
                return Err(Error::Pickle(PickleError::Invalid {
                    detail: "an object filled by APPENDS/SETITEMS (OrderedDict, defaultdict, deque, ...) has no value-tree form".into(),
                }))
            }
            Node::Leaf(v) => self.leaf(v)?,
            Node::Empty => return Err(invalid("internal: empty node".into())),
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
