"""PyTorch CPU reference for bench/run.mjs: same workloads as bench/models.mjs.

usage: python3 bench/pytorch_worker.py <row id> <seconds>  -> one JSON line on stdout
"""
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_divisible(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    if n < 0.9 * v:
        n += d
    return n


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.001)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else [conv_bn(cin, hidden, 1)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """Keras-equivalent MobileNetV2 (alpha rounding, 1280-d features) + dense(classes)."""

    def __init__(self, alpha, classes=10):
        super().__init__()
        cin = make_divisible(32 * alpha)
        layers = [conv_bn(3, cin, 3, 2)]
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
            cout = make_divisible(c * alpha)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        last = make_divisible(1280 * alpha) if alpha > 1 else 1280
        layers.append(conv_bn(cin, last, 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(last, classes)

    def pooled(self, x):
        return self.features(x).mean((2, 3))

    def forward(self, x):
        return self.fc(self.pooled(x))


class CifarCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 128, 3, padding=1)])
        self.fc = nn.Linear(4 * 4 * 128, 10)

    def forward(self, x):
        for c in self.convs:
            x = F.max_pool2d(F.relu(c(x)), 2)
        return self.fc(x.flatten(1))


ROWS = {
    "infer mnv2 a0.35@224": ("infer", 16, 224, 0.35),
    "infer mnv2 a1.0@224": ("infer", 16, 224, 1.0),
    "infer mnv2 a0.35@96": ("infer", 16, 96, 0.35),
    "train mnv2 a0.35@96": ("train", 16, 96, 0.35),
    "train mnv2 a1.0@96": ("train", 16, 96, 1.0),
    "train mnv2 a0.35@224": ("train", 16, 224, 0.35),
    "train cifar cnn b64": ("train-cnn", 64, 32, None),
    "train dense head 1280→10 b256": ("train-head", 256, None, None),
}


def setup(row):
    kind, batch, size, alpha = ROWS[row]
    torch.manual_seed(0)
    y = torch.arange(batch) * 7 % 10
    if kind == "infer":
        model = MobileNetV2(alpha).eval()
        x = torch.rand(batch, 3, size, size) * 2 - 1

        def run():
            with torch.no_grad():
                model.pooled(x)
        return run
    if kind == "train":
        model, x = MobileNetV2(alpha).train(), torch.rand(batch, 3, size, size) * 2 - 1
    elif kind == "train-cnn":
        model, x = CifarCnn().train(), torch.rand(batch, 3, 32, 32)
    else:
        model, x = nn.Linear(1280, 10), torch.rand(batch, 1280)
    return sgd_step(model, x, y)


def sgd_step(model, x, y, lr=0.01):
    """One SGD step on softmax cross-entropy, ending with loss.item() (which waits for a GPU, like dataSync in tfjs)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return step


def measure_and_print(out, measure):
    """Fill `out` with `measure()`'s fields, or an error (never crash the harness); add peak RSS; print one JSON line."""
    try:
        torch.set_num_threads(2)
        out.update(measure())
    except Exception as e:
        out["error"] = str(e).splitlines()[0][:200]
    out["maxRssMB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main():
    row, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    out = {"backend": "pytorch-passive" if os.environ.get("OMP_WAIT_POLICY") == "PASSIVE" else "pytorch", "row": row}

    def measure():
        run = setup(row)
        t0 = time.perf_counter()
        run()
        warm = (time.perf_counter() - t0) * 1000
        times, cpu, start = [], [], time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 30):
            t, c = time.perf_counter(), time.process_time()
            run()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        wait = os.environ.get("OMP_WAIT_POLICY")
        return dict(warmMs=warm, times=times, cpu=cpu, detail=f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads{', OMP_WAIT_POLICY=' + wait if wait else ''})")

    measure_and_print(out, measure)

if __name__ == "__main__":
    main()
