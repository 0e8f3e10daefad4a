#!/bin/bash
# The GPU checks in one call (about 5 minutes on an H200 with CuPy 14):
# versions, the bench on the device, tests/test_gpu.py on real CuPy, and the step against
# PyTorch CUDA eager for three networks. Writes its logs to $OUT (or ./gpu-check).
#     bash scripts/gpu_check.sh
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-gpu-check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
{ nvidia-smi -L; python3 -c "import sys, numpy, cupy, torch; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"; } 2>&1 | tee "$OUT/env.txt"
echo "== bench"; timeout 100 python3 -m minigan.bench --device gpu --repeats 10 2>&1 | tee "$OUT/bench_gpu.txt"
echo "== tests"; timeout 300 python3 -m pytest -q -p no:cacheprovider -rfE tests/test_gpu.py 2>&1 | tee "$OUT/test_gpu.txt" | tail -20
echo "== compare"
for net in small fc cgan; do
  timeout 45 python3 scripts/torch_compare.py --device cuda --network $net --minigan python3 --pairs 3 2>&1 | tee -a "$OUT/compare.txt"
done
