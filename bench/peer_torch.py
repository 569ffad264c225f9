"""The native peer for `npm run bench`: the same cases in PyTorch on the CPU.

Reads a JSON list of cases on stdin, prints a JSON object {name: {"median_s": ..., "value": ...}}.
Run with Debian's /usr/bin/python3 (python3-torch linked to OpenBLAS); the thread count is set
explicitly because Debian's torch starts with one intra-op thread.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(fn, min_time=0.25, reps=5):
    fn()  # warm-up
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_time / 4:
            break
        n *= 2
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def run(case):
    torch.set_num_threads(case["threads"])
    torch.manual_seed(0)
    kind = case["kind"]
    if kind == "gemm_nt":
        m, n, k = case["m"], case["n"], case["k"]
        a, b = torch.rand(m, k), torch.rand(n, k)
        out = torch.empty(m, n)
        s = timed(lambda: torch.mm(a, b.t(), out=out))
        return {"median_s": s, "value": 2 * m * n * k / s / 1e9}
    if kind == "linear_train":
        bsz, i, o = case["batch"], case["in"], case["out"]
        x, w, bias = torch.rand(bsz, i), torch.rand(o, i, requires_grad=True), torch.rand(o, requires_grad=True)
        dy = torch.rand(bsz, o)

        def step():
            y = F.linear(x, w, bias)
            y.backward(dy)
        s = timed(step)
        return {"median_s": s, "value": 6 * bsz * i * o / s / 1e9}
    if kind == "lenet5_train":
        bsz = case["batch"]
        model = LeNet5()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, weight_decay=5e-4)
        x = torch.rand(bsz, 1, 28, 28)
        y = torch.randint(0, 10, (bsz,))

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        s = timed(step)
        return {"median_s": s, "value": bsz / s}
    raise ValueError(f"unknown case kind {kind}")


def main():
    cases = json.load(sys.stdin)
    print(json.dumps({c["name"]: run(c) for c in cases}))


if __name__ == "__main__":
    main()
