//! The arena of the full decoder: the stack and the memo hold references ([`Item::Ref`]) to
//! [`Node`]s, like CPython's object references, so that a container filled after it was memoised
//! is seen complete through the memo.

use crate::managers::pickle::PyValue;

#[derive(Clone, Copy, Debug)]
pub(super) enum Item {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Ref(usize),
}

#[derive(Debug)]
pub(super) enum Node {
    Leaf(PyValue),
    Tuple(Vec<Item>),
    List(Vec<Item>),
    Dict(Vec<(Item, Item)>),
    Set(Vec<Item>),
    FrozenSet(Vec<Item>),
    Reduce(Item, Item),
    NewObj(Item, Item, Option<Item>),
    Build(Item, Item),
    /// An object filled by `APPEND(S)` (keep mode only): the object, then its items.
    Appends(Item, Vec<Item>),
    /// An object filled by `SETITEM(S)` (keep mode only): the object, then its pairs.
    SetItems(Item, Vec<(Item, Item)>),
    /// Placeholder while a node is moved.
    Empty,
}
