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


class AlexNetCifar(nn.Module):
    """src/nn/models.ts alexnetCifar: FedDIP's AlexNet for 32x32 images (23,272,266 parameters)."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(1024, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    """src/nn/models.ts resnet18Cifar: 3x3 stem, four stages of two BasicBlocks, 4x4 average pool."""

    def __init__(self, classes=100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, inp = [], 64
        for planes, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            for i in range(2):
                blocks.append(BasicBlock(inp, planes, stride if i == 0 else 1))
                inp = planes
        self.layers = nn.Sequential(*blocks)
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.avg_pool2d(out, 4), 1))


def train_step_case(model, bsz, classes, min_time=0.25, reps=5):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, weight_decay=5e-4)
    x = torch.rand(bsz, 3, 32, 32)
    y = torch.randint(0, classes, (bsz,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    s = timed(step, min_time, reps)
    return {"median_s": s, "value": bsz / s}


def layerwise_masks(prunable, sparsity):
    """Each prunable weight keeps its (1 - sparsity) largest magnitudes, as the bench's masks do."""
    masks = []
    for p in prunable:
        flat = p.detach().abs().flatten()
        pruned = int(round(sparsity * flat.numel()))
        mask = torch.ones_like(flat)
        if pruned > 0:
            mask[flat.argsort()[:pruned]] = 0
        masks.append(mask.view_as(p))
    return masks


_step_cache = {}


def load_pruned(params, weights, masks):
    """Sets the model's parameters to the pruned point: M*W for the prunable (rank > 1) ones, W for the rest."""
    with torch.no_grad():
        k = 0
        for p, w in zip(params, weights):
            if p.dim() > 1:
                p.copy_(w * masks[k]); k += 1
            else:
                p.copy_(w)


def dpf_step(model, params, dense, masks, x, y, lr, wd, lam):
    """One FedDIP/DPF step: loss and gradient at M*W (cross-entropy plus lam times the per-layer L2 norms
    of the pruned weights), applied to the dense weights: W <- W - lr (g + wd W)."""
    load_pruned(params, dense, masks)
    loss = F.cross_entropy(model(x), y)
    if lam:
        loss = loss + lam * sum(p.norm() for p in params if p.dim() > 1)
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p, w in zip(params, dense):
            w.sub_(lr * (p.grad + wd * w))


def feddip_step(case):
    """PyTorch's dense FedDIP/DPF step on the same shapes: M*W into the model, forward, cross-entropy
    plus lambda * sum of per-layer L2 norms, backward, SGD with weight decay on the dense W. Its
    cost does not depend on the sparsity (dense kernels), so a result is shared by the cases that
    differ only in it."""
    key = (case["model"], case["batch"], case["threads"], case.get("eval", False))
    if key in _step_cache:
        return _step_cache[key]
    model = LeNet5() if case["model"] == "lenet5" else AlexNetCifar()
    shape = (1, 28, 28) if case["model"] == "lenet5" else (3, 32, 32)
    bsz = case["batch"]
    x, y = torch.rand(bsz, *shape), torch.randint(0, 10, (bsz,))
    params = list(model.parameters())
    prunable = [p for p in params if p.dim() > 1]
    masks = layerwise_masks(prunable, case["sparsity"])
    dense = [p.detach().clone() for p in params]
    lr, wd, lam = case.get("lr", 0.01), case.get("weightDecay", 5e-4), case.get("lambda", 5e-4)

    if case.get("eval", False):
        model.eval()

        def forward():
            load_pruned(params, dense, masks)
            with torch.no_grad():
                model(x)
        s = timed(forward, reps=3 if case["model"] == "alexnet" else 5)
    else:
        def step():
            dpf_step(model, params, dense, masks, x, y, lr, wd, lam)
        s = timed(step, min_time=0.05 if case["model"] == "alexnet" else 0.25, reps=3 if case["model"] == "alexnet" else 5)
    _step_cache[key] = {"median_s": s, "value": bsz / s}
    return _step_cache[key]


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
    if kind in ("conv_fwd", "conv_bwd", "conv_dgrad"):
        n, c, h, w, o, k, pad = (case[key] for key in ("n", "c", "h", "w", "o", "k", "pad"))
        x = torch.rand(n, c, h, w, requires_grad=kind == "conv_dgrad" or (kind == "conv_bwd" and case["input_grad"]))
        weight = torch.rand(o, c, k, k, requires_grad=True)
        bias = torch.rand(o, requires_grad=True)
        ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        macs = n * o * c * k * k * ho * wo
        if kind == "conv_fwd":
            with torch.no_grad():
                s = timed(lambda: F.conv2d(x, weight, bias, padding=pad))
            return {"median_s": s, "value": 2 * macs / s / 1e9}
        y = F.conv2d(x, weight, bias, padding=pad)
        dy = torch.rand_like(y)
        if kind == "conv_dgrad":
            s = timed(lambda: torch.autograd.grad(y, [x], dy, retain_graph=True))
            return {"median_s": s, "value": 2 * macs / s / 1e9}
        # Only the backward pass is timed: the graph is kept and replayed.
        s = timed(lambda: torch.autograd.grad(y, [x, weight, bias] if case["input_grad"] else [weight, bias], dy, retain_graph=True))
        return {"median_s": s, "value": (4 if case["input_grad"] else 2) * macs / s / 1e9}
    if kind == "alexnet_cifar_step":
        return train_step_case(AlexNetCifar(case["classes"]), case["batch"], case["classes"], 0.5, 3)
    if kind == "resnet18_cifar_step":
        return train_step_case(ResNet18Cifar(case["classes"]), case["batch"], case["classes"], 0.5, 3)
    if kind == "feddip_step":
        return feddip_step(case)
    if kind == "forward":
        return feddip_step({**case, "eval": True})
    if kind == "feddip_round":
        # PyTorch parallelises inside each operation (intra-op threads), not across clients.
        return {"median_s": feddip_round(case), "value": None}
    raise ValueError(f"unknown case kind {kind}")


def feddip_round(case):
    """One FedDIP round as an efficient PyTorch program would run it: data preloaded as tensors,
    no per-step model copies, the DPF step (forward/backward at M*W, update the dense W, per-layer
    L2 penalty), then evaluation on the test set. The median of three rounds after a warm-up round."""
    clients, epochs, per_client, bsz = case["clients"], case["epochs"], case["per_client"], case["batch"]
    g = torch.Generator().manual_seed(0)
    xs = torch.rand(clients, per_client, 1, 28, 28, generator=g)
    ys = torch.randint(0, 10, (clients, per_client), generator=g)
    xt, yt = torch.rand(case["test"], 1, 28, 28, generator=g), torch.randint(0, 10, (case["test"],), generator=g)
    model = LeNet5()
    params = list(model.parameters())
    prunable = [p for p in params if p.dim() > 1]
    flat = torch.cat([p.detach().abs().flatten() for p in prunable])
    k = int(round(case.get("sparsity", 0.5) * flat.numel()))
    threshold = flat.kthvalue(k).values
    masks = [(p.detach().abs() > threshold).float() for p in prunable]
    dense = [p.detach().clone() for p in params]
    lr, wd, lam = 0.1, 5e-4, 5e-4

    def one_round():
        for c in range(clients):
            local = [d.clone() for d in dense]
            for _ in range(epochs):
                perm = torch.randperm(per_client)
                for i in range(0, per_client, bsz):
                    idx = perm[i:i + bsz]
                    dpf_step(model, params, local, masks, xs[c, idx], ys[c, idx], lr, wd, lam)
        with torch.no_grad():
            correct = 0
            for i in range(0, xt.shape[0], 1000):
                correct += (model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
        return correct

    one_round()  # warm-up
    seconds = []
    for _ in range(3):
        t = time.perf_counter()
        one_round()
        seconds.append(time.perf_counter() - t)
    return sorted(seconds)[1]


def main():
    cases = json.load(sys.stdin)
    print(json.dumps({c["name"]: run(c) for c in cases}))


if __name__ == "__main__":
    main()
