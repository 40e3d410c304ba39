"""The per-frame path of the node without rclpy: input message -> output messages.

`DepthPipeline.process(msg, camera)` decodes the image, runs the estimator's preprocessing and
engine, resizes the output to the output size, applies the depth semantics (NaN outside
[min_depth, max_depth]) and fills every output message with the input header. Everything that
depends only on the camera (scaled K/P, pixel rays) is computed once per (CameraInfo, size) and reused.
Each output is computed straight into the memory its message will carry (`OutputBuffers`): the
resize writes into depth/image's data, the cloud into depth/points', the preview into depth/colored's.
The node publishes what this returns; the benchmark times it with the forward pass stubbed out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..depth_io import metres_to_uint16
from ..geometry import RayCache, backproject, colorize, pack_rgb_float, scale_intrinsics, set_invalid_nan
from . import conversions as conv
from .message_buffers import OutputBuffers
from .params import NodeConfig, scale_config, validate_for_model

PREVIEW_SAMPLE_STEP = 8  # the per-frame colour range comes from every 8th pixel of every 8th row


@dataclass
class CameraModel:
    """A validated CameraInfo: K and P of the image the camera delivers (region of interest and binning
    applied), that image's size (H, W), and the distortion."""

    msg: CameraInfo
    K: np.ndarray
    P: np.ndarray
    size: tuple[int, int]
    model: str
    D: np.ndarray

    @classmethod
    def from_msg(cls, msg: CameraInfo) -> "CameraModel":
        """InputError (one line) for a CameraInfo the node cannot use."""
        K = conv.camera_info_K(msg)
        model, D = conv.camera_info_distortion(msg, K)
        Kd, Pd, size = conv.camera_info_delivered(msg, K, conv.camera_info_P(msg, K))
        return cls(msg, Kd, Pd, size, model, D)


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
    missing_scale: str = ""  # relative model with a scale source, no metric depth this frame: why


class DepthPipeline:
    """Decode, infer, postprocess and fill messages for one frame (see module docstring)."""

    def __init__(self, estimator, cfg: NodeConfig):
        self.estimator = estimator
        self.cfg = cfg
        self.kind = estimator.kind
        self.min_depth, self.max_depth = validate_for_model(cfg, self.kind, estimator.max_depth)
        # metric output: metric models, or relative models with a configured scale or a scale source
        self.metric = self.kind == "metric" or cfg.relative_scale > 0 or cfg.scale_source != "none"
        # focal rule and metric anchors (depth_anything_ros/scale)
        from ..scale import ScaleStage

        self.scale = ScaleStage(self.kind, getattr(estimator.meta, "training_focal", None), scale_config(cfg))
        self.outputs = self._enabled_outputs()
        self.rays = RayCache()
        self.buffers = OutputBuffers()
        self._scaled: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _enabled_outputs(self) -> frozenset[str]:
        """Names of the outputs this configuration publishes (FrameOutputs fields)."""
        cfg = self.cfg
        names = {"depth", "camera_info"} if self.metric else {"relative"}
        if self.kind == "relative" and cfg.scale_source != "none":
            names.add("relative")  # the raw output keeps flowing while no fit is held
        if self.metric and cfg.publish_depth_mm:
            names.add("depth_mm")
        if self.metric and cfg.publish_points:
            names.add("points")
        if cfg.publish_colored:
            names.add("colored")
        return frozenset(names)

    # ----------------------------------------------------------------------------------- stages

    def decode(self, msg) -> np.ndarray:
        """Image or CompressedImage -> RGB uint8 (H, W, 3); InputError for bad input."""
        if isinstance(msg, CompressedImage):
            return conv.compressed_msg_to_rgb(msg, self.cfg.max_input_pixels)
        return conv.image_msg_to_rgb(msg, self.cfg.max_input_pixels)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        s = self.cfg.output_scale
        if s == 1.0:
            return height, width
        return max(1, int(round(height * s))), max(1, int(round(width * s)))

    def infer(self, rgb: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
        """Raw model output (metres or inverse depth) at `out_size`, in the memory of the first output message."""
        values = self.buffers.array("depth" if self.metric else "relative", out_size, np.float32)
        return self.estimator.predict(rgb, out_size, out=values)

    def to_depth(self, values: np.ndarray, numerator: float | None = None) -> np.ndarray:
        """Model output -> metres with NaN for invalid, in place (metric output only); returns the uint8 valid mask.

        Relative models: depth = numerator / values (numerator: relative_scale, or 1 once the anchor fit
        has made `values` metric inverse depth)."""
        if self.kind == "relative":
            positive = values > 0
            num = self.cfg.relative_scale if numerator is None else numerator
            np.divide(np.float32(num), values, out=values, where=positive)
            values[~positive] = np.nan
        return set_invalid_nan(values, self.min_depth, self.max_depth)

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

    def preview(self, values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """bgr8 colormap: near = warm. Fixed range from the parameters or per-frame 2..98 percentiles."""
        lo, hi = self.cfg.colored_min, self.cfg.colored_max
        if not hi:
            lo, hi = _robust_range(values[::PREVIEW_SAMPLE_STEP, ::PREVIEW_SAMPLE_STEP])
        out = self.buffers.array("colored", values.shape + (3,), np.uint8)
        return colorize(values, valid, inverse=self.metric, vmin=lo, vmax=max(hi, lo + 1e-6), out=out)

    def millimetres(self, depth: np.ndarray) -> np.ndarray:
        """16UC1 millimetres, 0 = invalid (NaN, or too far for uint16: never clipped to a wrong range)."""
        return metres_to_uint16(depth, out=self.buffers.array("depth_mm", depth.shape, np.uint16))

    def cloud(self, depth: np.ndarray, rgb: np.ndarray, K: np.ndarray, camera: CameraModel | None = None
              ) -> np.ndarray:
        """Organized float32 (h, w, 3|4) points at the configured stride, xyz (+ packed rgb); the rays
        undistort with the camera's distortion (none without a camera)."""
        cfg, s = self.cfg, self.cfg.points_stride
        oh, ow = depth.shape
        rays = (self.rays.get(K, oh, ow, s, camera.D, camera.model) if camera is not None
                else self.rays.get(K, oh, ow, s))
        extra = None
        if cfg.points_rgb:
            colour = rgb if (oh, ow) == rgb.shape[:2] else _resize_rgb(rgb, oh, ow)
            extra = pack_rgb_float(colour, s)
        out = self.buffers.array("points", rays[0].shape + (4 if extra is not None else 3,), np.float32)
        return backproject(depth, rays, s, extra, out=out)

    # ------------------------------------------------------------------------------------ frame

    def process(self, msg, camera: CameraModel | None, wanted=None, anchors=None) -> FrameOutputs:
        """All output messages for one input message (InputError for bad input).

        `wanted`: the output names to make (e.g. those with subscribers); None = every enabled output.
        `anchors`: (AnchorInput or None, why none) for this frame from `ScaleInputs.match`.
        """
        rgb = self.decode(msg)
        values = self.infer(rgb, self.output_size(*rgb.shape[:2]))
        return self.fill(values, rgb, msg.header, camera, wanted, anchors)

    def apply_scale(self, values: np.ndarray, rgb: np.ndarray, header, camera: CameraModel | None,
                    anchors, want, out: FrameOutputs) -> float | None:
        """focal rule and anchor fit, in place. Returns the `to_depth` numerator for relative
        models (1 with a held fit, relative_scale without) and None when there is no metric depth."""
        K_in = K_out = lens = None
        in_size = rgb.shape[:2]
        if camera is not None and camera.size == in_size:
            K_in, lens = camera.K, (camera.model, camera.D)
            K_out = self.scaled_camera(camera, values.shape)[0]
        if self.kind == "relative" and "relative" in want:
            raw = self.buffers.array("relative", values.shape, np.float32)
            np.copyto(raw, values)
            out.relative = conv.numpy_to_image(raw, "32FC1", header)
        inp, missing = anchors if anchors is not None else (None, "")
        net = self.estimator.preprocessor.size_for(*in_size) if self.kind == "metric" else None
        stamp = conv.stamp_to_seconds(header.stamp)
        metric = self.scale.apply(values, stamp, K_out, K_in, in_size, net, inp, missing, lens)
        if self.kind == "metric" or metric:
            return 1.0
        if self.cfg.relative_scale > 0:
            return self.cfg.relative_scale
        out.missing_scale = self.scale.status.reason or "no metric scale yet"
        return None

    def fill(self, values: np.ndarray, rgb: np.ndarray, header, camera: CameraModel | None,
             wanted=None, anchors=None) -> FrameOutputs:
        """Output messages from the model output at the output size (everything after the forward pass).

        `values` is turned into depth in place and carried by depth/image (or depth/relative): give
        the array `infer` returns, so that no output is copied.
        """
        want = self.outputs if wanted is None else self.outputs & frozenset(wanted)
        out = FrameOutputs()
        oh, ow = values.shape
        if not self.metric:
            if "relative" in want:
                out.relative = conv.numpy_to_image(values, "32FC1", header)
            if "colored" in want:
                out.colored = conv.numpy_to_image(self.preview(values), "bgr8", header)
            return out
        numerator = self.apply_scale(values, rgb, header, camera, anchors, want, out)
        if numerator is None:
            return out
        valid = self.to_depth(values, numerator)
        if "depth" in want:
            out.depth = conv.numpy_to_image(values, "32FC1", header)
        if "depth_mm" in want:
            out.depth_mm = conv.numpy_to_image(self.millimetres(values), "16UC1", header)
        if "colored" in want:
            out.colored = conv.numpy_to_image(self.preview(values, valid), "bgr8", header)
        if camera is None:
            out.missing_camera_info = "no valid camera_info received yet"
            return out
        if camera.size != rgb.shape[:2]:
            out.missing_camera_info = (f"camera_info is for {camera.size[1]}x{camera.size[0]}, "
                                       f"image is {rgb.shape[1]}x{rgb.shape[0]}")
            return out
        K, P = self.scaled_camera(camera, (oh, ow))
        if "camera_info" in want:
            out.camera_info = conv.scaled_camera_info(camera.msg, K, P, (oh, ow), header)
        if "points" in want:
            out.points = conv.pointcloud2_message(self.cloud(values, rgb, K, camera), header, self.cfg.points_rgb)
        return out


def _robust_range(sample: np.ndarray) -> tuple[float, float]:
    """2nd and 98th percentile (nearest rank) of the finite values; (0, 1) when there are none.
    One partition instead of np.percentile: this runs on every frame."""
    sample = sample[np.isfinite(sample)]
    if not sample.size:
        return 0.0, 1.0
    ranks = (int(0.02 * (sample.size - 1) + 0.5), int(0.98 * (sample.size - 1) + 0.5))
    part = np.partition(sample, ranks)
    return float(part[ranks[0]]), float(part[ranks[1]])


def _resize_rgb(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if height < rgb.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=interp)
