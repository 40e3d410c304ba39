"""`depth-anything-ros node`: run the ROS 2 depth node from a pip install (same node as `depth_anything_node`).

    depth-anything-ros node --model models/demo_vitt_metric.safetensors [--engine torch] \
        [--params-file config/depth_anything.yaml] [--set points_stride=2 ...] [--lifecycle] \
        [--remap image:=/camera/image_raw ...] [--isolated]

Builds the `--ros-args` command line (params file first, then --model/--engine/--set overrides, then
remappings) and runs `depth_anything_ros.ros.main`. --isolated keeps DDS traffic on this host
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) with a random ROS_DOMAIN_ID, for trying it out.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import CLIError


def register(subparsers) -> None:
    p = subparsers.add_parser("node", help="run the ROS 2 depth node (pip install)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="checkpoint or .onnx (sets the model_path parameter)")
    from ..ros.params import ENGINES  # torch- and rclpy-free

    p.add_argument("--engine", choices=ENGINES, help="sets the engine parameter (auto: by the model file)")
    p.add_argument("--params-file", type=Path, default=None,
                   help="ROS 2 parameter YAML (default: the shipped config/depth_anything.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any parameter, repeatable")
    p.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="topic remapping, repeatable")
    p.add_argument("--name", default="depth_anything", help="node name")
    p.add_argument("--lifecycle", action="store_true", help="run as a lifecycle node")
    p.add_argument("--isolated", action="store_true",
                   help="loopback-only discovery and a random ROS_DOMAIN_ID (printed)")
    p.set_defaults(func=run)


def ros_argv(args) -> list[str]:
    """The node's argv for these options (CLIError on bad values)."""
    from ..ros.params import default_params_file

    argv = ["depth_anything_node"]
    if args.lifecycle:
        argv.append("--lifecycle")
    argv += ["--name", args.name, "--ros-args"]
    params_file = args.params_file or default_params_file()
    if params_file is not None:
        if not Path(params_file).is_file():
            raise CLIError(f"--params-file {params_file}: no such file")
        argv += ["--params-file", str(params_file)]
    if args.model is not None:
        if not args.model.is_file():
            raise CLIError(f"--model {args.model}: no such file")
        argv += ["-p", f"model_path:={args.model}"]
    if args.engine:
        argv += ["-p", f"engine:={args.engine}"]
    for item in args.set:
        if "=" not in item or item.startswith("="):
            raise CLIError(f"--set {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        argv += ["-p", f"{name.strip()}:={value}"]
    for item in args.remap:
        if ":=" not in item:
            raise CLIError(f"--remap {item!r}: expected FROM:=TO")
        argv += ["-r", item]
    return argv


def run(args) -> int:
    argv = ros_argv(args)
    if args.isolated:
        from ..ros.env import isolate_this_process

        env = isolate_this_process()
        print(f"depth-anything-ros node: isolated, ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} (loopback only)")
    elif not os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"):
        print("depth-anything-ros node: note: DDS discovery is not limited to this host "
              "(set ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST or use --isolated)")
    from ..ros.main import run as run_node

    return run_node(argv, lifecycle=args.lifecycle, node_name=args.name)  # 2 (and one line) on bad parameters
