"""The demo orchestrator: refuses without a model; with a (random-weight, plumbing-only) model it runs
player -> node -> recorder as processes and leaves depth PNGs, a contact sheet, a PLY and a latency summary."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np

from .conftest import K_160x120
from .harness import ROOT, child_env, sample_images


def _demo(args, timeout=150):
    return subprocess.run([sys.executable, "-m", "depth_anything_ros.demo", *args], env=child_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _write_frames(frames, count: int):
    """A demo frame folder: `count` real 160x120 photos as JPEG plus camera_info.yaml."""
    from depth_anything_ros.demo.camera_yaml import write_camera_yaml

    frames.mkdir()
    for i, rgb in enumerate(sample_images(count)):
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    write_camera_yaml(frames / "camera_info.yaml", K_160x120, 160, 120)
    return frames


def test_demo_refuses_missing_model(tmp_path):
    r = _demo(["--model", str(tmp_path / "missing.safetensors"), "--output", str(tmp_path / "out")])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not found" in lines[0] and "never runs random weights" in lines[0]
    assert not (tmp_path / "out").exists()


def test_demo_end_to_end(tmp_path, tiny_metric_checkpoint, ros_context):
    from depth_anything_ros.demo.ply import read_ply_points

    frames = _write_frames(tmp_path / "frames", 4)
    out = tmp_path / "demo_output"
    r = _demo(["--model", str(tiny_metric_checkpoint), "--engine", "torch", "--frames", str(frames),
               "--rate", "6", "--network-size", "70x98", "--output", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "contact sheet:" in r.stdout and str(out / "cloud.ply") in r.stdout
    depth_pngs = sorted((out / "depth").glob("*.png"))
    assert len(depth_pngs) >= 3  # the first frame may race discovery
    d = cv2.imread(str(depth_pngs[0]), cv2.IMREAD_UNCHANGED)
    assert d.dtype == np.uint16 and d.shape == (120, 160)
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 2 * 320 + 4
    pts = read_ply_points(out / "cloud.ply")
    assert pts.shape[1] == 3 and len(pts) > 100 and np.isfinite(pts).all()
    summary = json.loads((out / "latency.json").read_text())
    assert summary["frames_recorded"] == len(depth_pngs)
    assert summary["latency_ms"]["p50"] > 0 and (out / "latency.txt").is_file()
    assert summary["node_diagnostics"].get("network_input_size") == "70x98"


def test_demo_on_onnxruntime_engine(tmp_path, tiny_metric_checkpoint, ros_context):
    """The node on the ONNX Runtime engine: a static ONNX export of the (random-weight) metric model."""
    from depth_anything_ros.inference.export import export_onnx
    from depth_anything_ros.model.checkpoint import load_checkpoint

    model, meta = load_checkpoint(tiny_metric_checkpoint, pos_interp="size")
    onnx_path = export_onnx(model, meta, tmp_path / "tiny_metric.onnx", 70, 98)
    frames = _write_frames(tmp_path / "frames", 3)
    out = tmp_path / "demo_output"
    r = _demo(["--model", str(onnx_path), "--engine", "onnxruntime", "--frames", str(frames), "--rate", "6",
               "--output", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "latency.json").read_text())
    assert summary["frames_recorded"] >= 2
    assert summary["node_diagnostics"].get("engine", "").startswith("onnxruntime")
    assert summary["node_diagnostics"].get("network_input_size") == "70x98"
    d = cv2.imread(str(sorted((out / "depth").glob("*.png"))[0]), cv2.IMREAD_UNCHANGED)
    assert d.dtype == np.uint16 and d.shape == (120, 160) and (d > 0).any()
