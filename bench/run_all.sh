#!/bin/sh
# Every measurement in BENCHMARKS.md, in one go, as Markdown on stdout:
#   sh bench/run_all.sh | tee /tmp/mpshare-bench.md
# Honours CARGO_TARGET_DIR. Takes about 5 minutes on 2 cores.
set -e
cd "$(dirname "$0")/.."
TGT="${CARGO_TARGET_DIR:-target}"
echo "## Machine"
echo
echo '```'
uname -srm
grep -m1 'model name' /proc/cpuinfo || true
echo "CPUs: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
ldd --version 2>&1 | head -1
rustc --version
python3 --version 2>&1 || echo "python3: not found"
echo '```'
cargo build --quiet --release --examples --benches
rm -rf "$TGT/criterion"
echo
echo "## cargo bench"
start=$(date +%s)
cargo bench --quiet >"$TGT/bench-run.log" 2>&1
echo
echo "cargo bench (all groups) took $(( $(date +%s) - start )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep 'racy: lost' "$TGT/bench-run.log" || true
python3 bench/summarize.py "$TGT/criterion"
echo
echo "## lock_vs_lockless (defaults: 4 workers x 1e6, not pinned)"
echo
"$TGT/release/examples/lock_vs_lockless"
echo
echo "## lock_vs_lockless --workers 2 --increments 5000000 --pin"
echo
"$TGT/release/examples/lock_vs_lockless" --workers 2 --increments 5000000 --pin
echo
echo "## numeric_pipeline"
echo
"$TGT/release/examples/numeric_pipeline"
echo
echo "## compare_cpython"
echo
if command -v python3 >/dev/null 2>&1; then
    python3 bench/compare_cpython.py
else
    echo "skipped: python3 not found"
fi
echo
echo "## shared_memory: 8 MiB copies (interleaved) and CPython's own shared_memory costs"
echo
"$TGT/release/examples/shared_memory_copy"
for v in 3.11 3.12 3.13; do
  if command -v "python$v" >/dev/null 2>&1 && "python$v" -c '' >/dev/null 2>&1; then
    echo; "python$v" bench/shared_memory_python.py
  fi
done
echo
echo "## coordination: each primitive next to its C/kernel floor (same CPU / across CPUs)"
echo "(the CPython rows for these are in the compare_cpython table above)"
echo
"$TGT/release/examples/coordination" --bench 2>/dev/null
echo
"$TGT/release/examples/coordination"
