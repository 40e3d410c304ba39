"""Player process -> node process -> this process, over DDS: encodings, NaN semantics, headers, K scaling,
point cloud layout and back-projection (against Open3D), 16UC1 millimetres and /diagnostics.

The model is the random-weight metric `vitt` fixture (plumbing only); the expected depth comes from the
same checkpoint run in this process, and [min_depth, max_depth] is set to the 25th..75th percentile of
it so that about half of the pixels must come out NaN.
"""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from depth_anything_ros.geometry import scale_intrinsics, unpack_rgb_float

from .conftest import K_160x120
from .harness import ROOT, NodeProcess, Probe, child_env, sample_images

W, H, SCALE = 160, 120, 0.5
OW, OH = 80, 60
NET = "70x98"
N_FRAMES = 3


@pytest.fixture(scope="module")
def e2e(ros_context, tiny_metric_checkpoint, tmp_path_factory):
    from sensor_msgs.msg import Image

    from depth_anything_ros.demo.camera_yaml import write_camera_yaml
    from depth_anything_ros.inference import open_model

    tmp = tmp_path_factory.mktemp("e2e")
    frames_dir = tmp / "frames"
    frames_dir.mkdir()
    images = sample_images(N_FRAMES, W, H)
    for i, rgb in enumerate(images):
        cv2.imwrite(str(frames_dir / f"{i:04d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # lossless
    write_camera_yaml(frames_dir / "camera_info.yaml", K_160x120, W, H)

    est = open_model(tiny_metric_checkpoint, network_size=(70, 98))
    expected = [est.predict(rgb, (OH, OW)) for rgb in images]
    lo, hi = (float(v) for v in np.percentile(np.stack(expected), (25, 75)))

    node = NodeProcess(tmp / "node.log", {"model_path": str(tiny_metric_checkpoint), "network_size": NET,
                                          "output_scale": SCALE, "min_depth": lo, "max_depth": hi,
                                          "publish_depth_mm": True, "diagnostics_period": 0.5,
                                          "num_threads": 1})
    probe = Probe(ros_context, "e2e_probe", extra_subs=[("image", Image)])
    try:
        ok = probe.spin_until(lambda: probe.node.count_subscribers("image") >= 2  # node + probe
                              and probe.node.count_publishers("depth/points") > 0, 60)
        assert ok, f"node did not come up:\n{node.text()[-2000:]}"
        player = subprocess.Popen(
            [sys.executable, "-m", "depth_anything_ros.demo.player", "--frames", str(frames_dir), "--rate", "4",
             "--reliable", "--frame-id", "camera_optical_frame", "--wait", "30", "--subscribers", "2", "--wait-topic", "depth/points"],
            env=child_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        probe.spin_until(lambda: player.poll() is not None, 60)  # keep spinning while the player plays
        assert player.wait(5) == 0, player.stdout.read()
        topics = ("depth/image", "depth/camera_info", "depth/points", "depth/colored", "depth/image_mm")
        probe.spin_until(lambda: len(probe.received["depth/colored"]) >= N_FRAMES
                         and all(len(probe.received[t]) >= N_FRAMES for t in topics), 30)
        probe.spin_until(lambda: any(float(d.get("frames_processed", 0)) >= N_FRAMES
                                     for d in [probe.latest_diagnostics()]), 5)
        counts = {t: len(v) for t, v in probe.received.items()}
        print("received per topic:", counts)
        yield {"probe": probe, "images": images, "expected": expected, "range": (lo, hi), "node": node}
    finally:
        probe.close()
        assert node.stop() == 0, node.text()[-2000:]


def _frame_index(e2e, stamp) -> int:
    """Which input image a stamp belongs to (the probe also received the player's images)."""
    from depth_anything_ros.ros.conversions import image_msg_to_rgb

    img = e2e["probe"].received["image"][stamp]
    rgb = image_msg_to_rgb(img)
    return next(i for i, ref in enumerate(e2e["images"]) if np.array_equal(ref, rgb))


def test_every_frame_produces_every_output(e2e):
    rec = e2e["probe"].received
    stamps = set(rec["image"])
    assert len(stamps) == N_FRAMES
    for t in ("depth/image", "depth/camera_info", "depth/points", "depth/colored", "depth/image_mm"):
        assert set(rec[t]) == stamps, t
    assert not rec["depth/relative"]  # metric model: no relative topic


def test_encodings_and_headers(e2e):
    rec = e2e["probe"].received
    for stamp, img in rec["image"].items():
        depth, info = rec["depth/image"][stamp], rec["depth/camera_info"][stamp]
        assert depth.encoding == "32FC1" and (depth.width, depth.height) == (OW, OH)
        assert depth.step == OW * 4 and depth.is_bigendian == 0
        assert rec["depth/colored"][stamp].encoding == "bgr8"
        assert rec["depth/image_mm"][stamp].encoding == "16UC1"
        for msg in (depth, info, rec["depth/points"][stamp], rec["depth/colored"][stamp], rec["depth/image_mm"][stamp]):
            assert msg.header == img.header  # input stamp and frame_id, never now()
        assert depth.header.frame_id == "camera_optical_frame"


def test_nan_semantics_and_values(e2e):
    from depth_anything_ros.ros.conversions import image_to_numpy

    lo, hi = e2e["range"]
    rec = e2e["probe"].received
    for stamp in rec["image"]:
        exp = e2e["expected"][_frame_index(e2e, stamp)]
        depth = image_to_numpy(rec["depth/image"][stamp])
        finite = np.isfinite(depth)
        assert not np.any(depth == 0)  # never 0 for unknown
        assert np.all((depth[finite] >= lo) & (depth[finite] <= hi))
        tol = 2e-5 * max(abs(hi), 1.0)  # cross-process float noise is ~1e-6 relative
        inside = (exp > lo + tol) & (exp < hi - tol)
        outside = (exp < lo - tol) | (exp > hi + tol)
        assert inside.sum() > 0.25 * exp.size and outside.sum() > 0.25 * exp.size
        assert np.all(finite[inside]) and not np.any(finite[outside])
        np.testing.assert_allclose(depth[inside], exp[inside], rtol=1e-5, atol=1e-5)
        mm = image_to_numpy(rec["depth/image_mm"][stamp])
        assert np.all(mm[~finite] == 0)
        assert np.all(mm[finite] > 0)
        np.testing.assert_allclose(mm[finite], depth[finite] * 1000.0, atol=0.5 + 1e-3)  # rounded millimetres


def test_camera_info_scaled(e2e):
    rec = e2e["probe"].received
    K_exp = scale_intrinsics(K_160x120, (H, W), (OH, OW))
    for info in rec["depth/camera_info"].values():
        assert (info.width, info.height) == (OW, OH)
        K = np.array(info.k).reshape(3, 3)
        np.testing.assert_allclose(K, K_exp, atol=1e-9)
        np.testing.assert_allclose(K, [[70.0, 0, 39.5], [0, 70.0, 29.5], [0, 0, 1]], atol=1e-9)
        P = np.array(info.p).reshape(3, 4)
        np.testing.assert_allclose(P[:, :3], K_exp, atol=1e-9)


def test_point_cloud_layout_and_backprojection(e2e):
    import open3d as o3d
    from sensor_msgs.msg import PointField

    from depth_anything_ros.ros.conversions import image_to_numpy, pointcloud2_to_numpy

    rec = e2e["probe"].received
    for stamp in rec["image"]:
        cloud = rec["depth/points"][stamp]
        assert (cloud.height, cloud.width) == (OH, OW)  # organized
        assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
            ("x", 0, PointField.FLOAT32, 1), ("y", 4, PointField.FLOAT32, 1),
            ("z", 8, PointField.FLOAT32, 1), ("rgb", 12, PointField.FLOAT32, 1)]
        assert cloud.point_step == 16 and cloud.row_step == 16 * OW and not cloud.is_dense
        f = pointcloud2_to_numpy(cloud)
        xyz = np.stack([f["x"], f["y"], f["z"]], -1)
        depth = image_to_numpy(rec["depth/image"][stamp])
        K = np.array(rec["depth/camera_info"][stamp].k).reshape(3, 3)
        valid = np.isfinite(depth)
        assert np.array_equal(np.isfinite(xyz).all(-1), valid)
        assert np.all(np.isnan(xyz[~valid]))
        np.testing.assert_array_equal(f["z"][valid], depth[valid])
        # Open3D back-projects the same depth with the same intrinsics (row-major, valid pixels only)
        intr = o3d.camera.PinholeCameraIntrinsic(OW, OH, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
        d0 = np.where(valid, depth, 0.0).astype(np.float32)
        ref = np.asarray(o3d.geometry.PointCloud.create_from_depth_image(
            o3d.geometry.Image(d0), intr, depth_scale=1.0, depth_trunc=1e6).points)
        assert ref.shape == (int(valid.sum()), 3)
        np.testing.assert_allclose(xyz[valid], ref, rtol=1e-5, atol=1e-5)
        # colour: the input image at the output size
        rgb_in = e2e["images"][_frame_index(e2e, stamp)]
        rgb_out = cv2.resize(rgb_in, (OW, OH), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(unpack_rgb_float(f["rgb"]), rgb_out)


def test_diagnostics(e2e):
    d = e2e["probe"].latest_diagnostics()
    assert d, "no /diagnostics received"
    assert d["engine"] == "torch" and d["network_input_size"] == NET
    for k in ("input_rate_hz", "output_rate_hz", "latency_p50_ms", "latency_p99_ms", "frames_dropped"):
        assert k in d
    assert int(d["frames_processed"]) == N_FRAMES and int(d["frames_dropped"]) == 0
    for topic in ("depth/image", "depth/camera_info", "depth/points", "depth/colored", "depth/image_mm"):
        assert int(d[f"published {topic}"]) == N_FRAMES
    assert 0.0 < float(d["latency_p50_ms"]) <= float(d["latency_p99_ms"]) < 5000.0
