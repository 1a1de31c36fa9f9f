#!/usr/bin/env bash
# The single `hngraph train` runs that the docs and reports cite, each into
# its folder of benchmarks/results (one JSON result and one model file per
# run; a run already there is run again and replaced):
#   core/            MUTAG, InfoGraph and hard negatives (paper), 20 epochs,
#                    seeds 0-2 (the user guide's first figures);
#   ddp/             MUTAG hard negatives, 20 epochs, seeds 0-2, in 1 and 2
#                    processes, and 2 processes of batches of 64 (the
#                    guide's DDP section);
#   epochs/          InfoGraph, seeds 0-4, scored after intermediate epochs
#                    (MUTAG: 10, 20, 50, 100; PTC_MR: 1, 5, 10, 20, 50, 100)
#                    (the epoch diagnostic of infograph_selection.py);
#   features/KIND/   InfoGraph, 20 epochs, seeds 0-2, with constant, degree
#                    and label node features (the feature comparison).
# Usage: bash benchmarks/train_runs.sh [core|ddp|epochs|features ...]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${HNGRAPH_DATA:?set HNGRAPH_DATA to the raw TU files}"
out=benchmarks/results
plain=(--beta 0 --tau-plus 0)
hard=(--beta 1 --tau-plus 0.5 --reweight paper)
train() { hngraph train --quiet "$@"; }

core() {
    for seed in 0 1 2; do
        train --dataset MUTAG --epochs 20 --seed "$seed" "${plain[@]}" --out "$out/core"
        train --dataset MUTAG --epochs 20 --seed "$seed" "${hard[@]}" --out "$out/core"
    done
}

ddp() {
    for seed in 0 1 2; do
        train --dataset MUTAG --epochs 20 --seed "$seed" "${hard[@]}" --out "$out/ddp/1proc"
        train --dataset MUTAG --epochs 20 --seed "$seed" "${hard[@]}" --nproc 2 --out "$out/ddp/2proc"
        train --dataset MUTAG --epochs 20 --seed "$seed" "${hard[@]}" --nproc 2 --batch-size 64 --out "$out/ddp/2proc-batch64"
    done
}

epochs() {
    for seed in 0 1 2 3 4; do
        train --dataset MUTAG --seed "$seed" "${plain[@]}" --eval-epochs 10 20 50 100 --out "$out/epochs"
        train --dataset PTC_MR --seed "$seed" "${plain[@]}" --device cpu --eval-epochs 1 5 10 20 50 100 --out "$out/epochs"
    done
}

features() {
    for seed in 0 1 2; do
        for kind in constant degree; do
            for dataset in IMDB-BINARY IMDB-MULTI PTC_MR; do
                train --dataset "$dataset" --epochs 20 --seed "$seed" "${plain[@]}" --features "$kind" --out "$out/features/$kind"
            done
        done
        train --dataset PTC_MR --epochs 20 --seed "$seed" "${plain[@]}" --features labels --out "$out/features/labels"
    done
}

for part in "${@:-core ddp epochs features}"; do
    for p in $part; do "$p"; done
done
