//! The manager's messages: requests `(ident, methodname, args, kwds)`, replies `(kind, result)`,
//! `Token`, proxy references (`RebuildProxy(...)`) and exception values (spec §4, §5).
//!
//! ```
//! use mpshare::managers::message::{Reply, Request};
//! use mpshare::managers::pickle::PyValue;
//! let req = Request::call("7fe7c53b7dc0", "__getitem__", vec![PyValue::str("a")]);
//! assert_eq!(Request::decode(&req.encode().unwrap()).unwrap(), req);
//! let reply = Reply::decode(b"\x80\x04\x8c\x07#RETURN\x4b\x01\x86.").unwrap();
//! assert_eq!(reply.into_result().unwrap(), PyValue::Int(1));
//! ```

use super::pickle::{self, PyDict, PyValue};
use crate::{Error, Result};

/// The module of the manager classes.
/// ```
/// assert_eq!(mpshare::managers::message::MANAGERS, "multiprocessing.managers");
/// ```
pub const MANAGERS: &str = "multiprocessing.managers";

fn proto(msg: String) -> Error {
    Error::Protocol(msg)
}

fn describe(v: &PyValue) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} {}...", v.type_name(), &s[..cut])
    } else {
        format!("{} {}", v.type_name(), s)
    }
}

/// A request `(ident, methodname, args, kwds)`.
///
/// ```
/// use mpshare::managers::message::Request;
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
    /// Keyword arguments, in order.
    pub kwds: Vec<(String, PyValue)>,
}

impl Request {
    /// A server-function request (`ident=None`).
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let r = Request::server("create", vec![PyValue::str("dict")]);
    /// assert!(r.ident.is_none());
    /// ```
    pub fn server(method: &str, args: Vec<PyValue>) -> Request {
        Request {
            ident: None,
            method: method.to_string(),
            args,
            kwds: Vec::new(),
        }
    }

    /// A proxy call on the object `ident`.
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// let r = Request::call("7f00", "__len__", vec![]);
    /// assert_eq!(r.ident.as_deref(), Some("7f00"));
    /// ```
    pub fn call(ident: &str, method: &str, args: Vec<PyValue>) -> Request {
        Request {
            ident: Some(ident.to_string()),
            method: method.to_string(),
            args,
            kwds: Vec::new(),
        }
    }

    /// The request as the Python 4-tuple.
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// assert_eq!(Request::server("dummy", vec![]).to_value().to_string(), "(None, 'dummy', (), {})");
    /// ```
    pub fn to_value(&self) -> PyValue {
        let mut kw = PyDict::new();
        for (k, v) in &self.kwds {
            // str keys are always hashable
            let _ = kw.insert(PyValue::str(k.clone()), v.clone());
        }
        PyValue::Tuple(vec![
            self.ident.clone().map_or(PyValue::None, PyValue::Str),
            PyValue::str(self.method.clone()),
            PyValue::Tuple(self.args.clone()),
            PyValue::Dict(kw),
        ])
    }

    /// Parses the Python 4-tuple; shape errors are [`Error::Protocol`] naming what was expected.
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let err = Request::from_value(PyValue::Int(1)).unwrap_err();
    /// assert!(err.to_string().contains("expected a 4-tuple"));
    /// ```
    pub fn from_value(v: PyValue) -> Result<Request> {
        let items = match v {
            PyValue::Tuple(t) | PyValue::List(t) if t.len() == 4 => t,
            other => {
                return Err(proto(format!(
                    "request: expected a 4-tuple (ident, methodname, args, kwds), found {}",
                    describe(&other)
                )))
            }
        };
        let mut it = items.into_iter();
        let (ident, method, args, kwds) = match (it.next(), it.next(), it.next(), it.next()) {
            (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
            _ => return Err(proto("request: expected 4 items".into())),
        };
        let ident = match ident {
            PyValue::None => None,
            PyValue::Str(s) => Some(s),
            other => {
                return Err(proto(format!(
                    "request: expected ident to be None or str, found {}",
                    describe(&other)
                )))
            }
        };
        let method = match method {
            PyValue::Str(s) => s,
            other => {
                return Err(proto(format!(
                    "request: expected methodname to be str, found {}",
                    describe(&other)
                )))
            }
        };
        let args = match args {
            PyValue::Tuple(t) | PyValue::List(t) => t,
            other => {
                return Err(proto(format!(
                    "request: expected args to be a tuple, found {}",
                    describe(&other)
                )))
            }
        };
        let kwds = match kwds {
            PyValue::Dict(d) => {
                let mut out = Vec::with_capacity(d.len());
                for (k, v) in d {
                    match k {
                        PyValue::Str(s) => out.push((s, v)),
                        other => {
                            return Err(proto(format!(
                                "request: expected kwds keys to be str, found {}",
                                describe(&other)
                            )))
                        }
                    }
                }
                out
            }
            other => {
                return Err(proto(format!(
                    "request: expected kwds to be a dict, found {}",
                    describe(&other)
                )))
            }
        };
        Ok(Request {
            ident,
            method,
            args,
            kwds,
        })
    }

    /// Pickles the request (protocol 4).
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// assert!(Request::server("dummy", vec![]).encode().unwrap().starts_with(b"\x80\x04"));
    /// ```
    pub fn encode(&self) -> Result<Vec<u8>> {
        pickle::dumps(&self.to_value())
    }

    /// Unpickles and parses a request.
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// let r = Request::decode(b"\x80\x04(N\x8c\x05dummy)}t.").unwrap();
    /// assert_eq!(r.method, "dummy");
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Request> {
        Request::from_value(pickle::loads(bytes)?)
    }

    /// The keyword argument `name`, if given.
    ///
    /// ```
    /// use mpshare::managers::message::Request;
    /// use mpshare::managers::pickle::PyValue;
    /// let mut r = Request::call("1", "get", vec![]);
    /// r.kwds.push(("timeout".into(), PyValue::Float(0.1)));
    /// assert_eq!(r.kwarg("timeout"), Some(&PyValue::Float(0.1)));
    /// ```
    pub fn kwarg(&self, name: &str) -> Option<&PyValue> {
        self.kwds.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// `multiprocessing.managers.Token(typeid, address, id)`.
///
/// ```
/// use mpshare::managers::message::Token;
/// use mpshare::managers::pickle::{dumps, PyValue};
/// let t = Token::new("dict", Token::tcp_address("127.0.0.1", 50000), "7f0000001000");
/// let mut expected = b"\x80\x04cmultiprocessing.managers\nToken\n)\x81".to_vec();
/// expected.extend_from_slice(b"\x8c\x04dict\x8c\x09127.0.0.1\x4d\x50\xc3\x86\x8c\x0c7f0000001000\x87b.");
/// assert_eq!(dumps(&t.to_value()).unwrap(), expected);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The typeid (`'dict'`, `'Queue'`, ...).
    pub typeid: String,
    /// The server address: `(host, port)` tuple, `str` path or `bytes` abstract name.
    pub address: PyValue,
    /// The object's ident.
    pub id: String,
}

impl Token {
    /// A token.
    ///
    /// ```
    /// use mpshare::managers::message::Token;
    /// use mpshare::managers::pickle::PyValue;
    /// let t = Token::new("list", PyValue::str("/tmp/sock"), "1");
    /// assert_eq!(t.typeid, "list");
    /// ```
    pub fn new(typeid: &str, address: PyValue, id: &str) -> Token {
        Token {
            typeid: typeid.to_string(),
            address,
            id: id.to_string(),
        }
    }

    /// The `(host, port)` address tuple.
    ///
    /// ```
    /// use mpshare::managers::message::Token;
    /// assert_eq!(Token::tcp_address("127.0.0.1", 1).to_string(), "('127.0.0.1', 1)");
    /// ```
    pub fn tcp_address(host: &str, port: u16) -> PyValue {
        PyValue::Tuple(vec![PyValue::str(host), PyValue::Int(i64::from(port))])
    }

    /// CPython's form: `Token` global, `()` , `NEWOBJ`, state `(typeid, address, id)`, `BUILD`.
    ///
    /// ```
    /// use mpshare::managers::message::Token;
    /// use mpshare::managers::pickle::PyValue;
    /// let v = Token::new("dict", PyValue::str("/s"), "1").to_value();
    /// assert_eq!(v.to_string(), "Token(typeid='dict', address='/s', id='1')");
    /// ```
    pub fn to_value(&self) -> PyValue {
        PyValue::new_obj(
            MANAGERS,
            "Token",
            PyValue::Tuple(vec![
                PyValue::str(self.typeid.clone()),
                self.address.clone(),
                PyValue::str(self.id.clone()),
            ]),
        )
    }

    /// Parses CPython's `NEWOBJ`+`BUILD` form (or a `Token(typeid, address, id)` `REDUCE`).
    ///
    /// ```
    /// use mpshare::managers::message::Token;
    /// use mpshare::managers::pickle::PyValue;
    /// let t = Token::new("dict", PyValue::str("/s"), "1");
    /// assert_eq!(Token::from_value(&t.to_value()).unwrap(), t);
    /// assert!(Token::from_value(&PyValue::None).is_err());
    /// ```
    pub fn from_value(v: &PyValue) -> Result<Token> {
        let state: &[PyValue] = match (v.as_new_obj(), v.as_reduce()) {
            (Some((MANAGERS, "Token", PyValue::Tuple(t))), _) => t,
            (_, Some((MANAGERS, "Token", t))) => t,
            _ => {
                return Err(proto(format!(
                    "expected a multiprocessing.managers.Token, found {}",
                    describe(v)
                )))
            }
        };
        match state {
            [PyValue::Str(typeid), address, PyValue::Str(id)] => Ok(Token {
                typeid: typeid.clone(),
                address: address.clone(),
                id: id.clone(),
            }),
            _ => Err(proto(format!(
                "expected Token state (typeid: str, address, id: str), found {}",
                describe(v)
            ))),
        }
    }
}

/// A proxy travelling as a value: `RebuildProxy(func, token, serializer, kwds)` (spec §4.7).
///
/// ```
/// use mpshare::managers::message::{ProxyRef, Token};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let p = ProxyRef::auto(Token::new("Queue", PyValue::str("/s"), "7f"),
///     vec!["get".into(), "put".into()]);
/// let v = p.to_value();
/// assert_eq!(ProxyRef::from_value(&v).unwrap(), p);
/// assert!(ProxyRef::is_proxy(&v));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyRef {
    /// The proxy class name in `multiprocessing.managers` (`DictProxy`, `AutoProxy`, ...).
    pub func: String,
    /// The referent's token.
    pub token: Token,
    /// The serializer, normally `'pickle'`.
    pub serializer: String,
    /// Extra keyword arguments (`{'exposed': (...)}` for `AutoProxy`).
    pub kwds: PyDict,
}

impl ProxyRef {
    /// A proxy of class `func` with empty kwds.
    ///
    /// ```
    /// use mpshare::managers::message::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let p = ProxyRef::new("DictProxy", Token::new("dict", PyValue::str("/s"), "1"));
    /// assert_eq!(p.serializer, "pickle");
    /// ```
    pub fn new(func: &str, token: Token) -> ProxyRef {
        ProxyRef {
            func: func.to_string(),
            token,
            serializer: "pickle".to_string(),
            kwds: PyDict::new(),
        }
    }

    /// An `AutoProxy` with `{'exposed': (...)}`.
    ///
    /// ```
    /// use mpshare::managers::message::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let p = ProxyRef::auto(Token::new("Queue", PyValue::str("/s"), "1"), vec!["get".into()]);
    /// assert!(p.kwds.get_str("exposed").is_some());
    /// ```
    pub fn auto(token: Token, exposed: Vec<String>) -> ProxyRef {
        let mut p = ProxyRef::new("AutoProxy", token);
        let _ = p.kwds.insert(
            PyValue::str("exposed"),
            PyValue::Tuple(exposed.into_iter().map(PyValue::Str).collect()),
        );
        p
    }

    /// True when `v` is a `RebuildProxy(...)` call.
    ///
    /// ```
    /// use mpshare::managers::message::ProxyRef;
    /// assert!(!ProxyRef::is_proxy(&mpshare::managers::pickle::PyValue::None));
    /// ```
    pub fn is_proxy(v: &PyValue) -> bool {
        matches!(v.as_reduce(), Some((MANAGERS, "RebuildProxy", _)))
    }

    /// The `REDUCE` graph CPython sends.
    ///
    /// ```
    /// use mpshare::managers::message::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let v = ProxyRef::new("ListProxy", Token::new("list", PyValue::str("/s"), "1")).to_value();
    /// assert!(v.to_string().starts_with("RebuildProxy(<class 'multiprocessing.managers.ListProxy'>"));
    /// ```
    pub fn to_value(&self) -> PyValue {
        PyValue::reduce(
            PyValue::global(MANAGERS, "RebuildProxy"),
            vec![
                PyValue::global(MANAGERS, self.func.clone()),
                self.token.to_value(),
                PyValue::str(self.serializer.clone()),
                PyValue::Dict(self.kwds.clone()),
            ],
        )
    }

    /// Parses a `RebuildProxy(func, token, serializer, kwds)` graph.
    ///
    /// ```
    /// use mpshare::managers::message::ProxyRef;
    /// assert!(ProxyRef::from_value(&mpshare::managers::pickle::PyValue::None).is_err());
    /// ```
    pub fn from_value(v: &PyValue) -> Result<ProxyRef> {
        match v.as_reduce() {
            Some((MANAGERS, "RebuildProxy", [func, token, ser, kwds])) => {
                let func = match func.as_global() {
                    Some((_, n)) => n.to_string(),
                    None => {
                        return Err(proto(format!(
                            "RebuildProxy: expected a proxy class, found {}",
                            describe(func)
                        )))
                    }
                };
                let token = Token::from_value(token)?;
                let serializer = ser.as_str().unwrap_or("pickle").to_string();
                let kwds = match kwds {
                    PyValue::Dict(d) => d.clone(),
                    other => {
                        return Err(proto(format!(
                            "RebuildProxy: expected kwds dict, found {}",
                            describe(other)
                        )))
                    }
                };
                Ok(ProxyRef {
                    func,
                    token,
                    serializer,
                    kwds,
                })
            }
            _ => Err(proto(format!(
                "expected RebuildProxy(func, token, serializer, kwds), found {}",
                describe(v)
            ))),
        }
    }
}

/// A reply `(kind, result)`.
///
/// ```
/// use mpshare::managers::message::Reply;
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(Reply::Return(PyValue::None).encode().unwrap(), b"\x80\x04\x8c\x07#RETURNN\x86.");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `('#RETURN', value)`.
    Return(PyValue),
    /// `('#ERROR', exception_instance)`.
    Error(PyValue),
    /// `('#PROXY', (exposed, token))`.
    Proxy {
        /// Exposed method names.
        exposed: Vec<String>,
        /// The new object's token.
        token: Token,
    },
    /// `('#TRACEBACK', text)`.
    Traceback(String),
    /// `('#UNSERIALIZABLE', text)`.
    Unserializable(String),
}

impl Reply {
    /// The reply as the Python 2-tuple.
    ///
    /// ```
    /// use mpshare::managers::message::Reply;
    /// assert_eq!(Reply::Traceback("x".into()).to_value().to_string(), "('#TRACEBACK', 'x')");
    /// ```
    pub fn to_value(&self) -> PyValue {
        let (kind, v) = match self {
            Reply::Return(v) => ("#RETURN", v.clone()),
            Reply::Error(v) => ("#ERROR", v.clone()),
            Reply::Proxy { exposed, token } => (
                "#PROXY",
                PyValue::Tuple(vec![
                    PyValue::Tuple(exposed.iter().cloned().map(PyValue::Str).collect()),
                    token.to_value(),
                ]),
            ),
            Reply::Traceback(s) => ("#TRACEBACK", PyValue::str(s.clone())),
            Reply::Unserializable(s) => ("#UNSERIALIZABLE", PyValue::str(s.clone())),
        };
        PyValue::Tuple(vec![PyValue::str(kind), v])
    }

    /// Parses the 2-tuple.
    ///
    /// ```
    /// use mpshare::managers::message::Reply;
    /// use mpshare::managers::pickle::PyValue;
    /// let v = PyValue::tuple(vec![PyValue::str("#BOGUS"), PyValue::None]);
    /// assert!(Reply::from_value(v).unwrap_err().to_string().contains("#BOGUS"));
    /// ```
    pub fn from_value(v: PyValue) -> Result<Reply> {
        let (kind, result) = match v {
            PyValue::Tuple(t) if t.len() == 2 => {
                let mut it = t.into_iter();
                match (it.next(), it.next()) {
                    (Some(PyValue::Str(k)), Some(r)) => (k, r),
                    (Some(k), _) => {
                        return Err(proto(format!(
                            "reply: expected kind to be str, found {}",
                            describe(&k)
                        )))
                    }
                    _ => return Err(proto("reply: expected 2 items".into())),
                }
            }
            other => {
                return Err(proto(format!(
                    "reply: expected a 2-tuple (kind, result), found {}",
                    describe(&other)
                )))
            }
        };
        match kind.as_str() {
            "#RETURN" => Ok(Reply::Return(result)),
            "#ERROR" => Ok(Reply::Error(result)),
            "#TRACEBACK" | "#UNSERIALIZABLE" => match result {
                PyValue::Str(s) if kind == "#TRACEBACK" => Ok(Reply::Traceback(s)),
                PyValue::Str(s) => Ok(Reply::Unserializable(s)),
                other => Err(proto(format!(
                    "reply {kind}: expected str, found {}",
                    describe(&other)
                ))),
            },
            "#PROXY" => match &result {
                PyValue::Tuple(t) if t.len() == 2 => {
                    let exposed = match &t[0] {
                        PyValue::Tuple(names) | PyValue::List(names) => names
                            .iter()
                            .map(|n| {
                                n.as_str().map(str::to_string).ok_or_else(|| {
                                    proto(format!(
                                        "reply #PROXY: expected exposed names to be str, found {}",
                                        describe(n)
                                    ))
                                })
                            })
                            .collect::<Result<Vec<_>>>()?,
                        other => {
                            return Err(proto(format!(
                                "reply #PROXY: expected an exposed tuple, found {}",
                                describe(other)
                            )))
                        }
                    };
                    let token = Token::from_value(&t[1])?;
                    Ok(Reply::Proxy { exposed, token })
                }
                other => Err(proto(format!(
                    "reply #PROXY: expected (exposed, token), found {}",
                    describe(other)
                ))),
            },
            other => Err(proto(format!(
                "reply: unrecognized message type {other:?}: expected '#RETURN', '#ERROR', '#PROXY', '#TRACEBACK' or '#UNSERIALIZABLE'"
            ))),
        }
    }

    /// Pickles the reply (protocol 4).
    ///
    /// ```
    /// use mpshare::managers::message::Reply;
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(Reply::Return(PyValue::Int(1)).encode().unwrap(), b"\x80\x04\x8c\x07#RETURNK\x01\x86.");
    /// ```
    pub fn encode(&self) -> Result<Vec<u8>> {
        pickle::dumps(&self.to_value())
    }

    /// Unpickles and parses a reply.
    ///
    /// ```
    /// use mpshare::managers::message::Reply;
    /// use mpshare::managers::pickle::PyValue;
    /// let r = Reply::decode(b"\x80\x04\x8c\x07#RETURNN\x86.").unwrap();
    /// assert_eq!(r, Reply::Return(PyValue::None));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Reply> {
        Reply::from_value(pickle::loads(bytes)?)
    }

    /// What a stock client does with the reply: `#RETURN` → the value; `#ERROR` →
    /// [`Error::Remote`]; `#TRACEBACK` → [`Error::RemoteTraceback`]; `#UNSERIALIZABLE` →
    /// [`Error::RemoteTraceback`] with `"Unserializable message: ..."`; `#PROXY` → the raw result
    /// `(exposed, token)` as a value (callers that create proxies match on [`Reply::Proxy`] first).
    ///
    /// ```
    /// use mpshare::managers::message::{key_error, Reply};
    /// use mpshare::managers::pickle::PyValue;
    /// let err = Reply::Error(key_error(PyValue::str("missing"))).into_result().unwrap_err();
    /// assert!(matches!(err, mpshare::Error::Remote { ref class, ref message }
    ///     if class == "builtins.KeyError" && message == "'missing'"));
    /// ```
    pub fn into_result(self) -> Result<PyValue> {
        match self {
            Reply::Return(v) => Ok(v),
            Reply::Error(e) => Err(exception_to_error(&e)),
            Reply::Traceback(t) => Err(Error::RemoteTraceback(t)),
            Reply::Unserializable(t) => Err(Error::RemoteTraceback(format!(
                "Unserializable message: {t}\n"
            ))),
            Reply::Proxy { exposed, token } => Ok(PyValue::Tuple(vec![
                PyValue::Tuple(exposed.into_iter().map(PyValue::Str).collect()),
                token.to_value(),
            ])),
        }
    }
}

/// An exception instance of the qualified class `"module.Name"` (e.g. `"builtins.KeyError"`,
/// `"_queue.Empty"`), pickled as CPython does (global + args + `REDUCE`).
///
/// ```
/// use mpshare::managers::message::exception;
/// use mpshare::managers::pickle::PyValue;
/// let e = exception("queue.Full", vec![]);
/// assert_eq!(e.as_exception().unwrap().0, "queue");
/// ```
pub fn exception(class: &str, args: Vec<PyValue>) -> PyValue {
    let (module, name) = class.rsplit_once('.').unwrap_or(("builtins", class));
    PyValue::exception(module, name, args)
}

/// `KeyError(key)`.
///
/// ```
/// use mpshare::managers::message::key_error;
/// assert_eq!(key_error("k".into()).to_string(), "KeyError('k')");
/// ```
pub fn key_error(key: PyValue) -> PyValue {
    exception("builtins.KeyError", vec![key])
}

/// `IndexError(msg)`.
///
/// ```
/// use mpshare::managers::message::index_error;
/// assert_eq!(index_error("list index out of range").to_string(), "IndexError('list index out of range')");
/// ```
pub fn index_error(msg: &str) -> PyValue {
    exception("builtins.IndexError", vec![PyValue::str(msg)])
}

/// `AttributeError(msg)` (3.11 form, without the 3.12 `name`/`obj` state; accepted by 3.11–3.13).
///
/// ```
/// use mpshare::managers::message::attribute_error;
/// assert!(attribute_error("x").to_string().starts_with("AttributeError"));
/// ```
pub fn attribute_error(msg: &str) -> PyValue {
    exception("builtins.AttributeError", vec![PyValue::str(msg)])
}

/// `TypeError(msg)`.
///
/// ```
/// use mpshare::managers::message::type_error;
/// assert_eq!(type_error("unhashable type: 'list'").as_exception().unwrap().1, "TypeError");
/// ```
pub fn type_error(msg: &str) -> PyValue {
    exception("builtins.TypeError", vec![PyValue::str(msg)])
}

/// `ValueError(msg)`.
///
/// ```
/// use mpshare::managers::message::value_error;
/// assert_eq!(value_error("x").as_exception().unwrap().1, "ValueError");
/// ```
pub fn value_error(msg: &str) -> PyValue {
    exception("builtins.ValueError", vec![PyValue::str(msg)])
}

/// `RuntimeError(msg)`.
///
/// ```
/// use mpshare::managers::message::runtime_error;
/// assert_eq!(runtime_error("release unlocked lock").to_string(), "RuntimeError('release unlocked lock')");
/// ```
pub fn runtime_error(msg: &str) -> PyValue {
    exception("builtins.RuntimeError", vec![PyValue::str(msg)])
}

/// `StopIteration()`.
///
/// ```
/// use mpshare::managers::message::stop_iteration;
/// assert_eq!(stop_iteration().to_string(), "StopIteration()");
/// ```
pub fn stop_iteration() -> PyValue {
    exception("builtins.StopIteration", vec![])
}

/// `queue.Empty()` — pickled as `_queue.Empty` (its real module).
///
/// ```
/// use mpshare::managers::message::queue_empty;
/// assert_eq!(queue_empty().as_exception().unwrap().0, "_queue");
/// ```
pub fn queue_empty() -> PyValue {
    exception("_queue.Empty", vec![])
}

/// `queue.Full()`.
///
/// ```
/// use mpshare::managers::message::queue_full;
/// assert_eq!(queue_full().as_exception().unwrap().0, "queue");
/// ```
pub fn queue_full() -> PyValue {
    exception("queue.Full", vec![])
}

/// `threading.BrokenBarrierError()`.
///
/// ```
/// use mpshare::managers::message::broken_barrier_error;
/// assert_eq!(broken_barrier_error().as_exception().unwrap().1, "BrokenBarrierError");
/// ```
pub fn broken_barrier_error() -> PyValue {
    exception("threading.BrokenBarrierError", vec![])
}

/// Python's `str(exc)` for an exception value: `''` without args, `str(arg)` with one
/// (`repr(arg)` for `KeyError`), `repr(args)` with several.
///
/// ```
/// use mpshare::managers::message::{exception, exception_message};
/// use mpshare::managers::pickle::PyValue;
/// assert_eq!(exception_message(&exception("builtins.ValueError", vec![PyValue::str("bad")])), "bad");
/// assert_eq!(exception_message(&exception("builtins.KeyError", vec![PyValue::str("k")])), "'k'");
/// assert_eq!(exception_message(&exception("x.E", vec![PyValue::Int(1), PyValue::Int(2)])), "(1, 2)");
/// ```
pub fn exception_message(exc: &PyValue) -> String {
    match exc.as_exception() {
        Some((_, name, args)) => match args {
            [] => String::new(),
            [one] => match one {
                PyValue::Str(s) if name != "KeyError" => s.clone(),
                other => other.to_string(),
            },
            many => PyValue::Tuple(many.to_vec()).to_string(),
        },
        None => exc.to_string(),
    }
}

/// Turns an `#ERROR` payload into [`Error::Remote`] `{ class: "module.Name", message: str(exc) }`.
///
/// ```
/// use mpshare::managers::message::{exception_to_error, queue_empty};
/// let e = exception_to_error(&queue_empty());
/// assert_eq!(e.to_string(), "remote _queue.Empty: ");
/// ```
pub fn exception_to_error(exc: &PyValue) -> Error {
    let class = match exc.as_exception() {
        Some((m, n, _)) => format!("{m}.{n}"),
        None => match exc.as_new_obj() {
            Some((m, n, _)) => format!("{m}.{n}"),
            None => exc.type_name().to_string(),
        },
    };
    Error::Remote {
        class,
        message: exception_message(exc),
    }
}
