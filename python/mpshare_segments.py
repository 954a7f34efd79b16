"""Open mpshare segments (Value, Array, Lock, RLock) from CPython, standard library only.

Single file, nothing to install: copy it next to your script, or

    import sys; sys.path.insert(0, "/path/to/mpshare/python")
    import mpshare_segments

    seg = mpshare_segments.open_segment("prices")     # an mpshare Array<'d'> made by Rust
    with seg.get_lock() as lock:                     # the same robust lock Rust takes
        if lock.owner_died:
            print("previous holder died; data may be half-written")
        seg[0] += 1.0
    arr = seg.as_numpy()                             # zero-copy, if numpy is importable
    del arr; seg.close()

or from a shell: ``python3 mpshare_segments.py NAME`` prints what the segment holds.

What it reads: the segment header mpshare writes (layout v1, and v2 which adds a shape):

    0 magic b"MPSHARE\\0" | 8 version u32 | 12 state u32 (1 = ready) | 16 kind u32
    (1 Value, 2 Array, 3 Lock, 4 RLock, 5.. other primitives) | 20 typecode u32 (ASCII, 0 for a
    struct) | 24 element size u32 | 28 alignment u32 | 32 length u64 | 40 data offset u64 |
    48 lock kind u32 (0 none, 1 Lock, 2 RLock) | 52 creator pid u32 | 56 type hash u64 |
    64 the lock: a glibc robust, process-shared pthread_mutex_t (64 bytes reserved) |
    v2 only: 128 creator start time u64 | 136 ndim u32 | 144 shape 8 x u64 | data at offset 40

The lock is taken with glibc's own pthread_mutex_lock/unlock through ctypes, so it excludes Rust
holders and Rust holders exclude it; if a holder dies (any language) the next acquirer is told
(``owner_died``) and the mutex is made consistent again. Linux/glibc only.

Python's resource tracker: CPython 3.11-3.13 register every block they open, even one they did
not create, and unlink it when the process exits. `open_shared_memory` / `open_shareable_list`
open a block without leaving it registered (3.13: track=False; else unregistered right after
opening), so this process never unlinks a block the Rust side owns.
"""

import ctypes
import errno
import struct
import sys
import time
from multiprocessing import shared_memory

__all__ = [
    "open_shared_memory",
    "open_shareable_list",
    "open_segment",
    "Segment",
    "SegmentLock",
    "LockNotRecoverable",
    "MAGIC",
]

MAGIC = b"MPSHARE\0"
LOCK_OFFSET = 64
_HEAD = struct.Struct("=8sIIIIIIQQIIQ")  # through type hash, offsets 0..64
_KINDS = {1: "Value", 2: "Array", 3: "Lock", 4: "RLock", 5: "Semaphore",
          6: "BoundedSemaphore", 7: "Event", 8: "Condition", 9: "Barrier", 10: "Queue",
          11: "JoinableQueue", 12: "SimpleQueue"}
# typecode -> (struct/memoryview format, numpy dtype string)
_FORMATS = {"c": ("c", "S1"), "b": ("b", "i1"), "B": ("B", "u1"), "u": ("I", "U1"),
            "h": ("h", "i2"), "H": ("H", "u2"), "i": ("i", "i4"), "I": ("I", "u4"),
            "l": ("q", "i8"), "L": ("Q", "u8"), "q": ("q", "i8"), "Q": ("Q", "u8"),
            "f": ("f", "f4"), "d": ("d", "f8")}
OPEN_WAIT = 2.0  # seconds to wait for a creator to publish the header


class LockNotRecoverable(RuntimeError):
    """The lock's previous owner died and the state was never made consistent."""


def open_shared_memory(name):
    """multiprocessing.shared_memory.SharedMemory(name) that this process will not unlink."""
    name = name.lstrip("/")
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, create=False, track=False)
    shm = shared_memory.SharedMemory(name=name, create=False)
    try:
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:  # no tracker running: nothing was registered
        pass
    return shm


def open_shareable_list(name):
    """multiprocessing.shared_memory.ShareableList(name=name) that this process will not unlink
    (works for lists made by Python or by mpshare's Rust ShareableList)."""
    sl = shared_memory.ShareableList(name=name.lstrip("/"))
    try:
        from multiprocessing import resource_tracker

        resource_tracker.unregister(sl.shm._name, "shared_memory")
    except Exception:
        pass
    return sl


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = None


def _lib():
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)  # glibc: pthread_* live in libc (or are loaded)
        for fn in ("pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_unlock",
                   "pthread_mutex_consistent"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_int
        lib.pthread_mutex_timedlock.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Timespec)]
        lib.pthread_mutex_timedlock.restype = ctypes.c_int
        _libc = lib
    return _libc


class SegmentLock:
    """The robust lock in an mpshare segment header. A context manager:

        with seg.get_lock() as lock:
            if lock.owner_died: ...

    ``acquire(blocking=True, timeout=None)`` returns True/False like threading.Lock; after a
    successful acquire ``owner_died`` says whether the previous holder died holding it (the
    mutex has then been made consistent). An RLock segment's lock is re-entrant per thread.
    """

    def __init__(self, segment):
        self._segment = segment
        self._cell = ctypes.c_char.from_buffer(segment._shm.buf, LOCK_OFFSET)
        self._addr = ctypes.addressof(self._cell)
        self.recursive = segment.lock_kind == 2
        self.owner_died = False

    def _after(self, rc, what):
        lib = _lib()
        if rc == 0:
            self.owner_died = False
            return True
        if rc == errno.EOWNERDEAD:
            lib.pthread_mutex_consistent(self._addr)
            self.owner_died = True
            return True
        if rc in (errno.EBUSY, errno.ETIMEDOUT):
            return False
        if rc == errno.ENOTRECOVERABLE:
            raise LockNotRecoverable("lock is not recoverable: a previous owner died and the "
                                     "state was not made consistent")
        if rc == errno.EDEADLK:
            raise RuntimeError("deadlock avoided: this thread already holds this "
                               "non-recursive Lock")
        raise OSError(rc, "%s: %s" % (what, errno.errorcode.get(rc, rc)))

    def acquire(self, blocking=True, timeout=None):
        lib = _lib()
        if not blocking:
            return self._after(lib.pthread_mutex_trylock(self._addr), "pthread_mutex_trylock")
        if timeout is None or timeout < 0:
            return self._after(lib.pthread_mutex_lock(self._addr), "pthread_mutex_lock")
        deadline = time.time() + timeout  # pthread_mutex_timedlock takes CLOCK_REALTIME
        ts = _Timespec(int(deadline), int((deadline % 1) * 1e9))
        return self._after(lib.pthread_mutex_timedlock(self._addr, ctypes.byref(ts)),
                           "pthread_mutex_timedlock")

    def release(self):
        rc = _lib().pthread_mutex_unlock(self._addr)
        if rc == errno.EPERM:
            raise RuntimeError("cannot release un-acquired lock")
        if rc:
            raise OSError(rc, "pthread_mutex_unlock: %s" % errno.errorcode.get(rc, rc))

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def _close(self):
        self._cell = None


class Segment:
    """An mpshare segment opened by name: header fields, element access, lock, numpy view."""

    def __init__(self, name):
        self._shm = open_shared_memory(name)
        self._lock = None
        self.name = self._shm.name
        try:
            self._parse()
        except Exception:
            self._shm.close()
            raise

    def _parse(self):
        buf = self._shm.buf
        if self._shm.size < 128:
            raise ValueError("%r: %d bytes, smaller than the 128-byte mpshare header"
                             % (self.name, self._shm.size))
        start = time.monotonic()
        while True:
            (magic, version, state, kind, code, size, align, length, offset, lock, pid,
             _hash) = _HEAD.unpack_from(buf, 0)
            if magic != MAGIC and magic != b"\0" * 8:
                raise ValueError("%r is not an mpshare segment: magic %r, expected %r"
                                 % (self.name, magic, MAGIC))
            if state == 1:
                break
            if time.monotonic() - start > OPEN_WAIT:
                raise TimeoutError("%r was not initialised within %.1fs" % (self.name, OPEN_WAIT))
            time.sleep(0.001)
        if version not in (1, 2):
            raise ValueError("%r: layout version %d, this module reads versions 1 and 2"
                             % (self.name, version))
        self.version = version
        self.kind_code = kind
        self.kind = _KINDS.get(kind, "kind %d" % kind)
        self.typecode = chr(code) if code else None
        self.itemsize = size
        self.alignment = align
        self.length = length
        self.data_offset = offset
        self.lock_kind = lock
        self.creator_pid = pid
        if version >= 2:
            (ndim,) = struct.unpack_from("=I", buf, 136)
            if ndim > 8:
                raise ValueError("%r: ndim %d, expected at most 8" % (self.name, ndim))
            self.shape = tuple(struct.unpack_from("=%dQ" % ndim, buf, 144)) if ndim else ()
        else:
            self.shape = (length,) if kind == 2 else ()
        if kind in (1, 2):
            if self.typecode is not None and self.typecode not in _FORMATS:
                raise ValueError("%r: unknown typecode %r" % (self.name, self.typecode))
            end = offset + length * size
            if offset < 128 or end > self._shm.size:
                raise ValueError("%r: data %d..%d does not fit the %d-byte segment"
                                 % (self.name, offset, end, self._shm.size))

    def __repr__(self):
        return "Segment(%r, %s%s, length=%d, shape=%r, v%d)" % (
            self.name, self.kind, "<%r>" % self.typecode if self.typecode else "",
            self.length, self.shape, self.version)

    # -- element access ------------------------------------------------------------------
    def _fmt(self):
        if self.kind_code not in (1, 2):
            raise TypeError("%s segments hold no elements" % self.kind)
        if self.typecode is None:
            return None
        return _FORMATS[self.typecode][0]

    def _load(self, i):
        fmt = self._fmt()
        at = self.data_offset + i * self.itemsize
        if fmt is None:
            return bytes(self._shm.buf[at:at + self.itemsize])
        (v,) = struct.unpack_from("=" + fmt, self._shm.buf, at)
        return chr(v) if self.typecode == "u" else v

    def _store(self, i, v):
        fmt = self._fmt()
        at = self.data_offset + i * self.itemsize
        if fmt is None:
            v = bytes(v)
            if len(v) != self.itemsize:
                raise ValueError("expected %d bytes, found %d" % (self.itemsize, len(v)))
            self._shm.buf[at:at + self.itemsize] = v
            return
        struct.pack_into("=" + fmt, self._shm.buf, at, ord(v) if self.typecode == "u" else v)

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._load(j) for j in range(*i.indices(self.length))]
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError("index out of range")
        return self._load(i)

    def __setitem__(self, i, v):
        if isinstance(i, slice):
            idx = range(*i.indices(self.length))
            v = list(v)
            if len(v) != len(idx):
                raise ValueError("expected %d values, found %d" % (len(idx), len(v)))
            for j, x in zip(idx, v):
                self._store(j, x)
            return
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError("index out of range")
        self._store(i, v)

    @property
    def value(self):
        """A Value's value (element 0)."""
        return self._load(0)

    @value.setter
    def value(self, v):
        self._store(0, v)

    # -- lock ----------------------------------------------------------------------------
    def get_lock(self):
        """The segment's robust lock (Value/Array created with a lock, Lock, RLock)."""
        if self.lock_kind == 0 and self.kind_code not in (3, 4):
            raise TypeError("%r has no lock (created as a raw value/array)" % self.name)
        if self._lock is None:
            self._lock = SegmentLock(self)
        return self._lock

    # -- numpy -----------------------------------------------------------------------------
    def as_numpy(self):
        """A numpy array over the data, no copy (writes go to shared memory). Delete it before
        close(). Raises ImportError when numpy is absent."""
        import numpy as np

        if self.kind_code not in (1, 2):
            raise TypeError("%s segments hold no elements" % self.kind)
        dtype = np.dtype(_FORMATS[self.typecode][1]) if self.typecode else np.dtype(
            "V%d" % self.itemsize)
        arr = np.frombuffer(self._shm.buf, dtype=dtype, count=self.length,
                            offset=self.data_offset)
        return arr.reshape(self.shape) if self.kind_code == 2 and self.shape else arr

    def close(self):
        """Unmap (never unlinks: the creator owns the segment)."""
        if self._lock is not None:
            self._lock._close()
            self._lock = None
        self._shm.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_segment(name):
    """Open the mpshare segment `name` (with or without a leading slash)."""
    return Segment(name)


def main(argv):
    if len(argv) != 2:
        print("usage: mpshare_segments.py NAME", file=sys.stderr)
        return 2
    try:
        seg = open_segment(argv[1])
    except (OSError, ValueError, TimeoutError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    try:
        print(repr(seg))
        if seg.kind_code in (1, 2):
            print("data:", seg[:8], "..." if seg.length > 8 else "")
    finally:
        seg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
