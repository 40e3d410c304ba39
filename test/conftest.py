"""Shared test fixtures: random-weight models saved in the real formats (no downloads)."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random-weight `vitt` relative model saved in our format (plumbing tests only, never shown as depth).

    Plain random init ends in a ReLU over a negative map (output exactly 0, which would make parity
    checks vacuous); the final 1×1 conv is rescaled so the output is positive and varies (~1.8 ± 0.5).
    """
    from depth_anything_ros.model import build_model
    from depth_anything_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(3)
    model = build_model("vitt", "v2", "relative")
    last = model.depth_head.scratch.output_conv2[2]
    with torch.no_grad():
        last.weight.mul_(100.0)
        last.bias.fill_(3.0)
    path = tmp_path_factory.mktemp("ckpt") / "vitt_random.safetensors"
    save_checkpoint(model, path)
    return path


@pytest.fixture(scope="session")
def tiny_metric_checkpoint(tmp_path_factory):
    """A random-weight `vitt` metric model (max_depth 20) in our format."""
    from depth_anything_ros.model import build_model
    from depth_anything_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(1)
    model = build_model("vitt", "v2", "metric", max_depth=20.0)
    path = tmp_path_factory.mktemp("ckpt") / "vitt_metric_random.safetensors"
    save_checkpoint(model, path)
    return path
