"""A producer process and a consumer process over a manager Queue (spawned children pickle proxies)."""
import multiprocessing

from mpcommon import check, connect

N = 300


def producer(q):
    for i in range(N):
        q.put(i)
    q.put(None)


def consumer(q, out):
    total = 0
    while True:
        item = q.get(timeout=30)
        if item is None:
            break
        total += item
    out["total"] = total


if __name__ == "__main__":
    m = connect()
    q = m.Queue(10)
    out = m.dict()
    ctx = multiprocessing.get_context("spawn")
    ps = [ctx.Process(target=producer, args=(q,)), ctx.Process(target=consumer, args=(q, out))]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
        check(p.exitcode == 0, "exit code %r" % p.exitcode)
    check(out["total"] == sum(range(N)), "total %r" % out.get("total"))
    print("OK")
