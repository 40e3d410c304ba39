"""sensor_msgs message contents -> numpy, without ROS: the one reading rule for the node (rclpy messages) and
the rosbag reader and calibration (`rosbags` messages), which have the same fields.

Reading honours `step` / `row_step` padding and `is_bigendian` and copies no more than it must
(`np.frombuffer` on `msg.data`). Every reader raises `InputError` with a one-line reason for a malformed
message. Building messages needs rclpy's types and lives in `ros/conversions.py`.
"""
from __future__ import annotations

import sys

import cv2
import numpy as np

from .depth_io import uint16_to_metres
from .geometry import DISTORTION_MODELS, has_distortion

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[type, int]] = {
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "rgba8": (np.uint8, 4),
    "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1),
    "8UC1": (np.uint8, 1),
    "8UC3": (np.uint8, 3),
    "mono16": (np.uint16, 1),
    "16UC1": (np.uint16, 1),
    "32FC1": (np.float32, 1),
}
# encodings the node accepts as a camera image (colour, grey, and 32FC1 grey in [0, 1])
INPUT_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "32FC1")
MIN_IMAGE_SIDE = 4
HOST_BIGENDIAN = sys.byteorder == "big"
# sensor_msgs/PointField datatype constants (the message definition: INT8 = 1 ... FLOAT64 = 8)
POINTFIELD_DTYPES: dict[int, np.dtype] = {i + 1: np.dtype(t) for i, t in enumerate(
    (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.float32, np.float64))}


class InputError(ValueError):
    """A malformed input message; `str(exc)` is the one-line reason and `kind` a short category."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


def image_to_numpy(msg) -> np.ndarray:
    """Image -> (H, W) or (H, W, C) array view in native byte order (read-only unless swapped).

    Checks: known encoding, non-empty, `step` >= width × bytes per pixel, enough data for height × step.
    """
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise InputError("encoding", f"unsupported encoding {enc!r} (supported: {', '.join(ENCODINGS)})")
    dtype, ch = ENCODINGS[enc]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h < 1 or w < 1:
        raise InputError("empty", f"image {w}x{h} is empty")
    row_bytes = w * ch * dt.itemsize
    if step < row_bytes:
        raise InputError("step", f"step {step} < width x bytes per pixel = {row_bytes} ({w}x{h} {enc})")
    if len(msg.data) < h * step:
        raise InputError("data", f"data has {len(msg.data)} bytes, height x step needs {h * step} ({w}x{h} {enc})")
    rows = np.frombuffer(msg.data, np.uint8, count=h * step).reshape(h, step)
    arr = rows[:, :row_bytes].view(dt).reshape(h, w, ch)  # zero-copy; padding sliced off
    if dt.byteorder not in ("=", "|") and (dt.byteorder == ">") != HOST_BIGENDIAN:
        arr = arr.astype(dt.newbyteorder("="))  # one swap copy for foreign byte order
    return arr[..., 0] if ch == 1 else arr


def to_rgb8(arr: np.ndarray, encoding: str) -> np.ndarray:
    """A decoded image array of `encoding` -> RGB uint8 (H, W, 3) for the network (a view when possible).

    mono16 keeps its top 8 bits (the cv_bridge convention); 32FC1 is grey in [0, 1] and must be finite.
    """
    if encoding == "rgb8":
        return arr
    if encoding == "bgr8":
        return arr[..., ::-1]
    if encoding == "rgba8":
        return arr[..., :3]
    if encoding == "bgra8":
        return arr[..., 2::-1]
    if encoding == "mono8":
        grey = arr
    elif encoding == "mono16":
        grey = (arr >> 8).astype(np.uint8)
    elif encoding == "32FC1":
        if not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise InputError("nonfinite", f"32FC1 image has {bad} NaN/Inf pixels")
        grey = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
    else:
        raise InputError("encoding", f"encoding {encoding!r} is not a camera image "
                                     f"(expected one of {', '.join(INPUT_ENCODINGS)})")
    return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2RGB)


def check_pixel_budget(width: int, height: int, max_pixels: int, what: str) -> None:
    """InputError when an image of width x height exceeds `max_pixels` (0 = no limit)."""
    if max_pixels and width * height > max_pixels:
        raise InputError("too_large", f"{what} {width}x{height} has {width * height} pixels, over "
                                      f"max_input_pixels {max_pixels}")


def image_msg_to_rgb(msg, max_pixels: int = 0) -> np.ndarray:
    """A camera Image -> RGB uint8 (H, W, 3), or InputError (also for more than `max_pixels` pixels)."""
    check_pixel_budget(int(msg.width), int(msg.height), max_pixels, "image")
    if msg.encoding not in INPUT_ENCODINGS:
        what = "is not a camera image" if msg.encoding in ENCODINGS else "is not supported"
        raise InputError("encoding", f"encoding {msg.encoding!r} {what} (expected one of {', '.join(INPUT_ENCODINGS)})")
    if 0 < min(msg.height, msg.width) < MIN_IMAGE_SIDE:  # 0 sides: image_to_numpy says "empty"
        raise InputError("size", f"image {msg.width}x{msg.height} is too small (each side must be >= {MIN_IMAGE_SIDE})")
    return to_rgb8(image_to_numpy(msg), msg.encoding)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"


def compressed_size(data) -> tuple[str, int, int]:
    """("jpeg" | "png", width, height) from the header alone, or InputError (neither format, bad header).

    PNG: the IHDR chunk must come first, at a fixed offset (PNG spec, 5.2-5.3 and 11.2.2), so its
    width and height are read here directly; JPEG: libjpeg-turbo's header parser (simplejpeg)."""
    head = bytes(data[:24])
    if head.startswith(PNG_SIGNATURE):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise InputError("decode", "PNG without an IHDR header")
        return "png", int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head.startswith(JPEG_SOI):
        import simplejpeg

        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError as exc:
            raise InputError("decode", f"JPEG header unreadable: {exc}") from None
        return "jpeg", int(w), int(h)
    raise InputError("decode", f"CompressedImage data is neither JPEG nor PNG (starts with {head[:4].hex()})")


def compressed_msg_to_rgb(msg, max_pixels: int = 0) -> np.ndarray:
    """CompressedImage (JPEG or PNG; any `format` string) -> RGB uint8 (H, W, 3), or InputError.

    The size is checked against `max_pixels` from the header, before anything is decoded. JPEG is decoded
    strictly (libjpeg-turbo's recoverable errors, e.g. truncated or corrupt entropy data, are errors: OpenCV
    would only warn and return a damaged image). EXIF orientation is ignored: the pixel grid is the camera's,
    and CameraInfo describes that grid."""
    data = msg.data
    if len(data) == 0:
        raise InputError("data", f"empty CompressedImage (format {msg.format!r})")
    kind, w, h = compressed_size(data)
    check_pixel_budget(w, h, max_pixels, f"{kind.upper()} image")
    if min(w, h) < MIN_IMAGE_SIDE:
        raise InputError("size", f"{kind.upper()} image {w}x{h} is too small")
    if kind == "jpeg":
        import simplejpeg

        try:
            rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        except ValueError as exc:
            raise InputError("decode", f"corrupt JPEG ({len(data)} bytes): {exc}") from None
        return rgb
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise InputError("decode", f"cannot decode {len(data)} bytes of PNG (format {msg.format!r})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


MIN_FOCAL_PX = 1.0  # a focal length under one pixel is a corrupt calibration (field of view near 180 degrees)


def camera_info_K(msg) -> np.ndarray:
    """The 3x3 K of a CameraInfo (full sensor), or InputError when it cannot be used (zeros, NaN, no size)."""
    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not np.isfinite(K).all():
        raise InputError("camera_info", "CameraInfo K has NaN/Inf entries")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0 or K[2, 2] != 1.0 or K[1, 0] or K[2, 0] or K[2, 1]:
        raise InputError("camera_info", f"CameraInfo K is not a calibrated pinhole matrix (fx={fx:g}, fy={fy:g}, "
                                        f"k[8]={K[2, 2]:g}); zeros mean an uncalibrated camera")
    if fx < MIN_FOCAL_PX or fy < MIN_FOCAL_PX:
        raise InputError("camera_info", f"CameraInfo focal length fx={fx:g}, fy={fy:g} px is below {MIN_FOCAL_PX:g} px")
    if msg.width <= 0 or msg.height <= 0:
        raise InputError("camera_info", f"CameraInfo has no image size ({msg.width}x{msg.height})")
    if not (0 <= cx <= msg.width and 0 <= cy <= msg.height):
        raise InputError("camera_info", f"CameraInfo principal point ({cx:g}, {cy:g}) lies outside its "
                                        f"{msg.width}x{msg.height} image")
    return K


def camera_info_distortion(msg, K: np.ndarray) -> tuple[str, np.ndarray]:
    """(distortion_model, D) the rays can undistort, or InputError naming what is not supported.

    An empty model name is accepted only without distortion (all-zero or empty D)."""
    D = np.asarray(msg.d, dtype=np.float64).ravel()
    model = msg.distortion_model
    if not np.isfinite(D).all():
        raise InputError("camera_info", "CameraInfo D has NaN/Inf entries")
    if model == "" and not has_distortion(D):
        return model, D
    if model not in DISTORTION_MODELS:
        raise InputError("camera_info_model", f"CameraInfo distortion model {model!r} is not supported "
                                              f"(supported: {', '.join(DISTORTION_MODELS)})")
    if D.size not in DISTORTION_MODELS[model] and has_distortion(D):
        raise InputError("camera_info", f"CameraInfo D has {D.size} coefficients; {model} takes "
                                        f"{' or '.join(map(str, DISTORTION_MODELS[model]))}")
    if K[0, 1] != 0.0 and has_distortion(D):
        raise InputError("camera_info", f"CameraInfo K has skew {K[0, 1]:g} together with {model} distortion; "
                                        "OpenCV's undistortion has no skew term")
    return model, D


def pointcloud2_to_numpy(msg) -> dict[str, np.ndarray]:
    """PointCloud2 -> {field name: (height, width) array}, honouring offsets, row_step and byte order."""
    h, w, ps, rs = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    if len(msg.data) < h * rs or rs < w * ps:
        raise InputError("data", f"PointCloud2 data {len(msg.data)} bytes too short for {h}x{w} (row_step {rs})")
    raw = np.frombuffer(msg.data, np.uint8, count=h * rs).reshape(h, rs)[:, : w * ps].reshape(h, w, ps)
    out = {}
    for f in msg.fields:
        dt = POINTFIELD_DTYPES[f.datatype].newbyteorder(">" if msg.is_bigendian else "<")
        col = np.ascontiguousarray(raw[:, :, f.offset: f.offset + dt.itemsize]).view(dt)[..., 0]
        out[f.name] = col.astype(dt.newbyteorder("="))
    return out


def stamp_to_seconds(stamp) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def camera_msg_to_rgb(msg, max_pixels: int = 0) -> np.ndarray:
    """A camera Image or CompressedImage (told apart by its `format` field) -> RGB uint8 (H, W, 3)."""
    if hasattr(msg, "format"):
        return compressed_msg_to_rgb(msg, max_pixels)
    return image_msg_to_rgb(msg, max_pixels)


DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")


def depth_msg_to_metres(msg, what: str = "depth image") -> np.ndarray:
    """16UC1 / mono16 (mm, 0 = hole) or 32FC1 (m) Image -> float32 metres with NaN for holes."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise InputError("depth_encoding", f"{what} encoding {msg.encoding!r}: expected 16UC1 (mm) or 32FC1 (m)")
    arr = image_to_numpy(msg)
    if arr.dtype == np.uint16:
        d, valid = uint16_to_metres(arr)  # the 16UC1 rule: millimetres, 0 = no depth
        d[~valid] = np.nan
        return d
    d = np.array(arr, np.float32)
    d[~np.isfinite(d) | (d <= 0)] = np.nan
    return d


def cloud_msg_to_xyz(msg, what: str = "PointCloud2") -> np.ndarray:
    """PointCloud2 with x, y, z fields -> (N, 3) float64 points (NaN/Inf kept: callers drop them)."""
    names = {f.name for f in msg.fields}
    if not {"x", "y", "z"} <= names:
        raise InputError("cloud_fields", f"{what} has fields {sorted(names)}; x, y, z are needed")
    if int(msg.width) * int(msg.height) == 0:
        return np.zeros((0, 3))
    f = pointcloud2_to_numpy(msg)
    return np.stack([f["x"].ravel(), f["y"].ravel(), f["z"].ravel()], 1).astype(np.float64)
