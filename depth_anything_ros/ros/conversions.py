"""sensor_msgs <-> numpy for the node, in one place (the role cv_bridge / depth_image_proc's conversions play
in C++). Reading is ROS-free and lives in `depth_anything_ros.messages` (the rosbag reader uses the same
rule); its functions are imported here so that the node has one module to call.

Writing never assigns a numpy array to `msg.data` (the generated setter iterates element-wise:
40-200 ms); it stores an `array.array('B')` in the message: the array an `OutputBuffers` view already
lives in (no copy), or a single copy of any other array (see `message_buffers`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from ..geometry import cloud_layout, crop_and_bin
from ..messages import (ENCODINGS, HOST_BIGENDIAN, INPUT_ENCODINGS, MIN_IMAGE_SIDE, InputError,  # noqa: F401
                        camera_info_K, camera_info_distortion, compressed_msg_to_rgb, image_msg_to_rgb, image_to_numpy,
                        pointcloud2_to_numpy, stamp_to_seconds)
from .message_buffers import as_message_data

_POINTFIELD_TYPES = {np.dtype(np.float32): PointField.FLOAT32, np.dtype(np.float64): PointField.FLOAT64,
                     np.dtype(np.uint8): PointField.UINT8, np.dtype(np.uint32): PointField.UINT32,
                     np.dtype(np.int32): PointField.INT32, np.dtype(np.uint16): PointField.UINT16}


# ------------------------------------------------------------------------------------------- Image


def _set_data(msg, arr: np.ndarray) -> None:
    # The generated `data` setter copies whatever it gets (`array.array('B', value)`); the slot takes the
    # array as it is, which is what lets an OutputBuffers array reach rclpy without a copy.
    msg._data = as_message_data(arr)


def numpy_to_image(arr: np.ndarray, encoding: str, header=None) -> Image:
    """(H, W[, C]) array -> Image (native byte order, no padding). Shares the memory of an
    `OutputBuffers` array (no copy); copies any other array once."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}")
    dtype, ch = ENCODINGS[encoding]
    arr = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("="))
    if arr.ndim != (2 if ch == 1 else 3) or (ch > 1 and arr.shape[2] != ch):
        raise ValueError(f"array of shape {arr.shape} does not fit encoding {encoding}")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(HOST_BIGENDIAN)
    msg.step = int(arr.strides[0])
    _set_data(msg, arr)
    return msg


def encode_compressed(rgb: np.ndarray, fmt: str = "jpeg", header=None, quality: int = 90) -> CompressedImage:
    """RGB uint8 -> CompressedImage (image_transport's `format` string, e.g. "rgb8; jpeg compressed bgr8")."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ext, params = (".png", []) if fmt == "png" else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality])
    ok, data = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ValueError("image encoding failed")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = f"rgb8; {fmt} compressed bgr8"
    _set_data(msg, data)
    return msg


# -------------------------------------------------------------------------------------- CameraInfo


def camera_info_delivered(msg: CameraInfo, K: np.ndarray, P: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(K, P, (H, W)) of the image the camera delivers: the calibration (full sensor) with the message's region
    of interest and binning applied (REP 104; all-zero roi = the full image, binning 0 = 1)."""
    bx, by = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    roi = msg.roi
    full = roi.width == 0 or roi.height == 0
    x0, y0 = (0, 0) if full else (int(roi.x_offset), int(roi.y_offset))
    rw, rh = (int(msg.width), int(msg.height)) if full else (int(roi.width), int(roi.height))
    if x0 + rw > msg.width or y0 + rh > msg.height:
        raise InputError("camera_info", f"CameraInfo roi {rw}x{rh}+{x0}+{y0} lies outside its "
                                        f"{msg.width}x{msg.height} image")
    h, w = rh // by, rw // bx
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError("camera_info", f"CameraInfo binning {bx}x{by} of a {rw}x{rh} region leaves {w}x{h} pixels")
    if (bx, by, x0, y0, rw, rh) == (1, 1, 0, 0, msg.width, msg.height):
        return K, P, (h, w)
    return crop_and_bin(K, x0, y0, bx, by), crop_and_bin(P, x0, y0, bx, by), (h, w)


def scaled_camera_info(src: CameraInfo, K: np.ndarray, P: np.ndarray, size: tuple[int, int], header) -> CameraInfo:
    """The CameraInfo of an image of `size` (H, W) whose K (3x3) and P (3x4) are given: it describes exactly
    that image (no binning, no region of interest; the distortion of `src`, which does not depend on scale)."""
    out = CameraInfo()
    out.header = header
    out.height, out.width = int(size[0]), int(size[1])
    out.distortion_model = src.distortion_model
    out.d = src.d  # the setters copy
    out.k = np.asarray(K, dtype=np.float64).ravel()
    out.r = src.r
    out.p = np.asarray(P, dtype=np.float64).ravel()
    return out


def camera_info_P(msg: CameraInfo, K: np.ndarray) -> np.ndarray:
    """The 3x4 P, or [K | 0] when the message leaves P empty/zero (monocular default)."""
    P = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)
    if not np.isfinite(P).all() or P[0, 0] <= 0 or P[1, 1] <= 0:
        P = np.zeros((3, 4))
        P[:, :3] = K
    return P


# ------------------------------------------------------------------------------------- PointCloud2


def pointcloud2_message(points: np.ndarray, header, with_rgb: bool) -> PointCloud2:
    """float32 (h, w, 3|4) points (NaN = invalid) -> organized PointCloud2 (xyz or xyz + packed rgb).
    Shares the memory of an `OutputBuffers` array, like `numpy_to_image`."""
    fields, point_step = cloud_layout(with_rgb)
    if points.dtype != np.float32 or points.ndim != 3 or points.shape[2] != len(fields):
        raise ValueError(f"points must be float32 (h, w, {len(fields)}), got {points.dtype} {points.shape}")
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = int(points.shape[0]), int(points.shape[1])
    msg.fields = [PointField(name=n, offset=o, datatype=_POINTFIELD_TYPES[np.dtype(t)], count=1)
                  for n, o, t in fields]
    msg.is_bigendian = HOST_BIGENDIAN
    msg.point_step = point_step
    msg.row_step = point_step * msg.width
    msg.is_dense = False  # organized, with NaN for invalid points
    _set_data(msg, points)
    return msg


def seconds_to_stamp(t: float, stamp) -> None:
    """Write float seconds into a builtin_interfaces/Time in place."""
    sec = math.floor(t)
    stamp.sec, stamp.nanosec = int(sec), min(int(round((t - sec) * 1e9)), 999_999_999)
