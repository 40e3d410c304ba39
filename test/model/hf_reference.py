"""Build transformers' DepthAnythingForDepthEstimation with random weights (the numerical reference)."""
from __future__ import annotations

import torch

from depth_anything_ros.model import get_preset


def build_hf_model(encoder: str, version: str, kind: str, max_depth: int = 20, seed: int = 0):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    p = get_preset(encoder)
    backbone = Dinov2Config(
        image_size=518, patch_size=14, hidden_size=p.embed_dim, num_hidden_layers=p.depth,
        num_attention_heads=p.num_heads, mlp_ratio=4, layerscale_value=1.0,
        out_indices=[i + 1 for i in p.taps(version)], apply_layernorm=True, reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=p.embed_dim, patch_size=14,
        fusion_hidden_size=p.features, neck_hidden_sizes=list(p.out_channels),
        depth_estimation_type=kind, max_depth=max_depth if kind == "metric" else 1,
    )
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config).eval()
    # Non-trivial weights everywhere (default init leaves biases at zero and LayerScale at one).
    with torch.no_grad():
        for name, param in model.named_parameters():
            scale = 0.02 if param.dim() > 1 else 0.1
            param.add_(torch.randn_like(param) * scale)
        # keep the relative head's final ReLU alive so the comparison is not between two zero maps
        model.head.conv3.bias.fill_(1.0)
    return model
