"""Frame statistics of the node and their `/diagnostics` message (diagnostic_msgs/DiagnosticArray).

`FrameStats` is updated from the image callback and read by the diagnostics timer (another callback
group, so another thread): every access holds its lock. Rates are counted over the last report
period; latencies keep a window of the last `window` frames.
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


class FrameStats:
    """Counters and latency windows of the per-frame path."""

    def __init__(self, window: int = 300):
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.skipped = 0  # bad input (logged, skipped)
        self.failed = 0  # inference or publishing errors
        self.gap_dropped = 0  # frames missing between consecutive input stamps (estimated)
        self.camera_info_rejected = 0
        self.waiting_for_camera_info = 0
        self.without_subscribers = 0  # not processed: no output had a subscriber (lazy_outputs)
        self.published: dict[str, int] = {}  # messages per output topic
        self.last_reason = ""
        self._latency = deque(maxlen=window)  # publish time - header stamp (ms)
        self._proc = deque(maxlen=window)  # callback start -> all published (ms)
        self._periods = deque(maxlen=31)
        self._last_stamp: float | None = None
        self._mark = (time.monotonic(), 0, 0, 0)  # (t, received, processed, without_subscribers) at the last report

    def on_received(self, stamp_s: float) -> None:
        with self._lock:
            self.received += 1
            last, self._last_stamp = self._last_stamp, stamp_s
            if last is None or stamp_s <= last:
                return
            gap = stamp_s - last
            if len(self._periods) >= 5:
                period = float(np.median(self._periods))
                if period > 0 and gap > 1.5 * period:
                    self.gap_dropped += int(round(gap / period)) - 1
                    return  # keep gaps out of the period estimate
            self._periods.append(gap)

    def on_skipped(self, reason: str) -> None:
        with self._lock:
            self.skipped += 1
            self.last_reason = reason

    def on_failed(self, reason: str) -> None:
        with self._lock:
            self.failed += 1
            self.last_reason = reason

    def on_without_subscribers(self) -> None:
        with self._lock:
            self.without_subscribers += 1

    def on_processed(self, latency_ms: float, processing_ms: float, topics=()) -> None:
        with self._lock:
            self.processed += 1
            for t in topics:
                self.published[t] = self.published.get(t, 0) + 1
            self._latency.append(latency_ms)
            self._proc.append(processing_ms)

    def snapshot(self) -> dict:
        """Rates since the previous snapshot, percentiles over the window, totals."""
        with self._lock:
            now = time.monotonic()
            t0, r0, p0, i0 = self._mark
            dt = max(now - t0, 1e-6)
            self._mark = (now, self.received, self.processed, self.without_subscribers)
            lat = np.array(self._latency) if self._latency else None
            proc = np.array(self._proc) if self._proc else None
            return {
                "input_rate_hz": (self.received - r0) / dt,
                "output_rate_hz": (self.processed - p0) / dt,
                "idle_rate_hz": (self.without_subscribers - i0) / dt,
                "latency_p50_ms": float(np.percentile(lat, 50)) if lat is not None else float("nan"),
                "latency_p99_ms": float(np.percentile(lat, 99)) if lat is not None else float("nan"),
                "processing_p50_ms": float(np.percentile(proc, 50)) if proc is not None else float("nan"),
                "processing_p99_ms": float(np.percentile(proc, 99)) if proc is not None else float("nan"),
                "frames_received": self.received,
                "frames_processed": self.processed,
                "frames_skipped_bad_input": self.skipped,
                "frames_failed": self.failed,
                "frames_dropped": self.skipped + self.failed + self.gap_dropped,
                "frames_dropped_in_transport_est": self.gap_dropped,
                "camera_info_rejected": self.camera_info_rejected,
                "frames_without_camera_info": self.waiting_for_camera_info,
                "frames_without_subscribers": self.without_subscribers,
                **{f"published {t}": n for t, n in sorted(self.published.items())},
                "last_problem": self.last_reason,
            }


def scale_diagnostics(stage, inputs) -> dict:
    """Issue 13: scale, shift, inliers, residual and the age of the last good fit (docs/scale.md)."""
    st = stage.status
    out = {"focal_factor": st.focal_factor if st.focal_factor is not None else "off"}
    if stage.cfg.source == "none":
        return out
    age = st.age  # image time: seconds from the last good fit to the latest image
    out.update({"scale_state": st.state, "scale": st.scale, "scale_shift": st.shift, "scale_inliers": st.inliers,
                "scale_anchors": st.anchors, "scale_residual": st.residual,
                "scale_fit_age_s": float(age) if age is not None else "never",
                "scale_fits_rejected_by_gate": stage.smoother.rejected, "scale_reason": st.reason})
    if inputs is not None:
        out.update({"scale_messages_received": inputs.received, "scale_messages_refused": inputs.rejected})
    return out


def diagnostic_array(stamp, name: str, hardware_id: str, snap: dict, static: dict):
    """A DiagnosticArray with one status: OK while frames flow, WARN without input or with recent problems."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = hardware_id
    if snap["frames_received"] == 0:
        status.level, status.message = DiagnosticStatus.WARN, "waiting for images"
    elif snap["output_rate_hz"] == 0 and snap["input_rate_hz"] == 0:
        status.level, status.message = DiagnosticStatus.WARN, "no input in the last period"
    elif snap["output_rate_hz"] == 0 and snap["idle_rate_hz"] > 0:
        status.level, status.message = DiagnosticStatus.OK, "idle: no subscriber on any output"
    elif snap["output_rate_hz"] == 0:
        status.level, status.message = DiagnosticStatus.WARN, f"no output: {snap['last_problem'] or 'busy'}"
    elif snap.get("scale_state") in ("expired", "waiting"):  # issue 13: depth flows, the scale does not
        status.level = DiagnosticStatus.WARN
        status.message = f"{snap['output_rate_hz']:.1f} Hz, no metric scale: {snap.get('scale_reason') or 'waiting'}"
    else:
        status.level, status.message = DiagnosticStatus.OK, f"{snap['output_rate_hz']:.1f} Hz"

    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    status.values = [KeyValue(key=k, value=fmt(v)) for k, v in {**static, **snap}.items()]
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    arr.status = [status]
    return arr
