//! `Namespace`: an attribute bag (`managers.Namespace`).

use std::sync::Mutex;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::bind_args;
use crate::managers::sdk::{lock, names, CallCtx, CallError, PinSet, ServedObject};
use crate::managers::wire::MANAGERS;

#[derive(Debug, Default)]
struct State {
    attrs: PyDict,
    pins: PinSet,
}

/// The `Namespace` typeid.
///
/// ```
/// use mpshare::managers::{objects::namespace::NamespaceObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let ns = NamespaceObject::default();
/// let ctx = CallCtx::detached(1);
/// ns.call(&ctx, "__setattr__", &[PyValue::str("x"), PyValue::Int(5)], &PyDict::new()).unwrap();
/// assert_eq!(ns.repr(), "Namespace(x=5)");
/// assert!(ns.call(&ctx, "__getattribute__", &[PyValue::str("y")], &PyDict::new()).is_err());
/// ```
#[derive(Debug, Default)]
pub struct NamespaceObject {
    state: Mutex<State>,
}

pub(crate) fn no_attr(name: &PyValue) -> CallError {
    let n = name
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string());
    CallError::attribute_error(&format!("'Namespace' object has no attribute '{n}'"))
}

pub(crate) fn attr_name(v: Option<&PyValue>) -> Result<&PyValue, CallError> {
    match v {
        Some(v @ PyValue::Str(_)) => Ok(v),
        Some(other) => Err(CallError::type_error(&format!(
            "attribute name must be string, not '{}'",
            other.type_name()
        ))),
        None => Err(CallError::type_error("missing attribute name")),
    }
}

impl NamespaceObject {
    /// `Namespace(**kwargs)`.
    ///
    /// ```
    /// use mpshare::managers::{objects::namespace::NamespaceObject, sdk::ServedObject};
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert_eq!(NamespaceObject::create(&[], &PyDict::new()).unwrap().repr(), "Namespace()");
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<NamespaceObject, CallError> {
        if !args.is_empty() {
            return Err(CallError::type_error(&format!(
                "Namespace.__init__() takes 1 positional argument but {} were given",
                args.len() + 1
            )));
        }
        Ok(NamespaceObject {
            state: Mutex::new(State {
                attrs: kwargs.clone(),
                pins: PinSet::default(),
            }),
        })
    }
}

impl NamespaceObject {
    /// The methods a `Namespace` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] =
        &["__getattribute__", "__setattr__", "__delattr__"];
}

impl ServedObject for NamespaceObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let r = match method {
            "__getattribute__" => {
                let b = bind_args(method, args, kwargs, &["name"], 1)?;
                let n = attr_name(b[0])?;
                match st.attrs.get(n) {
                    Some(v) => Ok(v.clone()),
                    None if n.as_str() == Some("__dict__") => Ok(PyValue::Dict(st.attrs.clone())),
                    None => Err(no_attr(n)),
                }
            }
            "__setattr__" => {
                let b = bind_args(method, args, kwargs, &["name", "value"], 2)?;
                let n = attr_name(b[0])?;
                let _ = st
                    .attrs
                    .insert(n.clone(), b[1].cloned().unwrap_or(PyValue::None));
                Ok(PyValue::None)
            }
            "__delattr__" => {
                let b = bind_args(method, args, kwargs, &["name"], 1)?;
                let n = attr_name(b[0])?;
                match st.attrs.remove(n) {
                    Some(_) => Ok(PyValue::None),
                    None => Err(no_attr(n)),
                }
            }
            _ => Err(CallError::no_method("Namespace", method)),
        };
        if method != "__getattribute__" {
            st.pins.maybe_refresh(ctx, args, st.attrs.values());
        }
        r
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.pins.refresh(ctx, st.attrs.values());
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        let st = lock(&self.state);
        let mut parts: Vec<String> = st
            .attrs
            .iter()
            .filter(|(k, _)| !k.as_str().unwrap_or("").starts_with('_'))
            .map(|(k, v)| format!("{}={}", k.as_str().unwrap_or(""), v))
            .collect();
        // CPython sorts the `name=value` texts.
        parts.sort();
        format!("Namespace({})", parts.join(", "))
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        let st = lock(&self.state);
        Ok(PyValue::new_obj(
            MANAGERS,
            "Namespace",
            PyValue::Dict(st.attrs.clone()),
        ))
    }
}
