"""sensor_msgs <-> numpy, in one place (the role cv_bridge / depth_image_proc's conversions play in C++).

Reading honours `step` row padding and `is_bigendian` and never copies more than it must
(`np.frombuffer` on `msg.data`). Writing never assigns a numpy array to `msg.data` (the generated
setter iterates element-wise: 40-200 ms); it stores an `array.array('B')` in the message: the
array an `OutputBuffers` view already lives in (no copy), or a single copy of any other array
(see `message_buffers`). Every reader raises `InputError` with a one-line reason for malformed messages.
"""
from __future__ import annotations

import math
import sys

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from ..geometry import DISTORTION_MODELS, cloud_layout, crop_and_bin, has_distortion
from .message_buffers import as_message_data

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

_POINTFIELD_TYPES = {np.dtype(np.float32): PointField.FLOAT32, np.dtype(np.float64): PointField.FLOAT64,
                     np.dtype(np.uint8): PointField.UINT8, np.dtype(np.uint32): PointField.UINT32,
                     np.dtype(np.int32): PointField.INT32, np.dtype(np.uint16): PointField.UINT16}
_POINTFIELD_DTYPES = {v: k for k, v in _POINTFIELD_TYPES.items()} | {PointField.INT8: np.dtype(np.int8),
                                                                     PointField.INT16: np.dtype(np.int16)}


class InputError(ValueError):
    """A malformed input message; `str(exc)` is the one-line reason and `kind` a short category."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


# ------------------------------------------------------------------------------------------- Image


def image_to_numpy(msg: Image) -> np.ndarray:
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


def image_msg_to_rgb(msg: Image, max_pixels: int = 0) -> np.ndarray:
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


def compressed_msg_to_rgb(msg: CompressedImage, max_pixels: int = 0) -> np.ndarray:
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


MIN_FOCAL_PX = 1.0  # a focal length under one pixel is a corrupt calibration (field of view near 180 degrees)


def camera_info_K(msg: CameraInfo) -> np.ndarray:
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


def camera_info_distortion(msg: CameraInfo, K: np.ndarray) -> tuple[str, np.ndarray]:
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


def pointcloud2_to_numpy(msg: PointCloud2) -> dict[str, np.ndarray]:
    """PointCloud2 -> {field name: (height, width) array}, honouring offsets, row_step and byte order."""
    h, w, ps, rs = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    if len(msg.data) < h * rs or rs < w * ps:
        raise InputError("data", f"PointCloud2 data {len(msg.data)} bytes too short for {h}x{w} (row_step {rs})")
    raw = np.frombuffer(msg.data, np.uint8, count=h * rs).reshape(h, rs)[:, : w * ps].reshape(h, w, ps)
    out = {}
    for f in msg.fields:
        dt = _POINTFIELD_DTYPES[f.datatype].newbyteorder(">" if msg.is_bigendian else "<")
        col = np.ascontiguousarray(raw[:, :, f.offset: f.offset + dt.itemsize]).view(dt)[..., 0]
        out[f.name] = col.astype(dt.newbyteorder("="))
    return out


def stamp_to_seconds(stamp) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(t: float, stamp) -> None:
    """Write float seconds into a builtin_interfaces/Time in place."""
    sec = math.floor(t)
    stamp.sec, stamp.nanosec = int(sec), min(int(round((t - sec) * 1e9)), 999_999_999)
