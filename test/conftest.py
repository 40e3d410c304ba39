"""Shared test fixtures: random-weight models saved in the real formats (no downloads)."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random-weight `vitt` relative model saved in our format (plumbing tests only, never shown as depth)."""
    from depth_anything_ros.model import build_model
    from depth_anything_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model("vitt", "v2", "relative")
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
