"""CPython's SharedMemoryManager against `mpshare serve`:

    python shared_memory_manager_client.py HOST:PORT EXTRA_SEGMENT (shutdown|stay)

Authkey from $MPSHARE_AUTHKEY. Creates a SharedMemory and a ShareableList through the manager
(which asks the server to track them), tracks EXTRA_SEGMENT too, lists, releases the block,
and prints one line per step. The blocks are unregistered from this process's resource tracker
so only the server can unlink them. With `shutdown` it finally asks the server to shut down.
"""
import os
import sys
from multiprocessing import resource_tracker
from multiprocessing.managers import SharedMemoryManager, dispatch

host, port = sys.argv[1].rsplit(":", 1)
smm = SharedMemoryManager(address=(host, int(port)), authkey=os.environb[b"MPSHARE_AUTHKEY"])
smm.connect()


def call(name, *args):
    with smm._Client(smm._address, authkey=smm._authkey) as c:
        return dispatch(c, None, name, args)


shm = smm.SharedMemory(128)
sl = smm.ShareableList([1, "two", 3.0])
for n in (shm._name, sl.shm._name):
    resource_tracker.unregister(n, "shared_memory")
print("names", shm.name, sl.shm.name, flush=True)
call("track_segment", sys.argv[2])
print("listed", *call("list_segments"), flush=True)
call("release_segment", shm.name)
print("after", *call("list_segments"), flush=True)
try:
    call("release_segment", "no-such-segment")
    print("release-unknown ok")
except Exception as e:
    print("release-unknown", type(e).__name__, "ValueError" in str(e))
shm.close()
sl.shm.close()
if sys.argv[3] == "shutdown":
    call("shutdown")
print("done", flush=True)
