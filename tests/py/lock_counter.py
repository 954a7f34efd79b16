"""4 processes x 500 increments of a manager Value under a manager Lock: exactly 2000."""
import multiprocessing

from mpcommon import check, connect

N_PROC, N_INC = 4, 500


def worker(lock, counter):
    for _ in range(N_INC):
        with lock:
            counter.value = counter.value + 1


if __name__ == "__main__":
    m = connect()
    lock = m.Lock()
    counter = m.Value("i", 0)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=worker, args=(lock, counter)) for _ in range(N_PROC)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        check(p.exitcode == 0, "worker exit code %r" % p.exitcode)
    check(counter.value == N_PROC * N_INC, "counter %r" % counter.value)
    print("OK")
