"""PyTorch side of the GPU check: the same rows as check.mjs, on the same machine's torch and device.

The MobileNetV2 is bench/pytorch_worker.py's Keras-equivalent one (same channel counts as the tfjs model and as
torchvision's mobilenet_v2(width_mult=...) for these widths, same 1280-d head input); the chapter 3 epoch is
bench/pytorch_chapters.py's twin (PIL random resized crop + flip, Adam 2e-5, batch norm frozen, batch 16).
Channels-last memory and cudnn.benchmark, as a PyTorch user would train on a GPU.

usage: python3 tools/gpu-check/pytorch_twin.py <out dir>   (GPU_CHECK_DEVICE, GPU_CHECK_STEPS, GPU_CHECK_WARMUP, GPU_CHECK_BATCH)
"""
import json
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))

import torch  # noqa: E402
from pytorch_worker import MobileNetV2, sgd_step  # noqa: E402
from pytorch_chapters import chapter3_finetune  # noqa: E402

DEVICE = "cuda" if os.environ.get("GPU_CHECK_DEVICE", "cuda") == "cuda" else "cpu"
ON_GPU = DEVICE == "cuda"
STEPS = int(os.environ.get("GPU_CHECK_STEPS", 10 if ON_GPU else 2))
WARMUP = int(os.environ.get("GPU_CHECK_WARMUP", 3 if ON_GPU else 1))
BATCH = int(os.environ.get("GPU_CHECK_BATCH", 32))


def sync():
    if ON_GPU:
        torch.cuda.synchronize()


def train_step_row(alpha):
    torch.manual_seed(0)
    model = MobileNetV2(alpha).train().to(DEVICE, memory_format=torch.channels_last)
    x = (torch.rand(BATCH, 3, 224, 224) * 2 - 1).to(DEVICE).contiguous(memory_format=torch.channels_last)
    y = (torch.arange(BATCH) * 7 % 10).to(DEVICE)
    step = sgd_step(model, x, y)
    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(STEPS):
        sync()
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    ms = statistics.median(times)
    return {"row": f"train step MobileNetV2 α{alpha} @224, batch {BATCH}", "msPerStep": ms, "imagesPerSecond": BATCH / (ms / 1000), "times": times}


def chapter3_epoch():
    torch.manual_seed(0)
    train, epoch = chapter3_finetune(random.Random(0), DEVICE, channels_last=True)
    epoch(train[:32])
    t0 = time.perf_counter()
    epoch(train)
    seconds = time.perf_counter() - t0
    return {"row": "chapter 3 fine-tuning epoch (MobileNetV2 α0.35 @224, batch 16, Adam)", "seconds": seconds, "images": len(train),
            "imagesPerSecond": len(train) / seconds}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    if not ON_GPU:
        torch.set_num_threads(os.cpu_count() or 1)
    report = {"device": DEVICE, "torch": torch.__version__, "cuda": torch.version.cuda, "steps": STEPS, "warmup": WARMUP, "batch": BATCH,
              "gpu": torch.cuda.get_device_name(0) if ON_GPU else None, "rows": []}
    for run in (lambda: train_step_row(0.35), lambda: train_step_row(1.0), chapter3_epoch):
        try:
            r = run()
            print(f"[pytorch] {r['row']}: {r['imagesPerSecond']:.1f} img/s", flush=True)
        except Exception as e:  # one failed row must not lose the others
            r = {"error": str(e).splitlines()[0][:400]}
            print(f"[pytorch] row failed: {r['error']}", flush=True)
        report["rows"].append(r)
        with open(os.path.join(out, "pytorch.json"), "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
