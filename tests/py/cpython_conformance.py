"""CPython's own manager tests, pointed at a running mpshare server.

Loads the interpreter's test package (test._test_multiprocessing, shipped with every CPython),
builds the manager test classes exactly as CPython's test_multiprocessing_fork does
(install_tests_in_module_dict(..., 'fork', only_type='manager')), plus TestSyncManagerTypes,
and replaces the manager each class would start with a SyncManager connected to the server at
MPSHARE_ADDR (host:port, or a Unix socket path) with the authkey MPSHARE_KEY. Nothing else of
the tests is changed.

Prints one line per test ("PASS name", "FAIL name", "ERROR name", "SKIP name: why",
"EXCLUDED name: why") and a final summary line:
    CONFORMANCE python=3.12.1 run=N passed=N failed=N errors=N skipped=N excluded=N

Exit status 0 when nothing failed.

Usage: MPSHARE_ADDR=127.0.0.1:50000 MPSHARE_KEY=secret python3.12 cpython_conformance.py [-v]
       [--only PATTERN]

MPSHARE_CONFORMANCE_EXCLUDE adds exclusions for one kind of server, one "NAME: reason" a line
(NAME as in EXCLUDED: a class, or Class.test_method).
MPSHARE_CONFORMANCE_TEST_TIMEOUT=SECONDS fails a test still running after SECONDS (SIGALRM in the
main thread; the cached manager connections are dropped so the next test starts clean) instead
of hanging the whole run.
"""

import multiprocessing
import multiprocessing.managers
import os
import signal
import sys
import time
import unittest

# Tests that cannot run against any long-running remote server, with the reason. Keyed by the
# method name (the class part is any WithManagerTest*/TestSyncManagerTypes class). Everything not
# listed here runs, unchanged.
EXCLUDED = {
    # Starts a Pool inside the manager process: a manager server that runs Python callables. The
    # mpshare server never runs client code; creating one gives a clear error instead (tested in
    # tests/parity_cpython.rs).
    "WithManagerTestPool": "Pool runs Python callables inside the server (mpshare never runs client code)",
    # Barrier(action=callable) would have the server call a Python function.
    "TestSyncManagerTypes.test_pool": "Pool runs Python callables inside the server (mpshare never runs client code)",
    # Barrier(action=callable) would have the server call a Python function.
    "WithManagerTestBarrier.test_action": "Barrier(action=...) runs a Python callable inside the server",
}

# More exclusions for one kind of server (e.g. `mpshare serve --store redis://...`), from the
# environment: one "NAME: reason" per line, NAME keyed as in EXCLUDED. Printed like the others.
EXTRA_EXCLUDED_ENV = "MPSHARE_CONFORMANCE_EXCLUDE"


def extra_exclusions(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, why = line.partition(":")
        if not sep or not why.strip():
            raise SystemExit(f"{EXTRA_EXCLUDED_ENV}: expected 'NAME: reason', found {line!r}")
        out[name.strip()] = why.strip()
    return out


EXCLUDED.update(extra_exclusions(os.environ.get(EXTRA_EXCLUDED_ENV, "")))

ADDR_ENV = os.environ.get("MPSHARE_ADDR")
KEY = os.environ.get("MPSHARE_KEY", "").encode()


def parse_address(text):
    if text.startswith("/") or text.startswith("unix:"):
        return text[5:] if text.startswith("unix:") else text
    host, _, port = text.rpartition(":")
    return (host, int(port))


ADDRESS = parse_address(ADDR_ENV) if ADDR_ENV else None


class RemoteManager(multiprocessing.managers.SyncManager):
    """A SyncManager that connects to the mpshare server instead of starting its own process.

    start() connects; shutdown()/join() only drop this client (the server keeps serving the
    next test class)."""

    def __init__(self, *args, **kwds):
        super().__init__(address=ADDRESS, authkey=KEY)

    def start(self, *args, **kwds):
        self.connect()

    def shutdown(self):
        pass

    def join(self, timeout=None):
        pass


def connected_manager():
    m = RemoteManager()
    m.connect()
    return m


TEST_TIMEOUT = float(os.environ.get("MPSHARE_CONFORMANCE_TEST_TIMEOUT", "0") or 0)


class TestTimeout(Exception):
    pass


def drop_cached_connections():
    """Closes this process's cached proxy connections: a call abandoned mid-way would leave its
    reply unread on them, and the next call would read it."""
    for tls, _ in list(multiprocessing.managers.BaseProxy._address_to_local.values()):
        conn = getattr(tls, "connection", None)
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
            del tls.connection


def on_alarm(signum, frame):
    drop_cached_connections()
    raise TestTimeout(f"still running after {TEST_TIMEOUT:g} s "
                      "(MPSHARE_CONFORMANCE_TEST_TIMEOUT); abandoned")


class Result(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.passed = []

    def startTest(self, test):
        super().startTest(test)
        if TEST_TIMEOUT > 0:
            signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)

    def stopTest(self, test):
        # Re-armed, not disarmed: a class's tearDownClass/setUpClass that hangs (e.g. a decref
        # during its garbage collection) is abandoned too. Disarmed after the run.
        if TEST_TIMEOUT > 0:
            signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
        super().stopTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test)


def test_name(test):
    return f"{type(test).__name__}.{test._testMethodName}"


def main():
    if ADDRESS is None or not KEY:
        print("set MPSHARE_ADDR and MPSHARE_KEY", file=sys.stderr)
        return 2
    only = None
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1]
    verbose = "-v" in sys.argv

    # Every process of the run (the tests fork children) proves this key to the server.
    multiprocessing.current_process().authkey = KEY
    # The manager the test classes start becomes a client of the mpshare server.
    multiprocessing.Manager = connected_manager

    try:
        import test._test_multiprocessing as tm
    except ImportError as e:
        print(f"CONFORMANCE-UNAVAILABLE this interpreter has no test package: {e}")
        return 3

    globs = {"__name__": "mpshare_conformance"}
    tm.install_tests_in_module_dict(globs, "fork", only_type="manager")

    class TestSyncManagerTypes(tm.TestSyncManagerTypes):
        manager_class = RemoteManager

    TestSyncManagerTypes.__module__ = "mpshare_conformance"
    globs["TestSyncManagerTypes"] = TestSyncManagerTypes

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    excluded = []
    for name, cls in sorted(globs.items()):
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        if name in EXCLUDED:
            for m in loader.getTestCaseNames(cls):
                excluded.append((f"{name}.{m}", EXCLUDED[name]))
            continue
        names = []
        for m in loader.getTestCaseNames(cls):
            full = f"{name}.{m}"
            if full in EXCLUDED:
                excluded.append((full, EXCLUDED[full]))
            elif only is None or only in full:
                names.append(m)
        suite.addTests(cls(m) for m in names)

    if TEST_TIMEOUT > 0:
        signal.signal(signal.SIGALRM, on_alarm)
    globs["setUpModule"]()
    t0 = time.monotonic()
    stream = sys.stderr if verbose else open(os.devnull, "w")
    runner = unittest.TextTestRunner(stream=stream, verbosity=2 if verbose else 0,
                                     resultclass=Result)
    try:
        result = runner.run(suite)
    finally:
        if TEST_TIMEOUT > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            globs["tearDownModule"]()
        except Exception as e:  # dangling-process bookkeeping of the test package
            print(f"tearDownModule: {e!r}", file=sys.stderr)
    elapsed = time.monotonic() - t0

    for t in result.passed:
        print(f"PASS {test_name(t)}")
    for t, why in result.skipped:
        print(f"SKIP {test_name(t)}: {why}")
    for t, tb in result.failures:
        print(f"FAIL {test_name(t)}\n{tb}")
    for t, tb in result.errors:
        name = test_name(t) if isinstance(t, unittest.TestCase) else str(t)
        print(f"ERROR {name}\n{tb}")
    for name, why in excluded:
        print(f"EXCLUDED {name}: {why}")
    v = sys.version_info
    print(f"CONFORMANCE python={v.major}.{v.minor}.{v.micro} run={result.testsRun} "
          f"passed={len(result.passed)} failed={len(result.failures)} "
          f"errors={len(result.errors)} skipped={len(result.skipped)} "
          f"excluded={len(excluded)} seconds={elapsed:.1f}")
    sys.stdout.flush()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
