#!/usr/bin/env bash
# Two-view hard InfoNCE on MUTAG and PROTEINS (3 seeds,
# beta 0 and beta 1 / tau+ 0.1, 20 epochs), and the CLI embedding of 100
# networkx graphs with an IMDB-BINARY (degree features) model.
# Results: benchmarks/results/infonce/. Skips runs that have a result file
# (the embedding itself is always timed again).
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/infonce
mkdir -p "$out"
for ds in MUTAG PROTEINS; do
  for seed in 0 1 2; do
    for spec in "0 0 graphcl" "1 0.1 infonce-hard"; do
      read -r beta tau tag <<<"$spec"
      if ls "$out"/${ds}_${tag}_beta${beta}_tau${tau}_seed${seed}_*.json >/dev/null 2>&1; then
        continue
      fi
      hngraph train --dataset "$ds" --objective infonce --beta "$beta" \
        --tau-plus "$tau" --epochs 20 --seed "$seed" --out "$out" --quiet
    done
  done
done
# Embedding your own graphs from the command line.
mkdir -p "$out/embed"
if ! ls "$out"/embed/IMDB-BINARY_hard-paper_beta1_tau0.5_seed0_*.json >/dev/null 2>&1; then
  hngraph train --dataset IMDB-BINARY --epochs 20 --seed 0 --out "$out/embed" --quiet
fi
python - <<'PY'
import pickle, networkx as nx
graphs = [nx.gnm_random_graph(10 + i % 40, 30 + i, seed=i) for i in range(100)]
pickle.dump(graphs, open("benchmarks/results/infonce/embed/graphs100.pkl", "wb"))
PY
/usr/bin/time -f "wall %e s, max RSS %M KB" hngraph embed \
  --model "$(ls "$out"/embed/IMDB-BINARY_hard-paper_beta1_tau0.5_seed0_*.pt | head -n1)" \
  --input "$out/embed/graphs100.pkl" --out "$out/embed/emb100.npy" --overwrite
