//! Keeping objects alive while proxies to them are stored inside other objects.

use std::sync::Weak;

use super::CallCtx;
use crate::managers::pickle::PyValue;
use crate::managers::wire::ProxyRef;

/// The server's object table as seen by stored proxies: add or drop one reference by ident.
///
/// ```
/// use mpshare::managers::sdk::RefTable;
/// struct Nothing;
/// impl RefTable for Nothing {
///     fn incref(&self, _ident: &str) -> bool { false }
///     fn decref(&self, _ident: &str) {}
/// }
/// assert!(!Nothing.incref("1"));
/// ```
pub trait RefTable: Send + Sync {
    /// Adds a reference to `ident`; false when the ident is not one of this server's objects.
    fn incref(&self, ident: &str) -> bool;
    /// Drops a reference to `ident` (the object goes away at zero).
    fn decref(&self, ident: &str);
    /// The served object `ident` names, if it is one of this server's (a proxy passed as an
    /// argument, e.g. the lock of `Condition(lock)`).
    fn object(&self, _ident: &str) -> Option<std::sync::Arc<dyn super::ServedObject>> {
        None
    }
}

/// One reference to a served object held by a value stored in another object; dropping the pin
/// drops the reference. Pins are made by [`PinSet::refresh`].
///
/// ```
/// use mpshare::managers::sdk::PinSet;
/// assert!(PinSet::default().is_empty());
/// ```
pub struct Pin {
    ident: String,
    table: Weak<dyn RefTable>,
}

impl Pin {
    /// The pinned object's ident.
    ///
    /// ```
    /// # use mpshare::managers::sdk::Pin;
    /// fn show(p: &Pin) -> &str { p.ident() }
    /// # let _ = show;
    /// ```
    pub fn ident(&self) -> &str {
        &self.ident
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({})", self.ident)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        if let Some(t) = self.table.upgrade() {
            t.decref(&self.ident);
        }
    }
}

/// True when `v` contains a `RebuildProxy(...)` value anywhere.
///
/// ```
/// use mpshare::managers::sdk::contains_proxy;
/// use mpshare::managers::pickle::PyValue;
/// assert!(!contains_proxy(&PyValue::list(vec![PyValue::Int(1)])));
/// ```
pub fn contains_proxy(v: &PyValue) -> bool {
    match v {
        PyValue::Reduce { .. } if ProxyRef::is_proxy(v) => true,
        // A value kept as sent (pickle.loads(b'...')): the proxies inside its pickle.
        PyValue::Reduce { .. } if crate::managers::pickle::is_kept(v) => {
            !crate::managers::pickle::kept_proxies(v).is_empty()
        }
        PyValue::Tuple(t) | PyValue::List(t) => t.iter().any(contains_proxy),
        PyValue::Dict(d) => d
            .iter()
            .any(|(k, v)| contains_proxy(k) || contains_proxy(v)),
        PyValue::Set(s) | PyValue::FrozenSet(s) => s.iter().any(contains_proxy),
        PyValue::Reduce { callable, args } => contains_proxy(callable) || contains_proxy(args),
        PyValue::NewObj { args, kwargs, .. } => {
            contains_proxy(args) || kwargs.as_deref().is_some_and(contains_proxy)
        }
        PyValue::Build { obj, state } => contains_proxy(obj) || contains_proxy(state),
        _ => false,
    }
}

fn collect_idents(v: &PyValue, out: &mut Vec<String>) {
    match v {
        PyValue::Reduce { .. } if ProxyRef::is_proxy(v) => {
            if let Ok(p) = ProxyRef::from_value(v) {
                out.push(p.token.id);
            }
        }
        PyValue::Reduce { .. } if crate::managers::pickle::is_kept(v) => {
            for p in crate::managers::pickle::kept_proxies(v) {
                collect_idents(&p, out);
            }
        }
        PyValue::Tuple(t) | PyValue::List(t) => t.iter().for_each(|x| collect_idents(x, out)),
        PyValue::Dict(d) => d.iter().for_each(|(k, v)| {
            collect_idents(k, out);
            collect_idents(v, out);
        }),
        PyValue::Set(s) | PyValue::FrozenSet(s) => s.iter().for_each(|x| collect_idents(x, out)),
        PyValue::Reduce { callable, args } => {
            collect_idents(callable, out);
            collect_idents(args, out);
        }
        PyValue::NewObj { args, kwargs, .. } => {
            collect_idents(args, out);
            if let Some(k) = kwargs {
                collect_idents(k, out);
            }
        }
        PyValue::Build { obj, state } => {
            collect_idents(obj, out);
            collect_idents(state, out);
        }
        _ => {}
    }
}

/// The references an object holds to other objects of the same server because proxies to them
/// are stored in it (a dict value, a list item, a queued item...).
///
/// ```
/// use mpshare::managers::sdk::{CallCtx, PinSet};
/// use mpshare::managers::pickle::PyValue;
/// let mut pins = PinSet::default();
/// pins.refresh(&CallCtx::detached(1), [&PyValue::Int(1)]);
/// assert!(pins.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct PinSet {
    pins: Vec<Pin>,
}

impl PinSet {
    /// True when nothing is pinned.
    ///
    /// ```
    /// assert!(mpshare::managers::objects::PinSet::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Recomputes the pins from the values now stored: new proxies of this server are increfed,
    /// proxies no longer stored are decrefed. Cheap no-op without a server table.
    ///
    /// ```
    /// use mpshare::managers::sdk::{CallCtx, PinSet};
    /// let mut pins = PinSet::default();
    /// pins.refresh(&CallCtx::detached(1), []);
    /// assert!(pins.is_empty());
    /// ```
    pub fn refresh<'v>(&mut self, ctx: &CallCtx, values: impl IntoIterator<Item = &'v PyValue>) {
        let Some(table) = ctx.table() else { return };
        let mut idents = Vec::new();
        for v in values {
            collect_idents(v, &mut idents);
        }
        let mut old = std::mem::take(&mut self.pins);
        let mut new = Vec::with_capacity(idents.len());
        for id in idents {
            if let Some(pos) = old.iter().position(|p| p.ident == id) {
                new.push(old.swap_remove(pos));
            } else if let Some(t) = table.upgrade() {
                if t.incref(&id) {
                    new.push(Pin {
                        ident: id,
                        table: table.clone(),
                    });
                }
            }
        }
        self.pins = new;
        drop(old);
    }

    /// Refreshes only when it can matter: the call brought a proxy in, or pins exist.
    ///
    /// ```
    /// use mpshare::managers::sdk::{CallCtx, PinSet};
    /// use mpshare::managers::pickle::PyValue;
    /// let mut pins = PinSet::default();
    /// pins.maybe_refresh(&CallCtx::detached(1), &[PyValue::Int(1)], []);
    /// assert!(pins.is_empty());
    /// ```
    pub fn maybe_refresh<'v>(
        &mut self,
        ctx: &CallCtx,
        incoming: &[PyValue],
        values: impl IntoIterator<Item = &'v PyValue>,
    ) {
        if !self.pins.is_empty() || incoming.iter().any(contains_proxy) {
            self.refresh(ctx, values);
        }
    }
}
