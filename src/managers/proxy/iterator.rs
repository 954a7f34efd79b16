//! `IteratorProxy`: a server-side iterator (`#PROXY` result of `__iter__`).

use super::typed_proxy;
use crate::managers::pickle::PyValue;
use crate::Result;

typed_proxy! {
    /// A server-side iterator (e.g. from [`super::DictProxy::iter`]): each `next` is one
    /// `__next__` call; `StopIteration` ends it. After an error the iterator is finished.
    ///
    /// ```
    /// # let m = mpshare::managers::client::Manager::start()?;
    /// let d = m.dict()?;
    /// d.set("a", 1)?;
    /// let keys: Vec<_> = d.iter()?.collect::<Result<_, _>>()?;
    /// assert_eq!(keys, vec!["a".into()]);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    IteratorProxy { done: bool = false }
}

impl Iterator for IteratorProxy {
    type Item = Result<PyValue>;

    fn next(&mut self) -> Option<Result<PyValue>> {
        if self.done {
            return None;
        }
        match self.call_method("__next__", vec![], vec![]) {
            Ok(v) => Some(Ok(v)),
            Err(e) if e.is_stop_iteration() => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
