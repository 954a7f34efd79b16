"""A CPython peer for tests/python_side.rs: drives python/mpshare_segments.py one command per
line ("ok ..." / "err TYPE MESSAGE" replies, like shared_memory_peer.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import mpshare_segments  # noqa: E402

SEGS = {}


def seg(name):
    if name not in SEGS:
        SEGS[name] = mpshare_segments.open_segment(name)
    return SEGS[name]


def conv(s, v):
    return float(v) if s.typecode in ("f", "d") else int(v)


def handle(cmd, a):
    if cmd == "version":
        return "%d.%d" % sys.version_info[:2]
    if cmd == "info":
        s = seg(a[0])
        return "%s %s %d %d %s %d" % (s.kind, s.typecode, s.length, s.version,
                                      ",".join(map(str, s.shape)), s.data_offset)
    if cmd == "get":
        return repr(seg(a[0])[int(a[1])])
    if cmd == "set":
        s = seg(a[0])
        s[int(a[1])] = conv(s, a[2])
        return ""
    if cmd == "all":
        return " ".join(repr(x) for x in seg(a[0])[:])
    if cmd == "value":
        return repr(seg(a[0]).value)
    if cmd == "setvalue":
        s = seg(a[0])
        s.value = conv(s, a[1])
        return ""
    if cmd == "add_locked":  # n times: with lock: v += 1
        s = seg(a[0])
        lock = s.get_lock()
        for _ in range(int(a[1])):
            with lock:
                s.value = s.value + 1
        return ""
    if cmd == "acquire":
        lock = seg(a[0]).get_lock()
        got = lock.acquire(timeout=float(a[1]))
        return "%d %d" % (got, lock.owner_died)
    if cmd == "release":
        seg(a[0]).get_lock().release()
        return ""
    if cmd == "numpy":
        try:
            import numpy  # noqa: F401
        except ImportError:
            return "skip numpy is not installed for this interpreter"
        s = seg(a[0])
        arr = s.as_numpy()
        out = "%r %s %r" % (float(arr.sum()), "x".join(map(str, arr.shape)), str(arr.dtype))
        if len(a) > 1:
            arr.reshape(-1)[int(a[1])] = conv(s, a[2])
        del arr
        return out
    if cmd == "close":
        s = SEGS.pop(a[0], None)
        if s is not None:
            s.close()
        return ""
    raise ValueError("unknown command %r" % cmd)


def main():
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        try:
            out = "ok " + handle(parts[0], parts[1:])
        except Exception as e:
            out = "err %s %s" % (type(e).__name__, str(e).replace("\n", " "))
        sys.stdout.write(out.rstrip() + "\n")
        sys.stdout.flush()
    for s in SEGS.values():
        s.close()


if __name__ == "__main__":
    main()
