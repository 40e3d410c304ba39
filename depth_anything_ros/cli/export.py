"""`depth-anything-ros export onnx|tensorrt`: ONNX export with verification; TensorRT plans ahead of time."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import CLIError
from .common import add_checkpoint_args, load_model_from_args, read_rgb


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export ONNX / build TensorRT engines",
                                   description="Export a checkpoint to ONNX, or build a TensorRT plan from ONNX.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)

    onnx = targets.add_parser("onnx", help="ONNX file (opset >= 17), verified against torch on real images")
    add_checkpoint_args(onnx)
    onnx.add_argument("--height", type=int, required=True, help="network height (multiple of 14)")
    onnx.add_argument("--width", type=int, required=True, help="network width (multiple of 14)")
    onnx.add_argument("--dynamic", action="store_true",
                      help="symbolic H and W (multiples of 14); --height/--width are then the recorded preferred size")
    onnx.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 17; default 18)")
    onnx.add_argument("--output", type=Path, required=True, help="the .onnx file to write")
    onnx.add_argument("--verify-images", type=Path, nargs="+", default=None,
                      help="images to verify on (default: scikit-image's astronaut, chelsea, coffee, motorcycle)")
    onnx.add_argument("--verify-sizes", default=None,
                      help="dynamic files: comma-separated HxW sizes to verify at (default: export size, its "
                           "transpose and a smaller one)")
    onnx.add_argument("--rtol", type=float, default=None, help="relative tolerance (default 1e-4 of max |output|)")
    onnx.set_defaults(func=run_onnx)

    trt = targets.add_parser("tensorrt", help="TensorRT plan for this GPU (TensorRT 10 + cuda-python)")
    trt.add_argument("--onnx", type=Path, required=True, help="an ONNX file written by `export onnx`")
    trt.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16")
    trt.add_argument("--calib-dir", type=Path, default=None, help="int8: folder of calibration images")
    trt.add_argument("--size", default=None, help="dynamic ONNX: network size HxW to build for")
    trt.add_argument("--max-batch", type=int, default=1, help="largest batch the plan accepts (default 1)")
    trt.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace (GiB)")
    trt.add_argument("--cache-dir", type=Path, default=None, help="timing cache folder (default ~/.cache/...)")
    trt.add_argument("--output", type=Path, required=True, help="the .plan file to write (+ .plan.json sidecar)")
    trt.add_argument("--rebuild", action="store_true", help="build even if --output already matches")
    trt.set_defaults(func=run_tensorrt)


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    from ..depth_io import parse_sizes

    try:
        return parse_sizes(text)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def run_onnx(args: argparse.Namespace) -> int:
    from ..inference import export as ex

    if args.height <= 0 or args.width <= 0 or args.height % 14 or args.width % 14:
        raise CLIError(f"--height/--width {args.height}x{args.width}: both must be positive multiples of 14")
    if args.opset < ex.MIN_OPSET:
        raise CLIError(f"--opset {args.opset}: needs >= {ex.MIN_OPSET} (LayerNormalization op; fp16 TensorRT accuracy)")
    sizes = _parse_sizes(args.verify_sizes) if args.verify_sizes else None
    if sizes and not args.dynamic:
        raise CLIError("--verify-sizes applies to --dynamic exports; a static file runs at --height x --width only")
    if args.verify_images:
        images = [(p.name, read_rgb(p)) for p in args.verify_images]
    else:
        try:
            images = ex.verification_images()
        except ex.ExportError as exc:
            raise CLIError(str(exc)) from None
    model, meta = load_model_from_args(args)
    start = time.perf_counter()
    kind = "dynamic" if args.dynamic else "static"
    print(f"exporting {meta.encoder} {meta.version} {meta.kind} ({kind}, {args.height}x{args.width}, "
          f"opset {args.opset}) -> {args.output}", file=sys.stderr)
    try:
        path = ex.export_onnx(model, meta, args.output, args.height, args.width, dynamic=args.dynamic,
                              opset=args.opset)
    except ex.ExportError as exc:
        raise CLIError(str(exc)) from None
    print(f"exported in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    rtol = ex.RTOL if args.rtol is None else args.rtol
    report = ex.verify_onnx(path, model, images, sizes=sizes, rtol=rtol, progress=True)
    print(f"verification: ONNX Runtime vs torch fp32 ({ex.pos_interp_for(args.dynamic)} positional interpolation)")
    for line in report.lines():
        print("  " + line)
    try:
        ex.require_ok(report)
    except ex.ExportError as exc:
        path.unlink(missing_ok=True)  # never leave a file that failed verification where a launch would use it
        raise CLIError(f"{exc}; {path} removed") from None
    worst = report.worst
    print(f"ok: {path} (max error {worst.max_error:.3g}, tolerance {worst.tolerance:.3g})")
    return 0


def run_tensorrt(args: argparse.Namespace) -> int:
    if not args.onnx.is_file():
        raise CLIError(f"{args.onnx}: no such ONNX file")
    if args.precision == "int8" and args.calib_dir is None:
        raise CLIError("--precision int8 needs --calib-dir (a folder of images like the camera's)")
    if args.calib_dir is not None and not args.calib_dir.is_dir():
        raise CLIError(f"{args.calib_dir}: calibration folder does not exist")
    size = _parse_sizes(args.size)[0] if args.size else None
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from ..inference.engines.tensorrt_engine import build_cached, describe_plan

    try:
        plan = build_cached(args.onnx, args.precision, cache_dir=args.cache_dir, output=args.output,
                            input_size=size, max_batch=args.max_batch, calib_dir=args.calib_dir,
                            rebuild=args.rebuild, workspace_gb=args.workspace_gb)
    except (RuntimeError, ValueError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    print(describe_plan(plan))
    return 0
