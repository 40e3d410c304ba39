"""Stages 5 and 6: evaluate a trained model, and export it (checkpoint + ONNX) under the run directory.

    python -m training.cli evaluate --config CFG [evaluate.checkpoint=PATH]
    python -m training.cli export   --config CFG [export.checkpoint=PATH export.onnx=PATH]

evaluate: for a metric model, direct metric depth on the synthetic eval set (scenes of `metric.kind`, range
up to max_depth) and on the Middlebury Motorcycle frame, at the model's recorded network size (the size the
ROS node runs), plus "aligned" columns: one scale per image fitted in depth (`evaluate.align`: median of
gt / pred, or least squares), which is the right alignment for metric depth; for a relative model, the
zero-shot protocol (scale and shift in disparity) on the eval set and the sealed unlabeled depth.
export: writes the metric checkpoint and a static ONNX at the model's recorded size (or `export.height` ×
`export.width`), verified against PyTorch with ONNX Runtime, by default to `<run_dir>/export/`. An existing
file is never replaced unless `export.overwrite=true`.
"""
from __future__ import annotations

from pathlib import Path

from depth_anything_ros.data.readers.synthetic import SyntheticShards
from depth_anything_ros.model.checkpoint import load_checkpoint
from ..engine import summary_table, write_json
from .common import Subset, data_dir, evaluate_model, filter_ids, stage_dir
from .finetune_metric import atomic_copy
from .report import _m, eval_relative_summary


def evaluate_stage(cfg) -> dict:
    """Evaluate `evaluate.checkpoint` (default: the metric model of the run); returns the metrics row."""
    e = cfg.evaluate
    path = Path(e.checkpoint or stage_dir(cfg, "metric") / "model.safetensors")
    model, meta = load_checkpoint(path)
    row = {"checkpoint": str(path), "kind": meta.kind}
    out = stage_dir(cfg, "evaluate")
    if meta.kind == "relative":
        row.update(eval_relative_summary(cfg, model))
        row["aligned_by"] = "least-squares scale and shift in disparity"
    else:
        size = tuple(meta.input_size) if meta.input_size else None
        ev = SyntheticShards(data_dir(cfg, "eval"))
        ds = Subset(ev, filter_ids(ev, cfg.metric.kind)[: e.limit])
        r = evaluate_model(model, ds, "metric", size, max_depth=meta.max_depth, name="synthetic-eval",
                           output_dir=out / "synthetic_eval")
        rz = evaluate_model(model, ds, "metric", size, max_depth=meta.max_depth, name="synthetic-eval", align=e.align)
        row.update(network_size=list(size) if size else None, eval_frames=len(ds), eval_abs_rel=_m(r, "abs_rel"),
                   eval_d1=_m(r, "d1"), eval_rmse=_m(r, "rmse"), eval_aligned_abs_rel=_m(rz, "abs_rel"),
                   eval_aligned_d1=_m(rz, "d1"), aligned_by=f"{e.align} scale per image in depth")
        if e.middlebury:
            from depth_anything_ros.data.readers.middlebury import MiddleburyMotorcycle

            mb = MiddleburyMotorcycle()
            r = evaluate_model(model, mb, "metric", size, name="middlebury", output_dir=out / "middlebury")
            rz = evaluate_model(model, mb, "metric", size, name="middlebury", align=e.align)
            row.update(mb_abs_rel=_m(r, "abs_rel"), mb_d1=_m(r, "d1"), mb_rmse=_m(r, "rmse"),
                       mb_aligned_abs_rel=_m(rz, "abs_rel"), mb_aligned_d1=_m(rz, "d1"),
                       mb_median_scale=float(rz["per_sample"][0]["scale"]) if rz["per_sample"] else float("nan"))
    write_json(out / "metrics.json", row)
    print(summary_table([row]))
    return row


def _free(path: Path, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another export path or set export.overwrite=true")
    return path


def export_stage(cfg) -> dict:
    """Write the metric checkpoint and its verified ONNX (default `<run_dir>/export/`); returns the row."""
    from depth_anything_ros.inference.export import export_onnx, require_ok, verification_images, verify_onnx

    x = cfg.export
    src = Path(x.source or stage_dir(cfg, "metric") / "model.safetensors")
    model, meta = load_checkpoint(src)
    ckpt = _free(Path(x.checkpoint or stage_dir(cfg, "export") / "model.safetensors"), x.overwrite)
    onnx = _free(Path(x.onnx or ckpt.with_suffix(".onnx")), x.overwrite)
    row = {"source": str(src)}
    atomic_copy(src, ckpt)
    row["checkpoint"] = str(ckpt)
    h, w = (x.height, x.width) if x.height and x.width else (meta.input_size or (518, 518))
    onnx_path = export_onnx(model, meta, onnx, int(h), int(w))
    report = verify_onnx(onnx_path, model, verification_images())
    require_ok(report)
    row.update(onnx=str(onnx_path), onnx_size=[int(h), int(w)], onnx_max_error=report.worst.max_error)
    write_json(stage_dir(cfg, "export") / "summary.json", row)
    print(summary_table([row]))
    return row
