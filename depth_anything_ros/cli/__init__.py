"""The `depth-anything-ros` command: one sub-command per module in this package.

Each sub-command module defines `register(subparsers)`, which adds its parser and sets
`func` (a callable taking the parsed args and returning an exit code). Modules are imported
lazily by name so that `predict` does not pay for rclpy and `node` does not pay for torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# sub-command name -> module under depth_anything_ros.cli
SUBCOMMANDS = {
    "predict": ("predict", "depth maps for image files"),
    "export": ("export", "export ONNX / build TensorRT engines"),
    "bench": ("bench", "latency and memory of an engine"),
    "eval": ("eval", "metrics on a dataset"),
    "node": ("node", "run the ROS 2 depth node (pip install)"),
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depth-anything-ros", description="Depth Anything for ROS 2: inference, export, benchmarks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name, (module, summary) in SUBCOMMANDS.items():
        if name != wanted:
            # listed in --help without importing its module (and its heavy dependencies)
            sub.add_parser(name, help=summary)
            continue
        importlib.import_module(f"{__name__}.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"depth-anything-ros {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
