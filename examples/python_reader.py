#!/usr/bin/env python3
"""Read an mpshare Array<f64> from CPython, by name, without copying or unlinking it.

    python3 examples/python_reader.py SEGMENT_NAME

Opens the POSIX shared-memory segment with multiprocessing.shared_memory.SharedMemory (it
creates nothing), checks the header described in README.md "Segment layout" (magic, version,
ready state, kind Array, typecode 'd'), views the data through memoryview.cast('d') (or numpy
when it is importable) and prints one JSON object: count, sum, first, last, and which reader
was used. The segment is unregistered from resource_tracker so Python does not unlink it at
exit. Exit status 2 on a bad name or a header that is not an mpshare Array<'d'>.
"""
import json
import struct
import sys
from multiprocessing import shared_memory

HEADER = struct.Struct("=8sIIIIIIQQII")  # magic .. lock kind, creator pid (offsets 0..56)
MAGIC = b"MPSHARE\0"
KIND_ARRAY = 2


def open_untracked(name):
    """SharedMemory(name) that this process will not unlink at exit."""
    try:
        return shared_memory.SharedMemory(name=name, create=False, track=False)  # 3.13+
    except TypeError:
        shm = shared_memory.SharedMemory(name=name, create=False)
        try:
            from multiprocessing import resource_tracker

            resource_tracker.unregister(shm._name, "shared_memory")
        except Exception:  # the tracker may not be running; nothing was registered then
            pass
        return shm


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(2)


def main():
    if len(sys.argv) != 2:
        fail("usage: python_reader.py SEGMENT_NAME")
    name = sys.argv[1].lstrip("/")
    try:
        shm = open_untracked(name)
    except FileNotFoundError:
        fail("no shared-memory segment named %r" % name)
    try:
        if shm.size < HEADER.size:
            fail("segment is %d bytes, smaller than the %d-byte header" % (shm.size, HEADER.size))
        (magic, version, state, kind, code, size, align, length, offset, lock, pid) = HEADER.unpack_from(shm.buf, 0)
        if magic != MAGIC:
            fail("expected magic %r, found %r" % (MAGIC, magic))
        if version not in (1, 2):
            fail("expected layout version 1 or 2, found %d" % version)
        if state != 1:
            fail("segment not ready (state %d)" % state)
        if kind != KIND_ARRAY:
            fail("expected kind 2 (Array), found %d" % kind)
        if code != ord("d") or size != 8:
            fail("expected typecode 'd' (8 bytes), found code %d size %d" % (code, size))
        end = offset + length * size
        if end > shm.size:
            fail("data %d..%d runs past the %d-byte segment" % (offset, end, shm.size))
        raw = shm.buf[offset:end]
        try:
            import numpy as np

            arr = np.frombuffer(raw, dtype=np.float64)
            out = {"count": int(arr.size), "sum": float(arr.sum()),
                   "first": float(arr[0]) if arr.size else None,
                   "last": float(arr[-1]) if arr.size else None, "reader": "numpy"}
            del arr
        except ImportError:
            data = raw.cast("d")
            out = {"count": len(data), "sum": float(sum(data)),
                   "first": data[0] if len(data) else None,
                   "last": data[-1] if len(data) else None, "reader": "memoryview"}
            data.release()
        out.update({"lock": lock, "creator_pid": pid, "python": "%d.%d" % sys.version_info[:2]})
        raw.release()
        print(json.dumps(out))
    finally:
        shm.close()


if __name__ == "__main__":
    main()
