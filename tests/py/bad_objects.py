"""Whatever one client stores, the server and the other clients carry on.

Roles: `store` puts hard values into the shared dict `shared_dict` (a cycle, 300-deep
nesting, an instance of a class only this process defines, a kept OrderedDict used as a key)
and sends hostile frames on raw connections; `use` (another process) then works with the same
dict and new objects. MPSHARE_ADDR/MPSHARE_KEY; prints OK last.
"""
import collections
import os
import sys
from multiprocessing.connection import Client
from multiprocessing.managers import BaseManager, DictProxy

host, _, port = os.environ["MPSHARE_ADDR"].rpartition(":")
ADDRESS = (host, int(port))
KEY = os.environ["MPSHARE_KEY"].encode()


class M(BaseManager):
    pass


M.register("shared_dict", proxytype=DictProxy)
M.register("dict", dict, DictProxy)


def main():
    m = M(address=ADDRESS, authkey=KEY)
    m.connect()
    d = m.shared_dict()
    if sys.argv[1] == "store":
        class OnlyHere:  # B cannot unpickle this: its module has no such class
            pass
        globals()["OnlyHere"] = OnlyHere
        OnlyHere.__qualname__ = "OnlyHere"
        cyc = []
        cyc.append(cyc)
        deep = []
        for _ in range(300):
            deep = [deep]
        d["ok"] = 1
        d["cycle"] = cyc
        d["deep"] = deep
        d["foreign"] = OnlyHere()
        try:
            d[collections.OrderedDict(a=1)] = 1
        except TypeError:
            pass
        else:
            raise AssertionError("an OrderedDict key must be refused")
        # Hostile frames on raw authenticated connections.
        for junk in (b"\x80\x04garbage", b"\x80\x04]\x94h\x05.", b"(" * 5000 + b".", b""):
            c = Client(ADDRESS, authkey=KEY)
            c.send_bytes(junk)
            try:
                c.recv()
            except (EOFError, OSError):
                pass
            c.close()
    else:
        assert d["ok"] == 1
        got = d["cycle"]
        assert got[0] is got
        assert len(d["deep"]) == 1
        try:
            d["foreign"]
        except Exception:
            pass  # B's own unpickling fails; the dict is fine
        else:
            raise AssertionError("B should not be able to load OnlyHere")
        assert sorted(d.keys()) == ["cycle", "deep", "foreign", "ok"], d.keys()
        assert "cycle" in str(d)
        fresh = m.dict({"x": 1})
        fresh["y"] = 2
        assert fresh.copy() == {"x": 1, "y": 2}
    print("OK")


if __name__ == "__main__":
    main()
