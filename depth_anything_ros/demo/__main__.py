"""`python -m depth_anything_ros.demo`: camera player -> depth node -> recorder, over real DDS.

    python -m depth_anything_ros.demo --model models/demo_vitt_metric.safetensors \
        [--engine auto|onnxruntime|torch] [--frames demo/frames] [--rate 5] --output demo_output/

Starts three processes on an isolated ROS domain (loopback only, random ROS_DOMAIN_ID, logs in a
temp dir): the depth node with the model, the recorder, then the player, which publishes the bundled
sequence with CameraInfo at --rate. When the player is done and the recorder has its frames, the
node is stopped and the paths of the outputs are printed. Refuses (exit 2, one line) when the model
file is missing: it never substitutes random weights.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "demo_vitt_metric.safetensors"
DEFAULT_FRAMES = ROOT / "demo" / "frames"


class DemoError(Exception):
    """One-line reason the demo cannot run."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m depth_anything_ros.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                   help=f"checkpoint (.safetensors) or .onnx (default {DEFAULT_MODEL.relative_to(ROOT)})")
    p.add_argument("--engine", choices=("auto", "onnxruntime", "torch"), default="auto",
                   help="auto: onnxruntime when an .onnx is given or sits beside the checkpoint, else torch")
    p.add_argument("--frames", type=Path, default=DEFAULT_FRAMES, help="frame folder (images + camera_info.yaml)")
    p.add_argument("--rate", type=float, default=5.0, help="player frame rate in Hz (default 5)")
    p.add_argument("--network-size", default="", help="HxW multiple of 14 (default: the model's own size)")
    p.add_argument("--output", type=Path, default=Path("demo_output"))
    p.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds")
    return p


def resolve_model(model: Path, engine: str) -> tuple[str, Path]:
    """(engine, model file) or DemoError with a one-line reason."""
    if not model.is_file():
        raise DemoError(f"model {model} not found: the demo needs the trained demo model "
                        f"(models/demo_vitt_metric.safetensors from the training pipeline) or --model PATH; "
                        f"it never runs random weights")
    onnx = model if model.suffix == ".onnx" else model.with_suffix(".onnx")
    if engine == "auto":
        try:
            import onnxruntime  # noqa: F401
            from ..inference.engines import onnxruntime_engine  # noqa: F401
            have_ort = True
        except ImportError:
            have_ort = False
        engine = "onnxruntime" if (onnx.is_file() and have_ort) else "torch"
    if engine == "onnxruntime":
        if not onnx.is_file():
            raise DemoError(f"--engine onnxruntime needs {onnx}; export it or use --engine torch")
        return engine, onnx
    if model.suffix == ".onnx":
        raise DemoError(f"--engine torch needs a checkpoint, not {model}")
    return engine, model


def ensure_frames(frames: Path) -> Path:
    from .player import list_frames

    if frames.is_dir() and (frames / "camera_info.yaml").is_file() and list_frames(frames):
        return frames
    raise DemoError(f"no frames in {frames}: render them with `python demo/make_frames.py` or pass --frames DIR")


def _spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    fh = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)


def _stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: rclpy shuts down cleanly
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args) -> int:
    from ..ros.env import isolated_env
    from .player import list_frames

    engine, model = resolve_model(args.model, args.engine)
    frames = ensure_frames(args.frames)
    n_frames = len(list_frames(frames))
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    env = isolated_env(log_dir=tempfile.mkdtemp(prefix="demo_ros_log_"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    print(f"demo: ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} (loopback only), engine {engine}, model {model}")
    node_args = ["depth_anything_ros.ros.main", "--ros-args",
                 "--params-file", str(ROOT / "config" / "depth_anything.yaml"),
                 "-p", f"model_path:={model}", "-p", f"engine:={engine}", "-p", "points_stride:=2", "-p", "num_threads:=1",
                 "-p", "diagnostics_period:=0.5"]
    if args.network_size:
        node_args += ["-p", f"network_size:={args.network_size}"]
    procs = []
    t0 = time.monotonic()
    try:
        node = _spawn(node_args, env, logs / "node.log")
        procs.append(node)
        ready = out / ".recorder_ready"
        ready.unlink(missing_ok=True)
        rec = _spawn(["depth_anything_ros.demo.recorder", "--output", str(out), "--frames", str(n_frames),
                      "--idle", "8", "--timeout", str(args.timeout), "--ready-file", str(ready)],
                     env, logs / "recorder.log")
        procs.append(rec)
        while not ready.exists():
            if node.poll() is not None:
                raise DemoError(f"the node exited ({node.returncode}): {_last_line(logs / 'node.log')}")
            if time.monotonic() - t0 > 60:
                raise DemoError("the recorder did not start within 60 s; see " + str(logs / "recorder.log"))
            time.sleep(0.1)
        player = _spawn(["depth_anything_ros.demo.player", "--frames", str(frames), "--rate", str(args.rate),
                         "--wait", "90", "--subscribers", "2", "--wait-topic", "depth/image"], env, logs / "player.log")
        procs.append(player)
        while rec.poll() is None:
            if node.poll() is not None:
                raise DemoError(f"the node exited ({node.returncode}): {_last_line(logs / 'node.log')}")
            if time.monotonic() - t0 > args.timeout:
                raise DemoError(f"timed out after {args.timeout:g} s; logs in {logs}")
            time.sleep(0.2)
        ready.unlink(missing_ok=True)
        if player.wait(30) != 0:
            raise DemoError(f"the player failed: {_last_line(logs / 'player.log')}")
        if rec.returncode != 0:
            raise DemoError(f"the recorder got no depth frames: {_last_line(logs / 'recorder.log')}")
    finally:
        for p in reversed(procs):
            _stop(p)
    summary = json.loads((out / "latency.json").read_text())
    lat = summary["latency_ms"]
    print(f"demo: done in {time.monotonic() - t0:.1f} s; {summary['frames_recorded']}/{n_frames} frames")
    print(f"  depth PNGs (16-bit mm): {out / 'depth'}/")
    print(f"  colored previews:       {out / 'colored'}/")
    if "contact_sheet" in summary:
        print(f"  contact sheet:          {summary['contact_sheet']}")
    if "ply" in summary:
        print(f"  point cloud:            {summary['ply']} ({summary['ply_points']} points, {summary['ply_writer']})")
    print(f"  latency summary:        {out / 'latency.txt'} (p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms)")
    print(f"  logs:                   {logs}/")
    return 0


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        return lines[-1] if lines else "(empty log)"
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DemoError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
