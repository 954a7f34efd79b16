#!/usr/bin/env python3
"""Print criterion results as Markdown tables, one per group.

Usage: python3 bench/summarize.py [CRITERION_DIR] [GROUP ...]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion or target/criterion.
Columns: median time per iteration, its ratio to the group's first row (or to the row named
by --base=NAME), and throughput (GB/s for byte throughput, Mops/s otherwise).
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


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    base = None
    for a in sys.argv[1:]:
        if a.startswith("--base="):
            base = a.split("=", 1)[1]
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
        ref = next((r for r in rows if base and r[0].endswith("/" + base)), rows[0])
        print("\n### %s\n" % group)
        print("| benchmark | median | vs %s | throughput |" % ref[0].split("/", 1)[1])
        print("|---|---:|---:|---:|")
        for name, ns, tp, _ in rows:
            if "Bytes" in tp:
                thr = "%.2f GB/s" % (tp["Bytes"] / ns)
            elif "Elements" in tp:
                thr = "%.1f Melem/s" % (tp["Elements"] / ns * 1e3)
            else:
                thr = "%.1f Mops/s" % (1e3 / ns)
            print("| %s | %s | %.2f× | %s |" % (name.split("/", 1)[1], fmt_time(ns), ns / ref[1], thr))


if __name__ == "__main__":
    main()
