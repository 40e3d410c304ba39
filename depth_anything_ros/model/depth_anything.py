"""The Depth Anything network: DINOv2 encoder (`pretrained`) + DPT head (`depth_head`)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .dinov2 import DinoVisionTransformer
from .dpt_head import DPTHead
from .presets import KINDS, get_preset


@dataclass
class ModelConfig:
    """What fixes a network: preset, encoder taps (version), head kind, metric range, pos-embed mode."""

    encoder: str = "vits"
    version: str = "v2"
    kind: str = "relative"
    max_depth: float | None = None
    pos_interp: str = "official"

    def __post_init__(self):
        preset = get_preset(self.encoder)
        preset.taps(self.version)  # validates the version
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "metric":
            if self.max_depth is None or not self.max_depth > 0:
                raise ValueError("a metric model needs max_depth > 0 (e.g. 20 indoor, 80 outdoor)")
            self.max_depth = float(self.max_depth)
        elif self.max_depth is not None:
            raise ValueError("max_depth applies to metric models only (relative output has no unit)")


class DepthAnything(nn.Module):
    """(B, 3, H, W) ImageNet-normalised RGB, H and W multiples of 14 -> (B, H, W).

    Relative models return affine-invariant inverse depth (ReLU); metric models return metres
    (Sigmoid × max_depth). `forward(x, return_features=True)` also returns the final-layer
    normalised patch tokens (B, N, D), used for feature alignment in training.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        preset = get_preset(config.encoder)
        self.taps = preset.taps(config.version)
        self.pretrained = DinoVisionTransformer(preset, pos_interp=config.pos_interp)
        self.depth_head = DPTHead(preset.embed_dim, preset.features, preset.out_channels, metric=config.kind == "metric")

    @property
    def patch_size(self) -> int:
        return self.pretrained.patch_size

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h, w = x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size
        tokens = self.pretrained.get_intermediate_layers(x, self.taps)
        out = self.depth_head(tokens, h, w)
        if self.config.kind == "metric":
            depth = out * self.config.max_depth
        else:
            depth = F.relu(out)
        depth = depth.squeeze(1)
        if return_features:
            return depth, tokens[-1]
        return depth

    def set_pos_interp(self, mode: str) -> None:
        """Switch positional-embedding interpolation ("official" for PyTorch, "size" for export)."""
        if mode not in ("official", "size"):
            raise ValueError(f"pos_interp must be 'official' or 'size', got {mode!r}")
        self.pretrained.pos_interp = mode
        self.config.pos_interp = mode


def build_model(encoder: str = "vits", version: str = "v2", kind: str = "relative",
                max_depth: float | None = None, pos_interp: str = "official") -> DepthAnything:
    """A randomly initialised network (DINOv2 default init for the encoder)."""
    return DepthAnything(ModelConfig(encoder, version, kind, max_depth, pos_interp))
