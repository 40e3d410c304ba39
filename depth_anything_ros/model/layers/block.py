"""Pre-norm transformer block: x + γ1·Attn(LN(x)), then x + γ2·FFN(LN(x))."""
import torch
from torch import nn

from .attention import Attention
from .layer_scale import LayerScale
from .mlp import Mlp, SwiGLUFFNFused


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, ffn: str = "mlp", mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        ffn_cls = {"mlp": Mlp, "swiglu": SwiGLUFFNFused}[ffn]
        self.mlp = ffn_cls(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))
