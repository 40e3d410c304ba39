"""DINOv2 ViT/14 encoder, key-compatible with the official `pretrained.*` weights (docs/inference.md)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Block, PatchEmbed
from .presets import Preset

POS_INTERP_MODES = ("official", "size")


class DinoVisionTransformer(nn.Module):
    """Patch embedding, class token, interpolated positional embedding, N pre-norm blocks.

    `pos_interp` selects how the 37×37 positional table is resized to the input's patch grid:
    "official" reproduces the official code (scale_factor with the +0.1 offset and the square
    shortcut); "size" interpolates to the explicit grid (HF-compatible, exportable with dynamic
    shapes). The two agree exactly at 518×518.
    """

    def __init__(self, preset: Preset, pos_interp: str = "official", img_size: int = 518, patch_size: int = 14):
        super().__init__()
        if pos_interp not in POS_INTERP_MODES:
            raise ValueError(f"pos_interp must be one of {POS_INTERP_MODES}, got {pos_interp!r}")
        dim = preset.embed_dim
        self.pos_interp = pos_interp
        self.patch_size = patch_size
        self.embed_dim = dim
        self.patch_embed = PatchEmbed(patch_size, 3, dim)
        grid = img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # unused at inference; kept for strict loading
        self.blocks = nn.ModuleList(Block(dim, preset.num_heads, preset.ffn) for _ in range(preset.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        self.apply(_init_weights)

    def interpolate_pos_encoding(self, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
        """The positional table resized to an (h, w) patch grid, class position first."""
        table = self.pos_embed
        n_stored = table.shape[1] - 1
        if self.pos_interp == "official" and h * w == n_stored and h == w:
            return table
        side = int(n_stored**0.5)
        table = table.float()
        cls_pos, patch_pos = table[:, :1], table[:, 1:]
        patch_pos = patch_pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        if self.pos_interp == "official":
            # scale_factor semantics: the grid is stretched by side/(n+0.1), not side/n; docs/inference.md.
            scale = ((h + 0.1) / side, (w + 0.1) / side)
            patch_pos = F.interpolate(patch_pos, scale_factor=scale, mode="bicubic", antialias=False)
        else:
            patch_pos = F.interpolate(patch_pos, size=(h, w), mode="bicubic", align_corners=False, antialias=False)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, table.shape[-1])
        return torch.cat((cls_pos, patch_pos), dim=1).to(dtype)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded tokens (class + patches) with positions added."""
        h, w = x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x + self.interpolate_pos_encoding(h, w, x.dtype)

    def get_intermediate_layers(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """Patch tokens (B, N, D) after the shared final norm, for each block index in `taps`."""
        x = self.tokens(x)
        outputs = []
        last = max(taps)
        for i, block in enumerate(self.blocks[: last + 1]):
            x = block(x)
            if i in taps:
                outputs.append(self.norm(x)[:, 1:])
        return outputs


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
