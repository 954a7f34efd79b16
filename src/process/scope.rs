//! [`scope`]: forked workers that borrow from the parent, joined before the scope returns.

use std::cell::RefCell;
use std::marker::PhantomData;

use super::child::{fork_child, run_caught, IntoExit};
use super::process::{started_fork, Process};
use crate::Result;

/// Forked workers that may borrow from the caller, as `std::thread::scope` does for threads:
/// every worker started with [`Scope::fork`] is joined before `scope` returns, so a `&mut`
/// chunk moved into one worker is out of the parent's reach until that worker has ended.
///
/// This is how each worker gets `&mut [T]` to its own chunk of a shared array in safe code:
/// split the slice of an [`ArrayGuard`](crate::ArrayGuard) (the lock is held for the whole
/// scope, so other processes that go through the lock wait) with `chunks_mut`, and move one
/// chunk into each worker. The workers write the shared memory itself; the parent sees the
/// result after the scope. (A chunk of private memory, such as a `Vec`, is copied by `fork`:
/// the parent would not see the workers' writes.)
///
/// Returns the closure's value once all workers have ended; if one failed (non-zero exit,
/// panic, signal), [`Error::ProcessFailed`](crate::Error::ProcessFailed) for the first that failed. A panic in the closure
/// is propagated after the workers have been joined.
///
/// ```
/// use mpshare::{process, Array};
/// let a = Array::<f64>::new(1000)?;
/// {
///     let mut guard = a.lock()?;
///     process::scope(|s| {
///         for (w, chunk) in guard.chunks_mut(250).enumerate() {
///             s.fork(move || chunk.fill(w as f64))?; // each worker owns its chunk
///         }
///         Ok::<_, mpshare::Error>(())
///     })??;
/// }
/// assert_eq!(a.get(999)?, 3.0);
/// assert_eq!(a.lock()?.iter().sum::<f64>(), 250.0 * (0.0 + 1.0 + 2.0 + 3.0));
/// # Ok::<(), mpshare::Error>(())
/// ```
pub fn scope<'env, F, T>(f: F) -> Result<T>
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let s = Scope {
        children: RefCell::new(Vec::new()),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&s)));
    // Join every worker before anything borrowed is handed back.
    let mut first_failure = None;
    for p in s.children.borrow_mut().iter_mut() {
        if let Err(e) = p.join_checked() {
            first_failure.get_or_insert(e);
        }
    }
    match out {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(v) => match first_failure {
            Some(e) => Err(e),
            None => Ok(v),
        },
    }
}

/// The scope of [`scope`]: starts forked workers that may borrow for `'scope`.
pub struct Scope<'scope, 'env: 'scope> {
    children: RefCell<Vec<Process>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("workers", &self.children.borrow().len())
            .finish()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Fork a worker running `f`; returns its pid. It is joined when the scope ends.
    ///
    /// # Errors
    /// [`Error::ForkWithThreads`](crate::Error::ForkWithThreads) when this process has other threads (see
    /// [`fork_unchecked`](Scope::fork_unchecked)).
    ///
    /// ```
    /// let mut seen = 0;
    /// mpshare::process::scope(|s| {
    ///     let pid = s.fork(|| { seen += 1; })?; // the worker changes its own copy
    ///     assert_ne!(pid, std::process::id());
    ///     Ok::<_, mpshare::Error>(())
    /// })??;
    /// assert_eq!(seen, 0); // private memory is not shared
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn fork<F, R>(&'scope self, f: F) -> Result<u32>
    where
        F: FnOnce() -> R + 'scope,
        R: IntoExit,
    {
        super::check_single_threaded()?;
        // SAFETY: single-threaded (checked above).
        unsafe { self.fork_unchecked(f) }
    }

    /// [`fork`](Scope::fork) without the single-thread check.
    ///
    /// # Safety
    /// As for [`Process::start_unchecked`](super::Process::start_unchecked).
    ///
    /// ```
    /// mpshare::process::scope(|s| {
    ///     // SAFETY: the doctest is single-threaded.
    ///     unsafe { s.fork_unchecked(|| 0) }
    /// })??;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub unsafe fn fork_unchecked<F, R>(&'scope self, f: F) -> Result<u32>
    where
        F: FnOnce() -> R + 'scope,
        R: IntoExit,
    {
        // SAFETY: forwarded contract.
        let (pid, rd) = unsafe { fork_child(move || run_caught(f)) }?;
        let p = started_fork(pid, rd)?;
        self.children.borrow_mut().push(p);
        Ok(pid)
    }

    /// Number of workers started so far.
    ///
    /// ```
    /// let n = mpshare::process::scope(|s| { let _ = s.fork(|| ()); s.workers() })?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.children.borrow().len()
    }
}
