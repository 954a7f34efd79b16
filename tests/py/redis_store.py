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
  typeids PHASE   the other named typeids, in three phases run alternately through front-ends A
                  (1, 3) and B (2): list, Namespace, Event, Semaphore, BoundedSemaphore, RLock,
                  JoinableQueue (served as shared_list, ns, event, sem, bsem, rlock, jq);
                  phase 2 also connects to A (MPSHARE_ADDR_A) to see B's holds refused there
  cond-wait       cond.wait_for(lambda: ns.ready, timeout=10) is True (prints took=S)
  cond-notify     with cond: ns.ready = True; cond.notify_all()

MPSHARE_ADDR is host:port, MPSHARE_KEY the authkey. Prints OK last on success.
"""
import multiprocessing
import os
import sys
import time
from multiprocessing.managers import (AcquirerProxy, BaseManager, ConditionProxy, DictProxy,
                                     EventProxy, ListProxy, NamespaceProxy)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpcommon import address, authkey, check  # noqa: E402


class StoreManager(BaseManager):
    pass


StoreManager.register("shared_dict", proxytype=DictProxy)
StoreManager.register("shared_queue")  # AutoProxy, as in the documentation
StoreManager.register("shared_lock", proxytype=AcquirerProxy)
StoreManager.register("counter", proxytype=DictProxy)
StoreManager.register("lock", proxytype=AcquirerProxy)
StoreManager.register("shared_list", proxytype=ListProxy)
StoreManager.register("ns", proxytype=NamespaceProxy)
StoreManager.register("event", proxytype=EventProxy)
StoreManager.register("sem", proxytype=AcquirerProxy)
StoreManager.register("bsem", proxytype=AcquirerProxy)
StoreManager.register("rlock", proxytype=AcquirerProxy)
StoreManager.register("cond", proxytype=ConditionProxy)
StoreManager.register("jq")  # AutoProxy


def typeids(m, phase):
    lst, ns, event = m.shared_list(), m.ns(), m.event()
    sem, bsem, rlock, jq = m.sem(), m.bsem(), m.rlock(), m.jq()
    if phase == 1:  # through A
        lst.extend([1, "two", (3,)])
        ns.x = 5
        ns.name = "from A"
        event.set()
        jq.put("job-1")
        jq.put("job-2")
    elif phase == 2:  # through B
        check(lst[:] == [1, "two", (3,)], f"list through B: {lst[:]!r}")
        lst.append("from B")
        check((ns.x, ns.name) == (5, "from A"), f"Namespace through B: {ns!r}")
        ns.x = 6
        check(event.is_set() and event.wait(0.1), "event set through A is set through B")
        event.clear()
        # Held through B (this connection stays open: mpshare gives back what a closed
        # connection holds), refused through A (MPSHARE_ADDR_A: a second connection).
        other = connect(os.environ["MPSHARE_ADDR_A"])
        for name in ("sem", "bsem", "rlock"):
            here, there = getattr(m, name)(), getattr(other, name)()
            check(here.acquire(timeout=1), f"{name}: acquire through B")
            if name == "rlock":
                check(here.acquire(timeout=1), "rlock: acquired again through B (reentrant)")
            check(there.acquire(timeout=0.2) is False, f"{name} held through B: acquire through A")
            here.release()
            if name == "rlock":
                check(there.acquire(timeout=0.2) is False, "rlock held once more through B")
                here.release()
            check(there.acquire(timeout=5), f"{name} released through B: acquire through A")
            there.release()
        try:
            bsem.release()
        except ValueError:
            pass
        else:
            check(False, "BoundedSemaphore released past its value did not raise ValueError")
        got = [jq.get(timeout=5), jq.get(timeout=5)]
        check(got == ["job-1", "job-2"], f"jq through B: {got!r}")
        jq.task_done()
        jq.task_done()
    elif phase == 3:  # through A again
        check(lst[:] == [1, "two", (3,), "from B"], f"list back through A: {lst[:]!r}")
        check(ns.x == 6, f"Namespace back through A: {ns.x!r}")
        check(not event.is_set(), "event cleared through B is clear through A")
        check(sem.acquire(timeout=1), "sem through A")
        sem.release()
        check(bsem.acquire(timeout=1), "bsem through A")
        bsem.release()
        check(rlock.acquire(timeout=1), "rlock through A after B released it")
        rlock.release()
        jq.join()  # every task done through B: returns at once
    else:
        raise SystemExit(f"unknown phase {phase}")


def connect(addr=None):
    multiprocessing.current_process().authkey = authkey()
    if addr is not None:
        host, port = addr.rsplit(":", 1)
        addr = (host, int(port))
    m = StoreManager(address=addr or address(), authkey=authkey())
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
    elif role == "typeids":
        typeids(m, int(args[0]))
    elif role == "cond-wait":
        cond, ns = m.cond(), m.ns()
        t0 = time.monotonic()
        with cond:
            got = cond.wait_for(lambda: getattr(ns, "ready", False), timeout=10)
        took = time.monotonic() - t0
        print(f"took={took:.3f}", flush=True)
        check(got is True, f"wait_for through B returned {got!r} after {took:.3f} s")
    elif role == "cond-notify":
        cond, ns = m.cond(), m.ns()
        with cond:
            ns.ready = True
            cond.notify_all()
    else:
        raise SystemExit(f"unknown role {role}")
    print("OK", flush=True)


if __name__ == "__main__":
    main()
