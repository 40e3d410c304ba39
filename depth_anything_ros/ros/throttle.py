"""Throttled logging per reason, so that a flood of one kind of bad input logs once per period."""
from __future__ import annotations

import threading
import time


class ReasonThrottle:
    """`log(kind, text)` logs at most once per `period` seconds for each `kind`, counting the rest."""

    def __init__(self, emit, period: float = 1.0):
        self._emit = emit
        self.period = period
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, kind: str, text: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.period:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last[kind] = now
            n = self._suppressed.pop(kind, 0)
        self._emit(text + (f" ({n} more like this suppressed)" if n else ""))
        return True
