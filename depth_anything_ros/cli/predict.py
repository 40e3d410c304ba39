"""`depth-anything-ros predict`: depth maps for image files.

Per image, under --output: `<stem>.npy` (float32 model output at the image's resolution: relative
inverse depth, or metres for metric models), `<stem>.png` (16-bit: millimetres for metric models,
0 = invalid or beyond 65.535 m, never clipped; for relative models the output min-max scaled to 1..65535) and `<stem>_color.png`
(turbo colormap, near = warm).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import CLIError
from .common import add_checkpoint_args, build_estimator, read_rgb


def register(subparsers) -> None:
    p = subparsers.add_parser("predict", help="depth maps for image files", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_args(p, required=False)
    p.add_argument("--onnx", type=Path, help="run an exported ONNX model on ONNX Runtime instead of --checkpoint")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.add_argument("--input-size", default=None,
                   help="fixed network size HxW (multiples of 14); default: official rule, shorter side 518")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--output", required=True, type=Path, help="output directory")
    p.set_defaults(func=run)


def write_outputs(out_dir: Path, stem: str, pred: np.ndarray, kind: str) -> None:
    """The three files for one prediction (16-bit rule: depth_anything_ros.depth_io)."""
    from ..depth_io import metres_to_uint16, relative_to_uint16, write_png
    from ..geometry import colorize

    np.save(out_dir / f"{stem}.npy", pred.astype(np.float32))
    valid = np.isfinite(pred)
    metric = kind == "metric"
    write_png(out_dir / f"{stem}.png", metres_to_uint16(pred) if metric else relative_to_uint16(pred))
    write_png(out_dir / f"{stem}_color.png", colorize(pred, valid, inverse=metric)[..., ::-1])


def run(args) -> int:
    from tqdm import tqdm

    missing = [p for p in args.images if not p.is_file()]
    if missing:
        raise CLIError(f"{missing[0]}: no such file" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    estimator = build_estimator(args)
    args.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in tqdm(args.images, desc="predict", unit="img", disable=len(args.images) < 2):
        try:
            rgb = read_rgb(path)
        except CLIError as exc:  # one bad file does not lose the others
            print(f"depth-anything-ros predict: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        write_outputs(args.output, path.stem, estimator.predict(rgb), estimator.kind)
    print(f"wrote {len(args.images) - failures} prediction(s) ({estimator.kind}) to {args.output}")
    return 1 if failures else 0
