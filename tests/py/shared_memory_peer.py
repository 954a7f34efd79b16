"""A CPython peer for the shared_memory tests: reads one command per line on stdin, answers one
line on stdout ("ok ..." or "err TYPE MESSAGE"). Every block it opens or creates is left out of
the resource tracker, so this process never unlinks a block the Rust side owns; blocks are
unlinked only by an explicit `unlink` command.

Items travel as tokens: i:<int>  f:<16 hex digits, the float's bits>  t:0|1  s:<hex of UTF-8>
b:<hex>  n
"""
import struct
import sys
from multiprocessing import resource_tracker, shared_memory

HANDLES = {}


def untrack(shm):
    try:
        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:
        pass


def shm_open(name, create=False, size=0):
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, create=create, size=size, track=False)
    shm = shared_memory.SharedMemory(name, create=create, size=size)
    untrack(shm)
    return shm


def enc(v):
    if v is None:
        return "n"
    if isinstance(v, bool):
        return "t:%d" % v
    if isinstance(v, int):
        return "i:%d" % v
    if isinstance(v, float):
        return "f:%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]
    if isinstance(v, str):
        return "s:" + v.encode("utf8").hex()
    if isinstance(v, bytes):
        return "b:" + v.hex()
    raise TypeError(type(v))


def dec(tok):
    if tok == "n":
        return None
    kind, _, text = tok.partition(":")
    if kind == "t":
        return text == "1"
    if kind == "i":
        return int(text)
    if kind == "f":
        return struct.unpack("<d", struct.pack("<Q", int(text, 16)))[0]
    if kind == "s":
        return bytes.fromhex(text).decode("utf8")
    if kind == "b":
        return bytes.fromhex(text)
    raise ValueError(tok)


def block(name):
    h = HANDLES.get(name)
    if h is None:
        h = HANDLES[name] = shm_open(name)
    return h.shm if isinstance(h, shared_memory.ShareableList) else h


def sl(name):
    h = HANDLES.get(name)
    if not isinstance(h, shared_memory.ShareableList):
        if h is not None:
            h.close()
        h = shared_memory.ShareableList(name=name)
        untrack(h.shm)
        HANDLES[name] = h
    return h


def handle(cmd, args):
    if cmd == "version":
        return "%d.%d" % sys.version_info[:2]
    if cmd == "shm_create":
        shm = shm_open(args[0], create=True, size=int(args[1]))
        HANDLES[args[0]] = shm
        return "%s %d" % (shm.name, shm.size)
    if cmd == "shm_new":
        if sys.version_info >= (3, 13):
            shm = shared_memory.SharedMemory(create=True, size=int(args[0]), track=False)
        else:
            shm = shared_memory.SharedMemory(create=True, size=int(args[0]))
            untrack(shm)
        HANDLES[shm.name] = shm
        return "%s %d" % (shm.name, shm.size)
    if cmd == "shm_open":
        return "%d" % block(args[0]).size
    if cmd == "shm_read":
        off, n = int(args[1]), int(args[2])
        return bytes(block(args[0]).buf[off:off + n]).hex()
    if cmd == "shm_write":
        data = bytes.fromhex(args[2]) if len(args) > 2 else b""
        off = int(args[1])
        block(args[0]).buf[off:off + len(data)] = data
        return ""
    if cmd == "word_add":  # read-modify-write of a native uint64 (no atomicity claimed)
        buf = block(args[0]).buf
        off = int(args[1])
        (v,) = struct.unpack_from("=Q", buf, off)
        struct.pack_into("=Q", buf, off, v + int(args[2]))
        return "%d" % (v + int(args[2]))
    if cmd == "raw":
        return bytes(block(args[0]).buf).hex()
    if cmd == "unlink":
        h = HANDLES.pop(args[0], None)
        shm = shm_open(args[0]) if h is None else (h.shm if isinstance(h, shared_memory.ShareableList) else h)
        shm.close()
        shared_memory._posixshmem.shm_unlink("/" + args[0])
        return ""
    if cmd == "close":
        h = HANDLES.pop(args[0], None)
        if h is not None:
            (h.shm if isinstance(h, shared_memory.ShareableList) else h).close()
        return ""
    if cmd == "list_create":
        items = [dec(t) for t in args[1:]]
        l = shared_memory.ShareableList(items, name=args[0])
        untrack(l.shm)
        HANDLES[args[0]] = l
        return bytes(l.shm.buf).hex()
    if cmd == "list_new":
        items = [dec(t) for t in args]
        l = shared_memory.ShareableList(items)
        untrack(l.shm)
        HANDLES[l.shm.name] = l
        return l.shm.name
    if cmd == "list_get":
        return " ".join(enc(v) for v in sl(args[0]))
    if cmd == "list_item":
        return enc(sl(args[0])[int(args[1])])
    if cmd == "list_set":
        sl(args[0])[int(args[1])] = dec(args[2])
        return ""
    if cmd == "list_format":
        return sl(args[0]).format
    if cmd == "list_len":
        return "%d" % len(sl(args[0]))
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
        except Exception as e:  # report, keep serving
            out = "err %s %s" % (type(e).__name__, str(e).replace("\n", " "))
        sys.stdout.write(out.rstrip() + "\n")
        sys.stdout.flush()
    for h in list(HANDLES.values()):
        try:
            (h.shm if isinstance(h, shared_memory.ShareableList) else h).close()
        except Exception:
            pass


if __name__ == "__main__":
    main()
