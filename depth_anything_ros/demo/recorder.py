"""Recorder: saves what the depth node publishes, then summarises it.

    python -m depth_anything_ros.demo.recorder --output demo_output/ --frames 24

Under --output: `depth/NNNN.png` (16-bit millimetres, 0 = invalid; for relative models the inverse
depth scaled to 1..65535), `colored/NNNN.png` (the node's depth/colored preview), `contact_sheet.png`
(camera image | depth preview per row), `cloud.ply` (the cloud of the middle frame), `latency.json`
and `latency.txt` (per-frame end-to-end latency: receive time - header stamp, and the node's own
/diagnostics). Stops after --frames depth frames, or --idle s without one, or --timeout s.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m depth_anything_ros.demo.recorder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--frames", type=int, default=0, help="stop after this many depth frames (0 = on idle/timeout)")
    p.add_argument("--idle", type=float, default=5.0, help="stop this long after the last depth frame (s)")
    p.add_argument("--timeout", type=float, default=300.0, help="stop after this long in any case (s)")
    p.add_argument("--sheet-rows", type=int, default=6, help="frames in the contact sheet (default 6)")
    p.add_argument("--ready-file", type=Path, default=None, help="touch this file once subscribed")
    return p


def _pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


class Recording:
    """Everything received, keyed by header stamp (seconds)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth: dict[float, np.ndarray] = {}
        self.kind = "metric"
        self.colored: dict[float, np.ndarray] = {}
        self.rgb: dict[float, np.ndarray] = {}
        self.clouds: dict[float, object] = {}
        self.info: dict[float, object] = {}
        self.latency_ms: dict[float, float] = {}
        self.diagnostics: dict = {}
        self.last_depth_time = None


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray]], width: int = 320) -> np.ndarray:
    """Rows of [camera image | depth preview] (BGR), each scaled to `width` px wide per tile."""
    import cv2

    rows = []
    for rgb, col in pairs:
        h = int(round(rgb.shape[0] * width / rgb.shape[1]))
        a = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (width, h), interpolation=cv2.INTER_AREA)
        b = cv2.resize(col, (width, h), interpolation=cv2.INTER_NEAREST)
        rows.append(np.hstack([a, np.full((h, 4, 3), 255, np.uint8), b]))
        rows.append(np.full((4, 2 * width + 4, 3), 255, np.uint8))
    return np.vstack(rows[:-1]) if rows else np.zeros((1, 1, 3), np.uint8)


def save(rec: Recording, out: Path, sheet_rows: int) -> dict:
    """Write every artefact; returns the summary (also written as latency.json)."""
    import cv2

    from ..depth_io import metres_to_uint16, relative_to_uint16
    from ..geometry import colorize, unpack_rgb_float
    from ..ros.conversions import pointcloud2_to_numpy
    from .ply import write_ply

    (out / "depth").mkdir(parents=True, exist_ok=True)
    (out / "colored").mkdir(parents=True, exist_ok=True)
    stamps = sorted(rec.depth)
    for i, s in enumerate(stamps):
        d = rec.depth[s]
        valid = np.isfinite(d)
        png = metres_to_uint16(d) if rec.kind == "metric" else relative_to_uint16(d)
        cv2.imwrite(str(out / "depth" / f"{i:04d}.png"), png)
        col = rec.colored.get(s)
        if col is None:
            col = colorize(d, valid, inverse=rec.kind == "metric")
        cv2.imwrite(str(out / "colored" / f"{i:04d}.png"), col)
    summary: dict = {"frames_recorded": len(stamps), "output_kind": rec.kind}
    with_rgb = [s for s in stamps if s in rec.rgb]
    if with_rgb:
        pick = [with_rgb[int(round(j))] for j in np.linspace(0, len(with_rgb) - 1, min(sheet_rows, len(with_rgb)))]
        pairs = []
        for s in pick:
            col = rec.colored.get(s)
            if col is None:
                col = colorize(rec.depth[s], inverse=rec.kind == "metric")
            pairs.append((rec.rgb[s], col))
        cv2.imwrite(str(out / "contact_sheet.png"), contact_sheet(pairs))
        summary["contact_sheet"] = str(out / "contact_sheet.png")
    if rec.clouds:
        cs = sorted(rec.clouds)
        s = cs[len(cs) // 2]
        fields = pointcloud2_to_numpy(rec.clouds[s])
        xyz = np.stack([fields["x"], fields["y"], fields["z"]], -1).reshape(-1, 3)
        rgb = unpack_rgb_float(fields["rgb"]).reshape(-1, 3) if "rgb" in fields else None
        summary["ply_writer"] = write_ply(out / "cloud.ply", xyz, rgb)
        summary["ply"] = str(out / "cloud.ply")
        summary["ply_points"] = int(np.isfinite(xyz).all(axis=1).sum())
    lat = [rec.latency_ms[s] for s in stamps if s in rec.latency_ms]
    summary["latency_ms"] = {"p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99),
                             "max": float(max(lat)) if lat else float("nan"), "frames": len(lat),
                             "what": "recorder receive time - input header stamp (camera -> node -> recorder)"}
    summary["node_diagnostics"] = rec.diagnostics
    (out / "latency.json").write_text(json.dumps(summary, indent=2))
    lines = [f"frames recorded: {len(stamps)}",
             "end-to-end latency (player stamp -> recorder), ms: "
             + ", ".join(f"{k} {v:.1f}" for k, v in summary["latency_ms"].items() if isinstance(v, float)),
             ]
    for k in ("engine", "network_input_size", "input_rate_hz", "output_rate_hz", "latency_p50_ms", "latency_p99_ms",
              "processing_p50_ms", "frames_dropped"):
        if k in rec.diagnostics:
            lines.append(f"node {k}: {rec.diagnostics[k]}")
    (out / "latency.txt").write_text("\n".join(lines) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..ros.env import use_large_data_profile

    use_large_data_profile()
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from ..ros import conversions as conv

    rclpy.init(args=None)
    node = rclpy.create_node("demo_recorder")
    rec = Recording()
    be = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)

    def key(msg):
        return round(conv.stamp_to_seconds(msg.header.stamp), 6)

    def on_depth(msg, kind):
        k = key(msg)
        now = node.get_clock().now().nanoseconds * 1e-9
        with rec.lock:
            rec.kind = kind
            rec.depth[k] = conv.image_to_numpy(msg).copy()
            rec.latency_ms[k] = (now - conv.stamp_to_seconds(msg.header.stamp)) * 1e3
            rec.last_depth_time = time.monotonic()

    def on_colored(msg):
        with rec.lock:
            rec.colored[key(msg)] = conv.image_to_numpy(msg).copy()

    def on_rgb(msg):
        with rec.lock:
            rec.rgb[key(msg)] = conv.image_msg_to_rgb(msg).copy()

    def on_points(msg):
        with rec.lock:
            rec.clouds[key(msg)] = msg

    def on_diag(msg):
        for st in msg.status:
            if st.name.endswith(": depth"):
                new = {kv.key: kv.value for kv in st.values}
                if rec.diagnostics and float(new.get("output_rate_hz", "0")) == 0.0:
                    # after the last frame: keep the rates measured while frames were flowing
                    for k in ("input_rate_hz", "output_rate_hz"):
                        new[k] = rec.diagnostics.get(k, new[k])
                rec.diagnostics = new

    node.create_subscription(Image, "depth/image", lambda m: on_depth(m, "metric"), 5)
    node.create_subscription(Image, "depth/relative", lambda m: on_depth(m, "relative"), 5)
    node.create_subscription(Image, "depth/colored", on_colored, 5)
    node.create_subscription(Image, "image", on_rgb, be)
    node.create_subscription(PointCloud2, "depth/points", on_points, 5)
    node.create_subscription(CameraInfo, "depth/camera_info", lambda m: None, 5)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    if args.ready_file:
        args.ready_file.write_text("ready\n")
    t0 = time.monotonic()
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            n = len(rec.depth)
            if args.frames and n >= args.frames:
                t_end = now + 1.5  # catch the last diagnostics / clouds
                while time.monotonic() < t_end:
                    rclpy.spin_once(node, timeout_sec=0.05)
                break
            if rec.last_depth_time is not None and now - rec.last_depth_time > args.idle:
                break
            if now - t0 > args.timeout:
                break
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    summary = save(rec, args.output, args.sheet_rows)
    print(f"recorder: {summary['frames_recorded']} depth frames saved under {args.output}")
    return 0 if summary["frames_recorded"] else 1


if __name__ == "__main__":
    sys.exit(main())
