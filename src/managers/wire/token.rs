//! [`Token`] (`multiprocessing.managers.Token(typeid, address, id)`) with its address typed as
//! an [`Address`], and [`ProxyRef`], a proxy travelling as a value (`RebuildProxy(...)`).

use std::ffi::OsStr;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::extract::{shape, Reader};
use super::MANAGERS;
use crate::managers::connection::Address;
use crate::managers::pickle::{PyDict, PyValue};
use crate::Result;

/// An address as CPython writes it in a token: `(host, port)` for TCP (`(host, port, flowinfo,
/// scope_id)` for IPv6), the path as `str` for a Unix socket, `b'\x00name'` for an abstract one.
///
/// ```
/// use mpshare::managers::Address;
/// use mpshare::managers::wire::address_to_value;
/// let a = "127.0.0.1:5000".parse()?;
/// assert_eq!(address_to_value(&a).to_string(), "('127.0.0.1', 5000)");
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn address_to_value(address: &Address) -> PyValue {
    match address {
        Address::Tcp(SocketAddr::V4(sa)) => PyValue::Tuple(vec![
            PyValue::str(sa.ip().to_string()),
            PyValue::Int(i64::from(sa.port())),
        ]),
        Address::Tcp(SocketAddr::V6(sa)) => PyValue::Tuple(vec![
            PyValue::str(sa.ip().to_string()),
            PyValue::Int(i64::from(sa.port())),
            PyValue::Int(i64::from(sa.flowinfo())),
            PyValue::Int(i64::from(sa.scope_id())),
        ]),
        Address::Unix(p) => PyValue::str(p.to_string_lossy().into_owned()),
        Address::Abstract(n) => {
            let mut b = vec![0u8];
            b.extend_from_slice(n);
            PyValue::Bytes(b)
        }
    }
}

/// The address in a [`Token`]: the server that holds the object, as that server wrote it.
/// CPython compares token addresses exactly (a server pins a proxy passed to it only if the
/// token names its own address), so a host name is kept as written, not resolved.
///
/// ```
/// use mpshare::managers::{connection::Address, pickle::PyValue, wire::TokenAddress};
/// let v = PyValue::tuple(vec![PyValue::str("127.0.0.1"), PyValue::Int(5000)]);
/// let a = TokenAddress::from_value(&v)?;
/// assert_eq!(a, TokenAddress::Addr("127.0.0.1:5000".parse::<Address>()?));
/// assert_eq!(a.to_value(), v);
/// let named = PyValue::tuple(vec![PyValue::str("localhost"), PyValue::Int(5000)]);
/// assert_eq!(TokenAddress::from_value(&named)?.to_value(), named);
/// assert!(TokenAddress::from_value(&PyValue::Int(1)).is_err());
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenAddress {
    /// A TCP address with an IP, a Unix socket path or an abstract name (what servers write).
    Addr(Address),
    /// `(host, port)` with a host name, kept as written.
    Named {
        /// The host name.
        host: String,
        /// The port.
        port: u16,
    },
    /// `None`: a token made by hand for a server that does not look at the address.
    Unspecified,
}

impl From<Address> for TokenAddress {
    fn from(a: Address) -> TokenAddress {
        TokenAddress::Addr(a)
    }
}

impl TokenAddress {
    /// The address as CPython pickles it (see [`address_to_value`]).
    ///
    /// ```
    /// use mpshare::managers::wire::TokenAddress;
    /// assert_eq!(TokenAddress::Unspecified.to_value(), mpshare::managers::pickle::PyValue::None);
    /// ```
    pub fn to_value(&self) -> PyValue {
        match self {
            TokenAddress::Addr(a) => address_to_value(a),
            TokenAddress::Named { host, port } => PyValue::Tuple(vec![
                PyValue::str(host.clone()),
                PyValue::Int(i64::from(*port)),
            ]),
            TokenAddress::Unspecified => PyValue::None,
        }
    }

    /// Reads a token's address value; anything but `(host, port)` (or IPv6's 4-tuple), a `str`
    /// path, `bytes` (`b'\x00name'` abstract) or `None` is a protocol error.
    ///
    /// ```
    /// use mpshare::managers::{connection::Address, pickle::PyValue, wire::TokenAddress};
    /// let a = TokenAddress::from_value(&PyValue::bytes(b"\0mgr".to_vec()))?;
    /// assert_eq!(a, TokenAddress::Addr(Address::Abstract(b"mgr".to_vec())));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_value(v: &PyValue) -> Result<TokenAddress> {
        let expected = "a token address: (host, port), a socket path, b'\\x00name' or None";
        let port = |p: &PyValue| p.as_i64().and_then(|p| u16::try_from(p).ok());
        let word = |x: &PyValue| x.as_i64().and_then(|x| u32::try_from(x).ok());
        Ok(match v {
            PyValue::None => TokenAddress::Unspecified,
            PyValue::Str(path) => TokenAddress::Addr(Address::Unix(PathBuf::from(path))),
            PyValue::Bytes(b) => TokenAddress::Addr(match b.strip_prefix(b"\0") {
                Some(name) => Address::Abstract(name.to_vec()),
                None => Address::Unix(PathBuf::from(OsStr::from_bytes(b))),
            }),
            PyValue::Tuple(t) | PyValue::List(t) => match t.as_slice() {
                [PyValue::Str(host), p, rest @ ..] if rest.is_empty() || rest.len() == 2 => {
                    let port = port(p).ok_or_else(|| shape("Token", expected, v))?;
                    match (host.parse::<IpAddr>(), rest) {
                        (Ok(IpAddr::V6(ip)), [flow, scope]) => {
                            TokenAddress::Addr(Address::Tcp(SocketAddr::V6(SocketAddrV6::new(
                                ip,
                                port,
                                word(flow).unwrap_or(0),
                                word(scope).unwrap_or(0),
                            ))))
                        }
                        (Ok(ip), _) => TokenAddress::Addr(Address::Tcp(SocketAddr::new(ip, port))),
                        (Err(_), _) => TokenAddress::Named {
                            host: host.clone(),
                            port,
                        },
                    }
                }
                _ => return Err(shape("Token", expected, v)),
            },
            _ => return Err(shape("Token", expected, v)),
        })
    }
}

/// `multiprocessing.managers.Token(typeid, address, id)`.
///
/// ```
/// use mpshare::managers::wire::Token;
/// use mpshare::managers::pickle::{dumps, PyValue};
/// let t = Token::new("dict", Token::tcp_address("127.0.0.1", 50000), "7f0000001000");
/// let mut expected = b"\x80\x04cmultiprocessing.managers\nToken\n)\x81".to_vec();
/// expected.extend_from_slice(b"\x8c\x04dict\x8c\x09127.0.0.1\x4d\x50\xc3\x86\x8c\x0c7f0000001000\x87b.");
/// assert_eq!(dumps(&t.to_value())?, expected);
/// # Ok::<(), mpshare::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The typeid (`'dict'`, `'Queue'`, ...).
    pub typeid: String,
    /// The address of the server holding the object.
    pub address: TokenAddress,
    /// The object's ident.
    pub id: String,
}

impl Token {
    /// A token.
    ///
    /// ```
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::Token;
    /// let t = Token::new("list", Address::Unix("/tmp/sock".into()), "1");
    /// assert_eq!(t.typeid, "list");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn new(typeid: &str, address: impl Into<TokenAddress>, id: &str) -> Token {
        Token {
            typeid: typeid.to_string(),
            address: address.into(),
            id: id.to_string(),
        }
    }

    /// The TCP address `(host, port)`: an IP, or a host name kept as written.
    ///
    /// ```
    /// use mpshare::managers::wire::Token;
    /// assert_eq!(Token::tcp_address("127.0.0.1", 1).to_value().to_string(), "('127.0.0.1', 1)");
    /// assert_eq!(Token::tcp_address("localhost", 1).to_value().to_string(), "('localhost', 1)");
    /// ```
    pub fn tcp_address(host: &str, port: u16) -> TokenAddress {
        match host.parse::<IpAddr>() {
            Ok(ip) => TokenAddress::Addr(Address::Tcp(SocketAddr::new(ip, port))),
            Err(_) => TokenAddress::Named {
                host: host.to_string(),
                port,
            },
        }
    }

    /// CPython's form: `Token` global, `()` , `NEWOBJ`, state `(typeid, address, id)`, `BUILD`.
    ///
    /// ```
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::Token;
    /// use mpshare::managers::pickle::PyValue;
    /// let v = Token::new("dict", Address::Unix("/s".into()), "1").to_value();
    /// assert_eq!(v.to_string(), "Token(typeid='dict', address='/s', id='1')");
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn to_value(&self) -> PyValue {
        PyValue::new_obj(
            MANAGERS,
            "Token",
            PyValue::Tuple(vec![
                PyValue::str(self.typeid.clone()),
                self.address.to_value(),
                PyValue::str(self.id.clone()),
            ]),
        )
    }

    /// Parses CPython's `NEWOBJ`+`BUILD` form (or a `Token(typeid, address, id)` `REDUCE`).
    ///
    /// ```
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::Token;
    /// use mpshare::managers::pickle::PyValue;
    /// let t = Token::new("dict", Address::Unix("/s".into()), "1");
    /// assert_eq!(Token::from_value(&t.to_value())?, t);
    /// assert!(Token::from_value(&PyValue::None).is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn from_value(v: &PyValue) -> Result<Token> {
        let state: &[PyValue] = match (v.as_new_obj(), v.as_reduce()) {
            (Some((MANAGERS, "Token", PyValue::Tuple(t))), _) => t,
            (_, Some((MANAGERS, "Token", t))) => t,
            _ => return Err(shape("Token", "a multiprocessing.managers.Token", v)),
        };
        let r = Reader("Token");
        let [typeid, address, id] = r.items(
            PyValue::Tuple(state.to_vec()),
            "Token state (typeid: str, address, id: str)",
        )?;
        Ok(Token {
            typeid: r.string(typeid, "typeid")?,
            address: TokenAddress::from_value(&address)?,
            id: r.string(id, "id")?,
        })
    }
}

/// A proxy travelling as a value: `RebuildProxy(func, token, serializer, kwds)`
/// (`docs/protocol.md` §6).
///
/// ```
/// use mpshare::managers::Address;
/// use mpshare::managers::wire::{ProxyRef, Token};
/// use mpshare::managers::pickle::{PyDict, PyValue};
/// let p = ProxyRef::auto(Token::new("Queue", Address::Unix("/s".into()), "7f"),
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
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let p = ProxyRef::new("DictProxy", Token::new("dict", Address::Unix("/s".into()), "1"));
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
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let p = ProxyRef::auto(Token::new("Queue", Address::Unix("/s".into()), "1"), vec!["get".into()]);
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
    /// use mpshare::managers::wire::ProxyRef;
    /// assert!(!ProxyRef::is_proxy(&mpshare::managers::pickle::PyValue::None));
    /// ```
    pub fn is_proxy(v: &PyValue) -> bool {
        matches!(v.as_reduce(), Some((MANAGERS, "RebuildProxy", _)))
    }

    /// The `REDUCE` graph CPython sends.
    ///
    /// ```
    /// use mpshare::managers::Address;
    /// use mpshare::managers::wire::{ProxyRef, Token};
    /// use mpshare::managers::pickle::PyValue;
    /// let v = ProxyRef::new("ListProxy", Token::new("list", Address::Unix("/s".into()), "1")).to_value();
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
    /// use mpshare::managers::wire::ProxyRef;
    /// assert!(ProxyRef::from_value(&mpshare::managers::pickle::PyValue::None).is_err());
    /// ```
    pub fn from_value(v: &PyValue) -> Result<ProxyRef> {
        let [func, token, ser, kwds] = match v.as_reduce() {
            Some((MANAGERS, "RebuildProxy", [f, t, s, k])) => [f, t, s, k],
            _ => {
                return Err(shape(
                    "RebuildProxy",
                    "RebuildProxy(func, token, serializer, kwds)",
                    v,
                ))
            }
        };
        let func = match func.as_global() {
            Some((_, n)) => n.to_string(),
            None => return Err(shape("RebuildProxy", "a proxy class", func)),
        };
        Ok(ProxyRef {
            func,
            token: Token::from_value(token)?,
            serializer: ser.as_str().unwrap_or("pickle").to_string(),
            kwds: Reader("RebuildProxy").dict(kwds.clone(), "kwds")?,
        })
    }
}
