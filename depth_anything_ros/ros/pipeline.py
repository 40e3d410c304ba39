"""The per-frame path of the node without rclpy: input message -> output messages.

`DepthPipeline.process(msg, camera)` decodes the image, runs the estimator's preprocessing and
engine, resizes the output to the output size, applies the depth semantics (NaN outside
[min_depth, max_depth]) and fills every output message with the input header. Everything that
depends only on the camera (scaled K/P, pixel rays) is computed once per (CameraInfo, size) and reused.
The node publishes what this returns; the benchmark times it with the forward pass stubbed out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..geometry import RayCache, backproject, colorize, mask_invalid, pack_rgb_float, scale_intrinsics
from . import conversions as conv
from .params import NodeConfig, validate_for_model


@dataclass
class CameraModel:
    """A validated CameraInfo with its K and P as arrays."""

    msg: CameraInfo
    K: np.ndarray
    P: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.msg.height), int(self.msg.width)

    @classmethod
    def from_msg(cls, msg: CameraInfo) -> "CameraModel":
        K = conv.camera_info_K(msg)
        return cls(msg, K, conv.camera_info_P(msg, K))


@dataclass
class FrameOutputs:
    """Messages for one frame; None where an output is off or not available for this frame."""

    depth: Image | None = None  # depth/image, 32FC1 metres
    depth_mm: Image | None = None  # depth/image_mm, 16UC1 millimetres (0 = invalid)
    relative: Image | None = None  # depth/relative, 32FC1 unitless inverse depth
    camera_info: CameraInfo | None = None  # depth/camera_info
    points: object | None = None  # depth/points, PointCloud2
    colored: Image | None = None  # depth/colored, bgr8
    missing_camera_info: str = ""  # why camera_info/points were not produced


class DepthPipeline:
    """Decode, infer, postprocess and fill messages for one frame (see module docstring)."""

    def __init__(self, estimator, cfg: NodeConfig):
        self.estimator = estimator
        self.cfg = cfg
        self.kind = estimator.kind
        self.min_depth, self.max_depth = validate_for_model(cfg, self.kind, estimator.max_depth)
        # metric output: metric models, or relative models with a configured scale
        self.metric = self.kind == "metric" or cfg.relative_scale > 0
        self.rays = RayCache()
        self._scaled: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    # ----------------------------------------------------------------------------------- stages

    def decode(self, msg) -> np.ndarray:
        """Image or CompressedImage -> RGB uint8 (H, W, 3); InputError for bad input."""
        if isinstance(msg, CompressedImage):
            return conv.compressed_msg_to_rgb(msg)
        return conv.image_msg_to_rgb(msg)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        s = self.cfg.output_scale
        if s == 1.0:
            return height, width
        return max(1, int(round(height * s))), max(1, int(round(width * s)))

    def infer(self, rgb: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
        """Raw model output (metres or inverse depth) resized to `out_size`."""
        return self.estimator.predict(rgb, out_size)

    def to_depth(self, raw: np.ndarray) -> np.ndarray:
        """Model output -> float32 metres with NaN for invalid (metric output only)."""
        if self.kind == "relative":
            with np.errstate(divide="ignore", invalid="ignore"):
                raw = np.where(raw > 0, np.float32(self.cfg.relative_scale) / raw, np.float32(np.nan))
        return mask_invalid(raw, self.min_depth, self.max_depth)

    def scaled_camera(self, camera: CameraModel, out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(K, P) of the output image, cached per (CameraInfo values, output size)."""
        key = (camera.K.tobytes(), camera.P.tobytes(), camera.size, out_size)
        hit = self._scaled.get(key)
        if hit is None:
            hit = (scale_intrinsics(camera.K, camera.size, out_size), scale_intrinsics(camera.P, camera.size, out_size))
            if len(self._scaled) >= 4:
                self._scaled.pop(next(iter(self._scaled)))
            self._scaled[key] = hit
        return hit

    def preview(self, values: np.ndarray) -> np.ndarray:
        """bgr8 colormap: near = warm. Fixed range from the parameters or per-frame 2..98 percentiles."""
        lo, hi = self.cfg.colored_min, self.cfg.colored_max
        if not hi:
            sample = values[::4, ::4]
            sample = sample[np.isfinite(sample)]
            if sample.size:
                lo, hi = (float(v) for v in np.percentile(sample, (2, 98)))
            else:
                lo, hi = 0.0, 1.0
        return colorize(values, inverse=self.metric, vmin=lo, vmax=max(hi, lo + 1e-6))

    # ------------------------------------------------------------------------------------ frame

    def process(self, msg, camera: CameraModel | None) -> FrameOutputs:
        """All output messages for one input message (InputError for bad input)."""
        rgb = self.decode(msg)
        h, w = rgb.shape[:2]
        out_size = self.output_size(h, w)
        raw = self.infer(rgb, out_size)
        return self.fill(raw, rgb, msg.header, camera)

    def fill(self, raw: np.ndarray, rgb: np.ndarray, header, camera: CameraModel | None) -> FrameOutputs:
        """Output messages from the resized model output (everything after the forward pass)."""
        cfg = self.cfg
        out = FrameOutputs()
        oh, ow = raw.shape
        if not self.metric:
            out.relative = conv.numpy_to_image(raw, "32FC1", header)
            if cfg.publish_colored:
                out.colored = conv.numpy_to_image(self.preview(raw), "bgr8", header)
            return out
        depth = self.to_depth(raw)
        out.depth = conv.numpy_to_image(depth, "32FC1", header)
        if cfg.publish_depth_mm:
            mm = np.nan_to_num(depth * 1000.0 + 0.5, nan=0.0, posinf=0.0)
            mm[mm >= 65536.0] = 0.0  # not representable: invalid (0), never clipped to a wrong range
            out.depth_mm = conv.numpy_to_image(mm.astype(np.uint16), "16UC1", header)
        if cfg.publish_colored:
            out.colored = conv.numpy_to_image(self.preview(depth), "bgr8", header)
        if camera is None:
            out.missing_camera_info = "no valid camera_info received yet"
            return out
        if camera.size != rgb.shape[:2]:
            out.missing_camera_info = (f"camera_info is for {camera.size[1]}x{camera.size[0]}, "
                                       f"image is {rgb.shape[1]}x{rgb.shape[0]}")
            return out
        K, P = self.scaled_camera(camera, (oh, ow))
        out.camera_info = conv.scaled_camera_info(camera.msg, K, P, (oh, ow), header)
        if cfg.publish_points:
            s = cfg.points_stride
            rays = self.rays.get(K, oh, ow, s)
            extra = None
            if cfg.points_rgb:
                colour = rgb if (oh, ow) == rgb.shape[:2] else _resize_rgb(rgb, oh, ow)
                extra = pack_rgb_float(colour, s)
            pts = backproject(depth, rays, s, extra)
            out.points = conv.pointcloud2_message(pts, header, cfg.points_rgb)
        return out


def _resize_rgb(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if height < rgb.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=interp)
