"""DINOv2 building blocks, one small block per file (key-compatible with the official checkpoints)."""
from .attention import Attention
from .block import Block
from .layer_scale import LayerScale
from .mlp import Mlp, SwiGLUFFNFused
from .patch_embed import PatchEmbed

__all__ = ["Attention", "Block", "LayerScale", "Mlp", "PatchEmbed", "SwiGLUFFNFused"]
