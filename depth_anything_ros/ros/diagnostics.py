"""Frame statistics of the node and their `/diagnostics` message (diagnostic_msgs/DiagnosticArray).

`FrameStats` is updated from the image and camera_info callbacks and read by the diagnostics timer (other
callback groups, so other threads): every access holds its lock. Rates are counted over the last report
period; latencies keep a window of the last `window` frames.

Frames dropped = frames the camera sent that the node never got to (the middleware keeps only the newest
frame while one is processed, or lost it on the way). Counted from input stamps:

* while camera_info flows (a camera driver publishes one per frame, with the frame's stamp, and that
  cheap callback sees every one), exactly: the camera_info stamps for which no image came (one that
  arrives after a later image counts at once; the two topics' callbacks run in different threads);
* otherwise estimated: each gap between consecutive image stamps against the running median of every
  gap (round(gap / median) - 1), so that a lower input rate becomes the new normal within a few frames.

A gap over max(OUTAGE_MIN_S, OUTAGE_PERIODS x the median gap) is an input outage (reported on its own), not
drops. Frames stamped zero or not after the previous frame are counted and kept out of the gaps and latency.
"""
from __future__ import annotations

import bisect
import threading
import time
from collections import deque

import numpy as np

OUTAGE_MIN_S = 1.0
OUTAGE_PERIODS = 10
GAP_WINDOW = 15
INFO_FRESH_S = 1.0  # camera_info "flows" when the last one came within this (monotonic seconds)


class FrameStats:
    """Counters and latency windows of the per-frame path."""

    def __init__(self, window: int = 300):
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.skipped = 0  # bad input (logged, skipped)
        self.failed = 0  # inference or publishing errors
        self.gap_dropped = 0  # frames the node could not take (see the module docstring)
        self.outages = 0  # input gaps long enough to be an outage of the camera, not drops
        self.outage_s = 0.0
        self.stamps_zero = 0
        self.stamps_not_increasing = 0
        self.camera_info_rejected = 0
        self.waiting_for_camera_info = 0
        self.without_subscribers = 0  # not processed: no output had a subscriber (lazy_outputs)
        self.published: dict[str, int] = {}  # messages per output topic
        self.last_reason = ""
        self._latency = deque(maxlen=window)  # publish time - header stamp (ms)
        self._proc = deque(maxlen=window)  # callback start -> all published (ms)
        self._gaps = deque(maxlen=GAP_WINDOW)
        self._last_stamp: float | None = None
        self._info_stamps: list[float] = []  # sorted camera_info stamps after the last image stamp
        self._info_seen: float | None = None  # monotonic time of the last camera_info
        self._recent_images: deque[float] = deque(maxlen=256)  # stamps of the last images
        self._mark = (time.monotonic(), 0, 0, 0)  # (t, received, processed, without_subscribers) at the last report

    def on_camera_info(self, stamp_s: float) -> None:
        with self._lock:
            if stamp_s <= 0:
                return
            self._info_seen = time.monotonic()
            if stamp_s in self._recent_images:  # its image came first (two topics, two callback groups)
                return
            if self._last_stamp is not None and stamp_s < self._last_stamp:
                self.gap_dropped += 1  # later images are in already: this frame's never will be
                return
            bisect.insort(self._info_stamps, stamp_s)

    def on_received(self, stamp_s: float) -> bool:
        """An image callback; returns whether its stamp is usable for latency (non-zero, after the last)."""
        with self._lock:
            self.received += 1
            if stamp_s <= 0:
                self.stamps_zero += 1
                return False
            last = self._last_stamp
            if last is not None and stamp_s <= last:
                self.stamps_not_increasing += 1
                return False
            self._last_stamp = stamp_s
            self._recent_images.append(stamp_s)
            infos = self._info_stamps
            k = bisect.bisect_right(infos, stamp_s)
            between = k - (1 if k and infos[k - 1] == stamp_s else 0)  # camera_info of frames before this one
            last_sent = infos[between - 1] if between else None  # the newest of those frames
            del infos[:k]
            if last is None:
                return True
            gap = stamp_s - last
            self._gaps.append(gap)
            period = float(np.median(self._gaps)) if len(self._gaps) >= 5 else None
            info_flows = self._info_seen is not None and time.monotonic() - self._info_seen < INFO_FRESH_S
            if info_flows:
                self.gap_dropped += between  # every frame the camera sent is known, also those before an outage
                if last_sent is not None:
                    gap = stamp_s - max(last, last_sent)  # the camera's own silence, not the node's
            if period and gap > max(OUTAGE_MIN_S, OUTAGE_PERIODS * period):
                self.outages += 1
                self.outage_s += gap
            elif period and not info_flows:
                self.gap_dropped += max(0, int(round(gap / period)) - 1)
            return True

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

    def on_processed(self, latency_ms: float | None, processing_ms: float, topics=()) -> None:
        """A published frame; `latency_ms` None when its stamp is not usable (zero, not increasing)."""
        with self._lock:
            self.processed += 1
            for t in topics:
                self.published[t] = self.published.get(t, 0) + 1
            if latency_ms is not None:
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
                "frames_dropped": self.gap_dropped,
                "input_outages": self.outages,
                "input_outage_s": self.outage_s,
                "stamps_zero": self.stamps_zero,
                "stamps_not_increasing": self.stamps_not_increasing,
                "camera_info_rejected": self.camera_info_rejected,
                "frames_without_camera_info": self.waiting_for_camera_info,
                "frames_without_subscribers": self.without_subscribers,
                **{f"published {t}": n for t, n in sorted(self.published.items())},
                "last_problem": self.last_reason,
            }


def scale_diagnostics(stage, inputs) -> dict:
    """scale, shift, inliers, residual and the age of the last good fit (docs/scale.md)."""
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
    elif snap.get("scale_state") in ("expired", "waiting"):  # depth flows, the scale does not
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
