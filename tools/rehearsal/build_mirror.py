"""Build miniature, format-true stand-ins for every download of the full profile, laid out by the mirror rule.

    /usr/bin/python3 tools/rehearsal/build_mirror.py OUT_DIR --topology MOBILENET_V2_0.35_MODEL_JSON

OUT_DIR/mirror/<host>/<path of the official URL> holds each file (TL_DOWNLOAD_MIRROR's rule), and
OUT_DIR/manifest.json their sizes and SHA-256 (TL_DOWNLOAD_MANIFEST), so the helpers verify them on the real code path.
Everything is random (seeded) and tiny: a handful of images per class, random network weights. Nothing is a real result.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(20)

CIFAR = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
VOC_TRAINVAL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar"
VOC_TEST = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar"
DOGS_IMAGES = "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar"
DOGS_LISTS = "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar"
HYMENOPTERA = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
MOBILENET_V2_1 = ("https://storage.googleapis.com/teachable-machine-models/"
                  "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.00_224_no_top/model.json")
MOBILENET_V1_1 = "https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_1.0_224/model.json"
TORCHVISION = "https://download.pytorch.org/models/"
TORCHVISION_FILES = {"resnet50": "resnet50", "alexnet": "alexnet-owt"}  # file-name stems, as torchvision names them
VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
               "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
DOG_BREEDS = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog", "n02086079-Pekinese"]


def mirror_path(out: Path, url: str) -> Path:
    scheme_less = url.split("://", 1)[1]
    return out / "mirror" / scheme_less


def jpeg(label: int, size: int = 48) -> bytes:
    """A noisy image whose mean colour depends on the label, so a classifier has something to find."""
    base = np.array([(label * 67) % 256, (label * 131) % 256, (label * 197) % 256], dtype=np.float32)
    px = np.clip(base + RNG.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def cifar(out: Path, per_class: int) -> None:
    def batch(n_per_class: int) -> bytes:
        return b"".join(bytes([c]) + cifar_pixels(c) for _ in range(n_per_class) for c in range(10))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(1, 6):
            add(tar, f"cifar-10-batches-bin/data_batch_{i}.bin", batch(per_class))
        add(tar, "cifar-10-batches-bin/test_batch.bin", batch(per_class))
        names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        add(tar, "cifar-10-batches-bin/batches.meta.txt", ("\n".join(names) + "\n\n").encode())
        add(tar, "cifar-10-batches-bin/readme.html", b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; url=http://www.cs.toronto.edu/~kriz/cifar.html\">\n")
    write(out, CIFAR, buf.getvalue())


def cifar_pixels(label: int) -> bytes:
    """One CIFAR record's pixels: 1024 R, 1024 G, 1024 B bytes, the mean colour set by the label."""
    base = np.array([(label * 67) % 256, (label * 131) % 256, (label * 197) % 256], dtype=np.float32)
    px = np.clip(base[:, None] + RNG.normal(0, 40, (3, 1024)), 0, 255).astype(np.uint8)
    return px.tobytes()


def voc(out: Path, url: str, split_names: list[str], first_id: int, count: int) -> None:
    ids = [f"{first_id + i:06d}" for i in range(count)]
    present = {i: sorted({k % 20, (k * 7 + 3) % 20}) for k, i in enumerate(ids)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        base = "VOCdevkit/VOC2007"
        for k, i in enumerate(ids):
            add(tar, f"{base}/JPEGImages/{i}.jpg", jpeg(present[i][0], 64))
            objects = "".join(
                f"<object><name>{VOC_CLASSES[c]}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>"
                f"<bndbox><xmin>4</xmin><ymin>4</ymin><xmax>60</xmax><ymax>60</ymax></bndbox></object>" for c in present[i])
            xml = (f"<annotation><folder>VOC2007</folder><filename>{i}.jpg</filename><size><width>64</width><height>64</height>"
                   f"<depth>3</depth></size><segmented>0</segmented>{objects}</annotation>\n")
            add(tar, f"{base}/Annotations/{i}.xml", xml.encode())
        for split in split_names:
            members = ids if split in ("trainval", "test") else ids[0::2] if split == "train" else ids[1::2]
            add(tar, f"{base}/ImageSets/Main/{split}.txt", "".join(f"{i}\n" for i in members).encode())
            for c, cls in enumerate(VOC_CLASSES):
                lines = "".join(f"{i} {' 1' if c in present[i] else '-1'}\n" for i in members)
                add(tar, f"{base}/ImageSets/Main/{cls}_{split}.txt", lines.encode())
    write(out, url, buf.getvalue())


def mat_element(kind: int, data: bytes) -> bytes:
    return struct.pack("<II", kind, len(data)) + data + b"\0" * ((8 - len(data) % 8) % 8)


def mat_matrix(name: str, cls: int, dims: list[int], body: list[bytes]) -> bytes:
    flags = mat_element(6, struct.pack("<II", cls, 0))
    shape = mat_element(5, b"".join(struct.pack("<i", d) for d in dims))
    return mat_element(14, flags + shape + mat_element(1, name.encode("latin1")) + b"".join(body))


def mat_file(files: list[str], labels1: list[int]) -> bytes:
    """A MATLAB v5 file as Stanford's lists are: `file_list` (N x 1 cell of char) and `labels` (N x 1 double), compressed."""
    header = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: transfer-learning-ts rehearsal".ljust(116, b" ")
    header += b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    chars = [mat_matrix("", 4, [1, len(f)], [mat_element(4, f.encode("utf-16-le"))]) for f in files]
    file_list = mat_matrix("file_list", 1, [len(files), 1], chars)
    labels = mat_matrix("labels", 6, [len(labels1), 1], [mat_element(9, struct.pack(f"<{len(labels1)}d", *labels1))])
    return header + b"".join(struct.pack("<II", 15, len(z)) + z for z in (zlib.compress(file_list), zlib.compress(labels)))


def dogs(out: Path, train_per_class: int, test_per_class: int) -> None:
    images = io.BytesIO()
    split: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    with tarfile.open(fileobj=images, mode="w") as tar:
        for c, folder in enumerate(DOG_BREEDS):
            for k in range(train_per_class + test_per_class):
                rel = f"{folder}/{folder.split('-')[0]}_{k + 1}.jpg"
                add(tar, f"Images/{rel}", jpeg(c, 80))
                split["train" if k < train_per_class else "test"].append((rel, c + 1))
    write(out, DOGS_IMAGES, images.getvalue())
    lists = io.BytesIO()
    with tarfile.open(fileobj=lists, mode="w") as tar:
        everything = split["train"] + split["test"]
        for name, rows in (("file_list.mat", everything), ("train_list.mat", split["train"]), ("test_list.mat", split["test"])):
            add(tar, name, mat_file([r for r, _ in rows], [l for _, l in rows]))
    write(out, DOGS_LISTS, lists.getvalue())


def hymenoptera(out: Path, train_per_class: int, val_per_class: int) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for split, n in (("train", train_per_class), ("val", val_per_class)):
            for c, cls in enumerate(["ants", "bees"]):
                for k in range(n):
                    z.writestr(f"hymenoptera_data/{split}/{cls}/{k + 1}_{split}.jpg", jpeg(c, 96))
    write(out, HYMENOPTERA, buf.getvalue())


def torchvision_weights(out: Path, arch: str, torch_name: str) -> tuple[str, str]:
    """Random weights in torchvision's state-dict layout, saved under `<name>-<own sha256 prefix>.pth`."""
    try:
        import torch
        from torch import nn
    except ImportError:
        raise SystemExit("[rehearsal] the torchvision stand-ins need PyTorch for Python: apt-get install python3-torch "
                         "(kernel-setup/setup.sh installs it unless apt is skipped)")

    torch.manual_seed(0)
    if arch == "resnet50":
        sd = resnet50_state_dict(torch, nn)
    elif arch == "alexnet":
        sd = alexnet_state_dict(torch, nn)
    else:
        raise SystemExit(f"no stand-in for {arch}")
    buf = io.BytesIO()
    torch.save(sd, buf)
    data = buf.getvalue()
    file = f"{torch_name}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    write(out, TORCHVISION + file, data)
    return arch, file


def resnet50_state_dict(torch, nn):  # torchvision's ResNet-50 (v1.5 Bottleneck) parameter and buffer names and shapes
    sd = {}
    def conv(name, cout, cin, k):
        sd[f"{name}.weight"] = torch.randn(cout, cin, k, k) * (2.0 / (cin * k * k)) ** 0.5
    def bn(name, c):
        sd[f"{name}.weight"] = torch.ones(c); sd[f"{name}.bias"] = torch.zeros(c)
        sd[f"{name}.running_mean"] = torch.zeros(c); sd[f"{name}.running_var"] = torch.ones(c)
        sd[f"{name}.num_batches_tracked"] = torch.tensor(0)
    conv("conv1", 64, 3, 7); bn("bn1", 64)
    cin = 64
    for li, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            conv(f"{p}.conv1", width, cin, 1); bn(f"{p}.bn1", width)
            conv(f"{p}.conv2", width, width, 3); bn(f"{p}.bn2", width)
            conv(f"{p}.conv3", width * 4, width, 1); bn(f"{p}.bn3", width * 4)
            if b == 0:
                conv(f"{p}.downsample.0", width * 4, cin, 1); bn(f"{p}.downsample.1", width * 4)
            cin = width * 4
    sd["fc.weight"] = torch.randn(1000, 2048) * 0.01; sd["fc.bias"] = torch.zeros(1000)
    return sd


def alexnet_state_dict(torch, nn):
    sd = {}
    for i, (cout, cin, k) in {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}.items():
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, k, k) * (2.0 / (cin * k * k)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(cout)
    for i, (cout, cin) in {1: (4096, 9216), 4: (4096, 4096), 6: (1000, 4096)}.items():
        sd[f"classifier.{i}.weight"] = torch.randn(cout, cin) * 0.01
        sd[f"classifier.{i}.bias"] = torch.zeros(cout)
    return sd


def mobilenet(out: Path, family: str, url: str, topology: Path) -> None:
    """A MobileNet at alpha 1.0 in the files its official URL serves, random weights (tools/rehearsal/mobilenet.mjs):
    v2 no-top as model.json + weights.bin; v1 with its classifier as model.json, one shard per layer and metadata.json."""
    dest = mirror_path(out, url).parent
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["node", str(ROOT / "tools" / "rehearsal" / "mobilenet.mjs"), family, str(topology), str(dest)], check=True)
    for f in sorted(dest.iterdir()):
        MANIFEST[url.rsplit("/", 1)[0] + "/" + f.name] = entry(f.read_bytes())


MANIFEST: dict[str, dict] = {}


def entry(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write(out: Path, url: str, data: bytes) -> None:
    p = mirror_path(out, url)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    MANIFEST[url] = entry(data)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--topology", required=True, help="model.json of MobileNetV2 0.35 no-top (its topology is widened to alpha 1.0)")
    p.add_argument("--v1-topology", required=True, help="model.json of MobileNet v1 0.75 with its classifier (widened to alpha 1.0)")
    p.add_argument("--per-class", type=int, default=4, help="images per class in each split (the data-size knob)")
    # Chapters 4 and 5 load ResNet-50, chapter 1 AlexNet (244 MB of random weights, as large as the real file).
    p.add_argument("--torchvision", default="resnet50,alexnet", help="comma-separated torchvision weights to stand in for (resnet50, alexnet)")
    a = p.parse_args(argv)
    out = Path(a.out)
    n = a.per_class
    cifar(out, max(1, n // 2))  # chapter 1 trains a full-width CNN for 25 epochs on all five batches: the costliest data
    voc(out, VOC_TRAINVAL, ["train", "val", "trainval"], 5, 4 * n)
    voc(out, VOC_TEST, ["test"], 5000, 2 * n)  # ids disjoint from trainval's, as in VOC
    dogs(out, 4 * n, n)
    hymenoptera(out, max(2, n // 2), n)  # chapter 5 fine-tunes ResNet-50 on the train images: the costliest per image
    mobilenet(out, "v2", MOBILENET_V2_1, Path(a.topology))
    mobilenet(out, "v1", MOBILENET_V1_1, Path(a.v1_topology))
    tv = dict(torchvision_weights(out, arch, TORCHVISION_FILES[arch]) for arch in a.torchvision.split(",") if arch)
    manifest = {"note": "stand-in files of `make rehearsal`: random data and weights, not the official files",
                "downloads": MANIFEST, "torchvisionWeights": tv}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    total = sum(e["size"] for e in MANIFEST.values())
    print(f"[rehearsal] {len(MANIFEST)} stand-in files, {total / 1e6:.1f} MB, under {out / 'mirror'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
