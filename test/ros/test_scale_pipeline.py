"""Metric scale in the per-frame path (stub engine with a known ramp output): the focal rule on metric output,
and a relative model made metric by anchors (depth/image = the anchors' depth), without DDS."""
from __future__ import annotations

import numpy as np

from depth_anything_ros.inference import DepthEstimator
from depth_anything_ros.metadata import ModelMeta
from depth_anything_ros.ros import conversions as conv
from depth_anything_ros.ros.params import NodeConfig, validate
from depth_anything_ros.ros.pipeline import DepthPipeline
from depth_anything_ros.scale import AnchorInput

from .conftest import K_160x120
from .test_pipeline import CAM, H, W, StubEngine, _frame


def _pipe(kind, training_focal=None, **params):
    meta = ModelMeta("vitt", "v2", kind, 20.0 if kind == "metric" else None, training_focal=training_focal)
    est = DepthEstimator(StubEngine(5.0, meta), network_size=(70, 98))
    return DepthPipeline(est, validate(NodeConfig(model_path="x", max_depth=19.0, **params), check_files=False))


def test_focal_rule_on_metric_output():
    msg, _ = _frame()
    f_c = 0.5 * (K_160x120[0, 0] * 98 / W + K_160x120[1, 1] * 70 / H)  # camera focal at the 70x98 input
    plain = conv.image_to_numpy(_pipe("metric", focal_rescale="off").process(msg, CAM).depth)
    scaled = conv.image_to_numpy(_pipe("metric", training_focal=60.0).process(msg, CAM).depth)
    ok = np.isfinite(plain) & np.isfinite(scaled)
    assert ok.sum() > 100
    np.testing.assert_allclose(scaled[ok], plain[ok] * f_c / 60.0, rtol=1e-5)
    # no camera_info: nothing to rescale with
    np.testing.assert_array_equal(conv.image_to_numpy(_pipe("metric", training_focal=60.0).process(msg, None).depth),
                                  conv.image_to_numpy(_pipe("metric", focal_rescale="off").process(msg, None).depth))


def test_relative_model_metric_with_depth_anchors():
    msg, _ = _frame()
    p = _pipe("relative", scale_source="depth", scale_smoothing=1.0)
    assert {"depth", "relative", "points", "camera_info"} <= p.outputs
    rel = conv.image_to_numpy(p.process(msg, CAM, anchors=(None, "none yet")).relative).copy()  # raw output
    truth = 1.0 / (0.25 * rel + 0.1)  # metric inverse depth = 0.25 x + 0.1 (0.29..10 m)
    sparse = np.full((H, W), np.nan, np.float32)
    sparse[::7, ::5] = truth[::7, ::5]
    out = p.process(msg, CAM, anchors=(AnchorInput("depth", depth=sparse), ""))
    depth = conv.image_to_numpy(out.depth)
    ok = np.isfinite(depth)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(depth[ok], truth[ok], rtol=2e-3)
    np.testing.assert_allclose(conv.image_to_numpy(out.relative), rel, atol=1e-4)  # raw output still published
    assert out.points is not None and p.scale.status.state == "fitted"
    # anchors gone for longer than the hold: no metric depth, the reason says why; depth/relative flows
    msg.header.stamp.sec += 10
    out = p.process(msg, CAM, anchors=(None, "stale anchors: test"))
    assert out.depth is None and out.points is None and out.relative is not None
    assert "hold_timeout" in out.missing_scale and "stale anchors" in out.missing_scale


def test_relative_fallback_to_relative_scale():
    msg, _ = _frame()
    p = _pipe("relative", scale_source="points", relative_scale=2.0)
    out = p.process(msg, CAM, anchors=(None, "no message on scale/points yet"))
    depth = conv.image_to_numpy(out.depth)
    rel = conv.image_to_numpy(out.relative)
    ok = np.isfinite(depth)
    np.testing.assert_allclose(depth[ok], 2.0 / rel[ok], rtol=1e-4)
    assert p.scale.status.reason == "no message on scale/points yet"
