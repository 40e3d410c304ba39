"""The per-frame path without DDS, with a stub engine (known output): relative/metric semantics, stride,
output scaling, camera_info handling, millimetres and the reuse of per-camera precomputation."""
from __future__ import annotations

import numpy as np
import pytest
from std_msgs.msg import Header

from depth_anything_ros.geometry import scale_intrinsics
from depth_anything_ros.inference import DepthEstimator
from depth_anything_ros.metadata import ModelMeta
from depth_anything_ros.ros import conversions as conv
from depth_anything_ros.ros.params import NodeConfig, ParameterError, validate
from depth_anything_ros.ros.pipeline import CameraModel, DepthPipeline

from .conftest import K_160x120
from .harness import camera_info_for

W, H = 160, 120


class StubEngine:
    """Returns a fixed map at the network size: a left-to-right ramp from 0 to 2*mid."""

    input_size = None

    def __init__(self, mid, meta):
        self.mid = mid
        self.meta = meta
        self.calls = 0

    def infer(self, batch):
        self.calls += 1
        h, w = batch.shape[2:]
        return np.tile(np.linspace(0.0, 2 * self.mid, w, dtype=np.float32), (1, h, 1))

    def describe(self):
        return {"engine": "stub"}


def _pipeline(kind="metric", model_max=20.0, mid=10.0, **params):
    meta = ModelMeta("vitt", "v2", kind, model_max if kind == "metric" else None)
    est = DepthEstimator(StubEngine(mid, meta), network_size=(70, 98))
    cfg = validate(NodeConfig(model_path="x", **params), check_files=False)
    return DepthPipeline(est, cfg)


def _frame(enc="rgb8"):
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    msg = conv.numpy_to_image(rgb, enc)
    msg.header = Header(frame_id="cam_optical")
    msg.header.stamp.sec = 42
    return msg, rgb


CAM = CameraModel.from_msg(camera_info_for(K_160x120, W, H))


def test_metric_outputs_and_nan_range():
    p = _pipeline(min_depth=2.0, max_depth=15.0, publish_depth_mm=True)
    msg, _ = _frame()
    out = p.process(msg, CAM)
    depth = conv.image_to_numpy(out.depth)
    assert out.depth.encoding == "32FC1" and depth.shape == (H, W)
    finite = np.isfinite(depth)
    assert finite.any() and (~finite).any()
    assert np.nanmin(depth) >= 2.0 and np.nanmax(depth) <= 15.0
    mm = conv.image_to_numpy(out.depth_mm)
    assert np.all(mm[~finite] == 0) and np.all(np.abs(mm[finite] - depth[finite] * 1000) <= 0.5 + 1e-3)
    for m in (out.depth, out.depth_mm, out.camera_info, out.points, out.colored):
        assert m.header == msg.header
    assert out.relative is None


def test_depth_mm_marks_unrepresentable_as_invalid():
    p = _pipeline(model_max=100.0, mid=40.0, publish_depth_mm=True)  # ramp up to 80 m > 65.535 m
    out = p.process(_frame()[0], CAM)
    depth, mm = conv.image_to_numpy(out.depth), conv.image_to_numpy(out.depth_mm)
    assert np.all(mm[depth > 65.5355] == 0)


def test_relative_without_and_with_scale():
    p = _pipeline(kind="relative", mid=1.0)
    out = p.process(_frame()[0], CAM)
    assert out.depth is None and out.points is None and out.camera_info is None
    assert out.relative.encoding == "32FC1" and out.colored.encoding == "bgr8"
    p = _pipeline(kind="relative", mid=1.0, relative_scale=2.0, min_depth=0.0)
    out = p.process(_frame()[0], CAM)
    inv = conv.image_to_numpy(p.fill(p.infer(_frame()[1], (H, W)), _frame()[1], Header(), CAM).depth)
    raw = p.infer(_frame()[1], (H, W))
    pos = raw > 0
    np.testing.assert_allclose(inv[pos], 2.0 / raw[pos], rtol=1e-6)
    assert np.all(np.isnan(inv[~pos]))
    assert out.relative is None and out.points is not None


@pytest.mark.parametrize("stride", [1, 4])
def test_stride_and_output_scale(stride):
    p = _pipeline(output_scale=0.5, points_stride=stride)
    msg, rgb = _frame()
    out = p.process(msg, CAM)
    assert (out.depth.width, out.depth.height) == (80, 60)
    K = np.array(out.camera_info.k).reshape(3, 3)
    np.testing.assert_allclose(K, scale_intrinsics(K_160x120, (H, W), (60, 80)))
    assert (out.points.height, out.points.width) == (len(range(0, 60, stride)), len(range(0, 80, stride)))
    f = conv.pointcloud2_to_numpy(out.points)
    depth = conv.image_to_numpy(out.depth)[::stride, ::stride]
    v, u = np.mgrid[0:60:stride, 0:80:stride]
    ok = np.isfinite(depth)
    np.testing.assert_allclose(f["x"][ok], ((u - K[0, 2]) / K[0, 0] * depth)[ok], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f["y"][ok], ((v - K[1, 2]) / K[1, 1] * depth)[ok], rtol=1e-5, atol=1e-6)


def test_xyz_only_and_outputs_off():
    p = _pipeline(points_rgb=False, publish_colored=False)
    out = p.process(_frame()[0], CAM)
    assert [f.name for f in out.points.fields] == ["x", "y", "z"] and out.points.point_step == 12
    assert out.colored is None
    p = _pipeline(publish_points=False)
    assert p.process(_frame()[0], CAM).points is None


def test_camera_info_missing_or_other_size():
    p = _pipeline()
    out = p.process(_frame()[0], None)
    assert out.depth is not None and out.camera_info is None and out.points is None
    assert "no valid camera_info" in out.missing_camera_info
    other = CameraModel.from_msg(camera_info_for(K_160x120 * [[2], [2], [1]], 2 * W, 2 * H))
    out = p.process(_frame()[0], other)
    assert out.points is None and "320x240" in out.missing_camera_info


def test_per_camera_work_is_cached():
    p = _pipeline()
    for _ in range(3):
        p.process(_frame()[0], CAM)
    assert len(p.rays) == 1 and len(p._scaled) == 1
    cam2 = CameraModel.from_msg(camera_info_for(K_160x120 * [[1.1], [1.1], [1]], W, H))
    p.process(_frame()[0], cam2)
    assert len(p.rays) == 2


def test_compressed_input_and_depth_range_vs_model():
    p = _pipeline()
    msg = conv.encode_compressed(_frame()[1], "png")
    assert p.process(msg, CAM).depth is not None
    with pytest.raises(ParameterError, match="max_depth"):
        _pipeline(model_max=1.0, min_depth=2.0)  # the model's range ends below min_depth
    p = _pipeline(model_max=20.0, max_depth=5.0)  # the parameter narrows the model's range
    assert np.nanmax(conv.image_to_numpy(p.process(_frame()[0], CAM).depth)) <= 5.0


def test_only_wanted_outputs_are_made_in_reused_memory():
    p = _pipeline(publish_depth_mm=True)
    msg, _ = _frame()
    out = p.process(msg, CAM, wanted=["depth"])
    assert out.depth is not None and out.camera_info is None and out.points is None and out.colored is None
    assert out.depth_mm is None
    address = out.depth.data.buffer_info()[0]
    del out
    out = p.process(msg, CAM, wanted=["depth", "points", "colored", "relative"])  # relative: not an output here
    assert out.depth.data.buffer_info()[0] == address  # the published frame's memory took the next frame
    assert out.points is not None and out.colored is not None and out.relative is None
    kept = out
    again = p.process(msg, CAM)  # None: every enabled output
    assert again.depth.data.buffer_info()[0] != address  # `kept` still refers to it
    assert again.depth_mm is not None and again.camera_info is not None
    np.testing.assert_array_equal(conv.image_to_numpy(kept.depth), conv.image_to_numpy(again.depth))
