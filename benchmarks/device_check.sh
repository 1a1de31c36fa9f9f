#!/usr/bin/env bash
# Every GPU measurement the open work needs, in one call to a GPU machine
# (under 9 minutes on an H100 or H200), its files in $OUT (8 at most):
#   $OUT/speed/: speed.py's `floor` (fit against its compute floor, graphs/s),
#     `throughput` and `views` (GraphCL's views per graph on the host, on
#     loader batches and on device batches) on the device, and SPEED.md;
#   $OUT/grid.tgz: the train stage of the verdict grid's unfinished DD and
#     REDDIT-BINARY runs (`hngraph grid run --stage train`, seeds SEEDS), for
#     GRID_BUDGET_S seconds: each run's embeddings and model, packed in one
#     file. A run cut off by the budget is lost; the finished ones are kept.
# Here, afterwards: copy $OUT/speed/*.json to benchmarks/results/speed/cuda/
# and run `python benchmarks/speed.py --report-only`; unpack grid.tgz into
# the grid's out folder and run
#   hngraph grid run configs/verdict.yaml --stage score --datasets DD REDDIT-BINARY
# CPU mode (for tests): DEVICE=cpu SPEED_ARGS="--datasets MUTAG ..." and the
# CONFIG, DATASETS and SEEDS of a tiny grid; GRID_FLAGS adds flags of
# `hngraph grid run` (--allow-dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the files go to}"
DEVICE="${DEVICE:-cuda}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# shellcheck disable=SC2086
python benchmarks/speed.py --device "$DEVICE" --parts floor throughput views \
    --out "$OUT/speed" --force ${SPEED_ARGS:-}
# shellcheck disable=SC2086
timeout --signal=INT "${GRID_BUDGET_S:-240}" python -m hngraph.cli grid run \
    "${CONFIG:-configs/verdict.yaml}" --datasets ${DATASETS:-DD REDDIT-BINARY} \
    ${SEEDS:+--seeds $SEEDS} --device "$DEVICE" --stage train \
    --out "$OUT/grid" ${GRID_FLAGS:-} || [ $? -eq 124 ]
tar czf "$OUT/grid.tgz" -C "$OUT/grid" --exclude .grid.lock .
rm -rf "$OUT/grid"
