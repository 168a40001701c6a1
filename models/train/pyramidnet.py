"""PyramidNet for CIFAR (Han, Kim and Kim, "Deep Pyramidal Residual Networks", CVPR 2017).

Widths grow additively by alpha / (3 * N) per residual unit, shortcuts are identity with zero-padded
channels (average-pooled when the unit downsamples), and each unit is BN-conv-BN-ReLU-conv-BN with no
ReLU after the addition, as the paper prescribes.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PyramidBasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(F.relu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = F.avg_pool2d(x, 2) if self.stride != 1 else x
        if self.extra_channels > 0:
            # Zero-padding the new channels keeps the shortcut parameter-free (paper, section 3.2).
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return out + shortcut


class PyramidNet(nn.Module):
    def __init__(self, depth: int = 20, alpha: float = 48, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError("depth must be 6N+2 for basic blocks")
        units_per_stage = (depth - 2) // 6
        step = alpha / (3 * units_per_stage)
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks = []
        width = 16.0
        in_channels = 16
        for stage in range(3):
            for unit in range(units_per_stage):
                width += step
                out_channels = int(round(width))
                stride = 2 if stage > 0 and unit == 0 else 1
                blocks.append(PyramidBasicBlock(in_channels, out_channels, stride))
                in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.bn_final = nn.BatchNorm2d(in_channels)
        self.fc = nn.Linear(in_channels, num_classes)
        self.final_channels = in_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init of each unit's last BN starts every unit as identity, which speeds short schedules.
        for block in blocks:
            nn.init.zeros_(block.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv1(x))
        x = self.blocks(x)
        x = F.relu(self.bn_final(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def count_macs(model: nn.Module, input_shape=(1, 3, 32, 32)) -> int:
    """Multiply-accumulates of one forward pass over convolutions and the classifier."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += output.numel() // output.shape[0] * kernel

    def linear_hook(module: nn.Linear, _inputs, _output) -> None:
        nonlocal total
        total += module.in_features * module.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(*input_shape))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total
