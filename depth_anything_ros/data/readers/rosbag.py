"""rosbag2 recordings (via `rosbags`, no ROS install needed) as RGB-D samples.

Supported: RGB as sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage (jpeg/png); depth as
an aligned sensor_msgs/Image (16UC1 / mono16 in millimetres, or 32FC1 in metres) or a LiDAR
sensor_msgs/PointCloud2 (x, y, z) projected through the CameraInfo camera (K and its distortion model).

Assumptions (no TF lookup): the depth image is already registered to the RGB camera (same frame, same size),
and the point cloud is expressed in the RGB camera's optical frame (x right, y down, z forward), unless
`T_cam_lidar` (4x4, lidar -> camera optical) is given.

Pairing: the depth image or cloud is the anchor (its pixels are the ground truth). Each anchor takes the color
frame nearest in time (header stamps; the bag's log time where a stamp is zero), if it lies within
`tolerance` seconds, and a color frame serves at most one anchor (the nearest). Anchors without a color frame
that close are dropped, never paired with a farther one (no motion compensation exists, so a 33 ms offset on a
moving robot would shift the ground truth); `pairing` counts what was kept and dropped. Depth outside
[min_depth, max_depth] is marked invalid.
"""
from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np

from .base import DepthDataset
from ..sample import RGBDSample
from ...geometry import project_points
from ...messages import (InputError, camera_info_distortion, camera_info_K, camera_msg_to_rgb, cloud_msg_to_xyz,
                         depth_msg_to_metres)

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
INFO = "sensor_msgs/msg/CameraInfo"
CLOUD = "sensor_msgs/msg/PointCloud2"


def points_to_depth(xyz_cam: np.ndarray, K: np.ndarray, h: int, w: int, D=(), model: str = "plumb_bob"
                    ) -> np.ndarray:
    """Sparse depth image from camera-frame points projected through the camera (K, distortion D of `model`,
    `geometry.project_points`): nearest pixel, closest point wins, 0 = no point."""
    uv = project_points(xyz_cam, K, D, model)
    ok = np.isfinite(uv).all(axis=1)
    u, v, z = np.round(uv[ok, 0]).astype(np.int64), np.round(uv[ok, 1]).astype(np.int64), xyz_cam[ok, 2]
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    u, v, z = u[inside], v[inside], z[inside]
    depth = np.full(h * w, np.inf)
    np.minimum.at(depth, v * w + u, z)
    depth[~np.isfinite(depth)] = 0.0
    return depth.reshape(h, w).astype(np.float32)


class RosbagRGBD(DepthDataset):
    """RGB + aligned depth (or LiDAR) pairs from a rosbag2 directory or file (sqlite3 or mcap); see the module
    docstring.

    Topics are found automatically when there is no ambiguity (an Image/CompressedImage topic without "depth"
    in its name for RGB, an Image topic with "depth" for depth, else a PointCloud2 topic; the CameraInfo topic
    next to the color topic, else the only one), or passed explicitly. K comes from the `K` argument, else
    the first CameraInfo message.
    """

    name = "rosbag"
    eval_crop = None

    def __init__(self, path, rgb_topic=None, depth_topic=None, info_topic=None, lidar_topic=None, K=None,
                 T_cam_lidar=None, tolerance: float = 0.02, min_depth: float = 1e-3, max_depth: float = 80.0):
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such bag")
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.T_cam_lidar = None if T_cam_lidar is None else np.asarray(T_cam_lidar, np.float64).reshape(4, 4)
        self._typestore = get_typestore(Stores.ROS2_HUMBLE)
        self._reader_cls = AnyReader
        self._reader = None
        r = self._open()
        self.topics = {c.topic: c.msgtype for c in r.connections}
        for t, want in ((rgb_topic, (IMAGE, COMPRESSED)), (depth_topic, (IMAGE,)), (lidar_topic, (CLOUD,)),
                        (info_topic, (INFO,))):
            self._require(t, want)
        rgb_topic = rgb_topic or self._pick((IMAGE, COMPRESSED), lambda t: "depth" not in t.lower(), "RGB")
        if depth_topic is None and lidar_topic is None:
            if any(m == IMAGE and "depth" in t.lower() for t, m in self.topics.items()):
                depth_topic = self._pick((IMAGE,), lambda t: "depth" in t.lower(), "depth")
            else:
                lidar_topic = self._pick((CLOUD,), lambda t: True, "depth image or PointCloud2")
        self.rgb_topic, self.depth_topic, self.lidar_topic = rgb_topic, depth_topic, lidar_topic
        self.K = None if K is None else np.asarray(K, np.float64).reshape(3, 3)
        self.distortion: tuple[str, np.ndarray] = ("", np.zeros(0))  # (model, D) of the CameraInfo, for LiDAR
        if self.K is None:
            info_topic = info_topic or self._pick_info(rgb_topic)
            conn = [c for c in r.connections if c.topic == info_topic]
            for c, _t, raw in r.messages(connections=conn):
                try:
                    info = r.deserialize(raw, c.msgtype)
                    self.K = camera_info_K(info)
                    self.distortion = camera_info_distortion(info, self.K)
                except InputError as exc:
                    raise ValueError(f"{self.path}: {info_topic}: {exc} (pass K)") from None
                break
            if self.K is None:
                raise ValueError(f"{self.path}: {info_topic} has no messages (pass K)")
        self.info_topic = info_topic
        self.tolerance = float(tolerance)
        self.pairs, self.pairing = self._pair(self._index(rgb_topic), self._index(depth_topic or lidar_topic))

    def _open(self):
        if self._reader is None:
            self._reader = self._reader_cls([self.path], default_typestore=self._typestore)
            self._reader.open()
        return self._reader

    def __getstate__(self):  # DataLoader workers reopen the bag
        state = dict(self.__dict__)
        state["_reader"] = None
        return state

    def _listing(self) -> str:
        return ", ".join(f"{t} ({m})" for t, m in sorted(self.topics.items())) or "no topics"

    def _require(self, topic, types) -> None:
        if topic is None:
            return
        if topic not in self.topics:
            raise ValueError(f"{self.path}: no topic {topic}; the bag has: {self._listing()}")
        if self.topics[topic] not in types:
            raise ValueError(f"{self.path}: {topic} is {self.topics[topic]}, expected {' or '.join(types)}")

    def _pick(self, types, pred, what: str) -> str:
        cands = sorted(t for t, m in self.topics.items() if m in types and pred(t))
        if len(cands) != 1:
            raise ValueError(f"{self.path}: cannot choose the {what} topic automatically (candidates: {cands}); "
                             f"pass it explicitly; the bag has: {self._listing()}")
        return cands[0]

    def _pick_info(self, rgb_topic: str) -> str:
        infos = sorted(t for t, m in self.topics.items() if m == INFO)
        near = [t for t in infos if t.rsplit("/", 1)[0] == rgb_topic.rsplit("/", 1)[0]]
        if len(near) == 1:
            return near[0]
        return self._pick((INFO,), lambda t: True, "CameraInfo (or pass K)")

    def _index(self, topic: str) -> list[tuple[int, int]]:
        """(stamp ns, log time ns) of every message on `topic`, sorted by stamp."""
        r = self._open()
        conns = [c for c in r.connections if c.topic == topic]
        out = []
        for c, t, raw in r.messages(connections=conns):
            st = r.deserialize(raw, c.msgtype).header.stamp
            ns = int(st.sec) * 10**9 + int(st.nanosec)
            out.append((ns or t, t))
        return sorted(out)

    def _pair(self, colors, anchors):
        """Each anchor with its nearest color frame within the tolerance; see the module docstring."""
        tol = int(round(self.tolerance * 1e9))
        cstamps = [c[0] for c in colors]
        best: dict[int, tuple[int, int]] = {}  # color index -> (|dt|, anchor index)
        far = 0
        for ai, (ta, _la) in enumerate(anchors):
            j = bisect.bisect_left(cstamps, ta)
            cands = [k for k in (j - 1, j) if 0 <= k < len(colors)]
            if not cands:
                far += 1
                continue
            k = min(cands, key=lambda k: abs(cstamps[k] - ta))
            dt = abs(cstamps[k] - ta)
            if dt > tol:
                far += 1
                continue
            if k in best and best[k][0] <= dt:
                continue
            best[k] = (dt, ai)
        pairs = sorted((anchors[ai][0], colors[k][1], anchors[ai][1]) for k, (_dt, ai) in best.items())
        offsets = [d for d, _ in best.values()]
        info = {"anchors": len(anchors), "colors": len(colors), "pairs": len(pairs),
                "dropped_too_far": far, "dropped_shared_color": len(anchors) - far - len(pairs),
                "max_offset_ms": round(max(offsets) / 1e6, 3) if offsets else None,
                "tolerance_ms": self.tolerance * 1e3}
        return [(c, a) for _t, c, a in pairs], info

    def pairing_report(self) -> str:
        """One line: how many depth/cloud frames were paired and how many dropped (and why)."""
        p = self.pairing
        return (f"{self.path.name}: {p['pairs']} of {p['anchors']} {'clouds' if self.lidar_topic else 'depth frames'} "
                f"paired with a color frame within {p['tolerance_ms']:g} ms (max offset {p['max_offset_ms']} ms); "
                f"dropped {p['dropped_too_far']} too far in time, {p['dropped_shared_color']} sharing a color frame")

    def _message(self, topic: str, stamp: int):
        r = self._open()
        conns = [c for c in r.connections if c.topic == topic]
        for c, _t, raw in r.messages(connections=conns, start=stamp, stop=stamp + 1):
            return r.deserialize(raw, c.msgtype)
        raise KeyError(f"no message on {topic} at {stamp}")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> RGBDSample:
        t_rgb, t_dep = self.pairs[self._check_index(index)]
        rgb = camera_msg_to_rgb(self._message(self.rgb_topic, t_rgb))
        h, w = rgb.shape[:2]
        if self.depth_topic is not None:
            depth = np.nan_to_num(depth_msg_to_metres(self._message(self.depth_topic, t_dep), self.depth_topic), nan=0.0)
            if depth.shape != (h, w):
                raise ValueError(f"depth {depth.shape} is not aligned with RGB {(h, w)} (register it first)")
        else:
            xyz = cloud_msg_to_xyz(self._message(self.lidar_topic, t_dep), self.lidar_topic)
            xyz = xyz[np.all(np.isfinite(xyz), axis=1)]
            if self.T_cam_lidar is not None:
                xyz = xyz @ self.T_cam_lidar[:3, :3].T + self.T_cam_lidar[:3, 3]
            depth = points_to_depth(xyz, self.K, h, w, self.distortion[1], self.distortion[0])
        valid = (depth > 0) & (depth >= self.min_depth) & (depth <= self.max_depth)
        depth = np.where(valid, depth, 0.0).astype(np.float32)
        return RGBDSample(image=rgb, depth=depth, valid=valid, K=self.K.copy(), source=f"rosbag:{self.path.name}:{t_rgb}")
