#!/usr/bin/env bash
# The federated benchmark runs of issue 4 (Fashion-MNIST, LeNet-5, 50 clients, C 0.1, E 5, B 128, IID).
# Each writes config.json, metrics.jsonl and summary.json under bench/fl/<name>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
run() { name=$1; shift; node "${FEDDIP_CLI:-dist/cli.js}" simulate --out "bench/fl/$name" "$@"; rm -f "bench/fl/$name/model.fdip"; }
run feddip-s0.95-r200 --method feddip --sparsity 0.95 --rounds 200 --seed 1
run fedavg-r200       --method fedavg --rounds 200 --seed 1
run feddip-reference-s0.90-r50 --method feddip-reference --sparsity 0.9 --rounds 50 --seed 1
# Our run-to-run spread in the same configuration (one client worker; the thread count does not change a number):
for seed in 2 3 4 5; do
  run "feddip-reference-s0.90-r50-seed$seed" --method feddip-reference --sparsity 0.9 --rounds 50 --seed "$seed" --threads 1
done
# Round-by-round comparison with the PyTorch run (../shared/reference/):
node bench/fl/compare-reference.mjs bench/fl/feddip-reference-s0.90-r50 bench/fl/feddip-reference-s0.90-r50-seed{2,3,4,5}
