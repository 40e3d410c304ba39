"""Known-answer tests for the pinned metric definitions (reference synthetic_data_engine.md §6)."""
from __future__ import annotations

import numpy as np
import pytest

from depth_anything_ros.evaluation.metrics import (align_scale_shift_disparity, compute_metrics, disparity_to_depth, eval_mask,
                              metric_depth_metrics, relative_metrics)

P4 = np.array([[8, 3, 5, 4], [8, 3, 2, 1], [3, 1, 2, 4], [1, 8, 9, 1]], np.float64)
G4 = np.array([[1, 4, 4, 9], [5, 1, 8, 4], [1, 5, 8, 5], [3, 3, 7, 5]], np.float64)


def _check(m, expected, tol=5e-4):
    for k, v in expected.items():
        assert m[k] == pytest.approx(v, abs=tol), f"{k}: {m[k]} != {v}"


def test_scaled_by_1_1():
    m = compute_metrics(1.1 * G4, G4, np.ones_like(G4, bool))
    _check(m, dict(abs_rel=0.1, sq_rel=0.0456, rmse=0.5166, rmse_log=0.0953, log10=0.0414, silog=0.0,
                   d1=1.0, d2=1.0, d3=1.0))
    assert m["sq_rel"] == pytest.approx(0.01 * G4.mean(), rel=1e-12)
    assert m["rmse"] == pytest.approx(0.1 * np.sqrt(np.mean(G4**2)), rel=1e-12)
    assert m["n"] == 16


def test_scaled_by_1_3():
    m = compute_metrics(1.3 * G4, G4, None)
    _check(m, dict(abs_rel=0.3, sq_rel=0.4106, rmse=1.5498, rmse_log=0.2624, log10=0.1139, silog=0.0,
                   d1=0.0, d2=1.0, d3=1.0))


def test_vis4d_input_and_strict_delta():
    m = compute_metrics(P4, G4, np.ones_like(G4, bool))
    _check(m, dict(abs_rel=1.2078, sq_rel=5.6354, rmse=np.sqrt(15), rmse_log=1.1450, log10=0.4343,
                   d2=0.25, d3=0.3125))
    assert m["silog"] == pytest.approx(112.27, abs=0.01)
    assert m["d1"] == 0.0  # 5/4 == 1.25 exactly is NOT counted (strict <); <= would give 0.0625
    # the KITTI-devkit sqErrorRel is a different number; make sure we are not computing it
    assert np.mean(((P4 - G4) / G4) ** 2) == pytest.approx(4.0066, abs=1e-4)
    assert m["sq_rel"] != pytest.approx(4.0066, abs=1e-2)


def test_valid_mask_and_invalid_values():
    g = G4.copy()
    g[0, 0] = 0.0
    p = 1.1 * G4
    p[1, 1] = np.nan
    valid = np.ones_like(g, bool)
    valid[3, 3] = False
    m = compute_metrics(p, g, valid)
    assert m["n"] == 13 and m["abs_rel"] == pytest.approx(0.1)
    empty = compute_metrics(p, g, np.zeros_like(valid))
    assert empty["n"] == 0 and np.isnan(empty["abs_rel"])


def test_lsq_alignment_exact():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 20.0, (30, 40))
    valid = rng.random(gt.shape) > 0.2
    pred = (1.0 / gt - 0.01) / 3.7  # an affine map of the true disparity
    pred[~valid] = 1e6  # invalid pixels must not influence the fit
    al = align_scale_shift_disparity(pred, gt, valid)
    assert al.scale == pytest.approx(3.7, rel=1e-9) and al.shift == pytest.approx(0.01, rel=1e-7)
    np.testing.assert_allclose(al.disparity[valid], 1.0 / gt[valid], rtol=1e-9)
    m = relative_metrics(pred, gt, valid, 1e-3, 80.0)
    assert m["abs_rel"] < 1e-9 and m["d1"] == 1.0 and m["disp_abs_rel"] < 1e-9
    # closed form agrees with numpy's generic least squares on noisy data
    noisy = pred + rng.normal(0, 1e-3, pred.shape)
    al2 = align_scale_shift_disparity(noisy, gt, valid)
    A = np.stack([noisy[valid], np.ones(valid.sum())], 1)
    st, *_ = np.linalg.lstsq(A, 1.0 / gt[valid], rcond=None)
    np.testing.assert_allclose([al2.scale, al2.shift], st, rtol=1e-8)
    with pytest.raises(ValueError):
        align_scale_shift_disparity(np.ones_like(gt), gt, valid)


def test_variant_z_clamps_and_metric_clamps():
    d = disparity_to_depth(np.array([-1.0, 0.0, 0.5, 1e9]), 1e-3, 10.0)
    np.testing.assert_allclose(d, [10.0, 10.0, 2.0, 1e-3])
    g = np.array([2.0, 5.0, 9.0])
    m = metric_depth_metrics(np.array([np.nan, np.inf, 9.0]), g, np.ones(3, bool), 1e-3, 10.0)
    assert m["n"] == 3 and m["abs_rel"] == pytest.approx((abs(1e-3 - 2) / 2 + 1.0) / 3)
    mask = eval_mask(np.array([0.0, 1e-3, 5.0, 10.0, np.nan]), np.ones(5, bool), 1e-3, 10.0)
    assert mask.tolist() == [False, False, True, False, False]


def test_middlebury_constant_median_baseline():
    from depth_anything_ros.data.readers import MiddleburyMotorcycle

    ds = MiddleburyMotorcycle()
    s = ds[0]
    assert len(ds) == 1 and s.image.shape == (500, 741, 3) and s.valid.mean() == pytest.approx(0.9265, abs=1e-3)
    med = np.median(s.depth[s.valid])
    assert med == pytest.approx(2.750, abs=1e-3)
    m = compute_metrics(np.full(s.depth.shape, med), s.depth, s.valid)
    _check(m, dict(abs_rel=0.2118, sq_rel=0.2134, rmse=0.9204, rmse_log=0.2766, d1=0.5514, d2=0.8656, d3=1.0))
