#!/usr/bin/env bash
# Issue 24, point 4: tools/bench_accelerator.py (BERT-base, seq 128, batch 256, bf16) on a lent
# GPU machine, in one command; the JSON and the log land in $OUT.
#
# The GPU machine (/work/.library/device/KINDS.md) has Python 3.12, JAX with CUDA, PyTorch,
# transformers and tokenizers, but no Keras, no keras-hub, no TensorFlow and no network.
# tfbert travels as the working tree the tool sends (the session's checkout: branch `accel`
# must be merged there first). Keras, keras-hub and the two packages Keras needs that the
# image lacks (namex, optree) travel as wheels in the git-ignored .whl/ folder (4.6 MB);
# keras-hub's other needs are there already or unused here (tensorflow-text, kagglehub:
# BertMaskedLM built from a config, no preset, imports without them).
#
# 1. Here, once, in the repository root, fill .whl/ (exactly one version of each):
#
#      python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#        keras==3.15.1 keras-hub==0.32.0 namex==0.1.0 optree==0.20.0
#
# 2. One device call (about 6 to 8 minutes of a 15-minute lease; each variant is cut off
#    after 240 s):
#
#      run(command="bash tools/accelerator_device.sh", carry=[".whl"], timeout_s=570)
#
#    The table is the last thing printed; $OUT/accelerator.json and $OUT/accelerator.log come
#    back. Copy the JSON to runs/benchmarks/accelerator.json and run
#    `.venv/bin/python tools/benchmarks.py --render-only` to put it into BENCHMARKS.md.
#
# Arguments go to bench_accelerator.py after the defaults below (so `--steps 10` overrides).
# Here, on a CPU: OUT=/tmp/acc PYTHON=.venv/bin/python bash tools/accelerator_device.sh
#   --config tiny --batch 8 --seq 32 --steps 1 --rounds 1   (with wheels for this Python).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/device}
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
mkdir -p "$OUT"

if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "accelerator_device.sh: no wheels in .whl/; fill it with the pip download command" \
         "in this script's header, and carry it (carry=[\".whl\"])" >&2
    exit 2
fi
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{
    echo "== machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
        --format=csv 2>&1 || echo "nvidia-smi: not available"
    KERAS_BACKEND=jax "$PYTHON" - <<'EOF'
import importlib, sys
for name in ("jax", "jaxlib", "keras", "keras_hub", "torch", "transformers", "numpy"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except ImportError as error:
        print(f"{name}: not importable ({error})")
import jax
print("jax devices:", jax.devices())
print("tensorflow loaded:", "tensorflow" in sys.modules)
EOF
    echo "== benchmark"
} 2>&1 | tee "$OUT/accelerator.log"

set -o pipefail
"$PYTHON" tools/bench_accelerator.py --variants tfbert-jax,hf-compile,keras-hub-jax,hf-eager \
    --timeout 240 --json "$OUT/accelerator.json" "$@" 2>&1 | tee -a "$OUT/accelerator.log"
