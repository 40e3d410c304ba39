"""The node's anchor-message conversions and time matching (ros/scale_inputs.py); rotation oracle: scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from depth_anything_ros.ros.conversions import InputError, numpy_to_image, pointcloud2_message
from depth_anything_ros.ros.params import from_flat, validate
from depth_anything_ros.geometry import pose_matrix
from depth_anything_ros.messages import depth_msg_to_metres
from depth_anything_ros.ros.scale_inputs import ScaleInputs, cloud_msg_to_points


def _cfg(**kw):
    return validate(from_flat({"model_path": "m.onnx", **kw}), check_files=False)


def test_pose_matrix_matches_scipy():
    q = np.array([0.1, -0.4, 0.3, 0.8])
    T = pose_matrix([0.5, -1.0, 2.0, *q])
    np.testing.assert_allclose(T[:3, :3], Rotation.from_quat(q / np.linalg.norm(q)).as_matrix(), atol=1e-12)
    np.testing.assert_array_equal(T[:3, 3], [0.5, -1.0, 2.0])
    np.testing.assert_array_equal(T[3], [0, 0, 0, 1])


def test_depth_encodings():
    mm = np.array([[0, 1500], [65535, 20]], np.uint16)
    d = depth_msg_to_metres(numpy_to_image(mm, "16UC1"))
    assert np.isnan(d[0, 0]) and d[0, 1] == pytest.approx(1.5) and d[1, 0] == pytest.approx(65.535)
    f = np.array([[np.nan, 2.0], [-1.0, np.inf]], np.float32)
    d = depth_msg_to_metres(numpy_to_image(f, "32FC1"))
    assert d[0, 1] == 2.0 and np.isnan(d[0, 0]) and np.isnan(d[1, 0]) and np.isnan(d[1, 1])
    with pytest.raises(InputError, match="expected 16UC1"):
        depth_msg_to_metres(numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8"))


def test_cloud_with_extrinsic():
    from std_msgs.msg import Header

    pts = np.array([[[1.0, 2.0, 3.0], [np.nan, 0, 0]]], np.float32)
    ext = (0.1, -0.2, 0.3, 0.0, 0.0, 0.38268343, 0.92387953)
    got = cloud_msg_to_points(pointcloud2_message(pts, Header(), False), ext)
    want = Rotation.from_quat(ext[3:]).apply(pts[0, :1].astype(float)) + np.array(ext[:3])
    np.testing.assert_allclose(got[:1], want, atol=1e-6)
    assert np.isnan(got[1]).any()


def test_time_matching_and_frame_check():
    from sensor_msgs.msg import Range

    inp = ScaleInputs(_cfg(scale_source="range", scale_tolerance=0.05))
    assert inp.match(1.0)[0] is None and "no message" in inp.match(1.0)[1]
    for t in (1.0, 1.1):
        m = Range(range=2.0, min_range=0.1, max_range=5.0)
        m.header.stamp.sec, m.header.stamp.nanosec = int(t), int(round((t % 1) * 1e9))
        inp.on_message(m)
    a, why = inp.match(1.12)
    assert a is not None and a.stamp == pytest.approx(1.1) and why == ""
    a, why = inp.match(1.3)
    assert a is None and "stale anchors" in why
    pin = ScaleInputs(_cfg(scale_source="points"))
    from std_msgs.msg import Header

    h = Header(frame_id="lidar")
    pin.on_message(pointcloud2_message(np.ones((1, 3, 3), np.float32), h, False))
    a, why = pin.match(0.0, "camera_optical")
    assert a is None and "cloud in frame 'lidar'" in why
    pin2 = ScaleInputs(_cfg(scale_source="points", scale_extrinsic="0 0 0 0 0 0 1"))
    pin2.on_message(pointcloud2_message(np.ones((1, 3, 3), np.float32), h, False))
    assert pin2.match(0.0, "camera_optical")[0] is not None


def test_scale_parameters_validated():
    from depth_anything_ros.ros.params import ParameterError

    for kw, msg in (({"scale_source": "sonar"}, "scale_source"), ({"focal_rescale": "on"}, "focal_rescale"),
                    ({"scale_extrinsic": "1 2 3"}, "scale_extrinsic"), ({"scale_smoothing": 0.0}, "scale_smoothing"),
                    ({"scale_source": "ground"}, "ground_height")):
        with pytest.raises(ParameterError, match=msg):
            _cfg(**kw)
    assert _cfg(scale_extrinsic="1, 2, 3, 0, 0, 0, 1").extrinsic == (1, 2, 3, 0, 0, 0, 1)
