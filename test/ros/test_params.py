"""Parameters: the YAML matches the code's defaults, validation reasons, start-up exit codes, env helpers."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from depth_anything_ros.ros import env as ros_env
from depth_anything_ros.ros.params import NodeConfig, ParameterError, from_flat, load_yaml, validate

from .harness import ROOT, child_env

YAML = ROOT / "config" / "depth_anything.yaml"


def test_yaml_lists_every_parameter_with_its_default():
    assert load_yaml(YAML) == NodeConfig().flat_defaults()


@pytest.mark.parametrize("values,reason", [
    ({}, "model_path is empty"),
    ({"model_path": "/nonexistent/model.safetensors"}, "model_path: no such file"),
    ({"engine": "tflite"}, "engine: 'tflite' is not one of"),
    ({"network_size": "70x90"}, "network_size: .*multiples of 14"),
    ({"output_scale": 0.0}, "output_scale"),
    ({"min_depth": 5.0, "max_depth": 2.0}, "max_depth .* must be greater than min_depth"),
    ({"points_stride": 0}, "points_stride"),
    ({"input_type": "jpeg"}, "input_type"),
    ({"input_qos.reliability": "sometimes"}, "input_qos.reliability"),
    ({"output_qos.depth": 0}, "output_qos.depth"),
    ({"colored_min": 3.0, "colored_max": 1.0}, "colored_min/colored_max"),
    ({"diagnostics_period": 0.0}, "diagnostics_period"),
])
def test_validation_reasons(values, reason, tmp_path):
    if "model_path" not in values and values:
        model = tmp_path / "m.safetensors"
        model.write_bytes(b"x")
        values = {"model_path": str(model), **values}
    with pytest.raises(ParameterError, match=reason) as info:
        validate(from_flat(values))
    assert "\n" not in str(info.value)


def test_types_and_unknown_names():
    with pytest.raises(ParameterError, match="unknown parameter 'point_stride'"):
        from_flat({"point_stride": 2})
    with pytest.raises(ParameterError, match="points_stride: expected an integer"):
        from_flat({"points_stride": 2.5})
    with pytest.raises(ParameterError, match="publish_points: expected true/false"):
        from_flat({"publish_points": "yes"})
    cfg = from_flat({"min_depth": 1, "input_qos.depth": 3})  # an int is fine for a float
    assert cfg.min_depth == 1.0 and isinstance(cfg.min_depth, float) and cfg.input_qos.depth == 3
    assert validate(from_flat({"model_path": "m", "network_size": "70x98"}), check_files=False).network_hw == (70, 98)


def _run(args, timeout=60):
    return subprocess.run([sys.executable, *args], env=child_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_node_exits_with_one_line_on_bad_parameters(tmp_path, ros_context):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("/**:\n  ros__parameters:\n    model_path: m.onnx\n    points_strid: 2\n")
    r = _run(["-m", "depth_anything_ros.ros.main", "--ros-args", "--params-file", str(bad_yaml)])
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown parameter 'points_strid'" in lines[0], r.stderr
    r = _run(["-m", "depth_anything_ros.ros.main", "--ros-args", "--params-file", str(YAML)])
    assert r.returncode == 2 and r.stderr.strip().endswith("model_path is empty: set it to a checkpoint "
                                                           "(.safetensors/.pth) or an .onnx file"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_node_refuses_missing_model(ros_context):
    r = _run(["-m", "depth_anything_ros.cli", "node", "--model", "/nonexistent.safetensors"])
    assert r.returncode == 2
    assert r.stderr.strip() == "depth-anything-ros node: error: --model /nonexistent.safetensors: no such file"


def test_cli_node_builds_ros_args(tmp_path):
    import argparse

    from depth_anything_ros.cli import CLIError
    from depth_anything_ros.cli.node import register, ros_argv

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    args = parser.parse_args(["node", "--model", str(model), "--engine", "onnxruntime", "--set", "points_stride=2",
                              "--remap", "image:=/cam/image_raw", "--lifecycle"])
    argv = ros_argv(args)
    assert argv[:2] == ["depth_anything_node", "--lifecycle"]
    assert argv[argv.index("--params-file") + 1] == str(YAML)
    assert ["-p", f"model_path:={model}"] == argv[argv.index(f"model_path:={model}") - 1:][:2]
    assert "points_stride:=2" in argv and "engine:=onnxruntime" in argv and "image:=/cam/image_raw" in argv
    with pytest.raises(CLIError, match="NAME=VALUE"):
        ros_argv(parser.parse_args(["node", "--set", "oops"]))


def test_isolated_env_and_profile():
    env = ros_env.isolated_env(base={"_ROS_WHEELS_BOOTSTRAP_COMPLETE": "1", "ROS_LOCALHOST_ONLY": "1", "HOME": "/h"})
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert 1 <= int(env["ROS_DOMAIN_ID"]) <= 100
    assert env["ROS_LOG_DIR"] and "_ROS_WHEELS_BOOTSTRAP_COMPLETE" not in env and "ROS_LOCALHOST_ONLY" not in env
    profile = env["FASTDDS_DEFAULT_PROFILES_FILE"]
    assert profile == str(ROOT / "config" / "fastdds_large_data.xml")
    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(profile).getroot()
    seg = root.find(".//d:transport_descriptor[d:type='SHM']/d:segment_size", ns)
    assert int(seg.text) >= 8 * 1024 * 1024
    part = root.find(".//d:participant", ns)
    assert part.get("is_default_profile") == "true"
    kept = ros_env.isolated_env(base={"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"})
    assert kept["FASTDDS_DEFAULT_PROFILES_FILE"] == "/mine.xml"  # a user's own profile wins


def test_launch_file_is_thin_and_consistent():
    import ast

    src = (ROOT / "launch" / "depth_anything.launch.py").read_text()
    tree = ast.parse(src)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    for needle in ("fastdds_large_data.xml", "depth_anything.yaml", "depth_anything_node",
                   "FASTDDS_DEFAULT_PROFILES_FILE", '"model_path"', '"engine"', '("image"', '("camera_info"'):
        assert needle in src, needle
    assert {"model_path", "engine"} <= set(NodeConfig().flat_defaults())


def test_live_and_restart_only_parameters_cover_every_parameter():
    from depth_anything_ros.ros.params import LIVE_PARAMETERS, restart_only_parameters

    names = set(NodeConfig().flat_defaults())
    assert LIVE_PARAMETERS <= names
    assert LIVE_PARAMETERS | restart_only_parameters() == names
    assert {"model_path", "engine", "device", "network_size", "input_qos.depth", "output_qos.reliability"} \
        <= restart_only_parameters()
