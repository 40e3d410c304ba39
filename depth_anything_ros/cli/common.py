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
    import cv2

    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CLIError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def build_estimator(args: argparse.Namespace):
    """A DepthEstimator from --checkpoint (torch) or --onnx (ONNX Runtime) and --input-size/--device if present."""
    from ..inference import DepthEstimator
    from ..inference.preprocess import parse_size
    from ..model.checkpoint import CheckpointError

    try:
        size = parse_size(args.input_size) if getattr(args, "input_size", None) else None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    onnx = getattr(args, "onnx", None)
    if (args.checkpoint is None) == (onnx is None):
        raise CLIError("give exactly one of --checkpoint or --onnx")
    model_path = onnx if onnx is not None else args.checkpoint
    if not Path(model_path).exists():
        raise CLIError(f"{model_path}: no such file")
    try:
        if onnx is not None:
            return DepthEstimator.from_onnx(str(onnx), network_size=size)
        return DepthEstimator.from_checkpoint(args.checkpoint, encoder=args.encoder, version=args.version,
                                              kind=args.kind, max_depth=args.max_depth,
                                              device=getattr(args, "device", "cpu"), network_size=size)
    except (CheckpointError, ValueError, RuntimeError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
