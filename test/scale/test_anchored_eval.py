"""eval --anchors: simulated anchors on a prediction that is the ground truth up to a known scale (or affine
inverse depth) must give the ground truth back, for every anchor kind; the CLI passes the spec on."""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.data.sample import RGBDSample
from depth_anything_ros.evaluation.anchored import AnchoredPredictor, AnchorSpec, temporal_stability
from depth_anything_ros.evaluation.evaluate import evaluate

H, W = 60, 80
K = np.array([[70.0, 0, 39.5], [0, 70.0, 29.5], [0, 0, 1]])


class _Seq:
    min_depth, max_depth = 0.1, 80.0

    def __init__(self, n=4):
        v, u = np.mgrid[0:H, 0:W]
        self.samples = []
        for i in range(n):
            d = (2.0 + 0.04 * u + 0.03 * v + 0.2 * i).astype(np.float32)
            valid = np.ones((H, W), bool)
            valid[:5] = False  # "sky"
            self.samples.append(RGBDSample(image=np.full((H, W, 3), i, np.uint8), depth=d, valid=valid, K=K,
                                           source=f"s{i}"))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


@pytest.mark.parametrize("spec", ["lidar:16", "sparse:0.05", "rgbd:0.3", "range"])
def test_metric_scale_recovered_from_every_anchor_kind(spec):
    ds = _Seq()
    gt = {s.image[0, 0, 0]: s.depth for s in ds.samples}
    predict = lambda rgb: gt[rgb[0, 0, 0]] / 1.7  # noqa: E731  a metric model 1.7x too near
    anchors = AnchoredPredictor(AnchorSpec.parse(f"{spec},noise=0"), "metric")
    r = evaluate(predict, ds, kind="metric", progress=False, anchors=anchors)
    assert r["count"] == 4 and r["mean"]["abs_rel"] < 1e-6
    assert r["temporal"]["scale_jitter"] < 1e-6


def test_relative_affine_recovered():
    ds = _Seq()
    gt = {s.image[0, 0, 0]: s.depth for s in ds.samples}
    predict = lambda rgb: (1.0 / gt[rgb[0, 0, 0]] - 0.05) / 2.0  # noqa: E731  inverse depth = 2 x + 0.05
    r = evaluate(predict, ds, kind="relative", progress=False,
                 anchors=AnchoredPredictor(AnchorSpec.parse("lidar:8,noise=0"), "relative"))
    assert r["count"] == 4 and r["mean"]["abs_rel"] < 1e-5


def test_spec_parsing_and_errors():
    s = AnchorSpec.parse("lidar:32,noise=0.02,smooth=0.3,focal=off,seed=4,fps=30")
    assert (s.kind, s.value, s.noise, s.smooth, s.focal, s.seed, s.fps) == ("lidar", 32, 0.02, 0.3, "off", 4, 30)
    assert AnchorSpec.parse("sparse").value == 0.01 and AnchorSpec.parse("rgbd").value == 0.3
    for bad in ("radar:3", "lidar:x", "lidar:16,color=1", "sparse,smooth=0"):
        with pytest.raises(ValueError, match="--anchors"):
            AnchorSpec.parse(bad)


def test_temporal_stability_definition():
    rows = [{"log_scale_error": e, "abs_rel": a} for e, a in ((0.1, 0.2), (-0.1, 0.3), (0.0, 0.25))]
    t = temporal_stability(rows)
    assert t["scale_jitter"] == pytest.approx((0.2 + 0.1) / 2) and t["abs_rel_jitter"] == pytest.approx(0.075)


def test_cli_eval_with_anchors(tmp_path, capsys):
    from depth_anything_ros.cli import main

    rc = main(["eval", "--checkpoint", "models/demo_vitt_metric.safetensors", "--input-size", "266x350",
               "--dataset", "middlebury", "--anchors", "lidar:16", "--output", str(tmp_path), "--figures", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "metric+anchors" in out and "temporal" in out
    rc = main(["eval", "--checkpoint", "models/demo_vitt_metric.safetensors", "--dataset", "middlebury",
               "--anchors", "radar", "--output", str(tmp_path)])
    assert rc != 0


def test_ground_anchors_on_a_rendered_room():
    """Floor plane from the pose of a rendered frame: a prediction 1.7x too near is scaled back (the floor
    pixels are exact ground truth; furniture and walls are the fit's outliers)."""
    from depth_anything_ros.data.synthetic.sequence import sequence_cameras
    from depth_anything_ros.data.synthetic.scene import SceneSampler
    from depth_anything_ros.data.synthetic.stream import make_renderer, to_sample

    sampler = SceneSampler(301, "eval", "indoor")
    sc = sampler.scene(0)
    frame = make_renderer("auto").render(sc, sequence_cameras(sampler, sc, 1, 60, 80)[0])
    sample = to_sample(frame, "room")
    anchors = AnchoredPredictor(AnchorSpec.parse("ground"), "metric")
    depth, why = anchors(sample.depth / 1.7, sample)
    assert why == "" and anchors.stage.status.scale == pytest.approx(1.7, rel=0.03)
    m = sample.valid
    assert np.median(np.abs(depth[m] - sample.depth[m]) / sample.depth[m]) < 0.03


def test_scale_code_imports_neither_torch_nor_ros():
    import subprocess
    import sys

    code = ("import sys, depth_anything_ros.scale, depth_anything_ros.evaluation.anchored\n"
            "print(sorted(m for m in ('torch', 'rclpy', 'sensor_msgs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
