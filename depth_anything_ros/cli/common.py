"""Options and helpers shared by the sub-commands (checkpoint selection, image reading)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import CLIError


def add_checkpoint_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--checkpoint plus the options an official `.pth` needs (it records none of them)."""
    from ..model.presets import KINDS, PRESETS, VERSIONS

    parser.add_argument("--checkpoint", required=required, type=Path,
                        help="official .pth, transformers directory/state dict, or our .safetensors")
    parser.add_argument("--encoder", choices=sorted(PRESETS), default=None,
                        help="encoder preset (default: detected from the weights)")
    parser.add_argument("--version", choices=VERSIONS, default=None,
                        help="encoder taps: v1 = last four blocks, v2 = intermediate (default: recorded, else v2)")
    parser.add_argument("--kind", choices=KINDS, default=None, help="head (default: recorded, else relative)")
    parser.add_argument("--max-depth", type=float, default=None, help="metres; metric models only")


def load_model_from_args(args: argparse.Namespace, pos_interp: str = "official"):
    """(model, meta) from the checkpoint options, or a CLIError with the loader's one-line reason."""
    from ..model.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(args.checkpoint, encoder=args.encoder, version=args.version, kind=args.kind,
                               max_depth=args.max_depth, pos_interp=pos_interp)
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); CLIError naming the file when it is missing or unreadable."""
    from ..depth_io import read_rgb as _read_rgb

    try:
        return _read_rgb(path)
    except (OSError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def parse_size_arg(text: str | None, option: str = "--input-size"):
    """An optional HxW option (multiples of 14) -> (H, W) or None; CLIError naming the option."""
    from ..depth_io import parse_size

    if not text:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise CLIError(f"{option}: {exc}") from None


def build_estimator(args: argparse.Namespace):
    """A DepthEstimator (`open_model`) from --checkpoint (torch) or --onnx (ONNX Runtime), with --input-size
    and --device when the command has them. Same precedence as the node: --input-size > a static file's size >
    the model's recorded size > the official rule."""
    from ..inference import open_model
    from ..model.checkpoint import CheckpointError

    size = parse_size_arg(getattr(args, "input_size", None))
    onnx = getattr(args, "onnx", None)
    if (args.checkpoint is None) == (onnx is None):
        raise CLIError("give exactly one of --checkpoint or --onnx")
    device = getattr(args, "device", "cpu")
    try:
        if onnx is not None:
            return open_model(onnx, "onnxruntime", size, device=device)
        return open_model(args.checkpoint, "torch", size, encoder=args.encoder, version=args.version,
                          kind=args.kind, max_depth=args.max_depth, device=device)
    except (CheckpointError, OSError, ValueError, RuntimeError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
