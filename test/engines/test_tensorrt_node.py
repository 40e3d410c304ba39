"""The node on `engine: tensorrt` with a plan that fails its self-check, across processes.

The node runs in its own process with the fake TensorRT (a real release's API surface, computing
20 % off); the test process reads its /diagnostics with rclpy. Oracles: the exit code and stderr of
the real process, the DiagnosticArray received over DDS (loopback only).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ros.harness import Probe, child_env

from . import trt_bindings
from .conftest import STATIC_SIZES

LAUNCH = Path(__file__).with_name("fake_trt_launch.py")


@pytest.fixture(scope="module")
def ros_context(tmp_path_factory):
    """An rclpy Context for this module; os.environ isolated (loopback, own domain) and restored after."""
    import os

    import rclpy

    from depth_anything_ros.ros.env import isolate_this_process

    saved = dict(os.environ)
    isolate_this_process(log_dir=str(tmp_path_factory.mktemp("ros_log")))
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, static_onnx):
    found = trt_bindings.available()
    if not found:
        pytest.skip("no TensorRT bindings wheels under .trt-bindings/ (run `make trt-bindings`)")
    tmp = tmp_path_factory.mktemp("trt_node")
    api = tmp / "api.json"
    api.write_text(json.dumps(trt_bindings.dump_api(found[-1], tmp / "dump")))
    return {"tmp": tmp, "api": str(api), "onnx": str(static_onnx[STATIC_SIZES[0]][0])}


def _env(setup):
    """The child's environment, taken when the test runs (after ros_context isolated this process)."""
    return {**child_env(), "FAKE_TRT_API": setup["api"], "FAKE_TRT_ERROR": "0.2"}


def _cmd(setup, strict: bool, ns: str):
    return [sys.executable, str(LAUNCH), "--ros-args", "-p", f"model_path:={setup['onnx']}", "-p", "engine:=tensorrt",
            "-p", "device:=cuda", "-p", f"trt_cache_dir:={setup['tmp'] / ns}", "-p", f"trt_strict:={str(strict).lower()}",
            "-p", "diagnostics_period:=0.3", "-p", "num_threads:=1", "-r", f"__ns:=/{ns}"]


@pytest.mark.parametrize("change,expect", [
    ({"device": "cpu"}, "device: 'cpu': the tensorrt engine runs on a GPU"),
    ({"precision": "bf16"}, "precision: bf16 is a torch precision"),
    ({"engine": "torch", "precision": "int8"}, "precision: int8 needs engine tensorrt"),
])
def test_tensorrt_parameters_are_checked(change, expect):
    from depth_anything_ros.ros.params import NodeConfig, ParameterError, validate

    cfg = NodeConfig(model_path="m.onnx", engine="tensorrt", device="cuda:0")
    validate(cfg, check_files=False)
    for key, value in change.items():
        setattr(cfg, key, value)
    with pytest.raises(ParameterError, match=expect):
        validate(cfg, check_files=False)


@pytest.mark.slow
def test_strict_node_exits_2_with_one_line(setup):
    proc = subprocess.run(_cmd(setup, True, "strict"), env=_env(setup), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("depth_anything_node: error: engine: TensorRT plan ") and "failed its self-check" in last
    assert "(trt_strict: no fallback)" in last


@pytest.mark.slow
def test_failed_self_check_falls_back_to_onnxruntime(ros_context, setup):
    log = setup["tmp"] / "fallback.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(_cmd(setup, False, "fallback"), env=_env(setup), stdout=fh, stderr=subprocess.STDOUT)
    probe = Probe(ros_context, "trt_fallback_probe", "/fallback")
    try:
        assert probe.spin_until(lambda: "engine_fallback" in probe.latest_diagnostics(), 120), log.read_text()[-2000:]
        values = probe.latest_diagnostics()
        status = next(s for a in reversed(probe.diagnostics) for s in a.status if s.name.endswith(": depth"))
        assert values["engine"] == "onnxruntime" and "failed its self-check" in values["engine_fallback"]
        assert status.level == b"\x01" and status.message.startswith("on onnxruntime (TensorRT self-check failed)")
        errors = [line for line in log.read_text().splitlines() if "self-check" in line]
        assert len(errors) == 1 and "[ERROR]" in errors[0] and "falling back to onnxruntime" in errors[0], errors
    finally:
        probe.close()
        proc.send_signal(2)
        assert proc.wait(60) == 0, log.read_text()[-2000:]
