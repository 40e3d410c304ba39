"""Aligned numbers for metric models: one scale fitted in depth (never disparity scale + shift)."""
import numpy as np
import pytest

from depth_anything_ros.evaluation.evaluate import evaluate
from depth_anything_ros.evaluation.metrics import metric_aligned_metrics, scale_in_depth


def test_scale_in_depth_matches_numpy_references():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 8.0, (20, 30))
    pred = gt * 0.6 * rng.uniform(0.9, 1.1, gt.shape)
    valid = rng.random(gt.shape) > 0.2
    s_ls = np.linalg.lstsq(pred[valid][:, None], gt[valid], rcond=None)[0][0]
    assert scale_in_depth(pred, gt, valid, "lstsq") == pytest.approx(s_ls, rel=1e-12)
    assert scale_in_depth(pred, gt, valid, "median") == pytest.approx(np.median(gt[valid] / pred[valid]), rel=1e-12)
    with pytest.raises(ValueError):
        scale_in_depth(pred, gt, np.zeros_like(valid))


class _Frames:
    """Two frames whose 'prediction' is the ground truth at half scale."""

    name, min_depth, max_depth, eval_crop = "frames", 1e-3, 20.0, None

    def __init__(self):
        from depth_anything_ros.data.sample import RGBDSample

        rng = np.random.default_rng(1)
        self.s = [RGBDSample(image=np.zeros((8, 10, 3), np.uint8), depth=rng.uniform(1, 5, (8, 10)).astype(np.float32),
                             valid=np.ones((8, 10), bool), K=np.eye(3), source=f"f{i}") for i in range(2)]

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.s[i]


def test_a_metric_model_off_by_a_scale_is_perfect_once_aligned_in_depth():
    ds = _Frames()
    preds = iter([ds[0].depth * 0.5, ds[1].depth * 0.5])
    direct = evaluate(lambda rgb: next(preds), ds, "metric", progress=False)
    assert direct["mean"]["abs_rel"] == pytest.approx(0.5)
    preds = iter([ds[0].depth * 0.5, ds[1].depth * 0.5])
    al = evaluate(lambda rgb: next(preds), ds, "metric", progress=False, align="median")
    assert al["mean"]["abs_rel"] == pytest.approx(0.0, abs=1e-6) and al["mean"]["scale"] == pytest.approx(2.0)
    assert "median scale per image in depth" in al["protocol"]
    m = metric_aligned_metrics(ds[0].depth * 0.5, ds[0].depth, ds[0].valid, 1e-3, 20.0, "lstsq")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="metric predictions only"):
        evaluate(lambda rgb: ds[0].depth, ds, "relative", align="median", progress=False)
