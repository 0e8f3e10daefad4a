#!/bin/bash
# Share of the DCGAN step's wall time spent inside GEMM, measured with perf (Linux):
# sample the main thread of `python -m minigan.bench --train-steps N` and count the samples
# that fall in BLAS (OpenBLAS's sgemm/sgemv kernels, packing routines, thread dispatch and
# the wait for the BLAS worker thread) and in numpy's matmul wrapper. The main thread is
# busy for the whole step (it runs every non-GEMM op, and waits inside exec_blas while the
# worker finishes its half of a GEMM), so its samples stand for wall time.
#
#   scripts/gemm_share.sh [PYTHON] [STEPS]        e.g. scripts/gemm_share.sh .venv/bin/python 30
# (set DELAY_MS to start sampling later or earlier than 2.5 s after launch)
set -e
PY=${1:-python}
STEPS=${2:-30}
DATA=$(mktemp /tmp/gemm_share.XXXXXX)
# --delay skips the first seconds (imports, model set-up, first touch of the heap)
perf record -q -F 1999 --delay "${DELAY_MS:-2500}" -o "$DATA" "$PY" -m minigan.bench --train-steps "$STEPS" 2>/dev/null
perf report -i "$DATA" --stdio --sort pid,sym 2>/dev/null | grep -v '^#' | grep . > "$DATA.txt"
python3 - "$DATA.txt" <<'PY'
import collections, json, re, sys
gemm = re.compile(r"gemm|gemv|inner_thread|exec_blas|blas_|FLOAT_matmul")
total, in_gemm, rows = collections.Counter(), collections.Counter(), collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 4 or not parts[0].endswith('%'):
        continue
    pct, tid, sym = float(parts[0][:-1]), parts[1].split(':')[0], parts[-1]
    total[tid] += pct
    rows[tid].append((pct, sym))
    if gemm.search(sym):
        in_gemm[tid] += pct
# the main thread is the one running NumPy's own loops (the BLAS worker only runs BLAS)
main = max(total, key=lambda t: total[t] - in_gemm[t])
print(f"top symbols of the main thread (tid {main}), % of its samples:")
for pct, sym in sorted(rows[main], reverse=True)[:15]:
    print(f"  {100 * pct / total[main]:6.2f}%  {sym}")
print(json.dumps({"name": "gemm_share_perf", "share_of_step_in_gemm": round(in_gemm[main] / total[main], 3)}))
PY
rm -f "$DATA" "$DATA.txt"
