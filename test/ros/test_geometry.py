"""Intrinsics scaling, ray precomputation, back-projection (against Open3D) and PointCloud2 layout helpers."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from depth_anything_ros import geometry as g

K = np.array([[120.0, 0.0, 63.2], [0.0, 118.0, 47.9], [0.0, 0.0, 1.0]])


def test_scale_intrinsics_matches_resampling_geometry():
    # a 3D point projects to (u, v) at the source size; cv2.resize maps it to (u + 0.5) * s - 0.5
    X = np.array([0.3, -0.2, 2.0])
    u, v, _ = (K @ X) / X[2]
    for dst in [(48, 64), (192, 256), (60, 100)]:
        K2 = g.scale_intrinsics(K, (96, 128), dst)
        sy, sx = dst[0] / 96, dst[1] / 128
        u2, v2, _ = (K2 @ X) / X[2]
        assert u2 == pytest.approx((u + 0.5) * sx - 0.5) and v2 == pytest.approx((v + 0.5) * sy - 0.5)
    np.testing.assert_array_equal(g.scale_intrinsics(K, (96, 128), (96, 128)), K)
    P = np.hstack([K, [[-12.0], [0.0], [0.0]]])
    P2 = g.scale_intrinsics(P, (96, 128), (48, 64))
    np.testing.assert_allclose(P2[:, :3], g.scale_intrinsics(K, (96, 128), (48, 64)))
    assert P2[0, 3] == pytest.approx(-6.0)  # Tx = -fx * baseline scales with fx


def test_pixel_rays_and_cache():
    rays = g.pixel_rays(K, 5, 7, stride=2)
    assert rays.shape == (3, 4, 3) and rays.dtype == np.float32
    assert rays[1, 2, 0] == pytest.approx((4 - K[0, 2]) / K[0, 0])
    assert rays[2, 0, 1] == pytest.approx((4 - K[1, 2]) / K[1, 1])
    assert np.all(rays[..., 2] == 1)
    cache = g.RayCache(capacity=2)
    a = cache.get(K, 5, 7, 2)
    assert cache.get(K.copy(), 5, 7, 2) is a  # same camera: no recomputation
    cache.get(K, 5, 7, 1)
    cache.get(K * [[2], [2], [1]], 5, 7, 1)
    assert len(cache) == 2
    with pytest.raises(ValueError):
        g.pixel_rays(np.zeros((3, 3)), 4, 4)


@pytest.mark.parametrize("stride", [1, 3])
def test_backproject_matches_open3d(stride):
    import open3d as o3d

    rng = np.random.default_rng(0)
    h, w = 45, 61
    depth = rng.uniform(0.5, 8.0, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.2] = np.nan
    pts = g.backproject(depth, g.RayCache().get(K, h, w, stride), stride)
    assert pts.shape == (len(range(0, h, stride)), len(range(0, w, stride)), 3)
    sub = depth[::stride, ::stride]
    valid = np.isfinite(sub)
    assert np.all(np.isnan(pts[~valid]))
    intr = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    ref = np.asarray(o3d.geometry.PointCloud.create_from_depth_image(
        o3d.geometry.Image(np.nan_to_num(depth, nan=0.0)), intr, depth_scale=1.0, depth_trunc=1e6,
        stride=stride).points)
    np.testing.assert_allclose(pts[valid], ref, rtol=1e-5, atol=1e-6)


def test_rgb_packing_and_layout():
    rgb = np.random.default_rng(1).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    packed = g.pack_rgb_float(rgb)
    assert packed.dtype == np.float32 and packed.shape == (6, 8)
    assert packed.view(np.uint32)[2, 3] == (int(rgb[2, 3, 0]) << 16) | (int(rgb[2, 3, 1]) << 8) | int(rgb[2, 3, 2])
    np.testing.assert_array_equal(g.unpack_rgb_float(packed), rgb)
    np.testing.assert_array_equal(g.unpack_rgb_float(g.pack_rgb_float(rgb, 2)), rgb[::2, ::2])
    fields, step = g.cloud_layout(True)
    assert [f[:2] for f in fields] == [("x", 0), ("y", 4), ("z", 8), ("rgb", 12)] and step == 16
    assert g.cloud_layout(False)[1] == 12
    d = np.ones((6, 8), np.float32)
    assert g.backproject(d, g.RayCache().get(K, 6, 8), 1, packed).shape == (6, 8, 4)


def test_set_invalid_nan():
    d = np.array([[np.nan, 0.05, 0.1], [np.inf, 5.0, 20.0001], [-1.0, 20.0, 3.0]], np.float32)
    valid = g.set_invalid_nan(d, 0.1, 20.0)  # in place, returning the mask
    expected = np.array([[np.nan, np.nan, 0.1], [np.nan, 5.0, np.nan], [np.nan, 20.0, 3.0]], np.float32)
    np.testing.assert_array_equal(d, expected)
    np.testing.assert_array_equal(valid, np.isfinite(expected).astype(np.uint8) * 255)
    ok = np.full((2, 3), 4.0, np.float32)  # all valid: unchanged
    assert g.set_invalid_nan(ok, 0.1, 20.0).all() and (ok == 4.0).all()


def _colorize_reference(values, valid, inverse, lo, hi):
    """The straightforward numpy definition that `colorize` implements with OpenCV passes."""
    norm = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    if inverse:
        norm = 1.0 - norm
    index = np.where(valid, 1.0 + norm * 254.0 + 0.5, 0.0).astype(np.uint8)  # 1..255 valid, 0 invalid
    out = cv2.applyColorMap(index, cv2.COLORMAP_TURBO)
    out[~valid] = 0
    return out


@pytest.mark.parametrize("inverse", [False, True])
def test_colorize_matches_reference(inverse):
    rng = np.random.default_rng(2)
    d = rng.uniform(0.0, 12.0, (37, 53)).astype(np.float32)
    d[rng.random(d.shape) < 0.1] = np.nan
    d[0, 0], d[0, 1] = np.inf, -np.inf
    valid = np.isfinite(d)
    for lo, hi in [(1.5, 9.0), (float(np.nanmin(d[valid])), float(np.nanmax(d[valid])))]:
        out = g.colorize(d, inverse=inverse, vmin=lo, vmax=hi)
        ref = _colorize_reference(d, valid, inverse, lo, hi)
        assert out.dtype == np.uint8 and out.shape == d.shape + (3,)
        assert np.all(out[~valid] == 0)
        # rounding of the 1..255 index may differ by one step at exact .5 boundaries
        assert np.mean(np.any(out != ref, axis=-1)) < 0.01
    auto = g.colorize(d, inverse=inverse)  # default range = valid min..max
    np.testing.assert_array_equal(auto, g.colorize(d, inverse=inverse, vmin=float(np.nanmin(d[valid])),
                                                   vmax=float(np.nanmax(d[valid]))))
    assert not g.colorize(np.full((4, 4), np.nan, np.float32)).any()
    # a uint8 mask (255 = valid) and an output array give the same picture, written in place
    target = np.full(d.shape + (3,), 7, np.uint8)
    written = g.colorize(d, valid.astype(np.uint8) * 255, inverse, 1.5, 9.0, out=target)
    assert written is target
    np.testing.assert_array_equal(target, g.colorize(d, inverse=inverse, vmin=1.5, vmax=9.0))


LENSES = {  # (model, D, K) of three lens families (OpenCV's models), the node tests' lenses at 640x480
    "plumb_bob": ("plumb_bob", [-0.32, 0.12, 0.001, -0.002, -0.02], [[560.0, 0, 321.0], [0, 552.0, 238.5], [0, 0, 1]]),
    "rational_polynomial": ("rational_polynomial", [0.6, -0.25, 0.001, 0.0015, 0.01, 0.9, -0.1, 0.03],
                            [[480.0, 0, 318.0], [0, 484.0, 242.0], [0, 0, 1]]),
    "equidistant": ("equidistant", [0.08, -0.03, 0.006, -0.001], [[280.0, 0, 319.5], [0, 280.0, 239.5], [0, 0, 1]]),
}
EXACT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)


@pytest.mark.parametrize("name", LENSES)
def test_project_points_inverts_opencvs_undistortion(name):
    """Points made from pixels with OpenCV's own inverse (undistortPoints, run to convergence here) project
    back onto those pixels; pinhole projection would miss them by pixels near the border."""
    model, D, K = LENSES[name]
    K, D = np.array(K), np.array(D)
    rng = np.random.default_rng(5)
    uv = np.stack([rng.uniform(40, 600, 400), rng.uniform(30, 450, 400)], 1)
    undistort = cv2.fisheye.undistortPoints if model == "equidistant" else cv2.undistortPoints
    rays = undistort(uv.reshape(-1, 1, 2), K, D, criteria=EXACT).reshape(-1, 2)
    project = cv2.fisheye.projectPoints if model == "equidistant" else cv2.projectPoints
    back = project(np.concatenate([rays, np.ones((len(uv), 1))], 1).reshape(-1, 1, 3), np.zeros((1, 1, 3)),
                   np.zeros((1, 1, 3)), K, D)[0].reshape(-1, 2)
    has_ray = np.linalg.norm(back - uv, axis=1) < 1e-6  # OpenCV's inverse found the pixel's ray
    assert has_ray.mean() > 0.9
    uv, rays = uv[has_ray], rays[has_ray]
    z = rng.uniform(0.5, 20.0, len(uv))
    pts = np.concatenate([rays, np.ones((len(uv), 1))], 1) * z[:, None]
    got = g.project_points(pts, K, D, model)
    assert np.abs(got - uv).max() < 1e-3
    pinhole = g.project_points(pts, K)
    assert np.abs(pinhole - uv).max() > 5.0
    np.testing.assert_allclose(g.undistort_pixels(uv, K, D, model), rays, atol=1e-6)


def test_project_points_drops_what_the_lens_model_folds_onto_a_wrong_pixel():
    K = np.array([[300.0, 0, 320.0], [0, 300.0, 240.0], [0, 0, 1]])
    D = np.array([-0.5, 0.0, 0.0, 0.0, 0.0])  # r_d = r (1 - 0.5 r^2) turns back beyond r = 0.816
    pts = np.array([[0.3, 0.1, 1.0], [1.6, 0.0, 1.0], [0.0, 0.0, -2.0]])  # inside, far outside the FOV, behind
    raw = cv2.projectPoints(pts[:2].reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, D)[0].reshape(-1, 2)
    assert 0 <= raw[1, 0] < 640  # OpenCV alone puts the far point inside the image (on the other side)
    got = g.project_points(pts, K, D)
    np.testing.assert_allclose(got[0], raw[0], atol=1e-9)
    assert np.isnan(got[1:]).all()


@pytest.mark.parametrize("name", list(LENSES) + ["thin_prism"])
def test_projection_equals_opencvs_project_points(name):
    model, D, K = LENSES.get(name) or ("rational_polynomial", LENSES["rational_polynomial"][1] + [1e-3, -2e-3, 3e-3, 5e-4],
                                       LENSES["rational_polynomial"][2])
    K, D = np.array(K), np.array(D)
    rng = np.random.default_rng(7)
    pts = np.stack([rng.uniform(-0.6, 0.6, 2000), rng.uniform(-0.45, 0.45, 2000), np.ones(2000)], 1) * 3.0
    if model == "equidistant":
        ref = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), K, D)[0]
    else:
        ref = cv2.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, D)[0]
    np.testing.assert_allclose(g.project_points(pts, K, D, model), ref.reshape(-1, 2), atol=1e-9)
