"""`depth-anything-train finetune` end to end: bags written by `rosbags` (mcap and sqlite3) -> fine-tune ->
report.json -> the node loads model.onnx with node.yaml and publishes depth over DDS; and its bad-input lines."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from bags import write_rgbd_bag
from train_helpers import REPO

DEMO = REPO / "models" / "demo_vitt_metric.safetensors"
H, W = 84, 112
NET = "70x98"


@pytest.fixture(scope="module")
def frames():
    from depth_anything_ros.data.synthetic import render_frames

    return list(render_frames("labeled", seed_start=900, count=16, height=H, width=W, kind="indoor"))


def _finetune(*args):
    from training.cli import main

    return main(["finetune", *map(str, args)])


def _common(bag, out, *extra):
    return ["--bag", bag, "--color-topic", "/camera/color/image_raw", "--depth-topic", "/camera/depth/image_rect_raw",
            "--init", DEMO, "--out", out, "--network-size", NET, "--threads", "1", "--batch-size", "2",
            "--val-gap", "2", "--quiet", *extra]


def _node_publishes_depth(tmp_path, out: Path, rgb: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Start the node with `out/node.yaml` (nothing else) in its own process; one frame in, depth out."""
    sys.path.insert(0, str(REPO / "test"))
    import rclpy
    from sensor_msgs.msg import Image

    from depth_anything_ros.ros.env import isolate_this_process
    from ros.harness import NodeProcess, Probe, camera_info_for

    saved = dict(os.environ)
    isolate_this_process(log_dir=str(tmp_path / "ros_log"))  # loopback only, a random domain, temp logs
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = NodeProcess(tmp_path / "node.log", {}, use_yaml=False,
                       extra_args=["--ros-args", "--params-file", str(out / "node.yaml")])
    probe = Probe(ctx, "finetune_probe", outputs=("depth/image",))
    try:
        assert probe.wait_connected(timeout=60), node.text()[-2000:]

        def msg():
            m = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
            m.data = rgb.tobytes()
            return m

        stamp = probe.warm_up(msg, camera_info_for(K, rgb.shape[1], rgb.shape[0]), ("depth/image",), 10**9) - 10**9
        d = probe.received["depth/image"][stamp]
        assert d.encoding == "32FC1"
        return np.frombuffer(bytes(d.data), np.float32).reshape(d.height, d.width)
    finally:
        probe.close()
        code = node.stop()
        rclpy.shutdown(context=ctx)
        os.environ.clear()
        os.environ.update(saved)
        assert code == 0, node.text()[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_to_model_the_node_runs(tmp_path, frames, storage):
    bag = write_rgbd_bag(tmp_path / "bag", frames, storage=storage, offset_ns=4_000_000)
    out = tmp_path / "out"
    assert _finetune(*_common(tmp_path / "bag", out, "--steps", "4", "--val-every", "2")) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["pairing"]["pairs"] == 16 and rep["data"]["pairing"]["max_offset_ms"] == 4.0
    assert rep["split"] == {"train_frames": 11, "val_frames": 3, "gap_frames": 2}  # the last 20 %, 2 gap frames
    v = rep["validation"]
    assert [c["step"] for c in v["curve"]] == [0, 2, 4]
    assert v["best"]["abs_rel"] == min(c["abs_rel"] for c in v["curve"]) <= v["start"]["abs_rel"]
    for f in rep["files"]:
        assert (out / f).is_file(), f
    from depth_anything_ros.inference.export import read_onnx_metadata
    from depth_anything_ros.model.checkpoint import load_checkpoint

    _m, meta = load_checkpoint(out / "model.safetensors")
    assert meta.input_size == (70, 98) and meta.kind == "metric"
    assert meta.extra["provenance"]["init_model"] == str(DEMO) and meta.extra["provenance"]["steps"] == 4
    assert "demo recipe" not in meta.provenance.split(".")[0]  # the run's own provenance, not the demo's text
    assert read_onnx_metadata(out / "model.onnx")[0].input_size == (70, 98)
    # a second run into the same directory never replaces the finished outputs
    assert _finetune(*_common(tmp_path / "bag", out, "--steps", "4")) == 2
    if storage == "mcap":  # the node part once: the bag format no longer matters there
        depth = _node_publishes_depth(tmp_path, out, frames[0].image, bag["K"])
        assert depth.shape == (H, W) and np.isfinite(depth).mean() > 0.9
        assert 0.1 <= np.nanmedian(depth) <= meta.max_depth


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_bag_without_the_named_topic_lists_the_topics(tmp_path, frames, capsys):
    write_rgbd_bag(tmp_path / "bag", frames[:4])
    args = _common(tmp_path / "bag", tmp_path / "out")
    args[args.index("/camera/depth/image_rect_raw")] = "/camera/aligned_depth/image_raw"
    assert _finetune(*args) == 2
    line = _error_line(capsys)
    assert "no topic /camera/aligned_depth/image_raw" in line
    assert "/camera/depth/image_rect_raw (sensor_msgs/msg/Image)" in line and "/camera/color/camera_info" in line


def test_depth_without_valid_pixels(tmp_path, frames, capsys):
    import copy

    empty = [copy.copy(f) for f in frames[:6]]
    for f in empty:
        f.valid = np.zeros_like(f.valid)
    write_rgbd_bag(tmp_path / "bag", empty)
    assert _finetune(*_common(tmp_path / "bag", tmp_path / "out")) == 2
    assert "the depth has no valid pixels" in _error_line(capsys)


def test_empty_validation_split(tmp_path, frames, capsys):
    write_rgbd_bag(tmp_path / "bag", frames[:2])  # 20 % of 2 frames rounds to none
    assert _finetune(*_common(tmp_path / "bag", tmp_path / "out", "--steps", "1")) == 2
    line = _error_line(capsys)
    assert "the validation split of ['rosbag:" in line and "is empty" in line


def test_init_model_of_another_preset(tmp_path, frames, capsys):
    write_rgbd_bag(tmp_path / "bag", frames[:6])
    cfg = REPO / "training" / "configs" / "paper_vits.yaml"
    assert _finetune(*_common(tmp_path / "bag", tmp_path / "out", "--config", cfg)) == 2
    line = _error_line(capsys)
    assert "init model is vitt/v2" in line and "trains vits/v2" in line
