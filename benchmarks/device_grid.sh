#!/usr/bin/env bash
# The verdict grid's large datasets on a GPU machine: trains the unfinished
# runs of DD and REDDIT-BINARY (seed by seed) for BUDGET_S seconds (default
# 480, under the 9 minutes of one call), writing embeddings and training
# records into $OUT (see benchmarks/device_grid.py). Then, here:
#   python benchmarks/device_grid.py score --config configs/verdict.yaml --fetched DIR
#   hngraph grid run configs/verdict.yaml --datasets DD REDDIT-BINARY \
#       --cells hard-nested-paper hard-nested-hcl-code
# CPU mode (for tests): DEVICE=cpu CONFIG=... DATASETS=... bash device_grid.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the files go to}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python benchmarks/device_grid.py train \
    --config "${CONFIG:-configs/verdict.yaml}" \
    --datasets ${DATASETS:-DD REDDIT-BINARY} ${SEEDS:+--seeds $SEEDS} \
    --device "${DEVICE:-cuda}" --budget-s "${BUDGET_S:-480}" --out "$OUT"
