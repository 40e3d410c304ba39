"""Metric scale across processes: camera + LiDAR-like publisher -> node (demo metric model, scale_source points).

The scene is rendered by the synthetic engine; the "LiDAR" is 16 scan lines of its ground-truth depth (1 %
noise) sent as a PointCloud2 in the camera optical frame. The oracle is the renderer's ground truth: the
node's depth/image AbsRel with anchors must be below BOUND and below the AbsRel of the same node's output
before any anchor arrived. Bad clouds (all behind the camera, wrong frame, zero points) and stale anchors
must not stop depth/image, and must be reported (log, /diagnostics).
"""
from __future__ import annotations

import numpy as np
import pytest

from .harness import ROOT, NodeProcess, Probe, camera_info_for

pytestmark = pytest.mark.slow
MODEL = ROOT / "models" / "demo_vitt_metric.safetensors"
H, W = 266, 350
BOUND = 0.23  # measured 0.207 with anchors, 0.248 without (focal rule only) on this scene; docs/scale.md


@pytest.fixture(scope="module")
def scene():
    from depth_anything_ros.data.synthetic.sequence import sequence_cameras
    from depth_anything_ros.data.synthetic.scene import SceneSampler
    from depth_anything_ros.data.synthetic.stream import make_renderer

    sampler = SceneSampler(301, "eval", "indoor")
    sc = sampler.scene(0)
    cam = sequence_cameras(sampler, sc, 1, H, W, fov_deg=90.0)[0]  # not the model's training FOV (64 deg)
    frame = make_renderer("auto").render(sc, cam)
    return frame


def lidar_points(frame, lines: int = 16, noise: float = 0.01) -> np.ndarray:
    from depth_anything_ros.evaluation.anchored import AnchorSpec, simulate

    inp = simulate(AnchorSpec.parse(f"lidar:{lines},noise={noise}"), frame.depth, frame.valid, frame.K,
                   np.random.default_rng(0))
    return inp.points.astype(np.float32)


def cloud_msg(points: np.ndarray, frame_id: str, stamp):
    from std_msgs.msg import Header

    from depth_anything_ros.ros.conversions import pointcloud2_message

    h = Header()
    h.frame_id, h.stamp = frame_id, stamp
    return pointcloud2_message(np.ascontiguousarray(points.reshape(1, -1, 3)), h, with_rgb=False)


def abs_rel(msg, frame) -> float:
    from depth_anything_ros.ros.conversions import image_to_numpy

    d = image_to_numpy(msg).astype(np.float64)
    m = frame.valid & np.isfinite(d) & (frame.depth > 0.1) & (frame.depth < 20)
    return float(np.mean(np.abs(d[m] - frame.depth[m]) / frame.depth[m]))


def test_node_scale_from_lidar(ros_context, scene, tmp_path):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import PointCloud2

    from depth_anything_ros.ros.conversions import numpy_to_image

    node = NodeProcess(tmp_path / "node.log", {"model_path": str(MODEL), "network_size": f"{H}x{W}",
                                               "scale_source": "points", "scale_smoothing": 1.0,
                                               "scale_hold_timeout": 2.0, "scale_tolerance": 0.02,
                                               "diagnostics_period": 0.5, "num_threads": 1, "log_throttle": 0.0})
    probe = Probe(ros_context, "scale_probe", outputs=("depth/image",))
    cloud_pub = probe.node.create_publisher(PointCloud2, "scale/points",
                                            QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    info = camera_info_for(scene.K, W, H)
    img = lambda: numpy_to_image(scene.rgb, "rgb8")  # noqa: E731
    try:
        assert probe.wait_connected(("depth/image",), 90), node.text()[-2000:]
        assert probe.spin_until(lambda: cloud_pub.get_subscription_count() > 0, 30)
        stamp = probe.warm_up(img, info, ("depth/image",), 1_000_000_000)
        first = max(probe.received["depth/image"])
        no_anchor = abs_rel(probe.received["depth/image"][first], scene)

        def frame_with(cloud_points, frame_id="cam_optical"):
            nonlocal stamp
            s = stamp
            stamp += 1_000_000_000
            if cloud_points is not None:
                cloud_pub.publish(cloud_msg(cloud_points, frame_id, probe.stamp(s)))
                probe.spin_for(0.3)
            probe.send(img(), s, info)
            assert probe.wait_outputs(s, ("depth/image",), 30), f"no depth for {s}:\n{node.text()[-2000:]}"
            return probe.received["depth/image"][s]

        pts = lidar_points(scene)
        # bad input first: depth keeps flowing, unscaled (no good fit yet)
        frame_with(-pts)  # all behind the camera
        frame_with(pts, frame_id="velodyne")  # wrong frame without scale_extrinsic
        frame_with(pts[:0])  # zero points
        # good LiDAR anchors
        anchored = [abs_rel(frame_with(pts), scene) for _ in range(2)]
        # stale: no cloud within the tolerance -> the last fit is held
        held = abs_rel(frame_with(None), scene)
        probe.spin_until(lambda: probe.latest_diagnostics().get("scale_state") in ("held", "fitted"), 5)
        diag = probe.latest_diagnostics()
        log = node.text()
        print(f"AbsRel without anchors {no_anchor:.3f}, with {anchored}, held {held:.3f}; diagnostics {diag}")
        assert max(anchored) < BOUND and max(anchored) < no_anchor
        assert held == pytest.approx(anchored[-1], abs=1e-6)
        assert "behind the camera" in log and "cloud in frame 'velodyne'" in log and "zero points" in log
        assert "stale anchors" in log
        assert int(diag["scale_inliers"]) >= 20 and diag["scale_state"] in ("held", "fitted")
        assert float(diag["scale_fit_age_s"]) >= 0.0
    finally:
        probe.close()
        assert node.stop() == 0, node.text()[-2000:]
