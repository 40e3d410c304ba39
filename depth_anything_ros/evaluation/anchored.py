"""`eval --anchors SPEC`: anchors simulated from the ground truth, through the node's scale code.

SPEC = KIND[:VALUE][,option=value...]
  none          no anchors: only the focal rule (metric models)
  lidar:N       a LiDAR with N scan lines over ±15° elevation, one return every 2nd pixel along each line,
                no returns where the ground truth is invalid (sky); as a point cloud in the camera frame
  sparse:F      a fraction F of the valid pixels, at random, as a sparse depth image
  rgbd:H        an aligned RGB-D depth image with a fraction H of holes (blobs) and no depth beyond 10 m
  range         one rangefinder beam through the image centre (distance along the beam)
  ground        the floor plane from the sample's pose (camera height above z = 0 and its pitch; synthetic
                scenes: world z up, floor at z = 0; roll is ignored, as by the node)
options: noise=σ (relative Gaussian noise of each anchor, default 0.01; range 0.005), smooth=α (weight of a new
fit, default 1 = no smoothing; the node's default is 0.3), focal=auto|off (default auto), seed=N,
fps=R (frame rate used as stamps for the smoothing and hold timeout, default 10).
Samples are taken in dataset order as one stream: on a sequence, the smoothing carries over frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..scale import AnchorInput, ScaleConfig, ScaleStage

KINDS = ("none", "lidar", "sparse", "rgbd", "range", "ground")


@dataclass
class AnchorSpec:
    """A parsed `--anchors` value."""

    kind: str
    value: float | None = None
    noise: float = 0.01
    smooth: float = 1.0
    focal: str = "auto"
    seed: int = 0
    fps: float = 10.0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "AnchorSpec":
        head, *opts = [p.strip() for p in text.split(",")]
        kind, _, val = head.partition(":")
        if kind not in KINDS:
            raise ValueError(f"--anchors {text!r}: kind must be one of {', '.join(KINDS)}")
        spec = cls(kind, text=text, noise=0.005 if kind == "range" else 0.01)
        defaults = {"lidar": 16, "sparse": 0.01, "rgbd": 0.3}
        try:
            spec.value = float(val) if val else defaults.get(kind)
            for o in opts:
                k, _, v = o.partition("=")
                if k == "noise":
                    spec.noise = float(v)
                elif k == "smooth":
                    spec.smooth = float(v)
                elif k == "focal" and v in ("auto", "off"):
                    spec.focal = v
                elif k == "seed":
                    spec.seed = int(v)
                elif k == "fps":
                    spec.fps = float(v)
                else:
                    raise ValueError(o)
        except ValueError as exc:
            raise ValueError(f"--anchors {text!r}: bad option {exc}") from None
        if not 0.0 < spec.smooth <= 1.0:
            raise ValueError(f"--anchors {text!r}: smooth must be in (0, 1]")
        return spec


def _noisy(z: np.ndarray, sigma: float, rng) -> np.ndarray:
    return z * (1.0 + sigma * rng.standard_normal(z.shape)) if sigma > 0 else z


def simulate(spec: AnchorSpec, depth: np.ndarray, valid: np.ndarray, K: np.ndarray, rng) -> AnchorInput | None:
    """The AnchorInput a sensor of `spec` would give on this ground truth (None for kind none)."""
    h, w = depth.shape
    ok = valid & np.isfinite(depth) & (depth > 0)
    if spec.kind == "none":
        return None
    if spec.kind == "lidar":
        n = max(1, int(spec.value))
        rows = K[1, 2] + K[1, 1] * np.tan(np.radians(np.linspace(-15.0, 15.0, n)))
        rows = np.unique(np.rint(rows).astype(int))
        rows = rows[(rows >= 0) & (rows < h)]
        cols = np.arange(0, w, 2)
        vv, uu = np.meshgrid(rows, cols, indexing="ij")
        keep = ok[vv, uu]
        vv, uu = vv[keep], uu[keep]
        z = _noisy(depth[vv, uu].astype(np.float64), spec.noise, rng)
        pts = np.stack([(uu - K[0, 2]) / K[0, 0] * z, (vv - K[1, 2]) / K[1, 1] * z, z], 1)
        return AnchorInput("points", points=pts)
    if spec.kind == "sparse":
        out = np.full((h, w), np.nan, np.float32)
        idx = np.flatnonzero(ok)
        pick = rng.choice(idx, max(1, int(round(spec.value * idx.size))), replace=False) if idx.size else idx
        out.flat[pick] = _noisy(depth.flat[pick].astype(np.float64), spec.noise, rng)
        return AnchorInput("depth", depth=out)
    if spec.kind == "rgbd":
        blobs = cv2.resize(rng.random((max(2, h // 16), max(2, w // 16))).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_LINEAR)
        holes = blobs < np.quantile(blobs, spec.value)
        keep = ok & ~holes & (depth < 10.0)
        out = np.where(keep, _noisy(depth.astype(np.float64), spec.noise, rng), np.nan).astype(np.float32)
        return AnchorInput("depth", depth=out)
    if spec.kind == "ground":
        return AnchorInput("ground")
    # range: the centre beam
    u, v = (w - 1) / 2.0, (h - 1) / 2.0
    ui, vi = int(round(u)), int(round(v))
    z = float(depth[vi, ui]) if ok[vi, ui] else float("inf")
    ray = np.linalg.norm([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    return AnchorInput("range", range=float(_noisy(np.array(z * ray), spec.noise, rng)), range_limits=(0.05, 40.0))


@dataclass
class AnchoredPredictor:
    """Turns each prediction into metric depth with the simulated anchors (one stream over the dataset)."""

    spec: AnchorSpec
    kind: str
    training_focal: float | None = None
    network_size_fn: object = None  # (h, w) -> network (H, W), for the focal rule
    stage: ScaleStage = field(init=False)
    frames: int = field(default=0, init=False)
    scales: list = field(default_factory=list, init=False)

    def __post_init__(self):
        source = {"none": "none", "lidar": "points", "sparse": "depth", "rgbd": "depth", "range": "range",
                  "ground": "ground"}[self.spec.kind]
        self.stage = ScaleStage(self.kind, self.training_focal,
                                ScaleConfig(focal_rescale=self.spec.focal, source=source, smoothing=self.spec.smooth,
                                            hold_timeout=1e9 if self.spec.fps <= 0 else 2.0))
        self.rng = np.random.default_rng(self.spec.seed)

    def __call__(self, pred: np.ndarray, sample) -> tuple[np.ndarray | None, str]:
        """(metric depth with NaN where invalid, "") or (None, why no metric depth) for this sample."""
        h, w = sample.depth.shape
        K = np.asarray(sample.K, np.float64) if sample.K is not None else None
        if K is not None and sample.image.shape[:2] != (h, w):
            from ..geometry import scale_intrinsics

            K = scale_intrinsics(K, sample.image.shape[:2], (h, w))
        inp = simulate(self.spec, sample.depth, sample.valid, K, self.rng) if K is not None or self.spec.kind in (
            "sparse", "rgbd") else None
        if self.spec.kind == "ground":
            if getattr(sample, "pose", None) is None:
                return None, "ground anchors need the camera pose (height, pitch)"
            T = np.asarray(sample.pose, np.float64)
            self.stage.cfg.ground_height = float(T[2, 3])  # floor at world z = 0
            self.stage.cfg.ground_pitch = float(-np.arcsin(np.clip(T[2, 2], -1.0, 1.0)))  # forward axis below horizon
        values = np.array(pred, np.float32)
        net = self.network_size_fn(*sample.image.shape[:2]) if self.network_size_fn else None
        stamp = self.frames / self.spec.fps if self.spec.fps > 0 else 0.0
        self.frames += 1
        metric = self.stage.apply(values, stamp, K, K, (h, w), net, inp, "" if inp is not None else "no anchors")
        self.scales.append(self.stage.status.scale)
        if not metric:
            return None, self.stage.status.reason or "no metric scale"
        if self.kind == "relative":
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, 1.0 / values, np.nan).astype(np.float32)
        return values, ""


def temporal_stability(per_frame: list[dict]) -> dict:
    """Frame-to-frame variation of the error on a sequence (consecutive samples of one moving camera).

    scale_jitter: mean |Δ median log(pred / gt)| between consecutive frames (the scale error's flicker);
    abs_rel_jitter: mean |Δ AbsRel|; both 0 for a perfectly stable output."""
    e = np.array([r.get("log_scale_error", np.nan) for r in per_frame], np.float64)
    a = np.array([r.get("abs_rel", np.nan) for r in per_frame], np.float64)
    if e.size < 2:
        return {"frames": int(e.size), "scale_jitter": float("nan"), "abs_rel_jitter": float("nan")}
    return {"frames": int(e.size), "scale_jitter": float(np.nanmean(np.abs(np.diff(e)))),
            "abs_rel_jitter": float(np.nanmean(np.abs(np.diff(a))))}
