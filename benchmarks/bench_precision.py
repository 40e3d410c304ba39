"""fp16 / int8 ONNX variants against fp32 in ONNX Runtime CPU: agreement on four real photos and speed.

    python benchmarks/bench_precision.py [--onnx models/demo_vitt_metric.onnx] [--vits] [--threads 2]

Writes each variant to a temp folder (the shipped files are never touched) and prints the figures
that docs/engines.md quotes. `--vits` also exports a random-weight vits (metric, 266x350) first:
plumbing and speed only, its output is not depth.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import onnxruntime


def run(fp32: Path, tmp: Path, calib: str, threads: int, repeats: int) -> None:
    from depth_anything_ros.inference import precision as pr
    from depth_anything_ros.inference.export import read_onnx_metadata

    meta, _ = read_onnx_metadata(fp32)
    print(f"== {fp32.name} ({meta.encoder} {meta.kind}, {meta.input_size[0]}x{meta.input_size[1]})")
    for precision in ("fp16", "int8"):
        cal = pr.calibration_set(calib, tuple(meta.input_size)) if precision == "int8" else None
        if cal is not None:
            print(f"calibration: {cal.source}, {cal.count} frames, sha256 {cal.sha256[:16]}, {pr.DEFAULT_METHOD}")
        try:
            report = pr.make_variant(fp32, tmp / f"{fp32.stem}_{precision}.onnx", precision, pr.photos(), calib=cal,
                                     timing_repeats=repeats, threads=threads)
        except pr.PrecisionError as exc:
            print(f"{precision}: {exc}")
            continue
        for line in report.lines():
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=Path("models/demo_vitt_metric.onnx"))
    parser.add_argument("--vits", action="store_true", help="also a random-weight vits")
    parser.add_argument("--calib", default="synthetic:32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, onnxruntime {onnxruntime.__version__}, "
          f"CPU EP, {args.threads} threads, median of {args.repeats} runs at batch 1, "
          "fp32 and the variant run alternately")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(args.onnx, tmp, args.calib, args.threads, args.repeats)
        if args.vits:
            import torch

            from depth_anything_ros.inference.export import export_onnx
            from depth_anything_ros.model import build_model
            from depth_anything_ros.model.checkpoint import load_checkpoint, save_checkpoint

            torch.manual_seed(0)
            save_checkpoint(build_model("vits", "v2", "metric", max_depth=20.0), tmp / "vits.safetensors")
            model, meta = load_checkpoint(tmp / "vits.safetensors", pos_interp="size")
            run(export_onnx(model, meta, tmp / "vits_random_266x350.onnx", 266, 350), tmp, args.calib, args.threads,
                args.repeats)


if __name__ == "__main__":
    main()
