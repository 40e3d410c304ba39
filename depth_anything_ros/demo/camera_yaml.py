"""camera_calibration-style YAML (image_width, camera_matrix, ...) <-> sensor_msgs/CameraInfo fields."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_camera_yaml(path: str | Path, K: np.ndarray, width: int, height: int, name: str = "demo_camera") -> None:
    """Write a pinhole, distortion-free calibration in the ROS camera_calibration format."""
    import yaml

    K = np.asarray(K, dtype=np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    doc = {
        "image_width": int(width), "image_height": int(height), "camera_name": name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in K.ravel()]},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": 5, "data": [0.0] * 5},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in np.eye(3).ravel()]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [float(v) for v in P.ravel()]},
    }
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))


def read_camera_yaml(path: str | Path) -> dict:
    """{width, height, K (3x3), D, R (3x3), P (3x4), distortion_model} from a calibration YAML."""
    import yaml

    doc = yaml.safe_load(Path(path).read_text())
    K = np.array(doc["camera_matrix"]["data"], dtype=np.float64).reshape(3, 3)
    P = np.array(doc.get("projection_matrix", {}).get("data") or np.hstack([K, np.zeros((3, 1))]).ravel(),
                 dtype=np.float64).reshape(3, 4)
    R = np.array(doc.get("rectification_matrix", {}).get("data") or np.eye(3).ravel(), dtype=np.float64).reshape(3, 3)
    return {"width": int(doc["image_width"]), "height": int(doc["image_height"]), "K": K, "P": P, "R": R,
            "D": list(doc.get("distortion_coefficients", {}).get("data") or []),
            "distortion_model": doc.get("distortion_model", "plumb_bob")}


def camera_info_msg(cal: dict, frame_id: str):
    """A CameraInfo from `read_camera_yaml`'s dict (header stamp left to the caller)."""
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.width, msg.height = cal["width"], cal["height"]
    msg.distortion_model = cal["distortion_model"]
    msg.d = [float(v) for v in cal["D"]]
    msg.k = [float(v) for v in cal["K"].ravel()]
    msg.r = [float(v) for v in cal["R"].ravel()]
    msg.p = [float(v) for v in cal["P"].ravel()]
    return msg
