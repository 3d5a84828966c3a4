"""PyTorch twins of the chapter loops in bench/chapters.mjs: same architectures, batch sizes, optimisers,
augmentations and data, with PIL and NumPy for decoding (Debian's python3-torch has no torchvision).

usage: python3 bench/pytorch_chapters.py <row id>  -> one JSON line on stdout
"""
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_worker import MobileNetV2, measure_and_print  # noqa: E402  (the kernel bench's Keras-equivalent MobileNetV2)


def cache_dir():
    """Same rule as the helpers' cacheDir(): TL_CACHE_DIR, else $XDG_CACHE_HOME/transfer-learning-ts, else ~/.cache/..."""
    explicit = os.environ.get("TL_CACHE_DIR", "").strip()
    if explicit:
        return os.path.abspath(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return os.path.join(xdg or os.path.join(os.path.expanduser("~"), ".cache"), "transfer-learning-ts")


def hymenoptera(split):
    base = os.path.join(cache_dir(), "datasets", "hymenoptera_data", split)
    out = []
    for label, cls in enumerate(sorted(os.listdir(base))):
        for f in sorted(os.listdir(os.path.join(base, cls))):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                out.append((os.path.join(base, cls, f), label))
    return out


def to_input(img):
    """HWC uint8 -> CHW float in [-1, 1] (MobileNet preprocessing)."""
    return torch.from_numpy(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0)


def eval_view(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((max(256, round(w * s)), max(256, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    return to_input(img.crop((left, top, left + 224, top + 224)))


def train_view(path, rng):
    """Random resized crop (scale 0.08-1, ratio 3/4-4/3, as torchvision) to 224, then a random horizontal flip."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    box = (0, 0, w, h)
    for _ in range(10):
        area = w * h * rng.uniform(0.08, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            box = (left, top, left + cw, top + ch)
            break
    img = img.resize((224, 224), Image.BILINEAR, box=box)
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return to_input(img)


class AlexNetCifar(nn.Module):
    """The helpers' buildAlexNetCifar at width 0.375: 5x5/5x5/3x3x3 convs with BN, three 3x3/2 max-pools, 384-384 dense with BN."""

    def __init__(self, width=0.375, dropout=0.2):
        super().__init__()
        c = lambda n: max(4, round(n * width))  # noqa: E731
        chans, ks = [3, c(64), c(192), c(384), c(256), c(256)], [5, 5, 3, 3, 3]
        self.convs = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], ks[i], padding=ks[i] // 2, bias=False) for i in range(5))
        self.bns = nn.ModuleList(nn.BatchNorm2d(chans[i + 1], eps=1e-3, momentum=0.01) for i in range(5))
        bn = lambda n: nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)  # noqa: E731
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(chans[5] * 16, c(1024), bias=False), bn(c(1024)), nn.ReLU(),
                                nn.Dropout(dropout), nn.Linear(c(1024), c(1024), bias=False), bn(c(1024)), nn.ReLU(), nn.Linear(c(1024), 10))

    def forward(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i in (0, 1, 4):
                x = F.max_pool2d(x, 3, 2, padding=1)
        return self.fc(x)


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


def chapter3_finetune(rng, device="cpu", channels_last=False):
    """Chapter 3's fine-tuning (quick profile): MobileNetV2 α0.35 at 224, batch 16, Adam 2e-5, batch norm frozen, head
    dropout 0.2, random resized crop + flip. Returns (training samples, epoch(samples)); the epoch ends synchronised."""
    train = hymenoptera("train")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = MobileNetV2(0.35, classes=2).train().to(device, memory_format=fmt)
    for m in model.modules():  # BatchNorm frozen: ImageNet statistics, no updates
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            for q in m.parameters():
                q.requires_grad_(False)
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=2e-5)
    head_drop = nn.Dropout(0.2)

    def epoch(samples):
        order = list(range(len(samples)))
        rng.shuffle(order)
        for i in range(0, len(order), 16):
            b = [samples[j] for j in order[i:i + 16]]
            x = torch.stack([train_view(p, rng) for p, _ in b]).to(device).contiguous(memory_format=fmt)
            y = torch.tensor([label for _, label in b]).to(device)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model.fc(head_drop(model.pooled(x))), y).backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
    return train, epoch


def run(row):
    torch.manual_seed(0)
    rng = random.Random(0)
    if row.startswith("extract"):
        files = [p for p, _ in hymenoptera("train") + hymenoptera("val")]
        model = MobileNetV2(0.35).eval()

        def extract(paths):
            with torch.no_grad():
                for i in range(0, len(paths), 32):
                    model.pooled(torch.stack([eval_view(p) for p in paths[i:i + 32]]))
        extract(files[:32])
        t0 = time.perf_counter()
        extract(files)
        return time.perf_counter() - t0, len(files)
    if row.startswith("epoch ch1"):
        raw = np.fromfile(os.path.join(cache_dir(), "datasets", "cifar-10-batches-bin", "data_batch_1.bin"), dtype=np.uint8).reshape(-1, 3073)
        labels, images = torch.from_numpy(raw[:, 0].astype(np.int64)), raw[:, 1:].reshape(-1, 3, 32, 32)
        model = AlexNetCifar().train()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        nprng = np.random.default_rng(1)

        def epoch(idx):
            for i in range(0, len(idx), 128):
                b = idx[i:i + 128]
                padded = np.pad(images[b], ((0, 0), (0, 0), (4, 4), (4, 4)))
                dx, dy = nprng.integers(0, 9, len(b)), nprng.integers(0, 9, len(b))
                crops = np.stack([padded[j, :, dy[j]:dy[j] + 32, dx[j]:dx[j] + 32] for j in range(len(b))])
                flip = nprng.random(len(b)) < 0.5
                crops[flip] = crops[flip, :, :, ::-1]
                x = torch.from_numpy(crops.astype(np.float32) / 127.5 - 1.0)
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), labels[b]).backward()
                opt.step()
        epoch(nprng.permutation(256))
        t0 = time.perf_counter()
        epoch(nprng.permutation(len(images)))
        return time.perf_counter() - t0, len(images)
    if row.startswith("epoch ch2"):
        n = 62 * 64
        source, target = torch.randint(0, 256, (n, 3, 28, 28)).float() / 255, torch.randint(0, 256, (n, 3, 28, 28)).float() / 255
        labels = torch.arange(n) % 10
        feat = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        label_clf = nn.Sequential(nn.Linear(1568, 100), nn.ReLU(), nn.Linear(100, 10))
        domain_clf = nn.Sequential(nn.Linear(1568, 100), nn.ReLU(), nn.Linear(100, 2))
        params = [*feat.parameters(), *label_clf.parameters(), *domain_clf.parameters()]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
        domains = torch.cat([torch.zeros(64), torch.ones(64)]).long()

        def epoch(p0):
            ps, pt = torch.randperm(n), torch.randperm(n)
            for s in range(n // 64):
                p = p0 + s / (n // 64)
                lam = 2 / (1 + math.exp(-10 * p)) - 1
                for g in opt.param_groups:
                    g["lr"] = 0.01 / (1 + 10 * p) ** 0.75
                xs, xt = source[ps[s * 64:(s + 1) * 64]], target[pt[s * 64:(s + 1) * 64]]
                f = feat(torch.cat([xs, xt]))
                loss = F.cross_entropy(label_clf(f[:64]), labels[ps[s * 64:(s + 1) * 64]]) + F.cross_entropy(domain_clf(GradReverse.apply(f, lam)), domains)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        epoch(0.0)
        t0 = time.perf_counter()
        epoch(0.5)
        return time.perf_counter() - t0, n // 64
    if row.startswith("epoch ch3"):
        train, epoch = chapter3_finetune(rng)
        epoch(train[:32])
        t0 = time.perf_counter()
        epoch(train)
        return time.perf_counter() - t0, len(train)
    raise ValueError(f"unknown row {row}")


def main():
    row = sys.argv[1]

    def measure():
        seconds, items = run(row)
        return dict(seconds=seconds, items=items, detail=f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")

    measure_and_print({}, measure)

if __name__ == "__main__":
    main()
