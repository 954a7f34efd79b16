//! [`Manager::start`]: a manager server on a background thread of this process, like Python's
//! `multiprocessing.Manager()`.

use std::ops::Deref;
use std::path::PathBuf;

use super::auth::AuthKey;
use super::client::Manager;
use super::connection::Address;
use super::server::{Server, ServerHandle};
use crate::error::OsContext;
use crate::Result;

/// A manager whose server runs on a background thread of this process.
///
/// Derefs to the [`Manager`] client. By default the server listens on a Unix socket in a
/// private (mode 0700) temporary directory and uses a random 32-byte authkey, as Python's
/// `Manager()` does; forked children inherit the client and can use it at once. Dropping it in
/// the process that started it shuts the server down and removes the socket directory; a
/// forked child's drop does neither.
///
/// ```
/// use mpshare::managers::client::Manager;
/// let m = Manager::start()?;
/// let d = m.dict()?;
/// d.set("answer", 42)?;
/// let v: i64 = d.get_item("answer")?;
/// assert_eq!(v, 42);
/// # Ok::<(), mpshare::Error>(())
/// ```
pub struct LocalManager {
    manager: Manager,
    handle: Option<ServerHandle>,
    dir: Option<PathBuf>,
    authkey: AuthKey,
    creator: u32,
}

impl std::fmt::Debug for LocalManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalManager")
            .field("address", self.manager.address())
            .finish()
    }
}

fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd)
        .map_err(|e| std::io::Error::other(e.to_string()))
        .os_context("getrandom")?;
    let name = format!(
        "mpshare-{}-{}",
        std::process::id(),
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .os_context(format!("mkdir {}", dir.display()))?;
    Ok(dir)
}

impl Manager {
    /// Start a server on a background thread (Unix socket in a private temp dir, random
    /// authkey) and connect to it.
    ///
    /// ```
    /// let m = mpshare::managers::client::Manager::start()?;
    /// let q = m.queue(0)?;
    /// q.put(1)?;
    /// let x: i64 = q.get()?;
    /// assert_eq!(x, 1);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn start() -> Result<LocalManager> {
        let dir = private_dir()?;
        let address = Address::Unix(dir.join("manager.sock"));
        match Manager::start_at(&address, AuthKey::random()?) {
            Ok(mut m) => {
                m.dir = Some(dir);
                Ok(m)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Start a server at `address` with `authkey` on a background thread and connect to it.
    ///
    /// ```
    /// use mpshare::managers::{auth::AuthKey, client::Manager};
    /// let m = Manager::start_at(&"127.0.0.1:0".parse()?, AuthKey::from("secret"))?;
    /// assert!(m.address().to_string().starts_with("127.0.0.1:"));
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn start_at(address: &Address, authkey: AuthKey) -> Result<LocalManager> {
        let server = Server::bind(address, authkey.clone())?;
        let bound = server.address().clone();
        let handle = server.spawn()?;
        let manager = Manager::connect(&bound, authkey.clone())?;
        Ok(LocalManager {
            manager,
            handle: Some(handle),
            dir: None,
            authkey,
            creator: std::process::id(),
        })
    }
}

impl LocalManager {
    /// The authkey, to hand to other processes that should [`Manager::connect`].
    ///
    /// ```
    /// let m = mpshare::managers::client::Manager::start()?;
    /// assert_eq!(m.authkey().len(), 32);
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn authkey(&self) -> &AuthKey {
        &self.authkey
    }

    /// A plain client handle (what a forked child or another thread may keep).
    ///
    /// ```no_run
    /// let m = mpshare::managers::client::Manager::start()?;
    /// let c = m.client();
    /// c.dummy()?;
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn client(&self) -> Manager {
        self.manager.clone()
    }

    /// Stop the server now (blocked clients are woken with an error) and clean up.
    ///
    /// ```
    /// let m = mpshare::managers::client::Manager::start()?;
    /// let c = m.client();
    /// m.shutdown();
    /// assert!(c.dummy().is_err());
    /// # Ok::<(), mpshare::Error>(())
    /// ```
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if std::process::id() != self.creator {
            // A forked child: the server thread lives only in the parent.
            if let Some(h) = self.handle.take() {
                std::mem::forget(h);
            }
            return;
        }
        self.manager.close_thread_connection();
        if let Some(h) = self.handle.take() {
            h.shutdown();
            h.join();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Deref for LocalManager {
    type Target = Manager;
    fn deref(&self) -> &Manager {
        &self.manager
    }
}

impl Drop for LocalManager {
    fn drop(&mut self) {
        self.stop();
    }
}
