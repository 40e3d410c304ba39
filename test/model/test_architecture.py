"""Parameter counts and shapes against the official models (docs/inference.md); pos-embed modes; feature taps."""
import pytest
import torch

from depth_anything_ros.model import build_model, get_preset

SPEC_COUNTS = {  # total, encoder, as the official code instantiates them (docs/inference.md)
    "vits": (24_785_089, 22_056_576),
    "vitb": (97_470_785, 86_580_480),
    "vitl": (335_315_649, 304_368_640),
    "vitg": (1_258_132_225, 1_136_480_768),
}
SPEC_KEYS = {"vits": 239, "vitb": 239, "vitl": 407, "vitg": 631}


@pytest.mark.parametrize("encoder", sorted(SPEC_COUNTS))
def test_parameter_counts_match_spec(encoder):
    with torch.device("meta"):  # no memory for ViT-G's 1.26 B parameters
        model = build_model(encoder)
    total = sum(p.numel() for p in model.parameters())
    encoder_params = sum(p.numel() for p in model.pretrained.parameters())
    assert (total, encoder_params) == SPEC_COUNTS[encoder]
    assert len(model.state_dict()) == SPEC_KEYS[encoder]


def test_taps_v1_v2():
    assert get_preset("vits").taps("v1") == (8, 9, 10, 11)
    assert get_preset("vitl").taps("v2") == (4, 11, 17, 23)
    assert get_preset("vitg").taps("v2") == (9, 19, 29, 39)
    with pytest.raises(ValueError, match="unknown version"):
        get_preset("vits").taps("v3")


def test_metric_output_is_bounded_and_relative_nonnegative():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 70, 98)
    metric = build_model("vitt", kind="metric", max_depth=10.0).eval()
    relative = build_model("vitt").eval()
    with torch.no_grad():
        m, r = metric(x), relative(x)
    assert m.shape == r.shape == (2, 70, 98)
    assert float(m.min()) >= 0.0 and float(m.max()) <= 10.0
    assert float(r.min()) >= 0.0


@torch.no_grad()
def test_pos_interp_modes_agree_at_518_and_differ_elsewhere():
    torch.manual_seed(0)
    model = build_model("vitt").eval()
    enc = model.pretrained
    official_square = enc.interpolate_pos_encoding(37, 37, torch.float32)
    assert official_square is enc.pos_embed  # the square shortcut
    enc.pos_interp = "size"
    assert torch.allclose(enc.interpolate_pos_encoding(37, 37, torch.float32), enc.pos_embed, atol=1e-6)
    size_mode = enc.interpolate_pos_encoding(28, 49, torch.float32)
    enc.pos_interp = "official"
    official = enc.interpolate_pos_encoding(28, 49, torch.float32)
    assert size_mode.shape == official.shape == (1, 1 + 28 * 49, 192)
    assert float((size_mode - official).abs().max()) > 1e-4  # scale_factor semantics differ


def test_return_features_gives_final_normalised_tokens():
    model = build_model("vitt").eval()
    with torch.no_grad():
        depth, feats = model(torch.randn(1, 3, 56, 84), return_features=True)
    assert depth.shape == (1, 56, 84) and feats.shape == (1, 4 * 6, 192)
    # LayerNorm output with unit weight / zero bias: per-token mean 0, variance 1
    assert torch.allclose(feats.mean(-1), torch.zeros(1, 24), atol=1e-4)
