//! [`Request`]: `(ident, methodname, args, kwds)`, with its keyword arguments as [`Kwargs`].

use super::extract::{shape, Reader};
use crate::managers::pickle::{self, PyDict, PyValue};
use crate::Result;

/// A request `(ident, methodname, args, kwds)`.
///
/// ```
/// use mpshare::managers::wire::Request;
/// let r = Request::server("dummy", vec![]);
/// assert_eq!(r.encode().unwrap(), b"\x80\x04(N\x8c\x05dummy)}t.");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `None` for server functions, the object's ident for proxy calls.
    pub ident: Option<String>,
    /// Method or server function name.
    pub method: String,
    /// Positional arguments (sent as a tuple).
    pub args: Vec<PyValue>,
    /// Keyword arguments: a dict with `str` keys, as sent and as handed to the served method.
    pub kwds: Kwargs,
}

impl Request {
    /// A server-function request (`ident=None`).
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let r = Request::server("create", vec![PyValue::str("dict")]);
    /// assert!(r.ident.is_none());
    /// ```
    pub fn server(method: &str, args: Vec<PyValue>) -> Request {
        Request {
            ident: None,
            method: method.to_string(),
            args,
            kwds: Kwargs::new(),
        }
    }

    /// A proxy call on the object `ident`.
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// let r = Request::call("7f00", "__len__", vec![]);
    /// assert_eq!(r.ident.as_deref(), Some("7f00"));
    /// ```
    pub fn call(ident: &str, method: &str, args: Vec<PyValue>) -> Request {
        Request {
            ident: Some(ident.to_string()),
            method: method.to_string(),
            args,
            kwds: Kwargs::new(),
        }
    }

    /// The request as the Python 4-tuple.
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// assert_eq!(Request::server("dummy", vec![]).to_value().to_string(), "(None, 'dummy', (), {})");
    /// ```
    pub fn to_value(&self) -> PyValue {
        PyValue::Tuple(vec![
            self.ident.clone().map_or(PyValue::None, PyValue::Str),
            PyValue::str(self.method.clone()),
            PyValue::Tuple(self.args.clone()),
            PyValue::Dict(self.kwds.as_dict().clone()),
        ])
    }

    /// Parses the Python 4-tuple; shape errors are
    /// [`Error::Protocol`](crate::Error::Protocol) naming what was expected.
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let err = Request::from_value(PyValue::Int(1)).unwrap_err();
    /// assert!(err.to_string().contains("expected a 4-tuple"));
    /// ```
    pub fn from_value(v: PyValue) -> Result<Request> {
        let r = Reader("request");
        let [ident, method, args, kwds] =
            r.items(v, "a 4-tuple (ident, methodname, args, kwds)")?;
        let ident = match ident {
            PyValue::None => None,
            PyValue::Str(s) => Some(s),
            other => return Err(shape("request", "ident to be None or str", &other)),
        };
        Ok(Request {
            ident,
            method: r.string(method, "methodname")?,
            args: r.seq(args, "args")?,
            kwds: Kwargs::from_dict(r.dict(kwds, "kwds")?)?,
        })
    }

    /// Pickles the request (protocol 4).
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// assert!(Request::server("dummy", vec![]).encode().unwrap().starts_with(b"\x80\x04"));
    /// ```
    pub fn encode(&self) -> Result<Vec<u8>> {
        pickle::dumps(&self.to_value())
    }

    /// Unpickles and parses a request.
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// let r = Request::decode(b"\x80\x04(N\x8c\x05dummy)}t.").unwrap();
    /// assert_eq!(r.method, "dummy");
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Request> {
        Request::from_value(pickle::loads(bytes)?)
    }

    /// The keyword argument `name`, if given.
    ///
    /// ```
    /// use mpshare::managers::wire::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let mut r = Request::call("1", "get", vec![]);
    /// r.kwds.push(("timeout".into(), PyValue::Float(0.1)));
    /// assert_eq!(r.kwarg("timeout"), Some(&PyValue::Float(0.1)));
    /// ```
    pub fn kwarg(&self, name: &str) -> Option<&PyValue> {
        self.kwds.get(name)
    }
}

/// Keyword arguments of a call: a [`PyDict`] whose keys are all `str`. It travels as the dict it
/// is, from the request's pickle to the served method's `kwargs`.
///
/// ```
/// use mpshare::managers::wire::Kwargs;
/// use mpshare::managers::pickle::PyValue;
/// let mut kw = Kwargs::new();
/// kw.push(("timeout".into(), PyValue::Float(0.5)));
/// assert_eq!(kw.get("timeout"), Some(&PyValue::Float(0.5)));
/// assert_eq!(kw.as_dict().len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kwargs(PyDict);

impl Kwargs {
    /// No keyword arguments.
    ///
    /// ```
    /// assert!(mpshare::managers::wire::Kwargs::new().is_empty());
    /// ```
    pub fn new() -> Kwargs {
        Kwargs(PyDict::new())
    }

    /// Checks that every key of `d` is a `str`.
    ///
    /// ```
    /// use mpshare::managers::{pickle::{PyDict, PyValue}, wire::Kwargs};
    /// let mut d = PyDict::new();
    /// d.insert(PyValue::Int(1), PyValue::None)?;
    /// assert!(Kwargs::from_dict(d).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_dict(d: PyDict) -> Result<Kwargs> {
        if let Some((k, _)) = d.iter().find(|(k, _)| !matches!(k, PyValue::Str(_))) {
            return Err(shape("request", "kwds keys to be str", k));
        }
        Ok(Kwargs(d))
    }

    /// Adds `name=value` (replacing an earlier value of `name`).
    ///
    /// ```
    /// let mut kw = mpshare::managers::wire::Kwargs::new();
    /// kw.push(("block".into(), true.into()));
    /// assert_eq!(kw.len(), 1);
    /// ```
    pub fn push(&mut self, (name, value): (String, PyValue)) {
        // A str key is always hashable.
        let _ = self.0.insert(PyValue::Str(name), value);
    }

    /// The value of `name`, if given.
    ///
    /// ```
    /// assert!(mpshare::managers::wire::Kwargs::new().get("x").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<&PyValue> {
        self.0.get_str(name)
    }

    /// How many keyword arguments.
    ///
    /// ```
    /// assert_eq!(mpshare::managers::wire::Kwargs::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(mpshare::managers::wire::Kwargs::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, in order.
    ///
    /// ```
    /// let kw = mpshare::managers::wire::Kwargs::from(vec![("a".to_string(), 1.into())]);
    /// assert_eq!(kw.values().count(), 1);
    /// ```
    pub fn values(&self) -> impl Iterator<Item = &PyValue> + '_ {
        self.0.iter().map(|(_, v)| v)
    }

    /// The dict itself (what a served method receives as `kwargs`).
    ///
    /// ```
    /// assert!(mpshare::managers::wire::Kwargs::new().as_dict().is_empty());
    /// ```
    pub fn as_dict(&self) -> &PyDict {
        &self.0
    }
}

impl From<Vec<(String, PyValue)>> for Kwargs {
    fn from(pairs: Vec<(String, PyValue)>) -> Kwargs {
        let mut kw = Kwargs::new();
        for p in pairs {
            kw.push(p);
        }
        kw
    }
}
