"""Multi-head self-attention with one fused qkv projection (rows ordered q, k, v)."""
import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Keys `attn.qkv.*` and `attn.proj.*` as in DINOv2.

    Uses `scaled_dot_product_attention`: the same maths as the official explicit q·kᵀ/√d softmax,
    fused on CPU and GPU, and it accumulates the scores in fp32 under fp16 (DINOv2 needs that).
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(x.transpose(1, 2).reshape(B, N, C))
