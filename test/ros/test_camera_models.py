"""Real camera models across processes: the node's cloud and depth/camera_info for plumb_bob, rational_polynomial
and equidistant lenses, binning, a region of interest and skew, against OpenCV (`cv2.undistortPoints`,
`cv2.fisheye.undistortPoints`, and `projectPoints` back onto the pixel grid) and image_geometry's ROI/binning
rule, computed here from the input CameraInfo; unusable CameraInfos between the good frames are rejected with
their reason and the previous camera is kept."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from depth_anything_ros.ros import conversions as conv

from .harness import node_with_probe, sample_images

W, H, SCALE = 160, 120, 0.5
OW, OH = 80, 60
OUTPUTS = ("depth/image", "depth/camera_info", "depth/points")
T0 = 1_720_000_000 * 1_000_000_000


def _info(K, width, height, D=(), model="plumb_bob", binning=(0, 0), roi=None):
    from sensor_msgs.msg import CameraInfo, RegionOfInterest

    m = CameraInfo()
    m.width, m.height = width, height
    m.k = np.asarray(K, float).ravel()
    P = np.zeros((3, 4))
    P[:, :3] = K
    m.p = P.ravel()
    m.r = np.eye(3).ravel()
    m.d = [float(x) for x in D]
    m.distortion_model = model
    m.binning_x, m.binning_y = binning
    if roi is not None:
        m.roi = RegionOfInterest(x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3])
    return m


def _K(fx, fy, cx, cy, skew=0.0):
    return np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


GOOD = {
    "plumb_bob": _info(_K(140, 138, 80.3, 58.7), W, H, [-0.32, 0.12, 0.001, -0.002, -0.02]),
    "rational_polynomial": _info(_K(120, 121, 79.0, 60.2), W, H,
                                 [0.6, -0.25, 0.001, 0.0015, 0.01, 0.9, -0.1, 0.03], "rational_polynomial"),
    "equidistant": _info(_K(70, 70, 79.5, 59.5), W, H, [0.08, -0.03, 0.006, -0.001], "equidistant"),
    "binning_2x2": _info(_K(280, 280, 161.0, 118.0), 2 * W, 2 * H, [-0.1, 0.02, 0, 0, 0], binning=(2, 2)),
    "roi": _info(_K(140, 140, 99.5, 74.5), 200, 150, [-0.2, 0.05, 0, 0, 0], roi=(20, 15, W, H)),
    "skew_pinhole": _info(_K(140, 140, 79.5, 59.5, skew=6.0), W, H, [0.0] * 5),
}
BAD = [  # (CameraInfo, expected text in the node's log)
    (_info(_K(140, 140, 79.5, 59.5), W, H, [0.1, 0.01, 0, 0], "kannala_brandt"), "'kannala_brandt' is not supported"),
    (_info(_K(1e-300, 1e-300, 79.5, 59.5), W, H, [0.0] * 5), "below 1 px"),
    (_info(_K(140, 140, 79.5, 59.5, skew=3.0), W, H, [-0.2, 0.05, 0, 0, 0]), "skew"),
    (_info(_K(140, 140, 99.5, 74.5), 200, 150, [0.0] * 5, roi=(60, 40, W, H)), "roi"),
    (_info(_K(140, 140, 79.5, 59.5), W, H, [0.1, 0.01, 0.0]), "3 coefficients"),
    (_info(_K(140, 140, 79.5, 59.5), W, H, [0.0] * 4, "equidistant", binning=(64, 64)), "leaves"),
]


def _full_sensor_pixels(info) -> np.ndarray:
    """(OH, OW, 2) full-sensor pixel coordinates of the output pixels: cv2.resize's pixel centres from the
    output to the delivered image, then image_geometry's roi/binning (u_full = u * binning_x + x_offset)."""
    bx, by = max(info.binning_x, 1), max(info.binning_y, 1)
    x0, y0 = (info.roi.x_offset, info.roi.y_offset) if info.roi.width else (0, 0)
    u = (np.arange(OW) + 0.5) / SCALE - 0.5
    v = (np.arange(OH) + 0.5) / SCALE - 0.5
    uu, vv = np.meshgrid(u * bx + x0, v * by + y0)
    return np.stack([uu, vv], -1)


def _oracle_rays(info) -> np.ndarray:
    K = np.array(info.k).reshape(3, 3)
    D = np.array(info.d)
    pix = _full_sensor_pixels(info).reshape(-1, 1, 2)
    if not np.any(D):
        hom = np.concatenate([pix.reshape(-1, 2), np.ones((pix.shape[0], 1))], 1)
        rays = np.linalg.solve(K, hom.T).T
        return (rays[:, :2] / rays[:, 2:]).reshape(OH, OW, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6)  # to convergence
    if info.distortion_model == "equidistant":
        return cv2.fisheye.undistortPoints(pix, K, D, criteria=criteria).reshape(OH, OW, 2)
    return cv2.undistortPoints(pix, K, D, criteria=criteria).reshape(OH, OW, 2)


def _reproject(info, xyz: np.ndarray) -> np.ndarray:
    K = np.array(info.k).reshape(3, 3)
    D = np.array(info.d)
    pts = xyz.reshape(-1, 1, 3).astype(np.float64)
    if not np.any(D):  # pinhole: K itself (cv2.projectPoints would drop the skew)
        uvw = pts.reshape(-1, 3) @ K.T
        return (uvw[:, :2] / uvw[:, 2:]).reshape(xyz.shape[:-1] + (2,))
    if info.distortion_model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(pts, np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), K, D)
    else:
        uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K, D)
    return uv.reshape(xyz.shape[:-1] + (2,))


def _expected_K(info) -> np.ndarray:
    """image_geometry's K for the delivered image, then scaled to the output (cv2.resize pixel centres)."""
    K = np.array(info.k).reshape(3, 3).copy()
    bx, by = max(info.binning_x, 1), max(info.binning_y, 1)
    if info.roi.width:
        K[0, 2] -= info.roi.x_offset
        K[1, 2] -= info.roi.y_offset
    K[0] /= bx
    K[1] /= by
    K[0] *= SCALE
    K[1] *= SCALE
    K[0, 2] += 0.5 * (SCALE - 1)
    K[1, 2] += 0.5 * (SCALE - 1)
    return K


@pytest.fixture(scope="module")
def node_and_probe(ros_context, tiny_metric_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("camera_models")
    params = {"model_path": str(tiny_metric_checkpoint), "network_size": "70x98", "num_threads": 1,
              "output_scale": SCALE, "min_depth": 0.0, "publish_colored": False, "points_rgb": False,
              "log_throttle": 0.0}
    with node_with_probe(ros_context, tmp / "node.log", params, "/cm", OUTPUTS) as running:
        yield running


def test_camera_models_against_opencv(node_and_probe):
    node, probe = node_and_probe
    rgb = sample_images(1, W, H)[0]
    stamp = probe.warm_up(lambda: conv.numpy_to_image(rgb, "rgb8"), GOOD["plumb_bob"], OUTPUTS, T0)
    results = {}
    for (name, info), (bad_info, _) in zip(GOOD.items(), BAD):
        probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp, info)
        assert probe.wait_outputs(stamp, OUTPUTS, 20), f"{name}: no outputs\n{node.text()[-2000:]}"
        results[name] = (info, stamp)
        # a bad CameraInfo, then a frame: the node keeps the good camera of this case
        probe.send(None, stamp + 1, bad_info)
        probe.spin_for(0.2)
        probe.send(conv.numpy_to_image(rgb, "rgb8"), stamp + 2)
        assert probe.wait_outputs(stamp + 2, OUTPUTS, 20), f"frame after a bad CameraInfo lost\n{node.text()[-2000:]}"
        kept = probe.received["depth/camera_info"][stamp + 2]
        np.testing.assert_array_equal(kept.k, probe.received["depth/camera_info"][stamp].k)
        stamp += 1_000_000_000
    for name, (info, s) in results.items():
        ci = probe.received["depth/camera_info"][s]
        assert (ci.width, ci.height, ci.binning_x, ci.binning_y) == (OW, OH, 0, 0), name
        assert (ci.roi.x_offset, ci.roi.y_offset, ci.roi.width, ci.roi.height) == (0, 0, 0, 0), name
        np.testing.assert_allclose(np.array(ci.k).reshape(3, 3), _expected_K(info), rtol=1e-12, atol=1e-9)
        assert ci.distortion_model == info.distortion_model and list(ci.d) == list(info.d), name
        depth = conv.image_to_numpy(probe.received["depth/image"][s])
        cloud = conv.pointcloud2_to_numpy(probe.received["depth/points"][s])
        xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], -1)
        rays = _oracle_rays(info)
        # where OpenCV's undistortion does not invert the lens model (it folds near the corners of a strong
        # lens) the pixel must have no point; everywhere else the point is depth x the undistorted ray
        unit = np.concatenate([rays, np.ones((OH, OW, 1))], -1)
        invertible = np.linalg.norm(_reproject(info, unit) - _full_sensor_pixels(info), axis=-1) <= 0.01
        assert invertible.mean() > 0.9, name
        valid = np.isfinite(depth) & invertible
        assert valid.mean() > 0.5, name
        assert np.isnan(xyz[np.isfinite(depth) & ~invertible]).all(), name
        np.testing.assert_array_equal(cloud["z"][valid], depth[valid])
        expected = np.concatenate([rays * depth[..., None], depth[..., None]], -1)
        np.testing.assert_allclose(xyz[valid], expected[valid], rtol=2e-6, atol=2e-6, err_msg=name)
        # the points themselves project back onto the pixels they came from
        err = np.linalg.norm(_reproject(info, xyz[valid]) - _full_sensor_pixels(info)[valid], axis=-1)
        assert err.max() < 0.02, (name, float(err.max()))
    log = node.text()
    for _, text in BAD:
        assert text in log, text
    assert probe.spin_until(lambda: int(probe.latest_diagnostics("/cm/depth_anything")
                                        .get("camera_info_rejected", -1)) == len(BAD), 5)
    assert node.alive()
