"""Metric anchors: (u, v) pixels of the output image with a metric planar depth z, from a metric sensor.

Sources (`AnchorInput.kind`):
  depth   an aligned metric depth image (same camera as the RGB image, any resolution; NaN/0 = hole);
  points  3-D points already in the camera optical frame (x right, y down, z forward), e.g. a LiDAR
          cloud moved by the fixed extrinsic;
  range   one distance along the beam through one pixel (a rangefinder; default the image centre);
  ground  no message: the floor plane `ground_height` metres below the camera, pitched down by
          `ground_pitch` radians; the anchors are floor depths below the horizon, and the robust fit
          keeps the pixels the model puts on the floor (obstacles are its outliers).
Each builder returns `Anchors` or raises `AnchorError` with a one-line reason. `lens` is the camera's
(distortion_model, D) from its CameraInfo (None or zero D: pinhole); points are projected and pixels turned
into rays through it (`geometry.project_points` / `undistort_pixels`, OpenCV's camera models), so that a
wide-angle lens puts each anchor on the pixel that sees it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..geometry import project_points, undistort_pixels

MAX_ANCHORS = 20000  # more adds cost, not accuracy (subsampled on a fixed grid / fixed seed)


class AnchorError(ValueError):
    """Anchors refused; `str(exc)` is the one-line reason and `kind` a short category for throttled logs."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


@dataclass
class AnchorInput:
    """What one metric sensor gave for one frame (numpy only; the ROS side converts messages to this)."""

    kind: str  # depth | points | range | ground
    depth: np.ndarray | None = None  # depth: (h, w) metres, NaN or <= 0 = hole
    points: np.ndarray | None = None  # points: (N, 3) metres in the camera optical frame
    range: float | None = None  # range: metres along the beam
    range_limits: tuple[float, float] | None = None  # range: (min_range, max_range) of the sensor
    pixel: tuple[float, float] | None = None  # range: (u, v) in input-image pixels; None = centre
    stamp: float = 0.0


@dataclass
class Anchors:
    """Integer pixel coordinates of the output image and the metric planar depth there."""

    u: np.ndarray
    v: np.ndarray
    z: np.ndarray

    def __len__(self) -> int:
        return int(self.z.size)


def _finish(u, v, z, out_size, what: str) -> Anchors:
    oh, ow = out_size
    ui, vi = np.rint(u), np.rint(v)
    ok = np.isfinite(ui) & np.isfinite(vi) & np.isfinite(z) & (z > 0)
    ok &= (ui >= 0) & (ui < ow) & (vi >= 0) & (vi < oh)
    if not ok.any():
        raise AnchorError("no_anchors", f"{what}: no valid anchor falls inside the {ow}x{oh} image")
    ui, vi, z = ui[ok].astype(np.intp), vi[ok].astype(np.intp), np.asarray(z, np.float64)[ok]
    if z.size > MAX_ANCHORS:
        keep = np.random.default_rng(0).choice(z.size, MAX_ANCHORS, replace=False)
        ui, vi, z = ui[keep], vi[keep], z[keep]
    return Anchors(ui, vi, z)


def from_depth_image(depth: np.ndarray, out_size: tuple[int, int]) -> Anchors:
    """Anchors from an aligned metric depth image (holes: NaN, inf, <= 0); pixel centres rescaled to `out_size`."""
    d = np.asarray(depth, np.float64)
    if d.ndim != 2 or d.size == 0:
        raise AnchorError("depth_shape", f"anchor depth image must be 2-D, got shape {d.shape}")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d > 0)
    n = int(ok.sum())
    if n == 0:
        raise AnchorError("no_anchors", "anchor depth image has no valid pixel (all holes, NaN or <= 0)")
    step = max(1, int(np.sqrt(n / MAX_ANCHORS)))  # a regular grid keeps the anchors spread over the image
    if step > 1:
        grid = np.zeros_like(ok)
        grid[::step, ::step] = True
        ok &= grid
    v, u = np.nonzero(ok)
    h, w = d.shape
    oh, ow = out_size
    return _finish((u + 0.5) * ow / w - 0.5, (v + 0.5) * oh / h - 0.5, d[v, u], out_size, "anchor depth image")


def _lens_args(lens) -> tuple:
    return () if lens is None else (lens[1], lens[0])  # an empty model comes only with zero D: pinhole


def from_points(points: np.ndarray, K: np.ndarray, out_size: tuple[int, int], min_z: float = 0.05,
                lens=None) -> Anchors:
    """Anchors from (N, 3) points in the camera optical frame, projected through K of the output image and
    the camera's `lens` (points outside its field of view are dropped)."""
    p = np.asarray(points, np.float64).reshape(-1, 3) if np.size(points) else np.zeros((0, 3))
    if p.shape[0] == 0:
        raise AnchorError("no_points", "anchor cloud has zero points")
    finite = np.isfinite(p).all(axis=1)
    if not finite.any():
        raise AnchorError("no_anchors", f"anchor cloud: all {p.shape[0]} points are NaN/Inf")
    p = p[finite]
    front = p[:, 2] > min_z
    if not front.any():
        raise AnchorError("behind_camera", f"anchor cloud: all {p.shape[0]} finite points are behind the camera "
                                           f"(z <= {min_z} m in the camera optical frame; check frame / scale_extrinsic)")
    p = p[front]
    uv = project_points(p, K, *_lens_args(lens), min_z=min_z)
    return _finish(uv[:, 0], uv[:, 1], p[:, 2], out_size, "anchor cloud")


def from_range(distance: float, limits: tuple[float, float] | None, K_in: np.ndarray, in_size: tuple[int, int],
               out_size: tuple[int, int], pixel: tuple[float, float] | None = None, lens=None) -> Anchors:
    """One anchor from a range along the beam through `pixel` (input-image pixels; None = centre).

    Planar depth z = range / |(x', y', 1)|, (x', y') the pixel's ray through the lens. Refused when the range
    is not finite or outside [min, max] (sensor_msgs/Range: outside the limits means no valid reading)."""
    r = float(distance)
    if not np.isfinite(r):
        raise AnchorError("range_invalid", f"range is {r} (no reading)")
    if limits is not None:
        lo, hi = limits
        if not lo <= r <= hi:
            raise AnchorError("range_limits", f"range {r:g} m outside [min_range, max_range] = [{lo:g}, {hi:g}] m")
    h, w = in_size
    u, v = ((w - 1) / 2.0, (h - 1) / 2.0) if pixel is None else (float(pixel[0]), float(pixel[1]))
    x, y = undistort_pixels(np.array([[u, v]]), K_in, *_lens_args(lens))[0]
    if not np.isfinite(x):
        raise AnchorError("range_pixel", f"range pixel ({u:g}, {v:g}) has no ray in the camera's lens model")
    z = r / float(np.linalg.norm([x, y, 1.0]))
    oh, ow = out_size
    return _finish(np.array([(u + 0.5) * ow / w - 0.5]), np.array([(v + 0.5) * oh / h - 0.5]), np.array([z]),
                   out_size, "range")


@functools.lru_cache(maxsize=4)
def _ground_grid(K: tuple, D: tuple, model: str, out_size: tuple[int, int], step: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, y/z of the pixel's ray) on the ground grid, once per camera (the undistortion is iterative)."""
    oh, ow = out_size
    v, u = np.mgrid[step // 2:oh:step, step // 2:ow:step]
    u, v = u.ravel().astype(np.float64), v.ravel().astype(np.float64)
    y = undistort_pixels(np.stack([u, v], 1), np.reshape(K, (3, 3)), D, model)[:, 1]
    return u, v, y


def from_ground(height: float, pitch: float, K: np.ndarray, out_size: tuple[int, int], max_ratio: float = 4.0,
                step: int = 4, lens=None) -> Anchors:
    """Floor depths on a grid of output pixels below the horizon, no farther than `max_ratio` × height
    (rays at least ~14° below the horizon: near the robot the lower image is mostly floor; far from it,
    walls and objects stand in front of the plane).

    Camera optical frame (y down); the camera is `height` m above the floor and pitched down by `pitch` rad,
    so the up direction is (0, -cos p, -sin p) and the ray (x', y', 1) meets the floor at
    z = height / (y' cos p + sin p)."""
    if not (height > 0 and np.isfinite(height) and np.isfinite(pitch)):
        raise AnchorError("ground_params", f"ground_height must be > 0 (got {height}) and ground_pitch finite")
    D, model = _lens_args(lens) or ((), "plumb_bob")
    u, v, y = _ground_grid(tuple(np.asarray(K, np.float64).ravel().tolist()),
                           tuple(np.asarray(D, np.float64).ravel().tolist()), model, tuple(out_size), step)
    den = y * np.cos(pitch) + np.sin(pitch)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(den > 1e-6, height / den, np.nan)
    z[z > max_ratio * height] = np.nan
    return _finish(u, v, z, out_size, "ground plane")


def anchors_from_input(inp: AnchorInput, K_out: np.ndarray | None, K_in: np.ndarray | None,
                       in_size: tuple[int, int], out_size: tuple[int, int], ground=(0.0, 0.0), lens=None) -> Anchors:
    """`Anchors` at the output size for any source; K_out/K_in: intrinsics of the output / input image
    (needed by points, range, ground), `lens` the camera's (distortion_model, D). AnchorError with the
    reason otherwise."""
    if inp.kind == "depth":
        return from_depth_image(inp.depth, out_size)
    if K_out is None:
        raise AnchorError("no_camera_info", f"{inp.kind} anchors need a valid camera_info")
    if inp.kind == "points":
        return from_points(inp.points, K_out, out_size, lens=lens)
    if inp.kind == "range":
        return from_range(inp.range, inp.range_limits, K_in, in_size, out_size, inp.pixel, lens)
    if inp.kind == "ground":
        return from_ground(ground[0], ground[1], K_out, out_size, lens=lens)
    raise AnchorError("source", f"unknown anchor source {inp.kind!r}")
