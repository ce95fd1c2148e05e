#!/usr/bin/env bash
# The GPU rows (issue 29) in one short call of a lent GPU machine, about 8 minutes:
# dense and convolutional epochs through the torch and CuPy backends (benchmarks/gpu.py),
# then chapter-6 rung 1 in full on torch's CUDA device. Everything lands in $OUT; each part
# stops at its own limit (LIMITS), so a slow part leaves the others their time.
#
#   here, once:  mkdir -p .gpu-data && cp ../shared/data/mnist/*.gz .gpu-data/ &&
#                echo /.gpu-data/ >> .git/info/exclude
#   device tool: run(command="bash benchmarks/gpu_check.sh", carry=[".gpu-data"], timeout_s=590)
#
# A dry run on the CPU: DEVICE=cpu ROWS=2000 EPOCHS=1 RUNG=0 bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/nnmath-gpu-check}
DEVICE=${DEVICE:-cuda}
ROWS=${ROWS:-60000}
EPOCHS=${EPOCHS:-2}
RUNG=${RUNG:-1}
BATCHES=${BATCHES:-10,64}
LIMITS=${LIMITS:-"180 150 240"}  # seconds: the torch rows, the CuPy rows, the rung
read -r LIMIT_TORCH LIMIT_CUPY LIMIT_RUNG <<< "$LIMITS"
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1
{
  date -u
  git log -1 --format='commit %H' 2>/dev/null || echo "commit: (no git here)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
  $PY -c 'import sys, numpy, torch; print(sys.version.split()[0], numpy.__version__, torch.__version__)'
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
for backend in torch cupy; do
  limit=$LIMIT_TORCH; [ "$backend" = cupy ] && limit=$LIMIT_CUPY
  timeout "$limit" $PY benchmarks/gpu.py --backend "$backend" --device "$DEVICE" \
    --networks shallow,deep,conv20,ch6 --batch-sizes "$BATCHES" --rows "$ROWS" \
    --epochs "$EPOCHS" --json "$OUT/epochs-$backend.json" 2>&1 | tee "$OUT/epochs-$backend.txt"
done
if [ "$RUNG" != 0 ]; then
  timeout "$LIMIT_RUNG" $PY -m nnmath reproduce nielsen-ch6 --rung "$RUNG" --backend torch \
    --device "$DEVICE" --data .gpu-data --work-dir "$OUT/work" --out "$OUT/rung$RUNG.md" \
    --overwrite 2>&1 | tail -20
fi
ls -la "$OUT"
