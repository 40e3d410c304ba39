"""`depth-anything-ros eval`: score a checkpoint or ONNX model on a dataset (zero-shot relative or metric)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_checkpoint_args, build_estimator


def register(subparsers) -> None:
    """Add the `eval` sub-command."""
    p = subparsers.add_parser(
        "eval", help="evaluate a model on a dataset (AbsRel, RMSE, delta1, ...)",
        description="Evaluate a depth model. Relative models: least-squares scale and shift in disparity on valid "
                    "pixels, then metrics in depth. Metric models: direct. Writes a table to stdout and "
                    "metrics.json + samples.png to --output.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_dataset_help(),
    )
    add_checkpoint_args(p, required=False)
    p.add_argument("--onnx", type=Path, help="exported ONNX model (instead of --checkpoint)")
    p.add_argument("--input-size", default=None,
                   help="fixed network size HxW (multiples of 14); default: official rule, shorter side 518")
    p.add_argument("--dataset", required=True, help="dataset spec, e.g. middlebury, synthetic:DIR, nyu:FILE.mat")
    p.add_argument("--min-eval-depth", type=float, default=None, help="override the dataset's min eval depth (m)")
    p.add_argument("--max-eval-depth", type=float, default=None, help="override the dataset's max eval depth (m)")
    p.add_argument("--output", type=Path, default=Path("eval_output"), help="output directory (default eval_output)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--anchors", default=None, metavar="SPEC",
                   help="make predictions metric with anchors simulated from the ground truth through the node's "
                        "scale code: none (focal rule only), lidar:16, sparse:0.01, rgbd:0.3, range; options "
                        ",noise=0.01,smooth=1,focal=auto|off,seed=0,fps=10 (docs/scale.md)")
    p.add_argument("--figures", type=int, default=4, help="samples shown in samples.png (default 4)")
    p.set_defaults(func=run)


def _dataset_help() -> str:
    from ..data.readers import DATASET_SPECS

    return DATASET_SPECS


def run(args) -> int:
    from . import CLIError

    from ..data.readers import open_dataset
    from ..evaluation.evaluate import evaluate, format_table

    try:
        dataset = open_dataset(args.dataset)
    except (ValueError, FileNotFoundError, OSError, KeyError) as exc:
        raise CLIError(f"cannot open dataset {args.dataset!r}: {exc}".splitlines()[0]) from exc
    if len(dataset) == 0:
        raise CLIError(f"dataset {args.dataset!r} has no samples")

    est = build_estimator(args)
    kind = args.kind or getattr(est, "kind", "relative")
    if args.onnx is not None and args.kind is not None and args.kind != getattr(est, "kind", args.kind):
        raise CLIError(f"--kind {args.kind} does not match the ONNX model's kind {est.kind}")
    anchors = None
    if args.anchors:
        from ..evaluation.anchored import AnchoredPredictor, AnchorSpec

        try:
            anchors = AnchoredPredictor(AnchorSpec.parse(args.anchors), kind, est.meta.training_focal,
                                        est.preprocessor.size_for)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    result = evaluate(est.predict, dataset, kind=kind, min_depth=args.min_eval_depth, max_depth=args.max_eval_depth,
                      limit=args.limit, output_dir=args.output, num_figures=args.figures, name=args.dataset,
                      anchors=anchors)
    if result["count"] == 0:
        raise CLIError(f"no sample could be scored ({len(result['skipped'])} skipped); see {args.output}/metrics.json")
    print(format_table(result))
    print(f"wrote {args.output / 'metrics.json'} and {args.output / 'samples.png'}")
    return 0
