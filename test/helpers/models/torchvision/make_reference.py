"""Reference outputs for the tfjs torchvision architectures (test/helpers/torchvision.test.ts).

For each architecture: build the torchvision model (or chapter 3's MobileNet v1, defined here as the source
chapter writes it), give BatchNorm random affine parameters and running statistics (torchvision initialises them
to 1/0, which would not test their mapping), save its state dict, run it in eval mode on a fixed input and save
input and output as raw little-endian float32 in NHWC order (the layout of the tfjs model).

usage: make_reference.py OUT_DIR ARCH SIZE BATCH [--features] [--legacy] [--train-grad]
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision


class MobileNet(nn.Module):  # chapter 3's definition (seeds/ch3-fine-tuning.md), verbatim apart from comments
    def __init__(self):
        super(MobileNet, self).__init__()

        def conv_bn(inp, oup, stride):
            return nn.Sequential(nn.Conv2d(inp, oup, 3, stride, 1, bias=False), nn.BatchNorm2d(oup), nn.ReLU(inplace=True))

        def conv_dw(inp, oup, stride):
            return nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp), nn.ReLU(inplace=True),
                nn.Conv2d(inp, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup), nn.ReLU(inplace=True),
            )

        self.model = nn.Sequential(
            conv_bn(3, 32, 2), conv_dw(32, 64, 1), conv_dw(64, 128, 2), conv_dw(128, 128, 1), conv_dw(128, 256, 2),
            conv_dw(256, 256, 1), conv_dw(256, 512, 2), conv_dw(512, 512, 1), conv_dw(512, 512, 1), conv_dw(512, 512, 1),
            conv_dw(512, 512, 1), conv_dw(512, 512, 1), conv_dw(512, 1024, 2), conv_dw(1024, 1024, 1), nn.AvgPool2d(7),
        )
        self.fc = nn.Linear(1024, 1000)

    def forward(self, x):
        x = self.model(x)
        x = x.view(-1, 1024)
        return self.fc(x)


def main():
    out, arch, size, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    flags = set(sys.argv[5:])
    torch.manual_seed(0)
    model = MobileNet() if arch == "mobilenet_v1" else getattr(torchvision.models, arch)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    state = model.state_dict()
    if "--features" in flags:  # the convolutional part only (VGG's classifier alone is 480 MB)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
    torch.save(state, f"{out}/model.pth", _use_new_zipfile_serialization="--legacy" not in flags)
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(f"{out}/input.bin")
    body = model.features if "--features" in flags else model
    with torch.no_grad():
        y = body(x)
    (y.permute(0, 2, 3, 1) if y.dim() == 4 else y).contiguous().numpy().astype("<f4").tofile(f"{out}/output.bin")
    if "--grad" in flags:  # eval-mode gradient of sum(y * weights) for the first conv and the classifier
        wy = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
        x.requires_grad_(False)
        model.zero_grad()
        (model(x) * wy).sum().backward()
        wy.numpy().astype("<f4").tofile(f"{out}/grad_weights.bin")
        model.conv1.weight.grad.permute(2, 3, 1, 0).contiguous().numpy().astype("<f4").tofile(f"{out}/grad_conv1.bin")
        model.fc.weight.grad.t().contiguous().numpy().astype("<f4").tofile(f"{out}/grad_fc.bin")
    print(" ".join(str(d) for d in (y.permute(0, 2, 3, 1) if y.dim() == 4 else y).shape))


if __name__ == "__main__":
    main()
