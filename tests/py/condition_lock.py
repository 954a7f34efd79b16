"""Condition(lock) with a Lock or RLock proxy: a child process waits on the condition, the
parent notifies; the lock is shared with the condition (holding the lock is holding the
condition). Against MPSHARE_ADDR/MPSHARE_KEY, or with --cpython against CPython's own server.
Prints "<case>: <outcome>" lines, then OK.
"""
import multiprocessing
import os
import sys
import time
from multiprocessing.managers import SyncManager


def child(cond, flag, started):
    with cond:
        started.set()
        ok = cond.wait_for(lambda: flag.value == 1, timeout=20)
    sys.exit(0 if ok else 3)


def attempt(f):
    try:
        return repr(f())
    except Exception as e:
        return f"raises {type(e).__name__}"


def main():
    if "--cpython" in sys.argv:
        m = SyncManager()
        m.start()
    else:
        host, _, port = os.environ["MPSHARE_ADDR"].rpartition(":")
        key = os.environ["MPSHARE_KEY"].encode()
        multiprocessing.current_process().authkey = key
        m = SyncManager(address=(host, int(port)), authkey=key)
        m.connect()
    out = []
    for kind in ("Lock", "RLock"):
        lock = getattr(m, kind)()
        cond = m.Condition(lock)
        flag = m.Value("i", 0)
        started = m.Event()
        p = multiprocessing.Process(target=child, args=(cond, flag, started))
        p.start()
        out.append((f"{kind}: child waiting", started.wait(20)))
        # The child released the lock inside wait(): the parent can take it.
        out.append((f"{kind}: lock free while waiting", attempt(lambda: (lock.acquire(timeout=5), lock.release())[0])))
        with cond:
            flag.value = 1
            cond.notify_all()
            # Holding the condition is holding the lock.
            out.append((f"{kind}: lock held via condition", lock.acquire(False) if kind == "Lock" else "n/a"))
        p.join(20)
        out.append((f"{kind}: child woke", p.exitcode))
        out.append((f"{kind}: wait without lock", attempt(lambda: cond.wait(0.01))))
        out.append((f"{kind}: notify without lock", attempt(lambda: cond.notify())))
        with cond:
            out.append((f"{kind}: timed wait", cond.wait(0.05)))
    out.append(("Condition(1)", attempt(lambda: m.Condition(1))))
    for name, outcome in out:
        print(f"{name}: {outcome}")
    print("OK")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
