"""Temporal smoothing of the fitted scale (and shift), with hold-then-timeout.

Fits are compared and blended in log depth: at reference model values x_r (one for a scale; for scale and
shift in inverse depth, the 10th and 90th percentile of the new fit's inlier values) the old and new fits
give y_old = s·x_r + t and y_new; a new fit whose |log(y_new / y_old)| exceeds `gate` at any reference is
rejected as an outlier, unless `reset_after` fits in a row disagree: then the scene really changed and the
new fit is taken as is. Otherwise y = y_old·(y_new / y_old)^alpha (a moving average of log depth with
weight `alpha` on the new fit), and (s, t) are solved back from y. For a scale alone this is the moving
average of log s. Comparing s and t directly would not work: for a relative model they trade off
against each other from frame to frame while the depth they give barely moves.
Without a good fit the last values are held for `hold_timeout` seconds (image stamps), then dropped:
`current()` returns None and the caller says so.
"""
from __future__ import annotations

import numpy as np

from .fit import Fit


class ScaleSmoother:
    """State of one stream's scale over time (not thread-safe: one image callback at a time)."""

    def __init__(self, alpha: float = 0.3, gate: float = 0.25, hold_timeout: float = 2.0, reset_after: int = 5):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha, self.gate, self.hold_timeout, self.reset_after = alpha, gate, hold_timeout, reset_after
        self.params: tuple[float, float] | None = None  # (scale, shift)
        self.last_good: float | None = None  # stamp of the last accepted fit
        self._disagree = 0
        self.rejected = 0

    def _blend(self, fit: Fit) -> tuple[float, float] | None:
        """Smoothed (s, t), or None when the fit disagrees beyond the gate."""
        s0, t0 = self.params
        refs = np.asarray(fit.ref or (1.0,), np.float64)
        y0, y1 = s0 * refs + t0, fit.scale * refs + fit.shift
        if np.any(y0 <= 0) or np.any(y1 <= 0):
            return None
        d = np.log(y1 / y0)
        if np.max(np.abs(d)) > self.gate:
            return None
        y = y0 * np.exp(self.alpha * d)
        if refs.size == 2:
            s = (y[1] - y[0]) / (refs[1] - refs[0])
            return float(s), float(y[0] - s * refs[0])
        t = (1 - self.alpha) * t0 + self.alpha * fit.shift
        return float((y[0] - t) / refs[0]), float(t)

    def update(self, fit: Fit | None, stamp: float) -> bool:
        """Feed one frame's fit (None or not ok = no fit this frame); True when it was accepted."""
        if fit is None or not fit.ok:
            return False
        new = (fit.scale, fit.shift)
        if self.params is not None:
            blended = self._blend(fit)
            if blended is None:
                self._disagree += 1
                self.rejected += 1
                if self._disagree < self.reset_after:
                    return False  # outlier: keep the smoothed values
            else:
                new = blended
        self.params = new
        self._disagree = 0
        self.last_good = stamp
        return True

    def age(self, stamp: float) -> float | None:
        """Seconds since the last accepted fit (None: never)."""
        return None if self.last_good is None else stamp - self.last_good

    def current(self, stamp: float) -> tuple[float, float] | None:
        """(scale, shift) to use at `stamp`: the smoothed values while younger than hold_timeout, else None."""
        age = self.age(stamp)
        if self.params is None or age is None or age > self.hold_timeout:
            return None
        return self.params

    def reset(self) -> None:
        self.params, self.last_good, self._disagree = None, None, 0
