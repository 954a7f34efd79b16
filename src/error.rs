//! The one error type of the crate.
//!
//! Every fallible operation in mpshare returns [`Result<T>`](crate::Result), whose error is
//! [`Error`]. Variants are meant to be matched: each names what was expected and what was found.

use std::time::Duration;

/// Everything that can go wrong in mpshare.
///
/// ```
/// use mpshare::{Error, TypeCode};
/// let err = TypeCode::try_from('x').unwrap_err();
/// assert!(matches!(err, Error::InvalidTypeCode { found: 'x' }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Os {
        /// What mpshare was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A plain I/O error (sockets, files).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A typecode that is not one of Python's ctypes codes.
    #[error("invalid typecode {found:?}: expected one of 'c' 'b' 'B' 'u' 'h' 'H' 'i' 'I' 'l' 'L' 'q' 'Q' 'f' 'd'")]
    InvalidTypeCode {
        /// The character given.
        found: char,
    },
    /// A value that does not fit the element type (300 into `'b'`).
    #[error("value {value} out of range for typecode '{typecode}': expected {expected}")]
    ValueOutOfRange {
        /// The typecode of the cell.
        typecode: char,
        /// The value given, as text.
        value: String,
        /// What the cell accepts.
        expected: String,
    },
    /// A value of the wrong kind for a typecode (a float into `'i'`).
    #[error("wrong value kind for typecode '{typecode}': expected {expected}, found {found}")]
    WrongValueKind {
        /// The typecode of the cell.
        typecode: char,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// An index past the end of an array.
    #[error("index {index} out of range for array of length {len}")]
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// A range that does not fit an array (`a[i:j]` with `j > len` or `i > j`).
    #[error("range {start}..{end} out of bounds for array of length {len}")]
    RangeOutOfBounds {
        /// Start of the range.
        start: usize,
        /// End of the range.
        end: usize,
        /// The array's length.
        len: usize,
    },
    /// A slice whose length does not match what it is copied into.
    #[error("length mismatch: expected {expected} elements, found {found}")]
    LengthMismatch {
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// An array too large for any segment (its byte size would overflow `isize`).
    #[error(
        "an array of {len} elements of {elem_size} bytes is too large: at most {max} elements fit"
    )]
    TooLarge {
        /// The length asked for.
        len: usize,
        /// Size of one element in bytes.
        elem_size: usize,
        /// The largest length that fits.
        max: usize,
    },
    /// Bytes that do not fit a `'c'` array (`a.value = b"..."` longer than the array).
    #[error("{found} bytes do not fit a char array of {capacity} elements")]
    TooLong {
        /// The array's length.
        capacity: usize,
        /// The number of bytes given.
        found: usize,
    },
    /// A shape that cannot describe the array (product differs from the length, 0 or more
    /// than [`MAX_NDIM`](crate::shm::MAX_NDIM) dimensions).
    #[error("invalid shape {shape:?}: {reason}")]
    InvalidShape {
        /// The shape given.
        shape: Vec<usize>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An element type that claims a typecode but does not have its size.
    #[error("element type {type_name} claims typecode '{typecode}' of {expected} bytes but is {found} bytes")]
    ElementLayout {
        /// The Rust type.
        type_name: &'static str,
        /// The typecode it claims.
        typecode: char,
        /// The typecode's size.
        expected: usize,
        /// The type's size.
        found: usize,
    },
    /// A segment name that cannot be used.
    #[error("invalid segment name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// `create` found a segment of that name already.
    #[error("segment {name:?} already exists")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// `open` found no segment of that name.
    #[error("segment {name:?} not found")]
    NotFound {
        /// The name.
        name: String,
    },
    /// `open` found a segment that holds something else than what was asked for.
    #[error("segment {name:?} holds {holds}; asked for {asked}")]
    LayoutMismatch {
        /// The name.
        name: String,
        /// What the segment holds, e.g. `Array<'d'> of 100 elements`.
        holds: String,
        /// What the caller asked for.
        asked: String,
    },
    /// `open` found a segment that is not an mpshare segment or is damaged.
    #[error("segment {name:?} is not a valid mpshare segment: {reason}")]
    BadSegment {
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The creator of a named segment did not finish initialising it in time.
    #[error("segment {name:?} was not initialised within {waited:?} (creator still busy or died)")]
    NotInitialized {
        /// The name.
        name: String,
        /// How long `open` waited.
        waited: Duration,
    },
    /// `release` of a lock the caller does not hold.
    #[error("cannot release a lock that this thread does not hold")]
    NotOwner,
    /// A non-recursive `Lock` acquired again by the thread that holds it.
    #[error("deadlock avoided: this thread already holds this non-recursive Lock (use RLock to re-enter)")]
    WouldDeadlock,
    /// A robust lock whose state could not be recovered.
    #[error(
        "lock is not recoverable: a previous owner died and the state was not made consistent"
    )]
    LockNotRecoverable,
    /// This thread already holds a guard on this array (through this handle or any other
    /// handle of the same segment).
    #[error(
        "this thread already holds a guard on this array: use that guard instead of locking again"
    )]
    GuardAlreadyHeld,
    /// An explicit `release` of the lock level a live `ArrayGuard` of this thread holds: the
    /// guard's `&mut [T]` would stay alive without the lock. Drop the guard instead.
    #[error(
        "cannot release a lock that a live ArrayGuard of this thread holds: drop the guard instead"
    )]
    ReleaseUnderGuard,
    /// RLock recursion count overflow.
    #[error("lock recursion limit reached")]
    RecursionLimit,
    /// The feature is not available on this platform.
    #[error("unsupported on this platform: {0}")]
    Unsupported(&'static str),
    /// An operation did not complete in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A peer broke the wire protocol: which way is a [`ProtocolError`].
    #[error("protocol error: {0}")]
    Protocol(ProtocolError),
    /// A frame larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Announced length.
        len: u64,
        /// Configured maximum.
        max: u64,
    },
    /// The authkey handshake failed: why is an [`AuthError`].
    #[error("authentication failed: {0}")]
    Authentication(AuthError),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    ConnectionClosed,
    /// A pickle could not be decoded or encoded: why is a [`PickleError`].
    #[error("pickle error: {0}")]
    Pickle(PickleError),
    /// Converting between Rust types and the pickle value model failed.
    #[error("conversion error: {0}")]
    Conversion(String),
    /// The remote side raised a Python exception (`#ERROR` reply).
    #[error("remote {class}: {message}")]
    Remote {
        /// Qualified exception class, e.g. `builtins.KeyError` or `_queue.Empty`.
        class: String,
        /// The exception's message (its args rendered as Python would).
        message: String,
    },
    /// The remote side failed outside the method call (`#TRACEBACK` or `#UNSERIALIZABLE`).
    #[error("remote error:\n{0}")]
    RemoteTraceback(String),
    /// An address that cannot be parsed, resolved or bound as asked.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    // ---- Manager (feature "manager"; added with the managers/ layout) ----
    /// A proxy used with a manager client it does not belong to (e.g. queued in another
    /// client's pipeline).
    #[error("proxy {ident} belongs to another manager client")]
    ForeignProxy {
        /// The proxy's object ident.
        ident: String,
    },
    /// An authkey given as text that is not one (`AuthKey::from_hex`).
    #[error("invalid authkey: expected {expected}, found {found}")]
    InvalidAuthKey {
        /// What the text must be.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    // ---- shared_memory (issue 12): raw blocks and ShareableList ----
    /// A size that a shared-memory block cannot have (Python refuses `size=0` on create too).
    #[error("invalid size {found} for a shared-memory block: expected {expected}")]
    InvalidSize {
        /// What a valid size is.
        expected: &'static str,
        /// The size given.
        found: usize,
    },
    /// A byte range that does not lie inside a shared-memory block.
    #[error("{len} bytes at offset {offset} out of bounds: expected offset + length <= the block size {size}")]
    BlockOutOfBounds {
        /// Start of the range.
        offset: usize,
        /// Length of the range.
        len: usize,
        /// The block's size.
        size: usize,
    },
    /// An offset that is not aligned for the atomic or typed view asked for.
    #[error("offset {offset} is misaligned: expected a multiple of {expected}")]
    Misaligned {
        /// The offset given.
        offset: usize,
        /// The alignment required.
        expected: usize,
    },
    /// A `str`/`bytes` item that does not fit the storage a ShareableList allotted to its slot
    /// (Python: `ValueError: bytes/str item exceeds available storage`).
    #[error("ShareableList item {index} too large: expected <= {expected} bytes, found {found}")]
    ShareableListItemTooLarge {
        /// The item's position.
        index: usize,
        /// Bytes allotted to the slot.
        expected: usize,
        /// Encoded length of the new value.
        found: usize,
    },
    /// A value a ShareableList cannot store (a `str`/`bytes` item so long its struct format
    /// needs more than 8 characters, which Python cannot store either).
    #[error("ShareableList cannot store item {index}: {reason}")]
    ShareableListUnsupported {
        /// The item's position.
        index: usize,
        /// Why.
        reason: String,
    },
    // ---- Processes and pools (`crate::process`, issue 13) ----
    /// `fork` refused: this process has other threads, which the child would not have.
    #[error(
        "fork refused: this process has {threads} threads, expected 1 (a forked child gets only \
         the calling thread and may deadlock on locks the others held; use Process::spawn, or \
         the unsafe *_unchecked opt-in)"
    )]
    ForkWithThreads {
        /// Threads found.
        threads: usize,
    },
    /// A process or pool used in the wrong state (started twice, joined before start, closed).
    #[error("process state: expected {expected}, found {found}")]
    ProcessState {
        /// The state the call needs.
        expected: &'static str,
        /// The state found.
        found: &'static str,
    },
    /// A child process ended with a non-zero exit code or a signal.
    #[error("process {pid} failed: {reason}")]
    ProcessFailed {
        /// The child's pid.
        pid: u32,
        /// Python's `exitcode`: the exit code, or minus the signal number.
        exitcode: i32,
        /// How it ended, with the panic message or error it reported.
        reason: String,
    },
    /// A spawned child did not reach its entry.
    #[error("spawn of entry {entry:?} failed: {reason}")]
    SpawnFailed {
        /// The entry's name.
        entry: String,
        /// What happened.
        reason: String,
    },
    /// A handle or key that cannot cross into a spawned child.
    #[error("handover of {what} failed: {reason}")]
    HandoverFailed {
        /// The handle or key.
        what: String,
        /// Why.
        reason: String,
    },
    /// A pool task panicked or returned an error.
    #[error("task {task} {}: {message}", if *panicked { "panicked" } else { "failed" })]
    TaskFailed {
        /// The task's index.
        task: usize,
        /// True for a panic, false for a returned error.
        panicked: bool,
        /// The panic message or the error's text.
        message: String,
    },
    /// The pool worker running a task died before finishing it.
    #[error("task {task} lost: its worker {pid} {how}")]
    WorkerDied {
        /// The task's index.
        task: usize,
        /// The worker's pid.
        pid: u32,
        /// How the worker ended, e.g. `killed by SIGKILL`.
        how: String,
    },
    /// A pool task that no worker ran, because every worker died first.
    #[error("task {task} not run: every pool worker died before reaching it")]
    TaskNotRun {
        /// The task's index.
        task: usize,
    },
    // ---- end of the process block ----
    // --- Coordination primitives and queues (issue 11: synchronize/{semaphore,event,condition,
    // barrier}.rs, queues/) ---
    /// A semaphore released more often than acquired: a [`BoundedSemaphore`](crate::BoundedSemaphore)
    /// above its initial value (Python's `ValueError`), or any semaphore above `max`.
    #[error("semaphore released too many times: value would exceed {max}")]
    SemaphoreOverRelease {
        /// The largest value the semaphore may hold.
        max: u32,
    },
    /// `release` of an owner-tracked semaphore by a process that holds none of its permits.
    #[error("this process holds no permit of this owner-tracked semaphore")]
    NotPermitHolder,
    /// More processes hold permits of an owner-tracked semaphore than it has slots for.
    #[error("owner-tracked semaphore full: {slots} processes already hold permits")]
    TooManyHolders {
        /// Slots in the semaphore.
        slots: usize,
    },
    /// The barrier is broken (Python's `BrokenBarrierError`): aborted, reset while waiting,
    /// timed out, or a party died.
    #[error("broken barrier: {reason}")]
    BrokenBarrier {
        /// Why: `"aborted"`, `"reset while waiting"`, `"timed out"`, `"a party died"`, or
        /// broken before this call.
        reason: &'static str,
    },
    /// `put` on a queue this handle closed (Python's `ValueError: Queue is closed`).
    #[error("queue is closed")]
    QueueClosed,
    /// `get_nowait` / a timed-out `get` found no message (Python's `queue.Empty`).
    #[error("queue is empty")]
    QueueEmpty,
    /// `put_nowait` / a timed-out `put` found no room (Python's `queue.Full`).
    #[error("queue is full")]
    QueueFull,
    /// A message that can never fit the queue's ring.
    #[error("message of {len} bytes cannot fit a queue of {capacity} bytes (largest message: {max} bytes)")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The queue's ring size.
        capacity: usize,
        /// The largest message this queue accepts.
        max: usize,
    },
    /// `task_done` called more times than items were put (Python's `ValueError`).
    #[error("task_done() called too many times")]
    TaskDoneTooManyTimes,
    /// `JoinableQueue::join` finished, but `count` tasks were taken with `get` by consumer
    /// processes that died before marking them done: those tasks were not processed.
    #[error("{count} task(s) lost: taken by a consumer process that died before task_done()")]
    TasksLost {
        /// Tasks lost since this handle last reported a loss.
        count: u64,
    },
    /// An argument outside what the primitive supports (e.g. `Barrier::new(0)`).
    #[error("invalid argument {what}: expected {expected}, found {found}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// What is accepted.
        expected: String,
        /// What was given.
        found: String,
    },
    // ---- Manager parity (shared objects by name, server configuration files) ----
    /// A shared object (`Registry::share`, `mpshare serve --object`) of a typeid the server does
    /// not know or cannot create without arguments.
    #[error("cannot share {name:?} as {typeid:?}: {reason}")]
    Share {
        /// The name clients call (`m.NAME()`).
        name: String,
        /// The typeid asked for.
        typeid: String,
        /// Why not (unknown typeid and the known ones, or the creation error).
        reason: String,
    },
    /// The manager server's object store (`mpshare serve --store redis://…`) cannot be used:
    /// unreachable, a bad URL, or a bad setting.
    #[error("store {url}: {reason}")]
    Store {
        /// The store's URL(s).
        url: String,
        /// What failed, with what was expected.
        reason: String,
    },
    /// A server configuration file (`mpshare serve --config`) that cannot be used.
    #[error("configuration {path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong, with the expected form.
        reason: String,
    },
}

impl Error {
    /// Wrap the last OS error (`errno`) with what mpshare was doing.
    ///
    /// ```
    /// let e = mpshare::Error::last_os("shm_open(\"/x\")");
    /// assert!(e.to_string().starts_with("shm_open"));
    /// ```
    pub fn last_os(context: impl Into<String>) -> Self {
        Error::Os {
            context: context.into(),
            source: std::io::Error::last_os_error(),
        }
    }

    /// Wrap an errno value with what mpshare was doing.
    ///
    /// ```
    /// let e = mpshare::Error::os(libc::EINVAL, "mmap");
    /// assert!(e.to_string().contains("mmap"));
    /// ```
    pub fn os(errno: i32, context: impl Into<String>) -> Self {
        Error::Os {
            context: context.into(),
            source: std::io::Error::from_raw_os_error(errno),
        }
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Io(std::io::Error::from(e))
    }
}

/// `Result` with [`Error`].
/// ```
/// fn half(x: u32) -> mpshare::Result<u32> { Ok(x / 2) }
/// assert_eq!(half(4).unwrap(), 2);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What mpshare was doing when an OS-level call failed: turns an `io::Result` or `nix::Result`
/// into a [`Result`] whose error is [`Error::Os`] with that context.
#[cfg_attr(not(feature = "manager"), allow(dead_code))] // the core does not use it yet
pub(crate) trait OsContext<T> {
    /// Wrap the error with `context`, e.g. `"setsockopt(SO_RCVTIMEO)"`.
    fn os_context(self, context: impl Into<String>) -> Result<T>;
}

impl<T> OsContext<T> for std::io::Result<T> {
    fn os_context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Os {
            context: context.into(),
            source,
        })
    }
}

impl<T> OsContext<T> for nix::Result<T> {
    fn os_context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::os(e as i32, context))
    }
}

/// How a peer broke the manager's wire protocol ([`Error::Protocol`]).
///
/// ```
/// use mpshare::error::ProtocolError;
/// let e = ProtocolError::Shape {
///     what: "reply".into(),
///     expected: "a 2-tuple (kind, result)".into(),
///     found: "int 1".into(),
/// };
/// assert_eq!(e.to_string(), "reply: expected a 2-tuple (kind, result), found int 1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header with a negative length other than the `-1` escape.
    #[error("bad frame header: expected a length 0..=2147483647 or the -1 escape, found {found}")]
    BadFrameHeader {
        /// The length read.
        found: i32,
    },
    /// The peer closed the connection inside a frame.
    #[error("connection closed mid-frame: expected {expected} {part} bytes, got {got}")]
    ClosedMidFrame {
        /// `"header"` or `"payload"`.
        part: &'static str,
        /// Bytes the frame needed.
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The connection was reset inside a frame.
    #[error("connection reset mid-frame: {detail}")]
    ResetMidFrame {
        /// The OS error.
        detail: String,
    },
    /// The connection is out of step after an earlier framing error or a timeout inside a frame.
    #[error("connection unusable after an earlier error: {cause}")]
    Unusable {
        /// The earlier error.
        cause: String,
    },
    /// A message or result of the wrong shape: a request, reply, token or proxy reference, or a
    /// method result that is not what the method returns.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// What was being read (`"request"`, `"reply #PROXY"`, `"create"`, `"__repr__"`).
        what: String,
        /// What was expected.
        expected: String,
        /// What arrived (type and a short rendering).
        found: String,
    },
    /// A proxy call answered with a proxy where a value was asked for, or the other way round.
    #[error("{method}(): expected {expected}, found {found}")]
    UnexpectedReply {
        /// The method called.
        method: String,
        /// `"a value"` or `"a #PROXY reply"`.
        expected: &'static str,
        /// What came back.
        found: String,
    },
    /// A pipelined call whose reply never came (the connection failed before it).
    #[error("pipeline: no reply for call {index}")]
    MissingReply {
        /// The call's position in the pipeline.
        index: usize,
    },
}

/// Why the authkey handshake failed ([`Error::Authentication`]).
///
/// ```
/// use mpshare::error::AuthError;
/// assert!(AuthError::PeerRejected.to_string().contains("#FAILURE#"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Our challenge was answered with a digest our key does not give: the peer has another
    /// authkey (we sent `#FAILURE#`).
    #[error("digest sent was rejected: the peer's {reply_len}-byte reply to our challenge does not match our authkey (wrong authkey?)")]
    DigestRejected {
        /// Length of the peer's reply.
        reply_len: usize,
    },
    /// The peer answered our digest with `#FAILURE#`: it has another authkey.
    #[error("the peer rejected our digest: expected #WELCOME#, found #FAILURE# (wrong authkey?)")]
    PeerRejected,
    /// The peer answered our digest with something else than `#WELCOME#` or `#FAILURE#`.
    #[error("the peer did not accept our digest: expected #WELCOME#, found {found}")]
    UnexpectedVerdict {
        /// The start of what arrived.
        found: String,
    },
    /// The peer's first message was not a `#CHALLENGE#`.
    #[error("expected a #CHALLENGE# message, found {found}")]
    NotAChallenge {
        /// The start of what arrived.
        found: String,
    },
    /// A challenge body we cannot answer (too short, or an unknown `{digest}` prefix).
    #[error("unsupported challenge: expected {expected}, found {found}")]
    UnsupportedChallenge {
        /// What an answerable challenge looks like.
        expected: &'static str,
        /// What arrived.
        found: String,
    },
}

/// Why a pickle could not be decoded or encoded ([`Error::Pickle`]).
///
/// ```
/// use mpshare::error::PickleError;
/// let e = PickleError::UnknownOpcode { op: 0xff, offset: 2 };
/// assert_eq!(e.to_string(), "unknown opcode 0xff at offset 2");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The input ends inside the pickle.
    #[error("truncated pickle: {detail}")]
    Truncated {
        /// What was missing, and where.
        detail: String,
    },
    /// An opcode that the stack, the marks or its argument do not allow here (stack underflow,
    /// no `MARK`, a target that is not a container, a negative length, ...).
    #[error("{problem} at opcode {opcode} (0x{op:02x}) at offset {offset}")]
    Misuse {
        /// What is wrong.
        problem: &'static str,
        /// The opcode's name.
        opcode: &'static str,
        /// The opcode byte.
        op: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// A memo read of a key never stored.
    #[error("memo key {key} not found at opcode {opcode} at offset {offset} (memo has {memo_len} entries)")]
    MissingMemo {
        /// The key read.
        key: u64,
        /// The opcode's name.
        opcode: &'static str,
        /// Its offset in the input.
        offset: usize,
        /// Entries in the memo.
        memo_len: usize,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown opcode 0x{op:02x} at offset {offset}")]
    UnknownOpcode {
        /// The byte.
        op: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// An opcode we refuse: persistent ids, the extension registry, out-of-band buffers.
    #[error("unsupported opcode {opcode} (0x{op:02x}) at offset {offset}: persistent ids, extension registry and out-of-band buffers are not supported")]
    UnsupportedOpcode {
        /// The opcode's name.
        opcode: &'static str,
        /// The opcode byte.
        op: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// A protocol number outside what the decoder (0..=5) or the encoder (2..=4) handles.
    #[error("unsupported pickle protocol {found}: expected {expected}")]
    UnsupportedProtocol {
        /// The protocol asked for or found.
        found: u8,
        /// What is supported.
        expected: &'static str,
    },
    /// A resource limit of the decoder (`managers::pickle::Limits`) or the encoder's depth.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What grew too large (`"nesting depth"`, `"memo entries"`, ...).
        what: String,
        /// The limit.
        limit: usize,
    },
    /// An argument or payload that is not what its opcode says (bad UTF-8, a bad literal, an
    /// unhashable dict key, a self-referencing structure, ...).
    #[error("{detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
    /// A value the encoder cannot write.
    #[error("cannot encode: {detail}")]
    Unencodable {
        /// What is wrong.
        detail: String,
    },
}
