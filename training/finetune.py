"""`depth-anything-train finetune`: from a recording of your robot to a fine-tuned metric model it runs.

    depth-anything-train finetune --bag PATH --color-topic T --depth-topic T [--info-topic T]
        [--points-topic T --extrinsic x,y,z,qx,qy,qz,qw] [--depth-range MIN,MAX] --init MODEL --out DIR
        [--minutes M | --steps N] [--network-size HxW]
    depth-anything-train finetune --data DIR|SPEC ... (the RGB-D folder format, or any dataset spec)

Steps: read the data (rosbag2 sqlite3 or mcap through `rosbags`); split train / validation in time (the last
20 % of the recording, with a gap of frames neither side uses) so no neighbouring frames land on both sides;
evaluate the starting model on validation; fine-tune (metric stage, `init: continue` for a metric init model,
at the deployment network size); keep the best validation checkpoint, the starting model included, so the
result is never worse on validation than what it started from; export a verified static ONNX; write into DIR:

    model.safetensors  model.onnx  node.yaml (the node's params file, runs as is)  report.json  report.md
    curves.png  errors.png  run/ (the training run: checkpoints, resumable with the same command)

Bad input (a bag without the named topics, depth without valid pixels, an empty validation split, an init
model of another preset...) ends with one `error:` line and exit status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np


class FinetuneError(ValueError):
    """A one-line reason the fine-tune cannot run."""


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != n:
        raise argparse.ArgumentTypeError(f"{what}: expected {n} comma-separated numbers, got {text!r}")
    return vals


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="depth-anything-train finetune", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bag", type=Path, help="rosbag2 directory or .mcap / .db3 file")
    src.add_argument("--data", help="RGB-D folder (rgb/, depth/, intrinsics.json) or a dataset spec (nyu:..., kitti:...)")
    p.add_argument("--color-topic", help="sensor_msgs/Image or CompressedImage topic")
    p.add_argument("--depth-topic", help="registered depth image topic (16UC1 mm or 32FC1 m)")
    p.add_argument("--info-topic", help="CameraInfo topic (default: the one next to the color topic)")
    p.add_argument("--points-topic", help="PointCloud2 topic (LiDAR) instead of a depth image")
    p.add_argument("--extrinsic", type=lambda t: _floats(t, 7, "--extrinsic"),
                   help="LiDAR pose in the camera optical frame: x,y,z,qx,qy,qz,qw")
    p.add_argument("--K", type=lambda t: _floats(t, 4, "--K"), help="fx,fy,cx,cy (overrides CameraInfo)")
    p.add_argument("--depth-range", type=lambda t: _floats(t, 2, "--depth-range"), default=None,
                   help="MIN,MAX metres of trusted ground truth (default: 0.1 to the model's max depth)")
    p.add_argument("--tolerance", type=float, default=0.02, help="max color/depth time offset, s (default 0.02)")
    p.add_argument("--init", type=Path, required=True, help="starting model (.safetensors, metric or relative)")
    p.add_argument("--init-mode", choices=["continue", "encoder"], default=None,
                   help="continue: whole metric model (default for a metric init); encoder: V2 recipe")
    p.add_argument("--freeze-encoder", action="store_true", help="train the DPT head only (tiny data)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="wall-clock training budget")
    budget.add_argument("--steps", type=int, help="optimizer steps (default 200)")
    p.add_argument("--network-size", help="HxW, multiples of 14 (default: the init model's recorded size)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-5, help="encoder learning rate (decoder x10)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of the recording held out (end of it)")
    p.add_argument("--val-gap", type=int, default=10, help="frames between train and validation used by neither")
    p.add_argument("--val-every", type=int, default=25, help="validate every N steps (and at the end)")
    p.add_argument("--test", help="held-out test set (folder DIR or dataset spec), scored before and after")
    p.add_argument("--config", type=Path, help="base training config (optional; keys as in training/configs)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of a finished run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# ---------------------------------------------------------------------------------------------- setup


def source_cfg(a):
    from .config import SourceCfg

    lo, hi = a.depth_range if a.depth_range else (None, None)
    if lo is not None and not 0 <= lo < hi:
        raise FinetuneError(f"--depth-range: need 0 <= MIN < MAX, got {lo},{hi}")
    if a.bag is not None:
        if not a.bag.exists():
            raise FinetuneError(f"{a.bag}: no such bag")
        if a.extrinsic is not None and not a.points_topic:
            raise FinetuneError("--extrinsic applies to --points-topic (LiDAR) only")
        return SourceCfg(spec=f"rosbag:{a.bag}", min_depth=lo, max_depth=hi, K=a.K, color_topic=a.color_topic,
                         depth_topic=a.depth_topic, info_topic=a.info_topic, points_topic=a.points_topic,
                         extrinsic=a.extrinsic, tolerance=a.tolerance)
    spec = a.data if ":" in a.data.split(",")[0] else f"folder:{a.data}"
    return SourceCfg(spec=spec, min_depth=lo, max_depth=hi, K=a.K)


def check_source(src) -> dict:
    """Open the source once: topics, pairing and valid depth are checked here, before any training."""
    from .data.sources import open_source

    try:
        ds = open_source(src)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise FinetuneError(str(exc).splitlines()[0]) from None
    info = {"spec": src.spec, "frames": len(ds), "depth_range": [ds.min_depth, ds.max_depth]}
    base = ds.base
    if hasattr(base, "pairing"):
        info["pairing"] = base.pairing
        info["pairing_text"] = base.pairing_report()
        info["topics"] = {"color": base.rgb_topic, "depth": base.depth_topic, "points": base.lidar_topic,
                          "info": base.info_topic}
    probe = np.linspace(0, len(ds) - 1, min(len(ds), 12)).round().astype(int)
    valid = [int(ds[int(i)].valid.sum()) for i in probe]
    if not any(valid):
        raise FinetuneError(f"{src.spec}: the depth has no valid pixels in [{ds.min_depth:g}, {ds.max_depth:g}] m "
                            f"in {len(probe)} frames checked (wrong topic, encoding or --depth-range?)")
    info["valid_fraction_checked"] = float(np.mean([v / ds[0].valid.size for v in valid]))
    return info


def init_model_meta(path: Path):
    from depth_anything_ros.model.checkpoint import load_checkpoint

    if not path.is_file():
        raise FinetuneError(f"{path}: init model not found")
    try:
        _model, meta = load_checkpoint(path)
    except (ValueError, OSError) as exc:
        raise FinetuneError(f"{path}: {str(exc).splitlines()[0]}") from None
    return meta


def make_config(a, src, meta):
    """The run's TrainConfig: `--config` (if any) with the command's options on top."""
    from depth_anything_ros.depth_io import parse_size

    from .config import ConfigError, from_dict, read_yaml

    raw = read_yaml(a.config) if a.config else {}
    model = raw.setdefault("model", {})
    if a.config and (model.get("encoder", meta.encoder), model.get("version", meta.version)) != (meta.encoder, meta.version):
        raise FinetuneError(f"{a.init}: init model is {meta.encoder}/{meta.version}, {a.config} trains "
                            f"{model.get('encoder')}/{model.get('version')}: use an init model of that preset")
    model.update(encoder=meta.encoder, version=meta.version)
    init_mode = a.init_mode or ("continue" if meta.kind == "metric" else "encoder")
    if init_mode == "continue" and meta.kind != "metric":
        raise FinetuneError(f"{a.init}: --init-mode continue needs a metric model, this one is {meta.kind}")
    try:
        size = parse_size(a.network_size) if a.network_size else tuple(meta.input_size or ())
    except ValueError as exc:
        raise FinetuneError(f"--network-size: {exc}") from None
    if not size:
        raise FinetuneError(f"{a.init} records no network size: pass --network-size HxW")
    max_depth = float(meta.max_depth) if meta.kind == "metric" else float(src.max_depth or 20.0)
    if src.min_depth is None:
        src.min_depth = 0.1
    if src.max_depth is None:
        src.max_depth = max_depth
    steps = a.steps if a.steps is not None else (10**7 if a.minutes else 200)
    raw.update(name=raw.get("name", "finetune"), run_dir=str(a.out / "run"), seed=a.seed, threads=a.threads,
               progress=not a.quiet, tensorboard=False)
    raw.setdefault("provenance", "")
    data = raw.setdefault("data", {})
    data.update(train=[dataclasses.asdict(src)], val=[], split_fraction=a.val_fraction, split_gap=a.val_gap)
    metric = raw.setdefault("metric", {})
    metric.update(init=init_mode, init_from=str(a.init), freeze_encoder=a.freeze_encoder, max_depth=max_depth,
                  min_depth=src.min_depth, input_size=list(size), crop=list(size), batch_size=a.batch_size,
                  steps=steps, max_minutes=a.minutes, lr_encoder=a.lr, val_every=a.val_every, keep_best=True,
                  ckpt_every=min(a.val_every, 50), log_every=10, warmup=0, kind=None)
    metric.setdefault("schedule", "poly")
    metric.setdefault("grad_clip", 1.0)
    try:
        return from_dict(raw)
    except ConfigError as exc:
        raise FinetuneError(str(exc)) from None


# ---------------------------------------------------------------------------------------------- outputs


def node_params(onnx_path: Path, size, min_depth: float, threads: int = 0) -> dict:
    """The node's params file for the exported model (checked with the node's own validation)."""
    from depth_anything_ros.ros.params import from_flat, validate

    params = {"model_path": str(onnx_path.resolve()), "engine": "onnxruntime", "device": "cpu",
              "network_size": "", "min_depth": float(min_depth), "max_depth": 0.0, "num_threads": int(threads)}
    validate(from_flat(params))
    return {"depth_anything": {"ros__parameters": params}}


def write_yaml(path: Path, doc: dict, header: str) -> None:
    import yaml

    path.write_text(header + yaml.safe_dump(doc, sort_keys=False))


def error_figure(path: Path, val, before, after, size, n: int = 3) -> None:
    """RGB / ground truth / before / after / AbsRel error before and after, for `n` validation frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from depth_anything_ros.evaluation.evaluate import plot_row

    from .stages.common import predict_np

    idx = np.linspace(0, len(val) - 1, min(n, len(val))).round().astype(int)
    fig, axes = plt.subplots(len(idx), 6, figsize=(18, 2.8 * len(idx)), squeeze=False)
    for row, i in zip(axes, idx):
        s = val[int(i)]
        gt = np.where(s.valid, s.depth, np.nan)
        preds = [predict_np(m, s.image, size) for m in (before, after)]
        lo, hi = (np.nanpercentile(gt, (2, 98)) if np.isfinite(gt).any() else (0.0, 1.0))
        errs = [np.where(s.valid, np.abs(p - s.depth) / np.maximum(s.depth, 1e-6), np.nan) for p in preds]
        panels = [(s.image, None, s.source[-24:]), (gt, "turbo_r", "ground truth (m)"),
                  (preds[0], "turbo_r", "before (m)"), (preds[1], "turbo_r", "after (m)"),
                  (errs[0], "magma", f"AbsRel before {np.nanmean(errs[0]):.3f}"),
                  (errs[1], "magma", f"AbsRel after {np.nanmean(errs[1]):.3f}")]
        plot_row(fig, row, panels, lo, hi)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def curves_figure(path: Path, curve: list[dict]) -> None:
    """Validation AbsRel and d1 against steps (step 0 = the starting model), training SILog EMA."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["step"] for c in curve]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    axes[0].plot(steps, [c["abs_rel"] for c in curve], "o-")
    axes[0].set_title("validation AbsRel (lower is better)")
    axes[1].plot(steps, [c["d1"] for c in curve], "o-")
    axes[1].set_title("validation d1 (higher is better)")
    tr = [(c["step"], c["loss"]) for c in curve if c.get("loss") is not None]
    if tr:
        axes[2].plot(*zip(*tr), "o-")
    axes[2].set_title("training SILog (EMA)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def held_out_test(spec: str, src, before, after, size, max_depth: float) -> dict:
    """Direct metric AbsRel / RMSE / d1 of the starting and the fine-tuned model on a held-out set, with the
    training source's depth range."""
    from .config import SourceCfg
    from .data.sources import open_source
    from .stages.common import evaluate_model
    from .stages.report import _m

    spec = spec if ":" in spec.split(",")[0] else f"folder:{spec}"
    ds = open_source(SourceCfg(spec=spec, min_depth=src.min_depth, max_depth=src.max_depth))
    out = {"spec": spec, "frames": len(ds)}
    for name, m in (("start", before), ("finetuned", after)):
        r = evaluate_model(m, ds, "metric", size, max_depth=min(max_depth, ds.max_depth), name="test")
        out[name] = {"abs_rel": _m(r, "abs_rel"), "rmse": _m(r, "rmse"), "d1": _m(r, "d1"), "frames": r["count"]}
    return out


def report_markdown(rep: dict) -> str:
    v = rep["validation"]
    rows = [("starting model", v["start"]), (f"fine-tuned (step {v['best']['step']}, shipped)", v["best"])]
    lines = [f"# Fine-tune report: {rep['out']}", "",
             f"- data: `{rep['data']['spec']}` ({rep['split']['train_frames']} train / {rep['split']['val_frames']} "
             f"validation frames, {rep['split']['gap_frames']} gap frames unused; validation = "
             f"{'whole scenes' if rep['data']['spec'].startswith('synthetic:') else 'the end of the recording'})",
             f"- init: `{rep['init']}` ({rep['init_mode']}), network size {rep['network_size'][0]}x{rep['network_size'][1]}, "
             f"{rep['steps']} steps in {rep['train_seconds']:.0f} s",
             ]
    if rep["data"].get("pairing_text"):
        lines.append(f"- pairing: {rep['data']['pairing_text']}")
    lines += ["", "Validation, direct metric depth (no alignment), "
              f"{rep['data']['depth_range'][0]:g}-{rep['data']['depth_range'][1]:g} m:", "",
              "| model | AbsRel | RMSE (m) | d1 |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['abs_rel']:.4f} | {r['rmse']:.3f} | {r['d1']:.4f} |" for name, r in rows]
    if rep.get("test"):
        t = rep["test"]
        lines += ["", f"Held-out test set `{t['spec']}` ({t['frames']} frames), direct metric depth:", "",
                  "| model | AbsRel | RMSE (m) | d1 |", "|---|---|---|---|"]
        lines += [f"| {name} | {t[k]['abs_rel']:.4f} | {t[k]['rmse']:.3f} | {t[k]['d1']:.4f} |"
                  for name, k in (("starting model", "start"), ("fine-tuned", "finetuned"))]
    lines += ["", "![curves](curves.png)", "", "![errors](errors.png)", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- run


def run(a) -> dict:
    from depth_anything_ros.inference.export import export_onnx, require_ok, verification_images, verify_onnx
    from depth_anything_ros.model.checkpoint import load_checkpoint

    from .engine import write_json
    from .stages.common import stage_dir
    from .stages.finetune_metric import atomic_copy, finetune_metric

    out = a.out
    if (out / "report.json").exists() and not a.overwrite:
        raise FinetuneError(f"{out} holds a finished fine-tune (report.json); choose another --out or --overwrite")
    meta = init_model_meta(a.init)
    src = source_cfg(a)
    cfg = make_config(a, src, meta)
    t0 = time.time()
    data_info = check_source(cfg.data.train[0])
    if data_info.get("pairing_text"):
        print(data_info["pairing_text"])
    out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(cfg.threads)
    try:
        row = finetune_metric(cfg, provenance={"command": "depth-anything-train finetune " + " ".join(sys.argv[2:])})
    except ValueError as exc:  # empty split, init model of another preset, crop larger than the network...
        raise FinetuneError(str(exc).splitlines()[0]) from None
    train_s = time.time() - t0
    mdir = stage_dir(cfg, "metric")
    atomic_copy(mdir / "model.safetensors", out / "model.safetensors")
    model, new_meta = load_checkpoint(out / "model.safetensors")
    h, w = new_meta.input_size
    onnx_path = out / "model.onnx"
    tmp = out / "model.onnx.tmp.onnx"
    export_onnx(model, new_meta, tmp, h, w)
    report = verify_onnx(tmp, model, verification_images())
    require_ok(report)
    tmp.replace(onnx_path)
    write_yaml(out / "node.yaml", node_params(onnx_path, (h, w), src.min_depth, 0),
               "# Params file for the depth node, written by `depth-anything-train finetune`:\n"
               "#   depth_anything_node --ros-args --params-file node.yaml\n")

    val = row["validation"]
    rep = {"out": str(out), "data": data_info, "split": {k: row[k] for k in ("train_frames", "val_frames", "gap_frames")},
           "init": str(a.init), "init_mode": cfg.metric.init, "init_meta": {"encoder": meta.encoder, "kind": meta.kind,
                                                                             "max_depth": meta.max_depth,
                                                                             "input_size": meta.input_size},
           "network_size": [h, w], "max_depth": new_meta.max_depth, "steps": row["steps"],
           "train_seconds": round(train_s, 1), "validation": val,
           "improved": val["best"]["abs_rel"] < val["start"]["abs_rel"],
           "onnx_max_error": report.worst.max_error, "provenance": new_meta.extra.get("provenance"),
           "files": ["model.safetensors", "model.onnx", "node.yaml", "report.json", "report.md", "curves.png",
                     "errors.png"]}
    curves_figure(out / "curves.png", val["curve"])
    before, _ = load_checkpoint(a.init)
    if a.test:
        rep["test"] = held_out_test(a.test, src, before, model, (h, w), new_meta.max_depth)
    from .data.sources import labeled_sets

    _train, val_set, _ = labeled_sets(cfg, None, need_val=True)
    error_figure(out / "errors.png", val_set, before, model, (h, w))
    (out / "report.md").write_text(report_markdown(rep))
    write_json(out / "report.json", rep)
    print(f"validation AbsRel {val['start']['abs_rel']:.4f} (start) -> {val['best']['abs_rel']:.4f} "
          f"(shipped, step {val['best']['step']}); wrote {out}/model.onnx, node.yaml, report.md")
    return rep


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.depth_topic and a.points_topic:
        print("error: give --depth-topic or --points-topic, not both", file=sys.stderr)
        return 2
    from .config import ConfigError

    try:
        run(a)
    except (FinetuneError, ConfigError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
