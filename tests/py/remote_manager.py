"""Python's documented 'Using a remote manager' clients, run against `mpshare serve --object ...`.

Roles (argv[1]):
  producer   the documentation's first client: register('get_queue'), connect, put('hello')
  consumer   the second client: get() returns 'hello'
  counter N  a process that adds 1 to shared_dict['n'] N times, each under login_lock
  check N    shared_dict['n'] == N and the queue is empty

MPSHARE_ADDR is host:port, MPSHARE_KEY the authkey. Prints OK last on success.
"""
import os
import sys
from multiprocessing.managers import AcquirerProxy, BaseManager, DictProxy

host, _, port = os.environ["MPSHARE_ADDR"].rpartition(":")
ADDRESS = (host, int(port))
AUTHKEY = os.environ["MPSHARE_KEY"].encode()


# --- verbatim from the documentation (address and authkey from the environment) ---
class QueueManager(BaseManager): pass
QueueManager.register('get_queue')
# --- the shared dict and lock of a two-process program ---
QueueManager.register('shared_dict', proxytype=DictProxy)
QueueManager.register('login_lock', proxytype=AcquirerProxy)


def manager():
    m = QueueManager(address=ADDRESS, authkey=AUTHKEY)
    m.connect()
    return m


def main():
    role = sys.argv[1]
    m = manager()
    if role == "producer":
        queue = m.get_queue()
        queue.put('hello')
    elif role == "consumer":
        queue = m.get_queue()
        got = queue.get(timeout=10)
        assert got == 'hello', got
    elif role == "counter":
        n = int(sys.argv[2])
        d = m.shared_dict()
        lock = m.login_lock()
        for _ in range(n):
            with lock:
                d['n'] = d.get('n', 0) + 1
    elif role == "check":
        n = int(sys.argv[2])
        d = m.shared_dict()
        assert d['n'] == n, (d['n'], n)
        assert m.get_queue().qsize() == 0
        # every call returns the one object: a second proxy sees the same dict
        assert m.shared_dict().get('n') == n
    else:
        raise SystemExit(f"unknown role {role}")
    print("OK")


if __name__ == "__main__":
    main()
