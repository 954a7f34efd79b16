#!/usr/bin/env python3
"""CPython's own multiprocessing.shared_memory costs, to set next to benches/shared_memory.rs:

    python3 bench/shared_memory_python.py            # one Markdown table on stdout

* ShareableList item read (`l[i]`) and write (`l[i] = v`) per item, for the list the criterion
  bench reads ([12345, 2.5, 'hello world', True, b'abcdefgh', None]);
* 8 MiB copies of a SharedMemory block: `bytes(shm.buf)` (out) and `shm.buf[:] = data` (in), and
  numpy's copy when numpy is importable.

Each figure is the best of 5 runs of a timeit loop, in ns per operation (µs for the copies).
"""
import sys
import timeit
from multiprocessing import resource_tracker, shared_memory

ITEMS = [12345, 2.5, "hello world", True, b"abcdefgh", None]


def best(stmt, number, glob):
    return min(timeit.repeat(stmt, number=number, repeat=5, globals=glob)) / number


def main():
    rows = []
    l = shared_memory.ShareableList(ITEMS)
    try:
        g = {"l": l}
        n = 200_000
        rows.append(("ShareableList get int  `l[0]`", best("l[0]", n, g) * 1e9, "ns"))
        rows.append(("ShareableList get float `l[1]`", best("l[1]", n, g) * 1e9, "ns"))
        rows.append(("ShareableList get str  `l[2]`", best("l[2]", n, g) * 1e9, "ns"))
        rows.append(("ShareableList set int  `l[0] = 7`", best("l[0] = 7", n, g) * 1e9, "ns"))
        rows.append(("ShareableList set str  `l[2] = 'howdy'`",
                     best("l[2] = 'howdy'", n, g) * 1e9, "ns"))
    finally:
        l.shm.close()
        l.shm.unlink()

    size = 8 << 20
    shm = shared_memory.SharedMemory(create=True, size=size)
    try:
        data = bytes(range(256)) * (size // 256)
        shm.buf[:] = data
        g = {"shm": shm, "data": data}
        rows.append(("8 MiB out `bytes(shm.buf)`", best("bytes(shm.buf)", 20, g) * 1e6, "µs"))
        rows.append(("8 MiB in `shm.buf[:] = data`", best("shm.buf[:] = data", 20, g) * 1e6, "µs"))
        try:
            import numpy as np

            arr = np.frombuffer(shm.buf, dtype=np.uint8)
            out = np.empty(size, dtype=np.uint8)
            g.update(arr=arr, out=out, np=np)
            rows.append(("8 MiB out `np.copyto(out, arr)`", best("np.copyto(out, arr)", 20, g) * 1e6,
                         "µs"))
            del arr, g["arr"]
        except ImportError:
            pass
    finally:
        shm.close()
        shm.unlink()

    print("CPython %d.%d.%d (%s)" % (sys.version_info[:3] + (sys.executable,)))
    print()
    print("| operation | CPython |")
    print("|---|---:|")
    for what, v, unit in rows:
        print("| %s | %.0f %s |" % (what, v, unit))


if __name__ == "__main__":
    # The lists/blocks above are unlinked explicitly; keep the tracker quiet about them.
    resource_tracker  # noqa: B018 (imported so 3.11/3.12 start it predictably)
    main()
