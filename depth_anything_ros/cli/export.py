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
    _add_precision_args(onnx)
    onnx.set_defaults(func=run_onnx)

    prec = targets.add_parser("precision", help="fp16 / int8 ONNX from an fp32 export, verified against it",
                              description="Convert an fp32 file written by `export onnx` to fp16 or int8 "
                                          "(no torch needed), verified in ONNX Runtime against it on real photos.")
    prec.add_argument("--onnx", type=Path, required=True, help="the fp32 .onnx written by `export onnx`")
    prec.add_argument("--output", type=Path, required=True, help="the fp16 / int8 .onnx to write")
    _add_precision_args(prec, required=True)
    prec.set_defaults(func=run_precision)

    trt = targets.add_parser("tensorrt", help="self-checked TensorRT plan for this GPU (TensorRT 10.x / 11.x)")
    trt.add_argument("--onnx", type=Path, required=True,
                     help="an ONNX file written by `export onnx` / `export precision` (it carries the precision)")
    trt.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None,
                     help="expected precision: an error when the ONNX file holds another one")
    trt.add_argument("--no-tf32", action="store_true", help="fp32 layers in IEEE fp32 instead of TF32")
    trt.add_argument("--size", default=None, help="dynamic ONNX: network size HxW to build for")
    trt.add_argument("--max-batch", type=int, default=1, help="largest batch the plan accepts (default 1)")
    trt.add_argument("--workspace-gb", type=float, default=4.0, help="builder workspace (GiB)")
    trt.add_argument("--cache-dir", type=Path, default=None, help="timing cache folder (default ~/.cache/...)")
    trt.add_argument("--output", type=Path, required=True, help="the .plan file to write (+ .plan.json sidecar)")
    trt.add_argument("--rebuild", action="store_true", help="build even if --output already matches")
    trt.set_defaults(func=run_tensorrt)


def _add_precision_args(parser, required: bool = False) -> None:
    from ..inference.precision import CALIBRATION_METHODS, DEFAULT_METHOD

    parser.add_argument("--precision", choices=("fp32", "fp16", "int8") if not required else ("fp16", "int8"),
                        default=None if required else "fp32", required=required,
                        help="precision carried by the ONNX graph: fp16 (mixed, LayerNorm/Softmax kept fp32) or "
                             "int8 (Q/DQ, post-training calibration); for `export onnx` the verified fp32 source "
                             "is kept beside --output as STEM.fp32.onnx")
    parser.add_argument("--calib", default=None, metavar="SPEC",
                        help="int8 calibration frames: folder:DIR, rosbag:PATH[,rgb=TOPIC] or synthetic:N")
    parser.add_argument("--calib-count", type=int, default=64, help="int8: at most this many frames (default 64)")
    parser.add_argument("--calib-method", choices=CALIBRATION_METHODS, default=DEFAULT_METHOD,
                        help=f"int8 range calibration (default {DEFAULT_METHOD})")


def _write_variant(fp32_path: Path, output: Path, args: argparse.Namespace) -> int:
    """fp16 / int8 of the verified fp32 file `fp32_path` at `output`; prints and records the figures."""
    from ..inference import precision as pr
    from ..inference.engines.calibration import CalibrationError

    try:
        if args.precision == "int8" and not args.calib:
            raise CLIError("--precision int8 needs --calib (folder:DIR, rosbag:PATH or synthetic:N)")
        from ..inference.export import read_onnx_metadata

        try:
            meta, props = read_onnx_metadata(fp32_path)
        except Exception as exc:  # protobuf decode errors, missing metadata
            raise CLIError(f"{fp32_path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        calib = None
        if args.precision == "int8":
            size = meta.input_size
            if size is None:
                raise CLIError(f"{fp32_path}: no recorded input size to calibrate at")
            calib = pr.calibration_set(args.calib, tuple(size), limit=args.calib_count)
        progress = (lambda text: print(text, file=sys.stderr))
        report = pr.make_variant(fp32_path, output, args.precision, pr.photos(), calib=calib,
                                 method=args.calib_method, progress=progress)
    except (pr.PrecisionError, CalibrationError) as exc:
        raise CLIError(str(exc)) from None
    for line in report.lines():
        print(line)
    print(f"ok: {output} ({args.precision}, verified against {fp32_path.name})")
    return 0


def run_precision(args: argparse.Namespace) -> int:
    if not args.onnx.is_file():
        raise CLIError(f"{args.onnx}: no such ONNX file")
    if args.output.resolve() == args.onnx.resolve():
        raise CLIError(f"--output {args.output} would overwrite the fp32 source")
    return _write_variant(args.onnx, args.output, args)


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
    if args.precision == "int8" and not args.calib:
        raise CLIError("--precision int8 needs --calib (folder:DIR, rosbag:PATH or synthetic:N)")
    final = args.output
    if args.precision != "fp32":
        args.output = final.with_name(final.stem + ".fp32.onnx")
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
    if args.precision == "fp32":
        return 0
    return _write_variant(path, final, args)


def run_tensorrt(args: argparse.Namespace) -> int:
    if not args.onnx.is_file():
        raise CLIError(f"{args.onnx}: no such ONNX file")
    size = _parse_sizes(args.size)[0] if args.size else None
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from ..inference.engines.tensorrt_engine import build_cached, describe_plan

    try:
        plan = build_cached(args.onnx, cache_dir=args.cache_dir, output=args.output, input_size=size,
                            max_batch=args.max_batch, rebuild=args.rebuild, workspace_gb=args.workspace_gb,
                            tf32=not args.no_tf32, precision=args.precision)
    except (RuntimeError, ValueError, OSError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    print(describe_plan(plan))
    return 0
