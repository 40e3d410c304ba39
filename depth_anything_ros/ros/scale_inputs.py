"""The node's metric-anchor inputs: subscriptions, message -> numpy, time matching.

Topics (relative names; remap them), one by `scale_source`:
  scale/depth   sensor_msgs/Image, 16UC1 millimetres (0 = hole) or 32FC1 metres (NaN/0 = hole), aligned
                to the RGB image (same camera, any resolution)
  scale/points  sensor_msgs/PointCloud2 with float x, y, z; in the camera optical frame, or moved there by
                `scale_extrinsic` (camera <- sensor; TF is not in the pip wheels, hence a fixed parameter)
  scale/range   sensor_msgs/Range; the beam goes through pixel (scale_range_u, scale_range_v)
Each message is converted when it arrives (a bad one is refused with a throttled reason); the image
callback takes the buffered one nearest its stamp if within `scale_tolerance`, else says why not.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

from ..geometry import pose_matrix
from ..messages import cloud_msg_to_xyz, depth_msg_to_metres
from ..scale.anchors import AnchorInput
from . import conversions as conv
from .conversions import InputError

TOPICS = {"depth": "scale/depth", "points": "scale/points", "range": "scale/range"}


def cloud_msg_to_points(msg, extrinsic: tuple | None) -> np.ndarray:
    """PointCloud2 -> (N, 3) float64 points in the camera optical frame (NaN/Inf kept: the fit drops them)."""
    p = cloud_msg_to_xyz(msg, "scale/points")
    if extrinsic is not None:
        T = pose_matrix(extrinsic)
        p = p @ T[:3, :3].T + T[:3, 3]
    return p


class ScaleInputs:
    """Buffered anchor messages of one `scale_source`; thread-safe (subscriber and image callbacks differ)."""

    def __init__(self, cfg, on_reject=None, keep: int = 30):
        self.source = cfg.scale_source
        self.tolerance = cfg.scale_tolerance
        self.extrinsic = cfg.extrinsic
        self.pixel = None if cfg.scale_range_u < 0 or cfg.scale_range_v < 0 else (cfg.scale_range_u, cfg.scale_range_v)
        self.on_reject = on_reject or (lambda kind, text: None)
        self._buf: deque = deque(maxlen=keep)
        self._lock = threading.Lock()
        self.received = 0
        self.rejected = 0

    def subscribe(self, node, qos, group):
        """The subscription for this source (None for `ground`, which needs no message)."""
        from sensor_msgs.msg import Image, PointCloud2, Range

        typ = {"depth": Image, "points": PointCloud2, "range": Range}.get(self.source)
        if typ is None:
            return None
        return node.create_subscription(typ, TOPICS[self.source], self.on_message, qos, callback_group=group)

    def convert(self, msg) -> AnchorInput:
        """One anchor message -> AnchorInput (InputError for a malformed one)."""
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        if self.source == "depth":
            return AnchorInput("depth", depth=depth_msg_to_metres(msg, "scale/depth"), stamp=stamp)
        if self.source == "points":
            return AnchorInput("points", points=cloud_msg_to_points(msg, self.extrinsic), stamp=stamp)
        return AnchorInput("range", range=float(msg.range), range_limits=(float(msg.min_range), float(msg.max_range)),
                           pixel=self.pixel, stamp=stamp)

    def on_message(self, msg) -> None:
        try:
            inp = self.convert(msg)
        except (InputError, ValueError) as exc:
            self.rejected += 1
            self.on_reject(getattr(exc, "kind", "anchor"), f"{TOPICS[self.source]} message refused: {exc}")
            return
        with self._lock:
            self.received += 1
            self._buf.append((inp.stamp, msg.header.frame_id, inp))

    def match(self, stamp: float, image_frame: str = "") -> tuple[AnchorInput | None, str]:
        """(anchors nearest `stamp` within the tolerance, "") or (None, why not)."""
        if self.source == "ground":
            return AnchorInput("ground", stamp=stamp), ""
        with self._lock:
            items = list(self._buf)
        if not items:
            return None, f"no message on {TOPICS[self.source]} yet"
        best = min(items, key=lambda it: abs(it[0] - stamp))
        dt = best[0] - stamp
        if abs(dt) > self.tolerance:
            return None, (f"stale anchors: nearest {TOPICS[self.source]} is {dt:+.3f} s from the image "
                          f"(scale_tolerance {self.tolerance:g} s)")
        if (self.source == "points" and self.extrinsic is None and best[1] and image_frame
                and best[1] != image_frame):
            return None, (f"cloud in frame {best[1]!r}, image in {image_frame!r}: publish it in the camera optical "
                          f"frame or set scale_extrinsic")
        return best[2], ""
