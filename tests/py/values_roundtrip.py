"""Python values through manager-held objects: stored, sent back, compared.

Against the server at MPSHARE_ADDR (host:port, authkey MPSHARE_KEY), or, with --cpython,
against CPython's own manager server started here (the reference). Every line printed is
"<case>: <outcome>"; the same script must print the same lines against both servers.
The last line is OK when nothing failed.
"""
import collections
import datetime
import decimal
import fractions
import multiprocessing
import os
import sys
from multiprocessing.managers import SyncManager


class Point:
    """A user class (pickled by reference to __main__.Point, state in __dict__)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class Tagged(list):
    """A list subclass with an attribute."""


def nested(depth):
    x = []
    for _ in range(depth):
        x = [x]
    return x


def depth_of(x):
    d = 0
    while isinstance(x, list) and x:
        x, d = x[0], d + 1
    return d


def values():
    shared = [1, 2]
    cyc = [1]
    cyc.append(cyc)
    d = {"k": 1}
    d["self"] = d
    tagged = Tagged([1, 2])
    tagged.note = "n"
    dd = collections.defaultdict(list)
    dd["a"].append(1)
    tz = datetime.timezone(datetime.timedelta(hours=2))
    return {
        "OrderedDict": collections.OrderedDict([("b", 1), ("a", 2)]),
        "defaultdict": dd,
        "deque": collections.deque([1, 2, 3], maxlen=5),
        "Counter": collections.Counter("abracadabra"),
        "set": {1, 2, 3},
        "frozenset": frozenset({"x", "y"}),
        "datetime": datetime.datetime(2024, 5, 17, 12, 30, 1, 5, tzinfo=tz),
        "date": datetime.date(2024, 2, 29),
        "timedelta": datetime.timedelta(days=3, seconds=7, microseconds=9),
        "Decimal": decimal.Decimal("3.14159265358979323846"),
        "Fraction": fractions.Fraction(22, 7),
        "complex": complex(1.5, -2),
        "bytearray": bytearray(b"\x00\xffab"),
        "user class": Point(1, [2, 3]),
        "list subclass": tagged,
        "shared refs": [shared, shared, {"again": shared}],
        "cycle (list)": cyc,
        "cycle (dict)": d,
        "nested 200": nested(200),
        "nested 450": nested(450),
        # 3.13+ clients pickle this; older picklers refuse it (RecursionError) for both servers.
        "nested 2000": nested(2000),
    }


def check(name, sent, got):
    """Same type, equal, and the same sharing/cycles."""
    if type(got) is not type(sent):
        return f"type {type(got).__name__}, expected {type(sent).__name__}"
    if name == "shared refs":
        ok = got == sent and got[0] is got[1] and got[2]["again"] is got[0]
        return "same" if ok else f"sharing lost: {got!r}"
    if name == "cycle (list)":
        return "same" if got[0] == 1 and got[1] is got else f"cycle lost: {got!r}"
    if name == "cycle (dict)":
        return "same" if got["k"] == 1 and got["self"] is got else "cycle lost"
    if name.startswith("nested"):
        return "same" if depth_of(got) == depth_of(sent) else f"depth {depth_of(got)}"
    if name == "deque" and got.maxlen != sent.maxlen:
        return f"maxlen {got.maxlen}"
    if name == "defaultdict" and got.default_factory is not sent.default_factory:
        return "default_factory lost"
    if name == "list subclass" and getattr(got, "note", None) != "n":
        return "attribute lost"
    return "same" if got == sent else f"differs: {got!r}"


def attempt(f):
    try:
        return f()
    except Exception as e:  # the outcome is what both servers must agree on
        return f"raises {type(e).__name__}"


def main():
    if "--cpython" in sys.argv:
        m = SyncManager()
        m.start()
    else:
        host, _, port = os.environ["MPSHARE_ADDR"].rpartition(":")
        key = os.environ["MPSHARE_KEY"].encode()
        # Proxies received inside values authenticate with the process's authkey (as with any
        # remote manager).
        multiprocessing.current_process().authkey = key
        m = SyncManager(address=(host, int(port)), authkey=key)
        m.connect()
    lines = []
    out = lines.append
    d = m.dict()
    lst = m.list()
    q = m.Queue()
    ns = m.Namespace()
    for name, v in values().items():
        def through_dict():
            d[name] = v
            return check(name, v, d[name])

        def through_list():
            lst.append(v)
            return check(name, v, lst[-1])

        def through_queue():
            q.put(v)
            return check(name, v, q.get(timeout=10))

        def through_namespace():
            ns.value = v
            return check(name, v, ns.value)

        def through_copy():
            return check(name, v, d.copy()[name])

        out(f"{name} via dict: {attempt(through_dict)}")
        out(f"{name} via list: {attempt(through_list)}")
        out(f"{name} via queue: {attempt(through_queue)}")
        out(f"{name} via namespace: {attempt(through_namespace)}")
        out(f"{name} via dict.copy: {attempt(through_copy)}")
    # Arguments the server must interpret.
    out(f"list(range): {attempt(lambda: m.list(range(10))[:])}")
    out(f"list(range(2, 11, 3)): {attempt(lambda: m.list(range(2, 11, 3))[:])}")
    out(f"Array('i', range): {attempt(lambda: m.Array('i', range(4))[:])}")
    out(f"list.extend(range): {attempt(lambda: (lst.extend(range(3)), lst[-3:])[1])}")
    sh = [7]
    out(f"list([x, x]) items: {attempt(lambda: m.list([sh, sh])[:])}")
    od = collections.OrderedDict([("z", 1), ("y", 2)])
    out(f"dict(OrderedDict): {attempt(lambda: sorted(m.dict(od).items()))}")
    dq = collections.deque([4, 5])
    out(f"list(deque): {attempt(lambda: m.list(dq)[:])}")
    out(f"Namespace str: {str(m.Namespace(b=2, a=1, c=3))}")
    # A proxy stored twice in one value: one proxy comes back, and its object stays alive
    # while stored although the client dropped its own proxy.
    def shared_proxy():
        import gc
        inner = m.dict({"a": 1})
        holder = m.list()
        holder.append([inner, inner, collections.OrderedDict(p=inner)])
        del inner
        gc.collect()
        got = holder[0]
        return (got[0] is got[1], got[0]["a"], got[2]["p"]["a"], type(got[2]).__name__)
    out(f"shared proxy in a stored value: {attempt(shared_proxy)}")
    # A stored value the server does not understand is still counted, found and removed.
    l2 = m.list([od, od])
    out(f"count(kept): {attempt(lambda: l2.count(od))}")
    out(f"unhashable kept key: {attempt(lambda: d.__setitem__(od, 1))}")
    bad = ("differs", "type ", "sharing lost", "cycle lost", "depth", "maxlen",
           "default_factory lost", "attribute lost")
    failed = [l for l in lines if l.split(": ", 1)[-1].startswith(bad)]
    for l in lines:
        print(l)
    print("FAILED" if failed else "OK")


if __name__ == "__main__":
    main()
