"""Times dict create/use/drop cycles against the server named by the environment and against a
stock CPython SyncManager started here; prints both (informational, no assertion)."""
import os
import time
from multiprocessing.managers import SyncManager

from mpcommon import check, connect

N = int(os.environ.get("MPSHARE_CYCLES", "30"))


def cycles(m):
    t0 = time.perf_counter()
    for i in range(N):
        d = m.dict()
        d["a"] = i
        check(d["a"] == i, "value")
        del d
    return (time.perf_counter() - t0) / N * 1e3


if __name__ == "__main__":
    ours = connect()
    cycles(ours)  # warm-up
    t_ours = cycles(ours)
    ref = SyncManager(address=("127.0.0.1", 0), authkey=b"timing")
    ref.start()
    cycles(ref)
    t_ref = cycles(ref)
    ref.shutdown()
    print("dict create/set/get/drop: mpshare server %.3f ms/cycle, CPython server %.3f ms/cycle" % (t_ours, t_ref))
    print("OK")
