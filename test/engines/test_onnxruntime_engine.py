"""OnnxRuntimeEngine and open_model on ONNX files, on real images."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from depth_anything_ros.inference import DepthEstimator, open_model
from depth_anything_ros.inference.engines import create_engine
from depth_anything_ros.inference.engines.onnxruntime_engine import OnnxRuntimeEngine, default_providers
from depth_anything_ros.inference.engines.torch_engine import TorchEngine
from depth_anything_ros.inference.export import ATOL, RTOL
from depth_anything_ros.model.checkpoint import load_checkpoint

from .conftest import STATIC_SIZES


def test_static_engine_size_and_meta_come_from_the_file(static_onnx):
    path, _ = static_onnx[STATIC_SIZES[0]]
    engine = OnnxRuntimeEngine(path, threads=1)
    assert engine.input_size == STATIC_SIZES[0]
    assert (engine.meta.kind, engine.meta.max_depth) == ("metric", 20.0)
    info = engine.describe()
    assert info["engine"] == "onnxruntime" and info["providers"] == ["CPUExecutionProvider"]
    assert info["onnxruntime"]


def test_dynamic_engine_has_no_fixed_size(dynamic_onnx):
    engine = create_engine("onnxruntime", str(dynamic_onnx))
    assert engine.input_size is None and engine.meta.kind == "relative"
    out = engine.infer(np.zeros((2, 3, 154, 210), np.float32))
    assert out.shape == (2, 154, 210) and out.dtype == np.float32


def test_static_engine_rejects_another_size(static_onnx):
    path, _ = static_onnx[STATIC_SIZES[1]]
    engine = OnnxRuntimeEngine(path)
    with pytest.raises(ValueError, match=r"static 182x238 file; got 266x350"):
        engine.infer(np.zeros((1, 3, 266, 350), np.float32))


@pytest.mark.parametrize("which", ["static_metric", "dynamic_relative"])
def test_estimator_from_onnx_on_a_real_photo(which, static_onnx, dynamic_onnx, varied_checkpoint, photos):
    """End to end: camera-size RGB in, camera-size depth out, equal to the torch estimator (the file's positional
    interpolation: official for a static file, size for a dynamic one)."""
    if which == "static_metric":
        path, ckpt = static_onnx[STATIC_SIZES[0]]
        size = None  # taken from the file
    else:
        path, ckpt = dynamic_onnx, varied_checkpoint
        size = (182, 266)
    name, rgb = photos[0]
    estimator = open_model(path, network_size=size)
    depth = estimator.predict(rgb)
    assert depth.shape == rgb.shape[:2] and depth.dtype == np.float32 and np.isfinite(depth).all()
    model, meta = load_checkpoint(ckpt, pos_interp="official" if which == "static_metric" else "size")
    reference = DepthEstimator(TorchEngine(model, meta), network_size=size or STATIC_SIZES[0]).predict(rgb)
    assert estimator.kind == meta.kind and estimator.max_depth == meta.max_depth
    assert np.ptp(reference) > 0
    np.testing.assert_allclose(depth, reference, rtol=0, atol=ATOL + RTOL * np.abs(reference).max())


def test_file_without_metadata_is_refused(static_onnx, tmp_path):
    path, _ = static_onnx[STATIC_SIZES[1]]
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ValueError, match="no 'depth_anything_ros' metadata"):
        OnnxRuntimeEngine(bare)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        OnnxRuntimeEngine(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="ONNX Runtime cannot load it"):
        OnnxRuntimeEngine(junk)


def test_provider_choice():
    assert default_providers("cpu") == ["CPUExecutionProvider"]
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert default_providers() == ["CPUExecutionProvider"]
        with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
            default_providers("cuda")
    with pytest.raises(ValueError):
        default_providers("tpu")
