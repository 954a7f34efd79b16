//! `Value`: `managers.Value(typecode, value, lock=True)`, a holder without type checks.

use std::sync::Mutex;

use crate::managers::pickle::{PyDict, PyValue};
use crate::managers::sdk::bind_args;
use crate::managers::sdk::{lock, names, CallCtx, CallError, PinSet, ServedObject};
use crate::managers::wire::MANAGERS;

#[derive(Debug)]
struct State {
    value: PyValue,
    pins: PinSet,
}

/// The `Value` typeid: no coercion (`v.value = 'x'` works on an `'i'` Value, as in CPython).
///
/// ```
/// use mpshare::managers::{objects::value::ValueObject, sdk::{CallCtx, ServedObject}};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let v = ValueObject::create(&[PyValue::str("i"), PyValue::Int(7)], &PyDict::new()).unwrap();
/// let ctx = CallCtx::detached(1);
/// assert_eq!(v.call(&ctx, "get", &[], &PyDict::new()).unwrap(), PyValue::Int(7));
/// assert_eq!(v.repr(), "Value('i', 7)");
/// ```
#[derive(Debug)]
pub struct ValueObject {
    typecode: PyValue,
    state: Mutex<State>,
}

impl ValueObject {
    /// `Value(typecode, value, lock=True)`.
    ///
    /// ```
    /// use mpshare::managers::objects::value::ValueObject;
    /// use mpshare::managers::pickle::{PyDict, PyValue};
    /// assert!(ValueObject::create(&[PyValue::str("i")], &PyDict::new()).is_err());
    /// ```
    pub fn create(args: &[PyValue], kwargs: &PyDict) -> Result<ValueObject, CallError> {
        let b = bind_args("Value", args, kwargs, &["typecode", "value", "lock"], 2)?;
        Ok(ValueObject {
            typecode: b[0].cloned().unwrap_or(PyValue::None),
            state: Mutex::new(State {
                value: b[1].cloned().unwrap_or(PyValue::None),
                pins: PinSet::default(),
            }),
        })
    }
}

impl ValueObject {
    /// The methods a `Value` exposes (what `create` reports and `call` answers).
    pub const EXPOSED: &'static [&'static str] = &["get", "set"];
}

impl ServedObject for ValueObject {
    fn call(
        &self,
        ctx: &CallCtx,
        method: &str,
        args: &[PyValue],
        kwargs: &PyDict,
    ) -> Result<PyValue, CallError> {
        let mut st = lock(&self.state);
        let st = &mut *st;
        match method {
            "get" => {
                bind_args(method, args, kwargs, &[], 0)?;
                Ok(st.value.clone())
            }
            "set" => {
                let b = bind_args(method, args, kwargs, &["value"], 1)?;
                st.value = b[0].cloned().unwrap_or(PyValue::None);
                st.pins.maybe_refresh(ctx, args, [&st.value]);
                Ok(PyValue::None)
            }
            _ => Err(CallError::no_method("Value", method)),
        }
    }

    fn pin_stored_proxies(&self, ctx: &CallCtx) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        st.pins.refresh(ctx, [&st.value]);
    }

    fn exposed(&self) -> Vec<String> {
        names(Self::EXPOSED)
    }

    fn repr(&self) -> String {
        format!("Value({}, {})", self.typecode, lock(&self.state).value)
    }

    fn get_value(&self) -> Result<PyValue, CallError> {
        let mut d = PyDict::new();
        let _ = d.insert(PyValue::str("_typecode"), self.typecode.clone());
        let _ = d.insert(PyValue::str("_value"), lock(&self.state).value.clone());
        Ok(PyValue::new_obj(MANAGERS, "Value", PyValue::Dict(d)))
    }
}
