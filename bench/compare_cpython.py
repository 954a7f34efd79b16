#!/usr/bin/env python3
"""CPython multiprocessing shared state vs mpshare, one table.

    python3 bench/compare_cpython.py [--no-pin] [--json] [--coordination-only]

Builds and runs the Rust side (`cargo run --release --example compare_cpython -- --json --pin`,
honouring CARGO_TARGET_DIR), then times the same operations with this interpreter's
multiprocessing (fork context) and prints one Markdown table with the ratio CPython / mpshare
per row. Single-process rows are pinned to CPU 0 and the two workers of two-process rows to
CPUs 0 and 1, on both sides (unless --no-pin).

The coordination rows (Semaphore, Event, Condition, Barrier, Queue) come from
`cargo run --release --example coordination -- --bench --json`; their two-process rows run
with both processes on CPU 0 ("same CPU") and on CPUs 0 and 1 ("across CPUs"), per round
trip, barrier round or message. `--coordination-only` prints just those rows.
"""
import array
import ctypes
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTX = mp.get_context("fork")
NCPU = os.cpu_count() or 1


def pin(cpu, enabled):
    if enabled and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % NCPU})


def per_op(fn, n, repeat=3):
    """Best of `repeat` runs of fn(n), ns per operation."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter_ns()
        fn(n)
        best = min(best, (time.perf_counter_ns() - t) / n)
    return best


def raw_inc(n):
    v = CTX.RawValue("q", 0)

    def run(n):
        for _ in range(n):
            v.value += 1

    return per_op(run, n)


def get_lock_inc(n):
    v = CTX.Value("q", 0)

    def run(n):
        for _ in range(n):
            with v.get_lock():
                v.value += 1

    return per_op(run, n)


def locked_value_inc(n):
    v = CTX.Value("q", 0)

    def run(n):
        for _ in range(n):
            v.value += 1

    return per_op(run, n)


def _worker(i, v, locked, n, ready, go, ends, do_pin):
    pin(i, do_pin)
    with ready.get_lock():
        ready.value += 1
    go.wait()
    if locked:
        lock = v.get_lock()
        for _ in range(n):
            with lock:
                v.value += 1
    else:
        for _ in range(n):
            v.value += 1
    ends[i] = time.monotonic_ns()


def two_proc(locked, n, do_pin):
    """Two forked workers x n increments; (ns per increment, lost, total)."""
    v = CTX.Value("q", 0) if locked else CTX.RawValue("q", 0)
    ready = CTX.Value("i", 0)
    go = CTX.Event()
    ends = CTX.RawArray("q", 2)
    procs = [CTX.Process(target=_worker, args=(i, v, locked, n, ready, go, ends, do_pin)) for i in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 60
    while ready.value < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    t0 = time.monotonic_ns()
    go.set()
    for p in procs:
        p.join(120)
        if p.is_alive():
            p.kill()
            raise RuntimeError("worker did not finish within 120 s")
    elapsed = max(ends[0], ends[1]) - t0
    total = 2 * n
    final = v.value
    return elapsed / total, total - final, total


def array_in_list(n):
    a = CTX.Array("d", n)
    data = [float(i) for i in range(n)]

    def run(_):
        a[:] = data

    return per_op(run, 1, repeat=5)


def array_in_memmove(n):
    a = CTX.Array("d", n)
    src = array.array("d", (float(i) for i in range(n)))
    addr, _ = src.buffer_info()
    nbytes = n * src.itemsize

    def run(_):
        with a.get_lock():
            ctypes.memmove(ctypes.addressof(a.get_obj()), addr, nbytes)

    return per_op(run, 1, repeat=10)


def array_out_list(n):
    a = CTX.Array("d", n)

    def run(_):
        a[:]

    return per_op(run, 1, repeat=5)


def array_out_bytes(n):
    a = CTX.Array("d", n)

    def run(_):
        with a.get_lock():
            ctypes.string_at(ctypes.addressof(a.get_obj()), n * 8)

    return per_op(run, 1, repeat=10)


def _noop():
    pass


def process_start_join(method, n):
    """multiprocessing.Process(target=noop): start() + join(), ns each (start method `method`)."""
    ctx = mp.get_context(method)

    def run(n):
        for _ in range(n):
            p = ctx.Process(target=_noop)
            p.start()
            p.join()

    return per_op(run, n)


def rust_process_start():
    """mpshare's Process start + join under fork and spawn, from `cargo bench --bench process`
    (criterion's mean), as rows for the table."""
    cargo = shutil.which("cargo")
    if cargo is None:
        return {}
    cmd = [cargo, "bench", "--quiet", "--bench", "process", "--", "process_start/(fork|spawn)$"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return {}
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    rows = {}
    for method, what in (("fork", "Process::new(f) start + join"),
                         ("spawn", "Process::spawn(entry!(f), ..) start + join")):
        path = os.path.join(target, "criterion", "process_start", method, "new", "estimates.json")
        with open(path) as f:
            rows["process_" + method] = {"ns": json.load(f)["mean"]["point_estimate"], "what": what}
    return rows


# ---- Coordination primitives (issue 11): the same workloads as examples/coordination.rs ----

def sem_acq_rel(n):
    s = CTX.Semaphore(1)

    def run(n):
        for _ in range(n):
            s.acquire()
            s.release()

    return per_op(run, n)


def _pair(parent, child, n, cross, do_pin):
    """Time `parent(n)` here against `child(n)` in a forked process; ns per round."""
    ready, go = CTX.Event(), CTX.Event()

    def body():
        pin(1 if cross else 0, do_pin)
        ready.set()
        go.wait()
        child(n)

    p = CTX.Process(target=body)
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    p.start()
    pin(0, do_pin)
    ready.wait(60)
    t = time.perf_counter_ns()
    go.set()
    parent(n)
    took = time.perf_counter_ns() - t
    p.join(120)
    if p.is_alive():
        p.kill()
        raise RuntimeError("child did not finish within 120 s")
    if saved is not None:
        os.sched_setaffinity(0, saved)
    return took / n


def event_pingpong(n, cross, do_pin):
    a, b = CTX.Event(), CTX.Event()

    def parent(n):
        for _ in range(n):
            a.set(); b.wait(); b.clear()

    def child(n):
        for _ in range(n):
            a.wait(); a.clear(); b.set()

    return _pair(parent, child, n, cross, do_pin)


def condition_pingpong(n, cross, do_pin):
    cond, turn = CTX.Condition(CTX.Lock()), CTX.RawValue("i", 0)

    def parent(n):
        with cond:
            for _ in range(n):
                turn.value = 1
                cond.notify()
                while turn.value == 1:
                    cond.wait()

    def child(n):
        with cond:
            for _ in range(n):
                while turn.value == 0:
                    cond.wait()
                turn.value = 0
                cond.notify()

    return _pair(parent, child, n, cross, do_pin)


def barrier_rounds(n, cross, do_pin):
    b = CTX.Barrier(2)

    def both(n):
        for _ in range(n):
            b.wait()

    return _pair(both, both, n, cross, do_pin)


MSG = b"x" * 64


def queue_throughput(n, cross, do_pin):
    q = CTX.Queue()

    def parent(n):
        for _ in range(n):
            q.get()

    def child(n):
        for _ in range(n):
            q.put(MSG)
        q.close()
        q.join_thread()

    return _pair(parent, child, n, cross, do_pin)


def queue_pingpong(n, cross, do_pin):
    a, b = CTX.Queue(), CTX.Queue()

    def parent(n):
        for _ in range(n):
            a.put(MSG)
            b.get()

    def child(n):
        for _ in range(n):
            b.put(a.get())

    return _pair(parent, child, n, cross, do_pin)


def coordination_side(do_pin):
    """The mpshare side of the coordination rows: examples/coordination.rs --bench --json."""
    cargo = shutil.which("cargo")
    if cargo is None:
        return None
    out = subprocess.run(
        [cargo, "run", "--quiet", "--release", "--example", "coordination", "--", "--bench", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit("cargo run --example coordination failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def coordination_py(do_pin):
    py = {}
    pin(0, do_pin)
    py["sem"] = sem_acq_rel(200_000)
    for cross, tag in ((False, "same"), (True, "cross")):
        py["event_pingpong_" + tag] = event_pingpong(2000, cross, do_pin)
        py["condition_pingpong_" + tag] = condition_pingpong(2000, cross, do_pin)
        py["barrier_" + tag] = barrier_rounds(2000, cross, do_pin)
        py["queue_throughput_" + tag] = queue_throughput(100_000, cross, do_pin)
        py["queue_pingpong_" + tag] = queue_pingpong(2000, cross, do_pin)
    return py


COORD_ROWS = [
    # label, CPython op, python key, mpshare key
    ("Semaphore acquire + release", "s.acquire(); s.release()", "sem", "sem_mpshare"),
] + [row for tag, where in (("same", "same CPU"), ("cross", "across CPUs")) for row in (
    ("Event ping-pong, " + where, "a.set(); b.wait(); b.clear()", "event_pingpong_" + tag, "event_pingpong_" + tag),
    ("Condition ping-pong, " + where, "notify(); wait() on a turn", "condition_pingpong_" + tag, "condition_pingpong_" + tag),
    ("Barrier(2) round, " + where, "b.wait()", "barrier_" + tag, "barrier_" + tag),
    ("Queue 64 B message, " + where, "q.put(b) -> q.get()", "queue_throughput_" + tag, "queue_throughput_" + tag),
    ("Queue 64 B ping-pong, " + where, "a.put(m); b.get()", "queue_pingpong_" + tag, "queue_pingpong_" + tag),
)]


def rust_side(do_pin):
    cargo = shutil.which("cargo")
    if cargo is None:
        print("mpshare side skipped: cargo not found on PATH", file=sys.stderr)
        return None
    cmd = [cargo, "run", "--quiet", "--release", "--example", "compare_cpython", "--", "--json"]
    if do_pin:
        cmd.append("--pin")
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit("cargo run --example compare_cpython failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    do_pin = "--no-pin" not in sys.argv
    as_json = "--json" in sys.argv
    only_coord = "--coordination-only" in sys.argv
    coord = coordination_side(do_pin)
    rust = {} if only_coord else rust_side(do_pin)  # first, so cargo builds with every CPU
    if coord is not None and rust is not None:
        rust.update(coord)
    py = coordination_py(do_pin) if coord is not None else {}
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pin(0, do_pin)
    n = 10 ** 6
    py.update({} if only_coord else {
        "raw_inc": raw_inc(n),
        "get_lock_inc": get_lock_inc(n // 2),
        "locked_value_inc": locked_value_inc(n // 2),
        "array_in_list": array_in_list(n),
        "array_in_memmove": array_in_memmove(n),
        "array_out_list": array_out_list(n),
        "array_out_bytes": array_out_bytes(n),
    })
    if saved is not None:
        os.sched_setaffinity(0, saved)
    if not only_coord:
        py["two_proc_locked"] = two_proc(True, 200_000, do_pin)
        py["two_proc_lockless"] = two_proc(False, 1_000_000, do_pin)
        py["process_fork"] = process_start_join("fork", 200)
        py["process_spawn"] = process_start_join("spawn", 20)
        if rust is not None:
            rust.update(rust_process_start())

    rows = [
        # label, CPython op, python key, mpshare op, rust key, unit
        ("RawValue increment", "v.value += 1", "raw_inc", "raw_inc"),
        ("locked increment, lock held", "with v.get_lock(): v.value += 1", "get_lock_inc", "guard_inc"),
        ("locked get + locked set (racy)", "v.value += 1 on a Value", "locked_value_inc", "locked_get_set"),
        ("2 processes, lock held", "with v.get_lock(): v.value += 1", "two_proc_locked", "two_proc_locked"),
        ("2 processes, lockless", "v.value += 1 on a RawValue", "two_proc_lockless", "two_proc_lockless"),
        ("Array('d', 10**6) copy in", "a[:] = list", "array_in_list", "array_in"),
        ("Array('d', 10**6) copy in", "ctypes.memmove under the lock", "array_in_memmove", "array_in"),
        ("Array('d', 10**6) copy out", "a[:] -> list", "array_out_list", "array_out"),
        ("Array('d', 10**6) copy out", "ctypes.string_at under the lock", "array_out_bytes", "array_out"),
        ("start + join a process, fork", "Process(target=f) (fork)", "process_fork", "process_fork"),
        ("start + join a process, spawn", "Process(target=f) (spawn)", "process_spawn", "process_spawn"),
    ]
    if only_coord:
        rows = []
    if coord is not None:
        rows += COORD_ROWS
    version = "%d.%d.%d" % sys.version_info[:3]
    table = []
    for label, pyop, pk, rk in rows:
        p = py[pk]
        p_ns, p_lost = (p[0], "%d of %d" % (p[1], p[2])) if isinstance(p, tuple) else (p, "")
        r = rust.get(rk) if rust else None
        r_ns = r["ns"] if r else None
        r_lost = "%d of %d" % (r["lost"], r["total"]) if r and "lost" in r else ""
        table.append({
            "case": label, "cpython_op": pyop, "cpython_ns": p_ns, "cpython_lost": p_lost,
            "mpshare_op": r["what"] if r else "", "mpshare_ns": r_ns, "mpshare_lost": r_lost,
            "ratio": (p_ns / r_ns) if r_ns else None,
        })
    if as_json:
        print(json.dumps({"python": version, "pinned": do_pin, "rows": table}, indent=1))
        return

    def t(ns):
        if ns is None:
            return "–"
        if ns >= 1e6:
            return "%.2f ms" % (ns / 1e6)
        if ns >= 1e3:
            return "%.2f µs" % (ns / 1e3)
        return "%.2f ns" % ns

    print("CPython %s vs mpshare, %d CPUs, %s" % (version, NCPU, "pinned" if do_pin else "not pinned"))
    print()
    print("| case | CPython | CPython time | lost | mpshare | mpshare time | lost | CPython / mpshare |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for r in table:
        ratio = "%.1f×" % r["ratio"] if r["ratio"] else "–"
        print("| %s | `%s` | %s | %s | `%s` | %s | %s | %s |" % (
            r["case"], r["cpython_op"], t(r["cpython_ns"]), r["cpython_lost"],
            r["mpshare_op"], t(r["mpshare_ns"]), r["mpshare_lost"], ratio))
    print()
    print("Times are per increment (two-process rows: wall time / total increments) or per "
          "1e6-element copy, or per process started and joined. Ratio > 1 means mpshare is faster.")


if __name__ == "__main__":
    main()
