"""Numerical parity with transformers' DepthAnythingForDepthEstimation (random weights, no download).

Both loaders are exercised: the transformers-format loader (directory written by save_pretrained,
legacy on-disk names) and, after converting to official keys, the official `.pth` loader.
"""
from __future__ import annotations

import pytest
import torch

from depth_anything_ros.model.checkpoint import load_checkpoint
from depth_anything_ros.model.hf_mapping import official_to_transformers, transformers_to_official

from .hf_reference import build_hf_model

CASES = [(e, v, k) for e in ("vits", "vitb") for v in ("v1", "v2") for k in ("relative", "metric")]


@pytest.mark.parametrize("encoder,version,kind", CASES)
def test_parity_518(tmp_path, encoder, version, kind):
    hf = build_hf_model(encoder, version, kind)
    hf.save_pretrained(tmp_path / "hf")
    torch.manual_seed(123)
    x = torch.randn(1, 3, 518, 518)
    with torch.no_grad():
        ref = hf(pixel_values=x).predicted_depth

    # 1. transformers-format loader; version, kind and max_depth come from config.json
    ours, meta = load_checkpoint(tmp_path / "hf")
    assert (meta.encoder, meta.version, meta.kind) == (encoder, version, kind)
    with torch.no_grad():
        out_hf_loader = ours(x)

    # 2. official loader on the converted state dict
    official = transformers_to_official(hf.state_dict())
    torch.save(official, tmp_path / "official.pth")
    ours2, _ = load_checkpoint(tmp_path / "official.pth", encoder=encoder, version=version, kind=kind,
                               max_depth=20.0 if kind == "metric" else None)
    with torch.no_grad():
        out_official_loader = ours2(x)

    span = float(ref.max() - ref.min())
    assert span > 0
    for out in (out_hf_loader, out_official_loader):
        assert out.shape == ref.shape == (1, 518, 518)
        assert float((out - ref).abs().max()) <= 1e-4 * span


def test_key_conversion_round_trip():
    hf = build_hf_model("vits", "v2", "relative")
    state = hf.state_dict()
    official = transformers_to_official(state)
    assert len(official) == 239
    back = official_to_transformers(official, attn_names="v5")
    assert set(back) == set(state)
    assert all(torch.equal(back[k], state[k]) for k in state)
    legacy = official_to_transformers(official, attn_names="legacy")
    assert len(legacy) == 287 and any(".attention.attention.query." in k for k in legacy)
