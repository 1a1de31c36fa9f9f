#!/usr/bin/env bash
# Every GPU measurement the open work needs, in one call to a GPU machine
# (under 9 minutes on an H100 or H200), its files in $OUT (8 at most):
#   $OUT/speed/: speed.py's `floor` (fit against its compute floor, graphs/s),
#     `throughput` and `views` (GraphCL's views per graph on the host, on
#     loader batches and on device batches) on the device, and SPEED.md;
#   $OUT/grid/: the verdict grid's unfinished DD and REDDIT-BINARY runs for
#     GRID_BUDGET_S seconds (benchmarks/device_grid.sh; seeds SEEDS).
# Here, afterwards: copy $OUT/speed/*.json to benchmarks/results/speed/cuda/
# and run `python benchmarks/speed.py --report-only`; score the grid files
# with `python benchmarks/device_grid.py score --fetched DIR`.
# CPU mode (for tests): DEVICE=cpu SPEED_ARGS="--datasets MUTAG ..." and the
# CONFIG, DATASETS and SEEDS of a tiny grid.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the files go to}"
DEVICE="${DEVICE:-cuda}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# shellcheck disable=SC2086
python benchmarks/speed.py --device "$DEVICE" --parts floor throughput views \
    --out "$OUT/speed" --force ${SPEED_ARGS:-}
OUT="$OUT/grid" DEVICE="$DEVICE" BUDGET_S="${GRID_BUDGET_S:-240}" \
    bash benchmarks/device_grid.sh
