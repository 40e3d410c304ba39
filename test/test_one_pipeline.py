"""One model, one image, the same depth from every entry point, equal to the official inference rule.

The shipped demo model, as its checkpoint (.safetensors, torch) and as its static ONNX (ONNX Runtime),
through `predict`, the Python API (`open_model`), `eval` and the node's pipeline. The reference is the
official V2 inference written out here with torch: the network at the model's recorded size (official
positional interpolation), then `F.interpolate(..., mode="bilinear", align_corners=True)` to the image.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "models" / "demo_vitt_metric.safetensors"
ONNX = ROOT / "models" / "demo_vitt_metric.onnx"
# float32 summation order between torch and ONNX Runtime (metres, outputs of a few metres)
ATOL = 5e-5


@pytest.fixture(scope="module")
def frame():
    """A real 640x480 frame of the demo sequence (the node's input size), RGB uint8."""
    path = sorted((ROOT / "demo" / "frames").glob("*.jpg"))[3]
    return path, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def official(frame):
    """The official V2 inference: network at the recorded size, bilinear align_corners=True to the image."""
    import torch
    import torch.nn.functional as F

    from depth_anything_ros.inference.preprocess import Preprocessor
    from depth_anything_ros.model.checkpoint import load_checkpoint

    model, meta = load_checkpoint(CHECKPOINT)  # official positional interpolation
    assert meta.version == "v2" and meta.input_size == (266, 350)
    rgb = frame[1]
    with torch.inference_mode():
        raw = model(torch.from_numpy(Preprocessor(meta.input_size)(rgb)))
        out = F.interpolate(raw[:, None], rgb.shape[:2], mode="bilinear", align_corners=True)[0, 0]
    return out.numpy()


@pytest.mark.parametrize("model_file", [CHECKPOINT, ONNX], ids=["safetensors", "onnx"])
def test_python_api_equals_the_official_inference(frame, official, model_file):
    from depth_anything_ros.inference import open_model

    est = open_model(model_file)
    assert est.network_size == (266, 350)
    np.testing.assert_allclose(est.predict(frame[1]), official, rtol=0, atol=ATOL)


@pytest.mark.parametrize("flag, model_file", [("--checkpoint", CHECKPOINT), ("--onnx", ONNX)],
                         ids=["safetensors", "onnx"])
def test_predict_cli_equals_the_official_inference(tmp_path, frame, official, flag, model_file):
    res = subprocess.run([sys.executable, "-m", "depth_anything_ros.cli", "predict", flag, str(model_file),
                          str(frame[0]), "--output", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(np.load(tmp_path / f"{frame[0].stem}.npy"), official, rtol=0, atol=ATOL)


def test_node_pipeline_equals_the_official_inference(frame, official):
    """The node's per-frame path (Image message in, depth/image message out, written into its memory)."""
    pytest.importorskip("rclpy")
    from depth_anything_ros.inference import open_model
    from depth_anything_ros.ros import conversions as conv
    from depth_anything_ros.ros.params import NodeConfig, validate
    from depth_anything_ros.ros.pipeline import DepthPipeline

    cfg = validate(NodeConfig(model_path=str(ONNX), min_depth=0.0, max_depth=0.0, publish_points=False,
                              publish_colored=False))
    pipeline = DepthPipeline(open_model(ONNX), cfg)
    out = pipeline.process(conv.numpy_to_image(frame[1], "rgb8"), None, None)
    depth = conv.image_to_numpy(out.depth)
    valid = np.isfinite(depth)
    assert valid.mean() > 0.99  # the range check (min 0, the model's 20 m) masks next to nothing
    np.testing.assert_allclose(depth[valid], official[valid], rtol=0, atol=ATOL)


def test_eval_scores_the_same_depth(tmp_path, frame, official):
    """`eval` on a folder whose ground truth is the official prediction itself: direct metric AbsRel ~ 0."""
    data = tmp_path / "data"
    (data / "rgb").mkdir(parents=True)
    (data / "depth").mkdir()
    cv2.imwrite(str(data / "rgb" / "f.png"), cv2.cvtColor(frame[1], cv2.COLOR_RGB2BGR))
    np.save(data / "depth" / "f.npy", official.astype(np.float32))
    (data / "intrinsics.json").write_text(json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240,
                                                      "min_depth": 1e-3, "max_depth": 20.0}))
    for flag, model_file in (("--checkpoint", CHECKPOINT), ("--onnx", ONNX)):
        out = tmp_path / f"eval_{model_file.suffix[1:]}"
        res = subprocess.run([sys.executable, "-m", "depth_anything_ros.cli", "eval", flag, str(model_file),
                              "--dataset", f"folder:{data}", "--output", str(out), "--figures", "0"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        mean = json.loads((out / "metrics.json").read_text())["mean"]
        assert mean["abs_rel"] < 2e-5 and mean["d1"] == 1.0, mean
