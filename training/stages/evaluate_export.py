"""Stages 5 and 6: evaluate a trained model, and export the shipped model (checkpoint + ONNX).

    python -m training.cli evaluate --config CFG [evaluate.checkpoint=PATH]
    python -m training.cli export   --config CFG

evaluate: for a metric model, direct metric depth on the synthetic eval set (scenes of `metric.kind`,
range up to max_depth) and on the Middlebury Motorcycle frame, both at the deployed network size
(`metric.input_size`, the size the ROS node runs), plus the zero-shot (scale+shift aligned) numbers; for a
relative model, the zero-shot protocol on the eval set and the sealed unlabeled depth.
export: copies the metric checkpoint to `export.checkpoint` and writes a static ONNX at `export.height` ×
`export.width` with the model's metadata, verified against PyTorch with ONNX Runtime.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from depth_anything_ros.model.checkpoint import load_checkpoint
from depth_anything_ros.data.readers.synthetic import SyntheticShards
from ..engine import summary_table, write_json
from .common import Subset, data_dir, evaluate_model, filter_ids, stage_dir
from .report import _m, eval_relative_summary


def evaluate_stage(cfg: dict) -> dict:
    """Evaluate `evaluate.checkpoint` (default: the metric model of the run); returns the metrics row."""
    e = cfg.get("evaluate", {}) or {}
    path = Path(e.get("checkpoint") or stage_dir(cfg, "metric") / "model.safetensors")
    model, meta = load_checkpoint(path)
    row = {"checkpoint": str(path), "kind": meta.kind}
    out = stage_dir(cfg, "evaluate")
    if meta.kind == "relative":
        row.update(eval_relative_summary(cfg, model))
    else:
        size = tuple(meta.input_size) if meta.input_size else None
        ev = SyntheticShards(data_dir(cfg, "eval"))
        idx = filter_ids(ev, (cfg.get("metric", {}) or {}).get("kind"))[: int(e.get("limit", 100))]
        ds = Subset(ev, idx)
        r = evaluate_model(model, ds, "metric", size, max_depth=meta.max_depth, name="synthetic-eval",
                           output_dir=out / "synthetic_eval")
        rz = evaluate_model(model, ds, "relative", size, max_depth=meta.max_depth, name="synthetic-eval")
        row.update(eval_frames=len(ds), eval_abs_rel=_m(r, "abs_rel"), eval_d1=_m(r, "d1"),
                   eval_rmse=_m(r, "rmse"), eval_aligned_abs_rel=_m(rz, "abs_rel"),
                   eval_aligned_d1=_m(rz, "d1"))
        if e.get("middlebury", True):
            from depth_anything_ros.data.readers.middlebury import MiddleburyMotorcycle

            mb = MiddleburyMotorcycle()
            r = evaluate_model(model, mb, "metric", size, name="middlebury", output_dir=out / "middlebury")
            rz = evaluate_model(model, mb, "relative", size, name="middlebury")
            row.update(mb_abs_rel=_m(r, "abs_rel"), mb_d1=_m(r, "d1"), mb_rmse=_m(r, "rmse"),
                       mb_aligned_abs_rel=_m(rz, "abs_rel"), mb_aligned_d1=_m(rz, "d1"),
                       mb_median_scale=_median_ratio(model, mb, size))
    write_json(out / "metrics.json", row)
    print(summary_table([row]))
    return row


def _median_ratio(model, dataset, size) -> float:
    """median(gt / pred) on the valid pixels of the first sample: how far off the metric scale is."""
    import numpy as np

    from .common import predict_np

    s = dataset[0]
    was = model.training
    model.eval()
    p = predict_np(model, s.image, size)
    model.train(was)
    m = s.valid & (p > 0)
    return float(np.median(s.depth[m] / p[m]))


def export_stage(cfg: dict) -> dict:
    """Copy the metric checkpoint to `export.checkpoint` and write + verify its ONNX (`export.onnx`)."""
    x = cfg["export"]
    src = Path(x.get("source") or stage_dir(cfg, "metric") / "model.safetensors")
    model, meta = load_checkpoint(src)
    row = {"source": str(src)}
    if x.get("checkpoint"):
        dst = Path(x["checkpoint"])
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        row["checkpoint"] = str(dst)
    if x.get("onnx"):
        from depth_anything_ros.inference.export import export_onnx, require_ok, verification_images, verify_onnx

        h, w = int(x["height"]), int(x["width"])
        onnx_path = export_onnx(model, meta, x["onnx"], h, w)
        report = verify_onnx(onnx_path, model, verification_images())
        require_ok(report)
        row.update(onnx=str(onnx_path), onnx_max_error=report.worst.max_error)
    write_json(stage_dir(cfg, "export") / "summary.json", row)
    print(summary_table([row]))
    return row
