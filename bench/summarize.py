#!/usr/bin/env python3
"""Print criterion results as Markdown tables, one per group.

Usage: python3 bench/summarize.py [CRITERION_DIR] [GROUP ...]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion or target/criterion.
Columns: median time per iteration, its ratio to the group's reference row (BASES below; for
sized benches the reference of the same size), and throughput (GB/s for byte throughput,
Mops/s otherwise).
"""
import json
import os
import sys


def fmt_time(ns):
    if ns < 1:
        return "%.2f ps" % (ns * 1e3)
    if ns < 1e3:
        return "%.2f ns" % ns
    if ns < 1e6:
        return "%.2f µs" % (ns / 1e3)
    return "%.2f ms" % (ns / 1e6)


def load(root, group):
    rows = []
    gdir = os.path.join(root, group)
    for dirpath, _dirs, files in os.walk(gdir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        ns = est["median"]["point_estimate"]
        tp = meta.get("throughput") or {}
        rows.append((meta.get("full_id") or meta["title"], ns, tp, os.path.getmtime(dirpath)))
    rows.sort(key=lambda r: r[0])
    return rows


# The row each group's ratios are taken against (same size suffix, e.g. memcpy/8MB).
BASES = {
    "cell_increment": "atomic_fetch_add",
    "cell_get": "rawvalue_get",
    "contended_2proc": "ref_pthread_plain",
    "lock_round_trip": "ref_pthread_robust_recursive",
    "copy_in": "memcpy",
    "copy_out": "memcpy",
    "element": "rawarray_get",
    "sum_1M_f64": "vec",
}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = None
    if args and os.path.isdir(args[0]):
        root = args.pop(0)
    if root is None:
        tgt = os.environ.get("CARGO_TARGET_DIR", "target")
        root = os.path.join(tgt, "criterion")
    groups = args or sorted(g for g in os.listdir(root) if g != "report")
    for group in groups:
        rows = load(root, group)
        if not rows:
            continue
        by_id = {r[0].split("/", 1)[1]: r for r in rows}
        base = BASES.get(group)
        print("\n### %s\n" % group)
        print("| benchmark | median | vs %s | throughput |" % (base or "first row"))
        print("|---|---:|---:|---:|")
        for name, ns, tp, _ in rows:
            bench = name.split("/", 1)[1]
            suffix = bench.split("/", 1)[1] if "/" in bench else None
            ref = by_id.get(base + "/" + suffix if suffix else base) if base else rows[0]
            ref = ref or rows[0]
            if "Bytes" in tp:
                thr = "%.2f GB/s" % (tp["Bytes"] / ns)
            elif "Elements" in tp:
                thr = "%.1f Melem/s" % (tp["Elements"] / ns * 1e3)
            else:
                thr = "%.1f Mops/s" % (1e3 / ns)
            print("| %s | %s | %.2f× | %s |" % (bench, fmt_time(ns), ns / ref[1], thr))


if __name__ == "__main__":
    main()
