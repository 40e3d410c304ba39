"""ONNX export: static files at two sizes and one dynamic file at three sizes match torch in ONNX Runtime."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from depth_anything_ros.inference import export as ex
from depth_anything_ros.model.checkpoint import ModelMeta, load_checkpoint

from .conftest import DYNAMIC_CHECK_SIZES, DYNAMIC_EXPORT_SIZE, STATIC_SIZES


@pytest.mark.parametrize("size", STATIC_SIZES)
def test_static_export_matches_torch(static_onnx, photos, size):
    path, ckpt = static_onnx[size]
    model, _ = load_checkpoint(ckpt)
    report = ex.verify_onnx(path, model, photos)
    assert [c.size for c in report.checks] == [size] * len(photos)
    assert report.ok, report.lines()
    for check in report.checks:
        assert not check.constant_reference
        assert check.max_error <= 1e-5 * max(1.0, check.scale)  # measured ~2e-6: far inside the tolerance


def test_static_export_shapes_and_graph(static_onnx):
    path, _ = static_onnx[STATIC_SIZES[0]]
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert proto.graph.input[0].name == "image" and proto.graph.output[0].name == "depth"
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, *STATIC_SIZES[0]]
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    ops = [n.op_type for n in proto.graph.node]
    assert "LayerNormalization" in ops  # one node, not ReduceMean/Pow chains (fp16 TensorRT accuracy)
    cubic = [n for n in proto.graph.node if n.op_type == "Resize"
             and any(a.name == "mode" and a.s == b"cubic" for a in n.attribute)]
    assert cubic == []  # static files carry the positional table pre-interpolated
    assert list(path.parent.glob("*.data")) == []  # single self-contained file


def test_dynamic_export_matches_torch_at_three_sizes(dynamic_onnx, varied_checkpoint, photos):
    model, _ = load_checkpoint(varied_checkpoint)
    report = ex.verify_onnx(dynamic_onnx, model, photos[:1], sizes=DYNAMIC_CHECK_SIZES)
    assert report.dynamic
    assert sorted({c.size for c in report.checks}) == sorted(DYNAMIC_CHECK_SIZES)
    assert report.ok, report.lines()


def test_dynamic_export_batch_and_output_size(dynamic_onnx, varied_checkpoint):
    """Several sizes and a batch of 3 through the same session: output follows the input, not the trace."""
    model, _ = load_checkpoint(varied_checkpoint, pos_interp="size")
    session = ort.InferenceSession(str(dynamic_onnx), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch, (h, w) in ((3, (182, 238)), (1, (518, 392)), (2, (28, 42))):
        x = rng.standard_normal((batch, 3, h, w)).astype(np.float32)
        out = session.run(["depth"], {"image": x})[0]
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        assert out.shape == (batch, h, w)
        np.testing.assert_allclose(out, ref, rtol=0, atol=ex.ATOL + ex.RTOL * np.abs(ref).max())


def test_dynamic_default_sizes_from_metadata(dynamic_onnx, varied_checkpoint, photos):
    model, _ = load_checkpoint(varied_checkpoint)
    report = ex.verify_onnx(dynamic_onnx, model, photos[:1])
    assert [c.size for c in report.checks] == ex.default_verify_sizes(*DYNAMIC_EXPORT_SIZE)
    assert report.ok


def test_metadata_round_trip(static_onnx, dynamic_onnx, tiny_metric_checkpoint, varied_checkpoint):
    path, _ = static_onnx[STATIC_SIZES[0]]
    _, source_meta = load_checkpoint(tiny_metric_checkpoint)
    meta, props = ex.read_onnx_metadata(path)
    assert isinstance(meta, ModelMeta)
    assert (meta.encoder, meta.version, meta.kind, meta.max_depth) == ("vitt", "v2", "metric", 20.0)
    assert meta.input_size == STATIC_SIZES[0]
    assert (meta.license, meta.training_focal) == (source_meta.license, source_meta.training_focal)
    assert props["kind"] == "metric" and props["max_depth"] == "20.0" and props["dynamic_hw"] == "false"
    assert props["input_size"] == "266x350"
    dyn_meta, dyn_props = ex.read_onnx_metadata(dynamic_onnx)
    assert (dyn_meta.kind, dyn_meta.max_depth, dyn_props["dynamic_hw"]) == ("relative", None, "true")
    assert ModelMeta.from_json(meta.to_json()) == meta


def test_verification_catches_a_wrong_graph(static_onnx, photos):
    """The check is not vacuous: the file against another model's weights fails with a clear message."""
    from depth_anything_ros.model import build_model

    path, _ = static_onnx[STATIC_SIZES[1]]
    torch.manual_seed(99)
    other = build_model("vitt", "v2", "relative")
    with torch.no_grad():
        other.depth_head.scratch.output_conv2[2].bias.fill_(3.0)
    report = ex.verify_onnx(path, other, photos[:1])
    assert not report.ok
    with pytest.raises(ex.ExportError, match="differs from torch fp32 on chelsea at 182x238"):
        ex.require_ok(report)


def test_static_file_cannot_be_verified_at_other_sizes(static_onnx, photos):
    path, ckpt = static_onnx[STATIC_SIZES[1]]
    model, _ = load_checkpoint(ckpt)
    with pytest.raises(ex.ExportError, match="static 182x238"):
        ex.verify_onnx(path, model, photos[:1], sizes=[(266, 350)])


def test_export_rejects_bad_arguments(tmp_path, varied_checkpoint):
    model, meta = load_checkpoint(varied_checkpoint)
    with pytest.raises(ex.ExportError, match="opset 16"):
        ex.export_onnx(model, meta, tmp_path / "m.onnx", 266, 350, opset=16)
    with pytest.raises(ex.ExportError, match="multiples of 14"):
        ex.export_onnx(model, meta, tmp_path / "m.onnx", 266, 351)
    assert not (tmp_path / "m.onnx").exists()


def test_export_leaves_the_callers_model_alone(tmp_path, varied_checkpoint):
    model, meta = load_checkpoint(varied_checkpoint)  # official interpolation
    ex._prepare(model, 182, 238, dynamic=False)
    assert model.config.pos_interp == "official" and model.pretrained.pos_interp == "official"
    assert "interpolate_pos_encoding" not in vars(model.pretrained)


@pytest.mark.slow
def test_vits_static_export_matches_torch(tmp_path, photos):
    """The real ViT-S shape (random weights) at 518x392: export and verify, like the CLI does."""
    from depth_anything_ros.model import build_model

    torch.manual_seed(0)
    model = build_model("vits", "v2", "metric", max_depth=20.0)
    meta = ModelMeta("vits", "v2", "metric", 20.0)
    path = ex.export_onnx(model, meta, tmp_path / "vits.onnx", 518, 392)
    report = ex.verify_onnx(path, model, photos[:1])
    assert report.ok, report.lines()
