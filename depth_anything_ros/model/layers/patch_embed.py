"""Image to patch tokens: one strided convolution (keys `patch_embed.proj.*`)."""
import torch
from torch import nn


class PatchEmbed(nn.Module):
    """(B, 3, H, W) -> (B, H/p * W/p, D). H and W must be multiples of the patch size."""

    def __init__(self, patch_size: int = 14, in_chans: int = 3, embed_dim: int = 384):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, D, h, w)
        return x.flatten(2).transpose(1, 2)
