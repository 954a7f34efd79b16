"""Shared helpers for the scenario scripts: connect to the server named by the environment.

MPSHARE_ADDR is "HOST:PORT", a Unix socket path or "@abstract-name"; MPSHARE_KEY is the authkey.
"""
import multiprocessing
import os
import sys
from multiprocessing.managers import SyncManager


def address():
    a = os.environ["MPSHARE_ADDR"]
    if a.startswith("/"):
        return a
    if a.startswith("@"):
        return "\0" + a[1:]  # Linux abstract namespace
    host, port = a.rsplit(":", 1)
    return (host, int(port))


def authkey():
    return os.environ["MPSHARE_KEY"].encode()


def connect(cls=SyncManager):
    # Proxies unpickled or re-created in children authenticate with the process authkey.
    multiprocessing.current_process().authkey = authkey()
    m = cls(address=address(), authkey=authkey())
    m.connect()
    return m


def check(cond, what):
    if not cond:
        print("FAILED:", what, file=sys.stderr)
        sys.exit(1)


def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    print("FAILED: expected", exc.__name__, "from", fn, args, kwargs, file=sys.stderr)
    sys.exit(1)


def bounded(lo, hi, what, fn, *args, **kwargs):
    """Runs fn and checks it took at least lo and less than hi seconds (a timeout that fired
    early or a call that hung and later recovered both fail); returns its result."""
    import time
    t0 = time.monotonic()
    r = fn(*args, **kwargs)
    took = time.monotonic() - t0
    check(lo <= took < hi, "%s took %.3f s, expected %.2f..%.2f s" % (what, took, lo, hi))
    return r
