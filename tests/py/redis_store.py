"""One client of one `mpshare serve --store redis://...` front-end, for the Redis-store tests.

The front-ends serve well-known objects (`--object NAME=TYPEID`); this client declares them
with register(NAME) as CPython's "Using a remote manager" documentation does:
    shared_dict=dict  shared_queue=Queue  shared_lock=Lock  counter=dict  lock=Lock

Roles (argv[1:]):
  write TAG       shared_dict gets the values of TAG; shared_queue gets one item for TAG
  read TAG        shared_dict holds exactly those values; shared_queue.get() is TAG's item
  hold            acquires shared_lock, prints ACQUIRED, then waits for a line on stdin:
                  "release" releases the lock and finishes; end of input exits holding it
  try-lock        shared_lock.acquire(timeout=0.2) returns False after about 0.2 s
  lock SECONDS    shared_lock.acquire(timeout=SECONDS) returns True; prints took=S (the
                  acquire's duration), then releases it
  count N         N times: with lock: counter['n'] = counter.get('n', 0) + 1
  check N         counter['n'] == N

MPSHARE_ADDR is host:port, MPSHARE_KEY the authkey. Prints OK last on success.
"""
import multiprocessing
import os
import sys
import time
from multiprocessing.managers import AcquirerProxy, BaseManager, DictProxy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpcommon import address, authkey, check  # noqa: E402


class StoreManager(BaseManager):
    pass


StoreManager.register("shared_dict", proxytype=DictProxy)
StoreManager.register("shared_queue")  # AutoProxy, as in the documentation
StoreManager.register("shared_lock", proxytype=AcquirerProxy)
StoreManager.register("counter", proxytype=DictProxy)
StoreManager.register("lock", proxytype=AcquirerProxy)


def connect():
    multiprocessing.current_process().authkey = authkey()
    m = StoreManager(address=address(), authkey=authkey())
    m.connect()
    return m


def values(tag):
    """What `write TAG` stores: a spread of picklable builtins, keyed by TAG."""
    return {
        f"{tag}:int": 42,
        f"{tag}:big": 2**100 + 7,
        f"{tag}:neg": -17,
        f"{tag}:float": 3.25,
        f"{tag}:str": f"h\u00e9llo {tag} \u2603",
        f"{tag}:bytes": bytes(range(256)),
        f"{tag}:none": None,
        f"{tag}:bools": [True, False],
        f"{tag}:tuple": (1, "two", 3.0, (4,)),
        f"{tag}:list": [1, [2, [3, []]], {"k": "v"}],
        f"{tag}:dict": {"a": 1, "b": [1, 2], "c": {"d": None}},
        f"{tag}:set": {1, 2, 3},
    }


def item(tag):
    return ("item", tag, [1, 2, 3], {"x": b"\x00\xff"})


def main():
    role, args = sys.argv[1], sys.argv[2:]
    m = connect()
    if role == "write":
        tag = args[0]
        d = m.shared_dict()
        d.update(values(tag))
        m.shared_queue().put(item(tag))
    elif role == "read":
        tag = args[0]
        d = m.shared_dict()
        for k, v in values(tag).items():
            got = d.get(k, "<missing>")
            check(got == v and type(got) is type(v), f"{k}: {got!r}, expected {v!r}")
        got = m.shared_queue().get(timeout=10)
        check(got == item(tag), f"queue item {got!r}, expected {item(tag)!r}")
    elif role == "hold":
        lock = m.shared_lock()
        check(lock.acquire(timeout=10), "hold: acquire(timeout=10) returned False")
        print("ACQUIRED", flush=True)
        line = sys.stdin.readline().strip()
        if line != "release":
            print("exiting with the lock held", flush=True)
            os._exit(0)
        lock.release()
    elif role == "try-lock":
        lock = m.shared_lock()
        t0 = time.monotonic()
        got = lock.acquire(timeout=0.2)
        took = time.monotonic() - t0
        check(got is False, f"acquire(timeout=0.2) on a held lock returned {got!r}")
        check(0.15 <= took < 5, f"acquire(timeout=0.2) took {took:.3f} s")
    elif role == "lock":
        limit = float(args[0])
        lock = m.shared_lock()
        t0 = time.monotonic()
        got = lock.acquire(timeout=limit)
        took = time.monotonic() - t0
        print(f"took={took:.3f}", flush=True)
        check(got is True, f"acquire(timeout={limit}) returned {got!r} after {took:.3f} s")
        lock.release()
    elif role == "count":
        n = int(args[0])
        d = m.counter()
        lock = m.lock()
        for _ in range(n):
            with lock:
                d["n"] = d.get("n", 0) + 1
    elif role == "check":
        n = int(args[0])
        got = m.counter().get("n")
        check(got == n, f"counter['n'] = {got!r}, expected {n}")
    else:
        raise SystemExit(f"unknown role {role}")
    print("OK", flush=True)


if __name__ == "__main__":
    main()
