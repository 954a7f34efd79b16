"""Every SyncManager typeid: values, errors, iteration, fallbacks, nested proxies."""
import array
import queue
import threading
from multiprocessing.managers import RemoteError

from mpcommon import bounded, check, connect, raises

m = connect()

# dict
d = m.dict(a=1)
d["b"] = [1, 2]
d[1] = "one"
check(d["a"] == 1 and d["b"] == [1, 2], "dict get")
check(d[1.0] == "one" and d[True] == "one", "dict key equality 1 == 1.0 == True")
check(len(d) == 3 and "a" in d and "zz" not in d, "dict len/contains")
e = raises(KeyError, lambda: d["missing"])
check(e.args == ("missing",), "KeyError args")
raises(TypeError, lambda: d[[1]])
check(sorted(map(str, d.keys())) == ["1", "a", "b"], "keys")
check(list(iter(d)) == ["a", "b", 1], "dict iteration via Iterator proxy")
check([k for k in d] == ["a", "b", 1], "for loop over dict")
check(d.get("zz", 5) == 5 and d.setdefault("c", 3) == 3 and d.pop("c") == 3, "get/setdefault/pop")
d.update({"x": 1}, y=2)
check(d.copy() == {"a": 1, "b": [1, 2], 1: "one", "x": 1, "y": 2}, "copy/update")
check(d.items()[0] == ("a", 1), "items")
check(d.popitem() == ("y", 2), "popitem")
del d["x"]
raises(KeyError, d.__delitem__, "x")
check(str(d) == "{'a': 1, 'b': [1, 2], 1: 'one'}", "str(proxy) is repr: %s" % str(d))
check(d._getvalue() == {"a": 1, "b": [1, 2], 1: "one"}, "#GETVALUE")
raises(RemoteError, d._callmethod, "nonexistent")
d.clear()
check(len(d) == 0, "clear")
d2 = m.dict([("k", "v")])
check(d2["k"] == "v", "dict from pairs")

# list
l = m.list([3, 1, 2])
l.append(0)
l.sort()
check(list(l) == [0, 1, 2, 3], "list sort / list(proxy)")
check(l[0] == 0 and l[-1] == 3 and l[1:3] == [1, 2], "list index/slice")
e = raises(IndexError, lambda: l[10])
check(str(e) == "list index out of range", "IndexError text")
l[0] = 10
l.extend([4, 5])
l += [6]
check(l.count(10) == 1 and l.index(4) == 4, "count/index")
raises(ValueError, l.index, 99)
raises(ValueError, l.remove, 99)
check(l.pop() == 6 and 10 in l, "pop/contains")
l.insert(0, -1)
l.reverse()
check(l[0] == 5 and l[-1] == -1, "insert/reverse")
check(l + [9] == [5, 4, 3, 2, 1, 10, -1, 9], "__add__")
check(l * 2 == [5, 4, 3, 2, 1, 10, -1] * 2, "__mul__")
del l[0]
check(len(l) == 6, "delitem")
l *= 2
check(len(l) == 12, "__imul__")
l.sort(reverse=True)
check(l[0] == 10, "sort reverse")
raises(TypeError, m.list([1, "a"]).sort)

# Namespace
ns = m.Namespace(a=1)
ns.x = 5
check(ns.x == 5 and ns.a == 1, "namespace get/set")
e = raises(AttributeError, lambda: ns.missing)
check("missing" in str(e), "AttributeError text")
del ns.x
raises(AttributeError, lambda: ns.x)

# Value (no coercion)
v = m.Value("i", 7)
check(v.value == 7 and v.get() == 7, "Value get")
v.value = 8
check(v.value == 8, "Value set")
v.value = "text"
check(v.value == "text", "Value does no coercion")
check(repr(v._getvalue()) == "Value('i', 'text')", "Value #GETVALUE")

# Array
a = m.Array("i", [1, 2, 3])
check(len(a) == 3 and a[0] == 1 and a[-1] == 3, "Array get")
s = a[0:2]
check(isinstance(s, array.array) and s.typecode == "i" and list(s) == [1, 2], "Array slice")
a[1] = 20
check(list(a) == [1, 20, 3], "Array set / iteration")
e = raises(IndexError, lambda: a[5])
check(str(e) == "array index out of range", "Array IndexError text")
raises(TypeError, a.__setitem__, 0, "x")
raises(OverflowError, a.__setitem__, 0, 2**40)
fa = m.Array("d", [0.5])
fa[0] = 2
check(fa[0] == 2.0, "float array coercion")

# Queue / JoinableQueue
q = m.Queue()
q.put(42)
q.put_nowait({"k": [1]})
check(q.qsize() == 2 and not q.empty() and not q.full(), "qsize/empty/full")
check(q.get() == 42 and q.get_nowait() == {"k": [1]}, "get/get_nowait")
bounded(0.09, 3.0, "get(timeout=0.1)", raises, queue.Empty, q.get, timeout=0.1)
raises(queue.Empty, q.get_nowait)
raises(queue.Empty, q.get, False)
bq = m.Queue(1)
bq.put(1)
check(bq.full(), "bounded full")
bounded(0.09, 3.0, "put(timeout=0.1)", raises, queue.Full, bq.put, 2, timeout=0.1)
raises(queue.Full, bq.put_nowait, 2)
jq = m.JoinableQueue()
jq.put(1)
jq.get()
jq.task_done()
jq.join()
raises(ValueError, jq.task_done)

# Lock, RLock, Semaphore, BoundedSemaphore
lk = m.Lock()
check(lk.acquire() is True and lk.acquire(False) is False, "Lock acquire")
check(bounded(0.045, 3.0, "acquire(True, 0.05)", lk.acquire, True, 0.05) is False, "Lock acquire timeout")
lk.release()
e = raises(RuntimeError, lk.release)
check(str(e) == "release unlocked lock", "Lock RuntimeError text")
with lk:
    pass
rl = m.RLock()
check(rl.acquire() and rl.acquire(), "RLock re-entrant")
rl.release()
rl.release()
raises(RuntimeError, rl.release)
sem = m.Semaphore(2)
check(sem.acquire() and sem.acquire() and not sem.acquire(False), "Semaphore")
sem.release()
sem.release()
sem.release()  # plain Semaphore may go above its initial value
bs = m.BoundedSemaphore(1)
e = raises(ValueError, bs.release)
check(str(e) == "Semaphore released too many times", "BoundedSemaphore text")

# Condition, Event, Barrier
c = m.Condition()
raises(RuntimeError, c.notify)
with c:
    check(bounded(0.045, 3.0, "wait(0.05)", c.wait, 0.05) is False, "Condition wait timeout")
    c.notify_all()
check(c.wait_for(lambda: True, 0.1) if c.acquire() else False, "wait_for")
c.release()
ev = m.Event()
check(ev.is_set() is False and ev.wait(0.05) is False, "Event unset")
ev.set()
check(ev.is_set() and ev.wait(), "Event set")
ev.clear()
check(not ev.is_set(), "Event clear")
b = m.Barrier(1)
check(b.wait() == 0 and b.parties == 1 and b.n_waiting == 0 and b.broken is False, "Barrier(1)")
b.abort()
check(b.broken is True, "Barrier broken")
raises(threading.BrokenBarrierError, b.wait)
b.reset()
check(b.broken is False and b.wait() == 0, "Barrier reset")

# Nested proxies: a Queue and a list stored in a dict and read back.
holder = m.dict()
inner_q = m.Queue()
inner_l = m.list([1])
holder["q"] = inner_q
holder["l"] = inner_l
del inner_q, inner_l  # the dict keeps them alive on the server
q2 = holder["q"]
q2.put("via nested")
check(holder["q"].get() == "via nested", "nested Queue proxy")
l2 = holder["l"]
l2.append(2)
check(list(holder["l"]) == [1, 2], "nested list proxy")

# Server functions via the manager's private helpers.
check(isinstance(m._debug_info(), str), "debug_info")
check(m._number_of_objects() > 0, "number_of_objects")
print("OK")
