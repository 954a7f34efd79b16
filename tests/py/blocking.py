"""Blocking calls across two client threads (each thread has its own connection)."""
import threading
import time

from mpcommon import bounded, check, connect, raises

m = connect()
results = {}


def later(delay, fn):
    def run():
        time.sleep(delay)
        fn()
    t = threading.Thread(target=run)
    t.start()
    return t


# Queue.get waits for a put from another thread.
q = m.Queue()
t = later(0.2, lambda: q.put("hello"))
# It waits for the put (0.2 s later) and is answered soon after it.
got = bounded(0.15, 5.0, "get answered by a put 0.2 s later", q.get, timeout=10)
check(got == "hello", "queue get across threads")
t.join()

# Event wait / set.
ev = m.Event()
t = later(0.2, ev.set)
check(ev.wait(10) is True, "event wait/set")
t.join()

# Condition wait / notify.
c = m.Condition()
state = m.dict(ready=False)


def notifier():
    with c:
        state["ready"] = True
        c.notify()


with c:
    t = later(0.2, notifier)
    check(c.wait_for(lambda: state["ready"], 10), "condition wait/notify")
t.join()

# Barrier(2) across two threads.
b = m.Barrier(2)
out = []
t = threading.Thread(target=lambda: out.append(b.wait(10)))
t.start()
out.append(b.wait(10))
t.join()
check(sorted(out) == [0, 1], "barrier indices %r" % out)

# Lock held by one thread blocks another until released.
lk = m.Lock()
lk.acquire()
got = []


def second():
    got.append(lk.acquire(True, 10))
    lk.release()


t = threading.Thread(target=second)
t.start()
time.sleep(0.2)
check(got == [], "second thread blocked")
lk.release()
t.join()
check(got == [True], "second thread got the lock")
# (A Lock still held when its thread's connection closes is released by this server.)
check(lk.acquire(False), "free again")
lk.release()

# RLock ownership is per connection (= per client thread).
rl = m.RLock()
rl.acquire()
err = []


def other_release():
    try:
        rl.release()
    except RuntimeError as e:
        err.append(str(e))


t = threading.Thread(target=other_release)
t.start()
t.join()
check(err == ["cannot release un-acquired lock"], "RLock owned per connection %r" % err)
rl.release()

# JoinableQueue.join waits for task_done from another thread.
jq = m.JoinableQueue()
jq.put(1)


def worker():
    jq.get()
    time.sleep(0.1)
    jq.task_done()


t = threading.Thread(target=worker)
t.start()
jq.join()
t.join()

# A timeout on a blocked get.
import queue
bounded(0.25, 3.0, "get(timeout=0.3) on an empty queue", raises, queue.Empty, q.get, True, 0.3)
print("OK")
