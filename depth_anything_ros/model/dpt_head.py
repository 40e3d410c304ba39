"""DPT head: reassemble four token maps, fuse them top-down, regress one depth channel (docs/inference.md).

Key-compatible with the official `depth_head.*` weights. Layout, in forward order:
projects (1×1) -> resize_layers (×4, ×2, ×1, ×½) -> scratch.layerN_rn (3×3, no bias)
-> scratch.refinenet4..1 -> output_conv1 -> upsample to 14·patch grid -> output_conv2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualConvUnit(nn.Module):
    """Pre-activation residual block: x + conv2(relu(conv1(relu(x))))."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1, bias=True)
        self.activation = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.activation(x))
        out = self.conv2(self.activation(out))
        return out + x


class FeatureFusionBlock(nn.Module):
    """out_conv(upsample(RCU2(x0 + RCU1(x1)))); upsample to `size`, or ×2 without one."""

    def __init__(self, features: int):
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features)  # unused by refinenet4, present in every checkpoint
        self.resConfUnit2 = ResidualConvUnit(features)
        self.out_conv = nn.Conv2d(features, features, 1, bias=True)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor | None = None, size=None) -> torch.Tensor:
        out = x0 if x1 is None else x0 + self.resConfUnit1(x1)
        out = self.resConfUnit2(out)
        if size is None:
            out = F.interpolate(out, scale_factor=2.0, mode="bilinear", align_corners=True)
        else:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(out)


class Scratch(nn.Module):
    """Container that gives the official `scratch.*` key names."""

    def __init__(self, out_channels, features: int, metric: bool):
        super().__init__()
        for i, ch in enumerate(out_channels, start=1):
            setattr(self, f"layer{i}_rn", nn.Conv2d(ch, features, 3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self, f"refinenet{i}", FeatureFusionBlock(features))
        self.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        last = [nn.Sigmoid()] if metric else [nn.ReLU(True), nn.Identity()]
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, 32, 3, padding=1), nn.ReLU(True), nn.Conv2d(32, 1, 1), *last
        )


class DPTHead(nn.Module):
    """Maps four (B, N, D) token tensors on an (h, w) patch grid to a (B, 1, 14h, 14w) map."""

    def __init__(self, in_channels: int, features: int, out_channels, metric: bool = False, patch_size: int = 14):
        super().__init__()
        self.patch_size = patch_size
        self.projects = nn.ModuleList(nn.Conv2d(in_channels, ch, 1) for ch in out_channels)
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(out_channels[0], out_channels[0], 4, stride=4),
                nn.ConvTranspose2d(out_channels[1], out_channels[1], 2, stride=2),
                nn.Identity(),
                nn.Conv2d(out_channels[3], out_channels[3], 3, stride=2, padding=1),
            ]
        )
        self.scratch = Scratch(out_channels, features, metric)

    def forward(self, tokens: list[torch.Tensor], h: int, w: int) -> torch.Tensor:
        s = self.scratch
        maps = []
        for i, t in enumerate(tokens):
            x = t.transpose(1, 2).reshape(t.shape[0], t.shape[-1], h, w)
            maps.append(self.resize_layers[i](self.projects[i](x)))
        l1, l2, l3, l4 = (getattr(s, f"layer{i}_rn")(m) for i, m in enumerate(maps, start=1))
        p = s.refinenet4(l4, size=l3.shape[2:])
        p = s.refinenet3(p, l3, size=l2.shape[2:])
        p = s.refinenet2(p, l2, size=l1.shape[2:])
        p = s.refinenet1(p, l1)
        out = s.output_conv1(p)
        # No int() on the size: keeps the output size symbolic when exported with dynamic shapes.
        out = F.interpolate(out, size=(h * self.patch_size, w * self.patch_size), mode="bilinear", align_corners=True)
        return s.output_conv2(out)
