"""Checkpoint formats: our safetensors + metadata, official .pth (strict), DINOv2 encoder init, errors."""
import pytest
import torch

from depth_anything_ros.model import build_model
from depth_anything_ros.model.checkpoint import (
    CheckpointError,
    ModelMeta,
    load_checkpoint,
    load_dinov2_encoder,
    read_state_dict,
    save_checkpoint,
)

X = torch.randn(1, 3, 70, 84, generator=torch.Generator().manual_seed(0))


def official_state_dict(model):
    """What an official .pth holds: the plain state dict under the official key names (ours are the same)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _randomised(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def test_round_trip_official_strict_identical(tmp_path):
    model = _randomised(build_model("vitt", "v1"))
    torch.save(official_state_dict(model), tmp_path / "model.pth")
    plain = torch.load(tmp_path / "model.pth", weights_only=True)
    fresh = build_model("vitt", "v1")
    fresh.load_state_dict(plain, strict=True)  # what the official code does
    loaded, meta = load_checkpoint(tmp_path / "model.pth", version="v1")
    assert meta.encoder == "vitt"  # detected from shapes
    with torch.no_grad():
        ref = model(X)
        assert torch.equal(fresh.eval()(X), ref)
        assert torch.equal(loaded(X), ref)


def test_official_wrappers_and_module_prefix(tmp_path):
    model = _randomised(build_model("vitt"))
    wrapped = {"model": {f"module.{k}": v for k, v in official_state_dict(model).items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "ddp.pth")
    loaded, _ = load_checkpoint(tmp_path / "ddp.pth")
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))


def test_ours_metadata_decides(tmp_path):
    model = _randomised(build_model("vitt", "v1", "metric", max_depth=12.5))
    meta = ModelMeta("vitt", "v1", "metric", 12.5, input_size=(266, 350), provenance="unit test")
    save_checkpoint(model, tmp_path / "m.safetensors", meta)
    loaded, got = load_checkpoint(tmp_path / "m.safetensors")
    assert (got.version, got.kind, got.max_depth, got.input_size) == ("v1", "metric", 12.5, (266, 350))
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))
    with pytest.raises(CheckpointError, match="checkpoint says kind='metric'"):
        load_checkpoint(tmp_path / "m.safetensors", kind="relative")


def test_wrong_preset_names_keys_and_fitting_encoder(tmp_path):
    torch.save(official_state_dict(build_model("vitt")), tmp_path / "t.pth")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "t.pth", encoder="vits")
    text = str(err.value)
    assert "shape mismatch" in text and "--encoder vitt" in text and "\n" not in text


def test_missing_keys_are_named(tmp_path):
    state = official_state_dict(build_model("vitt"))
    del state["depth_head.scratch.output_conv1.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="missing: depth_head.scratch.output_conv1.weight"):
        load_checkpoint(tmp_path / "partial.pth")


def test_metric_needs_max_depth_and_relative_refuses_it(tmp_path):
    torch.save(official_state_dict(build_model("vitt")), tmp_path / "r.pth")
    with pytest.raises(CheckpointError, match="max_depth"):
        load_checkpoint(tmp_path / "r.pth", kind="metric")
    with pytest.raises(CheckpointError, match="metric models"):
        load_checkpoint(tmp_path / "r.pth", max_depth=10.0)


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth: not a readable checkpoint"):
        read_state_dict(tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="no such file"):
        read_state_dict(tmp_path / "absent.pth")


def test_dinov2_backbone_initialises_encoder(tmp_path):
    donor = _randomised(build_model("vitt"))
    torch.save(donor.pretrained.state_dict(), tmp_path / "dinov2_vitt14_pretrain.pth")
    model = build_model("vitt")
    load_dinov2_encoder(model, tmp_path / "dinov2_vitt14_pretrain.pth")
    for k, v in donor.pretrained.state_dict().items():
        assert torch.equal(model.pretrained.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="DINOv2 backbone-only"):
        load_checkpoint(tmp_path / "dinov2_vitt14_pretrain.pth")
    with pytest.raises(CheckpointError, match="does not fit encoder vits"):
        load_dinov2_encoder(build_model("vits"), tmp_path / "dinov2_vitt14_pretrain.pth")


def test_official_file_name_implies_options(tmp_path):
    model = _randomised(build_model("vitt", "v2", "metric", max_depth=20.0))
    state = official_state_dict(model)
    # the released name says: V2, metric, Hypersim (20 m); only the encoder comes from the shapes here
    torch.save(state, tmp_path / "depth_anything_v2_metric_hypersim_vits.pth")
    loaded, meta = load_checkpoint(tmp_path / "depth_anything_v2_metric_hypersim_vits.pth")
    assert (meta.version, meta.kind, meta.max_depth) == ("v2", "metric", 20.0)
    # Hypersim fx = 886.81 px at 1024x768, trained at 518x686: (886.81*686/1024 + 886.81*518/768) / 2
    assert meta.training_focal == pytest.approx(596.11, abs=0.05)
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))


def test_missing_official_checkpoint_is_fetched_from_the_hub_cache(tmp_path, monkeypatch):
    """Offline: a file in the hub cache (real cache layout) is used; otherwise the error says what to place where."""
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    missing = tmp_path / "depth_anything_v2_vits.pth"
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(missing, encoder="vitt")
    text = str(err.value)
    assert "huggingface.co/depth-anything/Depth-Anything-V2-Small" in text and f"place it at {missing}" in text

    snapshot = tmp_path / "hub" / "models--depth-anything--Depth-Anything-V2-Small" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    model = _randomised(build_model("vitt"))
    torch.save(official_state_dict(model), snapshot / "depth_anything_v2_vits.pth")
    loaded, meta = load_checkpoint(missing)
    assert meta.encoder == "vitt" and meta.version == "v2"
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))
