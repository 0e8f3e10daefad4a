#!/bin/bash
# Share of the DCGAN step's wall time spent inside GEMM, measured with perf (Linux):
# sample the main thread of `python -m minigan.bench --train-steps N` and count the samples
# that fall in BLAS (OpenBLAS's sgemm/sgemv kernels, packing routines, thread dispatch and
# the wait for the BLAS worker thread) and in numpy's matmul wrapper. The main thread is
# busy for the whole step (it runs every non-GEMM op, and waits inside exec_blas while the
# worker finishes its half of a GEMM), so its samples stand for wall time.
#
#   scripts/gemm_share.sh [PYTHON] [STEPS]        e.g. scripts/gemm_share.sh .venv/bin/python 20
set -e
PY=${1:-python}
STEPS=${2:-20}
DATA=$(mktemp /tmp/gemm_share.XXXXXX)
perf record -q -F 1999 -o "$DATA" "$PY" -m minigan.bench --train-steps "$STEPS" 2>/dev/null
MAIN=$(perf report -i "$DATA" --stdio --sort pid 2>/dev/null | awk '/:/ && !/^#/ {split($2, a, ":"); print a[1]}' | sort -n | head -1)
perf report -i "$DATA" --stdio --tid "$MAIN" --sort sym --percentage relative 2>/dev/null \
    | grep -v '^#' | grep . > "$DATA.txt"
echo "top symbols of the main thread (tid $MAIN):"
head -15 "$DATA.txt"
# note: the samples also cover model set-up, which is small next to STEPS steps
python3 - "$DATA.txt" <<'PY'
import json, re, sys
rows = [l.split(None, 2) for l in open(sys.argv[1])]
gemm = re.compile(r"gemm|gemv|inner_thread|exec_blas|blas_|FLOAT_matmul")
total = sum(float(r[0].rstrip('%')) for r in rows)
share = sum(float(r[0].rstrip('%')) for r in rows if gemm.search(r[2]))
print(json.dumps({"name": "gemm_share_perf", "share_of_step_in_gemm": round(share / total, 3)}))
PY
rm -f "$DATA" "$DATA.txt"
