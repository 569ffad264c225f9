#!/usr/bin/env bash
# The federated benchmark runs of issue 4 (Fashion-MNIST, LeNet-5, 50 clients, C 0.1, E 5, B 128, IID).
# Each writes config.json, metrics.jsonl and summary.json under bench/fl/<name>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
run() { name=$1; shift; node "${FEDDIP_CLI:-dist/cli.js}" simulate --out "bench/fl/$name" "$@"; rm -f "bench/fl/$name/model.fdip" "bench/fl/$name/"*.svg "bench/fl/$name/report.md"; }
run feddip-s0.95-r200 --method feddip --sparsity 0.95 --rounds 200 --seed 1
run fedavg-r200       --method fedavg --rounds 200 --seed 1
run feddip-reference-s0.90-r50 --method feddip-reference --sparsity 0.9 --rounds 50 --seed 1
# Our run-to-run spread in the same configuration (one client worker; the thread count does not change a number):
for seed in $(seq 2 20); do
  run "feddip-reference-s0.90-r50-seed$seed" --method feddip-reference --sparsity 0.9 --rounds 50 --seed "$seed" --threads 1
done
# The same algorithm written in PyTorch (torch_reference_mode.py), twenty seeds: how closely PyTorch itself follows
# the public code's one run when only the seed changes.
for seed in $(seq 1 20); do
  /usr/bin/python3 bench/fl/torch_reference_mode.py --seed "$seed" --out "bench/fl/torch-reference-s0.90-r50-seed$seed"
done
# Round-by-round comparison with the public code's run (../shared/reference/):
node bench/fl/compare-reference.mjs bench/fl/feddip-reference-s0.90-r50 bench/fl/feddip-reference-s0.90-r50-seed{2..20}
node bench/fl/compare-reference.mjs bench/fl/torch-reference-s0.90-r50-seed{1..20}
