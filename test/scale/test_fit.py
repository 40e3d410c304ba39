"""Known-answer tests of the scale package: anchors built from known parameters must give them back."""
from __future__ import annotations

import math

import numpy as np
import pytest

from depth_anything_ros.scale import ScaleConfig, ScaleSmoother, ScaleStage, fit_scale, focal_factor
from depth_anything_ros.scale.anchors import AnchorError, AnchorInput, from_ground, from_points, from_range
from depth_anything_ros.scale.fit import Fit

RNG = np.random.default_rng(7)
Z = RNG.uniform(0.5, 20.0, 3000)


def _corrupt(z, frac=0.3, seed=3):
    rng = np.random.default_rng(seed)
    bad = rng.random(z.size) < frac
    out = z.copy()
    out[bad] *= rng.choice([0.3, 0.5, 2.0, 4.0], bad.sum()) * rng.uniform(0.9, 1.1, bad.sum())
    return out, bad


def test_relative_affine_exact_noiseless():
    s, t = 3.7, -0.02  # inverse depth = s * x + t
    x = (1.0 / Z - t) / s
    f = fit_scale(x, Z, "affine")
    assert f.ok and f.inliers == Z.size
    assert f.scale == pytest.approx(s, rel=1e-9) and f.shift == pytest.approx(t, abs=1e-11)


def test_metric_scale_exact_noiseless():
    x = Z / 1.37
    f = fit_scale(x, Z, "scale")
    assert f.ok and f.scale == pytest.approx(1.37, rel=1e-12) and f.shift == 0.0


def test_relative_affine_with_30pct_outliers_and_noise():
    s, t = 0.8, 0.05
    x = (1.0 / Z - t) / s
    zc, bad = _corrupt(Z * np.random.default_rng(1).normal(1.0, 0.01, Z.size))
    f = fit_scale(x, zc, "affine")
    assert f.ok
    assert f.scale == pytest.approx(s, rel=0.02) and f.shift == pytest.approx(t, abs=0.005)
    assert abs(f.inliers - (~bad).sum()) < 0.03 * Z.size
    # plain least squares on the same anchors is far off: the outliers matter
    a = np.stack([zc * x, zc], 1)
    ls = np.linalg.lstsq(a, np.ones_like(zc), rcond=None)[0]
    assert abs(ls[0] / s - 1) > 0.05 or abs(ls[1] - t) > 0.02


def test_metric_scale_with_30pct_outliers():
    zc, _ = _corrupt(Z)
    f = fit_scale(Z / 2.5, zc, "scale")
    assert f.ok and f.scale == pytest.approx(2.5, rel=1e-3)


def test_refuses_too_few_and_bad_anchors():
    nan = np.full(50, np.nan)
    assert not fit_scale(nan, Z[:50], "scale").ok
    assert not fit_scale(Z[:50], np.full(50, np.inf), "scale").ok
    f = fit_scale(Z[:5], Z[:5], "scale", min_inliers=20)
    assert not f.ok and "need at least 20" in f.reason
    x = np.ones(100)  # constant model output: scale and shift undetermined
    assert not fit_scale(x, Z[:100], "affine").ok or fit_scale(x, Z[:100], "affine").inliers < 100


def test_focal_rule_hand_computed():
    # demo model: f_t = 279.1 px at its 266x350 input; camera 640x480 with fx = fy = 500 px
    # f_c = (500 * 350 / 640 + 500 * 266 / 480) / 2 = (273.4375 + 277.08333) / 2 = 275.26042
    K = np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]])
    assert focal_factor(279.1, K, (480, 640), (266, 350)) == pytest.approx(275.26042 / 279.1, rel=1e-6)
    assert focal_factor(None, K, (480, 640), (266, 350)) is None
    assert focal_factor(279.1, None, (480, 640), (266, 350)) is None


def test_focal_rule_in_stage_and_off():
    K = np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]])
    v = np.full((48, 64), 2.0, np.float32)
    ScaleStage("metric", 279.1, ScaleConfig()).apply(v, 0.0, K_in=K, in_size=(480, 640), network_size=(266, 350))
    assert v[0, 0] == pytest.approx(2.0 * 275.26042 / 279.1, rel=1e-6)
    v = np.full((48, 64), 2.0, np.float32)
    ScaleStage("metric", 279.1, ScaleConfig(focal_rescale="off")).apply(v, 0.0, K_in=K, in_size=(480, 640),
                                                                         network_size=(266, 350))
    assert v[0, 0] == 2.0


def test_hold_then_timeout():
    sm = ScaleSmoother(alpha=1.0, hold_timeout=2.0)
    assert sm.current(0.0) is None
    assert sm.update(Fit(True, 2.0, 0.1), 10.0)
    assert sm.current(10.0) == pytest.approx((2.0, 0.1))
    for t in (10.5, 11.0, 12.0):  # no fits: held
        sm.update(None, t)
        assert sm.current(t) == pytest.approx((2.0, 0.1))
    assert sm.current(12.01) is None and sm.age(12.5) == pytest.approx(2.5)


def test_smoothing_in_log_space_and_gate():
    sm = ScaleSmoother(alpha=0.5, gate=0.25, reset_after=3)
    sm.update(Fit(True, 1.0), 0)
    sm.update(Fit(True, 1.21), 1)
    assert sm.current(1)[0] == pytest.approx(1.1)  # geometric mean
    assert not sm.update(Fit(True, 5.0), 2)  # outlier rejected, previous kept
    assert sm.current(2)[0] == pytest.approx(1.1)
    assert not sm.update(Fit(True, 5.0), 3)
    assert sm.update(Fit(True, 5.0), 4)  # third disagreement in a row: scene changed
    assert sm.current(4)[0] == pytest.approx(5.0)


def test_stage_relative_publishes_metric_with_points():
    K = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    h, w = 48, 64
    v, u = np.mgrid[0:h, 0:w]
    depth = 2.0 + 0.05 * u + 0.02 * v
    rel = ((1.0 / depth) - 0.1) / 4.0  # inverse depth = 4 rel + 0.1
    pts = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], -1)[::4, ::4].reshape(-1, 3)
    st = ScaleStage("relative", None, ScaleConfig(source="points", smoothing=1.0))
    vals = rel.astype(np.float32)
    assert st.apply(vals, 0.0, K_out=K, K_in=K, in_size=(h, w), anchor_input=AnchorInput("points", points=pts))
    assert st.status.state == "fitted"
    np.testing.assert_allclose(1.0 / vals, depth, rtol=1e-4)
    # stale afterwards: held, then expired (relative: no metric depth)
    vals = rel.astype(np.float32)
    assert st.apply(vals, 1.0, K_out=K, K_in=K, in_size=(h, w), missing="stale anchors")
    assert st.status.state == "held" and st.status.reason == "stale anchors"
    vals = rel.astype(np.float32)
    assert not st.apply(vals, 5.0, K_out=K, K_in=K, in_size=(h, w), missing="stale anchors")
    assert st.status.state == "expired" and "hold_timeout" in st.status.reason


def test_bad_anchor_inputs_refused_with_reason():
    K = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    with pytest.raises(AnchorError, match="zero points"):
        from_points(np.zeros((0, 3)), K, (48, 64))
    with pytest.raises(AnchorError, match="NaN/Inf"):
        from_points(np.full((10, 3), np.nan), K, (48, 64))
    with pytest.raises(AnchorError, match="behind the camera"):
        from_points(np.array([[0.0, 0.0, -2.0]] * 10), K, (48, 64))
    with pytest.raises(AnchorError, match="inside"):
        from_points(np.array([[100.0, 0.0, 2.0]] * 10), K, (48, 64))  # all outside the image (wrong frame)
    with pytest.raises(AnchorError, match="outside"):
        from_range(12.0, (0.2, 10.0), K, (48, 64), (48, 64))
    with pytest.raises(AnchorError, match="no reading"):
        from_range(float("inf"), (0.2, 10.0), K, (48, 64), (48, 64))
    # stage: refused, reason reported, values untouched for a relative model
    st = ScaleStage("relative", None, ScaleConfig(source="points"))
    vals = np.ones((48, 64), np.float32)
    assert not st.apply(vals, 0.0, K_out=K, K_in=K, in_size=(48, 64),
                        anchor_input=AnchorInput("points", points=np.array([[0.0, 0.0, -1.0]])))
    assert st.status.reason_kind == "behind_camera" and np.all(vals == 1.0)


def test_range_planar_depth_off_centre():
    K = np.array([[100.0, 0, 50.0], [0, 100.0, 40.0], [0, 0, 1]])
    a = from_range(5.0, (0.1, 10.0), K, (80, 100), (80, 100), pixel=(99.0, 40.0))  # x' = 0.49, y' = 0
    assert a.z[0] == pytest.approx(5.0 / math.sqrt(1.0 + 0.49**2)) and (a.u[0], a.v[0]) == (99, 40)


def test_ground_plane_depths():
    # camera 1.2 m above the floor, looking 10 degrees down: floor depth at a pixel from plane geometry
    K = np.array([[200.0, 0, 79.5], [0, 200.0, 59.5], [0, 0, 1]])
    a = from_ground(1.2, math.radians(10), K, (120, 160), step=8)
    # the floor point of ray (x', y', 1) * z: its height below the camera along world up is 1.2
    p = math.radians(10)
    yprime = (a.v - K[1, 2]) / K[1, 1]
    up_dot = -(yprime * math.cos(p)) - math.sin(p)  # up = (0, -cos p, -sin p) in the optical frame
    np.testing.assert_allclose(a.z * up_dot, -1.2, rtol=1e-12)
    assert len(a) > 0 and a.v.min() > 0


def test_anchors_through_a_distorted_lens_against_opencv():
    """With the camera's lens (plumb_bob D), a LiDAR point anchors the pixel OpenCV's projectPoints gives it, the
    ground plane and a range beam use the ray of OpenCV's undistortPoints: the floor point of every anchor is
    1.2 m below the camera, and the beam's point is `range` metres away."""
    import cv2

    K = np.array([[140.0, 0, 80.3], [0, 138.0, 58.7], [0, 0, 1]])
    D = np.array([-0.32, 0.12, 0.001, -0.002, -0.02])
    lens = ("plumb_bob", D)
    rng = np.random.default_rng(2)
    pts = np.stack([rng.uniform(-0.5, 0.5, 300), rng.uniform(-0.35, 0.35, 300), np.ones(300)], 1) * rng.uniform(1, 8, 300)[:, None]
    a = from_points(pts, K, (120, 160), lens=lens)
    uv = cv2.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, D)[0].reshape(-1, 2)
    order, mine = np.argsort(pts[:, 2]), np.argsort(a.z)
    np.testing.assert_array_equal(np.rint(uv[order]), np.stack([a.u, a.v], 1)[mine])
    np.testing.assert_array_equal(pts[order, 2], a.z[mine])
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    g = from_ground(1.2, math.radians(10), K, (120, 160), step=8, lens=lens)
    rays = cv2.undistortPoints(np.stack([g.u, g.v], 1).astype(np.float64).reshape(-1, 1, 2), K, D, criteria=crit)
    p = math.radians(10)
    up_dot = -(rays.reshape(-1, 2)[:, 1] * math.cos(p)) - math.sin(p)
    np.testing.assert_allclose(g.z * up_dot, -1.2, rtol=1e-6)
    plain = from_ground(1.2, math.radians(10), K, (120, 160), step=8)
    assert np.abs(plain.z - g.z).max() > 0.05  # the pinhole rays would put the floor elsewhere
    r = from_range(5.0, (0.1, 10.0), K, (120, 160), (120, 160), pixel=(150.0, 100.0), lens=lens)
    x, y = cv2.undistortPoints(np.array([[[150.0, 100.0]]]), K, D, criteria=crit).ravel()
    assert r.z[0] * math.sqrt(x * x + y * y + 1) == pytest.approx(5.0, rel=1e-6)


def test_affine_smoothing_compares_depth_not_parameters():
    # two fits with very different (s, t) that give nearly the same inverse depth over the model's range
    x = np.linspace(0.2, 1.0, 50)
    a = Fit(True, 1.0, 0.5, ref=(0.2, 1.0))  # y = x + 0.5:   0.7 .. 1.5
    b = Fit(True, 1.1, 0.43, ref=(0.2, 1.0))  # y = 1.1x + .43: 0.65 .. 1.53  (log s differs by 0.095)
    sm = ScaleSmoother(alpha=0.5, gate=0.1)
    sm.update(a, 0)
    assert sm.update(b, 1)  # accepted: the depths differ by < 10 %
    s, t = sm.current(1)
    y = s * np.array([0.2, 1.0]) + t
    np.testing.assert_allclose(y, np.sqrt(np.array([0.7, 1.5]) * np.array([0.65, 1.53])), rtol=1e-12)
    assert not sm.update(Fit(True, 3.0, 0.5, ref=(0.2, 1.0)), 2)  # 2x the depth: rejected
    assert np.all(s * x + t > 0)


def test_official_vkitti_training_focal_hand_computed():
    from depth_anything_ros.model.official import OFFICIAL_CHECKPOINTS

    # Virtual KITTI 2: fx = fy = 725.0 px at 1242x375; lower_bound to 518 -> 518x1722:
    # (725.0 * 1722 / 1242 + 725.0 * 518 / 375) / 2 = (1005.193 + 1001.467) / 2 = 1003.33
    assert OFFICIAL_CHECKPOINTS["depth_anything_v2_metric_vkitti_vitl.pth"].training_focal == pytest.approx(1003.33, abs=0.05)
    assert OFFICIAL_CHECKPOINTS["depth_anything_v2_vits.pth"].training_focal is None
    # the training sizes used above are the official lower_bound rule's (as implemented for inference)
    from depth_anything_ros.inference.preprocess import official_network_size

    assert official_network_size(375, 1242) == (518, 1722) and official_network_size(768, 1024) == (518, 686)
