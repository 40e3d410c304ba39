"""Temporal smoothing of the fitted scale (and shift), with hold-then-timeout.

The scale is smoothed in log space (an exponential moving average with weight `alpha` on the new fit),
the shift linearly. A fit whose log scale is more than `gate` from the smoothed one is rejected as an
outlier, unless `reset_after` fits in a row disagree the same way: then the scene really changed and the
new fit is taken as is. Without a good fit the last smoothed values are held for `hold_timeout` seconds
(stamps of the images), then dropped: `current()` returns None and the caller says so.
"""
from __future__ import annotations

import math

from .fit import Fit


class ScaleSmoother:
    """State of one stream's scale over time (not thread-safe: one image callback at a time)."""

    def __init__(self, alpha: float = 0.3, gate: float = 0.25, hold_timeout: float = 2.0, reset_after: int = 5):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha, self.gate, self.hold_timeout, self.reset_after = alpha, gate, hold_timeout, reset_after
        self.log_scale: float | None = None
        self.shift = 0.0
        self.last_good: float | None = None  # stamp of the last accepted fit
        self._disagree = 0
        self.rejected = 0

    def update(self, fit: Fit | None, stamp: float) -> bool:
        """Feed one frame's fit (None or not ok = no fit this frame); True when it was accepted."""
        if fit is None or not fit.ok:
            return False
        ls = math.log(fit.scale)
        if self.log_scale is None:
            self.log_scale, self.shift = ls, fit.shift
        elif abs(ls - self.log_scale) > self.gate:
            self._disagree += 1
            self.rejected += 1
            if self._disagree < self.reset_after:
                return False
            self.log_scale, self.shift = ls, fit.shift  # persistent disagreement: the scene changed
        else:
            a = self.alpha
            self.log_scale = (1 - a) * self.log_scale + a * ls
            self.shift = (1 - a) * self.shift + a * fit.shift
        self._disagree = 0
        self.last_good = stamp
        return True

    def age(self, stamp: float) -> float | None:
        """Seconds since the last accepted fit (None: never)."""
        return None if self.last_good is None else stamp - self.last_good

    def current(self, stamp: float) -> tuple[float, float] | None:
        """(scale, shift) to use at `stamp`: the smoothed values while younger than hold_timeout, else None."""
        age = self.age(stamp)
        if self.log_scale is None or age is None or age > self.hold_timeout:
            return None
        return math.exp(self.log_scale), self.shift

    def reset(self) -> None:
        self.log_scale, self.shift, self.last_good, self._disagree = None, 0.0, None, 0
