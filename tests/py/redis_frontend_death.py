"""One client of one `mpshare serve --store redis://...` front-end, for the test of what
happens when another front-end dies (tests/redis_frontend_death.rs).

The front-ends serve `sem=BoundedSemaphore` and `cond=Condition`.

Roles (argv[1:]):
  sem-hold          acquires sem, prints ACQUIRED, then sleeps (until killed)
  sem-try           sem.acquire(timeout=0.3) is False
  sem-take SECONDS  sem.acquire(timeout=SECONDS) is True; prints took=S and at=T (time.time()
                    when it got it); releases it once;
                    a second release raises ValueError (the unit held through the dead
                    front-end went back exactly once)
  bar-create        creates Barrier(2), prints CREATED IDENT, then waits at it (until killed)
  bar-waiting ID N S  polls the n_waiting of barrier ID until it is N (at most S seconds);
                    prints took=S and at=T (time.time() when it saw N)
  bar-wait ID SECS  waits at barrier ID; prints index=I
  cond-wait SECS    with cond: prints WAITING, then cond.wait(SECS); prints result=R and
                    at=T (time.time() when wait returned)
  cond-waiters N S  polls cond's repr until it shows N waiters (at most S seconds)
  cond-notify       with cond: cond.notify()

MPSHARE_ADDR is host:port, MPSHARE_KEY the authkey. Prints OK last on success.
"""
import os
import sys
import time
from multiprocessing.managers import (
    AcquirerProxy,
    BarrierProxy,
    ConditionProxy,
    SyncManager,
    Token,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpcommon import address, authkey, check, connect  # noqa: E402


class StoreManager(SyncManager):
    pass


StoreManager.register("sem", proxytype=AcquirerProxy)
StoreManager.register("cond", proxytype=ConditionProxy)


def say(*a):
    print(*a, flush=True)


def barrier(m, ident):
    return BarrierProxy(Token("Barrier", address(), ident), "pickle", manager=m, authkey=authkey())


def poll(what, get, want, limit):
    t0 = time.monotonic()
    while True:
        got = get()
        if got == want:
            return time.monotonic() - t0
        check(time.monotonic() - t0 < limit, f"{what}: still {got!r} after {limit} s, expected {want!r}")
        time.sleep(0.05)


def main():
    role, args = sys.argv[1], sys.argv[2:]
    m = connect(StoreManager)
    if role == "sem-hold":
        sem = m.sem()  # kept: a proxy's connection closing gives its units back
        check(sem.acquire(timeout=10), "sem-hold: acquire")
        say("ACQUIRED")
        time.sleep(600)
    elif role == "sem-try":
        t0 = time.monotonic()
        check(m.sem().acquire(timeout=0.3) is False, "sem-try: expected False (held)")
        check(time.monotonic() - t0 >= 0.25, "sem-try: returned early")
    elif role == "sem-take":
        sem = m.sem()
        t0 = time.monotonic()
        check(sem.acquire(timeout=float(args[0])) is True, "sem-take: acquire timed out")
        say(f"took={time.monotonic() - t0:.3f}")
        say(f"at={time.time():.3f}")
        sem.release()
        try:
            sem.release()
        except ValueError:
            pass
        else:
            check(False, "sem-take: a second release did not raise ValueError")
    elif role == "bar-create":
        b = m.Barrier(2)
        say(f"CREATED {b._token.id}")
        b.wait()
        time.sleep(600)
    elif role == "bar-waiting":
        b = barrier(m, args[0])
        took = poll("n_waiting", lambda: b.n_waiting, int(args[1]), float(args[2]))
        say(f"took={took:.3f}")
        say(f"at={time.time():.3f}")
    elif role == "bar-wait":
        i = barrier(m, args[0]).wait(timeout=float(args[1]))
        say(f"index={i}")
    elif role == "cond-wait":
        c = m.cond()
        with c:
            say("WAITING")
            r = c.wait(float(args[0]))
            say(f"result={r}")
            say(f"at={time.time():.3f}")
    elif role == "cond-waiters":
        c = m.cond()
        n = int(args[0])
        poll("cond waiters", lambda: c._callmethod("__repr__").endswith(f", {n})>"), True, float(args[1]))
    elif role == "cond-notify":
        c = m.cond()
        with c:
            c.notify()
    else:
        check(False, f"unknown role {role}")
    say("OK")


if __name__ == "__main__":
    main()
