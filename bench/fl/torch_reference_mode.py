"""FedDIP's reference mode (spec/FEDDIP.md section 4) written independently in PyTorch, to measure how
closely a PyTorch run of the same algorithm under another seed follows the public code's one run
(../shared/reference/feddip_sp0.90_fmnist_lenet5_r50.csv), beside our own seeds.

  /usr/bin/python3 bench/fl/torch_reference_mode.py --seed 1 --out bench/fl/torch-reference-s0.90-r50-seed1

Fashion-MNIST, LeNet-5, 50 IID clients (each class shuffled and dealt round-robin), 5 per round,
5 local epochs, batch 128, lr 0.1*0.998^t, weight decay 5e-4, s0 0.5 -> sp 0.9 (cubic), mask
reconfiguration every 5 rounds, the reference's lambda ramp. Writes metrics.jsonl, a line per round
(round, test_acc, test_loss, sparsity over the prunable weights, target_sparsity, lr, lambda, clients,
seconds) as bench/fl/compare-reference.mjs reads it. One intra-op thread by default, so two seeds can run
side by side on two cores (about 2.5 s a round each on the project's machine).
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from peer_torch import LeNet5, dpf_step, load_pruned  # noqa: E402  (bench/peer_torch.py: the bench's model and DPF step)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fmnist(root):
    def split(prefix):
        x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
        y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)
    return split("train"), split("t10k")


def iid_partition(labels, clients, rng):
    """Per class: shuffle its indices and deal them round-robin, so every client gets the same counts."""
    parts = [[] for _ in range(clients)]
    k = 0
    for c in range(int(labels.max()) + 1):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        for i in idx:
            parts[k % clients].append(i)
            k += 1
    return [torch.tensor(sorted(p)) for p in parts]


def cubic_sparsity(t, T, s0, sp):
    return sp + (s0 - sp) * (1 - t / T) ** 3


def reference_lambda(t, T, lam0=5e-4, lam_max=1e-3, Q=20):
    L = max(1, T // Q)
    i = min(t // L, Q - 1)
    return 0.0 if i == 0 else lam0 + (i - 1) * (lam_max - lam0) / (Q - 1)


def erk_densities(shapes, density):
    """Erdos-Renyi-Kernel layer densities (scale 1): layers whose density would exceed 1 are made dense."""
    numel = [math.prod(s) for s in shapes]
    raw = [sum(s) / n for s, n in zip(shapes, numel)]
    dense = set()
    while True:
        rhs = sum(-n * (1 - density) if l in dense else n * density for l, n in enumerate(numel))
        divisor = sum(raw[l] * numel[l] for l in range(len(numel)) if l not in dense)
        if len(dense) == len(numel):
            break
        eps = rhs / divisor
        top = max(raw[l] for l in range(len(numel)) if l not in dense)
        if not top * eps > 1:
            break
        dense |= {l for l in range(len(numel)) if l not in dense and raw[l] == top}
    return [1.0 if l in dense else eps * raw[l] for l in range(len(numel))]


def random_erk_masks(prunable, density, gen):
    masks = []
    for p, d in zip(prunable, erk_densities([list(p.shape) for p in prunable], density)):
        keep = int(d * p.numel())
        m = torch.zeros(p.numel())
        m[torch.randperm(p.numel(), generator=gen)[:keep]] = 1
        masks.append(m.view_as(p))
    return masks


def global_magnitude_masks(weights, sparsity):
    """Keep the |P| - round(s|P|) largest |w| over all prunable tensors; ties keep the lower flat index."""
    flat = torch.cat([w.flatten() for w in weights]).abs().double()
    n = flat.numel()
    keep = n - int(round(sparsity * n))
    # A stable sort by descending magnitude keeps the lower index first among equal values.
    order = torch.sort(-flat, stable=True).indices[:keep]
    m = torch.zeros(n)
    m[order] = 1
    out, at = [], 0
    for w in weights:
        out.append(m[at:at + w.numel()].view_as(w))
        at += w.numel()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stop-after", type=int, default=None, help="run only this many rounds of the T-round schedule")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    (xtr, ytr), (xte, yte) = load_fmnist(a.data)
    parts = iid_partition(ytr.numpy(), 50, rng)

    model = LeNet5()
    params = list(model.parameters())
    prunable = [p for p in params if p.dim() > 1]
    weights = [p.detach().clone() for p in params]  # the global model (masked after round 0)
    mask = None  # list over prunable tensors, None before the first server mask
    T, s0, sp, R, wd, E, B = a.rounds, 0.5, a.sparsity, 5, 5e-4, 5, 128
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "metrics.jsonl"), "w") as log:
        for t in range(T if a.stop_after is None else min(T, a.stop_after)):
            start = time.perf_counter()
            lr, lam, s_t = 0.1 * 0.998 ** t, reference_lambda(t, T), cubic_sparsity(t, T, s0, sp)
            clients = sorted(rng.choice(50, 5, replace=False).tolist())
            total = 0
            summed = [torch.zeros_like(w) for w in weights]
            for c in clients:
                local = [w.clone() for w in weights]
                m = mask if mask is not None else random_erk_masks(prunable, 1 - s0, gen)
                idx = parts[c]
                for _ in range(E):
                    perm = idx[torch.randperm(len(idx), generator=gen)]
                    for i in range(0, len(perm), B):
                        b = perm[i:i + B]
                        dpf_step(model, params, local, m, xtr[b], ytr[b], lr, wd, lam)
                for acc, w in zip(summed, local):
                    acc.add_(w, alpha=len(idx))
                total += len(idx)
            weights = [acc / total for acc in summed]
            if mask is not None:
                it = iter(mask)
                weights = [w * next(it) if w.dim() > 1 else w for w in weights]
            if t % R == 0:
                nxt = global_magnitude_masks([w for w in weights if w.dim() > 1], s_t)
                mask = nxt if mask is None else [n * o for n, o in zip(nxt, mask)]
            load_pruned(params, weights, mask)
            with torch.no_grad():
                correct, loss_sum = 0, 0.0
                for i in range(0, len(yte), 1000):
                    out = model(xte[i:i + 1000])
                    loss_sum += F.cross_entropy(out, yte[i:i + 1000], reduction="sum").item()
                    correct += (out.argmax(1) == yte[i:i + 1000]).sum().item()
            kept = sum(int(m.sum()) for m in mask)
            size = sum(m.numel() for m in mask)
            row = {"round": t, "test_acc": correct / len(yte), "test_loss": loss_sum / len(yte),
                   "sparsity": 1 - kept / size, "target_sparsity": s_t, "lr": lr, "lambda": lam,
                   "clients": clients, "seconds": time.perf_counter() - start}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(f"round {t}: acc {row['test_acc']:.4f} sparsity {row['sparsity']:.4f} {row['seconds']:.1f}s", flush=True)


if __name__ == "__main__":
    main()
