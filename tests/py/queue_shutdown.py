"""Python 3.13's Queue.shutdown() against the server: put raises ShutDown, get drains what is
left then raises ShutDown, a blocked get is woken with ShutDown, immediate=True drops items."""
import queue
import sys
import threading
import time

from mpcommon import check, connect, raises

if __name__ == "__main__":
    # The test runs this under 3.13 only; an older interpreter is a mistake, not a skip.
    check(sys.version_info >= (3, 13), "Queue.shutdown needs 3.13, running %s" % sys.version)
    m = connect()
    q = m.Queue()
    q.put(1)
    q.put(2)
    q.shutdown()
    raises(queue.ShutDown, q.put, 3)
    check(q.get() == 1, "drain 1")
    check(q.get(timeout=1) == 2, "drain 2")
    raises(queue.ShutDown, q.get)
    q2 = m.Queue()
    got = []

    def waiter():
        # A thread gets its own proxy connection, so this get blocks only here.
        try:
            q2.get(timeout=20)
            got.append("item")
        except queue.ShutDown:
            got.append("shutdown")

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    q2.shutdown()
    t.join(20)
    check(got == ["shutdown"], "blocked get woken with ShutDown: %r" % got)
    q3 = m.Queue()
    for i in range(5):
        q3.put(i)
    q3.shutdown(immediate=True)
    check(q3.qsize() == 0, "immediate drops items")
    raises(queue.ShutDown, q3.get_nowait)
    print("OK")
