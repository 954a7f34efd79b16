//! [`Reply`]: `(kind, result)`, and what a client makes of it.

use super::exceptions::exception_to_error;
use super::extract::{shape, Reader};
use super::Token;
use crate::managers::pickle::{self, PyValue};
use crate::{Error, Result};

/// A reply `(kind, result)`.
///
/// ```
/// use mpshare::managers::wire::Reply;
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
    /// use mpshare::managers::wire::Reply;
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
    /// use mpshare::managers::wire::Reply;
    /// use mpshare::managers::pickle::PyValue;
    /// let v = PyValue::tuple(vec![PyValue::str("#BOGUS"), PyValue::None]);
    /// assert!(Reply::from_value(v).unwrap_err().to_string().contains("#BOGUS"));
    /// ```
    pub fn from_value(v: PyValue) -> Result<Reply> {
        let r = Reader("reply");
        let [kind, result] = r.items(v, "a 2-tuple (kind, result)")?;
        let kind = r.string(kind, "kind")?;
        match kind.as_str() {
            "#RETURN" => Ok(Reply::Return(result)),
            "#ERROR" => Ok(Reply::Error(result)),
            "#TRACEBACK" => Ok(Reply::Traceback(
                Reader("reply #TRACEBACK").string(result, "the traceback")?,
            )),
            "#UNSERIALIZABLE" => Ok(Reply::Unserializable(
                Reader("reply #UNSERIALIZABLE").string(result, "the traceback")?,
            )),
            "#PROXY" => {
                let r = Reader("reply #PROXY");
                let [exposed, token] = r.items(result, "(exposed, token)")?;
                Ok(Reply::Proxy {
                    exposed: r.strings(exposed, "exposed")?,
                    token: Token::from_value(&token)?,
                })
            }
            _ => Err(shape(
                "reply",
                "kind '#RETURN', '#ERROR', '#PROXY', '#TRACEBACK' or '#UNSERIALIZABLE'",
                &PyValue::Str(kind),
            )),
        }
    }

    /// Pickles the reply (protocol 4).
    ///
    /// ```
    /// use mpshare::managers::wire::Reply;
    /// use mpshare::managers::pickle::PyValue;
    /// assert_eq!(Reply::Return(PyValue::Int(1)).encode().unwrap(), b"\x80\x04\x8c\x07#RETURNK\x01\x86.");
    /// ```
    pub fn encode(&self) -> Result<Vec<u8>> {
        pickle::dumps(&self.to_value())
    }

    /// Unpickles and parses a reply.
    ///
    /// ```
    /// use mpshare::managers::wire::Reply;
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
    /// use mpshare::managers::wire::{key_error, Reply};
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
