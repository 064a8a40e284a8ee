#!/usr/bin/env bash
# Run the CUDA tests of the Mamba2 backbone and the CUDA section of
# bench_backbone.py in one go, printing everything. The two steps are capped
# at 240 s and 210 s, so the script ends within 8 minutes. Run from the
# repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]
#
# mamba-ssm and causal-conv1d must import for the fused comparisons. Without
# them the script still tests and times the PyTorch path on the GPU and prints
# why the fused path was skipped.
# NOTE: not yet run on a GPU. Triton compiles and autotunes mamba-ssm's
# kernels on first use, which may take a large part of the test step.
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
OUT_DIR="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

echo "== environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" - <<'PY'
import importlib
import torch
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
for name in ("triton", "mamba_ssm", "causal_conv1d", "torch_geometric"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except Exception as error:  # report every kind of import failure
        print(f"{name} not importable: {type(error).__name__}: {error}")
PY

echo "== CUDA tests"
timeout 240 "$PYTHON" -m pytest -p no:cacheprovider -v -rs tests/nn/test_cuda_mamba2.py \
    2>&1 | tee "$OUT_DIR/cuda_tests.log"
test_status=${PIPESTATUS[0]}

echo "== CUDA benchmark"
timeout 210 "$PYTHON" benchmarks/bench_backbone.py --cuda-only --repeats 3 \
    --json "$OUT_DIR/bench_backbone_cuda.json" 2>&1 | tee "$OUT_DIR/bench_cuda.log"
bench_status=${PIPESTATUS[0]}

echo "== done: tests exit $test_status, benchmark exit $bench_status (124 = timed out)"
exit $(( test_status != 0 || bench_status != 0 ))
