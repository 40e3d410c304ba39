"""One frame of scale handling, shared by the node and `eval`: focal rule, anchors, fit, smoothing.

`ScaleStage.apply(values, ...)` works in place on the model output at the output size:
  metric models:   values (m) ×= f_c / f_t (focal_rescale auto, when the model records f_t and K is known),
                   then ×= the smoothed anchor scale (scale_source != none, while a fit is held);
  relative models: values (inverse depth) = s·values + t with the smoothed fit; without a held fit the
                   values are left alone and `apply` returns False (no metric depth this frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anchors import AnchorError, AnchorInput, anchors_from_input
from .fit import Fit, fit_scale
from .focal import focal_factor
from .smoothing import ScaleSmoother

SOURCES = ("none", "depth", "points", "range", "ground")


@dataclass
class ScaleConfig:
    """The scale parameters (node: NodeConfig fields of the same meaning; docs/scale.md)."""

    focal_rescale: str = "auto"  # auto | off
    source: str = "none"  # none | depth | points | range | ground
    threshold: float = 0.1  # inlier: relative depth error below this
    min_inliers: int = 20  # fewer -> the frame's fit is refused (range: 1)
    smoothing: float = 0.3  # weight of the new fit in the log-scale moving average; 1 = no smoothing
    gate: float = 0.25  # |log(new / smoothed)| above this: the fit is an outlier
    hold_timeout: float = 2.0  # seconds the last good fit is held without a new one
    ground_height: float = 0.0  # ground: metres of the camera above the floor
    ground_pitch: float = 0.0  # ground: radians the camera looks down


@dataclass
class ScaleStatus:
    """What the stage did on the last frame (for /diagnostics and the throttled logs)."""

    focal_factor: float | None = None
    state: str = "off"  # off | fitted | held | expired | waiting
    scale: float = float("nan")
    shift: float = 0.0
    inliers: int = 0
    anchors: int = 0
    residual: float = float("nan")
    age: float | None = None
    reason: str = ""
    reason_kind: str = ""


class ScaleStage:
    """Per-stream scale state (see module docstring)."""

    def __init__(self, kind: str, training_focal: float | None, cfg: ScaleConfig):
        self.kind, self.training_focal, self.cfg = kind, training_focal, cfg
        if cfg.source == "range":
            self.mode = "scale" if kind == "metric" else "inverse_scale"
        else:
            self.mode = "scale" if kind == "metric" else "affine"
        self.smoother = ScaleSmoother(cfg.smoothing, cfg.gate, cfg.hold_timeout)
        self.status = ScaleStatus()

    @property
    def min_inliers(self) -> int:
        return 1 if self.cfg.source == "range" else self.cfg.min_inliers

    def fit(self, values: np.ndarray, anchor_input: AnchorInput | None, K_out, K_in, in_size, lens=None) -> Fit:
        """This frame's fit (not smoothed); Fit(ok=False) with the reason when refused. `lens`: the camera's
        (distortion_model, D), None for pinhole."""
        if anchor_input is None and self.cfg.source == "ground":
            anchor_input = AnchorInput("ground")
        if anchor_input is None:
            return Fit(False, reason="no anchors", reason_kind="no_anchors")
        try:
            a = anchors_from_input(anchor_input, K_out, K_in, in_size, values.shape,
                                   (self.cfg.ground_height, self.cfg.ground_pitch), lens)
        except AnchorError as exc:
            return Fit(False, reason=str(exc), reason_kind=exc.kind)
        return fit_scale(values[a.v, a.u], a.z, self.mode, self.cfg.threshold, self.min_inliers)

    def apply(self, values: np.ndarray, stamp: float, K_out=None, K_in=None, in_size=None, network_size=None,
              anchor_input: AnchorInput | None = None, missing: str = "", lens=None) -> bool:
        """Scale `values` in place (see module docstring); False when a relative model has no metric scale.

        `missing`: why there is no anchor input this frame (e.g. stale), reported when `anchor_input` is None."""
        cfg, st = self.cfg, ScaleStatus()
        if self.kind == "metric" and cfg.focal_rescale == "auto":
            f = focal_factor(self.training_focal, K_in, in_size or values.shape, network_size)
            if f is not None:
                values *= np.float32(f)
                st.focal_factor = f
        if cfg.source == "none":
            self.status = st
            return self.kind == "metric"
        fit = self.fit(values, anchor_input, K_out, K_in, in_size or values.shape, lens)
        if not fit.ok and anchor_input is None and missing:
            fit.reason, fit.reason_kind = missing, "stale"
        accepted = self.smoother.update(fit, stamp)
        st.inliers, st.anchors, st.residual = fit.inliers, fit.anchors, fit.residual
        if not fit.ok:
            st.reason, st.reason_kind = fit.reason, fit.reason_kind
        elif not accepted:
            st.reason, st.reason_kind = (f"fit scale {fit.scale:.4g} rejected: differs from the smoothed scale "
                                         f"by more than the gate"), "gate"
        cur = self.smoother.current(stamp)
        st.age = self.smoother.age(stamp)
        if cur is None:
            st.state = "waiting" if self.smoother.last_good is None else "expired"
            if st.state == "expired":
                st.reason = (f"no good fit for {st.age:.1f} s (> hold_timeout {cfg.hold_timeout:g} s): "
                             + ("publishing unscaled metric depth" if self.kind == "metric" else
                                "no metric depth") + (f"; last reason: {st.reason}" if st.reason else ""))
                st.reason_kind = "expired"
            self.status = st
            return self.kind == "metric"
        st.state = "fitted" if accepted else "held"
        st.scale, st.shift = cur
        if self.kind == "metric":
            values *= np.float32(cur[0])
        else:
            np.multiply(values, np.float32(cur[0]), out=values)
            values += np.float32(cur[1])
        self.status = st
        return True
