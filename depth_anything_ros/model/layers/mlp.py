"""Feed-forward blocks: the GELU MLP (ViT-S/B/L) and the fused SwiGLU (ViT-G)."""
import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 (keys `mlp.fc1.*`, `mlp.fc2.*`)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwiGLUFFNFused(nn.Module):
    """w12 -> SiLU(x1) * x2 -> w3 (keys `mlp.w12.*`, `mlp.w3.*`).

    DINOv2 shrinks the hidden width to 2/3 and rounds it up to a multiple of 8:
    4·1536 -> 4096 for ViT-G.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(x1) * x2)
